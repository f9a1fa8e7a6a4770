"""Tags: IMAP keywords, with Thunderbird's $label1-$label5 named and coloured both ways."""

from __future__ import annotations

from fastapi.testclient import TestClient
from imapclient import IMAPClient

from tests.conftest import flash_after, session_token
from tests.integration.test_organize import imap, put

__all__ = ["imap"]


def keywords(imap: IMAPClient, uid: int) -> set[bytes]:
    imap.select_folder("INBOX", readonly=True)
    return {flag.lower() for flag in imap.get_flags([uid])[uid]}


def test_tags_set_elsewhere_show_and_tags_set_here_reach_the_server(
    signed_in: TestClient, imap: IMAPClient
) -> None:
    uid = put(imap, "Quarterly plan")
    other = put(imap, "Lunch")
    imap.select_folder("INBOX")
    imap.add_flags([uid], [b"$label2", b"project-x", b"$NotJunk"])  # as Thunderbird would
    page = signed_in.get("/mail/INBOX").text
    row = page.split(f'data-uid="{uid}"', 1)[1].split("</li>", 1)[0]
    assert '<span class="tag tag-orange">Work</span>' in row
    assert '<span class="tag tag-plain">project-x</span>' in row
    assert "NotJunk" not in row  # machinery, not a tag

    token = session_token(signed_in)
    response = signed_in.post(
        f"/mail/INBOX/{uid}/flags", data={"csrf_token": token, "flag": "$label1", "value": "1"}
    )
    assert response.status_code == 303
    assert b"$label1" in keywords(imap, uid)
    reader = signed_in.get(f"/mail/INBOX/{uid}").text
    assert 'class="tag tag-red" aria-pressed="true"' in reader
    signed_in.post(f"/mail/INBOX/{uid}/flags", data={"csrf_token": token, "flag": "$label2", "value": "0"})
    assert b"$label2" not in keywords(imap, uid)

    bulk = {"csrf_token": token, "action": "tag:$label4", "uid": [str(uid), str(other)]}
    assert "tagged To do" in flash_after(signed_in, signed_in.post("/mail/INBOX/bulk", data=bulk))
    assert b"$label4" in keywords(imap, uid)
    assert b"$label4" in keywords(imap, other)
    bulk["action"] = "untag:$label4"
    signed_in.post("/mail/INBOX/bulk", data=bulk)
    assert b"$label4" not in keywords(imap, other)

    # Only keyword atoms: nothing that could smuggle IMAP syntax or system flags.
    for bad in ("\\Deleted", "a b", "x)(", "$Junk"):
        response = signed_in.post(
            f"/mail/INBOX/{uid}/flags", data={"csrf_token": token, "flag": bad, "value": "1"}
        )
        assert response.status_code == 422
        assert 'data-field="flag"' in response.text
    assert b"\\deleted" not in keywords(imap, uid)


def test_bad_flag_input_is_a_form_error_naming_the_field(signed_in: TestClient, imap: IMAPClient) -> None:
    uid = put(imap, "Untouched")
    token = session_token(signed_in)
    posts = [
        ({"flag": "seen", "value": "yes"}, "value"),
        ({"flag": "gone-for-good!", "value": "1"}, "flag"),
        ({"value": "1"}, "flag"),  # a required field missing: 422 in words, not FastAPI's JSON
    ]
    for fields, field in posts:
        response = signed_in.post(f"/mail/INBOX/{uid}/flags", data={"csrf_token": token, **fields})
        assert response.status_code == 422, fields
        assert f'data-field="{field}"' in response.text
        assert "moved or deleted" not in response.text
        htmx = signed_in.post(
            f"/mail/INBOX/{uid}/flags", data={"csrf_token": token, **fields}, headers={"HX-Request": "true"}
        )
        assert (htmx.status_code, htmx.headers["HX-Retarget"]) == (422, "#flash"), fields
    assert keywords(imap, uid) == set()
