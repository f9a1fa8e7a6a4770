"""Regression tests for the outside security test (issue 22), one class per attack class.

Each test replays the attack through the real routes against the real servers (Dovecot, Redis,
the SMTP sink) and failed before its fix.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx2 as httpx
import pytest
import yaml
from fastapi.testclient import TestClient
from imapclient import IMAPClient
from playwright.sync_api import Page, expect
from redis import Redis
from sqlalchemy import select

from tests.conftest import MailUser, login_token, make_settings, serve_in_thread, session_token, sign_in
from tests.e2e.conftest import sign_in as e2e_sign_in
from tests.pop3server import Mailbox, banner_service, tiny_pop3
from webmail.app import create_app
from webmail.config import PROJECT_ROOT, Settings
from webmail.db.models import POP3Account, POP3Run
from webmail.db.session import create_db_engine, create_sessionmaker
from webmail.devservices import DevServices, Dovecot
from webmail.devservices.dovecot import start_dovecot
from webmail.pop3.jobs import FetchContext, fetch

SSH_BANNER = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3 internal-build-7"


def app_client(settings: Settings) -> TestClient:
    return TestClient(create_app(settings), follow_redirects=False)


def app_client_from(settings: Settings, ip: str) -> TestClient:
    return TestClient(create_app(settings), follow_redirects=False, client=(ip, 50000))


@pytest.fixture
def signed_in_user(services: DevServices) -> MailUser:
    password = "pw-security"
    return MailUser(services.dovecot.new_user(password), password)


def pop3_fields(client: TestClient, **changes: str) -> dict[str, str]:
    fields = {
        "csrf_token": session_token(client),
        "host": "127.0.0.1",
        "port": "995",
        "security": "none",
        "username": "someone",
        "password": "secret",
        "folder": "Imported",
        "leave_on_server": "on",
        "only_new": "0",
        "interval_minutes": "15",
        "enabled": "on",
        "consent": "on",
    }
    fields.update(changes)
    return fields


def try_connection(client: TestClient, **changes: str) -> str:
    """Press "Test connection" on the POP3 account form."""
    response = client.post(
        "/settings/accounts/test", data=pop3_fields(client, **changes), headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    return response.text


@contextmanager
def fetch_context(settings: Settings) -> Iterator[FetchContext]:
    """What ``webmail worker`` gives a POP3 job."""
    engine = create_db_engine(settings.database_url)
    redis = Redis.from_url(settings.redis_url)
    try:
        yield FetchContext(settings, create_sessionmaker(engine), redis)
    finally:
        redis.close()
        engine.dispose()


class TestSSRFThroughPOP3Accounts:
    """Finding 4: "Test connection" and the fetcher as a port scanner and banner grabber."""

    @pytest.fixture
    def default_settings(self, services: DevServices, database_url: str) -> Settings:
        """An installation as shipped: no operator allow-list."""
        return make_settings(
            services,
            database_url,
            pop3_allowed_hosts=[],
            pop3_allowed_ports=["110", "995"],
            pop3_allow_insecure=True,
            pop3_timeout_seconds=2,
        )

    def test_internal_addresses_and_other_ports_are_refused(
        self, default_settings: Settings, signed_in_user: MailUser
    ) -> None:
        with banner_service(SSH_BANNER) as port, app_client(default_settings) as client:
            assert sign_in(client, signed_in_user).status_code == 303
            saved = client.post("/settings/accounts", data=pop3_fields(client, port=str(port)))
            assert saved.status_code == 422
            assert "only public POP3 servers" in saved.text
            assert "Only the POP3 ports 110 and 995" in saved.text
            for host in ("127.0.0.1", "localhost", "[::ffff:127.0.0.1]", "169.254.169.254", "100.64.1.1",
                         "10.1.2.3", "fd00::1"):  # fmt: skip
                assert "only public POP3 servers" in try_connection(client, host=host), host
            probe = try_connection(client, port=str(port))
            assert "Only the POP3 ports 110 and 995" in probe
            assert "SSH-2.0" not in probe

    def test_a_name_is_checked_after_resolving_it(
        self, default_settings: Settings, signed_in_user: MailUser
    ) -> None:
        name = socket.gethostname()
        addresses = {info[4][0] for info in socket.getaddrinfo(name, 995, type=socket.SOCK_STREAM)}
        assert addresses
        assert all(a.startswith("127.") or a == "::1" for a in addresses), addresses
        with app_client(default_settings) as client:
            assert sign_in(client, signed_in_user).status_code == 303
            assert "only public POP3 servers" in try_connection(client, host=name)

    def test_dns_rebinding_is_checked_on_every_connect(
        self,
        services: DevServices,
        database_url: str,
        signed_in_user: MailUser,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """The operator allows Dovecot's address only; an attacker's name answers with it once
        (the check) and with another loopback address after that (the connect)."""
        source = MailUser(services.dovecot.new_user("pw-source"), "pw-source")
        settings = make_settings(
            services,
            database_url,
            pop3_allowed_hosts=["127.0.0.1/32"],
            pop3_allowed_ports=[str(services.dovecot.pop3_port)],
            pop3_allow_insecure=True,
        )
        real_getaddrinfo = socket.getaddrinfo
        answers = iter(["127.0.0.1"])

        def rebinding_dns(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            if host == "pop.rebind.test":
                host = next(answers, "127.0.0.2")
            return real_getaddrinfo(host, port, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", rebinding_dns)
        fields = {"host": "pop.rebind.test", "port": str(services.dovecot.pop3_port),
                  "username": source.username, "password": source.password}  # fmt: skip
        with app_client(settings) as client:
            assert sign_in(client, signed_in_user).status_code == 303
            assert "Connection OK" in try_connection(client, **fields)  # went to the checked address
            assert "only public POP3 servers" in try_connection(client, **fields)  # checked again

    def test_banners_of_other_services_are_never_shown_or_stored(
        self, services: DevServices, database_url: str, signed_in_user: MailUser
    ) -> None:
        """Even where the operator allows the address and port, a non-POP3 answer is not echoed."""
        settings = make_settings(services, database_url, pop3_timeout_seconds=2)
        with banner_service(SSH_BANNER) as port, app_client(settings) as client:
            assert sign_in(client, signed_in_user).status_code == 303
            probe = try_connection(client, port=str(port))
            assert "did not answer as a POP3 server does" in probe
            assert "OpenSSH" not in probe
            saved = client.post("/settings/accounts", data=pop3_fields(client, port=str(port)))
            assert saved.status_code == 303, saved.text
            account_id = int(saved.headers["location"].split("/")[-1].split("?")[0])
            with fetch_context(settings) as context:
                outcome = fetch(context, account_id)
                assert outcome.outcome == "error"
                with context.db() as db:
                    stored = [db.get(POP3Account, account_id).last_error]  # type: ignore[union-attr]
                    stored += db.scalars(select(POP3Run.error).where(POP3Run.account_id == account_id)).all()
            assert len(stored) == 2
            assert all(text and "OpenSSH" not in text for text in stored), stored
            page = client.get(f"/settings/accounts/{account_id}").text
            assert "did not answer as a POP3 server does" in page
            assert "OpenSSH" not in page


def browser(url: str, ip: str = "127.0.0.1") -> httpx.Client:
    """A client connecting from ``ip`` (any 127.0.0.0/8 source address reaches the server)."""
    transport = httpx.HTTPTransport(local_address=ip)
    return httpx.Client(base_url=url, transport=transport, follow_redirects=False, timeout=60)


def attempt_all_at_once(url: str, logins: list[tuple[str, str]], ip: str = "127.0.0.1") -> list[int]:
    """Sign-ins sent together from one address, each from its own browser; their statuses."""
    clients = [browser(url, ip) for _ in logins]
    try:
        tokens = [login_token(client) for client in clients]  # type: ignore[arg-type]
        start = threading.Barrier(len(clients))

        def post(index: int) -> int:
            username, password = logins[index]
            start.wait()
            data = {"username": username, "password": password, "csrf_token": tokens[index]}
            return clients[index].post("/login", data=data).status_code

        with ThreadPoolExecutor(max_workers=len(clients)) as pool:
            return list(pool.map(post, range(len(clients))))
    finally:
        for client in clients:
            client.close()


class TestBruteForceAroundSignInLimits:
    """Finding 5: concurrent attempts, name variants of one account, IPv6 and forged proxies."""

    def test_concurrent_attempts_cannot_pass_one_check(
        self, services: DevServices, database_url: str
    ) -> None:
        settings = make_settings(services, database_url)
        logins = [(f"t-{uuid.uuid4().hex}@test", "wrong") for _ in range(60)]
        with serve_in_thread(settings) as url:
            statuses = attempt_all_at_once(url, logins)
        assert statuses.count(401) == settings.login_max_failures_per_ip
        assert statuses.count(429) == 60 - settings.login_max_failures_per_ip

    def test_variants_of_one_name_count_as_one_account(
        self, services: DevServices, database_url: str
    ) -> None:
        """A server that drops the domain (Dovecot's %Ln) sees carol@alias1..60 as carol."""
        settings = make_settings(services, database_url, imap_username_format="%Ln")
        carol = f"carol-{uuid.uuid4().hex[:8]}"
        logins = [(f"{carol.upper() if n % 2 else carol}@alias{n}.example", "wrong") for n in range(1, 61)]
        with serve_in_thread(settings) as url:
            statuses = attempt_all_at_once(url, logins)
        assert statuses.count(401) == settings.login_max_failures_per_user
        assert statuses.count(429) == 60 - settings.login_max_failures_per_user

    def test_domain_aliases_of_one_account(self, services: DevServices, database_url: str) -> None:
        settings = make_settings(
            services, database_url, imap_domain_aliases=["mail.test=test", "old.test=test"]
        )
        name = f"t-{uuid.uuid4().hex}"
        variants = [f"{name}@test", f"{name}@mail.test", f"{name.upper()}@OLD.TEST"]
        with app_client(settings) as client:
            for n in range(settings.login_max_failures_per_user):
                response = sign_in(client, MailUser(variants[n % 3], "wrong"))
                assert response.status_code == 401
            assert sign_in(client, MailUser(variants[2], "wrong")).status_code == 429

    def test_ipv6_clients_are_counted_per_64(self, services: DevServices, database_url: str) -> None:
        """Behind the operator's proxy, one host rotating through addresses of its /64."""
        # A small per-network limit: each failure past the first few waits a growing delay.
        settings = make_settings(
            services, database_url, trusted_proxies=["127.0.0.1"], login_max_failures_per_ip=6
        )
        with app_client_from(settings, "127.0.0.1") as client:
            statuses = []
            for n in range(settings.login_max_failures_per_ip + 1):
                forwarded = {"X-Forwarded-For": f"2001:db8:5:6:{n:x}::{n + 1:x}"}
                token = login_token(client)
                data = {"username": f"t-{uuid.uuid4().hex}@test", "password": "wrong", "csrf_token": token}
                statuses.append(client.post("/login", data=data, headers=forwarded).status_code)
        assert statuses[:-1] == [401] * settings.login_max_failures_per_ip
        assert statuses[-1] == 429

    def test_any_proxy_is_refused_outside_demo_mode(self, tmp_path: Path) -> None:
        """`*` let every client write its own address into X-Forwarded-For."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("WEBMAIL_")}
        env |= {"WEBMAIL_SECRET_KEY": "k" * 40, "WEBMAIL_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
                "WEBMAIL_TRUSTED_PROXIES": "*"}  # fmt: skip
        command = [sys.executable, "-m", "webmail.cli", "check-config"]
        refused = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
        assert refused.returncode == 2
        assert "WEBMAIL_TRUSTED_PROXIES=* would take any client's own X-Forwarded-For" in refused.stderr
        demo = subprocess.run(
            command, capture_output=True, text=True, env=env | {"WEBMAIL_DEMO": "1"}, timeout=60
        )
        assert demo.returncode == 0, demo.stderr

    def test_the_compose_stack_trusts_only_its_nginx(self) -> None:
        stack = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
        nginx = stack["services"]["nginx"]
        address = nginx["networks"]["webmail"]["ipv4_address"]
        for name in ("web", "worker"):
            service = stack["services"][name]
            assert service["environment"]["WEBMAIL_TRUSTED_PROXIES"] == address
            assert "ports" not in service  # reachable only through nginx
        assert "./deploy/nginx.conf:/etc/nginx/templates/default.conf.template:ro" in nginx["volumes"]


class TestLockingOwnersOut:
    """Finding 6: five wrong passwords from anyone used to lock the owner out for 15 minutes."""

    def test_owner_passes_with_a_delay_attacker_does_not(
        self, services: DevServices, database_url: str, signed_in_user: MailUser
    ) -> None:
        settings = make_settings(services, database_url)
        with serve_in_thread(settings) as url:
            owners_laptop = browser(url, "127.0.0.5")
            assert sign_in(owners_laptop, signed_in_user).status_code == 303  # type: ignore[arg-type]
            owners_laptop.post("/logout", data={"csrf_token": session_token(owners_laptop)})  # type: ignore[arg-type]
            attacker = browser(url, "127.0.0.5")  # the same address (a shared NAT)
            for _ in range(settings.login_max_failures_per_user):
                assert sign_in(attacker, signed_in_user, password="wrong").status_code == 401  # type: ignore[arg-type]
            assert sign_in(attacker, signed_in_user).status_code == 429  # type: ignore[arg-type]

            started = time.monotonic()
            assert sign_in(owners_laptop, signed_in_user).status_code == 303  # type: ignore[arg-type]
            assert time.monotonic() - started >= 1.0  # slowed, not refused

            fresh_network = browser(url, "127.0.0.6")
            assert sign_in(fresh_network, signed_in_user).status_code == 303  # type: ignore[arg-type]

            forged = browser(url, "127.0.0.5")
            for _ in range(settings.login_max_failures_per_user):
                sign_in(forged, signed_in_user, password="wrong")  # type: ignore[arg-type]
            forged.cookies.set("wm_device", owners_laptop.cookies["wm_device"][:-2] + "xx", path="/login")
            assert sign_in(forged, signed_in_user).status_code == 429  # type: ignore[arg-type]
            for client in (owners_laptop, attacker, fresh_network, forged):
                client.close()


def deliver(services: DevServices, user: MailUser, raw: bytes, folder: str = "INBOX") -> int:
    """APPEND a message to the user's folder; its UID."""
    imap = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    imap.login(user.username, user.password)
    try:
        imap.select_folder(folder)
        before = set(imap.search(["ALL"]))
        imap.append(folder, raw)
        return max(set(imap.search(["ALL"])) - before)
    finally:
        imap.logout()


def with_attachment(filename: str, body: str = "See the file.") -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "Eve <eve@example.org>", "you@test", "A file"
    message.set_content(body)
    message.add_attachment(
        b"secret quarterly numbers", maintype="application", subtype="pdf", filename=filename
    )
    return bytes(message)


class TestMailLeftInTheBrowserCache:
    """Finding 8: after signing out, pages and attachments stayed in the browser's cache."""

    def test_signed_in_pages_and_attachments_are_not_stored(
        self, signed_in: TestClient, services: DevServices, mail_user: MailUser
    ) -> None:
        uid = deliver(services, mail_user, with_attachment("numbers.pdf"))
        for path in ("/mail/INBOX", f"/mail/INBOX/{uid}", f"/mail/INBOX/{uid}/body", f"/mail/INBOX/{uid}/part/2",
                     f"/mail/INBOX/{uid}/part/2?inline=1", f"/mail/INBOX/{uid}/attachments.zip",
                     f"/mail/INBOX/{uid}/raw", f"/mail/INBOX/{uid}/source", "/compose", "/contacts",
                     "/settings", "/search", "/mail/INBOX?q=numbers"):  # fmt: skip
            response = signed_in.get(path)
            assert response.status_code == 200, path
            assert response.headers["cache-control"] == "no-store", path
        assert "no-store" not in signed_in.get("/static/app.css").headers.get("cache-control", "")


class TestCommandInjectionThroughCredentials:
    """Finding 9: a CR/LF in a password was sent as more commands (``PASS pw``, ``DELE 1``)."""

    def test_pop3_password_with_line_breaks_is_refused_at_the_form(self, signed_in: TestClient) -> None:
        box = Mailbox([b"Subject: keep me\r\n\r\nstill here\r\n"])
        with tiny_pop3(box) as port:
            fields = {"port": str(port), "username": "user", "password": "pass\r\nDELE 1"}
            probe = try_connection(signed_in, **fields)
            assert "cannot contain line breaks or other control characters" in probe
            saved = signed_in.post("/settings/accounts", data=pop3_fields(signed_in, **fields))
            assert saved.status_code == 422
            assert "cannot contain line breaks or other control characters" in saved.text
            assert "Connection OK: 1 message" in try_connection(signed_in, port=str(port), username="user",
                                                               password="pass")  # fmt: skip
        assert len(box.messages) == 1  # nothing was deleted

    @pytest.mark.parametrize(
        ("username", "password"),
        [
            ("{user}", "{password}\r\nA1 DELETE INBOX"),
            ("{user}\r\nA1 LOGOUT", "{password}"),
            ("{user}", "pw\0x"),
        ],
    )
    def test_imap_credentials_with_control_characters_are_refused(
        self, client: TestClient, mail_user: MailUser, username: str, password: str
    ) -> None:
        typed = MailUser(
            username.format(user=mail_user.username), password.format(password=mail_user.password)
        )
        response = sign_in(client, typed)
        assert response.status_code == 422
        assert "cannot contain line breaks or other control characters" in response.text
        assert sign_in(client, mail_user).status_code == 303


def upload(client: Any, draft_id: str, name: str, data: bytes, token: str) -> Any:
    headers = {"X-CSRF-Token": token, "X-File-Name": name, "Content-Type": "application/pdf"}
    return client.post(f"/compose/{draft_id}/attachments", content=data, headers=headers)


class TestStorageExhaustionThroughDraftIds:
    """Finding 10: the attachment limit was per draft id, and the browser chooses the ids."""

    def test_uploads_across_drafts_share_one_quota(
        self, services: DevServices, database_url: str, mail_user: MailUser, tmp_path: Path
    ) -> None:
        settings = make_settings(services, database_url, max_attachment_mb=1, upload_quota_mb=2,
                                 upload_dir=tmp_path)  # fmt: skip
        with app_client(settings) as client:
            assert sign_in(client, mail_user).status_code == 303
            token = session_token(client)
            statuses = [upload(client, f"draft{n:04d}x", f"part{n}.pdf", os.urandom(900_000), token).status_code
                        for n in range(4)]  # fmt: skip
            assert statuses == [200, 200, 413, 413]
            refused = upload(client, "draft9999x", "more.pdf", os.urandom(300_000), token)
            assert refused.status_code == 413
            assert "Your unsent attachments may take 2 MB in all" in refused.text
        assert stored_bytes(tmp_path) <= 2 * 1024 * 1024

    def test_uploads_side_by_side_cannot_pass_the_quota_together(
        self, services: DevServices, database_url: str, mail_user: MailUser, tmp_path: Path
    ) -> None:
        settings = make_settings(services, database_url, max_attachment_mb=3, upload_quota_mb=4,
                                 upload_dir=tmp_path)  # fmt: skip
        size = 2_500_000
        with serve_in_thread(settings) as url:
            client = browser(url)
            assert sign_in(client, mail_user).status_code == 303  # type: ignore[arg-type]
            token = session_token(client)  # type: ignore[arg-type]
            start = threading.Barrier(4)

            def send(n: int) -> int:
                start.wait()
                return int(upload(client, f"side{n:04d}xx", f"f{n}.pdf", os.urandom(size), token).status_code)

            with ThreadPoolExecutor(max_workers=4) as pool:
                statuses = list(pool.map(send, range(4)))
            client.close()
        assert statuses.count(200) * size <= 4 * 1024 * 1024, statuses
        assert stored_bytes(tmp_path) <= 4 * 1024 * 1024


def stored_bytes(root: Path) -> int:
    return sum(path.stat().st_size for path in root.rglob("*") if path.is_file() and path.suffix != ".json")


def html_mail(html: str, *, text: str | None = None) -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "Eve <eve@example.org>", "you@test", "Crafted"
    if text is not None:
        message.set_content(text)
    else:
        message.set_content("plain part")
        message.add_alternative(html, subtype="html")
    return bytes(message)


class TestHostileMailDetails:
    """Finding 11: download names with paths, relative links into the webmail, plain text
    painting over the app."""

    HOSTILE_NAMES = ("../../.bashrc", "C:\\Windows\\System32\\evil.exe", "/etc/cron.d/job", "..")

    def test_download_names_are_base_names_only(
        self, signed_in: TestClient, services: DevServices, mail_user: MailUser
    ) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = (
            "Eve <eve@example.org>",
            "you@test",
            "../../files",
        )
        message.set_content("files")
        for name in self.HOSTILE_NAMES:
            message.add_attachment(b"data", maintype="application", subtype="octet-stream", filename=name)
        uid = deliver(services, mail_user, bytes(message))
        dispositions = [signed_in.get(f"/mail/INBOX/{uid}/part/{section}").headers["content-disposition"]
                        for section in range(2, 2 + len(self.HOSTILE_NAMES))]  # fmt: skip
        expected = [".bashrc", "evil.exe", "job", "part-5"]
        assert [d.split('filename="')[1].split('"')[0] for d in dispositions] == expected
        assert [d.split("filename*=UTF-8''")[1] for d in dispositions] == expected
        archive = zipfile.ZipFile(io.BytesIO(signed_in.get(f"/mail/INBOX/{uid}/attachments.zip").content))
        assert archive.namelist() == [".bashrc", "evil.exe", "job", "part-5"]
        zipped = signed_in.get(f"/mail/INBOX/{uid}/attachments.zip").headers["content-disposition"]
        assert "%2F" not in zipped
        assert 'filename=".._.._files.zip"' in zipped

    def test_relative_links_and_base_are_inert(
        self, signed_in: TestClient, services: DevServices, mail_user: MailUser
    ) -> None:
        html = ('<base href="https://evil.example/"><p><a href="../../settings/accounts">settings</a> '
                '<a href="?remote=1">images</a> <a href="//evil.example/x">protocol-relative</a> '
                '<a href="/logout">out</a> <a href="https://example.org/" target="_self">fine</a></p>')  # fmt: skip
        uid = deliver(services, mail_user, html_mail(html))
        body = signed_in.get(f"/mail/INBOX/{uid}/body").text
        assert "<base" not in body
        for relative in ("../../settings/accounts", "?remote=1", "//evil.example/x", "/logout"):
            assert f'href="{relative}"' not in body, relative
        assert (
            '<a href="https://example.org/" target="_blank" rel="noopener noreferrer nofollow">fine</a>'
            in body
        )

    @pytest.mark.e2e
    def test_plain_text_paints_inside_its_box(
        self, live_server: str, services: DevServices, mail_user: MailUser, page: Page
    ) -> None:
        """Stacked combining marks rise far above their line, over the app's own headers."""
        zalgo = "Click " + ("a" + "\u0301\u0344\u0346\u0352" * 60) * 8 + "\nbelow"
        crafted = deliver(services, mail_user, html_mail("", text=zalgo))
        e2e_sign_in(page, live_server, mail_user)
        page.goto(f"{live_server}/mail/INBOX/{crafted}")
        box = page.locator(".mail-body-inline")
        expect(box).to_contain_text("below")
        header = page.locator("h1.subject").bounding_box()
        assert header is not None
        tainted = page.screenshot(clip=header)
        page.evaluate("document.querySelector('.mail-body-inline').textContent = 'calm'")
        assert page.screenshot(clip=header) == tainted  # the marks never reached the subject line


@pytest.fixture(scope="module")
def case_sensitive_dovecot() -> Iterator[Dovecot]:
    """A second Dovecot whose user names are case-sensitive (auth_username_format = %u), so
    ``Bob`` and ``bob`` are two accounts. Started only for the tests that ask for it."""
    root = Path(tempfile.mkdtemp(prefix="webmail-cased-"))  # Dovecot's own users must reach it
    root.chmod(0o755)
    dovecot = start_dovecot(root / "dovecot", username_format="%u")
    yield dovecot
    dovecot.stop()
    shutil.rmtree(root, ignore_errors=True)


@dataclass(frozen=True)
class Twins:
    """Two accounts whose names differ only in case, each with its own password and mail."""

    lower: MailUser
    upper: MailUser


@pytest.fixture
def twins(case_sensitive_dovecot: Dovecot) -> Twins:
    name = f"bob-{uuid.uuid4().hex[:8]}@test"
    lower, upper = MailUser(name, "pw-lower"), MailUser(name.capitalize(), "pw-upper")
    for user in (lower, upper):
        case_sensitive_dovecot.add_user(user.username, user.password)
        imap = IMAPClient("127.0.0.1", case_sensitive_dovecot.imap_port, ssl=False)
        imap.login(user.username, user.password)
        imap.append(
            "INBOX", f"From: a@example.org\r\nSubject: mail of {user.username}\r\n\r\nhi\r\n".encode()
        )
        imap.logout()
    return Twins(lower, upper)


class TestAccountConfusionOnCaseSensitiveServers:
    """Finding 1: ``Bob`` signing in with Bob's own password was handed bob's IMAP connection."""

    def test_each_account_gets_its_own_mailbox_cache_and_uploads(
        self, services: DevServices, database_url: str, case_sensitive_dovecot: Dovecot, twins: Twins,
        tmp_path: Path,
    ) -> None:  # fmt: skip
        settings = make_settings(services, database_url, imap_port=case_sensitive_dovecot.imap_port,
                                 imap_username_format="%u", upload_dir=tmp_path)  # fmt: skip
        with serve_in_thread(settings) as url:
            lower, upper = browser(url), browser(url, "127.0.0.9")
            assert sign_in(lower, twins.lower).status_code == 303  # type: ignore[arg-type]
            assert f"mail of {twins.lower.username}" in lower.get("/mail/INBOX").text  # warm and cached
            token = session_token(lower)  # type: ignore[arg-type]
            assert upload(lower, "shareddraft01", "lower-only.pdf", b"%PDF", token).status_code == 200

            assert sign_in(upper, twins.upper).status_code == 303  # type: ignore[arg-type]
            for _ in range(3):  # whichever pooled connection comes first
                page = upper.get("/mail/INBOX").text
                assert f"mail of {twins.upper.username}" in page
                assert f"mail of {twins.lower.username}" not in page
            assert "lower-only.pdf" not in upper.get("/compose/shareddraft01/attachments").text
            assert f"mail of {twins.lower.username}" in lower.get("/mail/INBOX").text
            lower.close()
            upper.close()

    def test_folding_that_does_not_match_the_server_fails_closed(
        self, services: DevServices, database_url: str, case_sensitive_dovecot: Dovecot, twins: Twins
    ) -> None:
        """With the default folding (%Lu) against this server, Bob's LOGIN is tried as bob."""
        settings = make_settings(services, database_url, imap_port=case_sensitive_dovecot.imap_port)
        with app_client(settings) as client:
            assert sign_in(client, twins.lower).status_code == 303
            assert f"mail of {twins.lower.username}" in client.get("/mail/INBOX").text
            client.cookies.clear()
            assert sign_in(client, twins.upper).status_code == 401
            assert client.get("/mail/INBOX").status_code == 303

    def test_a_pooled_connection_serves_only_the_credentials_that_opened_it(
        self, services: DevServices, database_url: str, mail_user: MailUser
    ) -> None:
        """The password changed elsewhere; the old session must not ride on the new one's LOGIN."""
        settings = make_settings(services, database_url, imap_pool_per_worker=1)
        with app_client(settings) as client:
            assert sign_in(client, mail_user).status_code == 303
            old_session = client.cookies["wm_session"]
            services.dovecot.add_user(mail_user.username, "the-new-password")
            client.cookies.clear()
            assert sign_in(client, MailUser(mail_user.username, "the-new-password")).status_code == 303
            new_session = client.cookies["wm_session"]
            client.cookies.clear()
            client.cookies.set("wm_session", old_session)
            stale = client.get("/mail/INBOX")
            assert stale.status_code == 303
            assert stale.headers["location"].endswith("/login?expired=1")
            client.cookies.clear()
            client.cookies.set("wm_session", new_session)
            assert client.get("/mail/INBOX").status_code == 200


def redis_dump(settings: Settings) -> dict[bytes, bytes]:
    """Every key of this app's prefix with all the bytes stored under it."""
    redis = Redis.from_url(settings.redis_url)
    dump: dict[bytes, bytes] = {}
    try:
        for key in redis.scan_iter(match=f"{settings.redis_prefix}:*", count=1000):
            kind = redis.type(key)
            if kind == b"string":
                dump[key] = redis.get(key) or b""
            elif kind == b"hash":
                dump[key] = b"".join(k + v for k, v in redis.hgetall(key).items())
            elif kind == b"set":
                dump[key] = b"".join(redis.smembers(key))
            elif kind == b"zset":
                dump[key] = b"".join(member for member, _ in redis.zrange(key, 0, -1, withscores=True))
            else:
                dump[key] = b""
    finally:
        redis.close()
    return dump


class TestMailDataAtRest:
    """Finding 7: cached list pages kept subjects, senders and recipients readable in Redis."""

    def test_a_redis_dump_reveals_nothing_about_mail(
        self, signed_in: TestClient, settings: Settings, services: DevServices, mail_user: MailUser
    ) -> None:
        imap = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
        imap.login(mail_user.username, mail_user.password)
        imap.create_folder("Project Falcon")
        imap.logout()
        raw = (b"From: Mallory Quill <mallory@quill.example>\r\nTo: Board List <board@quill.example>\r\n"
               b"Subject: Takeover timetable\r\n\r\nsee attached\r\n")  # fmt: skip
        deliver(services, mail_user, raw)
        deliver(services, mail_user, raw, folder="Project Falcon")
        for path in (
            "/mail/INBOX",
            "/mail/Project%20Falcon",
            "/mail/INBOX?q=timetable",
            "/mail/INBOX?sort=subject",
        ):
            assert signed_in.get(path).status_code == 200
            # The second one from the cache. The sender: a search highlights the subject's words.
            assert b"Mallory Quill" in signed_in.get(path).content
        dump = redis_dump(settings)
        assert any(b":page:" in key for key in dump)  # the pages are cached, just not readable
        everything = b"\n".join(key + b"=" + value for key, value in dump.items())
        for secret in (b"Takeover", b"timetable", b"Mallory", b"mallory@quill", b"Board List", b"board@quill",
                       b"Falcon"):  # fmt: skip
            assert secret not in everything, secret


class TestLinkDrivenActions:
    """Finding 2: a crafted link showed a genuine toast with the attacker's words and an Undo
    that moved the messages the link named; ``outbox`` went unencoded into a form action."""

    CRAFTED = {
        "done": "Your mailbox is full: call +1 555 0100 now",
        "undo_uids": "1:*",
        "undo_from": "INBOX",
        "undo_to": "Junk",
        "undo_more": "1:* Trash",
        "outbox": "1/../../../mail/INBOX/1/remote-senders?x=",
        "seconds": "10",
    }

    def test_a_link_cannot_show_a_toast_or_offer_an_undo(
        self, signed_in: TestClient, services: DevServices, mail_user: MailUser
    ) -> None:
        uid = deliver(services, mail_user, with_attachment("keep.pdf"))
        query = urlencode(self.CRAFTED)
        for path in ("/mail/INBOX", f"/mail/INBOX/{uid}", "/mail/Junk", "/compose"):
            page = signed_in.get(f"{path}?{query}").text
            assert "call +1 555 0100" not in page, path
            assert "remote-senders?x=" not in page, path
            assert 'name="uids" value="1:*"' not in page, path
            assert "/undo" not in page, path
        assert f'data-uid="{uid}"' in signed_in.get("/mail/INBOX").text  # nothing moved

    def test_the_real_toast_comes_from_the_session_once(
        self, signed_in: TestClient, services: DevServices, mail_user: MailUser
    ) -> None:
        uid = deliver(services, mail_user, with_attachment("junk.pdf"))
        moved = signed_in.post(f"/mail/INBOX/{uid}/junk", data={"csrf_token": session_token(signed_in)})
        assert moved.status_code == 303
        assert "done=" not in moved.headers["location"]
        assert "undo" not in moved.headers["location"]
        shown = signed_in.get(moved.headers["location"]).text
        assert "data-flash>" in shown
        assert "/undo" in shown
        assert "data-flash>" not in signed_in.get(moved.headers["location"]).text  # once


RECORD_SWAPPED = """
window.swappedIn = []; window.pwnedSeen = false;
new MutationObserver(records => {
  for (const record of records) for (const node of record.addedNodes) {
    if (node.nodeType !== 1) continue;
    window.swappedIn.push(node.outerHTML);
    if (node.id === "pwned" || node.querySelector("#pwned")) window.pwnedSeen = true;
  }
}).observe(document, {childList: true, subtree: true});
"""
HOSTILE_FOLDER = 'Loot<i id="pwned" hx-get="x" hx-trigger="load">x'  # no "/": that is the hierarchy delimiter


class TestHTMLInjectionThroughFolderNames:
    """Finding 3: a folder named with htmx attributes, sent as HTML in the all-folders search
    stream, made the victim's browser send requests with the user's CSRF header."""

    def test_a_hostile_folder_name_does_not_break_the_folder_list(
        self, signed_in: TestClient, services: DevServices, mail_user: MailUser
    ) -> None:
        """Quotes and brackets make the server send the name as a literal in LIST-STATUS, which
        the listing could not read: every mail page answered 500."""
        imap = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
        imap.login(mail_user.username, mail_user.password)
        imap.create_folder(HOSTILE_FOLDER)
        imap.subscribe_folder(HOSTILE_FOLDER)  # so the folder pane shows it too
        imap.logout()
        deliver(services, mail_user, b"Subject: in there\r\n\r\nx\r\n", folder=HOSTILE_FOLDER)
        page = signed_in.get("/mail/INBOX")
        assert page.status_code == 200
        assert (
            'data-folder="Loot&lt;i id=&#34;pwned&#34; hx-get=&#34;x&#34; hx-trigger=&#34;load&#34;&gt;x"'
            in page.text
        )
        assert '<i id="pwned"' not in page.text

    @pytest.mark.e2e
    def test_folder_names_in_the_search_stream_stay_text(
        self, live_server: str, services: DevServices, mail_user: MailUser, page: Page
    ) -> None:
        """One hostile folder answers the search (a result row), one cannot be searched (its name
        in the error line, which was the f-string)."""
        imap = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
        imap.login(mail_user.username, mail_user.password)
        broken = HOSTILE_FOLDER.replace("Loot", "Broken")
        for name in (HOSTILE_FOLDER, broken):
            imap.create_folder(name)
        imap.logout()
        raw = b"From: a@example.org\r\nSubject: treasure map\r\n\r\nhere\r\n"
        for folder in (HOSTILE_FOLDER, broken, "INBOX"):
            deliver(services, mail_user, raw, folder=folder)
        (unreadable,) = (services.dovecot.root / "mail" / mail_user.username).glob("Maildir/*Broken*")
        unreadable.chmod(0)  # Dovecot still lists it, but cannot open it: the search of it fails
        requests: list[str] = []
        page.on("request", lambda request: requests.append(f"{request.method} {request.url}"))
        # The error line lives only until the final "done" swap: keep what was ever swapped in.
        page.add_init_script(RECORD_SWAPPED)
        try:
            e2e_sign_in(page, live_server, mail_user)
            query = urlencode({"words": "treasure", "scope": "all", "folder": "INBOX"})
            page.goto(f"{live_server}/search?{query}")
            results = page.locator("#search-results")
            expect(results.locator("li.search-hit")).to_have_count(2)
            expect(results).to_contain_text(HOSTILE_FOLDER)  # shown as its name, in a row
            page.wait_for_timeout(300)  # a hx-trigger="load" would have fired by now
        finally:
            unreadable.chmod(0o700)
        swapped = page.evaluate("window.swappedIn")
        errors = [html for html in swapped if html.startswith('<li class="search-error')]
        assert len(errors) == 1
        assert broken.replace("<", "&lt;").replace(">", "&gt;") in errors[0]  # text, not an element
        assert '<span hx-disable="">' in errors[0]
        assert not page.evaluate("window.pwnedSeen")
        assert [r for r in requests if r.split("?")[0].endswith("/x")] == []
        for row in results.locator("li.search-hit").all():
            assert row.get_attribute("hx-disable") is not None  # htmx leaves swapped mail text alone
