"""The root of every error a user may see, and the whole tree of them.

Each error carries the words shown to the user (``user_message``) and the HTTP status the web
layer answers with (``status_code``); ``web/errors.py`` renders them all: a sign-in page for the
401s of sessions, else the error page, or for htmx the #flash fragment. Grouped by layer, as
the caller can act on them: fix the input (422, 409 for a limit), look elsewhere (404, 409),
sign in again (401, 403), wait and retry (429, 503), or tell the operator (502). A 500 is a bug.

WebmailError                                     500  the base: user_message, status_code
 │  bad input, answered with the field or the part to fix (never "message gone")
 ├── FormError                                   422  a form field is missing or malformed (``field``)
 │    ├── sieve.errors.RuleError                 422  a filter or vacation field a script cannot say
 │    └── auth.errors.UnsendableCredentialsError 422  a control character in a user name or password
 ├── LimitReachedError                           409  one more would pass a per-user limit
 │    └── pop3.accounts.TooManyAccountsError     409  the POP3 accounts allowed per user
 ├── mail.query.QueryError                       422  part of a search query is not understood
 ├── mail.compose.ComposeError                   422  the compose form cannot become a message
 │    └── smtp.uploads.UploadsFullError          507  the attachments' disk is full (or a file passes its size limit)
 │  signing in and sessions
 ├── auth.errors.AuthError                       401  no valid signed-in session
 │    ├── SessionExpiredError                    401  the cookie is missing, tampered with or expired
 │    ├── CSRFError                              403  a state change without the session's token
 │    ├── RateLimitedError                       429  too many failed sign-ins (``retry_after``)
 │    └── auth.background.NoBackgroundCredentialError 409  no master user and no stored password for jobs
 │  the user's own data
 ├── account.contacts.ContactNotFoundError       404  not (or no longer) the user's contact
 ├── account.identities.IdentityNotFoundError    404  not (or no longer) the user's identity
 ├── archive.jobs.RuleNotFoundError              404  not (or no longer) the user's auto-archive rule
 ├── exports.files.ExportNotFoundError           404  not (or no longer) the user's background export
 │  the mailbox over IMAP
 ├── imap.errors.IMAPError                       502  an IMAP operation failed
 │    ├── AuthFailedError                        401  wrong user name or password
 │    │    └── CredentialsRejectedError          401  a session's password stopped working
 │    ├── UnavailableError                       503  server unreachable, dropped or timed out
 │    ├── MailboxBusyError                       503  the user's connection cap is reached
 │    ├── FolderNotFoundError                    404  the server has no such folder
 │    ├── FolderMissingError                     409  an action needs a folder the account lacks
 │    ├── MessageGoneError                       404  the UID is not in the folder (moved or deleted)
 │    ├── UIDValidityChangedError                409  the UIDs were renumbered since the link was made
 │    ├── QuotaExceededError                     507  APPEND/COPY/MOVE refused: the mailbox is over quota
 │    ├── ProtocolError                          502  the server answered NO/BAD or something unexpected
 │    ├── imap.manage.FolderExistsError          409  a create or rename would land on an existing folder
 │    └── imap.manage.FolderRefusedError         409  a folder change the app does not make
 │  sending
 ├── smtp.errors.SMTPError                       502  the submission server did not take the message
 │    ├── SMTPAuthError                          502  it refused the user's credentials
 │    ├── RecipientsRefusedError                 422  it refused recipients (``refused``); nothing was sent
 │    ├── SenderRefusedError                     422  it refused the From address (MAIL FROM) for this login
 │    ├── SMTPUTF8UnsupportedError               422  an address needs SMTPUTF8, which it lacks
 │    └── SMTPUnavailableError                   503  unreachable or dropped
 │         └── SMTPOutcomeUnknownError            504  dropped or silent while taking the message: maybe sent
 ├── smtp.outbox.OutboxNotFoundError             404  not waiting in the outbox (any more)
 │  filters and vacation over ManageSieve
 ├── sieve.errors.SieveError                     502  the ManageSieve server said NO (its words shown)
 │    ├── SieveUnavailableError                  503  no ManageSieve service, dropped or timed out
 │    ├── SieveAuthError                         502  it refused the user's sign-in
 │    ├── ScriptRejectedError                    422  PUTSCRIPT/CHECKSCRIPT refused a script (its errors)
 │    ├── ScriptNotFoundError                    404  no script of that name
 │    ├── SieveQuotaError                        422  too large or too many scripts
 │    ├── ForeignScriptError                     409  the active script was written elsewhere
 │    └── sieve.service.StaleFiltersError        409  the page is older than the script
 │  external POP3 accounts
 ├── pop3.errors.POP3Error                       502  talking to an external POP3 server failed
 │    ├── POP3AuthError                          502  it refused the user name or password
 │    ├── POP3ConnectError                       502  no such host, or nothing accepts the connection
 │    ├── POP3TLSError                           502  the TLS handshake or certificate check failed
 │    ├── POP3DestinationError                   422  an internal address or a non-POP3 port (SSRF guard)
 │    └── POP3TimeoutError                       502  it did not answer in time
 ├── pop3.accounts.AccountNotFoundError          404  not (or no longer) the user's account
 └── pop3.accounts.POP3DisabledError             403  POP3 fetching is switched off on this server
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


class LimitReachedError(WebmailError):
    """Raised when adding one more would pass a per-user limit; the words say the limit."""

    status_code = 409
    user_message = "You have as many of these as this server allows."
