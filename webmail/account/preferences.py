"""A user's preferences, stored as JSON on the users row and validated on the way in and out."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal
from zoneinfo import available_timezones

import anyio.to_thread
from pydantic import BaseModel, Field, ValidationError, field_validator
from sqlalchemy.orm import Session as DBSession
from sqlalchemy.orm import sessionmaker

from webmail.db.repos import UserRepository
from webmail.imap.actions import ArchiveLayout
from webmail.imap.types import SpecialUse

MarkSeen = Literal["immediately", "delay", "never"]
Theme = Literal["system", "light", "dark"]  # "system" follows the device (prefers-color-scheme)
Density = Literal["comfortable", "compact"]
ReadingPane = Literal["right", "bottom", "off"]  # where an opened message shows on wide screens
PREFERENCES_TTL_SECONDS = 5.0


class Preferences(BaseModel):
    page_size: int = Field(50, ge=20, le=200)
    mark_seen: MarkSeen = "immediately"
    mark_seen_delay_seconds: int = Field(5, ge=1, le=120)
    timezone: str = ""  # empty: the browser's (cookie wm_tz), else UTC
    prefer_html: bool = True
    conversations: bool = False
    reading_pane: ReadingPane = "right"  # "off": the message takes the list's place
    keyboard_shortcuts: bool = True
    compose_html: bool = False
    undo_send_seconds: int | None = Field(
        None, ge=0, le=30
    )  # None: the server's default  # the editor starts in formatted (HTML) mode
    archive_layout: ArchiveLayout = "flat"  # Archive, Archive/2026, or Archive/2026/03
    theme: Theme = "system"
    density: Density = "comfortable"  # list rows with a preview line, or one line each
    swipe_actions: bool = True  # on touch screens: swipe a row right to archive, left to delete
    # The copy of recent mail kept on the device for reading offline (static/sw.js).
    offline_storage: bool = True
    offline_messages: int = Field(200, ge=20, le=2000)
    offline_size_mb: int = Field(50, ge=5, le=2000)
    offline_attachment_kb: int = Field(512, ge=0, le=10240)  # attachments up to this size come along
    offline_folders: list[str] = Field(default_factory=list, max_length=50)  # besides INBOX
    # Special folders chosen by hand (use to folder name); the others are found on the server.
    special_folders: dict[SpecialUse, str] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value and value not in available_timezones():
            raise ValueError("unknown time zone")
        return value

    @field_validator("special_folders")
    @classmethod
    def _folder_names(cls, value: dict[SpecialUse, str]) -> dict[SpecialUse, str]:
        chosen = {use: name for use, name in value.items() if name}
        if any(len(name) > 500 or any(c in name for c in "\r\n\0") for name in chosen.values()):
            raise ValueError("not a folder name")
        if len(set(chosen.values())) < len(chosen):
            raise ValueError("one folder cannot serve two special uses")
        return chosen

    @classmethod
    def load(cls, raw: dict[str, Any] | None) -> Preferences:
        """Stored preferences; a value that is no longer valid falls back to its default."""
        raw = dict(raw or {})
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            for error in exc.errors():
                raw.pop(str(error["loc"][0]), None)
            return cls.model_validate(raw)


@dataclass
class PreferencesService:
    db: sessionmaker[DBSession]
    imap_host: str
    # Read on every page; a few seconds of staleness on other workers is fine for settings.
    _cache: dict[str, tuple[float, Preferences]] = field(default_factory=dict)

    async def get(self, login: str) -> Preferences:
        """The user's preferences (defaults until they save some)."""
        cached = self._cache.get(login)
        if cached is not None and time.monotonic() - cached[0] < PREFERENCES_TTL_SECONDS:
            return cached[1]

        def load() -> Preferences:
            with self.db() as session:
                user = UserRepository(session).get(login, self.imap_host)
                return Preferences.load(user.preferences if user else None)

        preferences = await anyio.to_thread.run_sync(load)
        self._cache[login] = (time.monotonic(), preferences)
        return preferences

    async def save(self, login: str, preferences: Preferences) -> None:
        """Store the preferences; this worker sees them at once, the others within the TTL."""

        def save() -> None:
            with self.db.begin() as session:
                user = UserRepository(session).get_or_create(login, self.imap_host)
                user.preferences = preferences.model_dump()

        await anyio.to_thread.run_sync(save)
        self._cache[login] = (time.monotonic(), preferences)
