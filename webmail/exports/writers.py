"""The export file formats over the pieces ``MailStore.export`` fetches: mboxrd and a zip of
.eml files, each yielded in chunks while the messages arrive (nothing waits for the whole)."""

from __future__ import annotations

import time
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable

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
