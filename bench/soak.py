"""Soak: many users with a realistic mix against real `webmail serve` workers, on loopback (issue 21).

Each simulated user (asyncio + httpx, one client per user) signs in, keeps its live-update
stream (/events) open for the whole run, and loops over a weighted mix with a think time between
actions: list a page, the next page, open a message, search, flag or unflag, move to Trash and
undo, write a message with an attachment to themselves. A sampler records, every few seconds,
the workers' RSS, Redis's client count and the most IMAP connections one user has at Dovecot
(``doveadm who``).

Prints throughput, p50/p95/p99 per action and overall, errors (any 5xx, any transport error), the
samples over time, and first/last/max of each sample after warm-up (flat: no leak). A 60-second
version runs in the suite (tests/integration/test_soak.py) and asserts on ``SoakReport``.

Run: .venv/bin/python bench/soak.py [--users 200] [--seconds 600] [--workers 4] [--think 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pwd
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx2 as httpx
from redis import Redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.cluster import serve, stop
from webmail.devservices import DevServices

PASSWORD = "soak-pw"
SESSION_TOKEN = re.compile(r'"X-CSRF-Token": "([^"]+)"')
LOGIN_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
ROW = re.compile(r'data-uid="(\d+)"')
UNDO = re.compile(r'<form method="post" action="([^"]*/undo)">(.*?)</form>', re.S)
HIDDEN = re.compile(r'name="(\w+)" value="([^"]*)"')
# (action, weight): reading dominates, as it does for people.
MIX = [("list", 30), ("open", 30), ("page2", 8), ("search", 10), ("flag", 10), ("move", 8), ("compose", 4)]
IMAP_POLL_SECONDS = 1.0
KEEPALIVE_SECONDS = 3.0
TITLE = re.compile(r"<h1[^>]*>([^<]*)</h1>")
ATTACHMENT = b"Notes for the meeting.\n" * 900  # about 20 kB


@dataclass(frozen=True)
class SoakConfig:
    users: int = 200
    seconds: float = 600
    workers: int = 4
    messages: int = 120  # per user
    think_seconds: float = 2.0  # mean pause between one user's actions
    sample_seconds: float = 5.0
    seed: int = 21


@dataclass(frozen=True)
class Sample:
    at: float  # seconds since the load began
    rss_kib: int  # the server process and its workers
    redis_clients: int
    max_imap_per_user: int  # the most one user had at Dovecot since the previous sample


@dataclass
class SoakReport:
    config: SoakConfig
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[str] = field(default_factory=Counter)  # "action status" -> count
    refusals: Counter[str] = field(default_factory=Counter)  # 4xx: "action status" -> count
    error_words: Counter[str] = field(default_factory=Counter)  # what the 5xx pages said
    samples: list[Sample] = field(default_factory=list)
    streams_opened: int = 0
    streams_refused: int = 0
    events: int = 0
    elapsed: float = 0.0
    load: tuple[float, float] = (0.0, 0.0)  # the machine's 1-minute load average at start and end

    @property
    def requests(self) -> int:
        return sum(len(values) for values in self.latencies.values())

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def settled(self) -> list[Sample]:
        """The samples after warm-up (the first quarter of the run: caches and pools filling)."""
        return [s for s in self.samples if s.at >= self.config.seconds / 4] or self.samples

    def max_imap_per_user(self) -> int:
        return max((s.max_imap_per_user for s in self.samples), default=0)

    def print(self, write: Callable[[str], object] = print) -> None:
        c = self.config
        write(
            f"\n== soak: {c.users} users, {c.seconds:.0f} s, {c.workers} workers, think {c.think_seconds} s =="
        )
        write(
            f"machine load average {self.load[0]:.1f} at the start, {self.load[1]:.1f} at the end ({os.cpu_count()} cores)"
        )
        write(f"requests {self.requests}  throughput {self.requests / max(self.elapsed, 1e-9):.1f}/s  "
              f"errors {self.error_count} {dict(self.errors) if self.errors else ''}")  # fmt: skip
        if self.error_words:
            write(f"the 5xx pages said: {dict(self.error_words)}")
        write(f"4xx answers {sum(self.refusals.values())} {dict(self.refusals) if self.refusals else ''}")
        write(
            f"live streams opened {self.streams_opened} (refused {self.streams_refused}), events {self.events}"
        )
        everything = [v for values in self.latencies.values() for v in values]
        for action, values in [*sorted(self.latencies.items()), ("all", everything)]:
            p50, p95, p99 = percentiles(values)
            errors = sum(n for key, n in self.errors.items() if key.split()[0] == action)
            write(f"{action:<8} n={len(values):6d}  p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  p99 {p99:7.1f} ms"
                  f"  errors {errors if action != 'all' else self.error_count}")  # fmt: skip
        write("t(s)   RSS(MiB)  redis clients  max IMAP conns/user")
        for s in self.samples:
            write(f"{s.at:5.0f}  {s.rss_kib / 1024:8.1f}  {s.redis_clients:13d}  {s.max_imap_per_user:19d}")
        settled = self.settled()
        if settled:
            for name, values in (
                ("RSS MiB", [s.rss_kib / 1024 for s in settled]),
                ("Redis clients", [float(s.redis_clients) for s in settled]),
                ("IMAP conns/user", [float(s.max_imap_per_user) for s in settled]),
            ):
                write(
                    f"after warm-up {name:<16} first {values[0]:8.1f}  last {values[-1]:8.1f}  max {max(values):8.1f}"
                )


def percentiles(values: list[float]) -> tuple[float, float, float]:
    if not values:
        return (0.0, 0.0, 0.0)
    if len(values) == 1:
        return (values[0], values[0], values[0])
    q = statistics.quantiles(values, n=100, method="inclusive")
    return (q[49], q[94], q[98])


def message(user: str, i: int) -> bytes:
    return (
        f"From: Sender {i % 37} <sender{i % 37}@example.org>\r\nTo: {user}\r\n"
        f"Subject: Message number {i}\r\nDate: Mon, 2 Mar 2026 10:{i % 60:02d}:00 +0000\r\n"
        f"Message-ID: <soak{i}.{abs(hash(user)) % 10**8}@example.org>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Hello, this is message {i}.\r\n" + "A line of ordinary text.\r\n" * (i % 20)
    ).encode()


def seed_users(services: DevServices, config: SoakConfig) -> list[str]:
    """The users and their INBOXes, written straight into Maildirs (Dovecot indexes them on first login)."""
    names = []
    now = int(time.time()) - config.messages
    for n in range(config.users):
        name = f"soak{n}@example.test"
        services.dovecot.add_user(name, PASSWORD)
        home = services.dovecot.root / "mail" / name
        for sub in ("cur", "new", "tmp"):
            (home / "Maildir" / sub).mkdir(parents=True, exist_ok=True)
        for i in range(config.messages):
            raw = message(name, i)
            flags = "S" if i % 3 else ""
            (home / "Maildir" / "cur" / f"{now + i}.M{i}P1.soak,S={len(raw)}:2,{flags}").write_bytes(raw)
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            for path in [home, *home.rglob("*")]:
                os.chown(path, nobody.pw_uid, nobody.pw_gid)
        names.append(name)
    return names


def rss_kib(root_pid: int) -> int:
    """Resident memory of the server process and its workers (its children), in KiB."""
    total = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        pid = int(status.parent.name)
        parent = re.search(r"PPid:\s+(\d+)", text)
        if pid == root_pid or (parent and int(parent.group(1)) == root_pid):
            found = re.search(r"VmRSS:\s+(\d+)", text)
            total += int(found.group(1)) if found else 0
    return total


def max_imap_per_user(services: DevServices) -> int:
    try:
        who = services.dovecot.doveadm("who", "-1")
    except subprocess.CalledProcessError:  # anvil's answer timed out under load: no sample
        return 0
    per_user: Counter[str] = Counter()
    for line in who.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 2 and fields[1] == "imap":
            per_user[fields[0]] += 1
    return max(per_user.values(), default=0)


class User:
    def __init__(self, url: str, name: str, rng: random.Random, report: SoakReport) -> None:
        self.name = name
        self.rng = rng
        self.report = report
        # Idle connections are dropped before uvicorn's 5-second keep-alive ends: with both at
        # 5 s, a request sent as the server closes one is lost (browsers retry those; httpx not).
        limits = httpx.Limits(keepalive_expiry=KEEPALIVE_SECONDS)
        self.client = httpx.AsyncClient(base_url=url, follow_redirects=False, timeout=60, limits=limits,
                                        event_hooks={"response": [self._note]})  # fmt: skip
        self.last_error = ""
        self.token = ""
        self.uids: list[int] = []
        self.turn = 0

    async def _note(self, response: httpx.Response) -> None:
        """Keep what a 5xx page says (its heading), for the report."""
        if response.status_code >= 500:
            await response.aread()
            found = TITLE.search(response.text)
            self.last_error = found.group(1).strip() if found else response.text[:80]

    async def sign_in(self) -> None:
        page = await self.client.get("/login")
        token = LOGIN_TOKEN.search(page.text)
        assert token, "no CSRF token on the sign-in page"
        data = {"username": self.name, "password": PASSWORD, "csrf_token": token.group(1)}
        response = await self.client.post("/login", data=data)
        assert response.status_code == 303, (self.name, response.status_code, response.text[:300])
        inbox = await self.client.get("/mail/INBOX")
        found = SESSION_TOKEN.search(inbox.text)
        assert found, "no CSRF token on the list page"
        self.token = found.group(1)
        self.uids = [int(uid) for uid in ROW.findall(inbox.text)]

    async def step(self, action: str) -> int:
        """One action; its status (the worst of its requests)."""
        self.turn += 1
        uid = self.uids[self.turn % len(self.uids)] if self.uids else 1
        headers = {"X-CSRF-Token": self.token}
        c = self.client
        if action == "list":
            page = await c.get("/mail/INBOX")
            self.uids = [int(u) for u in ROW.findall(page.text)] or self.uids
            return page.status_code
        if action == "page2":
            return (await c.get("/mail/INBOX", params={"page": "2"})).status_code
        if action == "open":
            opened = await c.get(f"/mail/INBOX/{uid}")
            body = await c.get(f"/mail/INBOX/{uid}/body")
            return max(opened.status_code, body.status_code)
        if action == "search":
            return (await c.get("/mail/INBOX", params={"q": f"number {self.rng.randrange(120)}"})).status_code
        if action == "flag":
            value = "1" if self.turn % 2 else "0"
            data = {"flag": "flagged", "value": value}
            return (await c.post(f"/mail/INBOX/{uid}/flags", data=data, headers=headers)).status_code
        if action == "move":
            moved = await c.post(f"/mail/INBOX/{uid}/delete", headers=headers)
            page = await c.get("/mail/INBOX")
            statuses = [moved.status_code, page.status_code]
            undo = UNDO.search(page.text)
            if undo:
                fields = dict(HIDDEN.findall(undo.group(2)))
                fields["csrf_token"] = self.token
                statuses.append((await c.post(undo.group(1), data=fields, headers=headers)).status_code)
                listing = await c.get("/mail/INBOX")
                statuses.append(listing.status_code)
                self.uids = [int(u) for u in ROW.findall(listing.text)] or self.uids
            return max(statuses)
        form = {"to": self.name, "subject": f"Soak {self.turn}", "body": "See the attached notes.",
                "csrf_token": self.token}  # fmt: skip
        files = {"attachments": ("notes.txt", ATTACHMENT, "text/plain")}
        return (await c.post("/compose/send", data=form, files=files, headers=headers)).status_code

    async def work(self, weights: list[str], stop_at: float) -> None:
        while (left := stop_at - time.monotonic()) > 0:
            await asyncio.sleep(min(left, self.rng.expovariate(1 / self.report.config.think_seconds)))
            if time.monotonic() >= stop_at:
                return
            action = self.rng.choice(weights)
            started = time.perf_counter()
            try:
                status = await self.step(action)
            except httpx.HTTPError as exc:
                status = 599
                self.report.errors[f"{action} {type(exc).__name__}"] += 1
            self.report.latencies[action].append((time.perf_counter() - started) * 1000)
            if 500 <= status < 599:
                self.report.errors[f"{action} {status}"] += 1
                self.report.error_words[self.last_error] += 1
            elif 400 <= status < 500:
                self.report.refusals[f"{action} {status}"] += 1

    async def listen(self, stop_at: float) -> None:
        """The live-update stream, open for the whole run (opened again if it ends)."""
        while time.monotonic() < stop_at:
            try:
                async with self.client.stream("GET", "/events", timeout=None) as response:
                    if response.status_code != 200:
                        self.report.streams_refused += 1
                        await asyncio.sleep(2)
                        continue
                    self.report.streams_opened += 1
                    async for line in response.aiter_lines():
                        if line.startswith("event:"):
                            self.report.events += 1
            except httpx.HTTPError:
                await asyncio.sleep(1)


async def sample(services: DevServices, redis: Redis, pid: int, report: SoakReport, began: float,
                 stop_at: float) -> None:  # fmt: skip
    """Every sample_seconds: RSS and Redis clients, and the most IMAP connections one user had,
    looked at every second in between (a peak between two samples is not missed)."""
    peak = 0

    async def watch_imap() -> None:
        nonlocal peak
        while time.monotonic() < stop_at:
            peak = max(peak, await asyncio.to_thread(max_imap_per_user, services))
            await asyncio.sleep(IMAP_POLL_SECONDS)

    watcher = asyncio.create_task(watch_imap())
    try:
        while True:
            rss, clients = await asyncio.gather(
                asyncio.to_thread(rss_kib, pid), asyncio.to_thread(lambda: len(redis.client_list()))
            )
            report.samples.append(Sample(time.monotonic() - began, rss, clients, peak))
            peak = 0
            if time.monotonic() + report.config.sample_seconds > stop_at:
                return
            await asyncio.sleep(report.config.sample_seconds)
    finally:
        watcher.cancel()


async def drive(
    services: DevServices, url: str, pid: int, names: list[str], config: SoakConfig
) -> SoakReport:
    report = SoakReport(config)
    weights = [action for action, weight in MIX for _ in range(weight)]
    users = [
        User(url, name, random.Random(config.seed * 100_003 + n), report) for n, name in enumerate(names)
    ]
    gate = asyncio.Semaphore(20)  # sign-ins ten or twenty at a time, as a morning would bring them

    async def sign_in(user: User) -> None:
        async with gate:
            await user.sign_in()

    await asyncio.gather(*(sign_in(user) for user in users))
    redis = Redis.from_url(services.redis.url)
    load_at_start = os.getloadavg()[0]
    began = time.monotonic()
    stop_at = began + config.seconds
    try:
        tasks = [asyncio.create_task(user.listen(stop_at)) for user in users]
        await asyncio.sleep(1)  # the streams open (and their watchers start) before the load
        await asyncio.gather(
            *(user.work(weights, stop_at) for user in users),
            sample(services, redis, pid, report, began, stop_at),
        )
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        report.elapsed = time.monotonic() - began
        report.load = (load_at_start, os.getloadavg()[0])
    finally:
        redis.close()
        await asyncio.gather(*(user.client.aclose() for user in users))
    return report


def run_soak(
    services: DevServices, config: SoakConfig, workdir: Path, extra: dict[str, str] | None = None
) -> SoakReport:
    """Seed the users, start ``config.workers`` workers, drive the load, stop them; the report."""
    names = seed_users(services, config)
    url, process = serve(services, workdir, workers=config.workers, prefix=f"soak{os.getpid()}",
                         extra={"WEBMAIL_UNDO_SEND_SECONDS": "0", **(extra or {})})  # fmt: skip
    try:
        return asyncio.run(drive(services, url, process.pid, names, config))
    finally:
        stop(process)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--messages", type=int, default=120, help="per user")
    parser.add_argument("--think", type=float, default=2.0, help="mean seconds between one user's actions")
    parser.add_argument("--sample", type=float, default=5.0, help="seconds between samples")
    args = parser.parse_args()
    config = SoakConfig(args.users, args.seconds, args.workers, args.messages, args.think, args.sample)
    # Dovecot's per user+IP limit well above the app's own cap, so only the app's cap is measured.
    with DevServices(max_userip_connections=50) as services, tempfile.TemporaryDirectory() as tmp:
        report = run_soak(services, config, Path(tmp))
    report.print()


if __name__ == "__main__":
    main()
