"""The fetcher's memory in the database, committed message by message."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from webmail.db.repos import POP3StateRepository


class DatabaseState:
    """UIDState for one account; every ``record`` is its own transaction, so a crash right after
    it cannot undo it and a crash right before it is caught by the Message-ID check."""

    def __init__(self, db: sessionmaker[Session], account_id: int) -> None:
        self.db = db
        self.account_id = account_id

    def imported(self) -> dict[str, datetime]:
        with self.db() as session:
            return POP3StateRepository(session, self.account_id).imported()

    def record(self, uid: str) -> None:
        with self.db.begin() as session:
            POP3StateRepository(session, self.account_id).record(uid)

    def has_run(self) -> bool:
        with self.db() as session:
            return POP3StateRepository(session, self.account_id).has_run()

    def mark_run(self) -> None:
        with self.db.begin() as session:
            POP3StateRepository(session, self.account_id).mark_run()
