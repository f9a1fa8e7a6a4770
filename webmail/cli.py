"""``webmail serve | worker | db upgrade | check-config | sessions list|revoke | users export-settings |
devservices``."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import anyio

from webmail.auth.sessions import SessionStore
from webmail.auth.usernames import canonical_username
from webmail.config import PROJECT_ROOT, ConfigError, Settings, load_settings
from webmail.logs import configure_logging, logging_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="webmail", description="Self-hosted webmail.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the web app")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(handler=cmd_serve)

    worker = commands.add_parser("worker", help="run background jobs from the Redis queue")
    worker.set_defaults(handler=cmd_worker)

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_upgrade = db_commands.add_parser("upgrade", help="apply all migrations")
    db_upgrade.set_defaults(handler=cmd_db_upgrade)

    check = commands.add_parser("check-config", help="validate and print the effective settings")
    check.set_defaults(handler=cmd_check_config)

    sessions = commands.add_parser("sessions", help="signed-in sessions")
    sessions_commands = sessions.add_subparsers(dest="sessions_command", required=True)
    sessions_list = sessions_commands.add_parser("list", help="list live sessions (of USER only, if given)")
    sessions_list.add_argument("user", nargs="?")
    sessions_list.set_defaults(handler=cmd_sessions_list)
    sessions_revoke = sessions_commands.add_parser(
        "revoke", help="sign USER out everywhere and close their IMAP connections"
    )
    sessions_revoke.add_argument("user")
    sessions_revoke.set_defaults(handler=cmd_sessions_revoke)

    users = commands.add_parser("users", help="user data")
    users_commands = users.add_subparsers(dest="users_command", required=True)
    export = users_commands.add_parser("export-settings", help="print USER's settings as JSON")
    export.add_argument("user")
    export.set_defaults(handler=cmd_users_export_settings)

    dev = commands.add_parser("devservices", help="start private Dovecot, Redis and SMTP sink")
    dev.add_argument("--seed", action="store_true", help="create the demo users and their mail")
    dev.add_argument("--serve", action="store_true", help="also serve the app (demo mode)")
    dev.add_argument("--port", type=int, default=8000, help="port for --serve")
    dev.add_argument("--env-file", type=Path, help="write the WEBMAIL_* variables for the services here")
    dev.set_defaults(handler=cmd_devservices)

    args = parser.parse_args(argv)
    try:
        result: int = args.handler(args)
    except ConfigError as exc:
        print(f"webmail: configuration error: {exc}", file=sys.stderr)
        return 2
    return result


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = load_settings()
    if args.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Each worker writes its metrics here; /metrics adds them up (prometheus-client multiprocess).
        directory = PROJECT_ROOT / "var" / f"prometheus-{os.getpid()}"
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    # SIGTERM: stop accepting, end the event streams (sse-starlette), let requests finish within
    # the grace period, then the lifespan logs out every pooled IMAP connection.
    uvicorn.run(
        "webmail.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=",".join(settings.trusted_proxies) or None,
        log_config=logging_config(settings.log_format),
        access_log=False,
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
    )
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from rq import Worker

    from webmail.archive.jobs import enqueue_due as enqueue_due_rules
    from webmail.db.session import create_db_engine, create_sessionmaker
    from webmail.exports.jobs import tend as tend_exports
    from webmail.pop3.jobs import SCHEDULER_SECONDS, enqueue_due, job_queue
    from webmail.redis import create_sync_redis
    from webmail.smtp.outbox import TICK_SECONDS, deliver_due

    settings = load_settings()
    configure_logging(settings.log_format)
    connection = create_sync_redis(settings)
    queue = job_queue(settings, connection)
    db = create_sessionmaker(create_db_engine(settings.database_url))
    stop = threading.Event()
    # rq forks a work horse per job. A child forked while one of these threads was inside SQLite
    # (or held any lock) waits for that lock forever: seen once, a POP3 job stuck in
    # sqlite3.connect. So a fork waits for the threads' tick in progress, and a tick for the fork.
    ticking = threading.Lock()
    os.register_at_fork(
        before=ticking.acquire, after_in_parent=ticking.release, after_in_child=ticking.release
    )

    def schedule() -> None:
        # Every worker ticks; unique job ids keep an account from being queued twice.
        while True:
            with ticking:
                tick()
            if stop.wait(SCHEDULER_SECONDS):
                return

    def tick() -> None:
        try:
            enqueue_due(settings, db, queue)
        except Exception:
            logging.getLogger("webmail.worker").exception("scheduling POP3 fetches failed")
        try:
            enqueue_due_rules(settings, db, queue)  # each rule once a day
        except Exception:
            logging.getLogger("webmail.worker").exception("scheduling auto-archive rules failed")
        try:
            tend_exports(settings, connection)  # expired ones deleted, those whose run died queued again
        except Exception:
            logging.getLogger("webmail.worker").exception("tending background exports failed")

    def send_outbox() -> None:
        # Due messages are claimed in the database, so several workers never send one twice.
        while not stop.wait(TICK_SECONDS):
            try:
                with ticking:
                    deliver_due(settings, db, connection)
            except Exception:
                logging.getLogger("webmail.worker").exception("sending from the outbox failed")

    threading.Thread(target=schedule, name="pop3-scheduler", daemon=True).start()
    threading.Thread(target=send_outbox, name="outbox", daemon=True).start()
    try:
        Worker([queue], connection=connection).work(with_scheduler=True)
    finally:
        stop.set()
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from webmail.db.migrate import upgrade

    settings = load_settings()
    upgrade(settings.database_url)
    print("database is at the newest revision")
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    settings = load_settings()
    for name, value in settings.masked().items():
        print(f"{name}={value}")
    return 0


def cmd_sessions_list(args: argparse.Namespace) -> int:
    from webmail.auth.sessions import SessionInfo

    settings = load_settings()
    user = canonical_username(args.user, settings) if args.user else None

    async def find() -> list[SessionInfo]:
        async with _session_store(settings) as store:
            return await store.find(user)

    found = anyio.run(find)
    print(f"{'SESSION':10}  {'USER':32}  {'SIGNED IN':19}  {'LAST ACTIVE':19}  ADDRESS")
    for info in found:
        print(
            f"{info.sid[:8] + '…':10}  {info.user:32}  {_local_time(info.created)}  "
            f"{_local_time(info.last_seen)}  {info.client_ip or '-'}"
        )
    print(f"{len(found)} session{'s' if len(found) != 1 else ''}")
    return 0


def cmd_sessions_revoke(args: argparse.Namespace) -> int:
    settings = load_settings()
    user = canonical_username(args.user, settings)

    async def revoke() -> int:
        async with _session_store(settings) as store:
            return await store.revoke(user)

    count = anyio.run(revoke)
    print(
        f"Signed {user} out of {count} session{'s' if count != 1 else ''}; their IMAP connections are closing."
    )
    return 0


def cmd_users_export_settings(args: argparse.Namespace) -> int:
    from webmail.account.export import export_settings
    from webmail.db.session import create_db_engine, create_sessionmaker

    settings = load_settings()
    user = canonical_username(args.user, settings)
    engine = create_db_engine(settings.database_url)
    try:
        exported = anyio.run(export_settings, create_sessionmaker(engine), settings.imap_host, user)
    finally:
        engine.dispose()
    if exported is None:
        print(f"webmail: {user} has never signed in here", file=sys.stderr)
        return 1
    print(json.dumps(exported, indent=2, ensure_ascii=False, default=str))
    return 0


@contextlib.asynccontextmanager
async def _session_store(settings: Settings) -> AsyncIterator[SessionStore]:
    from webmail.redis import create_redis

    redis = create_redis(settings)
    try:
        yield SessionStore(redis, settings)
    finally:
        await redis.aclose()


def _local_time(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


def cmd_devservices(args: argparse.Namespace) -> int:
    from webmail.devservices import DevServices
    from webmail.devservices.seed import seed_demo_users

    with DevServices() as services:
        env = services.env()
        print(
            f"Dovecot IMAP 127.0.0.1:{services.dovecot.imap_port}, POP3 127.0.0.1:{services.dovecot.pop3_port}, "
            f"ManageSieve 127.0.0.1:{services.dovecot.sieve_port}"
        )
        print(f"Redis {services.redis.url}")
        print(f"SMTP sink 127.0.0.1:{services.smtp.port}")
        print(f"Files under {services.root}")
        if args.seed:
            for user, stored in seed_demo_users(services.dovecot):
                print(f"Seeded {stored} messages for {user}")
        if args.env_file:
            args.env_file.write_text("".join(f"{key}={value}\n" for key, value in env.items()))
            print(f"Wrote {args.env_file}")
        if args.serve:
            os.environ.update(env)
            os.environ.setdefault("WEBMAIL_DEMO", "true")
            os.environ.setdefault("WEBMAIL_DATABASE_URL", f"sqlite:///{PROJECT_ROOT / 'var' / 'demo.db'}")
            settings = load_settings()
            _serve_demo(settings, args.port, services.dovecot.pop3_port)
        else:
            for key, value in env.items():
                print(f"{key}={value}")
            print("Press Ctrl-C to stop.")
            _wait_for_signal()
    return 0


def _serve_demo(settings: Settings, port: int, pop3_port: int) -> None:
    import uvicorn

    from webmail.app import create_app
    from webmail.config import DEMO_USERS

    user, password = DEMO_USERS[0]
    print()
    print(f"  Webmail demo: http://127.0.0.1:{port}")
    print(f"  Sign in as {user} with password {password!r}")
    print(f"  (second demo user: {DEMO_USERS[1][0]} / {DEMO_USERS[1][1]!r})")
    print(
        f"  POP3 fetching: in Settings > Mail from other accounts, add {DEMO_USERS[1][0]} "
        f"at 127.0.0.1 port {pop3_port}, no encryption"
    )
    print()
    # Background jobs (POP3 fetches, the outbox) run in a worker of their own, as in production.
    # It must share the (per-run, in demo mode) secret key to open what the web app sealed.
    env = {**os.environ, "WEBMAIL_SECRET_KEY": settings.secret_key.get_secret_value()}
    worker = subprocess.Popen([sys.executable, "-m", "webmail.cli", "worker"], env=env)
    # uvicorn stops on SIGTERM and then raises it again: with the default action the process would
    # end at once, leaving the worker, Dovecot and Redis running. As an exception it unwinds.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        uvicorn.run(
            create_app(settings),
            host="127.0.0.1",
            port=port,
            log_config=logging_config(settings.log_format),
            access_log=False,
        )
    finally:
        worker.terminate()
        worker.wait(timeout=10)


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()


if __name__ == "__main__":
    raise SystemExit(main())
