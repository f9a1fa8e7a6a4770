"""The root of every error a user may see.

WebmailError (user_message, status_code)
 ├── imap.errors.IMAPError
 │    ├── AuthFailedError          401  wrong user name or password
 │    │    └── CredentialsRejectedError  401  a session's password stopped working
 │    ├── UnavailableError         503  server unreachable, dropped or timed out
 │    ├── MailboxBusyError         503  the user's connection cap is reached
 │    ├── FolderNotFoundError      404
 │    ├── FolderMissingError       409  an action needs a folder the account lacks (Trash, Archive, ...)
 │    ├── MessageGoneError         404  the UID is not in the folder (moved or deleted)
 │    ├── UIDValidityChangedError  409  the folder's UIDs were renumbered since the link was made
 │    └── ProtocolError            502  the server answered something unexpected
 ├── auth.errors.AuthError
 │    ├── RateLimitedError         429  too many failed sign-ins
 │    ├── SessionExpiredError      401
 │    ├── CSRFError                403
 │    └── NoBackgroundCredentialError 409  no master user and no stored password for jobs
 ├── account.contacts.ContactNotFoundError     404  not the user's contact, or the address book is full
 ├── account.identities.IdentityNotFoundError  404  not the user's identity, or there are too many
 ├── FormError                  422  a form field is missing or malformed (``field`` names it)
 ├── smtp.errors.SMTPError          the message could not be submitted
 ├── pop3.errors.POP3Error          502  an external POP3 account failed (auth, connect, TLS, timeout)
 ├── sieve.errors.SieveError        502  the ManageSieve server said NO (its words shown)
 │    ├── SieveUnavailableError    503  no ManageSieve service, dropped, timed out, bad certificate
 │    ├── SieveAuthError           502  it refused the user's sign-in
 │    ├── ScriptRejectedError      422  PUTSCRIPT/CHECKSCRIPT refused a script (the server's errors)
 │    ├── ScriptNotFoundError      404
 │    ├── SieveQuotaError          422  too large or too many scripts
 │    ├── ForeignScriptError       409  the active script was written elsewhere; replaced only on request
 │    └── service.StaleFiltersError 409  the page is older than the script
 └── sieve.errors.RuleError         422  a filter/vacation field a script cannot say as asked (names it)
"""

from __future__ import annotations


class WebmailError(Exception):
    """Base class: carries the words shown to the user and the HTTP status."""

    status_code: int = 500
    user_message: str = "Something went wrong."

    def __init__(self, user_message: str | None = None, *, status_code: int | None = None) -> None:
        if user_message is not None:
            self.user_message = user_message
        if status_code is not None:
            self.status_code = status_code
        super().__init__(self.user_message)


class FormError(WebmailError):
    """Raised when a submitted form field is missing or malformed; ``field`` names it."""

    status_code = 422

    def __init__(self, field: str, user_message: str) -> None:
        self.field = field
        super().__init__(user_message)
