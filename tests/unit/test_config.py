from __future__ import annotations

from pathlib import Path

import pytest

from webmail.config import ConfigError, load_settings, secret_setting_names

KEY = "k" * 40


class TestLoadSettings:
    def test_defaults_with_a_key(self) -> None:
        settings = load_settings(secret_key=KEY)
        assert settings.imap_security == "starttls"
        assert settings.database_url.startswith("sqlite:///")
        assert settings.database_url.endswith("var/webmail.db")

    def test_missing_secret_key_is_refused(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("WEBMAIL_SECRET_KEY", raising=False)
        with pytest.raises(ConfigError, match="WEBMAIL_SECRET_KEY is missing"):
            load_settings()

    def test_short_secret_key_is_refused(self) -> None:
        with pytest.raises(ConfigError, match="WEBMAIL_SECRET_KEY is too short"):
            load_settings(secret_key="short")

    def test_demo_mode_makes_a_key(self) -> None:
        settings = load_settings(demo=True)
        assert len(settings.secret_key.get_secret_value()) >= 32

    @pytest.mark.parametrize(
        ("variable", "value", "message"),
        [
            ("WEBMAIL_IMAP_PORT", "70000", "WEBMAIL_IMAP_PORT: Input should be less than or equal to 65535"),
            (
                "WEBMAIL_IMAP_SECURITY",
                "ssl",
                "WEBMAIL_IMAP_SECURITY: Input should be 'tls', 'starttls' or 'none'",
            ),
            ("WEBMAIL_REDIS_URL", "localhost:6379", "WEBMAIL_REDIS_URL: must start with redis://"),
            ("WEBMAIL_ROOT_PATH", "webmail/", "WEBMAIL_ROOT_PATH: must start with '/'"),
            ("WEBMAIL_TRUSTED_PROXIES", "10.0.0.0/8,not-an-ip", "WEBMAIL_TRUSTED_PROXIES"),
            ("WEBMAIL_SESSION_IDLE_MINUTES", "0", "WEBMAIL_SESSION_IDLE_MINUTES"),
            ("WEBMAIL_POP3_ALLOWED_PORTS", "110,pop3", "WEBMAIL_POP3_ALLOWED_PORTS: 'pop3' is not a port"),
            ("WEBMAIL_POP3_ALLOWED_PORTS", "1200-1100", "WEBMAIL_POP3_ALLOWED_PORTS"),
            ("WEBMAIL_SMTP_PASSWORD", "pw\r\nRSET", "WEBMAIL_SMTP_PASSWORD: must not contain line breaks"),
            (
                "WEBMAIL_IMAP_DOMAIN_ALIASES",
                "example.org",
                "WEBMAIL_IMAP_DOMAIN_ALIASES: 'example.org' is not",
            ),
        ],
    )
    def test_invalid_value_is_one_line_naming_the_variable(
        self, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
    ) -> None:
        monkeypatch.setenv("WEBMAIL_SECRET_KEY", KEY)
        monkeypatch.setenv(variable, value)
        with pytest.raises(ConfigError) as info:
            load_settings()
        assert message in str(info.value)
        assert "\n" not in str(info.value)

    def test_trusted_proxies_from_comma_list(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("WEBMAIL_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8")
        assert load_settings(secret_key=KEY).trusted_proxies == ["127.0.0.1", "10.0.0.0/8"]

    def test_masked_hides_secrets_and_url_passwords(self) -> None:
        settings = load_settings(secret_key=KEY, database_url="postgresql+psycopg://wm:hunter2@db/wm")
        shown = settings.masked()
        assert shown["WEBMAIL_SECRET_KEY"] == "********"
        assert shown["WEBMAIL_DATABASE_URL"] == "postgresql+psycopg://wm:********@db/wm"
        assert KEY not in "".join(shown.values())
        assert "hunter2" not in "".join(shown.values())


def test_plain_smtp_only_to_this_machine() -> None:
    import pytest

    from webmail.config import ConfigError, load_settings

    key = "k" * 40
    assert load_settings(secret_key=key, smtp_security="none", smtp_host="127.0.0.1").smtp_security == "none"
    with pytest.raises(ConfigError, match="only allowed for a server on this machine"):
        load_settings(secret_key=key, smtp_security="none", smtp_host="smtp.example.org")


class TestSecretsFromFiles:
    def test_every_secret_reads_a_file(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        values = {
            "secret_key": KEY,
            "smtp_password": "smtp pass",
            "imap_master_password": "master pass",
            "metrics_token": "scrape-token",
            "database_url": "postgresql+psycopg://webmail:pw@db/webmail",
            "redis_url": "redis://:pw@redis:6379/0",
        }
        assert set(secret_setting_names()) == set(values)
        for name, value in values.items():
            path = tmp_path / name
            path.write_text(value + "\n")  # as `echo value > file` writes it
            monkeypatch.setenv(f"WEBMAIL_{name.upper()}_FILE", str(path))
            monkeypatch.delenv(f"WEBMAIL_{name.upper()}", raising=False)
        settings = load_settings()
        for name, value in values.items():
            current = getattr(settings, name)
            assert (current if isinstance(current, str) else current.get_secret_value()) == value

    def test_a_file_named_in_dotenv(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        (tmp_path / "key").write_text(KEY)
        (tmp_path / ".env").write_text(f"WEBMAIL_SECRET_KEY_FILE={tmp_path / 'key'}\n")
        monkeypatch.chdir(tmp_path)
        monkeypatch.delenv("WEBMAIL_SECRET_KEY", raising=False)
        assert load_settings().secret_key.get_secret_value() == KEY

    def test_both_forms_are_refused(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        (tmp_path / "key").write_text(KEY)
        monkeypatch.setenv("WEBMAIL_SECRET_KEY", KEY)
        monkeypatch.setenv("WEBMAIL_SECRET_KEY_FILE", str(tmp_path / "key"))
        with pytest.raises(ConfigError, match="set WEBMAIL_SECRET_KEY or WEBMAIL_SECRET_KEY_FILE, not both"):
            load_settings()

    def test_a_missing_file_names_the_variable(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        monkeypatch.setenv("WEBMAIL_SMTP_PASSWORD_FILE", str(tmp_path / "absent"))
        with pytest.raises(ConfigError, match="WEBMAIL_SMTP_PASSWORD_FILE: cannot read .*absent"):
            load_settings(secret_key=KEY)

    def test_the_file_keeps_inner_line_breaks_and_spaces(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        (tmp_path / "pw").write_text("  two\nlines  \r\n")
        monkeypatch.setenv("WEBMAIL_METRICS_TOKEN_FILE", str(tmp_path / "pw"))
        assert load_settings(secret_key=KEY).metrics_token.get_secret_value() == "  two\nlines  "


class TestClientsAndMetrics:
    def test_public_hosts_default_to_the_servers(self) -> None:
        settings = load_settings(secret_key=KEY, imap_host="imap.example.org", smtp_host="smtp.example.org")
        assert (settings.public_imap_host, settings.public_pop3_host, settings.public_smtp_host) == (
            "imap.example.org",
            "imap.example.org",
            "smtp.example.org",
        )
        named = load_settings(secret_key=KEY, clients_imap_host="mail.example.org")
        assert named.public_pop3_host == "mail.example.org"

    def test_metrics_networks_are_checked(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("WEBMAIL_METRICS_NETWORKS", "10.0.0.0/8, ::1")
        assert load_settings(secret_key=KEY).metrics_networks == ["10.0.0.0/8", "::1"]
        monkeypatch.setenv("WEBMAIL_METRICS_NETWORKS", "prometheus")
        with pytest.raises(ConfigError, match="WEBMAIL_METRICS_NETWORKS"):
            load_settings(secret_key=KEY)
