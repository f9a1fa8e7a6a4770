"""An aiosmtpd submission sink: AUTH against the Dovecot users, delivery over LMTP.

Every accepted message is kept in ``messages`` for tests; recipients that are local
Dovecot users also get it in their INBOX, so sent mail really arrives. A second listener on
``dovecot.relay_port`` takes what Dovecot itself sends (Sieve vacation replies and redirects)
without AUTH, as an MTA's local relay port would; those messages have ``login`` None.
"""

from __future__ import annotations

import logging
import smtplib
import threading
import warnings
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from webmail.devservices.dovecot import Dovecot
from webmail.devservices.system import free_port

# The sink listens on loopback only, where AUTH without TLS is what we want.
warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS", UserWarning)
logging.getLogger("mail.log").setLevel(logging.ERROR)


@dataclass(frozen=True)
class SentMessage:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes
    login: str | None
    mail_options: tuple[str, ...] = ()


@dataclass
class SMTPSink:
    dovecot: Dovecot
    port: int = 0
    smtputf8: bool = True  # offered by Postfix and Exim; False to test servers without it
    relay: bool = False  # also listen on dovecot.relay_port (one sink per Dovecot does)
    messages: list[SentMessage] = field(default_factory=list)
    _controller: Controller | None = None
    _relay: Controller | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode()
        ok = self.dovecot.passwords.get(login) == auth_data.password.decode()
        return AuthResult(success=ok, handled=False, auth_data=login if ok else None)

    async def handle_MAIL(  # noqa: N802 - aiosmtpd hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        if address.lower().endswith("@refused.invalid"):
            return "553 5.7.1 Sender address rejected: not owned by user"  # for tests of refused senders
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(  # noqa: N802 - aiosmtpd hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.lower().endswith("@refused.invalid"):
            return "550 5.1.1 No such user here"  # for tests of refused recipients
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        content = envelope.original_content or b""
        auth_data: object = session.auth_data
        message = SentMessage(
            mail_from=envelope.mail_from or "",
            rcpt_tos=tuple(envelope.rcpt_tos),
            content=content,
            login=auth_data if isinstance(auth_data, str) else None,
            mail_options=tuple(envelope.mail_options),
        )
        with self._lock:
            self.messages.append(message)
        local = [rcpt for rcpt in envelope.rcpt_tos if rcpt in self.dovecot.passwords]
        if local:
            with smtplib.LMTP("127.0.0.1", self.dovecot.lmtp_port, timeout=30) as lmtp:
                lmtp.sendmail(message.mail_from, local, content)
        return "250 Message accepted for delivery"

    def start(self) -> None:
        self.port = self.port or free_port()
        self._controller = Controller(
            self,
            hostname="127.0.0.1",
            port=self.port,
            authenticator=self.authenticate,
            auth_required=True,
            auth_require_tls=False,
            enable_SMTPUTF8=self.smtputf8,
        )
        self._controller.start()
        if self.relay:
            self._relay = Controller(
                self, hostname="127.0.0.1", port=self.dovecot.relay_port, enable_SMTPUTF8=self.smtputf8
            )
            self._relay.start()

    def stop(self) -> None:
        for controller in (self._controller, self._relay):
            if controller is not None:
                controller.stop()
        self._controller = self._relay = None
