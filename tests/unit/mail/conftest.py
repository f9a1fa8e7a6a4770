"""Hypothesis settings for the mail/ properties: no deadline, the machine is shared and slow."""

from __future__ import annotations

from hypothesis import settings

settings.register_profile("mail", deadline=None, max_examples=200)
settings.load_profile("mail")
