"""The address book: contacts, groups, vCard/CSV in and out, collected recipients, suggestions."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import MailUser, flash_after, session_token
from tests.integration.test_compose import friend
from webmail.mail.cards import parse_csv, parse_vcards

__all__ = ["friend"]

VCARDS = (
    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Jane Doe\r\nN:Doe;Jane;;;\r\nEMAIL;TYPE=INTERNET:jane@example.org\r\n"
    "EMAIL;TYPE=WORK:j.doe@work.example\r\nNOTE:Met at the conference\\, 2025\\nSecond line\r\n"
    "CATEGORIES:Friends,Conference\r\nEND:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:4.0\r\nN:Müller;Jürgen;;;\r\nEMAIL:juergen@exam\r\n ple.de\r\nEND:VCARD\r\n"
    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:No Address\r\nEND:VCARD\r\n"
)
OUTLOOK_CSV = (
    "\ufeffFirst Name,Last Name,E-mail Address,E-mail 2 Address,Notes,Categories\r\n"
    'Ann,Lee,ann@example.org,,"Likes tea, not coffee",Friends;Book club\r\n'
    "Bo,,bo@example.org,bo@home.example,,\r\n"
)


def post(client: TestClient, path: str, **fields: str):  # type: ignore[no-untyped-def]
    return client.post(path, data={"csrf_token": session_token(client), **fields})


def test_vcard_and_csv_parsing() -> None:
    cards = parse_vcards(VCARDS)
    assert [c.name for c in cards] == ["Jane Doe", "Jürgen Müller", "No Address"]
    assert cards[0].emails == ["jane@example.org", "j.doe@work.example"]
    assert cards[0].notes == "Met at the conference, 2025\nSecond line"
    assert cards[0].groups == ["Friends", "Conference"]
    assert cards[1].emails == ["juergen@example.de"]  # a folded line
    rows = parse_csv(OUTLOOK_CSV)
    assert [(r.name, r.emails, r.groups) for r in rows] == [
        ("Ann Lee", ["ann@example.org"], ["Friends", "Book club"]),
        ("Bo", ["bo@example.org", "bo@home.example"], []),
    ]


def test_contacts_groups_import_export_and_suggestions(signed_in: TestClient) -> None:
    assert (
        post(signed_in, "/contacts", name="Zed Zero", emails="zed@example.org", groups="Work").status_code
        == 303
    )
    bad = post(signed_in, "/contacts", name="Broken", emails="not-an-address")
    assert bad.status_code == 422
    assert "Not valid: not-an-address." in bad.text

    imported = signed_in.post("/contacts/import", data={"csrf_token": session_token(signed_in)},
                              files={"file": ("people.vcf", VCARDS.encode(), "text/vcard")})  # fmt: skip
    assert "Imported: 3 new, 0 merged" in flash_after(signed_in, imported)
    again = signed_in.post("/contacts/import", data={"csrf_token": session_token(signed_in)},
                           files={"file": ("people.csv", OUTLOOK_CSV.encode(), "text/csv")})  # fmt: skip
    assert "Imported: 2 new" in flash_after(signed_in, again)
    page = signed_in.get("/contacts?group=Friends").text
    assert "Jane Doe" in page
    assert "Ann Lee" in page
    assert "Zed Zero" not in page

    vcf = signed_in.get("/contacts/export.vcf")
    assert vcf.headers["content-type"].startswith("text/vcard")
    assert sorted(c.name for c in parse_vcards(vcf.text)) == sorted(
        ["Zed Zero", "Jane Doe", "Jürgen Müller", "No Address", "Ann Lee", "Bo"]
    )
    csv_rows = parse_csv(signed_in.get("/contacts/export.csv").text)
    assert next(r for r in csv_rows if r.name == "Jane Doe").emails == [
        "jane@example.org",
        "j.doe@work.example",
    ]

    # Importing the export again merges instead of duplicating.
    merged = signed_in.post("/contacts/import", data={"csrf_token": session_token(signed_in)},
                            files={"file": ("back.vcf", vcf.content, "text/vcard")})  # fmt: skip
    assert "0 new" in flash_after(signed_in, merged)

    suggestions = signed_in.get("/contacts/suggest?q=jan").json()
    assert {"label": "Jane Doe <jane@example.org>", "value": "Jane Doe <jane@example.org>"} in suggestions
    group = signed_in.get("/contacts/suggest?q=friend").json()[0]
    assert group["label"] == "Group: Friends (2)"
    assert "jane@example.org" in group["value"]
    assert "ann@example.org" in group["value"]


def test_recipients_are_collected_and_can_be_promoted(signed_in: TestClient, friend: MailUser) -> None:
    form = {"csrf_token": session_token(signed_in), "to": f"Good Friend <{friend.username}>", "subject": "Hi",
            "body": "Hello"}  # fmt: skip
    assert signed_in.post("/compose/send", data=form).status_code == 303
    page = signed_in.get("/contacts").text
    collected = page.split('id="collected"', 1)[1]
    assert (
        f'<span class="contact-name">Good Friend</span><span class="hint">{friend.username}</span>'
        in collected
    )
    assert signed_in.get("/contacts/suggest?q=good").json()[0]["value"] == f"Good Friend <{friend.username}>"
    collected_id = page.split('data-collected="', 1)[1].split('"', 1)[0]
    assert post(signed_in, f"/contacts/collected/{collected_id}/promote").status_code == 303
    page = signed_in.get("/contacts").text
    assert 'data-collected="' not in page  # a contact now, no longer merely collected
    assert "Good Friend" in page.split("People you wrote to")[0]
