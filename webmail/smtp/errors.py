"""SMTP failures, by cause, in words for the user."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import aiosmtplib

from webmail.errors import WebmailError


class SMTPError(WebmailError):
    """Raised when the submission server does not take the message."""

    status_code = 502
    user_message = "The mail server did not accept the message."


class SMTPAuthError(SMTPError):
    """Raised when the submission server refuses the user's credentials."""

    user_message = "The mail server refused your password for sending."


class RecipientsRefusedError(SMTPError):
    """Raised when the server refuses every recipient (or some: then nothing is sent)."""

    status_code = 422

    def __init__(self, refused: list[str]) -> None:
        self.refused = refused
        super().__init__(f"The mail server refused these recipients: {', '.join(refused)}.")


class SenderRefusedError(SMTPError):
    """Raised when the server refuses the envelope sender (MAIL FROM): it will not send as this
    address for this login (Postfix's reject_sender_login_mismatch, for one)."""

    status_code = 422

    def __init__(self, sender: str, reason: str) -> None:
        self.sender = sender
        self.reason = reason
        super().__init__(
            f"The mail server refused to send as {sender}: “{reason}”. Nothing was sent; "
            "choose another From address."
        )


class SMTPUnavailableError(SMTPError):
    """Raised when the submission server cannot be reached or drops the connection."""

    status_code = 503
    user_message = "The mail server for sending is unavailable. Your message was not sent; try again."


class SMTPOutcomeUnknownError(SMTPUnavailableError):
    """Raised when the connection drops or the server stops answering while it is being handed
    the message (after DATA): it may have taken it, so the message must not be sent again by itself."""

    status_code = 504
    user_message = (
        "The mail server stopped answering while it was taking the message, so it may or may not "
        "have gone out. It was not sent again: ask a recipient before you send it once more."
    )


class SMTPUTF8UnsupportedError(SMTPError):
    """Raised when an address needs SMTPUTF8 (non-ASCII before the @) and the server lacks it."""

    status_code = 422
    user_message = (
        "The mail server cannot send to addresses with non-ASCII letters before the @ "
        "(it does not offer SMTPUTF8). Nothing was sent; write those addresses another way."
    )


@contextmanager
def map_smtp_errors(handing_over: Callable[[], bool] = lambda: False) -> Iterator[None]:
    """Library errors as ours; ``handing_over`` says whether the message itself was on its way
    (then a lost connection leaves it unknown whether the server took it)."""
    try:
        yield
    except SMTPError:
        raise
    except aiosmtplib.SMTPAuthenticationError as exc:
        raise SMTPAuthError() from exc
    except aiosmtplib.SMTPSenderRefused as exc:
        raise SenderRefusedError(exc.sender, exc.message) from exc
    except aiosmtplib.SMTPRecipientsRefused as exc:
        raise RecipientsRefusedError([str(r.recipient) for r in exc.recipients]) from exc
    except aiosmtplib.SMTPRecipientRefused as exc:
        raise RecipientsRefusedError([str(exc.recipient)]) from exc
    except (
        aiosmtplib.SMTPConnectError,
        aiosmtplib.SMTPServerDisconnected,
        aiosmtplib.SMTPTimeoutError,
        OSError,
    ) as exc:
        if handing_over():
            raise SMTPOutcomeUnknownError() from exc
        raise SMTPUnavailableError() from exc
    except aiosmtplib.SMTPException as exc:
        raise SMTPError(f"The mail server did not accept the message: {exc}") from exc
