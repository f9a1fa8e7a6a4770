"""The one module that reaches into imapclient's private API (and the imaplib object under it).

imapclient 4.x has no public call for a few commands we rely on: FETCH of a sequence set such as
``1:50`` (mjs/imapclient#666), UID SEARCH/SORT/THREAD with arguments we quote ourselves, LIST with
RETURN (STATUS ...) (LIST-STATUS, RFC 5819), and MOVE/COPY whose COPYUID (UIDPLUS, RFC 4315) lands
among the untagged responses, and CREATE with USE (CREATE-SPECIAL-USE, RFC 6154). Each function
here sends one such command; an imapclient upgrade is checked against this file alone. Callers
wrap them in ``map_imap_errors()`` as usual.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, cast

from imapclient import IMAPClient
from imapclient.imap_utf7 import decode as decode_utf7
from imapclient.imapclient import _quoted, join_message_ids, seq_to_parenstr_upper
from imapclient.response_parser import (
    BodyData,
    _convert_ENVELOPE,
    _convert_INTERNALDATE,
    parse_fetch_response,
    parse_message_list,
    parse_response,
)
from imapclient.util import to_ints

from webmail.imap.errors import refused

Reply = tuple[str, list[Any]]  # imaplib's (status, data), status "OK", "NO" or "BAD"
ListedFolder = tuple[tuple[bytes, ...], bytes | None, str]  # flags, delimiter, decoded name


def quoted_string(value: bytes) -> bytes:
    """``value`` as an IMAP quoted string that imapclient sends as is (or as a literal if 8-bit)."""
    escaped = bytes(value).replace(b"\\", b"\\\\").replace(b'"', b'\\"')
    quoted = _quoted(b'"' + escaped + b'"')
    quoted.original = bytes(value)
    return cast(bytes, quoted)


def fetch_sequence_set(client: IMAPClient, sequence_set: str, item_list: str, *, uid: bool) -> list[Any]:
    """The raw lines of ``[UID] FETCH <sequence_set> <item_list>``, for imapclient's FETCH parser."""
    if uid:
        typ, data = client._imap.uid("FETCH", sequence_set, item_list)
    else:
        typ, data = client._imap.fetch(sequence_set, item_list)
    if typ != "OK":
        raise refused("UID FETCH" if uid else "FETCH", data)
    return list(data)


# imapclient's lexer reads a response a byte at a time in Python (0.2 ms for one message's
# ENVELOPE and BODYSTRUCTURE, 11 ms for a page of 50); this regular expression splits it into the
# same tokens. Each match: the whitespace before the token, then a word (with any [...] section,
# as BODY[HEADER.FIELDS (FROM)]), a quoted string's inside, or a lone character (parentheses,
# "%", control characters).
_TOKEN = re.compile(
    rb'([ \t\r\n]*)(?:((?:[^\x00-\x20()%"\[]|\[[^\]]*\])+)|"((?:[^"\\]|\\.)*)"|([^ \t\r\n]))', re.S
)
_ESCAPED = re.compile(rb'\\(["\\])')


class _UnusualResponseError(Exception):
    """A response the fast path does not read exactly as imapclient would: imapclient reads it."""


def parse_atoms(data: Sequence[Any]) -> tuple[Any, ...]:
    """imapclient's ``parse_response``, fast: the same nested tuples of bytes, ints and None,
    and for anything unusual (or wrong) imapclient's own answer or error."""
    try:
        return _atoms(data)
    except Exception:
        return tuple(parse_response(list(data)))


def _atoms(data: Sequence[Any]) -> tuple[Any, ...]:
    if list(data) == [None]:
        return ()
    outer: list[list[Any]] = []
    top: list[Any] = []
    for chunk in data:
        text, literal = chunk if isinstance(chunk, tuple) else (chunk, None)
        if literal is not None and not text.endswith(b"}"):
            raise _UnusualResponseError()
        word_ended = False
        for space, word, quoted, other in _TOKEN.findall(text):
            if word:
                if word[:1] == b"{":
                    if literal is None or len(literal) != int(word[1:-1]):
                        raise _UnusualResponseError()
                    top.append(literal)
                elif word == b"NIL":
                    top.append(None)
                elif word.isdigit() and (word[:1] != b"0" or len(word) == 1):
                    top.append(int(word))
                else:
                    top.append(word)
                word_ended = True
                continue
            if other == b"(":
                outer.append(top)
                top = []
            elif other == b")":
                if not outer:
                    raise _UnusualResponseError()
                done, top = tuple(top), outer.pop()
                top.append(done)
            elif other:
                if other in b'"[':  # an unclosed quote or bracket: imapclient refuses it
                    raise _UnusualResponseError()
                top.append(other)
            elif not space and word_ended:
                raise _UnusualResponseError()  # a quote right after a word: imapclient refuses it
            else:
                top.append(_ESCAPED.sub(rb"\1", quoted) if b"\\" in quoted else quoted)
            word_ended = False
    if outer:
        raise _UnusualResponseError()
    return tuple(top)


def parse_fetch(data: Sequence[Any], normalise_times: bool, uid_is_key: bool) -> dict[int, dict[bytes, Any]]:
    """imapclient's ``parse_fetch_response`` on ``parse_atoms``: the same dictionaries, and for
    anything unusual imapclient's own answer or error."""
    try:
        return _fetch_items(_atoms(data), normalise_times, uid_is_key)
    except Exception:
        return dict(parse_fetch_response(list(data), normalise_times, uid_is_key))


def _fetch_items(
    atoms: tuple[Any, ...], normalise_times: bool, uid_is_key: bool
) -> dict[int, dict[bytes, Any]]:
    if len(atoms) % 2:
        raise _UnusualResponseError()
    parsed: dict[int, dict[bytes, Any]] = {}
    for seq, items in zip(atoms[::2], atoms[1::2], strict=True):
        if not isinstance(seq, int) or not isinstance(items, tuple) or len(items) % 2:
            raise _UnusualResponseError()
        key = seq
        row: dict[bytes, Any] = {b"SEQ": seq}
        for name, value in zip(items[::2], items[1::2], strict=True):
            word = name.upper()
            if word == b"UID":
                if not isinstance(value, int):
                    raise _UnusualResponseError()
                if uid_is_key:
                    key = value
                else:
                    row[word] = value
            elif word == b"INTERNALDATE":
                row[word] = _convert_INTERNALDATE(value, normalise_times)
            elif word == b"ENVELOPE":
                row[word] = _convert_ENVELOPE(value, normalise_times)
            elif word in (b"BODY", b"BODYSTRUCTURE"):
                row[word] = BodyData.create(value)
            else:
                row[word] = value
        parsed.setdefault(key, {}).update(row)
    return parsed


def uid_fetch(client: IMAPClient, uids: Sequence[int], items: Sequence[str]) -> dict[int, dict[bytes, Any]]:
    """``IMAPClient.fetch(uids, items)`` with the client in UID mode, parsed by ``parse_fetch``:
    the answers for ``uids`` only (the server may add news of other messages)."""
    if not uids:
        return {}
    data = fetch_sequence_set(
        client, join_message_ids(list(uids)), seq_to_parenstr_upper(list(items)), uid=True
    )
    parsed = parse_fetch(data, client.normalise_times, True)
    return {uid: parsed[uid] for uid in to_ints(list(uids)) if uid in parsed}


# One FETCH answer of UID FETCH (FLAGS) as imaplib keeps it: "12 (UID 345 FLAGS (\\Seen $x))",
# the items in any order, MODSEQ maybe among them. Flags are atoms: no literal, no parenthesis.
_FETCH_ITEMS = re.compile(rb"\d+ \((.*)\)", re.S)
_UID_ITEM = re.compile(rb"(?:^| )UID (\d+)")
_FLAGS_ITEM = re.compile(rb"(?:^| )FLAGS \(([^()]*)\)")


def uid_flags(client: IMAPClient, uids: Sequence[int]) -> dict[int, tuple[bytes, ...]]:
    """``UID FETCH <uids> (FLAGS)``: the flags of each of ``uids`` still there, as imapclient's
    ``get_flags`` gives them. Its general parser took 0.4 ms for a page of 50; these answers are
    read with two regular expressions, and any other shape is left to ``parse_fetch``. An answer
    without UID is the server telling of another message (RFC 3501 7.4.2): not one asked for."""
    if not uids:
        return {}
    typ, data = client._imap.uid("FETCH", join_message_ids(list(uids)), "(FLAGS)")
    if typ != "OK":
        raise refused("UID FETCH", data)
    found: dict[int, tuple[bytes, ...]] = {}
    other: list[Any] = []
    for line in data:
        items = _FETCH_ITEMS.fullmatch(line) if isinstance(line, bytes) else None
        uid = _UID_ITEM.search(items.group(1)) if items else None
        flags = _FLAGS_ITEM.search(items.group(1)) if items else None
        if uid is not None and flags is not None:
            found[int(uid.group(1))] = tuple(flags.group(1).split())
        elif line is not None:
            other.append(line)
    if other:
        for values in parse_fetch(other, False, False).values():
            if b"UID" in values and b"FLAGS" in values:
                found[int(values[b"UID"])] = tuple(values[b"FLAGS"])
    return found


def uid_search(client: IMAPClient, arguments: list[bytes]) -> list[int]:
    """UID SEARCH CHARSET UTF-8 with ready-made arguments (see ``messages.search_arguments``)."""
    data = client._raw_command_untagged(b"SEARCH", [b"CHARSET", b"UTF-8", *arguments])
    return [int(uid) for uid in parse_message_list(data)]


def uid_sort(client: IMAPClient, keys: bytes, arguments: list[bytes]) -> list[int]:
    """UID SORT (RFC 5256) by ``keys`` such as ``b"(REVERSE DATE)"`` over the search ``arguments``."""
    ids = client._raw_command_untagged(b"SORT", [keys, b"UTF-8", *arguments], unpack=True)
    return [int(uid) for uid in ids.split()]


def uid_thread(client: IMAPClient, algorithm: bytes, arguments: list[bytes]) -> tuple[Any, ...]:
    """UID THREAD (RFC 5256) with ``algorithm`` (REFERENCES, REFS) over the search ``arguments``:
    nested tuples of UIDs."""
    raw = client._raw_command_untagged(b"THREAD", [algorithm, b"UTF-8", *arguments])
    return tuple(parse_response(raw))


def list_status(client: IMAPClient, return_options: list[str]) -> tuple[list[Any], list[Any]]:
    """``LIST "" "*" RETURN (<return_options>)``: the raw LIST and STATUS lines, as imaplib keeps
    them (``listed_folders`` parses the first)."""
    imap = client._imap
    typ, data = imap._simple_command("LIST", '""', '"*"', f"RETURN ({' '.join(return_options)})")
    if typ != "OK":
        raise refused("LIST", data)
    _, list_lines = imap._untagged_response(typ, data, "LIST")
    status_lines: list[Any] = imap.untagged_responses.pop("STATUS", [])
    return list(list_lines), status_lines


def listed_folders(list_lines: Sequence[Any], *, folder_encode: bool) -> list[ListedFolder]:
    """LIST lines parsed as ``IMAPClient.list_folders`` gives them (its ``_proc_folder_list``,
    without the client: a pure function of the lines, so its callers may keep the result)."""
    parsed = parse_atoms([line for line in list_lines if line not in (b"", None)])
    folders: list[ListedFolder] = []
    for flags, delimiter, name in zip(parsed[::3], parsed[1::3], parsed[2::3], strict=True):
        if isinstance(name, int):  # a quoted number parses as one
            name = str(name)
        elif folder_encode:
            name = decode_utf7(name)
        folders.append((flags, delimiter, name))
    return folders


def pop_untagged(client: IMAPClient, name: str) -> list[Any]:
    """Take the untagged responses named ``name`` (e.g. COPYUID); imaplib keeps adding to them otherwise."""
    return client._imap.untagged_responses.pop(name, []) or []


def uid_move(client: IMAPClient, uid_set: str, folder: str) -> Reply:
    """UID MOVE (RFC 6851); COPYUID comes as an untagged response (``pop_untagged``)."""
    return client._imap.uid("MOVE", uid_set, client._normalise_folder(folder))  # type: ignore[no-any-return]


def uid_copy(client: IMAPClient, uid_set: str, folder: str) -> Reply:
    """UID COPY; COPYUID comes in the tagged reply's data."""
    return client._imap.uid("COPY", uid_set, client._normalise_folder(folder))  # type: ignore[no-any-return]


def uid_mark_deleted(client: IMAPClient, uid_set: str) -> Reply:
    """UID STORE +FLAGS.SILENT (\\Deleted)."""
    return client._imap.uid("STORE", uid_set, "+FLAGS.SILENT", "(\\Deleted)")  # type: ignore[no-any-return]


def uid_expunge(client: IMAPClient, uid_set: str) -> Reply:
    """UID EXPUNGE of just these messages (UIDPLUS), never a plain EXPUNGE of the whole folder."""
    return client._imap.uid("EXPUNGE", uid_set)  # type: ignore[no-any-return]


def create_special_use(client: IMAPClient, folder: str, use: str) -> None:
    """``CREATE <folder> (USE (<use>))`` (CREATE-SPECIAL-USE, RFC 6154 3)."""
    typ, data = client._imap._simple_command("CREATE", client._normalise_folder(folder), f"(USE ({use}))")
    if typ != "OK":
        raise refused("CREATE", data)
