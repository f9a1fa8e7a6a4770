from __future__ import annotations

import hashlib
import io
import re
import zipfile
from collections.abc import Iterator
from email.message import EmailMessage
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, quote, urlencode

import pytest
from fastapi.testclient import TestClient
from imapclient import IMAPClient

from tests.conftest import IMAPServer, MailUser, session_token
from tests.integration.test_organize import made
from webmail.devservices.seed import DemoMailbox, tiny_png
from webmail.imap import metrics

CORPUS = Path(__file__).parent.parent / "corpus"


@pytest.fixture
def imap(imap_server: IMAPServer, mail_user: MailUser) -> Iterator[IMAPClient]:
    client = IMAPClient("127.0.0.1", imap_server.dovecot.imap_port, ssl=False)
    client.login(mail_user.username, mail_user.password)
    yield client
    client.logout()


def append(imap: IMAPClient, raw: bytes, folder: str = "INBOX", flags: tuple[bytes, ...] = ()) -> int:
    response = imap.append(folder, raw, flags=flags)
    match = re.search(rb"APPENDUID \d+ (\d+)", response)
    assert match, response
    return int(match.group(1))


def subscribed(imap: IMAPClient, folder: str) -> str:
    """``folder``, created and subscribed, as the folder list shows it."""
    imap.create_folder(folder)
    imap.subscribe_folder(folder)
    return folder


def corpus(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def body_of(client: TestClient, uid: int, folder: str = "INBOX", query: str = "") -> str:
    response = client.get(f"/mail/{folder}/{uid}/body{query}")
    assert response.status_code == 200, response.text
    return response.text


def imap_hops() -> float:
    """How many times a request checked out an IMAP connection and ran work on it."""
    return sum(
        sample.value
        for family in metrics.IMAP_LATENCY.collect()
        for sample in family.samples
        if sample.name.endswith("_count")
    )


def plain_message(subject: str, body: str = "hello", size_pad: int = 0) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Sender <sender@example.org>"
    msg["To"] = "me@example.test"
    msg["Subject"] = subject
    msg.set_content(body + "x" * size_pad)
    return bytes(msg)


class TestCorpus:
    @pytest.mark.parametrize("name", sorted(p.name for p in CORPUS.glob("*.eml")))
    def test_every_file_renders_without_error(
        self, signed_in: TestClient, imap: IMAPClient, name: str
    ) -> None:
        uid = append(imap, corpus(name))
        page = signed_in.get(f"/mail/INBOX/{uid}")
        assert page.status_code == 200, page.text[:2000]
        assert "Traceback" not in page.text
        assert signed_in.get(f"/mail/INBOX/{uid}/body").status_code == 200
        assert signed_in.get("/mail/INBOX").status_code == 200
        assert signed_in.get(f"/mail/INBOX/{uid}/source").status_code == 200

    def test_enormous_line_is_cut_not_fatal(self, signed_in: TestClient, imap: IMAPClient) -> None:
        raw = (
            b"From: a@example.org\r\nSubject: huge\r\nContent-Type: text/plain\r\n\r\n"
            + b"x" * 3_000_000
            + b"\r\n"
        )
        uid = append(imap, raw)
        page = signed_in.get(f"/mail/INBOX/{uid}")
        assert page.status_code == 200
        assert len(page.content) < 500_000
        assert "only its beginning is shown" in page.text

    def test_unknown_charset_is_detected(self, signed_in: TestClient, imap: IMAPClient) -> None:
        page = signed_in.get(f"/mail/INBOX/{append(imap, corpus('unknown-charset.eml'))}").text
        assert "Grüße aus Köln" in page
        assert "Unknown character set" in page

    def test_wrong_charset_falls_back(self, signed_in: TestClient, imap: IMAPClient) -> None:
        page = signed_in.get(f"/mail/INBOX/{append(imap, corpus('wrong-charset.eml'))}").text
        assert "Grüße aus Köln" in page
        assert "not valid utf-8" in page

    def test_latin1_without_charset(self, signed_in: TestClient, imap: IMAPClient) -> None:
        page = signed_in.get(f"/mail/INBOX/{append(imap, corpus('latin1-no-charset.eml'))}").text
        assert "Años, niño, façade" in page

    def test_broken_base64_shows_what_it_can(self, signed_in: TestClient, imap: IMAPClient) -> None:
        page = signed_in.get(f"/mail/INBOX/{append(imap, corpus('broken-base64.eml'))}").text
        assert "Das ist ein gültiger Anfang." in page
        assert "damaged" in page

    def test_encoded_and_raw_8bit_headers(self, signed_in: TestClient, imap: IMAPClient) -> None:
        page = signed_in.get(f"/mail/INBOX/{append(imap, corpus('rfc2047-everywhere.eml'))}").text
        assert "会議の議事録 und Grüße" in page
        assert "Chloé Dubois" in page
        raw8 = signed_in.get(f"/mail/INBOX/{append(imap, corpus('8bit-headers.eml'))}").text
        assert "Jürgen Müller" in raw8
        assert "Grüße ohne Kodierung" in raw8

    def test_missing_headers(self, signed_in: TestClient, imap: IMAPClient) -> None:
        page = signed_in.get(f"/mail/INBOX/{append(imap, corpus('missing-headers.eml'))}").text
        assert "(no subject)" in page
        # Issue 14: the arrival date (INTERNALDATE) stands in for the missing Date header.
        assert "(no date)" not in page
        assert "(when it arrived; the message has no date)" in page
        assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT[^"]+" title="[^"]+">[^<]+</time>', page)

    def test_flowed_text_is_joined_and_quotes_fold(self, signed_in: TestClient, imap: IMAPClient) -> None:
        page = signed_in.get(f"/mail/INBOX/{append(imap, corpus('flowed.eml'))}").text
        assert "This paragraph was written with soft breaks." in page
        assert '<details class="quote">' in page
        assert '<div class="signature">' in page

    def test_nested_message_is_rendered(self, signed_in: TestClient, imap: IMAPClient) -> None:
        uid = append(imap, corpus("nested-rfc822.eml"))
        body = body_of(signed_in, uid)
        assert "See below." in body
        assert "I am the original message." in body
        assert "the forwarded one" in body

    def test_forwarded_multipart_message_is_rendered(self, signed_in: TestClient, imap: IMAPClient) -> None:
        # imapclient hands the parts inside a message/rfc822 over as leading tuples, not a list.
        body = body_of(signed_in, append(imap, corpus("nested-multipart-rfc822.eml")))
        assert "Have a look at this one." in body
        assert "the newsletter" in body
        assert "<p>The <b>rich</b> edition of the newsletter.</p>" in body
        assert "<script" not in body.split("</head>", 1)[-1]


class TestHostileHTML:
    def test_scripts_handlers_forms_and_htmx_are_removed(
        self, signed_in: TestClient, imap: IMAPClient
    ) -> None:
        uid = append(imap, corpus("xss-vectors.eml"))
        response = signed_in.get(f"/mail/INBOX/{uid}/body")
        body = response.text.split("<body>", 1)[1].lower()
        for needle in ("<script", "onerror", "onload", "javascript:", "<form", "<iframe", "<object", "<embed",
                       "hx-get", "url(", "expression(", "<meta", "<base", "evil.example"):  # fmt: skip
            assert needle not in body, needle
        assert "visible safe text" in body
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp
        assert "script-src" not in csp
        assert "frame-ancestors 'self'" in csp

    def test_reader_frame_is_sandboxed_without_scripts(self, signed_in: TestClient, imap: IMAPClient) -> None:
        uid = append(imap, corpus("xss-vectors.eml"))
        page = signed_in.get(f"/mail/INBOX/{uid}").text
        sandbox = re.search(r'<iframe class="mail-body"[^>]*sandbox="([^"]*)"', page)
        assert sandbox
        assert "allow-scripts" not in sandbox.group(1)

    def test_remote_images_blocked_until_allowed(self, signed_in: TestClient, imap: IMAPClient) -> None:
        uid = append(imap, corpus("remote-images.eml"))
        page = signed_in.get(f"/mail/INBOX/{uid}").text
        assert "Remote images were blocked" in page
        assert "tracking pixel" in page
        assert "tracker.example" in page
        blocked = signed_in.get(f"/mail/INBOX/{uid}/body")
        assert "127.0.0.1:9" not in blocked.text
        assert "http:" not in blocked.headers["content-security-policy"]
        allowed = signed_in.get(f"/mail/INBOX/{uid}/body?remote=1")
        assert 'src="http://127.0.0.1:9/banner.png"' in allowed.text
        assert "http:" in allowed.headers["content-security-policy"]

    def test_always_allow_sender(self, signed_in: TestClient, imap: IMAPClient) -> None:
        uid = append(imap, corpus("remote-images.eml"))
        token = session_token(signed_in)
        response = signed_in.post(f"/mail/INBOX/{uid}/remote-senders", data={"csrf_token": token})
        assert response.status_code == 303
        page = signed_in.get(f"/mail/INBOX/{uid}").text
        assert "Remote images were blocked" not in page
        second = append(imap, corpus("remote-images.eml"))
        assert 'src="http://127.0.0.1:9/banner.png"' in body_of(signed_in, second)

    def test_cid_image_served_by_the_app(self, signed_in: TestClient, imap: IMAPClient) -> None:
        uid = append(imap, corpus("alt-with-cid.eml"))
        body = body_of(signed_in, uid)
        match = re.search(r'<img src="(/mail/INBOX/\d+/part/[\d.]+\?inline=1)"', body)
        assert match, body
        image = signed_in.get(match.group(1))
        assert image.status_code == 200
        assert image.content.startswith(b"\x89PNG")
        assert image.headers["content-type"] == "image/png"
        page = signed_in.get(f"/mail/INBOX/{uid}").text
        assert 'class="attachments"' not in page  # the inline image is not listed again
        assert "Show plain text" in page
        plain = signed_in.get(f"/mail/INBOX/{uid}?plain=1").text
        assert "Plain version." in plain


class TestAttachments:
    def test_rfc2231_name_and_exact_bytes(self, signed_in: TestClient, imap: IMAPClient) -> None:
        uid = append(imap, corpus("rfc2231-filename.eml"))
        page = signed_in.get(f"/mail/INBOX/{uid}").text
        assert "Übersicht März.csv" in page
        response = signed_in.get(f"/mail/INBOX/{uid}/part/2")
        assert response.content == b"name,amount\r\nAnna,12\r\n"
        disposition = response.headers["content-disposition"]
        assert disposition.startswith("attachment;")
        assert "filename*=UTF-8''%C3%9Cbersicht%20M%C3%A4rz.csv" in disposition
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["content-type"] == "application/octet-stream"

    def test_huge_attachment_streams_intact(self, signed_in: TestClient, imap: IMAPClient) -> None:
        payload = bytes(range(256)) * (30 * 1024 * 1024 // 256)  # 30 MB
        msg = EmailMessage()
        msg["From"], msg["Subject"] = "big@example.org", "30 MB"
        msg.set_content("see attachment")
        msg.add_attachment(payload, "application", "octet-stream", filename="big.bin")
        uid = append(imap, bytes(msg))
        page = signed_in.get(f"/mail/INBOX/{uid}")
        assert "big.bin" in page.text
        assert "30 MB" in page.text
        with signed_in.stream("GET", f"/mail/INBOX/{uid}/part/2") as response:
            digest = hashlib.sha256()
            chunks = 0
            for chunk in response.iter_bytes():
                digest.update(chunk)
                chunks += 1
        assert digest.hexdigest() == hashlib.sha256(payload).hexdigest()
        assert chunks > 1

    def test_download_all_as_zip(self, signed_in: TestClient, imap: IMAPClient) -> None:
        msg = EmailMessage()
        msg["From"], msg["Subject"] = "a@example.org", "two files"
        msg.set_content("files")
        msg.add_attachment(tiny_png((1, 2, 3)), "image", "png", filename="a.png")
        msg.add_attachment(b"%PDF-1.4 fake", "application", "pdf", filename="a.png")
        uid = append(imap, bytes(msg))
        response = signed_in.get(f"/mail/INBOX/{uid}/attachments.zip")
        assert response.status_code == 200
        archive = zipfile.ZipFile(io.BytesIO(response.content))
        assert sorted(archive.namelist()) == ["a (1).png", "a.png"]
        assert archive.read("a.png") == tiny_png((1, 2, 3))

    def test_inline_preview_types(self, signed_in: TestClient, imap: IMAPClient) -> None:
        msg = EmailMessage()
        msg["From"], msg["Subject"] = "a@example.org", "preview"
        msg.set_content("files")
        msg.add_attachment(b"<script>alert(1)</script>", "text", "html", filename="evil.html")
        msg.add_attachment(b"just text", "text", "plain", filename="notes.txt")
        uid = append(imap, bytes(msg))
        html = signed_in.get(f"/mail/INBOX/{uid}/part/2?inline=1")
        assert html.headers["content-type"] == "application/octet-stream"  # never rendered as HTML
        text = signed_in.get(f"/mail/INBOX/{uid}/part/3?inline=1")
        assert text.headers["content-type"].startswith("text/plain")
        assert "sandbox" in text.headers["content-security-policy"]

    def test_raw_and_source(self, signed_in: TestClient, imap: IMAPClient) -> None:
        raw = corpus("xss-vectors.eml")
        uid = append(imap, raw)
        response = signed_in.get(f"/mail/INBOX/{uid}/raw")
        assert response.content == raw
        assert response.headers["content-type"].startswith("message/rfc822")
        assert f"message-{uid}.eml" in response.headers["content-disposition"]
        source = signed_in.get(f"/mail/INBOX/{uid}/source").text
        assert "&lt;script&gt;" in source
        assert "<script>window" not in source


@pytest.mark.both_servers
class TestMessageList:
    def fill(self, imap: IMAPClient, count: int) -> list[int]:
        return [
            append(
                imap, plain_message(f"Message {i:03d}", size_pad=i * 10), flags=(b"\\Seen",) if i % 3 else ()
            )
            for i in range(count)
        ]

    def subjects(self, html: str) -> list[str]:
        return re.findall(
            r'<span class="subject"[^>]*>(?:<span class="answered"[^>]*>↩</span> )?(Message \d+)', html
        )

    def test_paging_and_total(self, signed_in: TestClient, imap: IMAPClient) -> None:
        self.fill(imap, 45)
        signed_in.post("/settings", data={"csrf_token": session_token(signed_in), "page_size": "20",
                                          "mark_seen": "immediately", "mark_seen_delay_seconds": "5", "prefer_html": "on"})  # fmt: skip
        first = signed_in.get("/mail/INBOX").text
        assert self.subjects(first)[:2] == ["Message 044", "Message 043"]
        assert len(self.subjects(first)) == 20
        assert "1–20 of 45" in first
        third = signed_in.get("/mail/INBOX?page=3").text
        assert self.subjects(third) == [
            "Message 004",
            "Message 003",
            "Message 002",
            "Message 001",
            "Message 000",
        ]
        assert "41–45 of 45" in third
        assert 'aria-current="page">3<' in third

    def test_rows_carry_data_uid(self, signed_in: TestClient, imap: IMAPClient) -> None:
        uids = self.fill(imap, 3)
        html = signed_in.get("/mail/INBOX").text
        assert [int(u) for u in re.findall(r'<li class="[^"]*"\s+data-uid="(\d+)"', html)] == uids[::-1]

    @pytest.mark.parametrize(
        ("sort", "expected"),
        [
            ("subject", ["Message 000", "Message 001", "Message 002", "Message 003"]),
            ("-subject", ["Message 003", "Message 002", "Message 001", "Message 000"]),
            ("size", ["Message 000", "Message 001", "Message 002", "Message 003"]),
            ("-size", ["Message 003", "Message 002", "Message 001", "Message 000"]),
            ("arrival", ["Message 000", "Message 001", "Message 002", "Message 003"]),
        ],
    )
    def test_sorting(self, signed_in: TestClient, imap: IMAPClient, sort: str, expected: list[str]) -> None:
        self.fill(imap, 4)
        assert self.subjects(signed_in.get(f"/mail/INBOX?sort={sort}").text) == expected

    def test_unread_rows_are_marked(self, signed_in: TestClient, imap: IMAPClient) -> None:
        uids = self.fill(imap, 3)
        html = signed_in.get("/mail/INBOX").text
        assert re.search(rf'class="msg unseen"\s+data-uid="{uids[0]}"', html)
        assert re.search(rf'class="msg"\s+data-uid="{uids[1]}"', html)

    def test_sent_folder_shows_recipients(
        self, signed_in: TestClient, imap: IMAPClient, imap_server: IMAPServer
    ) -> None:
        append(imap, plain_message("Report"), folder=made(imap, imap_server.folder("Sent")))
        html = signed_in.get(f"/mail/{imap_server.folder('Sent')}").text
        assert "To: me@example.test" in html

    def test_htmx_list_partial(self, signed_in: TestClient, imap: IMAPClient) -> None:
        self.fill(imap, 2)
        response = signed_in.get(
            "/mail/INBOX?page=1", headers={"HX-Request": "true", "HX-Target": "message-list"}
        )
        assert "<html" not in response.text
        assert 'class="messages"' in response.text
        assert response.headers["vary"] == "HX-Request"

    def test_conversations_group_a_thread(self, signed_in: TestClient, imap: IMAPClient) -> None:
        mailbox = DemoMailbox(("Me", "me@example.test"), seed=3)
        thread = mailbox.thread()
        for message in thread:
            append(imap, message.raw)
        append(imap, plain_message("Lonely"))
        html = signed_in.get("/mail/INBOX?view=threads").text
        # One row per conversation (issue 14): its box selects every message of the thread.
        groups = re.findall(
            r'<li class="msg thread[^"]*"\s+data-uid="\d+" data-thread="\d+" data-uids="([\d,]+)".*?</li>',
            html,
            re.S,
        )
        assert len(groups) == 1
        assert len(groups[0].split(",")) == len(thread)
        row = html.split(f'data-uids="{groups[0]}"', 1)[1].split("</li>", 1)[0]
        assert f'name="uid" value="{groups[0]}"' in row
        assert f"{len(thread)} messages" in row
        assert "Lonely" in html

    def test_local_thread_and_sort_fallbacks_match_the_server(
        self, signed_in: TestClient, imap: IMAPClient, mail_user: MailUser
    ) -> None:
        from webmail.imap import messages

        mailbox = DemoMailbox(("Me", "me@example.test"), seed=4)
        for message in [*mailbox.thread(), *mailbox.thread(), mailbox.plain(), mailbox.plain()]:
            append(imap, message.raw)
        imap.select_folder("INBOX")
        server = sorted(sorted(uid for uid, _ in messages.flatten_thread(t)) for t in imap.thread())
        local = sorted(sorted(uid for uid, _ in tree) for tree in messages.local_threads(imap))
        assert server == local
        for sort in ("size", "subject", "from"):
            assert messages._local_sort(imap, sort, False) == [int(u) for u in imap.sort([sort.upper()])], (
                sort
            )

    def test_empty_folder(self, signed_in: TestClient, imap: IMAPClient, imap_server: IMAPServer) -> None:
        html = signed_in.get(f"/mail/{made(imap, imap_server.folder('Archive'))}").text
        assert "This folder is empty." in html


@pytest.mark.both_servers
class TestOpening:
    def test_open_marks_seen_and_updates_counts(self, signed_in: TestClient, imap: IMAPClient) -> None:
        uid = append(imap, plain_message("Unread one"))
        before = signed_in.get("/mail/INBOX").text
        assert 'title="1 unread"' in before
        page = signed_in.get(f"/mail/INBOX/{uid}", headers={"HX-Request": "true", "HX-Target": "reader"})
        assert page.status_code == 200
        assert "<html" not in page.text
        # The row and the folder counts follow.
        assert '<ul id="folder-tree" hx-swap-oob="true">' in page.text
        imap.select_folder("INBOX")
        assert b"\\Seen" in imap.get_flags([uid])[uid]
        assert 'title="1 unread"' not in signed_in.get("/mail/INBOX").text

    def test_a_click_in_the_list_is_one_imap_hop(self, signed_in: TestClient, imap: IMAPClient) -> None:
        """The list's link carries the UIDVALIDITY: the message, marking it read and the new
        counts come in one checkout of a connection (they were three)."""
        uid = append(imap, plain_message("One hop"))
        link = re.search(rf'href="(/mail/INBOX/{uid}\?uv=\d+)"', signed_in.get("/mail/INBOX").text)
        assert link
        before = imap_hops()
        page = signed_in.get(link.group(1), headers={"HX-Request": "true", "HX-Target": "reader"})
        assert page.status_code == 200
        assert imap_hops() == before + 1
        assert "One hop" in page.text
        assert 'title="1 unread"' not in page.text  # the folder pane's counts, out of band
        imap.select_folder("INBOX")
        assert b"\\Seen" in imap.get_flags([uid])[uid]
        again = signed_in.get(link.group(1), headers={"HX-Request": "true", "HX-Target": "reader"})
        assert "One hop" in again.text
        assert imap_hops() == before + 2  # the rendering was cached: flags and counts only

    def test_a_numbered_folder_behind_a_message_link_marks_nothing(
        self, signed_in: TestClient, imap: IMAPClient, imap_server: IMAPServer
    ) -> None:
        parent = imap_server.folder("Numbers")
        imap.create_folder(parent)
        uid = append(imap, plain_message("Unread in Numbers"), folder=parent)
        numbered = f"{parent}/{uid}"  # the name the link's path makes, whatever the server's separator
        if imap.list_folders("", "")[0][1] != b"/":
            # A server with another separator refuses "/" in a name: there the link is a message's.
            with pytest.raises(IMAPClient.Error, match="'/'"):
                imap.create_folder(numbered)
            return
        subscribed(imap, numbered)
        uidvalidity = int(imap.select_folder(parent)[b"UIDVALIDITY"])
        response = signed_in.get(f"/mail/{parent}/{uid}?uv={uidvalidity}")
        assert response.status_code == 200
        assert 'class="messages"' in response.text or "This folder is empty" in response.text
        imap.select_folder(parent)
        assert b"\\Seen" not in imap.get_flags([uid])[uid]

    def test_never_mark_seen_setting(self, signed_in: TestClient, imap: IMAPClient) -> None:
        signed_in.post("/settings", data={"csrf_token": session_token(signed_in), "page_size": "50",
                                          "mark_seen": "never", "mark_seen_delay_seconds": "5"})  # fmt: skip
        uid = append(imap, plain_message("Stay unread"))
        signed_in.get(f"/mail/INBOX/{uid}")
        imap.select_folder("INBOX")
        assert b"\\Seen" not in imap.get_flags([uid])[uid]

    def test_toggle_flags(self, signed_in: TestClient, imap: IMAPClient) -> None:
        uid = append(imap, plain_message("Star me"))
        token = session_token(signed_in)
        response = signed_in.post(
            f"/mail/INBOX/{uid}/flags",
            data={"flag": "flagged", "value": "1"},
            headers={"HX-Request": "true", "X-CSRF-Token": token},
        )
        assert response.status_code == 200
        # The row comes out of band, found by its data-uid (issue 16: lean rows carry no id).
        assert f"hx-swap-oob=\"outerHTML:#message-list li[data-uid='{uid}']\"" in response.text
        # The list's star is drawn by the style sheet and named by its title (issue 16: lean rows).
        row = response.text.split(f'data-uid="{uid}"', 1)[1].split("</li>", 1)[0]
        assert re.search(r'class="star" title="Remove the star" aria-pressed="true"', row)
        imap.select_folder("INBOX")
        assert b"\\Flagged" in imap.get_flags([uid])[uid]
        plain = signed_in.post(
            f"/mail/INBOX/{uid}/flags", data={"flag": "seen", "value": "0", "csrf_token": token}
        )
        assert plain.status_code == 303
        assert b"\\Seen" not in imap.get_flags([uid])[uid]

    def test_prev_next(self, signed_in: TestClient, imap: IMAPClient) -> None:
        uids = [append(imap, plain_message(f"n{i}")) for i in range(3)]
        # Newest first: "next" goes to the older message.
        response = signed_in.get(f"/mail/INBOX/{uids[1]}/next")
        assert response.headers["location"] == f"/mail/INBOX/{uids[0]}"
        response = signed_in.get(f"/mail/INBOX/{uids[1]}/prev")
        assert response.headers["location"] == f"/mail/INBOX/{uids[2]}"
        response = signed_in.get(f"/mail/INBOX/{uids[0]}/next?sort=subject")
        assert response.headers["location"] == f"/mail/INBOX/{uids[1]}?sort=subject"

    def test_gone_message_is_404_with_words(self, signed_in: TestClient, imap: IMAPClient) -> None:
        uid = append(imap, plain_message("soon gone"))
        imap.select_folder("INBOX")
        imap.delete_messages([uid])
        imap.expunge()
        response = signed_in.get(f"/mail/INBOX/{uid}")
        assert response.status_code == 404
        assert "This message was moved or deleted" in response.text
        assert 'href="/mail/INBOX"' in response.text
        assert signed_in.get(f"/mail/INBOX/{uid}/part/1").status_code == 404

    def test_uidvalidity_change_reloads_the_list(self, signed_in: TestClient, imap: IMAPClient) -> None:
        uid = append(imap, plain_message("Numbered"))
        html = signed_in.get("/mail/INBOX").text
        uidvalidity = int(imap.select_folder("INBOX")[b"UIDVALIDITY"])
        assert f"/mail/INBOX/{uid}?uv={uidvalidity}" in html
        assert signed_in.get(f"/mail/INBOX/{uid}?uv={uidvalidity}").status_code == 200
        stale = signed_in.get(f"/mail/INBOX/{uid}?uv={uidvalidity - 1}")
        assert stale.status_code == 303
        assert stale.headers["location"] == "/mail/INBOX?changed=1"
        assert "the list has been reloaded" in signed_in.get("/mail/INBOX?changed=1").text

    def test_the_reply_and_forward_links_carry_the_folder_name_as_it_is(
        self, signed_in: TestClient, imap: IMAPClient, imap_server: IMAPServer
    ) -> None:
        folder = subscribed(imap, imap_server.folder("Q&A #1 + more"))
        uid = append(imap, plain_message("Odd folder"), folder=folder)
        reader = signed_in.get(f"/mail/{quote(folder, safe='/')}/{uid}")
        assert reader.status_code == 200
        links = [parse_qs(unescape(query)) for query in re.findall(r'href="/compose\?([^"]+)"', reader.text)]
        assert len(links) == 5  # reply, reply all, forward, forward as attachment, edit as new
        assert all(
            value == [f"{folder}/{uid}"] for link in links for key, value in link.items() if key != "as"
        )
        assert "Re: Odd folder" in signed_in.get(f"/compose?{urlencode({'reply': f'{folder}/{uid}'})}").text

    def test_folder_with_numeric_name_is_a_folder(
        self, signed_in: TestClient, imap: IMAPClient, imap_server: IMAPServer
    ) -> None:
        year = subscribed(imap, imap_server.folder("Archive/2024"))
        append(imap, plain_message("Old"), folder=year)
        response = signed_in.get(f"/mail/{year}")
        assert response.status_code == 200
        assert "Old" in response.text
        assert 'class="messages"' in response.text
