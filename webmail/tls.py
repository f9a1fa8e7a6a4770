"""The TLS context of the app's own client connections (IMAP, ManageSieve, SMTP submission, POP3)."""

from __future__ import annotations

import ssl
from functools import cache


@cache
def client_context(verify: bool, /) -> ssl.SSLContext:
    """One context per process and policy (loading the CA store costs ~1 MB); ``verify=False``
    (``WEBMAIL_IMAP_VERIFY_TLS=false``, which submission does not follow) accepts any certificate
    and host name."""
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
