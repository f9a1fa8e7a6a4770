"""Private Dovecot, Redis and SMTP sink for ``make demo`` and the tests; PostgreSQL on request.

Everything lives in one temporary folder on free loopback ports; nothing touches a
system-wide Dovecot, Redis or PostgreSQL.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from types import TracebackType

from webmail.devservices.dovecot import Dovecot, start_dovecot
from webmail.devservices.postgres import PostgresServer, start_postgres
from webmail.devservices.redis import RedisServer, start_redis
from webmail.devservices.smtp import SentMessage, SMTPSink

__all__ = ["DevServices", "Dovecot", "PostgresServer", "RedisServer", "SMTPSink", "SentMessage"]


class DevServices:
    """Start with ``with DevServices() as services:``; ``services.env()`` points the app at them."""

    def __init__(
        self,
        root: Path | None = None,
        *,
        quota_mb: int = 1024,
        max_userip_connections: int = 10,
        auth_failure_delay: int = 0,
    ) -> None:
        self._own_root = root is None
        self.root = root or Path(tempfile.mkdtemp(prefix="webmail-dev-"))
        self.quota_mb = quota_mb
        self.max_userip_connections = max_userip_connections
        self.auth_failure_delay = auth_failure_delay
        self._dovecot: Dovecot | None = None
        self._redis: RedisServer | None = None
        self._smtp: SMTPSink | None = None
        self._postgres: PostgresServer | None = None

    @property
    def dovecot(self) -> Dovecot:
        assert self._dovecot is not None, "DevServices not started"
        return self._dovecot

    @property
    def redis(self) -> RedisServer:
        assert self._redis is not None, "DevServices not started"
        return self._redis

    @property
    def smtp(self) -> SMTPSink:
        assert self._smtp is not None, "DevServices not started"
        return self._smtp

    def start(self) -> DevServices:
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)  # Dovecot's unprivileged processes must reach their files
        try:
            self._dovecot = start_dovecot(
                self.root / "dovecot",
                quota_mb=self.quota_mb,
                max_userip_connections=self.max_userip_connections,
                auth_failure_delay=self.auth_failure_delay,
            )
            self._redis = start_redis(self.root / "redis")
            self._smtp = SMTPSink(self._dovecot, relay=True)
            self._smtp.start()
        except BaseException:
            self.stop()
            raise
        return self

    def start_redis(self) -> RedisServer:
        """Start Redis again after a test stopped it."""
        self._redis = start_redis(self.root / "redis")
        return self._redis

    def start_postgres(self) -> PostgresServer:
        """PostgreSQL, started on the first call (a few seconds: only for those who need it)."""
        if self._postgres is None:
            self._postgres = start_postgres(self.root / "postgres")
        return self._postgres

    def env(self) -> dict[str, str]:
        """``WEBMAIL_*`` variables that point the app at these services."""
        return {
            "WEBMAIL_IMAP_HOST": "127.0.0.1",
            "WEBMAIL_IMAP_PORT": str(self.dovecot.imap_port),
            "WEBMAIL_IMAP_SECURITY": "none",
            "WEBMAIL_SMTP_HOST": "127.0.0.1",
            "WEBMAIL_SMTP_PORT": str(self.smtp.port),
            "WEBMAIL_SMTP_SECURITY": "none",
            "WEBMAIL_SIEVE_HOST": "127.0.0.1",
            "WEBMAIL_SIEVE_PORT": str(self.dovecot.sieve_port),
            "WEBMAIL_SIEVE_SECURITY": "none",
            "WEBMAIL_REDIS_URL": self.redis.url,
            # The demo's POP3 source is this machine's Dovecot, which the SSRF guard refuses by default.
            "WEBMAIL_POP3_ALLOWED_HOSTS": "127.0.0.1",
            "WEBMAIL_POP3_ALLOWED_PORTS": f"110,995,{self.dovecot.pop3_port}",
        }

    def stop(self) -> None:
        for service in (self._smtp, self._redis, self._dovecot, self._postgres):
            if service is not None:
                try:
                    service.stop()
                except Exception:  # noqa: S110 - keep stopping the others
                    pass
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> DevServices:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
