"""Submitting a composed message (RFC 6409) with STARTTLS, implicit TLS or, on loopback, neither."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any

import aiosmtplib
from aiosmtplib.email import flatten_message

from webmail.config import Settings
from webmail.smtp.errors import SMTPError, SMTPUTF8UnsupportedError, map_smtp_errors
from webmail.smtp.metrics import SMTP_ERRORS, SMTP_LATENCY
from webmail.tls import client_context

ADDRESS_HEADERS = ("From", "Sender", "Reply-To", "To", "Cc", "Bcc")


async def send_message(
    settings: Settings, username: str, password: str, message: EmailMessage, recipients: list[str]
) -> list[str]:
    """Send ``message`` to ``recipients`` (To, Cc and Bcc; Bcc is not in the headers).

    Returns the recipients the server refused while it accepted others (the message went to
    those, so it must not be sent again), each with the server's reason.
    """
    context = client_context(True) if settings.smtp_security != "none" else None
    client = _Submission(
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username or username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_username else password,
        # start_tls=None would quietly send in clear text if STARTTLS is not offered.
        start_tls=settings.smtp_security == "starttls",
        use_tls=settings.smtp_security == "tls",
        tls_context=context,
        timeout=settings.smtp_timeout_seconds,
    )
    utf8 = needs_smtputf8(message, recipients)
    with SMTP_LATENCY.time(), _counted(), map_smtp_errors(lambda: client.handing_over):
        async with client:
            if utf8 and not client.supports_extension("smtputf8"):
                raise SMTPUTF8UnsupportedError()
            options = ["SMTPUTF8"] if utf8 else []
            eight_bit = client.supports_extension("8bitmime")
            if eight_bit:
                options.append("BODY=8BITMIME")
            data = flatten_message(message, utf8=utf8, cte_type="8bit" if eight_bit else "7bit")
            refused, _ = await client.sendmail(
                envelope_sender(message), recipients, data, mail_options=options
            )
    return [f"{address} ({response.message})" for address, response in refused.items()]


class _Submission(aiosmtplib.SMTP):
    """Remembers whether DATA was sent: from then on a dropped connection or a silent server
    leaves it unknown whether the message went, so nobody may send it again by itself."""

    handing_over = False

    async def data(self, message: str | bytes, /, **options: Any) -> aiosmtplib.SMTPResponse:
        self.handing_over = True
        return await super().data(message, **options)


@contextmanager
def _counted() -> Iterator[None]:
    try:
        yield
    except SMTPError as exc:
        SMTP_ERRORS.labels(kind=type(exc).__name__).inc()
        raise


def needs_smtputf8(message: EmailMessage, recipients: list[str]) -> bool:
    """True if an address anywhere has non-ASCII before the @ (RFC 6531); a non-ASCII domain
    alone never does, composing writes those as IDNA A-labels."""
    addresses = [_text(a) for name in ADDRESS_HEADERS for _, a in getaddresses(message.get_all(name, []))]
    return not all(address.isascii() for address in [*addresses, *recipients])


def envelope_sender(message: EmailMessage) -> str:
    header = message.get_all("Sender") or message.get_all("From") or []
    found = getaddresses([str(value) for value in header])
    return _text(found[0][1]) if found else ""


def _text(value: str) -> str:
    """Header text of a message parsed from bytes holds raw UTF-8 as surrogate escapes."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
