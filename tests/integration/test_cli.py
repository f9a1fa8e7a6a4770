from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

KEY = "s3cr3t-" + "z" * 40


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "webmail.cli", *args], capture_output=True, text=True, env=env, timeout=60
    )


def base_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEBMAIL_")}
    env["WEBMAIL_SECRET_KEY"] = KEY
    env["WEBMAIL_DATABASE_URL"] = f"sqlite:///{tmp_path / 'cli.db'}"
    return env


def test_check_config_masks_secrets(tmp_path: Path) -> None:
    result = run("check-config", env=base_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "WEBMAIL_SECRET_KEY=********" in result.stdout
    assert "WEBMAIL_IMAP_HOST=127.0.0.1" in result.stdout
    assert KEY not in result.stdout


def test_invalid_setting_stops_with_one_line(tmp_path: Path) -> None:
    env = base_env(tmp_path) | {"WEBMAIL_IMAP_SECURITY": "sometimes"}
    result = run("check-config", env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "WEBMAIL_IMAP_SECURITY" in lines[0]


def test_serve_refuses_missing_secret_key(tmp_path: Path) -> None:
    env = base_env(tmp_path)
    del env["WEBMAIL_SECRET_KEY"]
    result = run("serve", "--port", "1", env=env)
    assert result.returncode == 2
    assert "WEBMAIL_SECRET_KEY is missing" in result.stderr


def test_db_upgrade(tmp_path: Path) -> None:
    env = base_env(tmp_path)
    result = run("db", "upgrade", env=env)
    assert result.returncode == 0, result.stderr
    engine = sa.create_engine(env["WEBMAIL_DATABASE_URL"])
    assert "users" in sa.inspect(engine).get_table_names()
    engine.dispose()
