"""Inviting an existing customer in a real browser, in both languages: ra-sales sends the invitation from the
customer list; the customer opens the link (found in /dev/outbox/ by the partner's admin) on a phone-sized
screen, sees the partner and what the association means, gives its account name, ticks the notices and
agrees with the code it was sent; the outbox associates the account and the page updates by itself; ra-sales
sees the invitation associated and the customer in the list."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from conftest import PASSWORD, shot, sign_in
from customers.invitations import Invitation
from upstream import outbox as upstream_outbox
from upstream.client import UpstreamClient
from upstream.outbox import drain

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TEXT = {
    "en": {"associated": "Associated", "resale": "Resale"},
    "zh-hans": {"associated": "已关联", "resale": "代售"},
}


def _outbox_match(root_page, pattern: str) -> str:
    """The newest match of `pattern` in the demo outbox, as the partner's admin reads it there."""
    root_page.goto("/dev/outbox/")
    body = root_page.locator("#outbox-table tbody").inner_text()
    return re.search(pattern, body).group(1)


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_ra_sales_invites_and_the_customer_agrees_on_a_phone(
    browser, live_server, page, private_upstream, ra_sales, ra_admin, settings, monkeypatch, language
):
    settings.PORTAL_DEMO = True
    settings.SITE_URL = live_server.url
    monkeypatch.setattr(upstream_outbox, "schedule_drain", lambda key=None, *, countdown=None: None)
    account = f"indie-b{language.replace('-', '')}"
    private_upstream.admin("POST", "/_sim/onboarding/independent-accounts", {"account_name": account})
    texts = TEXT[language]
    cookie = [{"name": "django_language", "value": language, "url": live_server.url}]

    # ra-sales: from the customer list to the invitation form.
    page.context.add_cookies(cookie)
    page.set_viewport_size({"width": 1440, "height": 900})
    sign_in(page, "ra-sales")
    page.goto("/customers/")
    page.click("[data-testid=invitations]")
    page.click("[data-testid=invite-customer]")
    page.wait_for_url("**/customers/invitations/new/")
    form = page.locator("[data-testid=invitation-form]")
    form.locator("input[name=email]").fill("owner@indie.example.cn")
    form.locator("select[name=language]").select_option(language)
    shot(page, f"invite-{language}")
    page.click("[data-testid=send-invitation]")
    page.wait_for_url("**/customers/invitations/")
    expect(page.locator("[data-testid=invitation-table]")).to_contain_text("o***@indie.example.cn")
    invitation = Invitation.objects.get()

    # The customer, on a phone: the link and then the code from the demo outbox.
    root = browser.new_context(base_url=live_server.url)
    root_page = root.new_page()
    sign_in(root_page, "ra-admin", PASSWORD)
    link = _outbox_match(root_page, r"(/invite/[^/\s]+/)")
    phone = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    phone.add_cookies(cookie)
    mobile = phone.new_page()
    mobile.goto(link)
    expect(mobile.locator("[data-testid=partner-name]")).to_have_text("Reseller A")
    expect(mobile.locator("[data-testid=association-type]")).to_have_text(texts["resale"])
    mobile.fill("input[name=account_name]", account)
    mobile.check("input[name=notice_switch]")
    mobile.check("input[name=notice_partner]")
    mobile.click("[data-testid=send-code]")
    expect(mobile.locator("#code-status")).not_to_be_empty()
    mobile.fill("input[name=code]", _outbox_match(root_page, r"\b(\d{6})\b"))
    assert mobile.evaluate("document.documentElement.scrollWidth") <= 390
    shot(mobile, f"invitation-{language}")
    mobile.click("[data-testid=agree]")
    expect(mobile.locator("[data-testid=associating]")).to_be_visible()

    # The worker associates the account; the customer's page updates by itself.
    with UpstreamClient.from_settings(rate_limit=0) as client:
        assert drain(client=client).succeeded == 1
    expect(mobile.locator("[data-testid=associated]")).to_be_visible(timeout=10_000)
    shot(mobile, f"invitation-done-{language}")
    invitation.refresh_from_db()
    assert invitation.status == "associated"

    # ra-sales: the invitation associated, the customer in the list.
    page.goto("/customers/invitations/")
    expect(
        page.locator(f"tr[data-invitation='{invitation.pk}'] [data-testid=invitation-status]")
    ).to_have_text(texts["associated"])
    page.goto("/customers/")
    assert page.locator(f"a[href='/customers/{invitation.customer_id}/']").count() >= 1
    # The link works once.
    mobile.goto(link)
    expect(mobile.locator("[data-testid=invitation-status]")).to_be_visible()
    assert not [e for e in page.console_errors if "Content Security Policy" in e], page.console_errors
    root.close()
    phone.close()
