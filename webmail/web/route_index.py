"""The app's routes in one table, matched by one regular expression per HTTP method.

FastAPI (0.16x) keeps an included router as a branch and, for every request, tries each of its
routes' patterns in turn, with bookkeeping around each try, then tries the chosen branch again:
about 3 µs a route, so for ``/mail/INBOX``, the last of some 120 routes, 0.3 ms of a 3 ms request.
Here each router's routes are added as plain routes, in the order given, and one alternation of
all their patterns finds the first that matches the path for the request's method: the route that
FastAPI would have chosen, found in one pass of the regular expression engine.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, params
from fastapi.routing import APIRoute
from starlette._utils import get_route_path  # what every Starlette route matches against
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

# A route pattern's named groups (path parameters); inside the alternation they become plain
# groups, so that the only named group that matches is the route's own (``r<index>``).
_PARAMETER = re.compile(r"\(\?P<[A-Za-z_][A-Za-z0-9_]*>")


class RouteIndex(BaseRoute):
    def __init__(self) -> None:
        self._router = APIRouter()
        self.routes: list[APIRoute] = []
        self._patterns: dict[str, re.Pattern[str]] = {}
        self._any_method: re.Pattern[str] | None = None

    def include(self, router: APIRouter, *, dependencies: Sequence[params.Depends] = ()) -> None:
        """Add ``router``'s routes after those added before, as ``include_router`` would order them."""
        for route in router.routes:
            if not isinstance(route, APIRoute):
                raise TypeError(f"only API routes can be indexed, not {route!r}")
            self._router.add_api_route(
                route.path,
                route.endpoint,
                methods=sorted(route.methods or ()),
                name=route.name,
                # The route's own dependencies already hold its router's (APIRouter(dependencies=...)).
                dependencies=[*dependencies, *route.dependencies],
                response_class=route.response_class,
                response_model=route.response_model,
                status_code=route.status_code,
                include_in_schema=route.include_in_schema,
            )
        self.routes = [route for route in self._router.routes if isinstance(route, APIRoute)]
        self._compile()

    def _compile(self) -> None:
        alternatives: dict[str, list[str]] = {}
        every: list[str] = []
        for index, route in enumerate(self.routes):
            pattern = _PARAMETER.sub("(?:", route.path_regex.pattern.removeprefix("^").removesuffix("$"))
            every.append(f"(?:{pattern})")
            for method in route.methods or ():
                alternatives.setdefault(method, []).append(f"(?P<r{index}>{pattern})")
        self._patterns = {method: re.compile("|".join(found)) for method, found in alternatives.items()}
        self._any_method = re.compile("|".join(every))

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http":
            return Match.NONE, {}
        path = get_route_path(scope)
        pattern = self._patterns.get(scope["method"])
        found = pattern.fullmatch(path) if pattern is not None else None
        if found is not None and found.lastgroup is not None:
            # The route itself converts its parameters and names itself in the scope.
            return self.routes[int(found.lastgroup[1:])].matches(scope)
        if self._any_method is None or not self._any_method.fullmatch(path):
            return Match.NONE, {}
        for route in self.routes:  # the path is known for another method: 405, as FastAPI answers
            match, child_scope = route.matches(scope)
            if match is Match.PARTIAL:
                return match, child_scope
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        # matches() put the chosen route in the scope, and the router copied it there.
        await scope["route"].handle(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        for route in self.routes:
            try:
                return route.url_path_for(name, **path_params)
            except NoMatchFound:
                continue
        raise NoMatchFound(name, path_params)
