from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from webmail.db.migrate import alembic_config, upgrade
from webmail.db.repos import UserRepository
from webmail.db.session import create_db_engine, create_sessionmaker
from webmail.devservices import PostgresServer


def check_schema(url: str) -> None:
    upgrade(url)
    engine = create_db_engine(url)
    columns = {c["name"] for c in sa.inspect(engine).get_columns("users")}
    assert {"id", "login", "imap_host", "preferences", "created_at", "last_login_at"} <= columns
    db = create_sessionmaker(engine)
    with db.begin() as session:
        UserRepository(session).record_login("ann@example.test", "imap.example.test")
    with db.begin() as session:
        user = UserRepository(session).record_login("ann@example.test", "imap.example.test")
        assert user.preferences == {}
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM users")).scalar() == 1
    engine.dispose()
    command.downgrade(alembic_config(url), "base")
    inspector_engine = create_db_engine(url)
    assert "users" not in sa.inspect(inspector_engine).get_table_names()
    inspector_engine.dispose()
    upgrade(url)


def test_sqlite(tmp_path: Path) -> None:
    check_schema(f"sqlite:///{tmp_path / 'nested' / 'webmail.db'}")


@pytest.fixture
def postgres_url(postgres: PostgresServer) -> Iterator[str]:
    url = postgres.create_database("migrations")
    try:
        yield url
    finally:
        postgres.drop_database(url)


def test_postgresql(postgres_url: str) -> None:
    check_schema(postgres_url)
