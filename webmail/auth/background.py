"""The IMAP login that background jobs use while the user is signed out.

Either the operator's Dovecot master user (``<user>*<master>``; no user password is stored), or
the user's own password sealed with the server key, stored only after the user agreed to it.
"""

from __future__ import annotations

from webmail.auth.crypto import DecryptionError, seal, unseal
from webmail.auth.errors import AuthError
from webmail.config import Settings
from webmail.db.models import User
from webmail.imap.types import Credentials

PURPOSE = "imap-background"


class NoBackgroundCredentialError(AuthError):
    """Raised when neither a master user nor a stored (consented) password is available."""

    status_code = 409
    user_message = (
        "Background fetches cannot store mail in your mailbox: agree to keeping your mailbox "
        "password on the account form, or ask the operator to configure a master user."
    )


def seal_password(settings: Settings, user: User, password: str) -> bytes:
    return seal(
        password,
        server_secret=settings.secret_key.get_secret_value(),
        purpose=PURPOSE,
        bound_to=_bound_to(user),
    )


def background_credentials(settings: Settings, user: User) -> Credentials:
    if settings.uses_master_user:
        return Credentials(
            f"{user.login}*{settings.imap_master_user}", settings.imap_master_password.get_secret_value()
        )
    if user.imap_credential is None:
        raise NoBackgroundCredentialError()
    try:
        password = unseal(
            user.imap_credential,
            server_secret=settings.secret_key.get_secret_value(),
            purpose=PURPOSE,
            bound_to=_bound_to(user),
        )
    except DecryptionError as exc:  # the server secret changed
        raise NoBackgroundCredentialError() from exc
    return Credentials(user.login, password)


def _bound_to(user: User) -> str:
    return f"{user.login.lower()}@{user.imap_host}"
