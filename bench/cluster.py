"""Benchmark: the app as real worker processes sharing Redis, against raw imapclient.

Prints, in one run on one machine:
  1. a warm list page and a folder switch served by a different worker process than the one
     that filled the cache (50,000-message INBOX), next to raw imapclient on a warm connection;
  2. 20 signed-in users hammering list pages and messages for N seconds on a 4-worker server,
     next to 20 raw-imapclient loops doing the same IMAP work: requests/s, p95, errors, and the
     most IMAP connections one user ever had at Dovecot;
  3. the RSS a worker gains for 200 signed-in idle users, and Dovecot's count of their
     connections after the idle timeout;
  4. burst-then-spread on 4 workers with the defaults (2 pooled per worker, cap 4): one user's
     burst of 42 requests over 6 keep-alive browser connections fills the cap with connections
     that then sit idle in the workers those connections reached, then 32 page loads on fresh
     TCP connections land on any worker: their p50/p99, 503s, hand-overs and their wait, and the
     most connections the user ever had at Dovecot.

Run: .venv/bin/python bench/cluster.py [--messages 50000] [--seconds 60] [--idle-users 200]
     [--workers 4] [--parts cache,load,idle,burst]
"""

from __future__ import annotations

import argparse
import html
import os
import random
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import httpx2 as httpx
from imapclient import IMAPClient
from imapclient.response_parser import parse_fetch_response

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.reading import measure, small, write_maildir
from webmail.db.migrate import upgrade
from webmail.devservices import DevServices
from webmail.devservices.system import free_port, wait_for_port
from webmail.imap.messages import SUMMARY_ITEMS

USER, PASSWORD = "bench@example.test", "bench"
TABS, TAB_REQUESTS = 6, 7  # a browser opens up to 6 connections to one host
ITEMS = f"({' '.join(SUMMARY_ITEMS)})"


def serve(
    services: DevServices, workdir: Path, *, workers: int, prefix: str, extra: dict[str, str] | None = None
) -> tuple[str, subprocess.Popen[bytes]]:
    database = f"sqlite:///{workdir / 'bench.db'}"
    upgrade(database)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEBMAIL_")}
    env.update(services.env())
    env.update({
        "WEBMAIL_SECRET_KEY": "bench-" + "k" * 40,
        "WEBMAIL_DATABASE_URL": database,
        "WEBMAIL_REDIS_PREFIX": prefix,
        "WEBMAIL_LOGIN_MAX_FAILURES_PER_IP": "100000",
        **(extra or {}),
    })  # fmt: skip
    log = workdir / f"server-{port}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "webmail.cli", "serve", "--port", str(port), "--workers", str(workers)],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    wait_for_port(port, timeout=60, process=process)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{url}/healthz").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    return url, process


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def sign_in(url: str, username: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=url, follow_redirects=False, timeout=60)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token
    response = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token.group(1)}
    )
    assert response.status_code == 303, response.text[:300]
    return client


def summary(timings: list[float]) -> tuple[float, float]:
    return statistics.median(timings), statistics.quantiles(timings, n=20)[-1]


def warm_cache(services: DevServices, workdir: Path, messages: int, rounds: int) -> None:
    print(f"\n== 1. warm list page from another worker ({messages:,} messages) ==")
    services.dovecot.add_user(USER, PASSWORD)
    write_maildir(services, messages)
    raw = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    raw.login(USER, PASSWORD)
    raw.create_folder("Other")
    for i in range(60):
        raw.append("Other", small(i))
    raw.select_folder("INBOX")
    prefix = f"b{secrets.token_hex(3)}"
    # Two single-process servers sharing Redis: literally two workers; A fills, B serves.
    url_a, proc_a = serve(services, workdir, workers=1, prefix=prefix)
    url_b, proc_b = serve(services, workdir, workers=1, prefix=prefix)
    try:
        a = sign_in(url_a, USER, PASSWORD)
        b = httpx.Client(base_url=url_b, follow_redirects=False, timeout=60, cookies=a.cookies)
        assert a.get("/mail/INBOX").status_code == 200  # A fills the cache
        assert a.get("/mail/Other").status_code == 200
        assert b.get("/mail/INBOX").status_code == 200  # B's connection exists; the page came from the cache

        def raw_same_folder() -> object:
            raw.noop()
            total = raw.folder_status("INBOX", [b"MESSAGES"])[b"MESSAGES"]
            typ, data = raw._imap.fetch(f"{total - 49}:{total}", ITEMS)
            return parse_fetch_response(data, False, False)

        state = {"folder": "INBOX"}

        def raw_other_connection() -> object:
            # A raw client on a warm connection that does not have INBOX selected (as a different
            # worker's would not): SELECT, then the page.
            raw.select_folder("Other")
            total = raw.select_folder("INBOX")[b"EXISTS"]
            typ, data = raw._imap.fetch(f"{total - 49}:{total}", ITEMS)
            return parse_fetch_response(data, False, False)

        def raw_switch() -> object:
            state["folder"] = "Other" if state["folder"] == "INBOX" else "INBOX"
            total = raw.select_folder(state["folder"])[b"EXISTS"]
            typ, data = raw._imap.fetch(f"{max(1, total - 49)}:{total}", ITEMS)
            return parse_fetch_response(data, False, False)

        def app_switch() -> object:
            state["folder"] = "Other" if state["folder"] == "INBOX" else "INBOX"
            return b.get(f"/mail/{state['folder']}")

        for name, app, floor in (
            ("warm list page, same folder", lambda: b.get("/mail/INBOX"), raw_same_folder),
            ("  vs raw needing SELECT", lambda: b.get("/mail/INBOX"), raw_other_connection),
            ("folder switch (INBOX <-> Other)", app_switch, raw_switch),
        ):
            app_t, raw_t = measure(app, rounds), measure(floor, rounds)
            (am, ap), (rm, rp) = summary(app_t), summary(raw_t)
            print(
                f"{name:<34} app median {am:6.2f} ms p95 {ap:6.2f} | raw median {rm:6.2f} ms p95 {rp:6.2f} | ratio {am / rm:4.2f}x"
            )
        a.close()
        b.close()
    finally:
        stop(proc_a)
        stop(proc_b)
        raw.logout()


def load_test(
    services: DevServices, workdir: Path, seconds: float, workers: int, users_prefix: str = ""
) -> None:
    """Lists are asked for as htmx partials (HX-Target: message-list), messages as the reader
    partial plus the body frame: what a browser asks for on a click."""
    from bench.cpu import FRAME, Meter, html_small

    print(f"\n== 2. 20 users for {seconds:.0f} s on {workers} workers ==")
    users = []
    for n in range(20):
        username, password = f"{users_prefix}load{n}@example.test", "pw"
        services.dovecot.add_user(username, password)
        client = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
        client.login(username, password)
        for i in range(300):
            client.append("INBOX", html_small(i))
        client.logout()
        users.append((username, password))

    def run_loops(
        make_step: Callable[[int], Callable[[random.Random], tuple[str, bool]]],
    ) -> tuple[int, dict[str, list[float]], int]:
        """Each user's loop for ``seconds``; the latencies by kind of step ("list", "open")."""
        latencies: dict[str, list[float]] = {"list": [], "open": []}
        errors = [0]
        lock = threading.Lock()
        deadline = time.monotonic() + seconds

        def loop(index: int) -> None:
            step = make_step(index)
            rng = random.Random(index)
            while time.monotonic() < deadline:
                started = time.perf_counter()
                kind, ok = step(rng)
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    latencies[kind].append(elapsed)
                    errors[0] += 0 if ok else 1

        threads = [threading.Thread(target=loop, args=(i,)) for i in range(len(users))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return sum(map(len, latencies.values())), latencies, errors[0]

    # Raw: each loop has its own warm connection and does the same IMAP work as the app.
    raw_clients = []
    uidvalidities = []  # the list's links carry the folder's UIDVALIDITY (uv=), as a click sends it
    for username, password in users:
        client = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
        client.login(username, password)
        uidvalidities.append(client.select_folder("INBOX")[b"UIDVALIDITY"])
        raw_clients.append(client)

    def raw_step(index: int) -> Callable[[random.Random], tuple[str, bool]]:
        client = raw_clients[index]

        def step(rng: random.Random) -> tuple[str, bool]:
            if rng.random() < 0.5:
                client.noop()
                total = 300
                high = total - rng.randrange(0, 5) * 50
                typ, data = client._imap.fetch(f"{high - 49}:{high}", ITEMS)
                parse_fetch_response(data, False, False)
                return "list", True
            uid = rng.randrange(1, 301)
            client.fetch([uid], [*SUMMARY_ITEMS, "BODY.PEEK[HEADER]"])
            client.fetch([uid], ["BODY.PEEK[2]"])  # the HTML alternative
            return "open", True

        return step

    raw_meter = Meter(services, None)
    before = raw_meter.read()
    raw_count, raw_lat, _ = run_loops(raw_step)
    raw_dovecot = (raw_meter.read()["dovecot"] - before["dovecot"]) / max(raw_count, 1)
    for client in raw_clients:
        client.logout()

    prefix = f"l{secrets.token_hex(3)}"
    url, process = serve(services, workdir, workers=workers, prefix=prefix)
    maximum = [0]
    stop_watch = threading.Event()

    def watch() -> None:
        while not stop_watch.is_set():
            out = services.dovecot.doveadm("who", "-1")
            counts: dict[str, int] = {}
            for line in out.splitlines()[1:]:
                parts = line.split()
                if len(parts) >= 2 and parts[1] == "imap" and parts[0].startswith(f"{users_prefix}load"):
                    counts[parts[0]] = counts.get(parts[0], 0) + 1
            maximum[0] = max([maximum[0], *counts.values()])
            time.sleep(0.1)

    try:
        clients = [sign_in(url, username, password) for username, password in users]

        def app_step(index: int) -> Callable[[random.Random], tuple[str, bool]]:
            client = clients[index]
            reader = {"HX-Request": "true", "HX-Target": "reader"}
            listing = {"HX-Request": "true", "HX-Target": "message-list"}

            def step(rng: random.Random) -> tuple[str, bool]:
                if rng.random() < 0.5:
                    response = client.get(f"/mail/INBOX?page={rng.randrange(1, 6)}", headers=listing)
                    return "list", response.status_code == 200
                uid = rng.randrange(1, 301)
                response = client.get(f"/mail/INBOX/{uid}?uv={uidvalidities[index]}", headers=reader)
                frame = FRAME.search(response.text)
                if response.status_code != 200 or frame is None:
                    return "open", False
                return "open", client.get(html.unescape(frame.group(1))).status_code == 200

            return step

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        meter = Meter(services, os.getsid(process.pid))
        before = meter.read()
        app_count, app_lat, app_errors = run_loops(app_step)
        after = meter.read()
        stop_watch.set()
        watcher.join(5)
        for client in clients:
            client.close()
    finally:
        stop(process)
    app_rps, raw_rps = app_count / seconds, raw_count / seconds
    _, app_p95 = summary([*app_lat["list"], *app_lat["open"]])
    _, raw_p95 = summary([*raw_lat["list"], *raw_lat["open"]])
    cpu = {name: (after[name] - before[name]) / max(app_count, 1) for name in ("app", "dovecot", "redis")}
    print(
        f"app: {app_rps:7.1f} clicks/s  p95 {app_p95:6.1f} ms  errors {app_errors}  max IMAP connections per user at Dovecot {maximum[0]}"
    )
    print(
        f"     server CPU per click: app {cpu['app']:.2f} ms, dovecot {cpu['dovecot']:.2f} ms, redis {cpu['redis']:.2f} ms"
    )
    print(
        "     p95 by kind: "
        + ", ".join(f"{kind} {summary(app_lat[kind])[1]:.1f} ms ({len(app_lat[kind])})" for kind in app_lat)
    )
    print(f"raw: {raw_rps:7.1f} ops/s  p95 {raw_p95:6.1f} ms  dovecot CPU per op {raw_dovecot:.2f} ms")
    print(
        "     p95 by kind: "
        + ", ".join(f"{kind} {summary(raw_lat[kind])[1]:.1f} ms ({len(raw_lat[kind])})" for kind in raw_lat)
    )
    print(f"throughput ratio app/raw: {app_rps / raw_rps:4.2f}x")


def idle_users(services: DevServices, workdir: Path, count: int) -> None:
    print(f"\n== 3. {count} signed-in idle users on one worker ==")
    for n in range(count):
        services.dovecot.add_user(f"idle{n}@example.test", "pw")
    prefix = f"i{secrets.token_hex(3)}"
    idle_close = 15
    url, process = serve(services, workdir, workers=1, prefix=prefix,
                         extra={"WEBMAIL_IMAP_IDLE_CLOSE_SECONDS": str(idle_close)})  # fmt: skip

    def rss_mb() -> float:
        for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def dovecot_idle_connections() -> int:
        out = services.dovecot.doveadm("who", "-1")
        return sum(1 for line in out.splitlines()[1:] if line.startswith("idle") and " imap " in f" {line} ")

    try:
        warm = sign_in(url, "idle0@example.test", "pw")
        warm.get("/mail/INBOX")
        before = rss_mb()
        clients = []
        for n in range(1, count):
            client = sign_in(url, f"idle{n}@example.test", "pw")
            client.get("/mail/INBOX")
            clients.append(client)
        after = rss_mb()
        open_now = dovecot_idle_connections()
        print(f"worker RSS {before:.1f} MB -> {after:.1f} MB: +{after - before:.1f} MB for {count} users "
              f"({open_now} IMAP connections open at Dovecot)")  # fmt: skip
        time.sleep(idle_close + 20)
        print(
            f"after the idle timeout ({idle_close} s here): {dovecot_idle_connections()} of their connections remain at Dovecot"
        )
        for client in clients:
            client.close()
        warm.close()
    finally:
        stop(process)


def burst_then_spread(services: DevServices, workdir: Path, workers: int, rounds: int) -> None:
    print(f"\n== 4. burst then spread: one user, {workers} workers, 2 pooled per worker, cap 4 ==")
    username, password = "burst@example.test", "pw"
    services.dovecot.add_user(username, password)
    raw = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    raw.login(username, password)
    for i in range(300):
        raw.append("INBOX", small(i))
    raw.logout()

    def one_login() -> object:
        client = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
        client.login(username, password)
        client.logout()
        return client

    login_ms = statistics.median(measure(one_login, 20))
    prefix = f"h{secrets.token_hex(3)}"
    url, process = serve(services, workdir, workers=workers, prefix=prefix,
                         extra={"WEBMAIL_IMAP_POOL_PER_WORKER": "2", "WEBMAIL_IMAP_MAX_CONNECTIONS_PER_USER": "4"})  # fmt: skip
    maximum = [0]
    stop_watch = threading.Event()

    def watch() -> None:
        while not stop_watch.is_set():
            try:
                maximum[0] = max(maximum[0], services.dovecot.connections(username))
            except subprocess.CalledProcessError:  # doveadm's anvil query timed out under load
                pass
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    paths = ["/mail/INBOX", "/mail/INBOX?page=2", "/mail/INBOX?page=3", "/mail/INBOX/1", "/mail/INBOX/2"]
    close = {"Connection": "close"}

    def get(client: httpx.Client, path: str) -> tuple[int, float]:
        started = time.perf_counter()
        status = client.get(path, headers=close).status_code
        return status, (time.perf_counter() - started) * 1000

    def tab(client: httpx.Client, index: int) -> list[tuple[int, float]]:
        """One browser connection (keep-alive, so it stays on one worker) in the burst."""
        timings = []
        with httpx.Client(base_url=url, cookies=client.cookies, timeout=60) as browser:
            for n in range(TAB_REQUESTS):
                started = time.perf_counter()
                status = browser.get(paths[(index + n) % len(paths)]).status_code
                timings.append((status, (time.perf_counter() - started) * 1000))
        return timings

    try:
        # Every worker warm (templates, imports), as in production, from another user's pages.
        services.dovecot.add_user("warm@example.test", "pw")
        warm = sign_in(url, "warm@example.test", "pw")
        for path in paths[:3] * workers * 2:
            get(warm, path)
        warm.close()
        watcher.start()
        burst_ms: list[float] = []
        spread_ms: list[float] = []
        unavailable = 0
        before = handover_figures(url)
        spread_waits: list[dict[str, float]] = []
        for _ in range(rounds):
            # A fresh start: the user signs in (no connections anywhere yet) and the tabs reload.
            client = sign_in(url, username, password)
            with ThreadPoolExecutor(max_workers=TABS) as executor:
                results = [t for ts in executor.map(partial(tab, client), range(TABS)) for t in ts]
            burst_ms += [ms for _, ms in results]
            unavailable += sum(1 for status, _ in results if status == 503)
            time.sleep(0.5)  # the burst's connections are idle now, held by whichever workers
            quiet = handover_figures(url)
            results = [get(client, "/mail/INBOX") for _ in range(32)]
            spread_waits.append(subtract(handover_figures(url), quiet))
            spread_ms += [ms for _, ms in results]
            unavailable += sum(1 for status, _ in results if status == 503)
            token = re.search(r'"X-CSRF-Token": "([^"]+)"', client.get("/contacts").text)  # no IMAP
            assert token
            client.post("/logout", headers={"X-CSRF-Token": token.group(1)})  # closes them everywhere
            client.close()
            for _ in range(100):
                if not services.dovecot.connections(username):
                    break
                time.sleep(0.1)
        after = handover_figures(url)
        stop_watch.set()
        watcher.join(5)
    finally:
        stop(process)
    total = subtract(after, before)
    spread = {key: sum(w[key] for w in spread_waits) for key in spread_waits[0]}
    print(f"{rounds} rounds of: sign in, a burst ({TABS} browser connections x {TAB_REQUESTS} requests at once), "
          "32 page loads on fresh TCP connections, sign out")  # fmt: skip
    print(
        f"burst  page latency p50 {percentile(burst_ms, 50):7.1f} ms  p99 {percentile(burst_ms, 99):7.1f} ms"
    )
    print(f"spread page latency p50 {percentile(spread_ms, 50):7.1f} ms  p99 {percentile(spread_ms, 99):7.1f} ms"
          f"  max {max(spread_ms):7.1f} ms")  # fmt: skip
    print(f"503 'mailbox busy': {unavailable} of {rounds * (TABS * TAB_REQUESTS + 32)}")
    print(f"hand-overs: requested {total['requested']:.0f}, granted {total['granted']:.0f}, "
          f"idle connections given up {total['given']:.0f}")  # fmt: skip
    print(f"hand-over wait while spreading (idle connections elsewhere): {spread['count']:.0f} waits, "
          f"mean {1000 * spread['sum'] / max(spread['count'], 1):.1f} ms, p50 <= {bucket_quantile(spread, 0.5)}; "
          f"one LOGIN {login_ms:.1f} ms")  # fmt: skip
    print(
        f"hand-over wait during the bursts (busy connections): p50 <= {bucket_quantile(subtract(total, spread), 0.5)}"
    )
    print(f"most IMAP connections of the user at Dovecot: {maximum[0]} (cap 4)")


def handover_figures(url: str) -> dict[str, float]:
    """Hand-over counters and the interactive wait histogram, summed over the worker processes."""
    body = httpx.get(f"{url}/metrics").text
    figures: dict[str, float] = {}
    for name, key in (
        ("webmail_imap_handovers_requested_total", "requested"),
        ("webmail_imap_handovers_granted_total", "granted"),
        ("webmail_imap_handovers_given_total", "given"),
        ("webmail_imap_handover_wait_seconds_count", "count"),
        ("webmail_imap_handover_wait_seconds_sum", "sum"),
    ):
        figures[key] = sum(float(v) for v in re.findall(rf"^{name}(?:{{[^}}]*}})? (\S+)$", body, re.M))
    for bound, value in re.findall(
        r'^webmail_imap_handover_wait_seconds_bucket{le="([^"]+)",priority="interactive"} (\S+)$', body, re.M
    ):
        figures[f"le {bound}"] = float(value)
    return figures


def subtract(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {key: value - before.get(key, 0.0) for key, value in after.items()}


def bucket_quantile(figures: dict[str, float], q: float) -> str:
    """The histogram bucket holding quantile ``q`` (an upper bound, in ms)."""
    buckets = sorted((float(key[3:]), value) for key, value in figures.items() if key.startswith("le "))
    total = buckets[-1][1] if buckets else 0
    for bound, count in buckets:
        if total and count >= q * total:
            return "inf" if bound == float("inf") else f"{bound * 1000:.0f} ms"
    return "n/a"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--idle-users", type=int, default=200)
    parser.add_argument("--workers", type=int, default=4, help="worker processes of parts 2 and 4")
    parser.add_argument("--bursts", type=int, default=5, help="burst-then-spread rounds of part 4")
    parser.add_argument("--parts", default="cache,load,idle,burst", help="which parts to run")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    with DevServices(max_userip_connections=50) as services, tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if "cache" in parts:
            warm_cache(services, workdir, args.messages, args.rounds)
        if "load" in parts:
            load_test(services, workdir, args.seconds, args.workers)
        if "idle" in parts:
            idle_users(services, workdir, args.idle_users)
        if "burst" in parts:
            burst_then_spread(services, workdir, args.workers, args.bursts)


if __name__ == "__main__":
    main()
