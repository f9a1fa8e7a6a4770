"""Typed IMAP errors; ``map_imap_errors()`` is the one place that translates library errors."""

from __future__ import annotations

import imaplib
import logging
import re
import ssl
from collections.abc import Iterator
from contextlib import contextmanager

from imapclient import exceptions as imap_exc

from webmail.errors import WebmailError
from webmail.imap.metrics import IMAP_ERRORS

logger = logging.getLogger(__name__)


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


class QuotaExceededError(IMAPError):
    """Raised when APPEND, COPY or MOVE fails because the mailbox is over its quota
    (``[OVERQUOTA]``, RFC 5530, or the server's own words for it)."""

    status_code = 507
    user_message = "Mailbox full: the mail server has no room for more messages."


class ProtocolError(IMAPError):
    """Raised when the server answers NO/BAD or something we cannot parse."""


# imapclient says "<command> failed: <text>", imaplib "<COMMAND> command error: BAD [b'<text>']".
_LIBRARY_MESSAGE = re.compile(r"^(?P<command>[A-Za-z_ ]+?) (?:failed|command error): (?P<text>.*)$", re.S)
_DOVECOT_TIMING = re.compile(r"\s*\(\d+\.\d+ \+ [\d.+ ]+ secs\)\.?$")
_IMAPLIB_DATA = re.compile(r"^(?:(?:BAD|NO) )?\[b(?P<q>['\"])(?P<text>.*)(?P=q)\]$", re.S)  # BAD [b'text']
_RESPONSE_CODE = re.compile(r"^\[[^\]]*\]\s*")


# What servers answer for a folder they do not have: Dovecot, Cyrus, Courier (RFC 5530 NONEXISTENT).
_MISSING_FOLDER = (b"doesn't exist", b"does not exist", b"[nonexistent]", b"unknown mailbox")


def names_missing_folder(exc: BaseException) -> bool:
    """True if the server's refusal in ``exc`` says the folder does not exist."""
    text = _raw(exc).lower()
    return any(words in text for words in _MISSING_FOLDER)


def refused(
    command: str, answer: object, doing: str = "The mail server refused this"
) -> ProtocolError | QuotaExceededError:
    """The error for ``command`` answered NO or BAD, logged with the server's words, which the
    user sees after ``doing``. ``command`` is the command's name only: its arguments (folder
    names, search words) may be personal. A refusal for the quota is a QuotaExceededError."""
    text = server_text(answer)
    logger.warning("IMAP %s refused: %s", command, text or "(no text)")
    words = _RESPONSE_CODE.sub("", text)
    error = QuotaExceededError if is_over_quota(text) else ProtocolError
    return error(f"{doing}: “{words}”" if words else f"{doing}.")


def server_text(answer: object) -> str:
    """The response text in an imaplib answer (bytes, a list of them, or a library error)."""
    if isinstance(answer, BaseException):
        message = _raw(answer).decode("utf-8", "replace")
        parsed = _LIBRARY_MESSAGE.match(message)
        return server_text(parsed["text"] if parsed else message)
    if isinstance(answer, (list, tuple)):
        text = " ".join(server_text(part) for part in answer if part is not None)
    elif isinstance(answer, bytes):
        text = answer.decode("utf-8", "replace")
    else:
        text = str(answer)
    quoted = _IMAPLIB_DATA.match(text.strip())
    if quoted is not None:
        text = quoted["text"]
    return _DOVECOT_TIMING.sub("", text.strip())


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
        if is_over_quota(exc):
            raise _counted(QuotaExceededError()) from exc
        if names_missing_folder(exc):
            raise _counted(FolderNotFoundError()) from exc
        parsed = _LIBRARY_MESSAGE.match(_raw(exc).decode("utf-8", "replace"))
        raise _counted(refused(parsed["command"].upper() if parsed else "command", exc)) from exc


_QUOTA_WORDS = (b"[overquota]", b"quota exceeded", b"over quota", b"mailbox is full", b"mailbox full")


def is_over_quota(error: BaseException | bytes | str) -> bool:
    """Whether a NO answer says the quota is exceeded: ``[OVERQUOTA]`` (RFC 5530) or, from
    servers without response codes, their usual words for it."""
    text = error if isinstance(error, bytes | str) else _raw(error)
    lowered = (text.encode(errors="replace") if isinstance(text, str) else text).lower()
    return any(words in lowered for words in _QUOTA_WORDS)


def _counted(error: IMAPError) -> IMAPError:
    IMAP_ERRORS.labels(kind=type(error).__name__).inc()
    return error


def _raw(exc: BaseException) -> bytes:
    arg = exc.args[0] if exc.args else b""
    return arg if isinstance(arg, bytes) else str(arg).encode(errors="replace")
