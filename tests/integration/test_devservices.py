from __future__ import annotations

import poplib
import smtplib
import time
from email.message import EmailMessage

import pytest
from imapclient import IMAPClient

from tests.conftest import IMAPServer, MailUser
from webmail.devservices import DevServices


def imap(services: DevServices, user: MailUser) -> IMAPClient:
    client = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    client.login(user.username, user.password)
    return client


def message(sender: str, to: str, subject: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg.set_content("Grüße!\n")
    return msg


class TestDovecot:
    def test_special_use_folders_exist_and_are_subscribed(
        self, services: DevServices, mail_user: MailUser
    ) -> None:
        client = imap(services, mail_user)
        special = {name: flags for flags, _, name in client.list_folders()}
        subscribed = {name for _, _, name in client.list_sub_folders()}
        for name, flag in [("Drafts", b"\\Drafts"), ("Sent", b"\\Sent"), ("Trash", b"\\Trash"),
                           ("Junk", b"\\Junk"), ("Archive", b"\\Archive")]:  # fmt: skip
            assert flag in special[name]
            assert name in subscribed
        client.logout()

    @pytest.mark.parametrize("imap_server", ["courier"], indirect=True)
    def test_the_courier_configuration_looks_like_courier(
        self, imap_server: IMAPServer, mail_user: MailUser
    ) -> None:
        client = IMAPClient("127.0.0.1", imap_server.dovecot.imap_port, ssl=False)
        client.login(mail_user.username, mail_user.password)
        assert client.namespace() == ((("INBOX.", "."),), None, (("Public.", "."),))
        lacking = {b"SPECIAL-USE", b"MOVE", b"UNSELECT", b"CONDSTORE", b"QRESYNC", b"LIST-STATUS", b"ESEARCH"}
        assert not lacking & set(client.capabilities())
        listed = {name: flags for flags, _, name in client.list_folders()}
        assert listed["INBOX.Trash"] == (b"\\HasNoChildren",)  # no special-use attribute
        assert "INBOX.Sent" not in listed
        client.select_folder("INBOX")
        client.logout()
        assert imap_server.dovecot.commands(mail_user.username)[-2:] == ['SELECT "INBOX"', "LOGOUT"]

    def test_quota_is_reported(self, services: DevServices, mail_user: MailUser) -> None:
        client = imap(services, mail_user)
        _, quotas = client.get_quota_root("INBOX")
        assert quotas[0].resource == "STORAGE"
        assert quotas[0].limit == services.quota_mb * 1024
        client.logout()

    def test_pop3_sees_the_same_mailbox(self, services: DevServices, mail_user: MailUser) -> None:
        client = imap(services, mail_user)
        client.append("INBOX", b"Subject: pop me\r\n\r\nbody\r\n")
        client.logout()
        pop = poplib.POP3("127.0.0.1", services.dovecot.pop3_port, timeout=10)
        pop.user(mail_user.username)
        pop.pass_(mail_user.password)
        assert pop.stat()[0] == 1
        assert len(pop.uidl()[1]) == 1
        pop.quit()

    def test_connection_limit_is_enforced(self) -> None:
        with DevServices(max_userip_connections=2) as limited:
            limited.dovecot.add_user("cap@test", "pw")
            clients = [IMAPClient("127.0.0.1", limited.dovecot.imap_port, ssl=False) for _ in range(3)]
            try:
                clients[0].login("cap@test", "pw")
                clients[1].login("cap@test", "pw")
                assert limited.dovecot.connections("cap@test") == 2
                with pytest.raises(Exception, match="LIMIT"):
                    clients[2].login("cap@test", "pw")
            finally:
                for client in clients:
                    client.shutdown()


class TestSMTPSink:
    def test_auth_required(self, services: DevServices, mail_user: MailUser) -> None:
        with smtplib.SMTP("127.0.0.1", services.smtp.port, timeout=10) as smtp:
            with pytest.raises(smtplib.SMTPException):
                smtp.send_message(message(mail_user.username, mail_user.username, "no auth"))

    def test_wrong_password_refused(self, services: DevServices, mail_user: MailUser) -> None:
        with smtplib.SMTP("127.0.0.1", services.smtp.port, timeout=10) as smtp:
            with pytest.raises(smtplib.SMTPAuthenticationError):
                smtp.login(mail_user.username, "wrong")

    def test_local_recipient_receives_and_copy_is_kept(
        self, services: DevServices, mail_user: MailUser
    ) -> None:
        recipient = MailUser(services.dovecot.new_user("pw-r"), "pw-r")
        subject = f"hello {time.time()}"
        with smtplib.SMTP("127.0.0.1", services.smtp.port, timeout=10) as smtp:
            smtp.login(mail_user.username, mail_user.password)
            smtp.send_message(
                message(mail_user.username, f"{recipient.username}, outside@example.com", subject)
            )
        kept = [m for m in services.smtp.messages if subject.encode() in m.content]
        assert len(kept) == 1
        assert kept[0].login == mail_user.username
        assert set(kept[0].rcpt_tos) == {recipient.username, "outside@example.com"}
        client = imap(services, recipient)
        client.select_folder("INBOX")
        uids = client.search(["SUBJECT", subject])
        assert len(uids) == 1
        client.logout()
