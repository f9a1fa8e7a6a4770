"""Typed IMAP errors; ``map_imap_errors()`` is the one place that translates library errors."""

from __future__ import annotations

import imaplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager

from imapclient import exceptions as imap_exc

from webmail.errors import WebmailError
from webmail.imap.metrics import IMAP_ERRORS


class IMAPError(WebmailError):
    """Raised when an IMAP operation fails; the subclasses name the cause."""

    status_code = 502
    user_message = "The mail server reported an error."


class AuthFailedError(IMAPError):
    """Raised when the server refuses LOGIN for this user name and password."""

    status_code = 401
    user_message = "Wrong username or password."


class CredentialsRejectedError(AuthFailedError):
    """Raised when a signed-in session's password is refused: it was changed elsewhere."""

    user_message = "Your password no longer works here. Please sign in again."


class UnavailableError(IMAPError):
    """Raised when the server cannot be reached, drops the connection or times out."""

    status_code = 503
    user_message = "Mail server unavailable. Please try again in a moment."


class MailboxBusyError(IMAPError):
    """Raised when the user already holds as many connections as allowed."""

    status_code = 503
    user_message = "Your mailbox is busy, try again."


class FolderNotFoundError(IMAPError):
    """Raised when SELECT or STATUS names a folder the server does not have."""

    status_code = 404
    user_message = "This folder does not exist."


class FolderMissingError(IMAPError):
    """Raised when an action needs a folder the account lacks: a special-use one (Trash, Archive,
    Junk) or the folder named to move or copy messages to."""

    status_code = 409
    user_message = "This mailbox has no such folder; nothing was changed."


class MessageGoneError(IMAPError):
    """Raised when a UID is not (or no longer) in the folder: moved, deleted or never there."""

    status_code = 404
    user_message = "This message was moved or deleted."


class UIDValidityChangedError(IMAPError):
    """Raised when a folder's UIDVALIDITY differs from the one a link was made with (RFC 3501 2.3.1.1)."""

    status_code = 409
    user_message = "This folder was reset on the server; the list has been reloaded."


class ProtocolError(IMAPError):
    """Raised when the server answers NO/BAD or something we cannot parse."""


@contextmanager
def map_imap_errors() -> Iterator[None]:
    """Re-raise imapclient, imaplib and socket errors as the most specific IMAPError (counted by
    kind in ``webmail_imap_errors_total``)."""
    try:
        yield
    except IMAPError:
        raise
    except imap_exc.LoginError as exc:
        if b"[UNAVAILABLE]" in _raw(exc) or b"[LIMIT]" in _raw(exc):
            raise _counted(UnavailableError()) from exc
        raise _counted(AuthFailedError()) from exc
    except (imap_exc.IMAPClientAbortError, TimeoutError, ssl.SSLError, OSError) as exc:
        # abort: the connection is gone (BYE, EOF); OSError covers refused and reset.
        raise _counted(UnavailableError()) from exc
    except imaplib.IMAP4.error as exc:
        text = _raw(exc).lower()
        if b"doesn't exist" in text or b"nonexistent" in text or b"unknown mailbox" in text:
            raise _counted(FolderNotFoundError()) from exc
        raise _counted(ProtocolError()) from exc


def _counted(error: IMAPError) -> IMAPError:
    IMAP_ERRORS.labels(kind=type(error).__name__).inc()
    return error


def _raw(exc: BaseException) -> bytes:
    arg = exc.args[0] if exc.args else b""
    return arg if isinstance(arg, bytes) else str(arg).encode(errors="replace")
