"""Submitting a composed message (RFC 6409) with STARTTLS, implicit TLS or, on loopback, neither."""

from __future__ import annotations

import ssl
from email.message import EmailMessage

import aiosmtplib

from webmail.config import Settings
from webmail.smtp.errors import map_smtp_errors


async def send_message(
    settings: Settings, username: str, password: str, message: EmailMessage, recipients: list[str]
) -> list[str]:
    """Send ``message`` to ``recipients`` (To, Cc and Bcc; Bcc is not in the headers).

    Returns the recipients the server refused while it accepted others (the message went to
    those, so it must not be sent again), each with the server's reason.
    """
    context = ssl.create_default_context() if settings.smtp_security != "none" else None
    with map_smtp_errors():
        refused, _ = await aiosmtplib.send(
            message,
            recipients=recipients,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username or username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_username else password,
            # start_tls=None would quietly send in clear text if STARTTLS is not offered.
            start_tls=settings.smtp_security == "starttls",
            use_tls=settings.smtp_security == "tls",
            tls_context=context,
            timeout=30,
        )
    return [f"{address} ({response.message})" for address, response in refused.items()]
