"""A typed user name as the IMAP server reads it: the one name an account is known by here.

Servers fold the names they accept (Dovecot's ``auth_username_format`` lower-cases them by
default; some drop the domain or accept domain aliases), so ``Carol``, ``carol@alias.example``
and ``carol`` may be one account. Counting failed sign-ins, or keeping anything per user, by the
typed string would count one account many times; folding names the server keeps apart would
merge two accounts. ``WEBMAIL_IMAP_USERNAME_FORMAT`` and ``WEBMAIL_IMAP_DOMAIN_ALIASES`` say how
the server folds.
"""

from __future__ import annotations

from webmail.config import Settings


def canonical_username(typed: str, settings: Settings) -> str:
    """``typed`` folded as the IMAP server folds it (surrounding spaces always go)."""
    name = typed.strip()
    local, at, domain = name.rpartition("@")
    if at:
        aliased = settings.domain_aliases.get(domain.lower(), domain)
        name = f"{local}@{aliased}" if aliased else local
    fmt = settings.imap_username_format
    if fmt in ("%n", "%Ln"):
        name = name.rpartition("@")[0] or name
    if fmt in ("%Lu", "%Ln"):
        name = name.lower()
    return name
