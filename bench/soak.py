"""Soak: many users with a realistic mix against real worker processes, on loopback (issue 21).

Each simulated user signs in, keeps one live-update stream (/events) open, and loops over a
weighted mix: list a page, open a message, search, flag and unflag, move to Trash and undo,
write a message with an attachment to themselves. Every few seconds a sampler records the
workers' RSS, Redis's client count and the most IMAP connections one user has at Dovecot.

Prints throughput, p50/p95/p99 per action, errors (any 5xx, any transport error), and the
samples over time with first-vs-last ratios (flat memory and Redis clients: no leak).

Run: .venv/bin/python bench/soak.py [--users 200] [--seconds 600] [--workers 4]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import httpx2 as httpx
from imapclient import IMAPClient
from redis import Redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.cluster import serve, sign_in, stop
from bench.reading import small
from webmail.devservices import DevServices

SESSION_TOKEN = re.compile(r'"X-CSRF-Token": "([^"]+)"')
ROW = re.compile(r'data-uid="(\d+)"')
# (action, weight): reading dominates, as it does for people.
MIX = [("list", 30), ("open", 30), ("search", 10), ("flag", 10), ("move", 8), ("compose", 4), ("page2", 8)]


def rss_kib(root_pid: int) -> int:
    """Resident memory of the server process and its workers (its children), in KiB."""
    total = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        pid = int(status.parent.name)
        ppid = int(re.search(r"PPid:\s+(\d+)", text).group(1))  # type: ignore[union-attr]
        if pid == root_pid or ppid == root_pid:
            found = re.search(r"VmRSS:\s+(\d+)", text)
            total += int(found.group(1)) if found else 0
    return total


class User:
    def __init__(self, url: str, name: str, password: str) -> None:
        self.name = name
        self.client = sign_in(url, name, password)
        page = self.client.get("/mail/INBOX").text
        token = SESSION_TOKEN.search(page)
        assert token, "no CSRF token on the list page"
        self.token = token.group(1)
        self.uids = [int(uid) for uid in ROW.findall(page)]
        self.turn = 0

    def step(self, action: str) -> httpx.Response:
        self.turn += 1
        uid = self.uids[self.turn % len(self.uids)]
        headers = {"X-CSRF-Token": self.token}
        if action == "list":
            return self.client.get("/mail/INBOX")
        if action == "page2":
            return self.client.get("/mail/INBOX?page=2")
        if action == "open":
            return self.client.get(f"/mail/INBOX/{uid}")
        if action == "search":
            return self.client.get("/mail/INBOX", params={"q": f"number {self.turn % 50}"})
        if action == "flag":
            value = "1" if self.turn % 2 else "0"
            return self.client.post(f"/mail/INBOX/{uid}/flags", data={"flag": "flagged", "value": value},
                                    headers=headers)  # fmt: skip
        if action == "move":
            moved = self.client.post(f"/mail/INBOX/{uid}/delete", headers=headers)
            page = self.client.get("/mail/INBOX").text
            undo = re.search(r'action="([^"]*/undo)">(.*?)</form>', page, re.S)
            if undo:
                fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', undo.group(2)))
                self.client.post(undo.group(1), data=fields, headers=headers)
                self.uids = [int(u) for u in ROW.findall(self.client.get("/mail/INBOX").text)] or self.uids
            return moved
        form = {"to": self.name, "subject": f"Soak {self.turn}", "body": "See the attached notes."}
        return self.client.post("/compose/send", data=form, headers=headers,
                                files={"attachments": ("notes.txt", b"x" * 20_000, "text/plain")})  # fmt: skip


def hold_stream(url: str, cookies: httpx.Cookies, stop_at: float, opened: list[int]) -> None:
    """One live-update stream, read until the end of the run (reopened if it ends)."""
    with httpx.Client(base_url=url, cookies=cookies, timeout=30) as client:
        while time.monotonic() < stop_at:
            try:
                with client.stream("GET", "/events") as response:
                    opened.append(response.status_code)
                    for _ in response.iter_lines():
                        if time.monotonic() >= stop_at:
                            return
            except httpx.HTTPError:
                time.sleep(1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--messages", type=int, default=120, help="per user")
    args = parser.parse_args()
    weights = [action for action, weight in MIX for _ in range(weight)]
    with DevServices() as services, tempfile.TemporaryDirectory() as tmp:
        names = []
        for n in range(args.users):
            name = f"soak{n}@example.test"
            services.dovecot.add_user(name, "pw")
            imap = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
            imap.login(name, "pw")
            for i in range(args.messages):
                imap.append("INBOX", small(i))
            imap.logout()
            names.append(name)
        url, process = serve(services, Path(tmp), workers=args.workers, prefix="soak",
                             extra={"WEBMAIL_UNDO_SEND_SECONDS": "0"})  # fmt: skip
        redis = Redis.from_url(services.redis.url)
        try:
            users = [User(url, name, "pw") for name in names]
            stop_at = time.monotonic() + args.seconds
            latencies: dict[str, list[float]] = defaultdict(list)
            errors: dict[str, int] = defaultdict(int)
            samples: list[tuple[float, int, int, int]] = []
            opened: list[int] = []
            lock = threading.Lock()

            def loop(index: int, user: User) -> None:
                turn = index
                while time.monotonic() < stop_at:
                    turn += 7
                    action = weights[turn % len(weights)]
                    started = time.perf_counter()
                    try:
                        status = user.step(action).status_code
                    except httpx.HTTPError:
                        status = 599
                    with lock:
                        latencies[action].append((time.perf_counter() - started) * 1000)
                        if status >= 500:
                            errors[action] += 1

            def sample() -> None:
                began = time.monotonic()
                while time.monotonic() < stop_at:
                    who = services.dovecot.doveadm("who", "-1")
                    per_user: dict[str, int] = defaultdict(int)
                    for line in who.splitlines()[1:]:
                        fields = line.split()
                        if len(fields) >= 2 and fields[1] == "imap":
                            per_user[fields[0]] += 1
                    samples.append((time.monotonic() - began, rss_kib(process.pid), len(redis.client_list()),
                                    max(per_user.values(), default=0)))  # fmt: skip
                    time.sleep(5)

            threads = [threading.Thread(target=loop, args=(i, u), daemon=True) for i, u in enumerate(users)]
            threads += [threading.Thread(target=hold_stream, args=(url, u.client.cookies, stop_at, opened),
                                         daemon=True) for u in users]  # fmt: skip
            threads.append(threading.Thread(target=sample, daemon=True))
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(args.seconds + 120)
        finally:
            stop(process)
            redis.close()
    report(args, latencies, errors, samples, opened)


def report(
    args: argparse.Namespace,
    latencies: dict[str, list[float]],
    errors: dict[str, int],
    samples: list[tuple[float, int, int, int]],
    opened: list[int],
) -> None:
    total = sum(len(values) for values in latencies.values())
    print(f"\n== soak: {args.users} users, {args.seconds:.0f} s, {args.workers} workers ==")
    print(f"requests {total}  throughput {total / args.seconds:.1f}/s  errors {sum(errors.values())}  "
          f"streams opened {len(opened)} (not 200: {sum(1 for s in opened if s != 200)})")  # fmt: skip
    for action, values in sorted(latencies.items()):
        q = statistics.quantiles(values, n=100) if len(values) > 1 else values * 99
        print(f"{action:<8} n={len(values):6d}  p50 {q[49]:7.1f} ms  p95 {q[94]:7.1f} ms  p99 {q[98]:7.1f} ms"
              f"  errors {errors.get(action, 0)}")  # fmt: skip
    print("t(s)   RSS(MiB)  redis clients  max IMAP conns/user")
    for at, rss, clients, conns in samples:
        print(f"{at:5.0f}  {rss / 1024:8.1f}  {clients:13d}  {conns:19d}")
    if len(samples) >= 4:
        settled = samples[len(samples) // 4]  # after warm-up
        last = samples[-1]
        print(
            f"last/after-warm-up: RSS {last[1] / settled[1]:.2f}x  Redis clients {last[2] / max(settled[2], 1):.2f}x"
        )


if __name__ == "__main__":
    main()
