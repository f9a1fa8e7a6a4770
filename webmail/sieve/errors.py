"""ManageSieve and Sieve failures, by cause, with the server's own words where it gave some."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager

from webmail.errors import FormError, WebmailError


class SieveError(WebmailError):
    """Raised when the ManageSieve server answers NO or BYE to a command; carries its text."""

    status_code = 502
    user_message = "The filter server reported an error."


class SieveUnavailableError(SieveError):
    """Raised when no ManageSieve server can be reached, it drops the connection or times out."""

    status_code = 503
    user_message = "Filters are not available: the mail server offers no ManageSieve service right now."


class SieveAuthError(SieveError):
    """Raised when the ManageSieve server refuses the user's name and password, or offers no
    mechanism we can use (PLAIN, and over an unencrypted link only to this machine)."""

    user_message = "The filter server refused your sign-in."


class ScriptRejectedError(SieveError):
    """Raised when PUTSCRIPT or CHECKSCRIPT refuses a script; ``user_message`` is the server's text."""

    status_code = 422


class ScriptNotFoundError(SieveError):
    """Raised when a script named in a command does not exist (response code NONEXISTENT)."""

    status_code = 404
    user_message = "This filter script does not exist (any more)."


class SieveQuotaError(SieveError):
    """Raised when the server refuses a script for its size or the number of scripts (QUOTA)."""

    status_code = 422


class ForeignScriptError(SieveError):
    """Raised when saving rules would replace an active script written by another program."""

    status_code = 409
    user_message = (
        "Your active filters were written by another program. They are shown as they are; "
        "replace them only if you mean to."
    )


class RuleError(FormError):
    """Raised when a rule, vacation or forwarding form holds something a Sieve script cannot
    say as asked (an unknown field, a line break in a value, a bad address); names the field."""


@contextmanager
def map_sieve_errors() -> Iterator[None]:
    """Re-raise socket and TLS errors of a ManageSieve connection as SieveUnavailableError."""
    try:
        yield
    except SieveError:
        raise
    except socket.gaierror as exc:
        raise SieveUnavailableError(
            "Filters are not available: the filter server's name does not resolve."
        ) from exc
    except ConnectionRefusedError as exc:
        raise SieveUnavailableError() from exc
    except ssl.SSLCertVerificationError as exc:
        raise SieveUnavailableError(
            f"Filters are not available: the filter server's certificate is not valid ({exc.verify_message})."
        ) from exc
    except ssl.SSLError as exc:
        raise SieveUnavailableError(
            f"Filters are not available: the secure connection failed ({exc.reason})."
        ) from exc
    except TimeoutError as exc:
        raise SieveUnavailableError(
            "Filters are not available: the filter server did not answer in time."
        ) from exc
    except OSError as exc:
        raise SieveUnavailableError(
            f"Filters are not available: the connection failed ({exc.strerror or exc})."
        ) from exc
