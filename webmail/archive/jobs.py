"""Auto-archive rules in the database, their runs in ``webmail worker`` (daily, and "Run now"),
and Undo of the last moving run. A run logs in with the background credentials and takes the
user's connections with the background priority (``imap.background``), under the cap."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import anyio
from redis import Redis
from rq import Queue
from rq.exceptions import DuplicateJobError
from sqlalchemy.orm import Session, sessionmaker

from webmail.archive.rules import RuleSpec, RunResult, run
from webmail.auth.background import background_credentials
from webmail.config import Settings
from webmail.db.models import ArchiveRule, User
from webmail.db.repos import ArchiveRuleRepository, UserRepository
from webmail.errors import WebmailError
from webmail.imap.background import background_store
from webmail.redis import Keys, create_sync_redis

logger = logging.getLogger("webmail.archive")
RUN_EVERY = timedelta(days=1)
JOB_TIMEOUT_SECONDS = 3600


class RuleNotFoundError(WebmailError):
    """Raised when a rule id is not (or no longer) one of the user's."""

    status_code = 404
    user_message = "This rule does not exist (any more)."


def spec_of(rule: ArchiveRule) -> RuleSpec:
    return RuleSpec(
        folder=rule.folder,
        older_than_days=rule.older_than_days,
        only_read=rule.only_read,
        skip_starred=rule.skip_starred,
        action=rule.action,  # type: ignore[arg-type]
        layout=rule.layout,  # type: ignore[arg-type]
    )


@dataclass
class ArchiveRules:
    """The user's rules (the web side): list, add, delete, and what a run recorded."""

    settings: Settings
    db: sessionmaker[Session]

    def _user(self, session: Session, login: str) -> User:
        return UserRepository(session).get_or_create(login, self.settings.imap_host)

    def list(self, login: str) -> list[ArchiveRule]:
        with self.db() as session:
            rules = ArchiveRuleRepository(session).for_user(self._user(session, login).id)
            session.expunge_all()
            return rules

    def get(self, login: str, rule_id: int) -> ArchiveRule:
        with self.db() as session:
            rule = ArchiveRuleRepository(session).get(self._user(session, login).id, rule_id)
            if rule is None:
                raise RuleNotFoundError()
            session.expunge(rule)
            return rule

    def add(self, login: str, spec: RuleSpec) -> int:
        with self.db.begin() as session:
            user = self._user(session, login)
            rule = ArchiveRule(
                user_id=user.id, folder=spec.folder, older_than_days=spec.older_than_days,
                only_read=spec.only_read, skip_starred=spec.skip_starred, action=spec.action,
                layout=spec.layout, enabled=True, last_count=0, last_moves=[],
            )  # fmt: skip
            return ArchiveRuleRepository(session).add(rule).id

    def delete(self, login: str, rule_id: int) -> None:
        with self.db.begin() as session:
            if not ArchiveRuleRepository(session).delete(self._user(session, login).id, rule_id):
                raise RuleNotFoundError()

    def forget_moves(self, login: str, rule_id: int, words: str) -> None:
        """After Undo: nothing left to undo."""
        with self.db.begin() as session:
            rule = ArchiveRuleRepository(session).get(self._user(session, login).id, rule_id)
            if rule is not None:
                rule.last_moves = []
                rule.last_outcome = words[:500]


def record(db: sessionmaker[Session], rule_id: int, spec: RuleSpec, result: RunResult) -> None:
    with db.begin() as session:
        rule = session.get(ArchiveRule, rule_id)
        if rule is None:
            return
        rule.last_run_at = datetime.now(UTC)
        rule.last_count = result.count
        rule.last_outcome = result.words(spec)[:500]
        if spec.action != "delete" and result.count:
            rule.last_moves = [[target, uids] for target, uids in result.moves]


def run_rule(settings: Settings, db: sessionmaker[Session], rule_id: int) -> RunResult:
    """Run one rule now as its user (background login and priority) and record the outcome."""
    with db() as session:
        rule = session.get(ArchiveRule, rule_id)
        if rule is None:
            return RunResult(stopped="the rule was deleted.")
        user = session.get(User, rule.user_id)
        assert user is not None
        spec = spec_of(rule)
        session.expunge_all()
    try:
        credentials = background_credentials(settings, user)

        async def go() -> RunResult:
            async with background_store(settings, credentials) as store:
                return await run(store, spec)

        result = anyio.run(go)
    except WebmailError as exc:
        result = RunResult(stopped=exc.user_message)
    record(db, rule_id, spec, result)
    logger.info(
        "archive rule %s: %d messages%s", rule_id, result.count, " (stopped)" if result.stopped else ""
    )
    return result


def run_job(rule_id: int) -> int:
    """The rq job (in the worker's work-horse)."""
    from webmail.config import load_settings
    from webmail.db.session import create_db_engine, create_sessionmaker

    settings = load_settings()
    engine = create_db_engine(settings.database_url)
    try:
        return run_rule(settings, create_sessionmaker(engine), rule_id).count
    finally:
        engine.dispose()


def enqueue_run(settings: Settings, queue: Queue, rule_id: int) -> bool:
    """Queue a run of one rule; False if one is queued or running already."""
    try:
        queue.enqueue(
            run_job,
            rule_id,
            job_id=Keys(settings.redis_prefix).archive_job_id(rule_id),
            unique=True,
            job_timeout=JOB_TIMEOUT_SECONDS,
            result_ttl=0,
            failure_ttl=3600,
        )
    except DuplicateJobError:
        return False
    return True


def enqueue_due(settings: Settings, db: sessionmaker[Session], queue: Queue) -> int:
    """The daily run: queue every enabled rule that has not run for a day."""
    with db() as session:
        due = ArchiveRuleRepository(session).due(datetime.now(UTC) - RUN_EVERY)
    return sum(enqueue_run(settings, queue, rule_id) for rule_id in due)


def queue_for(settings: Settings, redis: Redis) -> Queue:
    return Queue(Keys(settings.redis_prefix).jobs_queue(), connection=redis)


def run_now(settings: Settings, rule_id: int) -> bool:
    """ "Run now" from the web (in a thread: rq is blocking)."""
    with create_sync_redis(settings, socket_connect_timeout=2, socket_timeout=5) as redis:
        return enqueue_run(settings, queue_for(settings, redis), rule_id)
