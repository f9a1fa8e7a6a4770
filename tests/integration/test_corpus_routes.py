"""tests/corpus/*.eml and seeded mutations of them through the real routes (issue 21, deliverable 5).

Every file, and two mutations of it (of: truncated, headers repeated, boundaries damaged,
charsets swapped, bytes flipped; seeded by the file's name, so every run feeds the same bytes),
is appended to one folder and then listed, opened, shown in the body frame, shown as source,
replied to and forwarded, each request within a time bound. None may answer 500, and the
folder's list must still show every message afterwards.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from imapclient import IMAPClient

from tests.conftest import MailUser, serve_in_thread, sign_in
from webmail.config import Settings
from webmail.devservices import DevServices

CORPUS = Path(__file__).parent.parent / "corpus"
FOLDER = "Corpus"
BOUND_SECONDS = 10.0  # per request: a hang or a quadratic blow-up fails here, a loaded machine does not
PAGE_SIZE = 50
PER_FILE = 2  # mutations of each file
CHARSETS = [
    "utf-7",
    "x-no-such-charset",
    "iso-2022-jp",
    "utf-16",
    "koi8-r",
    "",
    '"utf-8',
    "gb18030",
    "cp1252",
]


def truncate(raw: bytes, rng: random.Random) -> bytes:
    return raw[: rng.randrange(len(raw) // 4, max(len(raw) // 4 + 1, len(raw) - 1))]


def repeat_headers(raw: bytes, rng: random.Random) -> bytes:
    head, sep, body = raw.partition(b"\r\n\r\n") if b"\r\n\r\n" in raw else raw.partition(b"\n\n")
    lines = head.splitlines(keepends=True)
    chosen = rng.sample(range(len(lines)), min(3, len(lines)))
    for index in sorted(chosen, reverse=True):
        lines[index:index] = [lines[index]] * rng.randrange(20, 200)
    return b"".join(lines) + sep + body


def damage_boundaries(raw: bytes, rng: random.Random) -> bytes:
    boundaries = re.findall(rb'boundary="?([^";\r\n]+)"?', raw, re.IGNORECASE)
    if not boundaries:  # a single part claiming to be multipart, with a boundary found nowhere
        claim = b'Content-Type: multipart/mixed; boundary="nowhere"'
        without = re.sub(rb"(?im)^content-type:[^\r\n]*\r?\n", b"", raw, count=1)
        return claim + b"\r\n" + without
    boundary = rng.choice(boundaries)
    damaged = [
        boundary[:-1],  # every delimiter off by one character
        boundary + b"--",  # the closing delimiter where the opening ones should be
        b"",  # an empty boundary
    ][rng.randrange(3)]
    result = raw.replace(b"--" + boundary, b"--" + damaged, rng.randrange(1, 4))
    if result == raw:  # declared but never used: declare one that is not there either
        result = re.sub(rb'(?i)boundary="?' + re.escape(boundary), b'boundary="x', raw, count=1)
    return result


def swap_charsets(raw: bytes, rng: random.Random) -> bytes:
    swapped = re.sub(
        rb"(?i)charset=\"?[\w.:-]*\"?",
        lambda _: b"charset=" + rng.choice(CHARSETS).encode(),
        raw,
    )
    if swapped == raw:  # no charset anywhere: a Subject in an encoded word of a charset nobody has
        swapped = b"Subject: =?x-unknown?q?caf=E9?= =?utf-7?q?+AGQ-?=\r\n" + raw
    return swapped


def flip_bytes(raw: bytes, rng: random.Random) -> bytes:
    data = bytearray(raw)
    for _ in range(rng.randrange(1, 12)):
        at = rng.randrange(len(data))
        data[at] = rng.randrange(1, 256)  # never NUL: IMAP literals may not carry it
    return bytes(data)


MUTATIONS: list[Callable[[bytes, random.Random], bytes]] = [
    truncate,
    repeat_headers,
    damage_boundaries,
    swap_charsets,
    flip_bytes,
]


def messages() -> Iterator[tuple[str, bytes]]:
    """The corpus, and per file two of the mutations (each kind for two files in five),
    seeded by the file's name and the mutation's: the same bytes on every run."""
    for index, path in enumerate(sorted(CORPUS.glob("*.eml"))):
        raw = path.read_bytes()
        yield path.name, raw
        for mutation in [MUTATIONS[(index + k) % len(MUTATIONS)] for k in range(PER_FILE)]:
            name = f"{path.name}:{mutation.__name__}"
            mutated = mutation(raw, random.Random(name))  # noqa: S311 - seeded test data
            assert mutated != raw, name
            yield name, mutated


@pytest.fixture
def appended(services: DevServices, mail_user: MailUser) -> dict[int, str]:
    """UID -> what it is, in the folder FOLDER."""
    imap = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    imap.login(mail_user.username, mail_user.password)
    imap.create_folder(FOLDER)
    found = {}
    try:
        for name, raw in messages():
            response = imap.append(FOLDER, raw)
            match = re.search(rb"APPENDUID \d+ (\d+)", response)
            assert match, (name, response)
            found[int(match.group(1))] = name
    finally:
        imap.logout()
    return found


def timed_get(client: httpx.Client, path: str, what: str) -> httpx.Response:
    started = time.monotonic()
    try:
        response = client.get(path)
    except httpx.TimeoutException:
        pytest.fail(f"{what}: {path} did not answer within {BOUND_SECONDS} s")
    elapsed = time.monotonic() - started
    assert elapsed < BOUND_SECONDS, (what, path, elapsed)
    assert response.status_code < 500, (what, path, response.status_code, response.text[:500])
    return response


def test_the_corpus_and_its_mutations_never_break_a_route_or_the_folder(
    settings: Settings, mail_user: MailUser, appended: dict[int, str]
) -> None:
    assert len(appended) == (1 + PER_FILE) * len(list(CORPUS.glob("*.eml")))
    with (
        serve_in_thread(settings) as url,
        httpx.Client(base_url=url, follow_redirects=False, timeout=BOUND_SECONDS) as client,
    ):
        assert sign_in(client, mail_user).status_code == 303  # type: ignore[arg-type]
        for uid, name in appended.items():
            for path in (
                f"/mail/{FOLDER}/{uid}",
                f"/mail/{FOLDER}/{uid}/body",
                f"/mail/{FOLDER}/{uid}/source",
                f"/mail/{FOLDER}/{uid}/raw",
                f"/compose?reply={FOLDER}/{uid}",
                f"/compose?forward={FOLDER}/{uid}",
            ):
                response = timed_get(client, path, name)
                assert response.status_code == 200, (name, path, response.status_code, response.text[:500])
        listed: set[int] = set()
        for page in range(1, len(appended) // PAGE_SIZE + 2):
            response = timed_get(client, f"/mail/{FOLDER}?page={page}", "list")
            assert response.status_code == 200
            listed |= {int(uid) for uid in re.findall(r'data-uid="(\d+)"', response.text)}
        assert listed == set(appended)
        searched = timed_get(client, f"/mail/{FOLDER}?q=from:example", "search")
        assert searched.status_code == 200
