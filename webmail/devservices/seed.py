"""Deterministic demo mail: a few hundred realistic messages over two years, in several folders."""

from __future__ import annotations

import random
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import cast

from imapclient import IMAPClient

from webmail.config import DEMO_USERS
from webmail.devservices.dovecot import Dovecot

ANCHOR = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
TAGS_BY_DAY = {0: b"$label2", 3: b"$label1", 7: b"$label4", 9: b"$label3"}  # Work, Important, To do, Personal
EXTRA_FOLDERS = ("Projects", "Projects/Website", "Receipts", "Familie/Urlaub 2025")

PEOPLE = [
    ("Alice Martin", "alice@example.org"),
    ("Bob Demo", "bob@example.test"),
    ("Chloé Dubois", "chloe@exemple.fr"),
    ("Jürgen Müller", "juergen@beispiel.de"),
    ("María José García", "mj@ejemplo.es"),
    ("Sven Ødegård", "sven@eksempel.no"),
    ("Yuki Tanaka", "yuki@example.jp"),
    ("IT Helpdesk", "helpdesk@example.org"),
]
NEWSLETTERS = [
    ("Weekly Tech Digest", "digest@news.example.com"),
    ("Garden & Home", "hello@garden.example.net"),
    ("Travel Deals", "deals@travel.example.com"),
]
TOPICS = [
    "Quarterly report",
    "Lunch on Friday?",
    "Website redesign",
    "Server maintenance window",
    "Invoice #{n}",
    "Team offsite",
    "Re: budget numbers",
    "Holiday photos",
    "Contract draft",
    "Meeting notes",
    "Bug in the login form",
    "Conference travel",
    "New laptop request",
]
UNICODE_SUBJECTS = [
    "Grüße aus München – Übersicht",
    "Réunion de l'équipe à 14h",
    "¿Cenamos el sábado?",
    "会議の議事録",
    "Привет из Москвы",
    "Smørrebrød på fredag 🍞",
    "Καλημέρα από την Αθήνα",
]
PARAGRAPHS = [
    "Thanks for the update. I had a look at the numbers and they seem fine to me.",
    "Could you send me the latest version before the meeting? I'd like to go through it once more.",
    "As discussed, we'll move the deadline by a week so everyone has enough time to review.",
    "Here is a link with more details: https://example.org/docs/overview",
    "Let me know if anything is unclear, happy to jump on a call.",
    "The build passed on all platforms except the old one, which we are dropping anyway.",
]


@dataclass(frozen=True)
class SeedMessage:
    folder: str
    raw: bytes
    flags: tuple[bytes, ...]
    date: datetime


def tiny_png(rgb: tuple[int, int, int], size: int = 8) -> bytes:
    """A valid size×size PNG of one colour, made without image libraries."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(rgb) * size
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * size))
        + chunk(b"IEND", b"")
    )


def tiny_pdf(text: str) -> bytes:
    """A one-page PDF showing ``text`` (ASCII)."""
    stream = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def _address(person: tuple[str, str]) -> str:
    from email.headerregistry import Address

    name, addr = person
    user, domain = addr.split("@")
    return str(Address(name, user, domain))


class DemoMailbox:
    def __init__(self, owner: tuple[str, str], seed: int) -> None:
        self.owner = owner
        self.rng = random.Random(seed)
        self.domain = owner[1].split("@")[1]

    def _base(
        self, sender: tuple[str, str], to: tuple[str, str], subject: str, date: datetime
    ) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = _address(sender)
        msg["To"] = _address(to)
        msg["Subject"] = subject
        msg["Date"] = format_datetime(date)
        msg["Message-ID"] = self._msgid(sender[1].split("@")[1])
        return msg

    def _bytes(self, msg: EmailMessage) -> bytes:
        for part in msg.walk():
            if part.is_multipart():  # the email package picks random boundaries
                part.set_boundary(f"=_demo_{self.rng.getrandbits(64):016x}")
        return bytes(msg)

    def _msgid(self, domain: str) -> str:
        return f"<{self.rng.getrandbits(64):016x}.demo@{domain}>"

    def _flags(self, date: datetime) -> tuple[bytes, ...]:
        recent = ANCHOR - date < timedelta(days=60)
        unread = self.rng.random() < (0.6 if recent else 0.1)
        flags = [] if unread else [b"\\Seen"]
        if self.rng.random() < 0.08:
            flags.append(b"\\Flagged")
        if b"\\Seen" in flags and self.rng.random() < 0.15:
            flags.append(b"\\Answered")
        # A few tags, from the date (not the random stream, which keeps the mail as it was).
        tag = TAGS_BY_DAY.get(date.toordinal() % 11)
        if tag is not None:
            flags.append(tag)
        return tuple(flags)

    def _date(self) -> datetime:
        return ANCHOR - timedelta(minutes=self.rng.randrange(0, 730 * 24 * 60))

    def _body(self, greeting: str) -> str:
        paragraphs = self.rng.sample(PARAGRAPHS, k=self.rng.randint(1, 3))
        return f"{greeting},\n\n" + "\n\n".join(paragraphs) + "\n\nBest,\n-- \nSent from the demo\n"

    def plain(self, folder: str = "INBOX") -> SeedMessage:
        sender = self.rng.choice(PEOPLE)
        date = self._date()
        topic = self.rng.choice(TOPICS).format(n=self.rng.randint(1000, 9999))
        msg = self._base(sender, self.owner, topic, date)
        msg.set_content(self._body(f"Hi {self.owner[0].split()[0]}"))
        return SeedMessage(folder, self._bytes(msg), self._flags(date), date)

    def unicode(self) -> SeedMessage:
        sender = self.rng.choice(PEOPLE[2:7])
        date = self._date()
        msg = self._base(sender, self.owner, self.rng.choice(UNICODE_SUBJECTS), date)
        body = "Hallo! Schöne Grüße, à bientôt, ¡hasta luego!, さようなら, до свидания.\n"
        if self.rng.random() < 0.5:
            msg.set_content(body)
        else:
            latin1 = "Grüße aus Köln! Voilà, ça marche très bien. Años, niño, façade.\n"
            msg.set_content(latin1, charset="iso-8859-1", cte="quoted-printable")
        return SeedMessage("INBOX", self._bytes(msg), self._flags(date), date)

    def newsletter(self) -> SeedMessage:
        sender = self.rng.choice(NEWSLETTERS)
        date = self._date()
        msg = self._base(sender, self.owner, f"{sender[0]}: issue {self.rng.randint(10, 300)}", date)
        msg["List-Unsubscribe"] = f"<mailto:unsubscribe@{sender[1].split('@')[1]}>"
        msg.set_content("This newsletter is best viewed as HTML.\n\nTop stories this week: ...\n")
        items = "".join(
            f'<tr><td style="padding:12px;font-family:Arial" valign="top"><h2 style="color:#2456d6">Story {i}</h2>'
            f"<p>{self.rng.choice(PARAGRAPHS)}</p>"
            f'<a href="https://news.example.com/story/{i}" style="color:#fff;background:#2456d6;padding:6px">'
            "Read more</a></td></tr>"
            for i in range(1, 4)
        )
        html = (
            '<html><body bgcolor="#f0f0f0"><table width="600" align="center" cellpadding="0" cellspacing="0" '
            'bgcolor="#ffffff" style="border-collapse:collapse">'
            '<tr><td><img src="https://news.example.com/banner.png" width="600" height="120" alt="Banner"></td></tr>'
            f"{items}"
            '<tr><td><img src="https://track.example.com/open.gif?u=123" width="1" height="1" alt=""></td></tr>'
            "</table></body></html>"
        )
        msg.add_alternative(html, subtype="html")
        return SeedMessage("INBOX", self._bytes(msg), self._flags(date), date)

    def inline_image(self) -> SeedMessage:
        sender = self.rng.choice(PEOPLE)
        date = self._date()
        msg = self._base(sender, self.owner, "Look at our new logo", date)
        msg.set_content("Here is the new logo. (HTML version shows it inline.)\n")
        cid = self._msgid("example.org")
        msg.add_alternative(
            f'<p>Here is the new logo:</p><p><img src="cid:{cid[1:-1]}" alt="logo" width="64" height="64"></p>',
            subtype="html",
        )
        html_part = cast(EmailMessage, msg.get_body(("html",)))
        html_part.add_related(tiny_png((36, 86, 214)), "image", "png", cid=cid, filename="logo.png")
        return SeedMessage("INBOX", self._bytes(msg), self._flags(date), date)

    def attachments(self, folder: str = "INBOX") -> SeedMessage:
        sender = self.rng.choice(PEOPLE)
        date = self._date()
        kind = self.rng.choice(["pdf", "png", "txt", "all"])
        msg = self._base(sender, self.owner, f"Documents for review ({kind})", date)
        msg.set_content("Please find the files attached.\n")
        if kind in ("pdf", "all"):
            msg.add_attachment(tiny_pdf("Quarterly report"), "application", "pdf", filename="report-Q3.pdf")
        if kind in ("png", "all"):
            msg.add_attachment(tiny_png((200, 40, 40)), "image", "png", filename="chart.png")
        if kind in ("txt", "all"):
            msg.add_attachment("name,amount\nAlice,12\nBob,30\n", filename="Übersicht März.csv")
        return SeedMessage(folder, self._bytes(msg), self._flags(date), date)

    def thread(self) -> list[SeedMessage]:
        other = self.rng.choice(PEOPLE)
        subject = self.rng.choice(["Planning the release", "Apartment viewing", "Trip to Lisbon"])
        date = self._date()
        messages: list[SeedMessage] = []
        references: list[str] = []
        for i in range(self.rng.randint(3, 6)):
            mine = i % 2 == 1
            sender, to = (self.owner, other) if mine else (other, self.owner)
            msg = self._base(sender, to, subject if i == 0 else f"Re: {subject}", date)
            if references:
                msg["In-Reply-To"] = references[-1]
                msg["References"] = " ".join(references)
            quoted = "\n".join(f"> {line}" for line in self._body("Hi").splitlines()[:3])
            msg.set_content(f"{self.rng.choice(PARAGRAPHS)}\n\n{quoted}\n")
            references.append(msg["Message-ID"])
            folder = "Sent" if mine else "INBOX"
            flags = (b"\\Seen",) if mine else (b"\\Seen", b"\\Answered")
            messages.append(SeedMessage(folder, self._bytes(msg), flags, date))
            date += timedelta(hours=self.rng.randint(1, 30))
        return messages

    def messages(self, count: int) -> Iterator[SeedMessage]:
        for i in range(count):
            pick = i % 10
            if pick in (0, 1, 2):
                yield self.plain()
            elif pick == 3:
                yield self.unicode()
            elif pick == 4:
                yield self.newsletter()
            elif pick == 5:
                yield self.inline_image()
            elif pick == 6:
                yield self.attachments()
            elif pick == 7:
                yield from self.thread()
            elif pick == 8:
                yield self.plain(self.rng.choice(["Archive", "Projects/Website", "Receipts"]))
            else:
                yield self.plain(self.rng.choice(["Trash", "Junk", "Familie/Urlaub 2025", "INBOX"]))


def seed_user(client: IMAPClient, owner: tuple[str, str], *, count: int = 160, seed: int = 1) -> int:
    """APPEND the demo messages for one logged-in user; returns how many were stored."""
    existing = {name for _, _, name in client.list_folders()}
    for folder in EXTRA_FOLDERS:
        if folder not in existing:
            client.create_folder(folder)
            client.subscribe_folder(folder)
    stored = 0
    # Appended oldest first, so arrival order matches the dates, as in a real mailbox.
    for message in sorted(DemoMailbox(owner, seed).messages(count), key=lambda m: m.date):
        client.append(message.folder, message.raw, flags=message.flags, msg_time=message.date)
        stored += 1
    return stored


def seed_demo_users(dovecot: Dovecot) -> Iterator[tuple[str, int]]:
    """Create the demo users in a private Dovecot and seed their mail; yields each user and how many were stored."""
    for index, (user, password) in enumerate(DEMO_USERS):
        dovecot.add_user(user, password)
        client = IMAPClient("127.0.0.1", dovecot.imap_port, ssl=False)
        client.login(user, password)
        owner_name = "Demo User" if index == 0 else "Bob Demo"
        stored = seed_user(client, (owner_name, user), count=160 if index == 0 else 60, seed=index + 1)
        client.logout()
        yield user, stored
