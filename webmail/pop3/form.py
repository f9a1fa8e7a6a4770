"""The POP3 account form: parsing and checking what the user typed, with errors per field."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from webmail.config import Settings, has_control_character, is_loopback
from webmail.db.models import POP3Account
from webmail.pop3.destination import Destinations

DEFAULT_PORTS = {"tls": 995, "starttls": 110, "none": 110}
TRUE = {"on", "1", "true", "yes"}


@dataclass(frozen=True)
class AccountForm:
    host: str
    port: int
    security: str
    username: str
    password: str  # empty when editing means "keep the stored one"
    folder: str
    leave_on_server: bool
    delete_after_days: int | None
    only_new: bool
    mark_read: bool
    max_size_mb: int | None
    interval_minutes: int
    enabled: bool
    consent: bool

    @classmethod
    def defaults(cls, settings: Settings) -> AccountForm:
        return cls(
            host="",
            port=995,
            security="tls",
            username="",
            password="",
            folder="INBOX",
            leave_on_server=True,
            delete_after_days=None,
            only_new=True,
            mark_read=False,
            max_size_mb=None,
            interval_minutes=max(15, settings.pop3_min_interval_minutes),
            enabled=True,
            consent=False,
        )

    @classmethod
    def of(cls, account: POP3Account, *, consent: bool) -> AccountForm:
        return cls(
            host=account.host,
            port=account.port,
            security=account.security,
            username=account.username,
            password="",
            folder=account.folder,
            leave_on_server=account.leave_on_server,
            delete_after_days=account.delete_after_days,
            only_new=account.only_new,
            mark_read=account.mark_read,
            max_size_mb=account.max_size_mb,
            interval_minutes=account.interval_minutes,
            enabled=account.enabled,
            consent=consent,
        )

    @classmethod
    def parse(
        cls, form: Mapping[str, str], settings: Settings, *, editing: bool
    ) -> tuple[AccountForm, dict[str, str]]:
        """The values as typed (for showing the form again) and the problems, by field name."""
        errors: dict[str, str] = {}

        def text(name: str, limit: int) -> str:
            value = str(form.get(name, "")).strip()
            if has_control_character(value):
                errors[name] = "Line breaks and other control characters are not allowed here."
            elif len(value) > limit:
                errors[name] = f"At most {limit} characters."
            return value

        def number(
            name: str, low: int, high: int, *, optional: bool, default: int | None = None
        ) -> int | None:
            raw = str(form.get(name, "")).strip()
            if not raw:
                if optional or default is not None:
                    return default
                errors[name] = "Required."
                return None
            try:
                value = int(raw)
            except ValueError:
                errors[name] = "Enter a whole number."
                return default
            if not low <= value <= high:
                errors[name] = f"Enter a number from {low} to {high}."
            return value

        security = str(form.get("security", "tls"))
        if security not in DEFAULT_PORTS:
            errors["security"] = "Choose POP3S, STARTTLS or no encryption."
            security = "tls"
        destinations = Destinations.of(settings)
        host = text("host", 255)
        if not host:
            errors["host"] = "Enter the POP3 server's name, e.g. pop.example.com."
        elif any(c.isspace() for c in host):
            errors["host"] = "A server name has no spaces."
        elif problem := destinations.literal_problem(host):
            errors["host"] = problem
        elif security == "none" and not (is_loopback(host) or settings.pop3_allow_insecure):
            errors["security"] = (
                "Without encryption the password would cross the network readable by anyone: "
                "choose POP3S or STARTTLS (only this server's own machine may go without)."
            )
        username = text("username", 320)
        if not username:
            errors["username"] = "Enter the user name of the POP3 account."
        password = str(form.get("password", ""))
        if not password and not editing:
            errors["password"] = "Enter the password of the POP3 account."  # noqa: S105 - a message
        elif has_control_character(password):
            # It would end the PASS command and start another one (say, DELE 1).
            errors["password"] = "A password cannot contain line breaks or other control characters."  # noqa: S105
        folder = text("folder", 200).strip("/") or "INBOX"
        leave_on_server = str(form.get("leave_on_server", "")).lower() in TRUE
        delete_after_days = number("delete_after_days", 1, 3650, optional=True)
        if not leave_on_server:
            delete_after_days = None
        only_new = str(form.get("only_new", "1")).lower() in TRUE
        minimum = settings.pop3_min_interval_minutes
        port = number("port", 1, 65535, optional=True, default=DEFAULT_PORTS[security]) or 995
        if "port" not in errors and (problem := destinations.port_problem(port)):
            errors["port"] = problem
        values = cls(
            host=host,
            port=port,
            security=security,
            username=username,
            password=password,
            folder=folder,
            leave_on_server=leave_on_server,
            delete_after_days=delete_after_days,
            only_new=only_new,
            mark_read=str(form.get("mark_read", "")).lower() in TRUE,
            max_size_mb=number("max_size_mb", 1, settings.pop3_max_message_mb, optional=True),
            interval_minutes=number(
                "interval_minutes", minimum, 1440, optional=False, default=max(15, minimum)
            )
            or minimum,
            enabled=str(form.get("enabled", "")).lower() in TRUE,
            consent=str(form.get("consent", "")).lower() in TRUE,
        )
        if not settings.uses_master_user and not values.consent:
            errors["consent"] = (
                "Fetching runs while you are signed out, so it needs your agreement to keep your "
                "mailbox password (encrypted) on the server."
            )
        return values, errors

    def apply(self, account: POP3Account) -> None:
        """Copy the settings (not the password) onto a database row."""
        for name in (
            "host",
            "port",
            "security",
            "username",
            "folder",
            "leave_on_server",
            "delete_after_days",
            "only_new",
            "mark_read",
            "max_size_mb",
            "interval_minutes",
            "enabled",
        ):
            setattr(account, name, getattr(self, name))
