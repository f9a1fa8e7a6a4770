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


# Each dependency below takes the request alone and asks the others directly, each worked out
# once per request (on ``request.state``). FastAPI solves a dependency's own dependencies again
# wherever it is used before it looks in its per-request cache: declared as a tree, a message
# click solved 27 dependencies; as leaves, 6.


async def get_optional_session(request: Request) -> Session | None:
    state = request.state
    if not hasattr(state, "session"):
        state.session = await get_services(request).sessions.load(request.cookies.get(SESSION_COOKIE))
    session: Session | None = state.session
    return session


OptionalSessionDep = Annotated[Session | None, Depends(get_optional_session)]


async def get_session(request: Request) -> Session:
    session = await get_optional_session(request)
    if session is None:
        raise SessionExpiredError()
    return session


SessionDep = Annotated[Session, Depends(get_session)]


async def get_preferences(request: Request) -> Preferences:
    state = request.state
    if not hasattr(state, "preferences"):
        session = await get_session(request)
        state.preferences = await get_services(request).preferences.get(session.user)
    preferences: Preferences = state.preferences
    return preferences


PreferencesDep = Annotated[Preferences, Depends(get_preferences)]


async def get_mail_store(request: Request) -> MailStore:
    services, session = get_services(request), await get_session(request)
    preferences = await get_preferences(request)
    credentials = Credentials(session.user, session.password, session.client_ip)
    return MailStore(services.pool, credentials, services.pages, preferences.special_folders)


MailStoreDep = Annotated[MailStore, Depends(get_mail_store)]


async def get_mailbox_actions(request: Request) -> MailboxActions:
    return MailboxActions(await get_mail_store(request))


MailboxActionsDep = Annotated[MailboxActions, Depends(get_mailbox_actions)]


async def get_sieve_account(request: Request) -> SieveAccount:
    session = await get_session(request)
    return SieveAccount(session.user, session.password)


SieveAccountDep = Annotated[SieveAccount, Depends(get_sieve_account)]


async def note_vacation(request: Request) -> None:
    """Mail screens loaded as a whole page show a banner while the vacation reply is on."""
    if request.method != "GET" or HtmxDetails(request):
        return
    session = await get_optional_session(request)
    if session is None:
        return
    request.state.vacation = await get_services(request).filters.vacation_notice(
        SieveAccount(session.user, session.password)
    )
