"""Errors of signing in and of sessions."""

from __future__ import annotations

from webmail.errors import FormError, WebmailError


class AuthError(WebmailError):
    """Raised when a request cannot be tied to a valid signed-in session."""

    status_code = 401
    user_message = "Please sign in."


class SessionExpiredError(AuthError):
    """Raised when the session cookie is missing, tampered with or expired."""

    user_message = "Your session has ended. Please sign in again."


class RateLimitedError(AuthError):
    """Raised when too many sign-ins failed for this user name or client address."""

    status_code = 429

    def __init__(self, retry_after: int) -> None:
        self.retry_after = max(1, retry_after)
        minutes = (self.retry_after + 59) // 60
        unit = "minute" if minutes == 1 else "minutes"
        super().__init__(f"Too many failed sign-ins. Try again in {minutes} {unit}.")


class CSRFError(AuthError):
    """Raised when a state-changing request lacks the session's CSRF token."""

    status_code = 403
    user_message = "This form has expired. Reload the page and try again."


class UnsendableCredentialsError(FormError):
    """Raised when a user name or password holds a line break or another control character,
    which would end the IMAP command and start another (it is never sent)."""

    def __init__(self, field: str) -> None:
        super().__init__(
            field, "User names and passwords cannot contain line breaks or other control characters."
        )
