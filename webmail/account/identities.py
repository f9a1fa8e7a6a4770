"""The From addresses a user writes as (identities), with signatures. Without any stored
identity the user writes as their login address."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from email.headerregistry import Address

import anyio.to_thread
from sqlalchemy.orm import Session as DBSession
from sqlalchemy.orm import sessionmaker

from webmail.db.models import Identity
from webmail.db.repos import IdentityRepository, UserRepository
from webmail.errors import LimitReachedError, WebmailError
from webmail.mail.compose import ComposeError, parse_recipients
from webmail.mail.editor import clean_editor_html

MAX_IDENTITIES = 20


class IdentityNotFoundError(WebmailError):
    """Raised when an identity is not (or no longer) the user's."""

    status_code = 404
    user_message = "This identity does not exist (deleted?)."


@dataclass(frozen=True)
class SenderIdentity:
    id: int | None  # None: the implicit identity of the login address
    name: str
    email: str
    reply_to: str = ""
    bcc_self: bool = False
    signature_text: str = ""
    signature_html: str = ""
    is_default: bool = False

    @property
    def from_header(self) -> str:
        user, _, domain = self.email.partition("@")
        return str(Address(display_name=self.name, username=user, domain=domain or "localhost"))


@dataclass(frozen=True)
class IdentityForm:
    name: str
    email: str
    reply_to: str
    bcc_self: bool
    signature_text: str
    signature_html: str
    is_default: bool

    @classmethod
    def parse(cls, form: dict[str, str]) -> tuple[IdentityForm, dict[str, str]]:
        errors: dict[str, str] = {}
        name = form.get("name", "").strip()
        if any(c in name for c in "\r\n\0"):
            errors["name"] = "Line breaks are not allowed in a name."
        email = form.get("email", "").strip()
        reply_to = form.get("reply_to", "").strip()
        for field, value, required in (("email", email, True), ("reply_to", reply_to, False)):
            if not value:
                if required:
                    errors[field] = "Enter an email address."
                continue
            try:
                parsed = parse_recipients(value)
            except ComposeError:
                parsed = []
            if len(parsed) != 1 or parsed[0].display_name:
                errors[field] = "Enter one address like name@example.org."
        text = form.get("signature_text", "").replace("\r\n", "\n")
        if len(text) > 4000:
            errors["signature_text"] = "At most 4,000 characters."
        html = clean_editor_html(form.get("signature_html", ""))
        if len(html) > 20000:
            errors["signature_html"] = "At most 20,000 characters."
        values = cls(
            name, email, reply_to, form.get("bcc_self") == "on", text, html, form.get("is_default") == "on"
        )
        return values, errors


def login_address(login: str) -> str:
    return login if "@" in login else f"{login}@localhost"


def pick_for_reply(identities: list[SenderIdentity], addressed_to: Iterable[str]) -> SenderIdentity:
    """The identity the original was sent to, else the default one."""
    wanted = {address.lower() for address in addressed_to}
    for identity in identities:
        if identity.email.lower() in wanted:
            return identity
    return default_of(identities)


def default_of(identities: list[SenderIdentity]) -> SenderIdentity:
    return next((i for i in identities if i.is_default), identities[0])


def _view(row: Identity) -> SenderIdentity:
    return SenderIdentity(row.id, row.name, row.email, row.reply_to, row.bcc_self, row.signature_text,
                          row.signature_html, row.is_default)  # fmt: skip


@dataclass
class IdentityService:
    db: sessionmaker[DBSession]
    imap_host: str

    async def for_user(self, login: str) -> list[SenderIdentity]:
        def load() -> list[SenderIdentity]:
            with self.db() as session:
                user = UserRepository(session).get(login, self.imap_host)
                if user is None:
                    return []
                return [_view(row) for row in IdentityRepository(session).for_user(user.id)]

        stored = await anyio.to_thread.run_sync(load)
        return stored or [SenderIdentity(None, "", login_address(login), is_default=True)]

    async def get(self, login: str, identity_id: int) -> SenderIdentity:
        for identity in await self.for_user(login):
            if identity.id == identity_id:
                return identity
        raise IdentityNotFoundError()

    async def save(self, login: str, identity_id: int | None, form: IdentityForm) -> SenderIdentity:
        def save() -> SenderIdentity:
            with self.db.begin() as session:
                user = UserRepository(session).get_or_create(login, self.imap_host)
                identities = IdentityRepository(session)
                rows = identities.for_user(user.id)
                if identity_id is None:
                    if len(rows) >= MAX_IDENTITIES:
                        raise LimitReachedError(f"At most {MAX_IDENTITIES} identities.")
                    row = Identity(user_id=user.id)
                    rows.append(row)
                else:
                    found = next((r for r in rows if r.id == identity_id), None)
                    if found is None:
                        raise IdentityNotFoundError()
                    row = found
                row.name, row.email, row.reply_to = form.name, form.email, form.reply_to
                row.bcc_self, row.signature_text, row.signature_html = (
                    form.bcc_self, form.signature_text, form.signature_html
                )  # fmt: skip
                if form.is_default or not any(r.is_default for r in rows if r is not row):
                    for other in rows:
                        other.is_default = other is row
                identities.save(row)
                return _view(row)

        return await anyio.to_thread.run_sync(save)

    async def delete(self, login: str, identity_id: int) -> None:
        def delete() -> None:
            with self.db.begin() as session:
                user = UserRepository(session).get(login, self.imap_host)
                identities = IdentityRepository(session)
                if user is None or not identities.delete(user.id, identity_id):
                    raise IdentityNotFoundError()
                rest = identities.for_user(user.id)
                if rest and not any(r.is_default for r in rest):
                    rest[0].is_default = True

        await anyio.to_thread.run_sync(delete)
