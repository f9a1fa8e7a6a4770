"""webmail/errors.py's docstring holds the whole exception tree: every WebmailError subclass is named
there with its module and status code, and says in its own docstring when it is raised."""

from __future__ import annotations

import importlib
import pkgutil
import re

import webmail
from webmail import errors
from webmail.errors import WebmailError

ENTRY = re.compile(r"(?:([a-z0-9_.]+)\.)?([A-Za-z0-9]+Error)\s+(\d{3})\b")


def every_error() -> dict[str, type[WebmailError]]:
    for module in pkgutil.walk_packages(webmail.__path__, "webmail."):
        importlib.import_module(module.name)
    found: dict[str, type[WebmailError]] = {}
    todo: list[type[WebmailError]] = [WebmailError]
    while todo:
        for subclass in todo.pop().__subclasses__():
            assert subclass.__name__ not in found, f"two errors called {subclass.__name__}"
            found[subclass.__name__] = subclass
            todo.append(subclass)
    return found


def tree() -> dict[str, tuple[str | None, int]]:
    """Class name -> (module as written, status code as written), from the root's docstring."""
    return {name: (module or None, int(code)) for module, name, code in ENTRY.findall(errors.__doc__ or "")}


def test_the_walk_finds_the_errors() -> None:
    assert len(every_error()) >= 35
    assert tree()["WebmailError"] == (None, 500)


def test_every_error_is_in_the_tree_with_its_status() -> None:
    written = tree()
    wrong = {
        name: written.get(name, "missing")
        for name, cls in every_error().items()
        if name not in written or written[name][1] != cls.status_code
    }
    assert wrong == {}


def test_the_tree_names_the_right_modules_and_nothing_that_is_gone() -> None:
    found = every_error()
    assert set(tree()) - {"WebmailError"} == set(found)
    for name, (module, _) in tree().items():
        if module is not None:
            assert found[name].__module__ == f"webmail.{module}", name


def test_every_error_says_when_it_is_raised() -> None:
    unsaid = [
        name for name, cls in every_error().items() if not (cls.__doc__ or "").startswith("Raised when ")
    ]
    assert unsaid == []
