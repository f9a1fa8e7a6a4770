"""A user's preferences, stored as JSON on the users row and validated on the way in and out."""

from __future__ import annotations

from typing import Any, Literal
from zoneinfo import available_timezones

from pydantic import BaseModel, Field, ValidationError, field_validator

MarkSeen = Literal["immediately", "delay", "never"]
ArchiveLayout = Literal["flat", "year", "month"]


class Preferences(BaseModel):
    page_size: int = Field(50, ge=20, le=200)
    mark_seen: MarkSeen = "immediately"
    mark_seen_delay_seconds: int = Field(5, ge=1, le=120)
    timezone: str = ""  # empty: the browser's (cookie wm_tz), else UTC
    prefer_html: bool = True
    conversations: bool = False
    keyboard_shortcuts: bool = True
    compose_html: bool = False
    undo_send_seconds: int | None = Field(
        None, ge=0, le=30
    )  # None: the server's default  # the editor starts in formatted (HTML) mode
    archive_layout: ArchiveLayout = "flat"  # Archive, Archive/2026, or Archive/2026/03

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value and value not in available_timezones():
            raise ValueError("unknown time zone")
        return value

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
