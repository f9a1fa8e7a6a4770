from __future__ import annotations

import pytest

from webmail.config import ConfigError, load_settings

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
