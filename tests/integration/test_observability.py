"""/metrics only for its networks or its token; one log line per request, as JSON when asked, with
no secret in it; `webmail serve` stops cleanly on SIGTERM with a request and a stream in flight."""

from __future__ import annotations

import json
import logging
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient

from tests.conftest import LOGIN_TOKEN, MailUser, make_settings, process_env, sign_in
from webmail.app import create_app
from webmail.config import Settings
from webmail.devservices import DevServices
from webmail.devservices.system import free_port, wait_for_port
from webmail.logs import JSONFormatter
from webmail.web.observe import user_hash

TOKEN = "scrape-" + "x" * 24


@pytest.fixture
def guarded(services: DevServices, database_url: str) -> Settings:
    return make_settings(services, database_url, metrics_networks=["10.1.0.0/16"], metrics_token=TOKEN)


@pytest.mark.parametrize(
    ("client", "authorization", "status"),
    [
        (("10.1.2.3", 1000), None, 200),
        (("10.2.0.1", 1000), None, 403),
        (("10.2.0.1", 1000), f"Bearer {TOKEN}", 200),
        (("10.2.0.1", 1000), "Bearer wrong", 403),
        (("10.2.0.1", 1000), f"Basic {TOKEN}", 403),
    ],
)
def test_metrics_for_its_networks_or_its_token(
    guarded: Settings, client: tuple[str, int], authorization: str | None, status: int
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    with TestClient(create_app(guarded), client=client) as test_client:
        response = test_client.get("/metrics", headers=headers)
    assert response.status_code == status
    if status == 403:
        assert "webmail_" not in response.text


def test_metrics_default_to_this_machine(settings: Settings) -> None:
    with TestClient(create_app(settings), client=("192.0.2.7", 1000)) as outside:
        assert outside.get("/metrics").status_code == 403
    with TestClient(create_app(settings), client=("::1", 1000)) as inside:
        assert inside.get("/metrics").status_code == 200


def test_request_latency_by_route(signed_in: TestClient) -> None:
    signed_in.get("/mail/INBOX")
    body = signed_in.get("/metrics").text
    assert 'webmail_http_request_seconds_count{method="GET",route="/mail/{folder:path}",status="200"}' in body


def test_one_json_line_per_request_without_secrets(
    client: TestClient, mail_user: MailUser, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="webmail.request")
    signed = sign_in(client, mail_user)
    page = client.get("/mail/INBOX", headers={"X-Request-ID": "from-nginx-1234"})
    assert page.headers["x-request-id"] == "from-nginx-1234"
    assert re.fullmatch(r"[0-9a-f]{32}", client.get("/mail/INBOX").headers["x-request-id"])

    lines = [json.loads(JSONFormatter().format(record)) for record in caplog.records]
    inbox = next(line for line in lines if line["request_id"] == "from-nginx-1234")
    assert inbox["route"] == "/mail/{folder:path}"
    assert inbox["method"] == "GET"
    assert inbox["status"] == 200
    assert inbox["duration_ms"] > 0
    assert inbox["user"] == user_hash(settings.secret_key.get_secret_value(), mail_user.username)
    assert inbox["level"] == "info"
    login = next(line for line in lines if line["route"] == "/login" and line["method"] == "POST")
    assert login["status"] == 303
    assert "user" not in login  # signed in by this very request: no session came with it

    written = caplog.text + "".join(json.dumps(line) for line in lines)
    session_cookie = signed.cookies.get("wm_session") or client.cookies["wm_session"]
    for secret in (mail_user.password, mail_user.username, session_cookie, session_cookie.split(".")[0]):
        assert secret not in written
    assert "INBOX" not in written  # paths are logged as their route, folder names stay out


@pytest.fixture
def served(services: DevServices, database_url: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    settings = make_settings(services, database_url)
    port = free_port()
    env = process_env(settings, WEBMAIL_LOG_FORMAT="json", WEBMAIL_SHUTDOWN_GRACE_SECONDS="10")
    process = subprocess.Popen(
        [sys.executable, "-m", "webmail.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_port(port, process=process, timeout=30)  # type: ignore[arg-type]
        yield f"http://127.0.0.1:{port}", process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def test_sigterm_finishes_the_request_ends_streams_and_logs_out(
    served: tuple[str, subprocess.Popen[str]], services: DevServices, mail_user: MailUser
) -> None:
    base, process = served
    user = httpx.Client(base_url=base, timeout=30, follow_redirects=False)
    assert sign_in(user, mail_user).status_code == 303  # type: ignore[arg-type]
    assert user.get("/mail/INBOX").status_code == 200  # a pooled IMAP connection

    opened, ended = threading.Event(), threading.Event()

    def listen() -> None:
        try:
            with user.stream("GET", "/events") as response:
                opened.set()
                for _ in response.iter_lines():
                    pass
        except httpx.HTTPError:
            pass
        ended.set()

    threading.Thread(target=listen, daemon=True).start()
    assert opened.wait(10)

    newcomer = httpx.Client(base_url=base, timeout=30, follow_redirects=False)
    token = LOGIN_TOKEN.search(newcomer.get("/login").text).group(1)  # type: ignore[union-attr]
    form = f"username={mail_user.username}&password={mail_user.password}&csrf_token={token}".encode()
    signalled = 0.0

    def slow_body() -> Iterator[bytes]:
        nonlocal signalled
        yield form[:10]
        process.send_signal(signal.SIGTERM)  # the request is in flight: headers and part of its body
        signalled = time.monotonic()
        time.sleep(1.5)
        yield form[10:]

    late = newcomer.post(
        "/login", content=slow_body(), headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert late.status_code == 303  # finished, although the server was stopping
    assert ended.wait(5), "the event stream was not ended"
    assert time.monotonic() - signalled < 8  # well within the 10 s grace period
    # uvicorn re-raises the signal once it has shut down, so the exit status says "SIGTERM".
    assert process.wait(15) in (0, -signal.SIGTERM)
    with pytest.raises(httpx.ConnectError):
        httpx.get(base + "/healthz", timeout=2)

    assert process.stderr is not None
    logs = [json.loads(line) for line in process.stderr.read().splitlines() if line]
    process.stderr.close()
    assert any(line.get("route") == "/login" and line.get("status") == 303 for line in logs)
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in logs)
    assert any(line["message"] == "Application shutdown complete." for line in logs)
    ends = [
        line.split(": Info: ", 1)[-1]
        for line in services.dovecot.log().splitlines()
        if f"imap({mail_user.username})" in line and "Disconnected" in line
    ]
    assert ends, "no IMAP connection of the user ended"
    assert all(end.startswith("Disconnected: Logged out") for end in ends), ends  # not "Connection closed"


def test_metrics_of_mail_protocols_streams_and_background_work(
    live_server: str, live_settings: Settings, mail_user: MailUser
) -> None:
    with httpx.Client(base_url=live_server, timeout=30, follow_redirects=False) as client:
        assert sign_in(client, mail_user, "wrong").status_code == 401  # type: ignore[arg-type]
        assert sign_in(client, mail_user).status_code == 303  # type: ignore[arg-type]
        token = re.search(r'"X-CSRF-Token": "([^"]+)"', client.get("/mail/INBOX").text).group(1)  # type: ignore[union-attr]
        sent = client.post(
            "/compose/send", data={"csrf_token": token, "to": "x@example.org", "subject": "m", "body": "b"}
        )
        assert sent.status_code == 303
        with client.stream("GET", "/events") as stream:
            lines = stream.iter_lines()  # kept: a dropped iterator closes the stream
            first = next(lines)
            body = client.get("/metrics").text
    assert first == ": subscribed"
    figures = dict(line.rsplit(" ", 1) for line in body.splitlines() if line and not line.startswith("#"))
    assert float(figures['webmail_imap_errors_total{kind="AuthFailedError"}']) >= 1
    assert float(figures["webmail_smtp_send_seconds_count"]) >= 1
    assert float(figures["webmail_event_streams"]) >= 1
    for state in ("queued", "running", "failed"):
        assert f'webmail_jobs{{state="{state}"}}' in figures
    assert 'webmail_outbox_messages{status="waiting"}' in figures
    assert "webmail_imap_cap_waits_total" in figures
