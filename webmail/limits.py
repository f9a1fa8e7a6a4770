"""Bounds on the work one message or one request may cause; each is a setting (``webmail/config.py``
takes its default from here: ``WEBMAIL_MAX_MIME_PARTS`` and so on)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    max_mime_parts: int = 1000  # parts of one message walked for display, forwarding, download
    max_mime_depth: int = 25  # multiparts and attached messages inside each other
    max_html_bytes: int = 2_000_000  # HTML given to the sanitiser; beyond: shown simplified
    max_html_depth: int = 400  # elements inside each other; beyond: shown simplified
    max_recipients: int = 500  # To, Cc and Bcc of one message together
    max_search_terms: int = 100  # terms (words, operators, OR) of one search
    max_search_length: int = 4000  # characters of one search
    max_uids_per_request: int = 100_000  # messages one request may name (Undo's UID sets)
    max_forward_attachments: int = 100  # attachments carried into a forward


DEFAULT_LIMITS = Limits()
