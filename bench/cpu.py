"""Benchmark: server CPU per operation, as the browser asks for it, against raw imapclient.

One run, one machine: a private Dovecot with an N-message INBOX (10,000 by default), Redis, and the
app as a real ``webmail serve`` process. For each operation it prints the wall median/p95 and the CPU
that each server spent per request, read from /proc (user + system time of every process in the
server's session, reaped children included): the app (all its processes), Dovecot (master and imap
processes) and Redis; next to the same IMAP work done by raw imapclient on one warm connection
(its Dovecot CPU and the client's own CPU: the floor).

Operations:
  list partial   GET /mail/INBOX with HX-Request and HX-Target: message-list (what a folder click asks)
  list after a change  the same, right after another client flagged or unflagged a message of the page
  open by click  GET /mail/INBOX/<uid> with HX-Target: reader, then its /body frame (never opened before)
  re-open        the same click on a message opened before; and its /body frame alone
  newsletter     open by click and re-open of a 100 KB HTML newsletter
  search         first page of a sender search, as the search box asks it (HX-Target: message-list)
then (``--load``) 20 users for ``--seconds`` on 2 and 4 workers next to 20 raw loops (bench/cluster.py),
with the CPU each server spent per request.

``--profile`` samples the app process with py-spy while it serves each operation and prints the
top 20 functions by cumulative and by own time.

Run: .venv/bin/python bench/cpu.py [--messages 10000] [--rounds 60] [--profile DIR] [--load] [--seconds 60]
     .venv/bin/python bench/cpu.py --summarise DIR/list_partial.txt   (a kept profile again)
"""

from __future__ import annotations

import argparse
import html
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from imapclient import IMAPClient
from imapclient.response_parser import parse_fetch_response

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.cluster import ITEMS, serve, sign_in, stop
from bench.reading import PASSWORD, USER, write_maildir
from webmail.devservices import DevServices
from webmail.imap.messages import SUMMARY_ITEMS
from webmail.mail.structure import layout, parse_bodystructure

FRAME = re.compile(r'<iframe class="mail-body" src="([^"]+)"')


def html_small(i: int) -> bytes:
    """A small message with plain and HTML alternatives (opened into the body frame)."""
    boundary = f"b{i}"
    return (
        f"From: Sender {i % 97} <sender{i % 97}@example.org>\r\nTo: {USER}\r\n"
        f"Subject: Message number {i}\r\nDate: Mon, 2 Mar 2026 10:{i % 60:02d}:00 +0000\r\n"
        f"Message-ID: <m{i}@example.org>\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello, this is message {i}.\r\n"
        f"--{boundary}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        f'<div style="font-family:Arial"><p>Hello, this is <b>message {i}</b>.</p>'
        f'<p><a href="https://example.org/{i}">A link</a></p></div>\r\n--{boundary}--\r\n'
    ).encode()


TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")
LIST = {"HX-Request": "true", "HX-Target": "message-list"}
READER = {"HX-Request": "true", "HX-Target": "reader"}


def _stat(pid: str) -> list[bytes] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            # After the command: state ppid pgrp session ... utime(11) stime(12) cutime(13) cstime(14)
            return f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None


def session_cpu_ms(session: int) -> float:
    """CPU (user + system, reaped children included) of every process in a session, in ms."""
    total = 0
    for entry in os.scandir("/proc"):
        fields = _stat(entry.name) if entry.name.isdigit() else None
        if fields is not None and int(fields[3]) == session:
            total += sum(int(x) for x in fields[11:15])
    return total * TICK_MS


def process_cpu_ms(pid: int) -> float:
    """CPU of one process (Redis: started in this benchmark's own session, so not by session)."""
    fields = _stat(str(pid))
    return sum(int(x) for x in fields[11:15]) * TICK_MS if fields else 0.0


class Meter:
    """CPU of the app, Dovecot and Redis (and this process's calling thread) over a block of work."""

    def __init__(self, services: DevServices, app_pid: int | None) -> None:
        self.sessions = {"app": app_pid, "dovecot": os.getsid(services.dovecot.process.pid)}
        self.redis_pid = services.redis.process.pid

    def read(self) -> dict[str, float]:
        figures = {name: session_cpu_ms(sid) for name, sid in self.sessions.items() if sid is not None}
        figures["redis"] = process_cpu_ms(self.redis_pid)
        figures["client"] = time.thread_time() * 1000
        return figures

    def run(self, work: Callable[[], object], rounds: int) -> tuple[list[float], dict[str, float]]:
        for _ in range(3):
            work()
        timings = []
        before = self.read()
        for _ in range(rounds):
            started = time.perf_counter()
            work()
            timings.append((time.perf_counter() - started) * 1000)
        after = self.read()
        return timings, {name: (after[name] - before[name]) / rounds for name in after}


def report(
    name: str, timings: list[float], cpu: dict[str, float], floor: tuple[list[float], dict[str, float]] | None
) -> None:
    median, p95 = statistics.median(timings), statistics.quantiles(timings, n=20)[-1]
    text = (
        f"{name:<22} {median:6.2f} ms p95 {p95:6.2f} | CPU/req app {cpu['app']:5.2f} ms"
        f" dovecot {cpu['dovecot']:4.2f} redis {cpu['redis']:4.2f}"
    )
    if floor is not None:
        raw_t, raw_cpu = floor
        text += (
            f" | raw {statistics.median(raw_t):5.2f} ms: client {raw_cpu['client']:4.2f}"
            f" dovecot {raw_cpu['dovecot']:4.2f}"
        )
    print(text, flush=True)


# Samples whose innermost frame is one of these are a thread or the event loop waiting, not work.
IDLE = (
    "Runner.run (runners.py)",
    "Condition.wait (threading.py)",
    "Queue.get (queue.py)",
    "select (selectors.py)",
)
# Frames every request passes through (interpreter start, server, middleware): not where time goes.
PLUMBING = ("runpy", "main.py", "runners.py", "server.py", "_compat.py", "cli.py", "threading.py",
            "applications.py", "errors.py", "_exception_handler.py", "asyncexitstack.py", "_asgi.py",
            "_body_limit.py", "observe.py", "httptools_impl.py", "middleware", "proxy_headers.py",
            "base_events.py", "events.py")  # fmt: skip


def frame_name(frame: str) -> str:
    """``function (path/file.py:line)`` -> ``function (file.py)``."""
    function, _, where = frame.partition(" (")
    return f"{function} ({where.split(':')[0].rsplit('/', 1)[-1].rstrip(')')})"


def summarise_profile(raw: Path, top: int = 20) -> None:
    """py-spy's raw (collapsed) stacks: the top functions by cumulative and by own samples, idle
    samples left out."""
    cumulative: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = idle = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        frames = [frame_name(frame) for frame in stack.split(";")]
        if frames[-1] in IDLE:
            idle += samples
            continue
        total += samples
        for frame in set(frames):
            if not any(part in frame for part in PLUMBING):
                cumulative[frame] += samples
        own[frames[-1]] += samples
    if not total:
        print("  (no samples)")
        return
    print(f"  {total} busy samples ({idle} idle left out); top {top} cumulative:")
    for frame, samples in cumulative.most_common(top):
        print(f"    {100 * samples / total:5.1f}%  {frame}")
    print(f"  top {top} own:")
    for frame, samples in own.most_common(top):
        print(f"    {100 * samples / total:5.1f}%  {frame}")


class Profiler:
    def __init__(self, pid: int, workdir: Path) -> None:
        self.pid, self.workdir = pid, workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))

    def sample(self, name: str, work: Callable[[], object], seconds: float) -> None:
        out = self.workdir / f"{name.replace(' ', '_')}.txt"
        spy = subprocess.Popen(
            # --gil: only the thread holding the GIL, so a thread waiting for it is not counted as work.
            [self.spy, "record", "--pid", str(self.pid), "--format", "raw", "--rate", "250", "--gil",
             "--nonblocking", "--output", str(out), "--duration", str(int(seconds))],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(1)  # py-spy attaches
        deadline = time.monotonic() + seconds - 1.5
        while time.monotonic() < deadline:
            work()
        spy.wait(30)
        print(f"\n-- profile: {name}")
        summarise_profile(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument(
        "--profile", metavar="DIR", help="py-spy the app per operation; raw stacks kept in DIR"
    )
    parser.add_argument("--profile-seconds", type=float, default=12)
    parser.add_argument("--load", action="store_true", help="20 users on 2 and 4 workers too")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--summarise", metavar="FILE", help="only summarise a kept py-spy profile")
    args = parser.parse_args()
    if args.summarise:
        summarise_profile(Path(args.summarise))
        return
    with DevServices(max_userip_connections=50) as services, tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        services.dovecot.add_user(USER, PASSWORD)
        write_maildir(services, args.messages, html_small)
        raw = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
        raw.login(USER, PASSWORD)
        total = raw.select_folder("INBOX")[b"EXISTS"]
        uids = raw.search(["ALL"])
        big_uid = raw.search(["SUBJECT", "The big newsletter"])[0]
        url, process = serve(services, workdir, workers=1, prefix="cpu")
        try:
            client = sign_in(url, USER, PASSWORD)
            uidvalidity = raw.folder_status("INBOX", [b"UIDVALIDITY"])[b"UIDVALIDITY"]
            # The app's one worker is the server's only child: profile that one, not the supervisor.
            worker = process.pid
            meter = Meter(services, os.getsid(process.pid))
            rounds = args.rounds
            print(
                f"{args.messages:,} messages, {rounds} requests per operation, 1 worker; load {os.getloadavg()[0]:.2f}"
            )

            def raw_list() -> object:
                raw.noop()
                count = raw.folder_status("INBOX", [b"MESSAGES"])[b"MESSAGES"]
                typ, data = raw._imap.fetch(f"{max(1, count - 49)}:{count}", ITEMS)
                return parse_fetch_response(data, False, False)

            def raw_open(uid: int) -> object:
                data = raw.fetch([uid], [*SUMMARY_ITEMS, "BODY.PEEK[HEADER]"])[uid]
                plan = layout(parse_bodystructure(data[b"BODYSTRUCTURE"]))
                return raw.fetch([uid], [f"BODY.PEEK[{part.section}]" for part in plan.body])

            def get(path: str, headers: dict[str, str] | None = None) -> int:
                response = client.get(path, headers=headers)
                assert response.status_code == 200, (path, response.status_code)
                return len(response.content)

            frames: dict[int, str] = {}

            def click(uid: int) -> object:
                """The reader partial, then its body frame, as the browser loads them: the list's
                link carries the folder's UIDVALIDITY (``uv``)."""
                response = client.get(f"/mail/INBOX/{uid}?uv={uidvalidity}", headers=READER)
                assert response.status_code == 200, response.status_code
                found = FRAME.search(response.text)
                if found:
                    frames[uid] = html.unescape(found.group(1))
                    get(frames[uid])
                return response

            # Messages never opened, on list pages 5 and on; a click is on a row that was listed
            # first (so the server has their previews at hand, as after any list).
            fresh = iter(u for u in reversed(uids[: total - 200]) if u != big_uid)
            for page in range(5, 5 + (rounds + 3 * 2) // 50 + 2):
                get(f"/mail/INBOX?page={page}", LIST)
            opened: list[int] = []

            def open_click() -> object:
                uid = next(fresh)
                opened.append(uid)
                return click(uid)

            again = iter(range(10**9))

            def reopen_click() -> object:
                return click(opened[next(again) % len(opened)])

            def reopen_body() -> object:
                return get(frames[opened[next(again) % len(opened)]])

            flips = iter(range(10**9))

            def list_after_change() -> object:
                """Another client flags or unflags one message of the page, then the list partial:
                the page's HTML is stale, its other 49 rows are not."""
                n = next(flips)
                uid = uids[-1 - n % 50]
                (raw.add_flags if n % 100 < 50 else raw.remove_flags)([uid], [b"\\Flagged"])
                return get("/mail/INBOX", LIST)

            raw_uid = iter(range(10**9))
            search = "/mail/INBOX?q=from:sender7@example.org"
            print(f"list partial {get('/mail/INBOX', LIST):,} bytes; full page {get('/mail/INBOX'):,} bytes; "
                  f"reader partial {get(f'/mail/INBOX/{uids[-1]}', READER):,} bytes")  # fmt: skip

            def raw_search() -> object:
                raw.noop()
                found = sorted(raw.search(["FROM", "sender7@example.org"]), reverse=True)[:50]
                return raw.fetch(found, list(SUMMARY_ITEMS))

            report("list partial", *meter.run(lambda: get("/mail/INBOX", LIST), rounds),
                   meter.run(raw_list, rounds))  # fmt: skip
            report("list after a change", *meter.run(list_after_change, rounds), None)
            report("open by click", *meter.run(open_click, rounds),
                   meter.run(lambda: raw_open(uids[next(raw_uid) % total]), rounds))  # fmt: skip
            report("re-open by click", *meter.run(reopen_click, rounds), None)
            report("re-open body", *meter.run(reopen_body, rounds), None)
            report("newsletter open", *meter.run(lambda: click(big_uid), rounds),
                   meter.run(lambda: raw_open(big_uid), rounds))  # fmt: skip
            report("newsletter re-open", *meter.run(lambda: get(frames[big_uid]), rounds), None)
            report("search first page", *meter.run(lambda: get(search, LIST), rounds),
                   meter.run(raw_search, rounds))  # fmt: skip
            if args.profile:
                profiler = Profiler(worker, Path(args.profile))
                seconds = args.profile_seconds
                profiler.sample("list partial", lambda: get("/mail/INBOX", LIST), seconds)
                profiler.sample("list after a change", list_after_change, seconds)
                profiler.sample("open by click", open_click, seconds)
                profiler.sample("re-open by click", reopen_click, seconds)
                profiler.sample("re-open body", reopen_body, seconds)
            client.close()
        finally:
            stop(process)
            raw.logout()
        if args.load:
            from bench.cluster import load_test

            for workers in (2, 4):
                load_test(services, workdir, args.seconds, workers, users_prefix=f"w{workers}-")


if __name__ == "__main__":
    main()
