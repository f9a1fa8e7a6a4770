"""Identities: several From addresses, Reply-To, Bcc-self, signatures, replies pick the right one."""

from __future__ import annotations

from email import message_from_bytes, policy

from fastapi.testclient import TestClient
from imapclient import IMAPClient

from tests.conftest import LOCAL_CLIENT, MailUser, make_settings, session_token, sign_in
from tests.integration.test_compose import friend, inbox_of
from tests.integration.test_outbox import time_passes, worker_tick
from webmail.app import create_app
from webmail.devservices import DevServices

__all__ = ["friend"]


def add_identity(client: TestClient, **fields: str) -> None:
    data = {"csrf_token": session_token(client), "name": "", "email": "", "reply_to": "", "signature_text": "",
            "signature_html": "", **fields}  # fmt: skip
    response = client.post("/settings/identities", data=data)
    assert response.status_code == 303, response.text


def test_identities_signatures_and_replies(
    signed_in: TestClient, services: DevServices, mail_user: MailUser, friend: MailUser
) -> None:
    add_identity(signed_in, name="Jürgen Müller", email=mail_user.username, signature_text="Jürgen\nDesk 4",
                 is_default="on")  # fmt: skip
    add_identity(signed_in, name="Sales", email="sales@example.test", reply_to="team@example.test", bcc_self="on",
                 signature_text="The sales team")  # fmt: skip
    page = signed_in.get("/settings/identities").text
    assert "Sales &lt;sales@example.test&gt;" in page

    compose = signed_in.get("/compose").text
    assert "\n\n-- \nJürgen\nDesk 4" in compose  # the default identity's signature
    assert 'name="identity"' in compose

    # A reply to mail sent to the sales address is written as Sales, with its signature.
    imap = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    imap.login(mail_user.username, mail_user.password)
    imap.append("INBOX", f"From: {friend.username}\r\nTo: sales@example.test\r\nSubject: Offer\r\n"
                          "Message-ID: <o@x>\r\n\r\nHow much?\r\n".encode())  # fmt: skip
    imap.select_folder("INBOX")
    uid = imap.search(["SUBJECT", "Offer"])[0]
    imap.logout()
    reply = signed_in.get(f"/compose?reply=INBOX/{uid}").text
    assert "The sales team" in reply
    sales_id = reply.split("selected>Sales")[0].rsplit('value="', 1)[1].split('"')[0]

    form = {"csrf_token": session_token(signed_in), "identity": sales_id, "to": friend.username,
            "subject": "Re: Offer", "body": "Ten euros.\n\n-- \nThe sales team"}  # fmt: skip
    assert signed_in.post("/compose/send", data=form).status_code == 303
    message = message_from_bytes(inbox_of(services, friend)[-1], policy=policy.default)
    assert str(message["From"]) == "Sales <sales@example.test>"
    assert str(message["Reply-To"]) == "team@example.test"
    envelope = [m for m in services.smtp.messages if friend.username in m.rcpt_tos][-1]
    assert "sales@example.test" in envelope.rcpt_tos  # Bcc to self, envelope only
    assert "sales@example.test" not in str(message.get("To", ""))

    # A non-ASCII display name goes out RFC 2047-encoded.
    form.update(identity="", to=friend.username, subject="Hallo", body="Grüße")
    default_id = (
        signed_in.get("/compose").text.split("selected>Jürgen")[0].rsplit('value="', 1)[1].split('"')[0]
    )
    form["identity"] = default_id
    assert signed_in.post("/compose/send", data=form).status_code == 303
    raw = inbox_of(services, friend)[-1]
    assert b"From: =?utf-8?" in raw
    assert (
        str(message_from_bytes(raw, policy=policy.default)["From"]) == f"Jürgen Müller <{mail_user.username}>"
    )


def test_bad_identity_input_is_refused_with_words(signed_in: TestClient) -> None:
    data = {"csrf_token": session_token(signed_in), "name": "Evil\r\nBcc: x@y", "email": "not an address",
            "reply_to": "a@b, c@d", "signature_text": "", "signature_html": ""}  # fmt: skip
    response = signed_in.post("/settings/identities", data=data)
    assert response.status_code == 422
    assert "Line breaks are not allowed" in response.text
    assert "Enter one address" in response.text
    assert 'data-identity="' not in response.text  # nothing was stored


def test_header_injection_in_the_subject_sends_nothing(
    signed_in: TestClient, services: DevServices, friend: MailUser
) -> None:
    before = len(services.smtp.messages)
    form = {"csrf_token": session_token(signed_in), "to": friend.username,
            "subject": "Hi\r\nBcc: victim@example.org", "body": "text"}  # fmt: skip
    response = signed_in.post("/compose/send", data=form)
    assert response.status_code == 422
    assert "Line breaks are not allowed in the subject" in response.text
    assert "text</textarea>" in response.text  # nothing written is lost
    assert len(services.smtp.messages) == before


def identity_value(page: str, label: str) -> str:
    return page.split(f">{label}", 1)[0].rsplit('value="', 1)[1].split('"')[0]


def test_a_from_address_the_server_refused_is_named_on_identities_and_in_compose(
    signed_in: TestClient, mail_user: MailUser, friend: MailUser
) -> None:
    add_identity(signed_in, name="Me", email=mail_user.username, is_default="on")
    add_identity(signed_in, name="Old job", email="me@refused.invalid")
    compose = signed_in.get("/compose").text
    assert "not accepted by the server" not in compose  # nothing known yet
    form = {"csrf_token": session_token(signed_in), "identity": identity_value(compose, "Old job"),
            "to": friend.username, "subject": "Hello", "body": "Hi"}  # fmt: skip
    response = signed_in.post("/compose/send", data=form)
    assert response.status_code == 422
    assert "refused to send as me@refused.invalid" in response.text
    assert 'value="Hello"' in response.text  # the form is kept

    page = signed_in.get("/settings/identities").text
    assert "The mail server refused to send as this address: “5.7.1 Sender address rejected" in page
    compose = signed_in.get("/compose").text
    assert "Old job &lt;me@refused.invalid&gt; (not accepted by the server)" in compose
    assert "data-refusal=" in compose


def test_a_server_that_sends_only_as_the_login_is_said_and_outbox_refusals_are_kept(
    services: DevServices, database_url: str, mail_user: MailUser, friend: MailUser
) -> None:
    settings = make_settings(services, database_url, smtp_senders="login", undo_send_seconds=5)
    with TestClient(create_app(settings), follow_redirects=False, client=LOCAL_CLIENT) as client:
        assert sign_in(client, mail_user).status_code == 303
        add_identity(client, name="Team", email="team@example.test")
        page = client.get("/settings/identities").text
        assert f"Your mail server sends only as <strong>{mail_user.username}</strong>" in page
        assert "The mail server sends only as" in page  # beside the identity it concerns
        compose = client.get("/compose").text  # one identity: no choice, the warning under From
        assert 'class="from-warning"><svg' in compose
        assert f"The mail server sends only as {mail_user.username}." in compose

        # A refusal met by the outbox's worker is remembered as well.
        add_identity(client, name="Gone", email="gone@refused.invalid")
        form = {"csrf_token": session_token(client), "identity": identity_value(client.get("/compose").text, "Gone"),
                "to": friend.username, "subject": "Later", "body": "Hi"}  # fmt: skip
        assert client.post("/compose/send", data=form).status_code == 303
        time_passes(settings)
        worker_tick(settings)
        assert "refused to send as this address: “5.7.1" in client.get("/settings/identities").text
