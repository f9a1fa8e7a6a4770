"""Writing and sending through the devservices SMTP sink, which delivers to local users."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest
from fastapi.testclient import TestClient
from imapclient import IMAPClient

from tests.conftest import IMAPServer, MailUser, flash_after, session_token
from webmail.devservices import DevServices

pytestmark = pytest.mark.both_servers


def inbox_of(server: DevServices | IMAPServer, user: MailUser, folder: str = "INBOX") -> list[bytes]:
    """The messages in one of ``user``'s folders on ``server``'s Dovecot."""
    client = IMAPClient("127.0.0.1", server.dovecot.imap_port, ssl=False)
    client.login(user.username, user.password)
    client.select_folder(folder)
    uids = client.search(["ALL"])
    data = client.fetch(uids, ["BODY.PEEK[]"]) if uids else {}
    client.logout()
    return [row[b"BODY[]"] for row in data.values()]


@pytest.fixture
def friend(imap_server: IMAPServer) -> MailUser:
    """Someone on the same server: the SMTP sink delivers to its users."""
    return MailUser(imap_server.dovecot.new_user("pw-friend"), "pw-friend")


def test_send_arrives_and_is_kept_in_sent(
    signed_in: TestClient, imap_server: IMAPServer, mail_user: MailUser, friend: MailUser
) -> None:
    form = {"csrf_token": session_token(signed_in), "to": f"Friend <{friend.username}>", "cc": "", "bcc": "hidden@example.org",
            "subject": "Grüße aus dem Test", "body": "Hallo!\nZweite Zeile."}  # fmt: skip
    response = signed_in.post(
        "/compose/send", data=form, files={"attachments": ("notes.txt", b"attached bytes", "text/plain")}
    )
    assert response.status_code == 303, re.findall(r"role=\"alert\">[^<]*", response.text)
    assert "Message sent" in flash_after(signed_in, response)
    received = inbox_of(imap_server, friend)
    assert len(received) == 1
    message = message_from_bytes(received[0], policy=policy.default)
    assert message["Subject"] == "Grüße aus dem Test"
    assert message["From"] == mail_user.username
    assert "Bcc" not in message
    assert "Zweite Zeile." in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    attachment = next(message.iter_attachments())
    assert attachment.get_filename() == "notes.txt"
    assert attachment.get_content() == "attached bytes"
    envelope = [m for m in imap_server.smtp.messages if friend.username in m.rcpt_tos][-1]
    assert "hidden@example.org" in envelope.rcpt_tos
    assert len(inbox_of(imap_server, mail_user, imap_server.folder("Sent"))) == 1


def test_a_reply_to_mail_without_a_date_names_when_it_arrived(
    signed_in: TestClient, imap_server: IMAPServer, mail_user: MailUser
) -> None:
    imap = IMAPClient("127.0.0.1", imap_server.dovecot.imap_port, ssl=False)
    imap.login(mail_user.username, mail_user.password)
    raw = b"From: Dateless <d@example.org>\r\nSubject: No date\r\n\r\nWhen was this?\r\n"
    arrived = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
    uid = int(re.search(rb"APPENDUID \d+ (\d+)", imap.append("INBOX", raw, msg_time=arrived)).group(1))  # type: ignore[union-attr]
    imap.logout()
    page = signed_in.get(f"/compose?reply=INBOX/{uid}").text
    assert "unknown date" not in page
    assert re.search(r"On Mon, 02 Mar 2026 \d\d:\d\d, Dateless", page)


def test_reply_quotes_and_threads(
    signed_in: TestClient, imap_server: IMAPServer, mail_user: MailUser, friend: MailUser
) -> None:
    imap = IMAPClient("127.0.0.1", imap_server.dovecot.imap_port, ssl=False)
    imap.login(mail_user.username, mail_user.password)
    raw = (f"From: Friend <{friend.username}>\r\nTo: {mail_user.username}, other@example.org\r\n"
           "Subject: Re: Re: Plans\r\nMessage-ID: <orig@example.org>\r\nReferences: <root@example.org>\r\n\r\nShall we meet?\r\n")  # fmt: skip
    uid = int(re.search(rb"APPENDUID \d+ (\d+)", imap.append("INBOX", raw.encode())).group(1))  # type: ignore[union-attr]
    page = signed_in.get(f"/compose?reply_all=INBOX/{uid}").text
    assert 'value="Re: Plans"' in page
    assert f"Friend &lt;{friend.username}&gt;" in page
    assert "other@example.org" in page
    assert mail_user.username not in page.split('name="cc"')[1].split(">")[0]
    assert "&gt; Shall we meet?" in page
    token = session_token(signed_in)
    form = {"csrf_token": token, "to": friend.username, "subject": "Re: Plans", "body": "Yes.\n\n> Shall we meet?",
            "in_reply_to": "<orig@example.org>", "references": "<root@example.org>", "reply_ref": f"INBOX/{uid}"}  # fmt: skip
    assert signed_in.post("/compose/send", data=form).status_code == 303
    reply = message_from_bytes(inbox_of(imap_server, friend)[-1], policy=policy.default)
    assert reply["In-Reply-To"] == "<orig@example.org>"
    assert reply["References"] == "<root@example.org> <orig@example.org>"
    imap.select_folder("INBOX")
    assert b"\\Answered" in imap.get_flags([uid])[uid]
    imap.logout()


def test_invalid_address_keeps_everything_written(signed_in: TestClient) -> None:
    form = {"csrf_token": session_token(signed_in), "to": "not an address, ok@example.org", "subject": "Keep me",
            "body": "A long text that must not be lost."}  # fmt: skip
    response = signed_in.post("/compose/send", data=form)
    assert response.status_code == 422
    assert "These addresses are not valid: not an address" in response.text
    assert "A long text that must not be lost." in response.text
    assert 'value="Keep me"' in response.text


def test_smtp_server_gone_keeps_the_text(
    services: DevServices, database_url: str, imap_server: IMAPServer, mail_user: MailUser
) -> None:
    from tests.conftest import make_settings, sign_in
    from webmail.app import create_app
    from webmail.devservices.system import free_port

    settings = make_settings(services, database_url, imap_server, smtp_port=free_port())
    with TestClient(create_app(settings), follow_redirects=False) as client:
        sign_in(client, mail_user)
        form = {
            "csrf_token": session_token(client),
            "to": "x@example.org",
            "subject": "S",
            "body": "Precious words",
        }
        response = client.post("/compose/send", data=form)
    assert response.status_code == 503
    assert "Your message was not sent" in response.text
    assert "Precious words" in response.text


def test_forward_inline(signed_in: TestClient, imap_server: IMAPServer, mail_user: MailUser) -> None:
    imap = IMAPClient("127.0.0.1", imap_server.dovecot.imap_port, ssl=False)
    imap.login(mail_user.username, mail_user.password)
    uid = int(
        re.search(
            rb"APPENDUID \d+ (\d+)",
            imap.append("INBOX", b"From: a@example.org\r\nSubject: Fw: Report\r\n\r\nThe numbers.\r\n"),
        ).group(1)
    )  # type: ignore[union-attr]
    imap.logout()
    page = signed_in.get(f"/compose?forward=INBOX/{uid}").text
    assert 'value="Fwd: Report"' in page
    assert "---------- Forwarded message ----------" in page
    assert "The numbers." in page


def test_plain_text_goes_as_format_flowed(
    signed_in: TestClient, imap_server: IMAPServer, friend: MailUser
) -> None:
    long_line = "This sentence is long enough that it must be wrapped by the sender " * 3
    form = {"csrf_token": session_token(signed_in), "to": friend.username, "subject": "Flowed",
            "body": long_line.strip() + "\n> quoted line\nFrom the start\n-- \nMe"}  # fmt: skip
    assert signed_in.post("/compose/send", data=form).status_code == 303
    message = message_from_bytes(inbox_of(imap_server, friend)[0], policy=policy.default)
    assert message.get_content_type() == "text/plain"
    assert message.get_param("format") == "flowed"
    assert message["Content-Transfer-Encoding"] == "quoted-printable"
    lines = message.get_content().replace("\r\n", "\n").split("\n")
    assert all(len(line) <= 78 for line in lines)
    assert lines[0].endswith(" ")  # a soft break: readers join the lines again
    assert "> quoted line" in lines
    assert " From the start" in lines  # space-stuffed
    assert "-- " in lines


def test_html_editor_sends_alternative_with_sanitised_html(
    signed_in: TestClient, imap_server: IMAPServer, friend: MailUser
) -> None:
    html = ('<div>Hello <b>bold</b> <a href="https://example.org">link</a></div><ul><li>one</li></ul>'
            '<img src="https://tracker.example/x.png"><script>alert(1)</script><div onclick="x()">tail</div>')  # fmt: skip
    form = {"csrf_token": session_token(signed_in), "to": friend.username, "subject": "Formatted",
            "format": "html", "body_html": html, "body": ""}  # fmt: skip
    assert signed_in.post("/compose/send", data=form).status_code == 303
    message = message_from_bytes(inbox_of(imap_server, friend)[0], policy=policy.default)
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    sent_html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Hello bold link <https://example.org>" in plain
    assert "- one" in plain
    assert "<b>bold</b>" in sent_html
    for banned in ("<script", "onclick", "<img", "tracker.example"):
        assert banned not in sent_html


def test_partly_refused_recipients_are_named_and_nothing_is_resent(
    signed_in: TestClient, imap_server: IMAPServer, friend: MailUser
) -> None:
    form = {"csrf_token": session_token(signed_in), "to": f"{friend.username}, nobody@refused.invalid",
            "subject": "Partly", "body": "Hello"}  # fmt: skip
    response = signed_in.post("/compose/send", data=form)
    assert response.status_code == 303
    done = flash_after(signed_in, response)
    assert (
        "refused these recipients, so they did not get it: nobody@refused.invalid (5.1.1 No such user here)"
        in done
    )
    assert len(inbox_of(imap_server, friend)) == 1


def test_every_recipient_refused_keeps_the_form(signed_in: TestClient) -> None:
    form = {"csrf_token": session_token(signed_in), "to": "nobody@refused.invalid", "subject": "None",
            "body": "Kept words"}  # fmt: skip
    response = signed_in.post("/compose/send", data=form)
    assert response.status_code == 422
    assert "refused these recipients: nobody@refused.invalid" in response.text
    assert "Kept words" in response.text


def test_international_addresses(
    signed_in: TestClient, imap_server: IMAPServer, mail_user: MailUser, friend: MailUser
) -> None:
    """An IDN domain goes as A-labels; a non-ASCII name before the @ goes with SMTPUTF8, raw
    UTF-8 in the headers (encoded words there would break the address), Sent copy included."""
    form = {"csrf_token": session_token(signed_in), "to": f"Jörg <jörg@bücher.example>, {friend.username}",
            "cc": "Ana <ana@café.example>", "bcc": "", "subject": "Ünïcode", "body": "Hallo"}  # fmt: skip
    response = signed_in.post("/compose/send", data=form)
    assert response.status_code == 303, re.findall(r"role=\"alert\">[^<]*", response.text)
    envelope = [m for m in imap_server.smtp.messages if friend.username in m.rcpt_tos][-1]
    assert envelope.rcpt_tos == ("jörg@bücher.example", friend.username, "ana@xn--caf-dma.example")
    assert "SMTPUTF8" in envelope.mail_options
    assert "To: Jörg <jörg@bücher.example>".encode() in envelope.content
    assert b"Cc: Ana <ana@xn--caf-dma.example>" in envelope.content
    received = message_from_bytes(inbox_of(imap_server, friend)[-1], policy=policy.default)
    assert received["Subject"] == "Ünïcode"
    sent = inbox_of(imap_server, mail_user, imap_server.folder("Sent"))[-1]
    assert "To: Jörg <jörg@bücher.example>".encode() in sent


def test_only_an_idn_domain_needs_no_smtputf8(
    services: DevServices, database_url: str, imap_server: IMAPServer, mail_user: MailUser
) -> None:
    from tests.conftest import make_settings, sign_in
    from webmail.app import create_app
    from webmail.devservices.smtp import SMTPSink

    old_server = SMTPSink(imap_server.dovecot, smtputf8=False)
    old_server.start()
    try:
        settings = make_settings(services, database_url, imap_server, smtp_port=old_server.port)
        with TestClient(create_app(settings), follow_redirects=False) as client:
            sign_in(client, mail_user)
            form = {"csrf_token": session_token(client), "to": "jörg@example.org", "subject": "Für Jörg",
                    "body": "Words that must stay"}  # fmt: skip
            refused = client.post("/compose/send", data=form)
            form["to"] = "joerg@bücher.example"
            accepted = client.post("/compose/send", data=form)
    finally:
        old_server.stop()
    assert refused.status_code == 422
    assert "does not offer SMTPUTF8" in refused.text
    assert "Words that must stay" in refused.text  # the form comes back with everything written
    assert accepted.status_code == 303
    assert [m.rcpt_tos for m in old_server.messages] == [("joerg@xn--bcher-kva.example",)]
    assert "SMTPUTF8" not in old_server.messages[0].mail_options
