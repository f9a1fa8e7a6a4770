"""Fetching one external POP3 account into an IMAP folder, losing and duplicating nothing.

For each message not yet imported: RETR into a temporary file, APPEND it to the target folder
(with its own date as INTERNALDATE), record its UIDL, and only then DELE it (when copies are not
kept). Each message is committed on its own, so a crash at any point loses nothing: a message
stored but not yet recorded is found again in the target folder by its Message-ID (or a hash of
its headers) and recorded instead of stored twice; a recorded message not yet deleted is deleted
on the next run. POP3 applies DELE only at QUIT, so a crash before QUIT deletes nothing.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from webmail.mail.identity import Identity, date_of, identity_of
from webmail.pop3.client import POP3Server, POP3Session

SPOOL_BYTES = 1024 * 1024  # messages larger than this are spooled to disk while fetched


class UIDState(Protocol):
    """What was imported already (UIDL -> when first stored), and whether a run happened yet."""

    def imported(self) -> dict[str, datetime]: ...

    def record(self, uid: str) -> None: ...

    def has_run(self) -> bool: ...

    def mark_run(self) -> None: ...


class Target(Protocol):
    """The IMAP folder the messages go to."""

    def contains(self, identity: Identity) -> bool: ...

    def append(self, raw: bytes, when: datetime | None, *, seen: bool) -> None: ...


@dataclass(frozen=True)
class FetchOptions:
    leave_on_server: bool = True
    delete_after_days: int | None = None
    only_new: bool = True
    mark_read: bool = False
    max_size_bytes: int | None = None
    max_messages: int = 500
    max_bytes: int = 200 * 1024 * 1024


@dataclass
class FetchResult:
    on_server: int = 0
    imported: int = 0
    already_there: int = 0
    skipped_too_large: int = 0
    deleted: int = 0
    bytes: int = 0
    more: bool = False  # a per-run limit stopped the run; the next run continues
    baseline: bool = False  # first run with "only new": existing mail was marked as seen
    errors: list[str] = field(default_factory=list)


def fetch_account(
    server: POP3Server,
    options: FetchOptions,
    state: UIDState,
    target: Target,
    *,
    progress: Callable[[int, int], None] | None = None,
    now: datetime | None = None,
) -> FetchResult:
    """One run; raises POP3Error subclasses for connection and login failures."""
    now = now or datetime.now(UTC)
    result = FetchResult()
    session = POP3Session(server)
    try:
        sizes = session.sizes()
        uids = session.uidl()
        if uids is None:
            uids = {number: session.header_hash(number) for number in sizes}
        result.on_server = len(uids)
        imported = state.imported()
        if not state.has_run():
            state.mark_run()
            if options.only_new:
                # First run, "fetch only new mail": what is there now counts as seen.
                for uid in uids.values():
                    state.record(uid)
                result.baseline = True
                session.quit()
                return result
        pending = [(number, uid) for number, uid in sorted(uids.items()) if uid not in imported]
        fetched_bytes = 0
        for position, (number, uid) in enumerate(pending, start=1):
            if (
                result.imported + result.already_there >= options.max_messages
                or fetched_bytes >= options.max_bytes
            ):
                result.more = True
                break
            size = sizes.get(number, 0)
            if options.max_size_bytes is not None and size > options.max_size_bytes:
                result.skipped_too_large += 1
                continue
            if progress is not None:
                progress(position, len(pending))
            with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
                session.retrieve(number, spool)
                spool.seek(0)
                raw = spool.read()
            fetched_bytes += len(raw)
            result.bytes = fetched_bytes
            if target.contains(identity_of(raw)):
                result.already_there += 1
            else:
                target.append(raw, date_of(raw), seen=options.mark_read)
                result.imported += 1
            state.record(uid)
            if not options.leave_on_server:
                session.delete(number)
                result.deleted += 1
        # Recorded earlier but still on the server: a crash came between record and DELE, or
        # copies are kept and their time is up.
        for number, uid in uids.items():
            first_seen = imported.get(uid)
            if first_seen is None:
                continue
            too_old = options.delete_after_days is not None and now - first_seen >= timedelta(
                days=options.delete_after_days
            )
            if not options.leave_on_server or too_old:
                session.delete(number)
                result.deleted += 1
        session.quit()
    except BaseException:
        session.close()  # no QUIT: the server forgets our DELEs, nothing is lost
        raise
    return result
