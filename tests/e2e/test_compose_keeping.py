from __future__ import annotations

import os
from email import message_from_bytes, policy
from pathlib import Path

from imapclient import IMAPClient
from playwright.sync_api import Page, expect

from tests.conftest import MailUser
from tests.e2e.conftest import sign_in
from webmail.devservices import DevServices


def test_write_attach_autosave_reload_restore_send(
    page: Page, live_server: str, services: DevServices, mail_user: MailUser, tmp_path: Path
) -> None:
    friend = MailUser(services.dovecot.new_user("pw-keep"), "pw-keep")
    data = os.urandom(3 * 1024 * 1024)
    (tmp_path / "figures.bin").write_bytes(data)
    page.add_init_script("""
        window.__bars = 0;
        new MutationObserver(() => { window.__bars += document.querySelectorAll('#upload-progress progress').length; })
          .observe(document, {subtree: true, childList: true});
    """)
    sign_in(page, live_server, mail_user)
    page.goto(f"{live_server}/compose")
    page.locator("#to").fill(friend.username)
    page.locator("#subject").fill("Numbers for Friday")
    page.locator("#body").fill("Hello, the figures are attached.")
    page.locator("#attachments").set_input_files(str(tmp_path / "figures.bin"))
    expect(page.locator("#attachment-list")).to_contain_text("figures.bin")
    assert page.evaluate("window.__bars") > 0  # a progress bar was shown while it uploaded

    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("#draft-status")).to_contain_text("Draft saved", timeout=20_000)
    imap = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    imap.login(mail_user.username, mail_user.password)
    imap.select_folder("Drafts")
    assert len(imap.search(["SUBJECT", "Numbers for Friday"])) == 1

    page.locator("#body").press("End")
    page.locator("#body").type(" One more line typed after the save.")
    # The browser's copy is kept within a second of typing.
    page.wait_for_function(
        "() => Object.keys(localStorage).some(k => k.startsWith('wm-draft:')"
        " && localStorage.getItem(k).includes('typed after the save'))"
    )
    page.reload()  # as if the tab had been closed and opened again
    expect(page.locator("#restore-offer")).to_be_visible()
    page.get_by_role("button", name="Restore it").click()
    expect(page.locator("#body")).to_have_value(
        "Hello, the figures are attached. One more line typed after the save."
    )
    expect(page.locator('input[name="to"]')).to_have_value(friend.username)
    expect(page.locator(".chip")).to_have_text(friend.username)
    expect(page.locator("#attachment-list")).to_contain_text("figures.bin")

    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator(".toast")).to_contain_text("Message sent.")
    imap.select_folder("Drafts")
    assert imap.search(["SUBJECT", "Numbers for Friday"]) == []  # the draft went when it was sent
    imap.logout()

    other = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    other.login(friend.username, friend.password)
    other.select_folder("INBOX")
    raw = next(iter(other.fetch(other.search(["ALL"]), ["BODY.PEEK[]"]).values()))[b"BODY[]"]
    other.logout()
    message = message_from_bytes(raw, policy=policy.default)
    assert "One more line typed after the save." in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    attachment = next(message.iter_attachments())  # type: ignore[attr-defined]
    assert attachment.get_payload(decode=True) == data

    page.goto(f"{live_server}/compose")
    expect(page.locator("#restore-offer")).to_be_hidden()  # nothing unsent is offered any more
