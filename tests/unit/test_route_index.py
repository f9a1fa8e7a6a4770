"""The route index chooses the route FastAPI would: the first, in order, whose pattern matches."""

from __future__ import annotations

import re

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.testclient import TestClient
from starlette.routing import Match

from webmail.app import create_app
from webmail.config import load_settings
from webmail.web.route_index import RouteIndex

# Values that make routes compete: folders named like a route's tail, numbers, escapes.
SAMPLES = {
    "folder": ["INBOX", "Archive/2024", "a/b/123", "Lists/export", "x/1/body", "Caf%C3%A9", "x/12/source"],
    "uid": ["1", "123"],
}
EXTRA_PATHS = [
    "/", "/login", "/mail", "/mail/", "/mail/config-v1.1.xml", "/mail/INBOX/export", "/mail/INBOX/import",
    "/mail/INBOX/12/next", "/mail/INBOX/12/part/1.2", "/settings", "/settings/nowhere", "/nowhere",
    "/mail/INBOX/12x", "/events", "/static/app.js",
]  # fmt: skip


def sample_paths(path_format: str) -> list[str]:
    paths = [path_format]
    for name in re.findall(r"{(\w+)}", path_format):
        values = SAMPLES.get(name, ["abc", "7"])
        paths = [path.replace(f"{{{name}}}", value) for path in paths for value in values]
    return paths


def scope(path: str, method: str) -> dict[str, object]:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "root_path": "",
        "headers": [],
        "query_string": b"",
    }


def first_match(index: RouteIndex, path: str, method: str) -> tuple[Match, object]:
    """What Starlette's router does: the first full match, else the first partial one."""
    partial = None
    for route in index.routes:
        match, child = route.matches(scope(path, method))
        if match is Match.FULL:
            return match, child["route"]
        if match is Match.PARTIAL and partial is None:
            partial = (match, child["route"])
    return partial or (Match.NONE, None)


@pytest.fixture(scope="module")
def index() -> RouteIndex:
    app = create_app(load_settings(secret_key="k" * 40))
    [found] = [route for route in app.router.routes if isinstance(route, RouteIndex)]
    return found


def test_every_route_of_the_app_is_found_as_fastapi_would_find_it(index: RouteIndex) -> None:
    paths = {path for route in index.routes for path in sample_paths(route.path_format)} | set(EXTRA_PATHS)
    assert len(index.routes) > 100
    checked = 0
    for path in sorted(paths):
        for method in ("GET", "POST", "HEAD", "DELETE"):
            expected = first_match(index, path, method)
            match, child = index.matches(scope(path, method))
            assert (match, child.get("route")) == expected, (method, path)
            checked += 1
    assert checked > 500


def test_a_folder_named_like_a_route_still_opens_as_a_folder_or_message(index: RouteIndex) -> None:
    match, child = index.matches(scope("/mail/Lists/export/42", "GET"))
    assert match is Match.FULL
    assert child["route"].path == "/mail/{folder:path}/{uid:int}"
    assert child["path_params"] == {"folder": "Lists/export", "uid": 42}


def test_dependencies_of_router_and_inclusion_both_run_and_methods_answer_405() -> None:
    calls: list[str] = []

    async def of_router() -> None:
        calls.append("router")

    async def of_inclusion() -> None:
        calls.append("inclusion")

    router = APIRouter(dependencies=[Depends(of_router)])

    @router.get("/items/{item_id:int}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @router.get("/items/{name}")
    async def named(name: str) -> dict[str, str]:
        return {"name": name}

    index = RouteIndex()
    index.include(router, dependencies=[Depends(of_inclusion)])
    app = FastAPI()
    app.router.routes.append(index)
    with TestClient(app) as client:
        assert client.get("/items/7").json() == {"id": 7}
        assert client.get("/items/seven").json() == {"name": "seven"}
        assert calls == ["inclusion", "router", "inclusion", "router"]
        refused = client.post("/items/7")
        assert refused.status_code == 405
        assert refused.headers["allow"] == "GET"
        assert client.get("/other").status_code == 404
        assert app.url_path_for("item", item_id=3) == "/items/3"
