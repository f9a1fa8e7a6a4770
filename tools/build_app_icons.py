"""Draw the installable app's icons (static/icon-192.png, icon-512.png, icon-maskable-512.png).

The same picture as static/favicon.svg (a white envelope on the accent colour), drawn with the
standard library only: `python tools/build_app_icons.py`. The PNGs are committed; run it again
only when the favicon changes.
"""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

STATIC = Path(__file__).resolve().parent.parent / "static"
ACCENT = (0x24, 0x56, 0xD6)
WHITE = (255, 255, 255)
# favicon.svg in its 32-unit box: the envelope's outline and flap, stroked 2.2 wide.
SEGMENTS = [((6, 10), (26, 10)), ((26, 10), (26, 23)), ((26, 23), (6, 23)), ((6, 23), (6, 10)),
            ((6, 10), (16, 18)), ((16, 18), (26, 10))]  # fmt: skip
HALF_STROKE = 1.1
SAMPLES = 3  # per pixel and axis, for smooth edges


def _segment_distance(x: float, y: float, a: tuple[float, float], b: tuple[float, float]) -> float:
    (ax, ay), (bx, by) = a, b
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(x - (ax + t * dx), y - (ay + t * dy))


def _in_rounded_square(x: float, y: float, radius: float) -> bool:
    cx, cy = min(max(x, radius), 32 - radius), min(max(y, radius), 32 - radius)
    return 0 <= x <= 32 and 0 <= y <= 32 and math.hypot(x - cx, y - cy) <= radius


def draw(size: int, *, maskable: bool) -> bytes:
    """RGBA rows of the icon; a maskable icon fills its square and keeps the envelope in the
    middle 60 % (the safe zone is a circle of 40 % radius)."""
    glyph_scale = 0.8 if maskable else 1.0
    rows = []
    for py in range(size):
        row = bytearray([0])  # PNG filter type 0
        for px in range(size):
            background = envelope = 0
            for sy in range(SAMPLES):
                for sx in range(SAMPLES):
                    x = (px + (sx + 0.5) / SAMPLES) * 32 / size
                    y = (py + (sy + 0.5) / SAMPLES) * 32 / size
                    if maskable or _in_rounded_square(x, y, 7):
                        background += 1
                    gx, gy = 16 + (x - 16) / glyph_scale, 16.5 + (y - 16.5) / glyph_scale
                    if (
                        4.5 <= gx <= 27.5
                        and 8.5 <= gy <= 24.5
                        and any(_segment_distance(gx, gy, a, b) <= HALF_STROKE for a, b in SEGMENTS)
                    ):
                        envelope += 1
            total = SAMPLES * SAMPLES
            coverage = max(background, envelope) / total
            mix = envelope / max(background, envelope) if envelope else 0.0
            colour = [round(ACCENT[i] * (1 - mix) + WHITE[i] * mix) for i in range(3)]
            row.extend([*colour, round(coverage * 255)])
        rows.append(bytes(row))
    return b"".join(rows)


def png(size: int, pixels: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(pixels, 9))
        + chunk(b"IEND", b"")
    )


def main() -> None:
    for name, size, maskable in (("icon-192.png", 192, False), ("icon-512.png", 512, False),
                                 ("icon-maskable-512.png", 512, True)):  # fmt: skip
        (STATIC / name).write_bytes(png(size, draw(size, maskable=maskable)))
        print(f"static/{name}")  # noqa: T201


if __name__ == "__main__":
    main()
