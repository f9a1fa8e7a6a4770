"""Real private services for the whole run; a fresh mail user, Redis prefix and app per test."""

from __future__ import annotations

import html
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import anyio
import pytest
import uvicorn
from fastapi.testclient import TestClient
from imapclient import IMAPClient

from webmail.app import create_app
from webmail.config import Settings, load_settings
from webmail.db.migrate import upgrade
from webmail.devservices import DevServices, Dovecot, PostgresServer, SMTPSink
from webmail.devservices.dovecot import Flavour, start_dovecot
from webmail.devservices.nginx import Nginx, start_nginx
from webmail.devservices.system import free_port
from webmail.web.templating import STATIC_DIR


@pytest.fixture(scope="session")
def services() -> Iterator[DevServices]:
    """Dovecot, Redis and the SMTP sink, started once; a missing program fails loudly."""
    with DevServices() as running:
        yield running


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return fresh_database(tmp_path_factory)


def fresh_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated SQLite database of its own. Tests that start `webmail worker` need one: a
    worker serves every due POP3 account and outbox message in its database."""
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'webmail.db'}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def postgres(services: DevServices) -> PostgresServer:
    """A private PostgreSQL, started for the first test that needs it (it fails, never skips,
    when PostgreSQL cannot start)."""
    return services.start_postgres()


@pytest.fixture(scope="session")
def postgres_database_url(postgres: PostgresServer) -> str:
    """A migrated PostgreSQL database shared by the run, as database_url is for SQLite."""
    url = postgres.create_database()
    upgrade(url)
    return url


@dataclass(frozen=True)
class MailUser:
    username: str
    password: str


@dataclass(frozen=True)
class IMAPServer:
    """One of the suite's two Dovecot configurations with its SMTP sink, and its folder names.

    ``dovecot``: Dovecot's own layout (``Archive/2024``, special-use attributes, every extension).
    ``courier``: the layout of Courier IMAP and Debian's Cyrus (``INBOX.Archive.2024``, no
    special-use attributes, no MOVE, UNSELECT, CONDSTORE, QRESYNC, LIST-STATUS or ESEARCH).
    Tests write folder names as Dovecot's layout has them and ask ``folder()`` for the server's.
    """

    flavour: Flavour
    dovecot: Dovecot
    smtp: SMTPSink

    @property
    def prefix(self) -> str:
        return "INBOX." if self.flavour == "courier" else ""

    @property
    def delimiter(self) -> str:
        return "." if self.flavour == "courier" else "/"

    def folder(self, path: str) -> str:
        """The server's name of the folder ``path`` (``Archive/2024`` is ``INBOX.Archive.2024``)."""
        return path if path.upper() == "INBOX" else self.prefix + self.path(path)

    def path(self, path: str) -> str:
        """How the app shows the folder ``path``: without ``INBOX.``, with the server's delimiter."""
        return path.replace("/", self.delimiter)


# Commands a client may send only to a server that advertises them; the courier configuration
# does not, though Dovecot behind it would still carry them out.
UNADVERTISED = re.compile(
    r"^(UID )?MOVE |^UNSELECT|^ENABLE |\((CONDSTORE|QRESYNC)|CHANGEDSINCE|HIGHESTMODSEQ|"
    r"^LIST .*RETURN \(|^CREATE .*\(USE|SEARCH RETURN|^(UID )?SEARCH .*MODSEQ",
    re.IGNORECASE,
)


@pytest.fixture(scope="session")
def courier_server(services: DevServices) -> Iterator[IMAPServer]:
    """The second configuration, started the first time a test asks for it."""
    dovecot = start_dovecot(services.root / "courier", flavour="courier")
    smtp = SMTPSink(dovecot)
    smtp.start()
    yield IMAPServer("courier", dovecot, smtp)
    smtp.stop()
    dovecot.stop()


@pytest.fixture
def imap_server(request: pytest.FixtureRequest, services: DevServices) -> IMAPServer:
    """Dovecot's own configuration, or (in modules marked ``both_servers``) each in turn."""
    if getattr(request, "param", "dovecot") == "courier":
        server: IMAPServer = request.getfixturevalue("courier_server")
        return server
    return IMAPServer("dovecot", services.dovecot, services.smtp)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.definition.get_closest_marker("both_servers") and "imap_server" in metafunc.fixturenames:
        metafunc.parametrize("imap_server", ["dovecot", "courier"], indirect=True)


@pytest.fixture
def mail_user(request: pytest.FixtureRequest, imap_server: IMAPServer) -> Iterator[MailUser]:
    """A fresh user. Under ``both_servers`` its INBOX has UID gaps (UIDs 1 to 3 are gone, so no
    sequence number is a UID), and on the courier configuration the test fails if the app sent
    a command the server does not advertise."""
    password = f"pw-{secrets.token_hex(8)}"
    user = MailUser(imap_server.dovecot.new_user(password), password)
    both = request.node.get_closest_marker("both_servers") is not None
    if both:
        make_uid_gap(imap_server.dovecot, user)
    yield user
    if both and imap_server.flavour == "courier":
        commands = imap_server.dovecot.commands(user.username)
        assert commands, "no rawlog: the check below would pass for nothing"
        sent = [command for command in commands if UNADVERTISED.search(command)]
        assert not sent, f"sent to a server that does not advertise them: {sent}"


def make_uid_gap(dovecot: Dovecot, user: MailUser, count: int = 3) -> None:
    client = IMAPClient("127.0.0.1", dovecot.imap_port, ssl=False)
    client.login(user.username, user.password)
    for _ in range(count):
        client.append("INBOX", b"Subject: gap\r\n\r\nsoon gone\r\n")
    client.select_folder("INBOX")
    client.delete_messages(client.search(["ALL"]))
    client.expunge()
    client.logout()


def make_settings(
    services: DevServices, database_url: str, imap_server: IMAPServer | None = None, **overrides: object
) -> Settings:
    dovecot, smtp = (
        (imap_server.dovecot, imap_server.smtp) if imap_server else (services.dovecot, services.smtp)
    )
    values: dict[str, object] = {
        "imap_host": "127.0.0.1",
        "imap_port": dovecot.imap_port,
        "imap_security": "none",
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp.port,
        "smtp_security": "none",
        "sieve_port": dovecot.sieve_port,
        "sieve_security": "none",
        "redis_url": services.redis.url,
        "redis_prefix": f"t{uuid.uuid4().hex[:10]}",
        "database_url": database_url,
        "secret_key": secrets.token_urlsafe(48),
        "upload_dir": Path(tempfile.gettempdir()) / "webmail-test-uploads",
        "undo_send_seconds": 0,  # sent within the request unless a test wants the outbox
        # The POP3 servers of the tests listen on loopback, on ports of their own.
        "pop3_allowed_hosts": ["127.0.0.1"],
        "pop3_allowed_ports": ["110", "995", "1024-65535"],
    }
    values.update(overrides)
    return load_settings(**values)


def process_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment for a `webmail ...` child process that uses these settings."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("WEBMAIL_")}
    env.update(
        WEBMAIL_IMAP_HOST=settings.imap_host,
        WEBMAIL_IMAP_PORT=str(settings.imap_port),
        WEBMAIL_IMAP_SECURITY=settings.imap_security,
        WEBMAIL_IMAP_LEASE_SECONDS=str(settings.imap_lease_seconds),
        WEBMAIL_REDIS_URL=settings.redis_url,
        WEBMAIL_REDIS_PREFIX=settings.redis_prefix,
        WEBMAIL_DATABASE_URL=settings.database_url,
        WEBMAIL_SECRET_KEY=settings.secret_key.get_secret_value(),
        WEBMAIL_SMTP_HOST=settings.smtp_host,
        WEBMAIL_SMTP_PORT=str(settings.smtp_port),
        WEBMAIL_SMTP_SECURITY=settings.smtp_security,
        WEBMAIL_SIEVE_HOST=settings.managesieve_host,
        WEBMAIL_SIEVE_PORT=str(settings.sieve_port),
        WEBMAIL_SIEVE_SECURITY=settings.sieve_security,
        WEBMAIL_UPLOAD_DIR=str(settings.upload_dir),
        WEBMAIL_POP3_ALLOWED_HOSTS=",".join(settings.pop3_allowed_hosts),
        WEBMAIL_POP3_ALLOWED_PORTS=",".join(settings.pop3_allowed_ports),
        **extra,
    )
    return env


@pytest.fixture
def settings(services: DevServices, database_url: str, imap_server: IMAPServer) -> Settings:
    return make_settings(services, database_url, imap_server)


# Requests come from this machine, as from a browser on it (/metrics answers only such by default).
LOCAL_CLIENT = ("127.0.0.1", 50000)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), follow_redirects=False, client=LOCAL_CLIENT) as test_client:
        yield test_client


LOGIN_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
SESSION_TOKEN = re.compile(r'"X-CSRF-Token": "([^"]+)"')


def login_token(client: TestClient) -> str:
    page = client.get("/login")
    match = LOGIN_TOKEN.search(page.text)
    assert match, "login form has no csrf_token"
    return match.group(1)


def sign_in(client: TestClient, user: MailUser, password: str | None = None):  # type: ignore[no-untyped-def]
    token = login_token(client)
    return client.post(
        "/login",
        data={"username": user.username, "password": password or user.password, "csrf_token": token},
    )


def session_token(client: TestClient) -> str:
    page = client.get("/mail/INBOX")
    match = SESSION_TOKEN.search(page.text)
    assert match, "page has no X-CSRF-Token in hx-headers"
    return match.group(1)


FLASH = re.compile(r"data-flash>([^<]*)<")
UNDO_FORM = re.compile(r'<form method="post" action="([^"]*/undo)">(.*?)</form>', re.S)
HIDDEN = re.compile(r'name="(\w+)" value="([^"]*)"')


def flash_of(page: str) -> str:
    """The flash message a page shows ('' if none)."""
    found = FLASH.search(page)
    return html.unescape(found.group(1)) if found else ""


def flash_after(client: TestClient, response: Any) -> str:
    """The flash message of the page a redirect leads to (shown once: this takes it)."""
    return flash_of(client.get(response.headers["location"]).text)


def undo_form(page: str) -> tuple[str, dict[str, list[str]]]:
    """The toast's Undo form: where it posts and its fields (without the CSRF token)."""
    found = UNDO_FORM.search(page)
    assert found, "the page offers no Undo"
    fields: dict[str, list[str]] = {}
    for name, value in HIDDEN.findall(found.group(2)):
        if name != "csrf_token":
            fields.setdefault(name, []).append(html.unescape(value))
    return html.unescape(found.group(1)), fields


@pytest.fixture
def signed_in(client: TestClient, mail_user: MailUser) -> TestClient:
    response = sign_in(client, mail_user)
    assert response.status_code == 303, response.text
    return client


@pytest.fixture(scope="session")
def live_settings(services: DevServices, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    # The browser tests' own database: their worker must not pick up other tests' accounts.
    return make_settings(services, fresh_database(tmp_path_factory))


@pytest.fixture(scope="session")
def live_server(live_settings: Settings) -> Iterator[str]:
    """The app served by uvicorn in a thread, for browsers and streaming clients."""
    with serve_in_thread(live_settings) as url:
        yield url


@contextmanager
def serve_in_thread(settings: Settings) -> Iterator[str]:
    """The app with these settings served by uvicorn in a thread; yields its base URL."""
    port = free_port()
    # proxy_headers as `webmail serve` sets it: X-Forwarded-* only through WEBMAIL_TRUSTED_PROXIES.
    # A server in a thread gets no signal, so an open /events stream never hears of the exit:
    # after 5 s uvicorn ends what is still open, as `webmail serve` does on SIGTERM.
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", proxy_headers=False,
        timeout_graceful_shutdown=5,
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the live server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        # Its shutdown must end here, not later inside another test (where a lingering server's
        # errors were once reported, the services it needed already gone).
        thread.join(60)
        if thread.is_alive():
            pytest.fail("the live server did not stop within 60 s")


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run as root `apt-get install -y chromium` (make test does this)")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-default-apps",
            "--disable-sync",
            "--no-first-run",
        ],
    }


ROOT_PATH = "/webmail"


@dataclass(frozen=True)
class ProxiedApp:
    """The app under ``ROOT_PATH`` behind nginx (``deploy/nginx.conf``), as operators run it."""

    settings: Settings
    nginx: Nginx
    direct: str  # the app itself, without nginx

    @property
    def origin(self) -> str:
        return self.nginx.url

    @property
    def url(self) -> str:
        return self.nginx.url + ROOT_PATH


@contextmanager
def behind_nginx(settings: Settings, root: Path) -> Iterator[ProxiedApp]:
    with serve_in_thread(settings) as direct:
        nginx = start_nginx(
            root,
            upstream=direct.removeprefix("http://"),
            root_path=settings.root_path,
            static_dir=STATIC_DIR,
            max_attachment_mb=settings.max_attachment_mb,
        )
        try:
            yield ProxiedApp(settings, nginx, direct)
        finally:
            nginx.stop()


@pytest.fixture(scope="session")
def proxied(services: DevServices, postgres_database_url: str) -> Iterator[ProxiedApp]:
    """The app on PostgreSQL under /webmail, trusting nginx (127.0.0.1) for the client's address
    and scheme; started once, for the tests that ask for it. Attachments up to 10 MB: a message
    near that limit stays under the SMTP sink's 32 MiB once base64-encoded."""
    settings = make_settings(
        services,
        postgres_database_url,
        root_path=ROOT_PATH,
        trusted_proxies=["127.0.0.1"],
        max_attachment_mb=10,
    )
    # In the services' folder: nginx's workers (nobody) must reach their temporary files.
    with behind_nginx(settings, services.root / f"nginx-{uuid.uuid4().hex[:8]}") as app:
        yield app


LAYERS = ("unit", "integration", "e2e")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath))
        if "integration" in path.parts:
            item.add_marker(pytest.mark.integration)
        elif "e2e" in path.parts:
            item.add_marker(pytest.mark.e2e)
    # Units, then integration, then the browser tests, after pytest grouped the tests by their
    # parametrized session fixtures (which put integration tests after browser ones): Playwright's
    # sync API keeps an event loop running in the main thread for the rest of the session, and
    # the browser tests' server threads use the global random state that hypothesis guards.
    items.sort(key=_layer)


BROWSER_FIXTURES = {"page", "context", "browser", "screen_page"}


def _layer(item: pytest.Item) -> int:
    """unit 0, integration 1, e2e 2; a test with a browser counts as e2e wherever it lives."""
    parts = Path(str(item.fspath)).parts
    rank = next((rank for rank, layer in enumerate(LAYERS) if layer in parts), len(LAYERS))
    uses_browser = BROWSER_FIXTURES & set(getattr(item, "fixturenames", ()))
    return max(rank, LAYERS.index("e2e")) if uses_browser else rank


T = TypeVar("T")


def run_async(coroutine_function: Callable[..., Awaitable[T]], *args: Any) -> T:
    """Run async code to its end from a test. In a thread of its own: Playwright's sync API may
    already run an event loop in this one."""
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(anyio.run, coroutine_function, *args).result()
