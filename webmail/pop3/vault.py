"""External POP3 passwords at rest: sealed with the server key, bound to their account row."""

from __future__ import annotations

from webmail.auth.crypto import DecryptionError, seal, unseal
from webmail.config import Settings
from webmail.db.models import POP3Account
from webmail.pop3.errors import POP3AuthError

PURPOSE = "pop3-password"


def seal_password(settings: Settings, account: POP3Account, password: str) -> None:
    """Store ``password`` on the account (which must have its id already)."""
    account.password_encrypted = seal(
        password,
        server_secret=settings.secret_key.get_secret_value(),
        purpose=PURPOSE,
        bound_to=f"pop3-account:{account.id}",
    )


def open_password(settings: Settings, account: POP3Account) -> str:
    try:
        return unseal(
            account.password_encrypted,
            server_secret=settings.secret_key.get_secret_value(),
            purpose=PURPOSE,
            bound_to=f"pop3-account:{account.id}",
        )
    except DecryptionError as exc:
        raise POP3AuthError("The stored password cannot be read any more (the server key changed).") from exc
