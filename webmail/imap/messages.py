"""Listing and reading messages: only what the page shows is fetched.

The list asks for ENVELOPE, FLAGS, INTERNALDATE, RFC822.SIZE and BODYSTRUCTURE of the visible
messages only. Sorting by arrival uses sequence ranges (no per-message data for the rest of the
folder); other orders use SORT (RFC 5256) when the server has it. imapclient 4.x cannot send
sequence sets such as ``1:50`` (mjs/imapclient#666), so ranges go through ``fetch_range``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from imapclient import IMAPClient
from imapclient.imapclient import format_criteria_date

from webmail.imap.errors import MessageGoneError, ProtocolError, UIDValidityChangedError
from webmail.imap.pool import IMAPConnection
from webmail.imap.raw import (
    fetch_sequence_set,
    parse_fetch,
    quoted_string,
    uid_fetch,
    uid_flags,
    uid_search,
    uid_sort,
    uid_thread,
)
from webmail.imap.types import Address, FolderState, MessagePage, MessageSummary, ThreadRow
from webmail.limits import DEFAULT_LIMITS, Limits
from webmail.mail.headers import decode_words, showable
from webmail.mail.preview import PREVIEW_BYTES, clean, preview_part, preview_text
from webmail.mail.structure import BodyPart, Layout, layout, parse_bodystructure
from webmail.mail.threads import Linked, conversations, message_ids

SUMMARY_ITEMS = ("UID", "FLAGS", "ENVELOPE", "INTERNALDATE", "RFC822.SIZE", "BODYSTRUCTURE")
SORT_CRITERIA = {
    "date": "DATE",
    "arrival": "ARRIVAL",
    "from": "FROM",
    "to": "TO",
    "subject": "SUBJECT",
    "size": "SIZE",
}
TEXT_FETCH_LIMIT = 2 * 1024 * 1024  # bytes of one text part shown; the rest is offered as download
MAX_NESTED_MESSAGES = 3
UID_BATCH = 2000  # explicit UID lists stay far below Dovecot's 64 kB command line


# ---------------------------------------------------------------- low-level helpers


def fetch_range(
    client: IMAPClient, sequence_set: str, items: Sequence[str], *, uid: bool
) -> dict[int, dict[bytes, Any]]:
    """FETCH a sequence set such as ``"1:50"`` or ``"1:*"``, parsed as imapclient does."""
    data = fetch_sequence_set(client, sequence_set, f"({' '.join(items)})", uid=uid)
    # Parse keyed by sequence number and keep only answers carrying a UID: changes made by other
    # sessions arrive as unsolicited "* n FETCH (FLAGS ...)" lines in the same response, and keyed
    # by UID they would be merged into whichever message has UID n.
    parsed = parse_fetch(data, client.normalise_times, False)
    rows = {seq: row for seq, row in parsed.items() if b"UID" in row}
    if uid:
        return {int(row[b"UID"]): row for row in rows.values()}
    return rows


def fetch_uids(client: IMAPClient, uids: Sequence[int], items: Sequence[str]) -> dict[int, dict[bytes, Any]]:
    result: dict[int, dict[bytes, Any]] = {}
    for start in range(0, len(uids), UID_BATCH):
        result.update(uid_fetch(client, uids[start : start + UID_BATCH], items))
    return result


def summary_items(client: IMAPClient) -> tuple[str, ...]:
    """What a list row needs, with the server's PREVIEW (RFC 8970) when it has one."""
    return (*SUMMARY_ITEMS, "PREVIEW") if b"PREVIEW" in client.capabilities() else SUMMARY_ITEMS


def fetch_summary_rows(client: IMAPClient, uids: Sequence[int]) -> dict[int, dict[bytes, Any]]:
    """The list rows of ``uids`` (selected folder), each with its preview line."""
    rows = fetch_uids(client, uids, summary_items(client))
    add_previews(client, rows)
    return rows


def add_previews(client: IMAPClient, rows: dict[int, dict[bytes, Any]]) -> None:
    """Rows the server gave no PREVIEW get one from the first bytes of their text part (one
    partial FETCH per distinct section number, for the page only)."""
    parts: dict[int, BodyPart] = {}
    by_section: dict[str, list[int]] = {}
    for uid, data in rows.items():
        if b"PREVIEW" in data or b"BODYSTRUCTURE" not in data:
            continue
        try:
            part = preview_part(parse_bodystructure(data[b"BODYSTRUCTURE"]))
        except Exception:
            part = None  # a structure we cannot read: the row goes without a preview
        if part is not None:
            parts[uid] = part
            by_section.setdefault(part.section, []).append(uid)
    for section, uids in by_section.items():
        item = f"BODY.PEEK[{section}]<0.{PREVIEW_BYTES}>"
        for uid, found in fetch_uids(client, uids, [item]).items():
            raw = next((v for k, v in found.items() if k.startswith(b"BODY[")), b"") or b""
            if uid in rows:
                rows[uid][b"PREVIEW"] = preview_text(raw, parts[uid])


def _preview(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return clean(value) if isinstance(value, str) else ""


def _addresses(raw: Iterable[Any] | None) -> tuple[Address, ...]:
    result = []
    for address in raw or ():
        mailbox = decode_words(address.mailbox) if address.mailbox else ""
        host = decode_words(address.host) if address.host else ""
        if not mailbox and not host:
            continue  # RFC 3501 group syntax markers
        email = f"{mailbox}@{host}" if host else mailbox
        result.append(Address(decode_words(address.name), email))
    return tuple(result)


def _flags(raw: Iterable[Any]) -> frozenset[str]:
    return frozenset(
        flag.decode("utf-8", "replace") if isinstance(flag, bytes) else str(flag) for flag in raw
    )


def _aware(value: datetime | None) -> datetime | None:
    return showable(value) if isinstance(value, datetime) else None


def has_attachments(structure: BodyPart) -> bool:
    plan = layout(structure)
    inline = {id(part) for part in plan.inline_resources.values()}
    return any(id(part) not in inline for part in plan.attachments)


def summary_from_fetch(uid: int, data: dict[bytes, Any]) -> MessageSummary:
    envelope = data.get(b"ENVELOPE")
    structure = data.get(b"BODYSTRUCTURE")
    try:
        attachment = has_attachments(parse_bodystructure(structure)) if structure else False
    except Exception:
        attachment = False
    return MessageSummary(
        uid=uid,
        subject=decode_words(envelope.subject) if envelope else "",
        from_=_addresses(envelope.from_) if envelope else (),
        to=_addresses(envelope.to) if envelope else (),
        cc=_addresses(envelope.cc) if envelope else (),
        date=_aware(envelope.date) if envelope else None,
        internaldate=_aware(data.get(b"INTERNALDATE")),
        size=int(data.get(b"RFC822.SIZE") or 0),
        flags=_flags(data.get(b"FLAGS", ())),
        has_attachment=attachment,
        message_id=decode_words(envelope.message_id) if envelope and envelope.message_id else None,
        in_reply_to=decode_words(envelope.in_reply_to) if envelope and envelope.in_reply_to else None,
        preview=_preview(data.get(b"PREVIEW")),
    )


def fetch_one(conn: IMAPConnection, folder: str, uid: int, items: Sequence[str]) -> dict[bytes, Any] | None:
    """FETCH one UID in ``folder``, reusing the selection; None if the message is not there.

    A reused selection may not know of mail that arrived since; NOOP lets the server tell us
    (EXISTS) before we conclude the message is gone.
    """
    reused = conn.selected is not None and conn.selected.name == folder
    conn.select(folder, refresh=False)
    data: dict[bytes, Any] | None = uid_fetch(conn.client, [uid], items).get(uid)
    if data is None and reused:
        conn.client.noop()
        data = uid_fetch(conn.client, [uid], items).get(uid)
    return data


# ---------------------------------------------------------------- the message list


def page_messages(
    conn: IMAPConnection, folder: str, *, page: int, page_size: int, sort: str, reverse: bool
) -> MessagePage:
    """One page of the folder, sorted, with the total count."""
    try:
        return _page_messages(
            conn, conn.sync(folder), page=page, page_size=page_size, sort=sort, reverse=reverse
        )
    except ProtocolError:
        # The count we tracked was off (a sequence range past the end): SELECT afresh, once.
        return _page_messages(
            conn, conn.select(folder), page=page, page_size=page_size, sort=sort, reverse=reverse
        )


def _page_messages(
    conn: IMAPConnection, state: FolderState, *, page: int, page_size: int, sort: str, reverse: bool
) -> MessagePage:
    total = state.exists
    pages = max(1, -(-total // page_size))
    page = min(max(1, page), pages)
    if total == 0:
        return MessagePage(state, 0, 1, page_size, sort, reverse, ())
    client = conn.client
    if sort == "arrival":
        if reverse:
            high = total - (page - 1) * page_size
            low = max(1, high - page_size + 1)
        else:
            low = (page - 1) * page_size + 1
            high = min(total, low + page_size - 1)
        rows = fetch_range(client, f"{low}:{high}", summary_items(client), uid=False)
        add_previews(client, {int(data[b"UID"]): data for data in rows.values()})
        ordered = sorted(
            ((seq, row) for seq, row in rows.items() if low <= seq <= high and b"ENVELOPE" in row),
            key=lambda item: item[0],
            reverse=reverse,
        )
        summaries = tuple(summary_from_fetch(int(data[b"UID"]), data) for _, data in ordered)
    else:
        uids = sorted_uids(client, sort, reverse)
        total = len(uids)
        page_uids = uids[(page - 1) * page_size : page * page_size]
        rows = fetch_summary_rows(client, page_uids)
        summaries = tuple(summary_from_fetch(uid, rows[uid]) for uid in page_uids if uid in rows)
    return MessagePage(state, total, page, page_size, sort, reverse, summaries)


def sorted_uids(client: IMAPClient, sort: str, reverse: bool) -> list[int]:
    """All UIDs of the selected folder in the given order: SORT, or a local sort without it."""
    criterion = SORT_CRITERIA[sort]
    if b"SORT" in client.capabilities():
        keys = ["REVERSE", criterion] if reverse else [criterion]
        return [int(uid) for uid in client.sort(keys, ["ALL"], charset="UTF-8")]
    return _local_sort(client, sort, reverse)


def _local_sort(client: IMAPClient, sort: str, reverse: bool) -> list[int]:
    keyed: list[tuple[Any, int]]
    if sort == "size":
        rows = fetch_range(client, "1:*", ("UID", "RFC822.SIZE"), uid=True)
        keyed = [(int(d.get(b"RFC822.SIZE") or 0), uid) for uid, d in rows.items()]
    elif sort == "date":
        rows = fetch_range(
            client, "1:*", ("UID", "INTERNALDATE", "BODY.PEEK[HEADER.FIELDS (DATE)]"), uid=True
        )
        keyed = [(_header_date(d), uid) for uid, d in rows.items()]
    else:
        rows = fetch_range(client, "1:*", ("UID", "ENVELOPE"), uid=True)
        keyed = [(_envelope_key(d.get(b"ENVELOPE"), sort), uid) for uid, d in rows.items()]
    keyed.sort(reverse=reverse)
    return [uid for _, uid in keyed]


def _header_date(data: dict[bytes, Any]) -> float:
    raw = next((v for k, v in data.items() if k.startswith(b"BODY[HEADER.FIELDS")), b"") or b""
    value = raw.decode("ascii", "replace").partition(":")[2].strip()
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        internal = data.get(b"INTERNALDATE")
        return internal.timestamp() if isinstance(internal, datetime) else 0.0


def _envelope_key(envelope: Any, sort: str) -> str:
    if envelope is None:
        return ""
    if sort == "subject":
        subject = decode_words(envelope.subject).casefold()
        while subject[:3] in ("re:", "fw:") or subject[:4] in ("fwd:", "aw: ", "re: "):
            subject = subject.split(":", 1)[1].strip()
        return subject
    addresses = _addresses(envelope.from_ if sort == "from" else envelope.to)
    return addresses[0].email.casefold() if addresses else ""


# ---------------------------------------------------------------- conversations


def thread_page(
    conn: IMAPConnection, folder: str, *, page: int, page_size: int, criteria: list[Any] | None = None
) -> MessagePage:
    """Conversations, newest first; a page holds ``page_size`` threads.

    With search ``criteria``, only the matching messages are threaded (RFC 5256 THREAD takes
    the same search keys as SEARCH). The server's grouping is checked against the messages' own
    references on the page shown (``mail.threads.conversations``).
    """
    state = conn.sync(folder)
    if state.exists == 0:
        return MessagePage(state, 0, 1, page_size, "thread", True, (), ())
    client = conn.client
    trees = folder_threads(client, criteria)
    total = len(trees)
    pages = max(1, -(-total // page_size))
    page = min(max(1, page), pages)
    visible = trees[(page - 1) * page_size : page * page_size]
    groups, rows = linked_conversations(client, visible)
    thread_rows: list[ThreadRow] = []
    summaries: list[MessageSummary] = []
    for group in groups:
        for position, uid in enumerate(group):
            summary = summary_from_fetch(uid, rows[uid])
            summaries.append(summary)
            thread_rows.append(ThreadRow(summary, 0 if position == 0 else 1, len(group), group[0]))
    return MessagePage(state, total, page, page_size, "thread", True, tuple(summaries), tuple(thread_rows))


def conversation_of(conn: IMAPConnection, folder: str, uid: int) -> list[MessageSummary]:
    """The messages of ``uid``'s conversation in ``folder``, oldest first (just it, if alone)."""
    conn.sync(folder)
    tree = next((t for t in folder_threads(conn.client, None) if uid in t), [uid])
    groups, rows = linked_conversations(conn.client, [tree])
    group = next((g for g in groups if uid in g), [])
    return [summary_from_fetch(member, rows[member]) for member in group]


def folder_threads(client: IMAPClient, criteria: list[Any] | None) -> list[list[int]]:
    """The selected folder's threads as UID lists, newest first: THREAD=REFS (no subject
    merging), else THREAD=REFERENCES, else threaded here from the headers."""
    capabilities = client.capabilities()
    algorithm = next((a for a in (b"REFS", b"REFERENCES") if b"THREAD=" + a in capabilities), None)
    if algorithm is not None:
        arguments = search_arguments(criteria) if criteria else [b"ALL"]
        trees = [
            [uid for uid, _ in flatten_thread(tree)] for tree in uid_thread(client, algorithm, arguments)
        ]
    else:
        trees = [[uid for uid, _ in tree] for tree in local_threads(client)]
        if criteria:
            wanted = set(search_uids(client, criteria, "arrival", False))
            trees = [[uid for uid in tree if uid in wanted] for tree in trees]
    trees = [tree for tree in trees if tree]
    trees.sort(key=max, reverse=True)
    return trees


def linked_conversations(
    client: IMAPClient, trees: list[list[int]]
) -> tuple[list[list[int]], dict[int, dict[bytes, Any]]]:
    """``trees`` regrouped by their messages' references, with the messages' list rows."""
    uids = [uid for tree in trees for uid in tree]
    rows = fetch_uids(client, uids, (*summary_items(client), REFERENCES_ITEM)) if uids else {}
    add_previews(client, rows)
    linked = {uid: _linked(uid, data) for uid, data in rows.items() if b"ENVELOPE" in data}
    return conversations(trees, linked), rows


REFERENCES_ITEM = "BODY.PEEK[HEADER.FIELDS (REFERENCES)]"


def _linked(uid: int, data: dict[bytes, Any]) -> Linked:
    envelope = data[b"ENVELOPE"]
    header = next((v for k, v in data.items() if k.startswith(b"BODY[HEADER.FIELDS")), b"") or b""
    references = message_ids(header.decode("ascii", "replace").partition(":")[2])
    in_reply_to = message_ids(decode_words(envelope.in_reply_to)) if envelope.in_reply_to else ()
    message_id = decode_words(envelope.message_id).strip() if envelope.message_id else None
    return Linked(
        uid,
        message_id or None,
        in_reply_to[0] if in_reply_to else None,
        references,
        decode_words(envelope.subject) if envelope.subject else "",
        _aware(envelope.date) or _aware(data.get(b"INTERNALDATE")),
    )


def flatten_thread(node: Sequence[Any], depth: int = 0) -> list[tuple[int, int]]:
    """RFC 5256 thread tree to (uid, depth) in reading order: ``(3 6 (4 23)(44 7 96))``."""
    out: list[tuple[int, int]] = []
    for item in node:
        if isinstance(item, int):
            out.append((item, depth))
            depth += 1
        else:
            out.extend(flatten_thread(item, depth))
    return out


def local_threads(client: IMAPClient) -> list[list[tuple[int, int]]]:
    """Threads from Message-ID / In-Reply-To / References, for servers without THREAD."""
    rows = fetch_range(client, "1:*", ("UID", "ENVELOPE", "BODY.PEEK[HEADER.FIELDS (REFERENCES)]"), uid=True)
    messages = []
    for uid, data in rows.items():
        envelope = data.get(b"ENVELOPE")
        refs_raw = next((v for k, v in data.items() if k.startswith(b"BODY[HEADER.FIELDS")), b"") or b""
        references = refs_raw.decode("ascii", "replace").partition(":")[2].split()
        message_id = decode_words(envelope.message_id) if envelope and envelope.message_id else None
        in_reply_to = decode_words(envelope.in_reply_to) if envelope and envelope.in_reply_to else None
        messages.append((uid, message_id, in_reply_to, references))
    return build_threads(messages)


def build_threads(
    messages: Sequence[tuple[int, str | None, str | None, list[str]]],
) -> list[list[tuple[int, int]]]:
    by_id = {message_id: uid for uid, message_id, _, _ in messages if message_id}
    parent: dict[int, int] = {}
    for uid, _, in_reply_to, references in messages:
        candidates = [*reversed(references), *([in_reply_to] if in_reply_to else [])]
        for ref in candidates:
            target = by_id.get(ref)
            if target is not None and target != uid and not _is_descendant(target, uid, parent):
                parent[uid] = target
                break
    children: dict[int, list[int]] = {}
    for child, par in parent.items():
        children.setdefault(par, []).append(child)
    roots = sorted(uid for uid, *_ in messages if uid not in parent)
    threads = []
    for root in roots:
        tree: list[tuple[int, int]] = []
        stack = [(root, 0)]
        while stack:
            uid, depth = stack.pop()
            tree.append((uid, depth))
            stack.extend((child, depth + 1) for child in sorted(children.get(uid, []), reverse=True))
        threads.append(tree)
    return threads


def _is_descendant(candidate: int, ancestor: int, parent: dict[int, int]) -> bool:
    seen = set()
    while candidate in parent and candidate not in seen:
        seen.add(candidate)
        candidate = parent[candidate]
        if candidate == ancestor:
            return True
    return candidate == ancestor


# ---------------------------------------------------------------- one message


@dataclass(frozen=True)
class FetchedMessage:
    """What opening a message fetched: its summary, headers, structure and the shown parts."""

    summary: MessageSummary
    header: bytes
    structure: BodyPart
    plan: Layout
    contents: dict[str, bytes]  # section -> raw (transfer-encoded) bytes; "S.HEADER" for nested headers
    truncated: frozenset[str]


def fetch_message(
    conn: IMAPConnection,
    folder: str,
    uid: int,
    *,
    prefer_html: bool = True,
    uidvalidity: int | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> FetchedMessage:
    """Headers, structure and the shown text parts of one message.

    With ``uidvalidity`` (from the link), a renumbered folder raises UIDValidityChangedError
    instead of showing whichever message now has that UID.
    """
    client = conn.client
    state = conn.select(folder, refresh=False)
    if uidvalidity is not None and state.uidvalidity != uidvalidity:
        state = conn.select(folder)
        if state.uidvalidity != uidvalidity:
            raise UIDValidityChangedError()
    # With its list row's preview: the reader updates the row when opening marks it read.
    data = fetch_one(conn, folder, uid, [*summary_items(client), "BODY.PEEK[HEADER]"])
    if not data or b"BODYSTRUCTURE" not in data:
        raise MessageGoneError()
    structure = parse_bodystructure(data[b"BODYSTRUCTURE"], limits)
    plan = layout(structure, prefer_html=prefer_html)
    sections: list[BodyPart] = []
    nested_headers: list[str] = []
    _plan_fetch(plan, sections, nested_headers, prefer_html, 0)
    items = []
    for part in sections:
        if part.size > TEXT_FETCH_LIMIT:
            items.append(f"BODY.PEEK[{part.section}]<0.{TEXT_FETCH_LIMIT}>")
        else:
            items.append(f"BODY.PEEK[{part.section}]")
    items.extend(f"BODY.PEEK[{section}.HEADER]" for section in nested_headers)
    contents: dict[str, bytes] = {}
    if items:
        fetched = uid_fetch(client, [uid], items).get(uid, {})
        for key, value in fetched.items():
            if key.startswith(b"BODY["):
                section = key[5:].split(b"]", 1)[0].decode()
                contents[section] = value or b""
    truncated = frozenset(part.section for part in sections if part.size > TEXT_FETCH_LIMIT)
    if b"PREVIEW" not in data:
        shown = preview_part(structure)
        if shown is not None and shown.section in contents:
            data[b"PREVIEW"] = preview_text(contents[shown.section], shown)
    summary = summary_from_fetch(uid, data)
    return FetchedMessage(summary, data.get(b"BODY[HEADER]") or b"", structure, plan, contents, truncated)


def _plan_fetch(
    plan: Layout, sections: list[BodyPart], headers: list[str], prefer_html: bool, depth: int
) -> None:
    for part in plan.body:
        if part.content_type == "message/rfc822":
            if part.message is None or depth >= MAX_NESTED_MESSAGES:
                continue
            headers.append(part.section)
            _plan_fetch(
                layout(part.message, prefer_html=prefer_html), sections, headers, prefer_html, depth + 1
            )
        else:
            sections.append(part)


def fetch_part_chunk(
    conn: IMAPConnection, folder: str, uid: int, section: str, offset: int, length: int
) -> bytes | None:
    """``length`` raw bytes of a part (``section`` "" = the whole message) from ``offset``; None if gone."""
    item = f"BODY.PEEK[{section}]<{offset}.{length}>"
    data = fetch_one(conn, folder, uid, [item])
    if data is None:
        return None
    value = next((v for k, v in data.items() if k.startswith(b"BODY[")), b"")
    return value or b""


def part_info(conn: IMAPConnection, folder: str, uid: int, section: str) -> BodyPart:
    """The BodyPart at ``section`` (for its type, name and encoding before streaming)."""
    data = fetch_one(conn, folder, uid, ["BODYSTRUCTURE"])
    if not data:
        raise MessageGoneError()
    structure = parse_bodystructure(data[b"BODYSTRUCTURE"])
    for part in structure.walk():
        if part.section == section and not part.is_multipart:
            return part
    raise MessageGoneError("This attachment does not exist.")


def message_size(conn: IMAPConnection, folder: str, uid: int) -> int:
    data = fetch_one(conn, folder, uid, ["RFC822.SIZE"])
    if not data:
        raise MessageGoneError()
    return int(data[b"RFC822.SIZE"])


def set_flag(
    conn: IMAPConnection, folder: str, uids: Sequence[int], flag: str, value: bool
) -> dict[int, frozenset[str]]:
    """Add or remove one flag; returns the messages' new flags (missing UIDs are left out)."""
    conn.sync(folder)
    client = conn.client
    for start in range(0, len(uids), UID_BATCH):
        batch = list(uids[start : start + UID_BATCH])
        if value:
            client.add_flags(batch, [flag.encode()], silent=True)
        else:
            client.remove_flags(batch, [flag.encode()], silent=True)
    flags = client.get_flags(list(uids))
    return {uid: _flags(found) for uid, found in flags.items()}


def mark_seen(conn: IMAPConnection, folder: str, uid: int) -> None:
    """Mark one message read (opening it); its flags are known to the caller, who just looked
    at the folder (no NOOP first)."""
    conn.select(folder, refresh=False)
    conn.client.add_flags([uid], [b"\\Seen"], silent=True)


def flags_of(conn: IMAPConnection, folder: str, uids: Sequence[int]) -> dict[int, frozenset[str]]:
    """The current flags of ``uids`` (those still in the folder)."""
    conn.sync(folder)
    return {uid: _flags(found) for uid, found in uid_flags(conn.client, uids).items()}


def neighbour(
    conn: IMAPConnection, folder: str, uid: int, *, sort: str, reverse: bool, forward: bool
) -> int | None:
    """The UID after (``forward``) or before ``uid`` in the list order, for next/previous."""
    conn.sync(folder)
    client = conn.client
    if sort == "arrival":
        # UIDs grow with arrival; "forward" in a newest-first list means a smaller UID.
        smaller = forward == reverse
        if uid <= 1 and smaller:
            return None
        criteria = ["UID", f"1:{uid - 1}"] if smaller else ["UID", f"{uid + 1}:*"]
        found = [int(u) for u in client.search(criteria) if int(u) != uid]
        if not found:
            return None
        return max(found) if smaller else min(found)
    uids = sorted_uids(client, sort, reverse)
    try:
        index = uids.index(uid)
    except ValueError:
        return None
    index += 1 if forward else -1
    return uids[index] if 0 <= index < len(uids) else None


def summaries(conn: IMAPConnection, folder: str, uids: Sequence[int]) -> list[MessageSummary]:
    conn.sync(folder)
    rows = fetch_summary_rows(conn.client, uids)
    return [summary_from_fetch(uid, rows[uid]) for uid in uids if uid in rows]


# ---------------------------------------------------------------- search


def search_arguments(criteria: list[Any]) -> list[bytes]:
    """Search keys as command arguments. Every searched value is quoted (or, if 8-bit, sent as a
    literal by imapclient): its own quoting leaves atoms such as ``(ALL)`` or ``{5}`` bare,
    which the server would read as syntax."""
    arguments: list[bytes] = []
    for item in criteria:
        if isinstance(item, bytes):
            arguments.append(quoted_string(item))
        elif isinstance(item, bool):
            raise TypeError("booleans are no search keys")
        elif isinstance(item, int):
            arguments.append(str(item).encode("ascii"))
        elif isinstance(item, date):
            arguments.append(format_criteria_date(item))
        else:
            arguments.append(str(item).upper().encode("ascii"))
    return arguments


def search_uids(client: IMAPClient, criteria: list[Any], sort: str, reverse: bool) -> list[int]:
    """UIDs matching ``criteria`` in list order: SORT with the criteria, or SEARCH then sort here."""
    arguments = search_arguments(criteria)
    # Arrival order is UID order; SORT ARRIVAL would compare INTERNALDATE, equal within a second.
    if sort != "arrival" and b"SORT" in client.capabilities():
        keys = f"({'REVERSE ' if reverse else ''}{SORT_CRITERIA[sort]})".encode()
        return uid_sort(client, keys, arguments)
    uids = uid_search(client, arguments)
    if sort == "arrival":
        return sorted(uids, reverse=reverse)
    wanted = set(uids)
    return [uid for uid in _local_sort(client, sort, reverse) if uid in wanted]


def search_page(
    conn: IMAPConnection,
    folder: str,
    criteria: list[Any],
    *,
    sort: str,
    reverse: bool,
    page: int,
    page_size: int,
    uids: list[int] | None = None,
) -> tuple[MessagePage, list[int]]:
    """One page of search hits; pass the ``uids`` of an earlier identical search to skip SEARCH."""
    state = conn.sync(folder)
    if uids is None:
        uids = search_uids(conn.client, criteria, sort, reverse) if state.exists else []
    pages = max(1, -(-len(uids) // page_size))
    page = min(max(1, page), pages)
    page_uids = uids[(page - 1) * page_size : page * page_size]
    rows = fetch_summary_rows(conn.client, page_uids) if page_uids else {}
    summaries = tuple(summary_from_fetch(uid, rows[uid]) for uid in page_uids if uid in rows)
    return MessagePage(state, len(uids), page, page_size, sort, reverse, summaries), uids


def count_recent(conn: IMAPConnection, folder: str, criteria: list[Any], last: int) -> tuple[int, int]:
    """How many of the newest ``last`` messages match ``criteria`` (one SEARCH over their
    sequence range), and how many messages that range holds."""
    state = conn.sync(folder)
    if not state.exists:
        return 0, 0
    first = max(1, state.exists - last + 1)
    # a sequence set as a search key: the newest messages, whatever their UIDs (RFC 3501 6.4.4)
    matched = uid_search(conn.client, [f"{first}:*".encode(), *search_arguments(criteria)])
    return len(matched), state.exists - first + 1
