from __future__ import annotations

from typing import Any

import pytest

from webmail import cli
from webmail.config import load_settings


def test_the_demo_worker_shares_the_per_run_secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Demo mode makes up a secret key per process; the worker must get the web app's, or it
    could not open the passwords the web app sealed (outbox, POP3)."""
    spawned: dict[str, Any] = {}

    class Worker:
        def __init__(self, args: list[str], env: dict[str, str]) -> None:
            spawned.update(args=args, env=env)

        def terminate(self) -> None: ...

        def wait(self, timeout: float | None = None) -> int:
            return 0

    import uvicorn

    monkeypatch.delenv("WEBMAIL_SECRET_KEY", raising=False)
    monkeypatch.setattr(cli.subprocess, "Popen", Worker)
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    monkeypatch.setattr("webmail.app.create_app", lambda settings: object())
    settings = load_settings(demo=True)
    cli._serve_demo(settings, 8000, 1100)
    assert spawned["args"][-1] == "worker"
    assert spawned["env"]["WEBMAIL_SECRET_KEY"] == settings.secret_key.get_secret_value()
