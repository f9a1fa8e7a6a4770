from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from tests.conftest import make_settings
from webmail.app import create_app
from webmail.devservices import DevServices
from webmail.devservices.redis import start_redis


def test_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_all_up(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"redis": "ok", "database": "ok", "imap": "ok"}


def test_readyz_reports_stopped_redis(services: DevServices, database_url: str, tmp_path: Path) -> None:
    own_redis = start_redis(tmp_path / "redis")
    settings = make_settings(services, database_url, redis_url=own_redis.url)
    with TestClient(create_app(settings)) as client:
        assert client.get("/readyz").status_code == 200
        own_redis.stop()
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["redis"] == "down"
    assert body["checks"]["imap"] == "ok"
    assert "redis" in body["status"]


def test_readyz_reports_unreachable_imap(services: DevServices, database_url: str) -> None:
    from webmail.devservices.system import free_port

    settings = make_settings(services, database_url, imap_port=free_port())
    with TestClient(create_app(settings)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["imap"] == "down"


def test_metrics(signed_in: TestClient) -> None:
    signed_in.get("/mail/INBOX")
    body = signed_in.get("/metrics").text
    assert "webmail_imap_operation_seconds_bucket" in body
    assert 'operation="list_folders"' in body
    assert "webmail_imap_connections_opened_total" in body
    assert "webmail_cache_misses_total" in body
