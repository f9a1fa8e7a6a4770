"""What desktop and phone mail programs are told: the public IMAP, POP3 and SMTP servers
(``WEBMAIL_CLIENTS_*``), for /help/clients, Thunderbird's autoconfig and Outlook's Autodiscover."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from webmail.config import Security, Settings

Protocol = Literal["imap", "pop3", "smtp"]
# A plain address check: enough to pick the domain out, the mail server decides the rest.
ADDRESS = re.compile(
    r"[^@\s<>\"]{1,64}@([A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+)"
)


@dataclass(frozen=True)
class ClientServer:
    protocol: Protocol
    host: str
    port: int
    security: Security

    @property
    def name(self) -> str:
        return {"imap": "IMAP", "pop3": "POP3", "smtp": "SMTP"}[self.protocol]

    @property
    def incoming(self) -> bool:
        return self.protocol != "smtp"

    @property
    def socket_type(self) -> str:
        """Thunderbird's ``socketType``."""
        return {"tls": "SSL", "starttls": "STARTTLS", "none": "plain"}[self.security]

    @property
    def encryption(self) -> str:
        """Autodiscover's ``Encryption`` (TLS means STARTTLS there)."""
        return {"tls": "SSL", "starttls": "TLS", "none": "None"}[self.security]

    @property
    def security_label(self) -> str:
        """The words mail programs use in their menus."""
        return {"tls": "SSL/TLS", "starttls": "STARTTLS", "none": "None"}[self.security]


def client_servers(settings: Settings) -> list[ClientServer]:
    """IMAP, then POP3 (unless its port is 0), then SMTP, as mail programs should reach them."""
    servers = [
        ClientServer(
            "imap", settings.public_imap_host, settings.clients_imap_port, settings.clients_imap_security
        )
    ]
    if settings.clients_pop3_port:
        servers.append(
            ClientServer(
                "pop3", settings.public_pop3_host, settings.clients_pop3_port, settings.clients_pop3_security
            )
        )
    servers.append(
        ClientServer(
            "smtp", settings.public_smtp_host, settings.clients_smtp_port, settings.clients_smtp_security
        )
    )
    return servers


def mail_domain(address: str, settings: Settings) -> str | None:
    """The domain of ``address`` if it is an address this installation answers for."""
    found = ADDRESS.fullmatch(address.strip())
    if found is None:
        return None
    domain = found.group(1).lower()
    if settings.clients_domains and domain not in settings.clients_domains:
        return None
    return domain
