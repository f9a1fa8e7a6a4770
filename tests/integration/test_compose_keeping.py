"""Attachments on disk, drafts in the Drafts folder, forwards that carry attachments, the reminder,
and failures that keep everything."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from fastapi.testclient import TestClient
from imapclient import IMAPClient

from tests.conftest import IMAPServer, MailUser, make_settings, session_token, sign_in
from tests.integration.test_compose import friend, inbox_of
from webmail.app import create_app
from webmail.devservices import DevServices
from webmail.devservices.system import free_port

__all__ = ["friend"]
DRAFT = "draftTest01"


@pytest.fixture
def small_limit(services: DevServices, database_url: str, mail_user: MailUser) -> Iterator[TestClient]:
    settings = make_settings(services, database_url, max_attachment_mb=1)
    with TestClient(create_app(settings), follow_redirects=False) as client:
        assert sign_in(client, mail_user).status_code == 303
        yield client


def upload(client: TestClient, draft_id: str, name: str, data: bytes, content_type: str = "application/pdf"):  # type: ignore[no-untyped-def]
    return client.post(
        f"/compose/{draft_id}/attachments",
        content=data,
        headers={"X-CSRF-Token": session_token(client), "X-File-Name": name, "Content-Type": content_type},
    )


def imap_of(server: DevServices | IMAPServer, user: MailUser) -> IMAPClient:
    client = IMAPClient("127.0.0.1", server.dovecot.imap_port, ssl=False)
    client.login(user.username, user.password)
    return client


def test_uploads_stream_to_disk_with_the_limit_checked_on_the_way(small_limit: TestClient) -> None:
    first = upload(small_limit, DRAFT, "report%20%C3%BC.pdf", os.urandom(600_000))
    assert first.status_code == 200
    assert "report ü.pdf" in first.text
    too_much = upload(small_limit, DRAFT, "big.bin", os.urandom(600_000))
    assert too_much.status_code == 413
    assert "Attachments may be 1 MB in all; “big.bin” is too large." in too_much.text
    assert "report ü.pdf" in too_much.text  # the first one stays
    assert "big.bin</" not in too_much.text
    removed = small_limit.post(
        f"/compose/{DRAFT}/attachments/1/delete", headers={"X-CSRF-Token": session_token(small_limit)}
    )
    assert "report ü.pdf" not in removed.text
    assert upload(small_limit, "../../etc", "x", b"x").status_code in (404, 422)  # no path games


def test_send_with_uploaded_attachments_byte_equal(
    signed_in: TestClient, services: DevServices, friend: MailUser, mail_user: MailUser
) -> None:
    data = os.urandom(2 * 1024 * 1024)
    assert upload(signed_in, DRAFT, "data.bin", data, "application/octet-stream").status_code == 200
    form = {"csrf_token": session_token(signed_in), "draft_id": DRAFT, "to": friend.username,
            "subject": "Files", "body": "Here they are."}  # fmt: skip
    assert signed_in.post("/compose/send", data=form).status_code == 303
    message = message_from_bytes(inbox_of(services, friend)[0], policy=policy.default)
    attachment = next(message.iter_attachments())  # type: ignore[attr-defined]
    assert attachment.get_filename() == "data.bin"
    assert hashlib.sha256(attachment.get_payload(decode=True)).hexdigest() == hashlib.sha256(data).hexdigest()
    assert upload(signed_in, DRAFT, "x", b"x").text.count("data-attachment=") == 1  # the old ones are gone


@pytest.mark.both_servers
def test_drafts_replace_each_other_reopen_and_vanish_on_send(
    signed_in: TestClient, imap_server: IMAPServer, friend: MailUser, mail_user: MailUser
) -> None:
    drafts = imap_server.folder("Drafts")  # made by the first save where the server has none
    upload(signed_in, DRAFT, "plan.txt", b"the plan", "text/plain")
    token = session_token(signed_in)
    form = {"csrf_token": token, "draft_id": DRAFT, "to": "not yet an address,", "subject": "Plan",
            "body": "First version"}  # fmt: skip
    assert signed_in.post("/compose/draft", data=form).status_code == 200
    form.update(body="Second version", to=friend.username, bcc="hidden@example.org")
    assert signed_in.post("/compose/draft", data=form).status_code == 200
    imap = imap_of(imap_server, mail_user)
    imap.select_folder(drafts)
    uids = imap.search(["ALL"])
    assert len(uids) == 1  # the previous version was replaced
    row = imap.fetch(uids, ["FLAGS", "BODY.PEEK[]"])[uids[0]]
    assert b"\\Draft" in row[b"FLAGS"]
    assert b"Second version" in row[b"BODY[]"]

    page = signed_in.get(f"/compose?draft={drafts}/{uids[0]}").text
    assert f'value="{friend.username}"' in page
    assert 'value="hidden@example.org"' in page
    assert "Second version" in page
    assert "plan.txt" in page
    assert f'name="draft_id" value="{DRAFT}"' in page

    form.update(csrf_token=session_token(signed_in))
    assert signed_in.post("/compose/send", data=form).status_code == 303
    imap.select_folder(drafts)
    assert imap.search(["ALL"]) == []  # sent: the draft is gone
    imap.logout()
    received = message_from_bytes(inbox_of(imap_server, friend)[0], policy=policy.default)
    assert next(received.iter_attachments()).get_content() == "the plan"  # type: ignore[attr-defined]


@pytest.mark.both_servers
def test_smtp_down_keeps_the_message_as_a_draft(
    services: DevServices, database_url: str, imap_server: IMAPServer, mail_user: MailUser
) -> None:
    settings = make_settings(services, database_url, imap_server, smtp_port=free_port())
    with TestClient(create_app(settings), follow_redirects=False) as client:
        sign_in(client, mail_user)
        form = {"csrf_token": session_token(client), "draft_id": DRAFT, "to": "x@example.org", "subject": "S",
                "body": "Precious words"}  # fmt: skip
        response = client.post("/compose/send", data=form)
    assert response.status_code == 503
    assert "The message was saved in Drafts." in response.text
    imap = imap_of(imap_server, mail_user)
    imap.select_folder(imap_server.folder("Drafts"))
    rows = imap.fetch(imap.search(["ALL"]), ["BODY.PEEK[]"])
    imap.logout()
    assert [b"Precious words" in row[b"BODY[]"] for row in rows.values()] == [True]


def original_with_attachment(services: DevServices, user: MailUser) -> tuple[int, bytes, bytes]:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@example.org", user.username, "Quarterly"
    message["Message-ID"] = "<q@example.org>"
    message.set_content("See the sheet.")
    sheet = os.urandom(50_000)
    message.add_attachment(sheet, maintype="application", subtype="vnd.ms-excel", filename="q3.xls")
    raw = bytes(message).replace(b"\n", b"\r\n").replace(b"\r\r\n", b"\r\n")
    imap = imap_of(services, user)
    uid = int(re.search(rb"APPENDUID \d+ (\d+)", imap.append("INBOX", raw)).group(1))  # type: ignore[union-attr]
    imap.logout()
    return uid, raw, sheet


def test_forward_carries_attachments_and_marks_forwarded(
    signed_in: TestClient, services: DevServices, friend: MailUser, mail_user: MailUser
) -> None:
    uid, _, sheet = original_with_attachment(services, mail_user)
    page = signed_in.get(f"/compose?forward=INBOX/{uid}").text
    assert "q3.xls" in page
    draft_id = re.search(r'name="draft_id" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    form = {"csrf_token": session_token(signed_in), "draft_id": draft_id, "to": friend.username,
            "subject": "Fwd: Quarterly", "body": "FYI", "reply_ref": f"INBOX/{uid}", "reply_kind": "forward"}  # fmt: skip
    assert signed_in.post("/compose/send", data=form).status_code == 303
    received = message_from_bytes(inbox_of(services, friend)[0], policy=policy.default)
    attachment = next(received.iter_attachments())  # type: ignore[attr-defined]
    assert attachment.get_filename() == "q3.xls"
    assert attachment.get_payload(decode=True) == sheet
    imap = imap_of(services, mail_user)
    imap.select_folder("INBOX")
    assert b"$Forwarded" in imap.get_flags([uid])[uid]
    imap.logout()


def test_forward_as_attachment_carries_the_whole_original(
    signed_in: TestClient, services: DevServices, friend: MailUser, mail_user: MailUser
) -> None:
    uid, raw, _ = original_with_attachment(services, mail_user)
    page = signed_in.get(f"/compose?forward=INBOX/{uid}&as=attachment").text
    assert "Quarterly.eml" in page
    draft_id = re.search(r'name="draft_id" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    form = {"csrf_token": session_token(signed_in), "draft_id": draft_id, "to": friend.username,
            "subject": "Fwd: Quarterly", "body": "As attachment"}  # fmt: skip
    assert signed_in.post("/compose/send", data=form).status_code == 303
    received = message_from_bytes(inbox_of(services, friend)[0], policy=policy.default)
    attached = next(received.iter_attachments())  # type: ignore[attr-defined]
    assert attached.get_content_type() == "message/rfc822"
    inner = attached.get_content()
    assert inner["Subject"] == "Quarterly"
    assert next(inner.iter_attachments()).get_filename() == "q3.xls"
    assert "base64" not in str(attached.get("Content-Transfer-Encoding", ""))


def test_attachment_reminder(signed_in: TestClient, services: DevServices, friend: MailUser) -> None:
    form = {"csrf_token": session_token(signed_in), "draft_id": DRAFT, "to": friend.username,
            "subject": "Report", "body": "Please find the report attached.\n\n> an attachment in the quote"}  # fmt: skip
    asked = signed_in.post("/compose/send", data=form)
    assert asked.status_code == 422
    assert "mentions an attachment, but nothing is attached" in asked.text
    assert "Please find the report attached." in asked.text
    assert inbox_of(services, friend) == []
    assert signed_in.post("/compose/send", data={**form, "attachment_ok": "1"}).status_code == 303
    quoted_only = {**form, "body": "Thanks!\n> the attachment you sent"}
    assert signed_in.post("/compose/send", data=quoted_only).status_code == 303
    assert len(inbox_of(services, friend)) == 2


def test_edit_as_new_starts_from_any_message(
    signed_in: TestClient, services: DevServices, mail_user: MailUser
) -> None:
    uid, _, _ = original_with_attachment(services, mail_user)
    page = signed_in.get(f"/compose?edit=INBOX/{uid}").text
    assert 'value="Quarterly"' in page
    assert "See the sheet." in page
    assert "q3.xls" in page
    assert f'value="{mail_user.username}"' in page  # the original's To
