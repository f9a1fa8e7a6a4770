"""The FastAPI application factory."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import anyio
from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from redis.asyncio import Redis
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from webmail.account.contacts import ContactService
from webmail.account.demo import seed_demo_data
from webmail.account.identities import IdentityService
from webmail.account.preferences import PreferencesService
from webmail.account.remote_content import RemoteContentService
from webmail.account.searches import SavedSearchService
from webmail.archive.jobs import ArchiveRules
from webmail.auth.crypto import ServerCipher
from webmail.auth.login import LoginService
from webmail.auth.ratelimit import LoginRateLimiter
from webmail.auth.sessions import SessionStore
from webmail.config import Settings, get_settings
from webmail.db.migrate import upgrade
from webmail.db.session import create_db_engine, create_sessionmaker
from webmail.imap import handover
from webmail.imap.cache import PageCache, ViewCache
from webmail.imap.cap import ConnectionCap
from webmail.imap.pool import IMAPPool
from webmail.imap.storage import SizeCounter
from webmail.imap.watch import Watchers
from webmail.pop3.accounts import ExternalAccounts
from webmail.redis import Keys, create_redis
from webmail.sieve.service import FilterService
from webmail.smtp.outbox import Outbox
from webmail.smtp.senders import SenderRules
from webmail.smtp.uploads import UploadStore
from webmail.web.deps import Services, note_vacation
from webmail.web.errors import ErrorPageMiddleware, install_error_handlers
from webmail.web.observe import RequestLogMiddleware
from webmail.web.rootpath import RootPathMiddleware
from webmail.web.route_index import RouteIndex
from webmail.web.routes import accounts as account_routes
from webmail.web.routes import (
    archive,
    clients,
    compose,
    events,
    folders_settings,
    health,
    login,
    mailbox,
    message,
    offline,
    organize,
    search,
    storage,
    transfer,
)
from webmail.web.routes import contacts as contact_routes
from webmail.web.routes import exports as export_routes
from webmail.web.routes import filters as filter_routes
from webmail.web.routes import identities as identity_routes
from webmail.web.routes import settings as settings_routes
from webmail.web.routes import vacation as vacation_routes
from webmail.web.security import SecurityHeadersMiddleware
from webmail.web.templating import STATIC_DIR

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.demo:
            await anyio.to_thread.run_sync(upgrade, settings.database_url)
        redis = create_redis(settings)
        engine = create_db_engine(settings.database_url)
        db = create_sessionmaker(engine)
        keys = Keys(settings.redis_prefix)
        cap = ConnectionCap(
            redis, settings.redis_prefix, settings.imap_max_connections_per_user, settings.imap_lease_seconds
        )
        holder = handover.holder_name()
        await handover.join(redis, keys, holder)
        pool = IMAPPool(settings, cap, holder=holder)
        sessions = SessionStore(redis, settings)
        pages = PageCache(
            redis, settings.redis_prefix, ServerCipher(settings.secret_key.get_secret_value(), "page-cache")
        )
        views = ViewCache(
            redis, settings.redis_prefix, ServerCipher(settings.secret_key.get_secret_value(), "view-cache")
        )
        watchers = Watchers(settings, holder=holder)
        limiter = LoginRateLimiter(redis, settings)
        app.state.services = Services(
            settings=settings,
            redis=redis,
            engine=engine,
            db=db,
            pool=pool,
            sessions=sessions,
            login=LoginService(settings, sessions, limiter, pool, db, pages),
            preferences=PreferencesService(db, settings.imap_host),
            remote_content=RemoteContentService(db, settings.imap_host),
            saved_searches=SavedSearchService(db, settings.imap_host),
            identities=IdentityService(db, settings.imap_host),
            contacts=ContactService(db, settings.imap_host),
            pop3=ExternalAccounts(settings, db),
            archive_rules=ArchiveRules(settings, db),
            uploads=UploadStore.from_settings(settings),
            outbox=Outbox(settings, db),
            pages=pages,
            views=views,
            watchers=watchers,
            filters=FilterService(settings, redis),
            senders=SenderRules(settings, redis),
            sizes=SizeCounter(redis, settings.redis_prefix),
        )
        if settings.demo:
            services = app.state.services
            await seed_demo_data(services.contacts, services.identities, services.saved_searches)
        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(_maintain_pool, pool, views, settings)
                tasks.start_soon(_close_on_request, redis, pool, watchers, views, keys)
                tasks.start_soon(handover.take_part, redis, keys, pool, holder)
                yield
                tasks.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(watchers.stop_all)
                await pool.close_all()
                await handover.leave(redis, keys, holder)
                await redis.aclose()
            engine.dispose()

    app = FastAPI(
        title="webmail",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        # The app's telemetry is /metrics and its JSON log lines; FastAPI's OpenTelemetry would
        # otherwise look up three global providers on every request (2% of a message open).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    install_error_handlers(app)
    routes = RouteIndex()
    routes.include(health.router)
    routes.include(clients.router)  # before the mailbox: /mail/config-v1.1.xml is Thunderbird's
    routes.include(login.router)
    routes.include(offline.router)
    routes.include(events.router)
    routes.include(settings_routes.router)
    routes.include(account_routes.router)
    routes.include(folders_settings.router)
    routes.include(storage.router)
    routes.include(archive.router)
    routes.include(identity_routes.router)
    routes.include(contact_routes.router)
    routes.include(compose.router)
    routes.include(filter_routes.router)
    routes.include(vacation_routes.router)
    routes.include(transfer.router)  # before the mailbox: /mail/{folder}/export is not a folder
    routes.include(export_routes.router)
    routes.include(search.router, dependencies=[Depends(note_vacation)])
    routes.include(organize.router)
    routes.include(message.frames)
    routes.include(message.router, dependencies=[Depends(note_vacation)])
    routes.include(mailbox.router, dependencies=[Depends(note_vacation)])
    app.router.routes.append(routes)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(ErrorPageMiddleware)  # inside the security headers: a 500 carries them too
    app.add_middleware(SecurityHeadersMiddleware)
    if settings.root_path:
        app.add_middleware(RootPathMiddleware, root_path=settings.root_path)
    app.add_middleware(RequestLogMiddleware, secret=settings.secret_key.get_secret_value())
    if settings.trusted_proxies:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    return app


async def _close_on_request(
    redis: Redis, pool: IMAPPool, watchers: Watchers, views: ViewCache, keys: Keys
) -> None:
    """Close a user's connections (and drop the renderings kept) here when a worker signs the
    user out; when the user was signed out everywhere (``webmail sessions revoke``), stop
    watching their mailbox too."""
    revoked = keys.sessions_revoked_channel()
    while True:
        try:
            pubsub = redis.pubsub()
            await pubsub.subscribe(keys.close_connections_channel(), revoked)
            try:
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5.0)
                    if message is None:
                        continue
                    user = message["data"].decode()
                    views.forget_here(user)
                    if message["channel"].decode() == revoked:
                        await anyio.to_thread.run_sync(watchers.stop, user)
                    await pool.close_user(user)
            finally:
                with anyio.CancelScope(shield=True):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
        except Exception:  # Redis gone for a moment: subscribe again
            logger.warning("listening for sign-outs failed", exc_info=True)
            await anyio.sleep(5)


async def _maintain_pool(pool: IMAPPool, views: ViewCache, settings: Settings) -> None:
    """Renew cap leases, close idle connections, NOOP long-idle ones before autologout; drop
    the renderings kept here past their minute."""
    interval = min(settings.imap_lease_seconds / 3, settings.imap_idle_close_seconds / 2, 10)
    while True:
        await anyio.sleep(interval)
        views.sweep()
        try:
            await pool.renew_leases()
            await pool.close_idle(settings.imap_idle_close_seconds)
            await pool.keep_alive(20 * 60)
        except Exception:  # Redis or IMAP hiccup: try again next round
            logger.warning("pool maintenance failed", exc_info=True)
