"""Filters, vacation and forwarding made through the routes, run by the real Dovecot/Pigeonhole
on mail delivered over LMTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from imapclient import IMAPClient

from tests.conftest import MailUser, make_settings, session_token, sign_in
from webmail.app import create_app
from webmail.devservices import DevServices, SentMessage
from webmail.devservices.system import free_port
from webmail.sieve.client import ManageSieveClient


@pytest.fixture
def imap(services: DevServices, mail_user: MailUser) -> Iterator[IMAPClient]:
    client = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    client.login(mail_user.username, mail_user.password)
    yield client
    client.logout()


@pytest.fixture
def sieve(services: DevServices, mail_user: MailUser) -> Iterator[ManageSieveClient]:
    with ManageSieveClient.connect(
        "127.0.0.1", services.dovecot.sieve_port, security="none", timeout=10
    ) as client:
        client.authenticate(mail_user.username, mail_user.password)
        yield client


def message(sender: str, subject: str, *, extra: str = "") -> bytes:
    return (
        f"From: {sender}\r\nTo: someone@example.org\r\nSubject: {subject}\r\n"
        f"Message-ID: <{time.monotonic_ns()}@test>\r\n{extra}\r\nHello.\r\n"
    ).encode()


def add_rule(client: TestClient, conditions: list[tuple[str, str, str]], actions: list[tuple[str, str]],
             **extra: str) -> object:  # fmt: skip
    data: dict[str, object] = {
        "csrf_token": session_token(client),
        "name": extra.pop("name", ""),
        "match": extra.pop("match", "all"),
        "field": [c[0] for c in conditions],
        "op": [c[1] for c in conditions],
        "value": [c[2] for c in conditions],
        "action": [a[0] for a in actions],
        "target": [a[1] for a in actions],
        **extra,
    }
    return client.post("/settings/filters", data=data)


def sent_to(
    services: DevServices, recipient: str, *, count: int = 1, timeout: float = 5.0
) -> list[SentMessage]:
    """The messages the SMTP sink took for ``recipient`` once there are ``count`` of them."""
    deadline = time.monotonic() + timeout
    while True:
        found = [m for m in list(services.smtp.messages) if recipient in m.rcpt_tos]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_rules_from_the_form_are_stored_activated_and_applied(
    signed_in: TestClient,
    services: DevServices,
    mail_user: MailUser,
    imap: IMAPClient,
    sieve: ManageSieveClient,
) -> None:
    imap.create_folder("Lists/Python")
    response = add_rule(signed_in, [("header:List-Id", "contains", "python-list.example.org")],
                        [("fileinto", "Lists/Python")], name="Python list")  # fmt: skip
    assert response.status_code == 303, response.text
    add_rule(signed_in, [("subject", "contains", "urgent"), ("from", "contains", "boss@")],
             [("flag", "\\Flagged"), ("seen", "")], match="any")  # fmt: skip
    forward_to = f"fwd-{time.monotonic_ns()}@example.org"
    add_rule(signed_in, [("from", "is", "alerts@example.org")], [("redirect", forward_to)])

    scripts = sieve.list_scripts()
    assert [(s.name, s.active) for s in scripts] == [("webmail", True)]
    page = signed_in.get("/settings/filters").text
    assert "Python list" in page
    assert 'draggable="true"' in page

    deliver = services.dovecot.deliver
    deliver("list@example.org", mail_user.username,
            message("Ann <ann@example.org>", "Release", extra="List-Id: Python <python-list.example.org>\r\n"))  # fmt: skip
    deliver("boss@example.org", mail_user.username, message("boss@example.org", "Numbers"))
    deliver("alerts@example.org", mail_user.username, message("Alerts <alerts@example.org>", "Disk full"))
    deliver("ann@example.org", mail_user.username, message("ann@example.org", "Lunch?"))

    imap.select_folder("Lists/Python", readonly=True)
    assert len(imap.search(["SUBJECT", "Release"])) == 1
    imap.select_folder("INBOX", readonly=True)
    assert imap.search(["SUBJECT", "Release"]) == []
    flagged = imap.search(["FLAGGED", "SEEN"])
    assert [imap.fetch(flagged, ["ENVELOPE"])[uid][b"ENVELOPE"].subject for uid in flagged] == [b"Numbers"]
    # redirect: forwarded through the SMTP sink, and no longer kept here
    (forwarded,) = sent_to(services, forward_to)
    assert b"Subject: Disk full" in forwarded.content
    assert imap.search(["SUBJECT", "Disk full"]) == []
    assert len(imap.search(["SUBJECT", "Lunch?"])) == 1  # matched by nothing: kept in INBOX


def test_reorder_and_disable(signed_in: TestClient, sieve: ManageSieveClient) -> None:
    for name in ("One", "Two", "Three"):
        add_rule(signed_in, [("subject", "contains", name.lower())], [("stop", "")], name=name)
    token = session_token(signed_in)
    assert (
        signed_in.post("/settings/filters/order", data={"csrf_token": token, "order": "2,0,1"}).status_code
        == 303
    )
    assert signed_in.post("/settings/filters/0/toggle", data={"csrf_token": token}).status_code == 303
    script = sieve.get_script("webmail")
    assert script.index("# Three") < script.index("# One") < script.index("# Two")
    assert 'if allof (false, header :contains "subject" "three")' in script
    # With htmx, the list alone comes back.
    partial = signed_in.post("/settings/filters/0/toggle", data={"csrf_token": token},
                             headers={"HX-Request": "true", "HX-Target": "filter-rules"})  # fmt: skip
    assert partial.status_code == 200
    assert partial.text.lstrip().startswith('<section id="filter-rules"')
    assert "(off)" not in partial.text


def test_a_stale_page_changes_nothing(signed_in: TestClient, sieve: ManageSieveClient) -> None:
    add_rule(signed_in, [("subject", "contains", "a")], [("stop", "")], name="A")
    page = signed_in.get("/settings/filters").text
    version = page.split('name="version" value="')[1].split('"')[0]
    add_rule(signed_in, [("subject", "contains", "b")], [("stop", "")], name="B")
    response = signed_in.post(
        "/settings/filters/0/delete", data={"csrf_token": session_token(signed_in), "version": version}
    )
    assert response.status_code == 409
    assert "changed meanwhile" in response.text
    assert "# A" in sieve.get_script("webmail")


def test_discard_and_reject_ask_first(signed_in: TestClient, sieve: ManageSieveClient) -> None:
    first = add_rule(signed_in, [("from", "contains", "spam@")], [("discard", "")], name="Bin")
    assert first.status_code == 200  # type: ignore[attr-defined]
    assert "delete matching messages for good" in first.text  # type: ignore[attr-defined]
    assert sieve.list_scripts() == []
    confirmed = add_rule(
        signed_in, [("from", "contains", "spam@")], [("discard", "")], name="Bin", confirm="yes"
    )
    assert confirmed.status_code == 303  # type: ignore[attr-defined]
    assert "discard;" in sieve.get_script("webmail")


def test_vacation_answers_once_per_sender_within_the_period(
    signed_in: TestClient, services: DevServices, mail_user: MailUser, sieve: ManageSieveClient
) -> None:
    today = date.today()
    form = {"csrf_token": session_token(signed_in), "enabled": "on", "subject": "Away", "days": "1",
            "body": "I am away until Monday.\r\n.\r\nAnna", "start": (today - timedelta(days=1)).isoformat(),
            "end": (today + timedelta(days=1)).isoformat()}  # fmt: skip
    assert signed_in.post("/settings/vacation", data=form).status_code == 303
    assert "Your vacation reply is on" in signed_in.get("/mail/INBOX").text
    assert f':addresses "{mail_user.username}"' in sieve.get_script("webmail")  # from the identities

    first, second = f"a-{time.monotonic_ns()}@example.org", f"b-{time.monotonic_ns()}@example.org"
    for sender in (first, first, second):
        services.dovecot.deliver(sender, mail_user.username, message(sender, "Question"))
    replies = sent_to(services, first, count=2, timeout=0.5)
    assert len(replies) == 1
    assert b"Subject: Away" in replies[0].content
    assert b"I am away until Monday.\r\n.\r\nAnna" in replies[0].content  # the dot line kept
    assert len(sent_to(services, second)) == 1

    # Over (the last day was yesterday): no reply, and no banner.
    form.update(csrf_token=session_token(signed_in), start=(today - timedelta(days=3)).isoformat(),
                end=(today - timedelta(days=1)).isoformat())  # fmt: skip
    assert signed_in.post("/settings/vacation", data=form).status_code == 303
    third = f"c-{time.monotonic_ns()}@example.org"
    services.dovecot.deliver(third, mail_user.username, message(third, "Question"))
    assert sent_to(services, third, timeout=0.5) == []
    assert "vacation reply is" not in signed_in.get("/mail/INBOX").text


def test_forwarding_all_mail_keeping_a_copy(
    signed_in: TestClient, services: DevServices, mail_user: MailUser, imap: IMAPClient
) -> None:
    target = f"me-{time.monotonic_ns()}@example.org"
    form = {"csrf_token": session_token(signed_in), "forward_to": target, "keep": "on"}
    assert signed_in.post("/settings/forwarding", data=form).status_code == 303
    services.dovecot.deliver("x@example.org", mail_user.username, message("x@example.org", "Copy me"))
    assert len(sent_to(services, target)) == 1
    imap.select_folder("INBOX", readonly=True)
    assert len(imap.search(["SUBJECT", "Copy me"])) == 1


def test_too_many_redirects_are_refused_in_words(signed_in: TestClient, sieve: ManageSieveClient) -> None:
    for n in range(4):
        add_rule(signed_in, [("subject", "contains", str(n))], [("redirect", f"r{n}@example.org")])
    response = add_rule(signed_in, [("subject", "contains", "5")], [("redirect", "r5@example.org")])
    assert response.status_code == 422  # type: ignore[attr-defined]
    assert "at most 4 addresses" in response.text  # type: ignore[attr-defined]
    assert "r5@" not in sieve.get_script("webmail")


FOREIGN = (
    'require ["fileinto"];\n# written by another client\r\nif header :is "x-a" "b" {\n  fileinto "INBOX";\n}'
)


def test_a_script_from_another_client_round_trips_unchanged(
    signed_in: TestClient, sieve: ManageSieveClient
) -> None:
    sieve.put_script("roundcube", FOREIGN)
    sieve.set_active("roundcube")
    page = signed_in.get("/settings/filters")
    assert page.status_code == 200
    assert "written by another program" in page.text
    assert "# written by another client" in page.text  # shown raw
    assert 'class="settings-form filter-builder"' not in page.text

    refused = add_rule(signed_in, [("subject", "contains", "x")], [("stop", "")])
    assert refused.status_code == 409  # type: ignore[attr-defined]
    vacation = signed_in.post("/settings/vacation", data={"csrf_token": session_token(signed_in), "enabled": "on",
                                                           "body": "Away"})  # fmt: skip
    assert vacation.status_code == 409
    assert sieve.get_script("roundcube") == FOREIGN
    assert [(s.name, s.active) for s in sieve.list_scripts()] == [("roundcube", True)]

    # Replacing it is a deliberate act, and the old script stays.
    token = session_token(signed_in)
    assert signed_in.post("/settings/filters/replace", data={"csrf_token": token}).status_code == 303
    assert sorted((s.name, s.active) for s in sieve.list_scripts()) == [
        ("roundcube", False),
        ("webmail", True),
    ]
    assert sieve.get_script("roundcube") == FOREIGN


def test_a_hand_edited_script_is_shown_raw(signed_in: TestClient, sieve: ManageSieveClient) -> None:
    add_rule(signed_in, [("subject", "contains", "x")], [("fileinto", "INBOX")])
    edited = sieve.get_script("webmail").replace('fileinto "INBOX";', 'fileinto "INBOX";\r\n    stop;')
    response = signed_in.post(
        "/settings/filters/raw", data={"csrf_token": session_token(signed_in), "script": edited}
    )
    assert response.status_code == 303
    assert sieve.get_script("webmail") == edited
    page = signed_in.get("/settings/filters").text
    assert "written by another program (or edited by hand)" in page


def test_checkscript_errors_are_shown_in_words(signed_in: TestClient, sieve: ManageSieveClient) -> None:
    token = session_token(signed_in)
    bad = 'require "fileinto";\nif frobnicate "x" { stop; }\n'
    checked = signed_in.post("/settings/filters/raw/check", data={"csrf_token": token, "script": bad})
    assert checked.status_code == 422
    assert "unknown test &#39;frobnicate&#39;" in checked.text
    assert "frobnicate" in checked.text.split("<textarea")[1]  # the text is kept for fixing
    saved = signed_in.post("/settings/filters/raw", data={"csrf_token": token, "script": bad})
    assert saved.status_code == 422
    assert sieve.list_scripts() == []
    good = signed_in.post("/settings/filters/raw/check", data={"csrf_token": token, "script": "keep;\n"})
    assert "The server accepts this script." in good.text


def test_injection_through_rule_fields_does_what_the_form_said(
    signed_in: TestClient,
    services: DevServices,
    mail_user: MailUser,
    imap: IMAPClient,
    sieve: ManageSieveClient,
) -> None:
    hostile = 'evil"; discard; keep "\\'
    imap.create_folder('Odd "name\\')
    response = add_rule(signed_in, [("subject", "contains", hostile)], [("fileinto", 'Odd "name\\')])
    assert response.status_code == 303, response.text  # type: ignore[attr-defined]
    rule = 'if header :contains "subject" "evil\\"; discard; keep \\"\\\\" {\r\n    fileinto "Odd \\"name\\\\";\r\n}\r\n'
    assert sieve.get_script("webmail").endswith(rule)

    line_break = add_rule(signed_in, [("subject", "contains", "a\r\nX-Evil: 1")], [("stop", "")])
    assert line_break.status_code == 422  # type: ignore[attr-defined]
    assert "Subject: line breaks cannot be used here." in line_break.text  # type: ignore[attr-defined]

    services.dovecot.deliver("x@example.org", mail_user.username, message("x@example.org", f"Re: {hostile}"))
    services.dovecot.deliver("x@example.org", mail_user.username, message("x@example.org", "evil harmless"))
    imap.select_folder('Odd "name\\', readonly=True)
    assert len(imap.search(["ALL"])) == 1
    imap.select_folder("INBOX", readonly=True)
    assert len(imap.search(["SUBJECT", "evil harmless"])) == 1  # not discarded


def test_try_a_rule_on_the_current_folder(signed_in: TestClient, imap: IMAPClient) -> None:
    for subject in ("Invoice 1", "Invoice 2", "Hello"):
        imap.append("INBOX", message("billing@example.org", subject))
    data = {"csrf_token": session_token(signed_in), "folder": "INBOX", "match": "all", "field": "subject",
            "op": "contains", "value": "invoice", "action": "fileinto", "target": "Archive"}  # fmt: skip
    plain = signed_in.post("/settings/filters/test", data=data)
    assert "Would match 2 of the last 3 messages in INBOX." in plain.text
    partial = signed_in.post("/settings/filters/test", data={**data, "op": "is"},
                             headers={"HX-Request": "true", "HX-Target": "rule-test"})  # fmt: skip
    assert partial.text.strip().startswith("<p")
    assert "Would match at most 2 of the last 3 messages" in partial.text


def test_filter_messages_like_this(signed_in: TestClient, imap: IMAPClient) -> None:
    imap.append("INBOX", message("News <news@example.org>", "Re: Weekly",
                                 extra="List-Id: Weekly news <weekly.example.org>\r\n"))  # fmt: skip
    imap.select_folder("INBOX", readonly=True)
    uid = imap.search(["ALL"])[0]
    reader = signed_in.get(f"/mail/INBOX/{uid}").text
    assert f"/settings/filters/new?folder=INBOX&amp;uid={uid}" in reader
    page = signed_in.get(f"/settings/filters/new?folder=INBOX&uid={uid}").text
    assert 'value="weekly.example.org"' in page
    assert 'value="header:List-Id" selected' in page
    by_sender = signed_in.get(f"/settings/filters/new?folder=INBOX&uid={uid}&by=from").text
    assert 'value="news@example.org"' in by_sender
    by_subject = signed_in.get(f"/settings/filters/new?folder=INBOX&uid={uid}&by=subject").text
    assert 'value="Weekly"' in by_subject
    selected = signed_in.post("/settings/filters/like", data={"csrf_token": session_token(signed_in),
                                                               "folder": "INBOX", "uid": str(uid)})  # fmt: skip
    assert selected.status_code == 303
    assert selected.headers["location"].endswith(f"/settings/filters/new?folder=INBOX&uid={uid}")


def test_without_managesieve_the_pages_say_so(
    services: DevServices, database_url: str, mail_user: MailUser
) -> None:
    settings = make_settings(services, database_url, sieve_port=free_port())
    with TestClient(create_app(settings), follow_redirects=False) as client:
        assert sign_in(client, mail_user).status_code == 303
        for path in ("/settings/filters", "/settings/vacation"):
            page = client.get(path)
            assert page.status_code == 200
            assert "Filters are not available" in page.text
        assert client.get("/mail/INBOX").status_code == 200  # no banner, no failure
