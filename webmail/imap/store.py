"""MailStore: the async, typed facade the web layer uses for one user's mailbox."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import islice
from typing import Any

import anyio.to_thread

from webmail.imap import drafts, manage, messages, metrics, organize, storage, transfer
from webmail.imap.cache import PageCache
from webmail.imap.errors import (
    FolderNotFoundError,
    MessageGoneError,
    QuotaExceededError,
    UIDValidityChangedError,
)
from webmail.imap.folders import list_folders, namespaces
from webmail.imap.messages import FetchedMessage
from webmail.imap.organize import MoveResult
from webmail.imap.pool import IMAPConnection, IMAPPool
from webmail.imap.quota import Quota, get_quota
from webmail.imap.storage import StorageOverview
from webmail.imap.transfer import ExportMeta, ImportReport
from webmail.imap.types import (
    Credentials,
    Folder,
    MessagePage,
    MessageSummary,
    Namespaces,
    SpecialChoices,
    find_special,
)
from webmail.imap.uidset import UIDSet
from webmail.mail.mbox import ImportEntry
from webmail.mail.render import MessageView
from webmail.mail.structure import BodyPart
from webmail.mail.transfer import StreamDecoder

STREAM_CHUNK = 1024 * 1024
IMPORT_BATCH = 50  # messages appended per connection checkout (others get the connection in between)


@dataclass(frozen=True)
class ExportPiece:
    """A message being exported, in one piece or (for a large one) several: ``first`` carries
    the start of the message, ``last`` its end."""

    meta: ExportMeta
    data: bytes
    first: bool
    last: bool


# A message opened is rendered in its IMAP hop's thread up to this size: sanitising a bigger one
# would keep the connection from the user's next request (and from a hand-over) too long.
RENDER_IN_HOP_BYTES = 64 * 1024


@dataclass(frozen=True)
class OpenedMessage:
    """What ``MailStore.open_message`` found: the folders (counts after marking), the message's
    summary as it was before (empty if it is gone), the whole message if asked for, whether it
    was marked read now, and the message as ``render`` made it."""

    folders: list[Folder]
    summaries: list[MessageSummary]
    fetched: messages.FetchedMessage | None
    marked_seen: bool
    view: MessageView | None = None


@dataclass
class MailStore:
    pool: IMAPPool
    credentials: Credentials
    cache: PageCache | None = None
    special_choices: SpecialChoices = field(default_factory=dict)  # chosen by hand: use -> folder

    async def _cached(
        self, folder: Folder, variant: str, fetch: Callable[[], Awaitable[MessagePage]]
    ) -> MessagePage:
        """The page from the shared cache when the folder is unchanged.

        With CONDSTORE, the same HIGHESTMODSEQ means exactly the same messages and flags. Without
        it, or when only the HIGHESTMODSEQ moved, the same UIDNEXT and message count mean the same
        messages (nothing arrived, so no expunge can hide behind an arrival): the page kept under
        those is brought up to date with one FETCH of its flags instead of fetched again (opening
        a message marks it read, which changes the folder's HIGHESTMODSEQ and nothing else).
        """
        if self.cache is None or folder.uidvalidity is None:
            return await fetch()
        user = self.credentials.username
        counted = (
            f"{folder.uidnext}+{folder.messages}"
            if folder.uidnext is not None and folder.messages is not None
            else None
        )
        state: int | str | None = folder.highestmodseq if folder.highestmodseq is not None else counted
        if state is None:
            return await fetch()
        key = self.cache.key(user, folder.name, folder.uidvalidity, state, variant)
        same_messages = (
            self.cache.key(user, folder.name, folder.uidvalidity, counted, variant)
            if counted is not None
            else None
        )
        cached = await self.cache.get(key)
        if cached is None and same_messages is not None and same_messages != key:
            earlier = await self.cache.get(same_messages)
            if earlier is not None:
                current = await self._with_current_flags(folder, earlier)
                if current is not None:
                    cached = replace(
                        current, folder=replace(current.folder, highestmodseq=folder.highestmodseq)
                    )
                    await self.cache.put(user, [key, same_messages], cached)
        elif cached is not None and same_messages == key:
            current = await self._with_current_flags(folder, cached)
            if current is not None and current != cached:
                await self.cache.put(user, [key], current)
            cached = current
        if cached is not None:
            metrics.CACHE_HITS.labels(kind="page").inc()
            return cached
        metrics.CACHE_MISSES.labels(kind="page").inc()
        page = await fetch()
        # Store only if nothing changed while we fetched: the page belongs to this state.
        if page.folder.uidvalidity == folder.uidvalidity and page.folder.exists == folder.messages:
            await self.cache.put(user, [key] if same_messages in (None, key) else [key, same_messages], page)
        return page

    async def _with_current_flags(self, folder: Folder, page: MessagePage) -> MessagePage | None:
        """``page`` with its messages' flags as they are now; None if one of them is gone."""
        uids = [m.uid for m in page.messages]

        def work(conn: IMAPConnection) -> dict[int, frozenset[str]]:
            return messages.flags_of(conn, folder.name, uids)

        flags = await self.pool.run(self.credentials, work, "flags") if uids else {}
        if set(flags) != set(uids):
            return None
        return page.with_flags(flags)

    async def list_folders(self, *, select: str | None = None) -> list[Folder]:
        """All folders with counts; ``select`` names the folder about to be shown.

        Selecting it first (SELECT once per connection, NOOP afterwards) keeps STATUS of a big
        folder cheap, and Dovecot answers STATUS of the selected folder from this session's view,
        which catches up with changes made elsewhere only through that NOOP.
        """

        def work(conn: IMAPConnection) -> list[Folder]:
            target = select or (conn.selected.name if conn.selected is not None else None)
            if target is not None:
                try:
                    conn.sync(target)
                except FolderNotFoundError:
                    pass  # the caller reports the missing folder
            return list_folders(conn.client, chosen=self.special_choices)

        return await self.pool.run(self.credentials, work, "list_folders")

    async def total_size(self, folder: str, uids: Sequence[int]) -> int:
        """The sum of RFC822.SIZE of ``uids`` (a rule's preview), a batch per connection checkout."""
        total = 0
        for start in range(0, len(uids), transfer.META_BATCH):
            batch = list(uids[start : start + transfer.META_BATCH])

            def work(conn: IMAPConnection, wanted: list[int] = batch) -> int:
                return sum(meta.size for meta in transfer.export_meta(conn, folder, wanted))

            total += await self.pool.run(self.credentials, work, "sizes")
        return total

    async def quota(self) -> Quota | None:
        """The mailbox's quota (None without QUOTA or without a limit)."""
        return await self.pool.run(self.credentials, lambda conn: get_quota(conn.client), "quota")

    async def storage_overview(
        self, folders: Sequence[Folder], counted: Mapping[str, storage.CountedSize]
    ) -> StorageOverview:
        """What takes the space: folders by size, the largest messages and attachments, the bins.

        ``counted`` are the summed sizes known for folders without STATUS=SIZE (or without SORT);
        those missing come back in ``pending``. One folder per connection checkout, so other
        requests get the connection in between."""
        sizes: list[storage.FolderSize] = []
        largest: list[storage.LargeMessage] = []
        pending: list[Folder] = []
        for folder in (f for f in folders if f.selectable):

            def work(
                conn: IMAPConnection, f: Folder = folder
            ) -> tuple[storage.FolderSize | None, list[storage.LargeMessage] | None]:
                top = storage.largest_in(conn, f, counted, storage.LARGEST_PER_FOLDER)
                return storage.folder_size(f, counted), None if top is None else storage.describe(
                    conn, f, top
                )

            size, top = await self.pool.run(self.credentials, work, "storage")
            if size is not None:
                sizes.append(size)
            largest += top or []
            if size is None or top is None:
                pending.append(folder)
        sizes.sort(key=lambda item: -item.size)
        largest.sort(key=lambda item: -item.size)
        by_attachments = sorted((m for m in largest if m.attachment_bytes), key=lambda m: -m.attachment_bytes)
        bins = [item for item in sizes if item.folder.special_use in ("\\Trash", "\\Junk")]
        return storage.StorageOverview(
            sizes,
            largest[: storage.LARGEST_SHOWN],
            by_attachments[: storage.ATTACHMENTS_SHOWN],
            bins,
            pending,
        )

    async def count_size(self, folder: str) -> storage.CountedSize:
        """The summed RFC822.SIZE of ``folder`` and its largest UIDs (a FETCH of every size)."""
        return await self.pool.run(self.credentials, lambda conn: storage.count_size(conn, folder), "storage")

    async def folder_overview(self) -> list[Folder]:
        """All folders with counts and sizes (for the folder settings page)."""

        def work(conn: IMAPConnection) -> list[Folder]:
            return list_folders(conn.client, with_size=True, chosen=self.special_choices)

        return await self.pool.run(self.credentials, work, "list_folders")

    async def namespaces(self) -> Namespaces:
        """The account's namespaces (RFC 2342), e.g. to show folder names without ``INBOX.``."""
        return await self.pool.run(self.credentials, lambda conn: namespaces(conn.client), "namespace")

    async def special_folder(self, use: str, folders: Sequence[Folder] = ()) -> Folder:
        """The folder for ``use`` (``"\\Sent"``, ...): found in ``folders`` if listed there, else
        looked up, and created if the account has none (FolderMissingError if that fails)."""
        found = find_special(folders, use)
        if found is not None:
            return found

        def work(conn: IMAPConnection) -> Folder:
            return manage.special_folder(conn, use, self.special_choices)

        return await self.pool.run(self.credentials, work, "manage")

    async def create_folder(self, parent: str, name: str) -> str:
        return await self.pool.run(
            self.credentials, lambda conn: manage.create_folder(conn, parent, name), "manage"
        )

    async def rename_folder(self, folder: str, parent: str, name: str) -> str:
        def work(conn: IMAPConnection) -> str:
            return manage.rename_folder(conn, folder, parent, name, self.special_choices)

        return await self.pool.run(self.credentials, work, "manage")

    async def delete_folder(self, folder: str) -> None:
        def work(conn: IMAPConnection) -> None:
            manage.delete_folder(conn, folder, self.special_choices)

        await self.pool.run(self.credentials, work, "manage")

    async def set_subscribed(self, folder: str, subscribed: bool) -> None:
        await self.pool.run(
            self.credentials, lambda conn: manage.set_subscribed(conn.client, folder, subscribed), "manage"
        )

    async def empty_folder(self, folder: str) -> int:
        return await self.pool.run(self.credentials, lambda conn: manage.empty_folder(conn, folder), "manage")

    async def page(
        self, folder: Folder, *, page: int, page_size: int, sort: str, reverse: bool
    ) -> MessagePage:
        def work(conn: IMAPConnection) -> MessagePage:
            return messages.page_messages(
                conn, folder.name, page=page, page_size=page_size, sort=sort, reverse=reverse
            )

        async def fetch() -> MessagePage:
            return await self.pool.run(self.credentials, work, "page")

        variant = f"list:{sort}:{int(reverse)}:{page}:{page_size}"
        return await self._cached(folder, variant, fetch)

    async def threads(
        self, folder: Folder, *, page: int, page_size: int, criteria: list[Any] | None = None, key: str = ""
    ) -> MessagePage:
        def work(conn: IMAPConnection) -> MessagePage:
            return messages.thread_page(conn, folder.name, page=page, page_size=page_size, criteria=criteria)

        async def fetch() -> MessagePage:
            return await self.pool.run(self.credentials, work, "threads")

        return await self._cached(folder, f"threads:{page}:{page_size}:{key}", fetch)

    async def search(
        self,
        folder: Folder,
        criteria: list[Any],
        key: str,
        *,
        page: int,
        page_size: int,
        sort: str,
        reverse: bool,
    ) -> MessagePage:
        """A page of search hits. The hits' UIDs are cached in Redis under the folder's state, so
        paging runs no second SEARCH, and any change to the folder (new HIGHESTMODSEQ) runs it again."""
        cache_key = None
        uids: list[int] | None = None
        if self.cache is not None and folder.highestmodseq is not None and folder.uidvalidity is not None:
            cache_key = self.cache.key(
                self.credentials.username, folder.name, folder.uidvalidity, folder.highestmodseq,
                f"search:{sort}:{int(reverse)}:{key}",
            )  # fmt: skip
            uids = await self.cache.get_uids(cache_key)
            (metrics.CACHE_HITS if uids is not None else metrics.CACHE_MISSES).labels(kind="search").inc()

        def work(conn: IMAPConnection) -> tuple[MessagePage, list[int]]:
            return messages.search_page(
                conn,
                folder.name,
                criteria,
                sort=sort,
                reverse=reverse,
                page=page,
                page_size=page_size,
                uids=uids,
            )

        result, found = await self.pool.run(self.credentials, work, "search")
        if cache_key is not None and uids is None and self.cache is not None:
            await self.cache.put_uids(self.credentials.username, cache_key, found)
        return result

    async def count_recent_matches(self, folder: str, criteria: list[Any], *, last: int) -> tuple[int, int]:
        """(matching, examined) among the newest ``last`` messages of ``folder``."""

        def work(conn: IMAPConnection) -> tuple[int, int]:
            return messages.count_recent(conn, folder, criteria, last)

        return await self.pool.run(self.credentials, work, "search")

    async def matching_uids(self, folder: str, criteria: list[Any]) -> list[int]:
        """Every UID in ``folder`` that matches the search ``criteria`` (what "select all
        results" acts on)."""

        def work(conn: IMAPConnection) -> list[int]:
            conn.sync(folder)
            return messages.search_uids(conn.client, criteria, "arrival", False)

        return await self.pool.run(self.credentials, work, "search")

    async def conversation(self, folder: str, uid: int) -> list[MessageSummary]:
        """The messages of ``uid``'s conversation in ``folder``, oldest first."""

        def work(conn: IMAPConnection) -> list[MessageSummary]:
            return messages.conversation_of(conn, folder, uid)

        return await self.pool.run(self.credentials, work, "threads")

    async def message(
        self, folder: str, uid: int, *, prefer_html: bool = True, uidvalidity: int | None = None
    ) -> FetchedMessage:
        def work(conn: IMAPConnection) -> FetchedMessage:
            return messages.fetch_message(
                conn,
                folder,
                uid,
                prefer_html=prefer_html,
                uidvalidity=uidvalidity,
                limits=self.pool.settings.limits,
            )

        return await self.pool.run(self.credentials, work, "message")

    async def neighbour(
        self, folder: str, uid: int, *, sort: str, reverse: bool, forward: bool
    ) -> int | None:
        def work(conn: IMAPConnection) -> int | None:
            return messages.neighbour(conn, folder, uid, sort=sort, reverse=reverse, forward=forward)

        return await self.pool.run(self.credentials, work, "neighbour")

    async def set_flag(
        self, folder: str, uids: Sequence[int], flag: str, value: bool
    ) -> dict[int, frozenset[str]]:
        def work(conn: IMAPConnection) -> dict[int, frozenset[str]]:
            return messages.set_flag(conn, folder, uids, flag, value)

        return await self.pool.run(self.credentials, work, "set_flag")

    async def open_message(
        self, folder: str, uid: int, *, uidvalidity: int, fetch: bool, prefer_html: bool, mark_seen: bool,
        known: MessageSummary | None = None, render: Callable[[FetchedMessage], MessageView] | None = None,
    ) -> OpenedMessage:  # fmt: skip
        """What a click on a list row needs from IMAP, in one hop: the message's summary (with
        ``fetch``, the whole message as ``message()`` gives it; given a ``known`` summary of it,
        only its current flags), marked read if ``mark_seen`` and it was unread, then every
        folder with counts that include that change. A small fetched message is passed to
        ``render`` in the same worker thread (a big one's rendering would hold the connection).

        Nothing is marked when the folder was renumbered (UIDVALIDITY), or when ``folder/uid``
        is a folder itself (a folder such as "Archive/2024" whose link looks like a message's).
        A message that could not be fetched is left to ``message()`` to report.
        """

        def work(conn: IMAPConnection) -> OpenedMessage:
            fetched: messages.FetchedMessage | None = None
            found: list[MessageSummary] = []
            try:
                if fetch:
                    fetched = messages.fetch_message(
                        conn, folder, uid, prefer_html=prefer_html, uidvalidity=uidvalidity,
                        limits=self.pool.settings.limits,
                    )  # fmt: skip
                    found = [fetched.summary]
                elif known is not None:
                    # Renumbered meanwhile (UIDVALIDITY): nothing is marked, and the caller
                    # compares the listed folder's UIDVALIDITY with the link's.
                    flags = messages.flags_of(conn, folder, [uid])
                    found = [replace(known, flags=flags[uid])] if uid in flags else []
                else:
                    found = messages.summaries(conn, folder, [uid])
            except (FolderNotFoundError, MessageGoneError, UIDValidityChangedError):
                fetched, found = None, []
            marked = False
            selected = conn.selected
            if (
                mark_seen
                and found
                and not found[0].seen
                and selected is not None
                and selected.uidvalidity == uidvalidity
                and not conn.client.list_folders("", f"{folder}/{uid}")
            ):
                messages.mark_seen(conn, folder, uid)
                marked = True
            return OpenedMessage(list_folders(conn.client), found, fetched, marked)

        def rendered(opened: OpenedMessage) -> OpenedMessage:
            fetched = opened.fetched
            if render is None or fetched is None:
                return opened
            if len(fetched.header) + sum(map(len, fetched.contents.values())) > RENDER_IN_HOP_BYTES:
                return opened
            return replace(opened, view=render(fetched))

        return await self.pool.run(self.credentials, work, "message", then=rendered)

    async def set_flag_and_list(
        self, folder: str, uids: Sequence[int], flag: str, value: bool
    ) -> list[Folder]:
        """``set_flag``, then ``list_folders(select=folder)`` on the same connection: the counts
        already include the change (opening a message marks it read and shows the new counts)."""

        def work(conn: IMAPConnection) -> list[Folder]:
            messages.set_flag(conn, folder, uids, flag, value)
            conn.sync(folder)
            return list_folders(conn.client)

        return await self.pool.run(self.credentials, work, "set_flag")

    async def summaries(self, folder: str, uids: Sequence[int]) -> list[MessageSummary]:
        def work(conn: IMAPConnection) -> list[MessageSummary]:
            return messages.summaries(conn, folder, uids)

        return await self.pool.run(self.credentials, work, "summaries")

    async def move(
        self, folder: str, uids: Sequence[int], target: str, *, create: bool = False
    ) -> MoveResult:
        """Move ``uids`` to ``target`` (created and subscribed first if ``create`` and missing)."""

        def work(conn: IMAPConnection) -> MoveResult:
            if create:
                organize.ensure_folder(conn, target)
            return organize.move_messages(conn, folder, uids, target)

        return await self.pool.run(self.credentials, work, "move")

    async def existing(self, folder: str, uids: UIDSet, limit: int) -> list[int]:
        """The messages of ``uids`` that are in ``folder`` (ValueError beyond ``limit``)."""
        return await self.pool.run(
            self.credentials, lambda conn: organize.existing_uids(conn, folder, uids, limit), "search"
        )

    async def arrival_dates(self, folder: str, uids: Sequence[int]) -> dict[int, datetime]:
        """Each message's INTERNALDATE (what archiving by year or month goes by)."""

        def work(conn: IMAPConnection) -> dict[int, datetime]:
            return organize.arrival_dates(conn, folder, uids)

        return await self.pool.run(self.credentials, work, "fetch_dates")

    async def save_draft(self, folder: str, raw: bytes, draft_id: str) -> None:
        await self.pool.run(
            self.credentials, lambda conn: drafts.save_draft(conn, folder, raw, draft_id), "draft"
        )

    async def find_draft(self, folder: str, draft_id: str) -> int | None:
        return await self.pool.run(
            self.credentials, lambda conn: drafts.find_draft(conn, folder, draft_id), "draft"
        )

    async def discard_drafts(self, folder: str, draft_id: str) -> int:
        return await self.pool.run(
            self.credentials, lambda conn: drafts.discard_drafts(conn, folder, draft_id), "draft"
        )

    async def copy(self, folder: str, uids: Sequence[int], target: str) -> int:
        return await self.pool.run(
            self.credentials, lambda conn: organize.copy_messages(conn, folder, uids, target), "copy"
        )

    async def expunge(self, folder: str, uids: Sequence[int]) -> int:
        def work(conn: IMAPConnection) -> int:
            return organize.expunge_messages(conn, folder, uids)

        return await self.pool.run(self.credentials, work, "expunge")

    async def all_uids(self, folder: str) -> list[int]:
        def work(conn: IMAPConnection) -> list[int]:
            return organize.all_uids(conn, folder)

        return await self.pool.run(self.credentials, work, "all_uids")

    async def append(self, folder: str, raw: bytes, flags: Sequence[str] = ()) -> None:
        def work(conn: IMAPConnection) -> None:
            organize.append_message(conn, folder, raw, flags)

        await self.pool.run(self.credentials, work, "append")

    async def add_keyword(self, folder: str, uids: Sequence[int], keyword: str) -> None:
        def work(conn: IMAPConnection) -> None:
            organize.add_keyword(conn, folder, uids, keyword)

        await self.pool.run(self.credentials, work, "keyword")

    async def part_info(self, folder: str, uid: int, section: str) -> BodyPart:
        def work(conn: IMAPConnection) -> BodyPart:
            return messages.part_info(conn, folder, uid, section)

        return await self.pool.run(self.credentials, work, "part_info")

    async def message_size(self, folder: str, uid: int) -> int:
        def work(conn: IMAPConnection) -> int:
            return messages.message_size(conn, folder, uid)

        return await self.pool.run(self.credentials, work, "message_size")

    async def stream(
        self, folder: str, uid: int, section: str, encoding: str | None = None
    ) -> AsyncIterator[bytes]:
        """The bytes of a part (decoded from ``encoding``) or, with section "", the raw message.

        Fetched in chunks with partial BODY.PEEK, so a 30 MB attachment never sits in memory.
        """
        decoder = StreamDecoder(encoding)
        offset = 0
        while True:

            def work(conn: IMAPConnection, at: int = offset) -> bytes | None:
                return messages.fetch_part_chunk(conn, folder, uid, section, at, STREAM_CHUNK)

            chunk = await self.pool.run(self.credentials, work, "stream")
            if chunk is None:
                if offset == 0:
                    raise MessageGoneError()
                break
            decoded = decoder.feed(chunk)
            if decoded:
                yield decoded
            offset += len(chunk)
            if len(chunk) < STREAM_CHUNK:
                break
        tail = decoder.finish()
        if tail:
            yield tail

    async def export_uids(self, folder: str, criteria: list[Any] | None = None) -> list[int]:
        """What an export of ``folder`` (or of the hits of ``criteria``) takes, oldest first;
        FolderNotFoundError before anything is streamed."""
        return await self.pool.run(
            self.credentials, lambda conn: transfer.export_uids(conn, folder, criteria), "export"
        )

    async def export_plan(
        self, folder: str, criteria: list[Any] | None, selection: UIDSet | None, limit: int
    ) -> tuple[int, list[int]]:
        """A background export's fixed list: the folder's UIDVALIDITY and the UIDs of the
        selection (those that exist), of the search hits, or of the whole folder, oldest first."""

        def work(conn: IMAPConnection) -> tuple[int, list[int]]:
            state = conn.sync(folder)
            if selection is not None:
                return state.uidvalidity, organize.existing_uids(conn, folder, selection, limit)
            return state.uidvalidity, transfer.export_uids(conn, folder, criteria)

        return await self.pool.run(self.credentials, work, "export")

    async def uidvalidity(self, folder: str) -> int:
        """The folder's UIDVALIDITY (its UIDs name the same messages while it stays)."""
        return await self.pool.run(self.credentials, lambda conn: conn.sync(folder).uidvalidity, "export")

    async def export(self, folder: str, uids: Sequence[int]) -> AsyncGenerator[ExportPiece, None]:
        """The messages ``uids`` of ``folder`` in UID order, a few megabytes fetched at a time;
        messages gone meanwhile are left out."""
        uids = sorted(set(uids))
        for start in range(0, len(uids), transfer.META_BATCH):
            batch = list(uids[start : start + transfer.META_BATCH])

            def meta_work(conn: IMAPConnection, wanted: list[int] = batch) -> list[ExportMeta]:
                return transfer.export_meta(conn, folder, wanted)

            metas = await self.pool.run(self.credentials, meta_work, "export")
            group: list[ExportMeta] = []
            for meta in metas:
                if meta.size > transfer.BODY_BATCH_BYTES:
                    async for piece in self._export_group(folder, group):
                        yield piece
                    group = []
                    async for piece in self._export_large(folder, meta):
                        yield piece
                    continue
                group.append(meta)
                if sum(m.size for m in group) >= transfer.BODY_BATCH_BYTES:
                    async for piece in self._export_group(folder, group):
                        yield piece
                    group = []
            async for piece in self._export_group(folder, group):
                yield piece

    async def _export_group(self, folder: str, group: list[ExportMeta]) -> AsyncIterator[ExportPiece]:
        if not group:
            return
        wanted = [meta.uid for meta in group]
        bodies = await self.pool.run(
            self.credentials, lambda conn: transfer.export_bodies(conn, folder, wanted), "export"
        )
        for meta in group:
            body = bodies.pop(meta.uid, None)
            if body is not None:
                yield ExportPiece(meta, body, True, True)

    async def _export_large(self, folder: str, meta: ExportMeta) -> AsyncIterator[ExportPiece]:
        first = True
        pending: bytes | None = None
        try:
            async for chunk in self.stream(folder, meta.uid, ""):
                if pending is not None:
                    yield ExportPiece(meta, pending, first, False)
                    first = False
                pending = chunk
        except MessageGoneError:
            if first:
                return  # expunged before its first byte: left out like the others
            raise
        if pending is not None:
            yield ExportPiece(meta, pending, first, True)

    async def import_messages(
        self,
        folder: str,
        entries: Iterator[ImportEntry],
        progress: Callable[[ImportReport], Awaitable[None]] | None = None,
    ) -> ImportReport:
        """Append what ``entries`` yields (read in a thread: it reads the upload) to ``folder``,
        calling ``progress`` with the report so far after each batch.

        Stops at a full mailbox, with the reason and the count left over in the report."""
        report = ImportReport()
        known = await self.pool.run(
            self.credentials, lambda conn: transfer.folder_message_ids(conn, folder), "import"
        )

        def take() -> deque[ImportEntry]:
            return deque(islice(entries, IMPORT_BATCH))

        while True:
            batch = await anyio.to_thread.run_sync(take)
            if not batch:
                break
            try:

                def work(conn: IMAPConnection, queued: deque[ImportEntry] = batch) -> None:
                    transfer.import_entries(conn, folder, queued, known, report)

                await self.pool.run(self.credentials, work, "import")
                if progress is not None:
                    await progress(report)
            except QuotaExceededError:
                report.stopped = "mailbox full"
                rest = await anyio.to_thread.run_sync(lambda: sum(1 for _ in entries))
                report.remaining = len(batch) + rest
                break
        return report
