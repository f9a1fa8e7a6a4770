"""Demo mode's own data, beside the seeded mail: an address book with groups, display names for
the demo users and a saved search, so that suggestions, groups and virtual folders can be tried.
Written once: a demo user who has contacts already is left as they are."""

from __future__ import annotations

from webmail.account.contacts import ContactService
from webmail.account.identities import IdentityForm, IdentityService
from webmail.account.searches import SavedSearchService
from webmail.config import DEMO_USERS
from webmail.mail.cards import Card

DISPLAY_NAMES = {"demo@example.test": "Demo User", "bob@example.test": "Bob Demo"}
ADDRESS_BOOK = (
    Card("Alice Martin", ["alice@example.org"], "Project lead, website redesign", ["Team"]),
    Card("Bob Demo", ["bob@example.test"], "The other demo user: write to him and sign in as him", ["Team"]),
    Card("Chloé Dubois", ["chloe@exemple.fr"], "", ["Friends"]),
    Card("Jürgen Müller", ["juergen@beispiel.de"], "", ["Team"]),
    Card("María José García", ["mj@ejemplo.es"], "Budget questions", ["Team", "Friends"]),
    Card("Sven Ødegård", ["sven@eksempel.no"], "", ["Friends"]),
    Card("Yuki Tanaka", ["yuki@example.jp"], "", ["Family"]),
    Card("IT Helpdesk", ["helpdesk@example.org"], "Laptops, passwords, the VPN", []),
)
SAVED_SEARCHES = (
    ("Unread from Alice", "from:alice is:unread", "INBOX"),
    ("With attachments", "has:attachment", "INBOX"),
)


async def seed_demo_data(
    contacts: ContactService, identities: IdentityService, searches: SavedSearchService
) -> None:
    for login, _password in DEMO_USERS:
        if await contacts.all(login):
            continue
        await contacts.import_cards(login, [card for card in ADDRESS_BOOK if login not in card.emails])
        signature = f"{DISPLAY_NAMES[login]}\nDemo Company · +1 555 0100"
        form = IdentityForm(DISPLAY_NAMES[login], login, "", False, signature, "", True)
        await identities.save(login, None, form)
        for name, query, folder in SAVED_SEARCHES:
            await searches.save(login, name, query, folder)
