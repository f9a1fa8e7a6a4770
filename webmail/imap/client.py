"""Opening an authenticated IMAPClient: TLS/STARTTLS, ID before LOGIN, timeouts."""

from __future__ import annotations

import ssl

from imapclient import IMAPClient
from imapclient.imapclient import SocketTimeout

from webmail.config import Settings
from webmail.imap.errors import map_imap_errors
from webmail.imap.types import Credentials
from webmail.tls import client_context

CLIENT_ID = {"name": "webmail", "version": "0.1"}


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """The shared client context (webmail.tls), or None when IMAP runs without TLS."""
    if settings.imap_security == "none":
        return None
    return client_context(settings.imap_verify_tls)


def open_client(settings: Settings, credentials: Credentials) -> IMAPClient:
    """Connect, secure, identify and log in; raises AuthFailedError or UnavailableError."""
    timeout = SocketTimeout(
        connect=min(10.0, settings.imap_timeout_seconds), read=settings.imap_timeout_seconds
    )
    with map_imap_errors():
        client = _connect(settings, timeout)
        client.normalise_times = False  # keep the timezone of dates
        try:
            if settings.imap_security == "starttls":
                client.starttls(tls_context(settings))
            identify(client, credentials.client_ip)
            client.login(credentials.username, credentials.password)
        except BaseException:
            close_client(client)
            raise
    return client


def _connect(settings: Settings, timeout: float | SocketTimeout) -> IMAPClient:
    """The TCP (and, with ``tls``, TLS) connection and the greeting; nothing sent yet."""
    return IMAPClient(
        settings.imap_host,
        port=settings.imap_port,
        ssl=settings.imap_security == "tls",
        ssl_context=tls_context(settings),
        timeout=timeout,
    )


def identify(client: IMAPClient, client_ip: str | None) -> None:
    """Send RFC 2971 ID before LOGIN so Dovecot can count connections per browser IP.

    Dovecot honours ``x-originating-ip`` only from ``login_trusted_networks``.
    """
    if b"ID" not in client.capabilities():
        return
    params = dict(CLIENT_ID)
    if client_ip:
        params["x-originating-ip"] = client_ip
    client.id_(params)


def close_client(client: IMAPClient) -> None:
    """LOGOUT politely, falling back to closing the socket; never raises."""
    try:
        client.logout()
    except Exception:
        try:
            client.shutdown()
        except Exception:  # noqa: S110 - the socket is already gone
            pass


def server_reachable(settings: Settings, timeout: float = 2.0) -> bool:
    """True if the IMAP server accepts a connection and greets with OK or PREAUTH."""
    try:
        with map_imap_errors():
            client = _connect(settings, timeout)
    except Exception:
        return False
    close_client(client)
    return True
