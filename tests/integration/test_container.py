"""The Dockerfile and docker-compose.yml, checked without a Docker engine: the compose file against the
Compose Specification's JSON schema, its WEBMAIL_* variables against the settings, the commands of
both against the README, and the try-it-out Dovecot's configuration against Debian's Dovecot."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from webmail.config import PROJECT_ROOT, Settings, secret_setting_names
from webmail.devservices.nginx import DEPLOY_CONFIG, TEMPLATE_NAME

COMPOSE_SCHEMA = Path(__file__).parent.parent / "data" / "compose-spec.json"
README = (PROJECT_ROOT / "README.md").read_text()
BUILD_TOOLS = re.compile(r"\b(gcc|g\+\+|make|build-essential|[\w.-]+-dev|cargo|rustc)\b")


def instructions(dockerfile: str) -> list[list[tuple[str, str]]]:
    """The Dockerfile's instructions, stage by stage, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", dockerfile)
    stages: list[list[tuple[str, str]]] = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        if keyword.upper() == "FROM":
            stages.append([])
        stages[-1].append((keyword.upper(), rest.strip()))
    return stages


def documented_commands() -> dict[tuple[str, ...], set[str]]:
    """The README's command table: each `webmail ...` command with the options it documents."""
    commands = {}
    for usage in re.findall(r"^\| `(webmail [^`]+)` \|", README, re.M):
        words = usage.split()
        name = tuple(word for word in words[1:] if re.fullmatch(r"[a-z][a-z-]*", word))
        commands[name] = set(re.findall(r"--[a-z][a-z-]*", usage))
    return commands


def check_documented(command: list[str]) -> None:
    assert command[0] == "webmail", command
    words = [word for word in command[1:] if not word.startswith("-")]
    known = documented_commands()
    name = next((key for key in known if tuple(words[: len(key)]) == key), None)
    assert name is not None, f"{shlex.join(command)} is not a command the README documents"
    used = {word for word in command if word.startswith("--")}
    assert used <= known[name], (
        f"options of {shlex.join(command)} the README does not document: {used - known[name]}"
    )


@pytest.fixture(scope="module")
def stack() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
    return loaded


@pytest.fixture(scope="module")
def stages() -> list[list[tuple[str, str]]]:
    return instructions((PROJECT_ROOT / "Dockerfile").read_text())


def test_the_compose_file_follows_the_specification(stack: dict[str, Any]) -> None:
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(stack), key=str)
    assert not errors, [f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors]
    assert {"web", "worker", "redis", "postgres", "nginx", "dovecot"} <= stack["services"].keys()
    assert stack["services"]["dovecot"]["profiles"] == ["try"]  # only when asked for


def test_every_webmail_variable_is_a_setting(stack: dict[str, Any]) -> None:
    settings = {f"WEBMAIL_{name.upper()}" for name in Settings.model_fields}
    from_files = {f"WEBMAIL_{name.upper()}_FILE" for name in secret_setting_names()}
    for name, service in stack["services"].items():
        for variable in service.get("environment", {}):
            if variable.startswith("WEBMAIL_"):
                assert variable in settings | from_files, f"{name} sets {variable}, which is no setting"


def test_secrets_come_from_files(stack: dict[str, Any]) -> None:
    for name in ("web", "worker", "migrate"):
        environment = stack["services"][name]["environment"]
        assert "WEBMAIL_SECRET_KEY" not in environment
        for variable in ("WEBMAIL_SECRET_KEY_FILE", "WEBMAIL_DATABASE_URL_FILE"):
            secret = environment[variable].removeprefix("/run/secrets/")
            assert secret in stack["services"][name]["secrets"]
            assert secret in stack["secrets"]
    ignored = (PROJECT_ROOT / ".dockerignore").read_text().split()
    assert "deploy/secrets" in ignored  # never copied into an image


def test_compose_commands_are_the_documented_ones(stack: dict[str, Any]) -> None:
    for name in ("web", "worker", "migrate"):
        check_documented(stack["services"][name]["command"])
    assert stack["services"]["web"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_nginx_gets_every_template_variable(stack: dict[str, Any]) -> None:
    nginx = stack["services"]["nginx"]
    environment = nginx["environment"]
    assert set(TEMPLATE_NAME.findall(DEPLOY_CONFIG.read_text())) <= environment.keys()
    limit = int(stack["services"]["web"]["environment"]["WEBMAIL_MAX_ATTACHMENT_MB"])
    assert environment["NGINX_CLIENT_MAX_BODY_SIZE"] == f"{limit + 2}m"
    assert environment["NGINX_STATIC_DIR"] in {volume.split(":")[1] for volume in nginx["volumes"]}


def test_the_dockerfile(stages: list[list[tuple[str, str]]]) -> None:
    assert len(stages) >= 2, "a build stage and a slim final stage"
    for stage in stages:
        assert re.fullmatch(r"python:3\.1[1-9]-slim( AS \w+)?", stage[0][1]), stage[0]
    final = dict(stages[-1])
    user = final["USER"]
    assert user not in {"root", "0"}
    assert f"useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin {user}" in final["RUN"]
    assert "/healthz" in final["HEALTHCHECK"]
    for keyword, argument in stages[-1]:
        assert not (keyword == "RUN" and BUILD_TOOLS.search(argument)), argument
        if keyword == "COPY":
            assert argument.startswith("--from="), "the final stage takes what the build stage installed"


def test_the_dockerfile_installs_and_starts_as_the_readme_says(stages: list[list[tuple[str, str]]]) -> None:
    documented_install = re.search(r"^(python3 -m venv \.venv && \.venv/bin/pip install .*)$", README, re.M)
    assert documented_install, "the README shows no install command"
    runs = [argument for keyword, argument in stages[0] if keyword == "RUN"]
    assert documented_install.group(1) in runs
    start = json.loads(dict(stages[-1])["CMD"])
    check_documented(start)


def test_the_try_it_out_dovecot_configuration_is_valid() -> None:
    checked = subprocess.run(
        ["doveconf", "-n", "-c", str(PROJECT_ROOT / "deploy" / "dovecot.conf")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    assert "passdb {" in checked.stdout
