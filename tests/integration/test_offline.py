"""The installable app's routes (issue 23): the manifest, the service worker, and what the worker
asks the server for to keep a user's recent mail on the device."""

from __future__ import annotations

import re
import struct

import pytest
from fastapi.testclient import TestClient

from tests.conftest import LOCAL_CLIENT, MailUser, flash_of, make_settings, session_token, sign_in
from tests.e2e.test_offline import WITH_ATTACHMENT
from tests.e2e.test_reading import append
from webmail.app import create_app
from webmail.devservices import DevServices
from webmail.web.offline import SHELL_FILES, STATIC_DIR, static_version

pytestmark = pytest.mark.integration


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


class TestManifest:
    def test_installable_manifest_opens_at_the_inbox(self, client: TestClient) -> None:
        response = client.get("/manifest.webmanifest")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/manifest+json"
        manifest = response.json()
        assert manifest["start_url"] == "/mail/INBOX"
        assert manifest["scope"] == "/"
        assert manifest["display"] == "standalone"
        assert manifest["name"]
        assert manifest["short_name"]
        assert manifest["theme_color"]
        sizes = {}
        for icon in manifest["icons"]:
            image = client.get(icon["src"])
            assert image.status_code == 200
            assert image.headers["content-type"] == "image/png"
            assert f"{png_size(image.content)[0]}x{png_size(image.content)[1]}" == icon["sizes"]
            sizes[icon["purpose"], icon["sizes"]] = icon["src"]
        assert {("any", "192x192"), ("any", "512x512"), ("maskable", "512x512")} <= set(sizes)

    def test_pages_link_it_with_theme_colours_for_light_and_dark(self, client: TestClient) -> None:
        page = client.get("/login").text
        assert '<link rel="manifest" href="/manifest.webmanifest">' in page
        assert re.search(r'name="theme-color" media="\(prefers-color-scheme: light\)"', page)
        assert re.search(r'name="theme-color" media="\(prefers-color-scheme: dark\)"', page)

    def test_under_a_root_path_everything_stays_under_it(
        self, services: DevServices, database_url: str
    ) -> None:
        settings = make_settings(services, database_url, root_path="/webmail")
        with TestClient(create_app(settings), client=LOCAL_CLIENT) as client:
            manifest = client.get("/webmail/manifest.webmanifest").json()
            worker = client.get("/webmail/sw.js")
        assert manifest["start_url"] == "/webmail/mail/INBOX"
        assert manifest["scope"] == "/webmail/"
        assert all(icon["src"].startswith("/webmail/static/") for icon in manifest["icons"])
        assert worker.headers["service-worker-allowed"] == "/webmail/"


class TestServiceWorker:
    def test_served_at_the_root_as_javascript_and_never_from_the_http_cache(self, client: TestClient) -> None:
        response = client.get(f"/sw.js?v={static_version()}")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/javascript")
        assert response.headers["service-worker-allowed"] == "/"
        assert response.headers["cache-control"] == "no-cache"
        assert "self.SHELL_FILES = [" in response.text
        assert 'addEventListener("fetch"' in response.text

    def test_its_shell_files_exist_and_its_version_follows_them(self, client: TestClient) -> None:
        for name in SHELL_FILES:
            assert (STATIC_DIR / name).is_file(), name
        base = (STATIC_DIR.parent / "templates" / "base.html").read_text()
        loaded = set(re.findall(r"static_url\(request, '([^']+)'\)", base))
        assert loaded <= set(SHELL_FILES), "every file base.html loads starts the app offline"
        page = client.get("/login").text
        assert f'data-sw="/sw.js?v={static_version()}"' in page
        assert re.fullmatch(r"[0-9a-f]{12}", static_version())


class TestOfflineState:
    def test_signed_out_is_401_so_the_device_forgets(self, client: TestClient) -> None:
        response = client.get("/offline/state")
        assert response.status_code == 401
        assert response.json() == {"signed_in": False}

    def test_the_key_is_per_user_and_never_the_password(
        self, signed_in: TestClient, mail_user: MailUser, settings, services: DevServices
    ) -> None:
        state = signed_in.get("/offline/state").json()
        key = state["key"]
        assert re.fullmatch(r"[0-9a-f]{32}", key)
        assert mail_user.password not in key
        assert mail_user.username not in key
        assert state["enabled"] is True
        assert state["messages"] == 200
        assert state["folders"] == ["INBOX"]
        inbox = signed_in.get("/mail/INBOX")
        assert inbox.headers["x-offline-key"] == key
        assert f'data-offline-key="{key}"' in inbox.text
        other = MailUser(services.dovecot.new_user("pw-other-1"), "pw-other-1")
        with TestClient(create_app(settings), follow_redirects=False, client=LOCAL_CLIENT) as second:
            assert sign_in(second, other).status_code == 303
            assert second.get("/offline/state").json()["key"] != key

    def test_signed_out_pages_carry_no_key(self, client: TestClient) -> None:
        page = client.get("/login")
        assert "x-offline-key" not in page.headers
        assert "data-offline-key" not in page.text
        assert "data-offline-forget" in page.text

    def test_the_reading_settings_keep_more_fewer_or_nothing(self, signed_in: TestClient) -> None:
        token = session_token(signed_in)
        form = {
            "csrf_token": token,
            "offline_messages": "1500",
            "offline_size_mb": "100",
            "offline_attachment_kb": "0",
            "offline_folders": "Projects\r\nLists/Python\r\n",
        }
        assert signed_in.post("/settings/reading", data=form).status_code == 303
        state = signed_in.get("/offline/state").json()
        assert state["enabled"] is False  # the box was not ticked
        assert state["messages"] == 1500
        assert state["max_bytes"] == 100 * 1024 * 1024
        assert state["attachment_bytes"] == 0
        assert state["folders"] == ["INBOX", "Projects", "Lists/Python"]
        refused = signed_in.post("/settings/reading", data={**form, "offline_messages": "5000"})
        assert refused.status_code == 422
        assert "Messages kept" in refused.text


class TestOfflineMessages:
    def test_the_newest_messages_without_marking_them_read(
        self, signed_in: TestClient, services: DevServices, mail_user: MailUser
    ) -> None:
        raw = "From: Ann Lee <ann@example.org>\r\nSubject: Offline {n}\r\n\r\nText {n}\r\n"
        uids = [append(services, mail_user, raw.format(n=n).encode()) for n in range(3)]
        answer = signed_in.get("/offline/messages?folder=INBOX").json()
        assert answer["folder"] == "INBOX"
        assert answer["url"] == "/mail/INBOX"
        assert isinstance(answer["uidvalidity"], int)
        assert [m["uid"] for m in answer["messages"]] == uids[::-1]
        newest = answer["messages"][0]
        assert newest["from"] == "Ann Lee"
        assert newest["from_email"] == "ann@example.org"
        assert newest["subject"] == "Offline 2"
        assert "Text 2" in newest["preview"]
        assert "\\Seen" not in newest["flags"]
        body = signed_in.get(f"/mail/INBOX/{uids[-1]}/body?uv={answer['uidvalidity']}")
        assert body.status_code == 200
        assert "x-offline-key" in body.headers
        again = signed_in.get("/offline/messages?folder=INBOX").json()
        assert "\\Seen" not in again["messages"][0]["flags"]  # the worker's copy reads with PEEK

    def test_as_many_as_the_user_keeps_and_none_with_the_copy_off(
        self, signed_in: TestClient, services: DevServices, mail_user: MailUser
    ) -> None:
        for n in range(23):
            append(services, mail_user, f"Subject: Many {n}\r\n\r\nx\r\n".encode())
        token = session_token(signed_in)
        form = {"csrf_token": token, "offline_storage": "on", "offline_messages": "20",
                "offline_size_mb": "50", "offline_attachment_kb": "512"}  # fmt: skip
        assert signed_in.post("/settings/reading", data=form).status_code == 303
        answer = signed_in.get("/offline/messages?folder=INBOX").json()
        assert [m["subject"] for m in answer["messages"]] == [f"Many {n}" for n in range(22, 2, -1)]
        del form["offline_storage"]
        assert signed_in.post("/settings/reading", data=form).status_code == 303
        assert signed_in.get("/offline/messages?folder=INBOX").json()["messages"] == []
        inbox = signed_in.get("/mail/INBOX")
        assert "x-offline-key" not in inbox.headers
        assert "data-offline-key" not in inbox.text
        assert "data-offline-forget" in inbox.text  # what the device kept goes too

    def test_small_attachments_come_along_up_to_the_chosen_size(
        self, signed_in: TestClient, services: DevServices, mail_user: MailUser
    ) -> None:
        uid = append(services, mail_user, WITH_ATTACHMENT)
        found = signed_in.get(f"/offline/attachments?folder=INBOX&uid={uid}").json()["attachments"]
        assert [(a["name"], a["type"]) for a in found] == [("packing.txt", "text/plain")]
        part = signed_in.get(f"/mail/INBOX/{uid}/part/{found[0]['section']}")
        assert b"Packing list" in part.content
        form = {"csrf_token": session_token(signed_in), "offline_storage": "on", "offline_messages": "200",
                "offline_size_mb": "50", "offline_attachment_kb": "0"}  # fmt: skip
        assert signed_in.post("/settings/reading", data=form).status_code == 303
        assert signed_in.get(f"/offline/attachments?folder=INBOX&uid={uid}").json()["attachments"] == []
        assert signed_in.get("/offline/attachments?folder=INBOX&uid=x").status_code == 422

    def test_a_folder_that_is_gone_is_404(self, signed_in: TestClient) -> None:
        assert signed_in.get("/offline/messages?folder=Nowhere").status_code == 404

    def test_signed_out_gives_nothing(self, client: TestClient) -> None:
        response = client.get("/offline/messages?folder=INBOX")
        assert response.status_code in (401, 303)


def test_the_workers_copy_of_a_page_leaves_its_message_for_the_person(
    signed_in: TestClient, services: DevServices, mail_user: MailUser
) -> None:
    uid = append(services, mail_user, b"From: a@example.org\r\nSubject: Tidy\r\n\r\nx\r\n")
    moved = signed_in.post(f"/mail/INBOX/{uid}/archive", data={"csrf_token": session_token(signed_in)})
    assert moved.status_code == 303
    copy = signed_in.get(moved.headers["location"], headers={"X-Offline-Copy": "1"})
    assert copy.status_code == 200
    assert flash_of(copy.text) == ""
    assert flash_of(signed_in.get(moved.headers["location"]).text).startswith("Archived")
