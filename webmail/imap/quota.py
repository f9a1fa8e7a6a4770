"""The mailbox's quota (RFC 9208, GETQUOTAROOT): how much of its storage and message count is used."""

from __future__ import annotations

from dataclasses import dataclass

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

WARNING_PERCENT = 80
CRITICAL_PERCENT = 95


@dataclass(frozen=True)
class Quota:
    """The INBOX quota root's STORAGE (bytes) and MESSAGE resources; None where the server sets
    no limit for one."""

    used_bytes: int | None = None
    limit_bytes: int | None = None
    messages: int | None = None
    message_limit: int | None = None

    @property
    def percent(self) -> int:
        """The fuller of the two resources, in whole per cent (a limit of 0 counts as full)."""
        shares = [
            used * 100 // limit if limit else 100
            for used, limit in ((self.used_bytes, self.limit_bytes), (self.messages, self.message_limit))
            if used is not None and limit is not None
        ]
        return min(100, max(shares, default=0))

    @property
    def level(self) -> str:
        """``ok``, ``warning`` (amber, from 80 %) or ``critical`` (red, from 95 %)."""
        if self.percent >= CRITICAL_PERCENT:
            return "critical"
        return "warning" if self.percent >= WARNING_PERCENT else "ok"

    @property
    def by_count(self) -> bool:
        """Whether the message count, not the storage, is the fuller resource."""
        if self.messages is None or not self.message_limit:
            return False
        if self.used_bytes is None or not self.limit_bytes:
            return True
        return self.messages * self.limit_bytes > self.used_bytes * self.message_limit


def get_quota(client: IMAPClient) -> Quota | None:
    """The quota of the INBOX's root; None when the server has no QUOTA or sets no limit.

    Quota is something to show, never a reason for a page to fail: a refused GETQUOTAROOT
    counts as none (a lost connection still raises, for the pool to reconnect)."""
    if b"QUOTA" not in client.capabilities():
        return None
    try:
        _, quotas = client.get_quota_root("INBOX")
    except IMAPClientAbortError:
        raise
    except IMAPClientError:
        return None
    values: dict[str, tuple[int, int]] = {}
    for quota in quotas:
        values.setdefault(quota.resource.upper(), (int(quota.usage), int(quota.limit)))
    storage, count = values.get("STORAGE"), values.get("MESSAGE")
    if storage is None and count is None:
        return None
    return Quota(
        used_bytes=storage[0] * 1024 if storage else None,  # STORAGE is in units of 1024 octets
        limit_bytes=storage[1] * 1024 if storage else None,
        messages=count[0] if count else None,
        message_limit=count[1] if count else None,
    )
