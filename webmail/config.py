"""Settings from ``WEBMAIL_*`` environment variables and ``.env``, validated at start."""

from __future__ import annotations

import ipaddress
import re
import secrets
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from webmail.limits import DEFAULT_LIMITS, Limits

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The users `make demo` creates (login, password); the sign-in page offers the first in demo mode.
DEMO_USERS = (("demo@example.test", "demo"), ("bob@example.test", "demo"))
Security = Literal["tls", "starttls", "none"]
MIN_SECRET_KEY_LENGTH = 32
SENTINEL_URL = re.compile(r"redis\+sentinel://([^@/]*@)?[^/@,]+:\d+(,[^/@,]+:\d+)*/[^/]+(/\d+)?")


class ConfigError(Exception):
    """Raised when a setting is missing or invalid; the message is one readable line."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="WEBMAIL_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    demo: bool = False
    secret_key: SecretStr = SecretStr("")

    imap_host: str = "127.0.0.1"
    imap_port: int = Field(143, ge=1, le=65535)
    imap_security: Security = "starttls"
    imap_timeout_seconds: float = Field(30.0, gt=0)
    imap_verify_tls: bool = True
    imap_idle_close_seconds: int = Field(300, ge=10)
    imap_pool_per_worker: int = Field(2, ge=1, le=10)
    imap_max_connections_per_user: int = Field(4, ge=1, le=50)
    imap_cap_wait_seconds: float = Field(10.0, ge=0)
    imap_lease_seconds: float = Field(30.0, ge=2)
    # How the server folds user names (Dovecot's auth_username_format): %Lu lower-case (its
    # default), %u as typed (case-sensitive names), %n / %Ln without the domain.
    imap_username_format: Literal["%u", "%Lu", "%n", "%Ln"] = "%Lu"
    # "alias.example=example.org": names @alias.example are the accounts @example.org; "alias=" drops it.
    imap_domain_aliases: Annotated[list[str], NoDecode] = Field(default_factory=list)

    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_security: Security = "starttls"
    # Submission logs in with the user's own IMAP name and password, unless a fixed account is set.
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    # "login": the submission server sends only as the signed-in address (other From addresses are
    # refused, e.g. Postfix reject_sender_login_mismatch); the identities page and compose say so.
    smtp_senders: Literal["any", "login"] = "any"
    # Each step of a submission (connect, every command, the message's text) waits this long at most.
    smtp_timeout_seconds: float = Field(30.0, gt=0)
    max_attachment_mb: int = Field(25, ge=1, le=500)
    upload_quota_mb: int = Field(100, ge=1)  # one user's unsent attachments across all drafts
    undo_send_seconds: int = Field(10, ge=0, le=30)  # 0: sent at once, without the worker
    # Attachments of messages being written; shared storage when workers run on several hosts.
    upload_dir: Path = PROJECT_ROOT / "var" / "uploads"
    # Background exports (written by the worker, downloaded from the web), a folder per user;
    # shared storage when they run on several hosts. Deleted this long after they are made.
    export_dir: Path = PROJECT_ROOT / "var" / "exports"
    export_retention_hours: int = Field(72, ge=1, le=90 * 24)

    # Background fetches log in as "<user>*<master>" (Dovecot master user) instead of using a
    # stored copy of the user's password, when set.
    # Filters and the vacation reply over ManageSieve (RFC 5804); the host defaults to the IMAP host.
    sieve_host: str = ""
    sieve_port: int = Field(4190, ge=1, le=65535)
    sieve_security: Security = "starttls"

    imap_master_user: str = ""
    imap_master_password: SecretStr = SecretStr("")

    pop3_enabled: bool = True
    pop3_min_interval_minutes: int = Field(5, ge=1)
    pop3_max_accounts_per_user: int = Field(5, ge=0, le=100)
    pop3_max_message_mb: int = Field(50, ge=1, le=2000)
    pop3_allow_insecure: bool = False  # unencrypted POP3 to hosts other than loopback
    # Beyond public addresses: host names, addresses or networks on the operator's own network.
    pop3_allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    pop3_allowed_ports: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["110", "995"])
    pop3_timeout_seconds: float = Field(30.0, gt=0)
    pop3_job_timeout_seconds: int = Field(1800, ge=30)
    pop3_batch_messages: int = Field(500, ge=1)
    # "Test connection" waits this long for a connection and the greeting (a silent port), and
    # runs at most so many at once per user and per worker, beside the page requests' threads.
    pop3_test_timeout_seconds: float = Field(8.0, gt=0)
    pop3_tests_per_user: int = Field(2, ge=1)
    pop3_tests_per_worker: int = Field(6, ge=1)

    # Bounds on the work one message or request may cause (webmail/mail/limits.py).
    max_mime_parts: int = Field(DEFAULT_LIMITS.max_mime_parts, ge=10)
    max_mime_depth: int = Field(DEFAULT_LIMITS.max_mime_depth, ge=2, le=100)
    max_html_bytes: int = Field(DEFAULT_LIMITS.max_html_bytes, ge=10_000)
    max_html_depth: int = Field(DEFAULT_LIMITS.max_html_depth, ge=20)
    max_recipients: int = Field(DEFAULT_LIMITS.max_recipients, ge=1)
    max_search_terms: int = Field(DEFAULT_LIMITS.max_search_terms, ge=1)
    max_search_length: int = Field(DEFAULT_LIMITS.max_search_length, ge=100)
    max_uids_per_request: int = Field(DEFAULT_LIMITS.max_uids_per_request, ge=100)
    max_forward_attachments: int = Field(DEFAULT_LIMITS.max_forward_attachments, ge=1)
    max_event_streams_per_user: int = Field(10, ge=1)  # open pages with live updates, all workers

    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_prefix: str = "wm"
    database_url: str = f"sqlite:///{PROJECT_ROOT / 'var' / 'webmail.db'}"

    root_path: str = ""
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    session_idle_minutes: int = Field(30, ge=1)
    session_max_hours: int = Field(12, ge=1)
    login_max_failures_per_user: int = Field(5, ge=1)
    login_max_failures_per_ip: int = Field(20, ge=1)
    login_failure_window_minutes: int = Field(15, ge=1)

    log_format: Literal["text", "json"] = "text"
    # On SIGTERM, requests in flight get this long to finish before they are cut off.
    shutdown_grace_seconds: int = Field(20, ge=1, le=600)
    # /metrics answers these networks (the client address after WEBMAIL_TRUSTED_PROXIES), or a request
    # with "Authorization: Bearer <WEBMAIL_METRICS_TOKEN>".
    metrics_networks: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["127.0.0.0/8", "::1/128"]
    )
    metrics_token: SecretStr = SecretStr("")

    # What desktop and phone mail programs are told (/help/clients, autoconfig, Autodiscover): the
    # public names of the servers, which may differ from the addresses this app reaches them at.
    clients_imap_host: str = ""  # default: WEBMAIL_IMAP_HOST
    clients_imap_port: int = Field(993, ge=1, le=65535)
    clients_imap_security: Security = "tls"
    clients_pop3_host: str = ""  # default: the clients' IMAP host
    clients_pop3_port: int = Field(995, ge=0, le=65535)  # 0: POP3 is not offered
    clients_pop3_security: Security = "tls"
    clients_smtp_host: str = ""  # default: WEBMAIL_SMTP_HOST
    clients_smtp_port: int = Field(587, ge=1, le=65535)
    clients_smtp_security: Security = "starttls"
    # Mail domains the autoconfiguration answers for; empty: the domain of any address asked about.
    clients_domains: Annotated[list[str], NoDecode] = Field(default_factory=list)
    clients_display_name: str = "Webmail"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        secret_files = SecretFilesSource(settings_cls, env_settings, dotenv_settings)
        return init_settings, env_settings, secret_files, dotenv_settings, file_secret_settings

    @field_validator("metrics_networks", mode="before")
    @classmethod
    def _check_networks(cls, value: Any) -> Any:
        value = _split(value)
        for entry in value:
            ipaddress.ip_network(entry, strict=False)
        return value

    @field_validator("clients_domains", mode="before")
    @classmethod
    def _split_domains(cls, value: Any) -> Any:
        return [str(domain).lower() for domain in _split(value)]

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: Any) -> Any:
        value = _split(value)
        for entry in value:
            if entry != "*":
                ipaddress.ip_network(entry, strict=False)
        return value

    @field_validator("imap_domain_aliases", mode="before")
    @classmethod
    def _check_aliases(cls, value: Any) -> Any:
        value = _split(value)
        for entry in value:
            alias, equals, _ = str(entry).partition("=")
            if not equals or not alias.strip():
                raise ValueError(f"{entry!r} is not alias=domain, e.g. mail.example.org=example.org")
        return value

    @field_validator("pop3_allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: Any) -> Any:
        return _split(value)

    @field_validator("pop3_allowed_ports", mode="before")
    @classmethod
    def _check_ports(cls, value: Any) -> Any:
        value = _split(value)
        if not value:
            raise ValueError("name at least one port, e.g. 110,995")
        for entry in value:
            low, _, high = str(entry).partition("-")
            if not (low.isdigit() and (high or low).isdigit() and 1 <= int(low) <= int(high or low) <= 65535):
                raise ValueError(f"{entry!r} is not a port or a range of ports such as 1100-1199")
        return value

    @field_validator("root_path")
    @classmethod
    def _check_root_path(cls, value: str) -> str:
        if value and (not value.startswith("/") or value.endswith("/")):
            raise ValueError("must start with '/' and not end with '/', e.g. /webmail")
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str) -> str:
        if value.startswith("redis+sentinel://"):
            if not SENTINEL_URL.fullmatch(value):
                raise ValueError(
                    "a Sentinel URL names the Sentinels and the service: "
                    "redis+sentinel://host:26379,host:26379,host:26379/service/0"
                )
        elif not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss://, unix:// or redis+sentinel://")
        return value

    @model_validator(mode="after")
    def _check_plain_smtp(self) -> Settings:
        if self.smtp_security == "none" and not is_loopback(self.smtp_host):
            raise ValueError(
                "WEBMAIL_SMTP_SECURITY=none is only allowed for a server on this machine (127.0.0.1, ::1, "
                "localhost): passwords would cross the network readable by anyone. Use starttls or tls."
            )
        return self

    @field_validator("smtp_username", "smtp_password", "imap_master_user", "imap_master_password")
    @classmethod
    def _check_credential(cls, value: str | SecretStr) -> str | SecretStr:
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if has_control_character(text):
            raise ValueError("must not contain line breaks or other control characters")
        return value

    @model_validator(mode="after")
    def _check_plain_sieve(self) -> Settings:
        if self.sieve_security == "none" and not is_loopback(self.managesieve_host):
            raise ValueError(
                "WEBMAIL_SIEVE_SECURITY=none is only allowed for a server on this machine (127.0.0.1, ::1, "
                "localhost): passwords would cross the network readable by anyone. Use starttls or tls."
            )
        return self

    @model_validator(mode="after")
    def _check_any_proxy(self) -> Settings:
        if "*" in self.trusted_proxies and not self.demo:
            raise ValueError(
                "WEBMAIL_TRUSTED_PROXIES=* would take any client's own X-Forwarded-For as its address "
                "(and so let it escape the sign-in limits): list your proxy's address or network "
                "instead, e.g. 127.0.0.1 or 172.30.0.0/24 (* is allowed only with WEBMAIL_DEMO)"
            )
        return self

    @model_validator(mode="after")
    def _check_secret_key(self) -> Settings:
        key = self.secret_key.get_secret_value()
        if self.demo and not key:
            # Demo mode only: a per-process key; sessions do not survive a restart.
            self.secret_key = SecretStr(secrets.token_urlsafe(48))
        elif len(key) < MIN_SECRET_KEY_LENGTH:
            problem = "is missing" if not key else "is too short"
            raise ValueError(
                f"WEBMAIL_SECRET_KEY {problem}: set at least {MIN_SECRET_KEY_LENGTH} random "
                'characters, e.g. python3 -c "import secrets; print(secrets.token_urlsafe(48))"'
            )
        return self

    @property
    def domain_aliases(self) -> dict[str, str]:
        pairs = (entry.partition("=") for entry in self.imap_domain_aliases)
        return {alias.strip().lower(): domain.strip() for alias, _, domain in pairs}

    @property
    def uses_master_user(self) -> bool:
        return bool(self.imap_master_user and self.imap_master_password.get_secret_value())

    @property
    def managesieve_host(self) -> str:
        """WEBMAIL_SIEVE_HOST, or the IMAP host when it is unset."""
        return self.sieve_host or self.imap_host

    @property
    def public_imap_host(self) -> str:
        return self.clients_imap_host or self.imap_host

    @property
    def public_pop3_host(self) -> str:
        return self.clients_pop3_host or self.public_imap_host

    @property
    def public_smtp_host(self) -> str:
        return self.clients_smtp_host or self.smtp_host

    @property
    def session_idle_seconds(self) -> int:
        return self.session_idle_minutes * 60

    @property
    def limits(self) -> Limits:
        return Limits(**{name: getattr(self, name) for name in Limits.__dataclass_fields__})

    @property
    def session_max_seconds(self) -> int:
        return self.session_max_hours * 3600

    def masked(self) -> dict[str, str]:
        """The effective settings as ``WEBMAIL_*`` names, secrets and passwords masked."""
        shown: dict[str, str] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                text = "********" if value.get_secret_value() else "(unset)"
            elif isinstance(value, list):
                text = ",".join(map(str, value))
            else:
                text = str(value)
            if name.endswith("_url"):
                text = _mask_url_password(text)
            shown[f"WEBMAIL_{name.upper()}"] = text
        return shown


def _split(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def has_control_character(text: str) -> bool:
    """True if ``text`` holds a line break, NUL or another control character (Unicode Cc).

    In a line-based protocol (POP3's PASS, IMAP's LOGIN) such a character in a user name or
    password would end the command and start another one.
    """
    return any(unicodedata.category(c) == "Cc" for c in text)


def secret_setting_names() -> list[str]:
    """Settings that may hold a secret, and so may also be read from a file (``WEBMAIL_<NAME>_FILE``):
    every password, key and token, and the URLs that can carry a password."""
    return [
        name
        for name, field in Settings.model_fields.items()
        if field.annotation is SecretStr or name.endswith("_url")
    ]


class SecretFilesSource(PydanticBaseSettingsSource):
    """``WEBMAIL_<NAME>_FILE=/run/secrets/x``: the setting's value is that file's content (Docker and
    Kubernetes secrets), without its final line break. Setting both forms of one name is an error."""

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        env: PydanticBaseSettingsSource,
        dotenv: PydanticBaseSettingsSource,
    ) -> None:
        super().__init__(settings_cls)
        self.variables: dict[str, str | None] = {}
        for source in (dotenv, env):  # the environment wins over .env, as for the settings themselves
            if isinstance(source, EnvSettingsSource):
                self.variables.update(source.env_vars)

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        raise NotImplementedError  # __call__ reads every secret setting at once

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in secret_setting_names():
            variable = f"webmail_{name}_file"
            path = self.variables.get(variable)
            if not path:
                continue
            if self.variables.get(f"webmail_{name}"):
                raise ConfigError(f"set WEBMAIL_{name.upper()} or WEBMAIL_{name.upper()}_FILE, not both")
            try:
                content = Path(path).read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"{variable.upper()}: cannot read {path}: {exc.strerror}") from None
            values[name] = content.removesuffix("\n").removesuffix("\r")
        return values


def is_loopback(host: str) -> bool:
    """True for this machine's own addresses, where nothing crosses a network."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _mask_url_password(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user}:********@{host}"


def load_settings(**overrides: Any) -> Settings:
    """Build settings, turning a validation failure into one readable line per variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            if field:
                lines.append(f"WEBMAIL_{field.upper()}: {message}")
            else:
                lines.append(message)
        raise ConfigError("; ".join(lines)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
