"""The export file formats over the pieces ``MailStore.export`` fetches: mboxrd and a zip of
.eml files, each yielded in chunks while the messages arrive (nothing waits for the whole)."""

from __future__ import annotations

import base64
import time
import zipfile
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any, BinaryIO

from webmail.events import ExportState
from webmail.imap.store import ExportPiece
from webmail.mail.mbox import (
    MboxrdBody,
    ZipStream,
    eml_name,
    from_line,
    header_value,
    sender_of,
    status_headers,
    zip_time,
)

FLUSH_BYTES = 256 * 1024
PROGRESS_SECONDS = 1.0


async def mbox_bytes(pieces: AsyncIterator[ExportPiece]) -> AsyncIterator[bytes]:
    out: list[bytes] = []
    size = 0
    writer = MboxrdBody()
    async for piece in pieces:
        if piece.first:
            writer = MboxrdBody()
            out.append(from_line(sender_of(piece.data), piece.meta.when) + status_headers(piece.meta.flags))
        out.append(writer.feed(piece.data))
        if piece.last:
            out.append(writer.finish())
        size += len(piece.data)
        if size >= FLUSH_BYTES:
            yield b"".join(out)
            out, size = [], 0
    if out:
        yield b"".join(out)


async def zip_bytes(pieces: AsyncIterator[ExportPiece]) -> AsyncIterator[bytes]:
    sink = ZipStream()
    count = 0
    with zipfile.ZipFile(
        sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1, allowZip64=True
    ) as archive:
        entry = None
        async for piece in pieces:
            if piece.first:
                count += 1
                info = zipfile.ZipInfo(
                    eml_name(count, piece.meta.when, header_value(piece.data, b"subject")),
                    zip_time(piece.meta.when),
                )
                info.compress_type = zipfile.ZIP_DEFLATED
                entry = archive.open(info, "w", force_zip64=True)
            assert entry is not None
            entry.write(piece.data)
            if piece.last:
                entry.close()
                entry = None
            data = sink.take()
            if data:
                yield data
    yield sink.take()


class Throttle:
    """When to tell how far an export is: at every further percent, or after a second without."""

    def __init__(self, total: int) -> None:
        self.total = max(total, 1)
        self.told = -1
        self.at = 0.0

    def due(self, done: int) -> bool:
        percent = done * 100 // self.total
        now = time.monotonic()
        if percent > self.told or now - self.at >= PROGRESS_SECONDS:
            self.told, self.at = percent, now
            return True
        return False


async def counted(
    pieces: AsyncIterator[ExportPiece], total: int, report: Callable[[int, ExportState], Awaitable[None]]
) -> AsyncIterator[ExportPiece]:
    """``pieces`` as they come, calling ``report`` with the count of messages passed on: 0 first,
    then as often as ``Throttle`` says, and at the end (``done``, or ``failed`` on an error)."""
    throttle = Throttle(total)
    done = 0
    throttle.due(0)
    await report(0, "running")
    try:
        async for piece in pieces:
            yield piece
            if piece.last:
                done += 1
                if done < total and throttle.due(done):
                    await report(done, "running")
    except Exception:
        await report(done, "failed")
        raise
    await report(done, "done")


class FileSink:
    """``zipfile.ZipFile``'s file over an open file whose first ``offset`` bytes are written
    already: no seek, so ZipFile writes data descriptors, and positions count from the file's
    start, so the directory it writes at the end fits the entries of earlier runs."""

    def __init__(self, out: BinaryIO, offset: int) -> None:
        self.out = out
        self.position = offset

    def write(self, data: bytes) -> int:
        self.out.write(data)
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        self.out.flush()

    def close(self) -> None:
        pass


def entry_to_json(info: zipfile.ZipInfo) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name in info.__slots__:
        if not hasattr(info, name):
            continue
        value = getattr(info, name)
        data[name] = {"b64": base64.b64encode(value).decode()} if isinstance(value, bytes) else value
    return data


def entry_from_json(data: dict[str, Any]) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(str(data["filename"]), tuple(data["date_time"]))
    for name, value in data.items():
        if name in info.__slots__:
            if isinstance(value, dict):
                value = base64.b64decode(value["b64"])
            elif isinstance(value, list):
                value = tuple(value)
            setattr(info, name, value)
    return info


class ZipAppender:
    """A zip of .eml files written over several runs: each run goes on after the entries an
    earlier one wrote (``entries``, kept in the manifest) and the last writes the directory."""

    def __init__(self, out: BinaryIO, offset: int, entries: list[dict[str, Any]]) -> None:
        self.archive = zipfile.ZipFile(
            FileSink(out, offset), "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1, allowZip64=True
        )
        for data in entries:
            info = entry_from_json(data)
            self.archive.filelist.append(info)
            self.archive.NameToInfo[info.filename] = info
        self.told = len(self.archive.filelist)

    async def write(self, pieces: AsyncIterator[ExportPiece]) -> AsyncGenerator[int, None]:
        """Write ``pieces``, yielding each finished message's UID."""
        entry = None
        async for piece in pieces:
            if piece.first:
                info = zipfile.ZipInfo(
                    eml_name(
                        len(self.archive.filelist) + 1, piece.meta.when, header_value(piece.data, b"subject")
                    ),
                    zip_time(piece.meta.when),
                )
                info.compress_type = zipfile.ZIP_DEFLATED
                entry = self.archive.open(info, "w", force_zip64=True)
            assert entry is not None
            entry.write(piece.data)
            if piece.last:
                entry.close()
                entry = None
                yield piece.meta.uid

    def new_entries(self) -> list[dict[str, Any]]:
        """The entries written since the last call (for the manifest's sidecar)."""
        fresh = self.archive.filelist[self.told :]
        self.told = len(self.archive.filelist)
        return [entry_to_json(info) for info in fresh]

    def finish(self) -> None:
        self.archive.close()  # the central directory

    def abandon(self) -> None:
        """Leave the file as it is (a later run goes on): no directory written when collected."""
        self.archive.fp = None


class MboxAppender:
    """mboxrd written over several runs: each message is whole on its own, so a run goes on at
    the end of the file an earlier one left."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out

    async def write(self, pieces: AsyncIterator[ExportPiece]) -> AsyncGenerator[int, None]:
        """Write ``pieces``, yielding each finished message's UID."""
        writer = MboxrdBody()
        async for piece in pieces:
            if piece.first:
                writer = MboxrdBody()
                self.out.write(
                    from_line(sender_of(piece.data), piece.meta.when) + status_headers(piece.meta.flags)
                )
            self.out.write(writer.feed(piece.data))
            if piece.last:
                self.out.write(writer.finish())
                yield piece.meta.uid

    def new_entries(self) -> list[dict[str, Any]]:
        return []

    def finish(self) -> None:
        pass

    def abandon(self) -> None:
        pass
