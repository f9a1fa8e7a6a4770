"""Identities: several From addresses, Reply-To, Bcc-self, signatures, replies pick the right one."""

from __future__ import annotations

from email import message_from_bytes, policy

from fastapi.testclient import TestClient
from imapclient import IMAPClient

from tests.conftest import MailUser, session_token
from tests.integration.test_compose import friend, inbox_of
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
