from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Iterator

import anyio
import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import text

from webmail.config import Settings
from webmail.imap.client import server_reachable
from webmail.pop3.jobs import queue_keys
from webmail.pop3.metrics import exposition
from webmail.redis import Keys
from webmail.smtp.outbox import counts_by_status
from webmail.web.deps import Services, ServicesDep

router = APIRouter()


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(services: ServicesDep) -> JSONResponse:
    checks = {
        "redis": await _check(_redis_ok, services),
        "database": await _check(_database_ok, services),
        "imap": await _check(_imap_ok, services),
    }
    down = [name for name, ok in checks.items() if not ok]
    body = {
        "status": "ok" if not down else f"unavailable: {', '.join(down)}",
        "checks": {name: "ok" if ok else "down" for name, ok in checks.items()},
    }
    return JSONResponse(body, status_code=503 if down else 200)


def metrics_allowed(request: Request, settings: Settings) -> bool:
    """From a configured network (the client as WEBMAIL_TRUSTED_PROXIES let it be known), or with
    ``Authorization: Bearer <WEBMAIL_METRICS_TOKEN>``."""
    token = settings.metrics_token.get_secret_value()
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token):
        return True
    try:
        client = ipaddress.ip_address(request.client.host if request.client else "")
    except ValueError:
        return False
    return any(client in ipaddress.ip_network(network, strict=False) for network in settings.metrics_networks)


async def _check(probe: object, services: Services) -> bool:
    try:
        with anyio.fail_after(3):
            return bool(await probe(services))  # type: ignore[operator]
    except Exception:
        return False


async def _redis_ok(services: Services) -> bool:
    return bool(await services.redis.ping())


async def _database_ok(services: Services) -> bool:
    def query() -> bool:
        with services.engine.connect() as connection:
            return connection.execute(text("SELECT 1")).scalar() == 1

    return await anyio.to_thread.run_sync(query)


async def _imap_ok(services: Services) -> bool:
    return await anyio.to_thread.run_sync(server_reachable, services.settings)


@router.get("/metrics")
async def metrics(request: Request, services: ServicesDep) -> Response:
    """Prometheus metrics of all worker processes, for WEBMAIL_METRICS_NETWORKS or the bearer token."""
    if not metrics_allowed(request, services.settings):
        return PlainTextResponse("Forbidden", status_code=403, headers={"WWW-Authenticate": "Bearer"})
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    pop3 = await services.redis.hgetall(Keys(services.settings.redis_prefix).pop3_metrics())
    body += exposition(pop3)
    body += await _background_work(services)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


async def _background_work(services: Services) -> bytes:
    """What `webmail worker` has to do, cluster-wide: the job queue and the outbox."""
    waiting, running, failed = queue_keys(services.settings)
    async with services.redis.pipeline(transaction=False) as pipe:
        pipe.llen(waiting)
        pipe.zcard(running)
        pipe.zcard(failed)
        queued, started, failures = await pipe.execute()
    outbox = await anyio.to_thread.run_sync(counts_by_status, services.db)
    jobs = GaugeMetricFamily("webmail_jobs", "Background jobs (POP3 fetches) by state", labels=["state"])
    for state, count in (("queued", queued), ("running", started), ("failed", failures)):
        jobs.add_metric([state], count)
    messages = GaugeMetricFamily("webmail_outbox_messages", "Outbox messages by status", labels=["status"])
    for status in ("waiting", "sending", "sent", "failed", "cancelled"):
        messages.add_metric([status], outbox.get(status, 0))
    return generate_latest(_Figures([jobs, messages]))


class _Figures(CollectorRegistry):
    """A registry of figures read at scrape time."""

    def __init__(self, families: list[Metric]) -> None:
        super().__init__(auto_describe=False)
        self.families = families

    def collect(self) -> Iterator[Metric]:
        yield from self.families
