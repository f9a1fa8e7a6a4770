"""Request dependencies: the app's services, the signed-in session, the user's mailbox."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from redis.asyncio import Redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session as DBSession
from sqlalchemy.orm import sessionmaker

from webmail.account.contacts import ContactService
from webmail.account.identities import IdentityService
from webmail.account.preferences import Preferences, PreferencesService
from webmail.account.remote_content import RemoteContentService
from webmail.account.searches import SavedSearchService
from webmail.archive.jobs import ArchiveRules
from webmail.auth.errors import SessionExpiredError
from webmail.auth.login import LoginService
from webmail.auth.sessions import Session, SessionStore
from webmail.config import Settings
from webmail.imap.actions import MailboxActions
from webmail.imap.cache import PageCache, ViewCache
from webmail.imap.pool import IMAPPool
from webmail.imap.storage import SizeCounter
from webmail.imap.store import MailStore
from webmail.imap.types import Credentials
from webmail.imap.watch import Watchers
from webmail.limits import Limits
from webmail.pop3.accounts import ExternalAccounts
from webmail.sieve.service import FilterService, SieveAccount
from webmail.smtp.outbox import Outbox
from webmail.smtp.senders import SenderRules
from webmail.smtp.uploads import UploadStore
from webmail.web.htmx import HtmxDetails

SESSION_COOKIE = "wm_session"


@dataclass
class Services:
    """Everything the lifespan opens, shared by all requests of one worker process."""

    settings: Settings
    redis: Redis
    engine: Engine
    db: sessionmaker[DBSession]
    pool: IMAPPool
    sessions: SessionStore
    login: LoginService
    preferences: PreferencesService
    remote_content: RemoteContentService
    saved_searches: SavedSearchService
    identities: IdentityService
    contacts: ContactService
    pop3: ExternalAccounts
    archive_rules: ArchiveRules
    uploads: UploadStore
    outbox: Outbox
    pages: PageCache
    views: ViewCache
    watchers: Watchers
    filters: FilterService
    senders: SenderRules
    sizes: SizeCounter


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def _services(request: Request) -> Services:
    # Dependencies are async: FastAPI runs a plain `def` one in the thread pool, a hop that cost
    # a quarter of a list request's CPU in the profile.
    return get_services(request)


ServicesDep = Annotated[Services, Depends(_services)]


def limits_of(request: Request) -> Limits:
    """The bounds on one request's work, from the settings (webmail/limits.py)."""
    return get_services(request).settings.limits


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def get_optional_session(request: Request, services: ServicesDep) -> Session | None:
    cached: Session | None = getattr(request.state, "session", None)
    if cached is not None:
        return cached
    session = await services.sessions.load(request.cookies.get(SESSION_COOKIE))
    request.state.session = session
    return session


OptionalSessionDep = Annotated[Session | None, Depends(get_optional_session)]


async def get_session(session: OptionalSessionDep) -> Session:
    if session is None:
        raise SessionExpiredError()
    return session


SessionDep = Annotated[Session, Depends(get_session)]


async def get_preferences(services: ServicesDep, session: SessionDep) -> Preferences:
    return await services.preferences.get(session.user)


PreferencesDep = Annotated[Preferences, Depends(get_preferences)]


async def get_mail_store(
    services: ServicesDep, session: SessionDep, preferences: PreferencesDep
) -> MailStore:
    credentials = Credentials(session.user, session.password, session.client_ip)
    return MailStore(services.pool, credentials, services.pages, preferences.special_folders)


MailStoreDep = Annotated[MailStore, Depends(get_mail_store)]


async def get_mailbox_actions(store: MailStoreDep) -> MailboxActions:
    return MailboxActions(store)


MailboxActionsDep = Annotated[MailboxActions, Depends(get_mailbox_actions)]


async def get_sieve_account(session: SessionDep) -> SieveAccount:
    return SieveAccount(session.user, session.password)


SieveAccountDep = Annotated[SieveAccount, Depends(get_sieve_account)]


async def note_vacation(request: Request, services: ServicesDep, session: OptionalSessionDep) -> None:
    """Mail screens loaded as a whole page show a banner while the vacation reply is on."""
    if session is None or request.method != "GET" or HtmxDetails(request):
        return
    request.state.vacation = await services.filters.vacation_notice(
        SieveAccount(session.user, session.password)
    )
