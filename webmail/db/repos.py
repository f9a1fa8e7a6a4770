"""Queries only; the caller's unit of work commits."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from webmail.db.models import User, utcnow


class UserRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, login: str, imap_host: str) -> User | None:
        query = select(User).where(User.login == login, User.imap_host == imap_host)
        return self.session.scalars(query).one_or_none()

    def record_login(self, login: str, imap_host: str) -> User:
        user = self.get(login, imap_host)
        if user is None:
            user = User(login=login, imap_host=imap_host, preferences={})
            self.session.add(user)
        user.last_login_at = utcnow()
        self.session.flush()
        return user
