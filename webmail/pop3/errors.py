"""POP3 failures, named after their cause, with the words shown to the user."""

from __future__ import annotations

import poplib
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager

from webmail.errors import WebmailError


class POP3Error(WebmailError):
    """Raised when talking to an external POP3 server fails."""

    status_code = 502
    user_message = "The POP3 server reported an error."


class POP3AuthError(POP3Error):
    """Raised when the server refuses the user name or password."""

    user_message = "The server said the user name or password is wrong."


class POP3ConnectError(POP3Error):
    """Raised when the host name does not resolve or nothing accepts the connection."""

    user_message = "Cannot connect to the POP3 server."


class POP3DestinationError(POP3Error):
    """Raised when the host or port is not one the webmail may connect to (an internal address,
    a port other than POP3's): see ``webmail.pop3.destination``."""

    status_code = 422
    user_message = (
        "This server cannot be reached from here: only public POP3 servers can be used "
        "(ask the operator to allow a server on the internal network)."
    )


class POP3TLSError(POP3Error):
    """Raised when the TLS handshake or the certificate check fails."""

    user_message = "The secure connection to the POP3 server failed."


class POP3TimeoutError(POP3Error):
    """Raised when the server does not answer in time."""

    user_message = "The POP3 server did not answer in time."


@contextmanager
def map_pop3_errors() -> Iterator[None]:
    """Re-raise poplib, socket and ssl errors as the most specific POP3Error."""
    try:
        yield
    except POP3Error:
        raise
    except socket.gaierror as exc:
        raise POP3ConnectError("The POP3 server's host name does not resolve (DNS).") from exc
    except ConnectionRefusedError as exc:
        raise POP3ConnectError("The POP3 server refused the connection.") from exc
    except ssl.SSLCertVerificationError as exc:
        raise POP3TLSError(f"The POP3 server's certificate is not valid: {exc.verify_message}.") from exc
    except ssl.SSLError as exc:
        raise POP3TLSError(f"The secure connection to the POP3 server failed: {exc.reason}.") from exc
    except TimeoutError as exc:
        raise POP3TimeoutError() from exc
    except poplib.error_proto as exc:
        raise POP3Error(_reply_words(exc)) from exc
    except OSError as exc:
        raise POP3ConnectError(f"The connection to the POP3 server failed: {exc.strerror or exc}.") from exc


def _reply_words(exc: poplib.error_proto) -> str:
    """The server's words, only if it answered as POP3 does (``-ERR ...``): whatever another kind
    of service sent (an SSH or SMTP banner) is never shown, nor stored in the run history."""
    text = exc.args[0] if exc.args else b""
    raw = text if isinstance(text, bytes) else str(text).encode()
    if not raw.startswith(b"-ERR"):
        return "The server did not answer as a POP3 server does: check the server name and port."
    words = "".join(c for c in raw.decode("utf-8", "replace") if c.isprintable())
    return f"The POP3 server answered: {words[:200]}"
