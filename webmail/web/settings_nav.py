"""The sections of the settings, in the order of their navigation (layouts/settings_page.html).

A page under /settings joins the navigation with one line here; ``path`` is also the prefix of
the section's own pages (/settings/accounts/new is in "accounts")."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Section:
    key: str
    label: str
    path: str
    icon: str
    hint: str


SECTIONS = (
    Section("general", "General", "/settings/general", "general", "Theme, density, time zone, list"),
    Section("reading", "Reading", "/settings/reading", "reading", "HTML mail, conversations, offline"),
    Section("writing", "Writing", "/settings/writing", "writing", "Editor, undo send, signatures"),
    Section("identities", "Identities and signatures", "/settings/identities", "identity", "From addresses"),
    Section("folders", "Folders", "/settings/folders", "folder", "Create, rename, show or hide"),
    Section("storage", "Free up space", "/settings/storage", "storage", "Quota, largest mail, Trash"),
    Section("archive", "Auto-archive", "/settings/archive", "archive", "Move or delete old mail"),
    Section(
        "accounts", "Mail from other accounts (POP3)", "/settings/accounts", "server", "Fetch other mailboxes"
    ),
    Section("filters", "Filters", "/settings/filters", "filter", "Sort incoming mail"),
    Section("vacation", "Vacation reply and forwarding", "/settings/vacation", "reply", "Away message"),
    Section("keyboard", "Keyboard", "/settings/keyboard", "keyboard", "Shortcuts"),
    Section("notifications", "Notifications", "/settings/notifications", "bell", "New mail on this device"),
    Section("clients", "Outlook, Thunderbird, phones", "/help/clients", "download", "Set up other programs"),
)


def current_section(path: str) -> str:
    """The key of the section a path (without the root path) belongs to; /settings is General."""
    for section in SECTIONS:
        if path == section.path or path.startswith(section.path + "/"):
            return section.key
    return "general" if path.rstrip("/") == "/settings" else ""
