"""The shared message-list cache: filled by one worker, used by another, never stale."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from imapclient import IMAPClient

from tests.conftest import IMAPServer, MailUser, sign_in
from webmail.app import create_app
from webmail.config import Settings
from webmail.imap import metrics
from webmail.imap.cache import page_from_json, page_to_json

# Without CONDSTORE (the courier server), pages are keyed by UIDNEXT and count, flags checked.
pytestmark = pytest.mark.both_servers


def hits() -> float:
    return metrics.CACHE_HITS.labels(kind="page")._value.get()


def misses() -> float:
    return metrics.CACHE_MISSES.labels(kind="page")._value.get()


@pytest.fixture
def two_workers(settings: Settings, mail_user: MailUser) -> Iterator[tuple[TestClient, TestClient]]:
    """Two app instances (as two worker processes would be) sharing Redis, both signed in."""
    with (
        TestClient(create_app(settings), follow_redirects=False) as first,
        TestClient(create_app(settings), follow_redirects=False) as second,
    ):
        assert sign_in(first, mail_user).status_code == 303
        second.cookies.update(first.cookies)
        yield first, second


@pytest.fixture
def imap(imap_server: IMAPServer, mail_user: MailUser) -> Iterator[IMAPClient]:
    client = IMAPClient("127.0.0.1", imap_server.dovecot.imap_port, ssl=False)
    client.login(mail_user.username, mail_user.password)
    for i in range(5):
        client.append("INBOX", f"From: a@example.org\r\nSubject: cached {i}\r\n\r\nbody\r\n".encode())
    client.select_folder("INBOX")
    yield client
    client.logout()


def test_second_worker_serves_from_the_cache(
    two_workers: tuple[TestClient, TestClient], imap: IMAPClient
) -> None:
    first, second = two_workers
    before_hits, before_misses = hits(), misses()
    one = first.get("/mail/INBOX")
    assert misses() == before_misses + 1
    two = second.get("/mail/INBOX")
    assert hits() == before_hits + 1
    rows = lambda html: re.findall(r'data-uid="(\d+)"', html)  # noqa: E731
    assert rows(one.text) == rows(two.text)


def test_flag_set_elsewhere_is_never_served_stale(
    two_workers: tuple[TestClient, TestClient], imap: IMAPClient
) -> None:
    first, second = two_workers
    first.get("/mail/INBOX")
    uid = imap.search(["SUBJECT", "cached 3"])[0]
    imap.add_flags([uid], [b"\\Flagged"])
    html = second.get("/mail/INBOX").text
    assert re.search(rf'class="msg unseen flagged"\s+data-uid="{uid}"', html)


def test_a_flag_change_refreshes_the_kept_page_and_an_arrival_fetches_it_again(
    two_workers: tuple[TestClient, TestClient], imap: IMAPClient
) -> None:
    """Only flags changed (opening a message marks it read): the page kept for the same messages
    is brought up to date by its flags, not fetched again; a new message is fetched."""
    first, second = two_workers
    first.get("/mail/INBOX")
    uid = imap.search(["SUBJECT", "cached 2"])[0]
    imap.add_flags([uid], [b"\\Seen", b"\\Flagged"])
    before_hits, before_misses = hits(), misses()
    html = second.get("/mail/INBOX").text
    assert (hits(), misses()) == (before_hits + 1, before_misses)
    assert re.search(rf'class="msg flagged"\s+data-uid="{uid}"', html)
    imap.append("INBOX", b"From: b@example.org\r\nSubject: newly arrived\r\n\r\nbody\r\n")
    html = first.get("/mail/INBOX").text
    assert misses() == before_misses + 1
    assert "newly arrived" in html


def test_expunge_elsewhere_removes_the_row(
    two_workers: tuple[TestClient, TestClient], imap: IMAPClient
) -> None:
    first, second = two_workers
    first.get("/mail/INBOX")
    uid = imap.search(["SUBJECT", "cached 1"])[0]
    imap.delete_messages([uid])
    imap.expunge()
    html = second.get("/mail/INBOX").text
    assert f'data-uid="{uid}"' not in html
    assert "cached 1" not in html


def test_sign_out_forgets_the_pages(
    two_workers: tuple[TestClient, TestClient], imap: IMAPClient, settings: Settings
) -> None:
    import redis

    first, _ = two_workers
    first.get("/mail/INBOX")
    r = redis.Redis.from_url(settings.redis_url)
    assert list(r.scan_iter(f"{settings.redis_prefix}:page:*"))
    token = re.search(r'"X-CSRF-Token": "([^"]+)"', first.get("/mail/INBOX").text)
    assert token
    first.post("/logout", headers={"X-CSRF-Token": token.group(1)})
    assert not list(r.scan_iter(f"{settings.redis_prefix}:page:*"))
    r.close()


def test_json_round_trip(two_workers: tuple[TestClient, TestClient], imap: IMAPClient) -> None:
    first, _ = two_workers
    threads_page = first.portal.call(_fetch_page, first)  # type: ignore[union-attr]
    assert threads_page.threads
    assert page_from_json(page_to_json(threads_page)) == threads_page


async def _fetch_page(client: TestClient):  # type: ignore[no-untyped-def]
    from webmail.imap.store import MailStore
    from webmail.imap.types import Credentials

    services = client.app.state.services  # type: ignore[attr-defined]
    session = await services.sessions.load(client.cookies.get("wm_session"))
    store = MailStore(services.pool, Credentials(session.user, session.password))
    folders = await store.list_folders()
    inbox = next(f for f in folders if f.name == "INBOX")
    return await store.threads(inbox, page=1, page_size=50)
