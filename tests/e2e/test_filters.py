"""A filter built from a message in the browser, reordered by drag and drop, switched off."""

from __future__ import annotations

from imapclient import IMAPClient
from playwright.sync_api import Page, expect

from tests.conftest import MailUser
from tests.e2e.conftest import sign_in
from webmail.devservices import DevServices
from webmail.sieve.client import ManageSieveClient


def active_script(services: DevServices, user: MailUser) -> str:
    with ManageSieveClient.connect(
        "127.0.0.1", services.dovecot.sieve_port, security="none", timeout=10
    ) as client:
        client.authenticate(user.username, user.password)
        return client.get_script("webmail")


def test_build_a_rule_from_a_message_reorder_and_disable(
    page: Page, live_server: str, services: DevServices, mail_user: MailUser
) -> None:
    imap = IMAPClient("127.0.0.1", services.dovecot.imap_port, ssl=False)
    imap.login(mail_user.username, mail_user.password)
    for n in (1, 2):
        imap.append("INBOX", f"From: News <news@example.org>\r\nSubject: Weekly {n}\r\nMessage-ID: <w{n}@x>\r\n"
                             "List-Id: Weekly <weekly.example.org>\r\n\r\nbody\r\n".encode())  # fmt: skip
    imap.append("INBOX", b"From: ann@example.org\r\nSubject: Lunch\r\nMessage-ID: <l@x>\r\n\r\nbody\r\n")
    imap.logout()
    sign_in(page, live_server, mail_user)

    page.locator(".row-link", has_text="Weekly 2").click()
    page.locator("#reader .more-menu > summary").click()  # the reader's ⋯ menu (issue 14)
    page.get_by_role("link", name="Filter messages like this").click()
    expect(page.get_by_label("Condition 1: value")).to_have_value("weekly.example.org")
    page.get_by_label("Action 1", exact=True).select_option("fileinto")
    page.get_by_label("Action 1: folder, tag, address or text").fill("Archive")
    page.get_by_role("button", name="Try on INBOX").click()
    expect(page.locator("#rule-test")).to_have_text("Would match 2 of the last 3 messages in INBOX.")
    page.get_by_label("Name").fill("Weekly news")
    page.get_by_role("button", name="Save filter").click()
    expect(page.get_by_role("status")).to_have_text("Filter saved.")

    page.get_by_label("Condition 1: value").fill("ann@")
    page.get_by_label("Action 1", exact=True).select_option("seen")
    page.get_by_label("Name").fill("Ann")
    page.get_by_role("button", name="Save filter").click()
    rules = page.locator("#filter-rules li.filter-rule")
    expect(rules.locator(".filter-name")).to_have_text(["Weekly news", "Ann"])

    with page.expect_response("**/settings/filters/order") as posted:
        rules.nth(1).drag_to(rules.nth(0), target_position={"x": 20, "y": 2})
    assert posted.value.status == 200
    expect(rules.locator(".filter-name")).to_have_text(["Ann", "Weekly news"])
    page.reload()
    expect(rules.locator(".filter-name")).to_have_text(["Ann", "Weekly news"])

    rules.nth(1).get_by_role("button", name="Turn off").click()
    expect(rules.nth(1)).to_contain_text("(off)")
    expect(rules.nth(1).get_by_role("button", name="Turn on")).to_be_visible()
    script = active_script(services, mail_user)
    assert script.index("# Ann") < script.index("# Weekly news")
    assert 'if allof (false, header :contains "List-Id" "weekly.example.org")' in script
