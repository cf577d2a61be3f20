"""The association switch journey in a real browser, in both languages: ra-admin files a switch of a resale
customer to referral after the dry run; the customer opens the link (found in /dev/outbox/) on a phone-sized
screen, ticks the notices, enters the code it was sent and agrees; the change goes upstream through the
outbox; ra-admin sees the request approved, the customer's type changed and the consent receipt."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from conftest import PASSWORD, shot, sign_in
from customers.models import AssociationRequest, Customer
from customers.tests.test_requests_upstream import _candidate, sync
from upstream import outbox as upstream_outbox
from upstream.client import UpstreamClient
from upstream.outbox import drain

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TEXT = {
    "en": {"approved": "Approved", "referral": "Referral", "waiting": "Waiting for the customer"},
    "zh-hans": {"approved": "已同意", "referral": "顾问销售", "waiting": "待客户处理"},
}


def _outbox_link(root_page, pattern: str) -> str:
    """The newest match of `pattern` in the demo outbox, as the partner's admin reads it there."""
    root_page.goto("/dev/outbox/")
    body = root_page.locator("#outbox-table tbody").inner_text()
    return re.search(pattern, body).group(1)


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_a_switch_filed_by_ra_admin_is_confirmed_by_the_customer_on_a_phone(
    browser,
    live_server,
    page,
    private_upstream,
    partners,
    ra_admin,
    make_staff,
    settings,
    monkeypatch,
    language,
):
    settings.PORTAL_DEMO = True
    settings.SITE_URL = live_server.url
    monkeypatch.setattr(upstream_outbox, "schedule_drain", lambda key=None, *, countdown=None: None)
    sync("indirect_partners", "customers", "partner_balances", "customer_balances")
    customer, _change = _candidate(partners["ra"], "SWITCH_TO_REFERRAL")
    Customer.objects.filter(pk=customer.pk).update(association_type="2")
    texts = TEXT[language]
    cookie = [{"name": "django_language", "value": language, "url": live_server.url}]

    # ra-admin: the dry run from the customer list, then the filing.
    page.context.add_cookies(cookie)
    page.set_viewport_size({"width": 1440, "height": 900})
    sign_in(page, "ra-admin")
    page.goto(f"/customers/{customer.pk}/requests/new/?kind=SWITCH_TO_REFERRAL")
    expect(page.locator("[data-testid=check-passed]")).to_be_visible()
    page.check("input[name=acknowledged]")
    page.fill("textarea[name=reason]", "客户希望自行付款 / self-service")
    shot(page, f"dry-run-{language}")
    page.click("[data-testid=submit-request]")
    page.wait_for_url("**/customers/requests/*/")
    expect(page.locator("[data-testid=waiting]")).to_be_visible()
    expect(page.locator("[data-testid=request-status]")).to_have_text(texts["waiting"])
    request = AssociationRequest.objects.get(customer=customer)

    # The customer, on a phone: the link from the demo outbox (read there by the partner's admin).
    root = browser.new_context(base_url=live_server.url)
    root_page = root.new_page()
    sign_in(root_page, "ra-admin", PASSWORD)
    link = _outbox_link(root_page, r"(/confirm/[^/\s]+/)")
    phone = browser.new_context(
        base_url=live_server.url, viewport={"width": 390, "height": 844}, locale="zh-CN"
    )
    phone.add_cookies(cookie)
    mobile = phone.new_page()
    mobile.goto(link)
    expect(mobile.locator("[data-testid=partner-name]")).to_have_text("Reseller A")
    assert customer.account_name not in mobile.content()  # masked
    mobile.check("input[name=notice_switch]")
    mobile.check("input[name=notice_partner]")
    mobile.click("[data-testid=send-code-email]")
    expect(mobile.locator("#code-status")).not_to_be_empty()
    code = _outbox_link(root_page, r"\b(\d{6})\b")
    mobile.fill("input[name=code]", code)
    assert mobile.evaluate("document.documentElement.scrollWidth") <= 390
    shot(mobile, f"confirm-{language}")
    mobile.click("[data-testid=agree]")
    expect(mobile.locator("[data-testid=decision-done]")).to_be_visible()
    shot(mobile, f"confirmed-{language}")

    # The worker sends the change upstream.
    with UpstreamClient.from_settings(rate_limit=0) as client:
        assert drain(client=client).succeeded == 1

    # ra-admin sees it approved, with the receipt, and the customer's new type.
    page.goto(f"/customers/requests/{request.pk}/")
    expect(page.locator("[data-testid=request-status]")).to_have_text(texts["approved"])
    expect(page.locator("[data-testid=receipt]")).to_contain_text(request.NOTICES_VERSION)
    shot(page, f"approved-{language}")
    page.goto(f"/customers/{customer.pk}/")
    expect(page.locator("main")).to_contain_text(texts["referral"])
    page.goto("/customers/requests/")
    expect(page.locator(f"tr[data-request='{request.pk}'] [data-testid=request-status]")).to_have_text(
        texts["approved"]
    )
    # The link works once.
    mobile.goto(link)
    expect(mobile.locator("[data-testid=link-invalid]")).to_be_visible()
    # The customer's own area: signed in with a code, its partner, the past decision and its receipt.
    mobile.goto("/my/")
    mobile.fill("input[name=contact]", customer.email)
    mobile.click("form[action='/my/sign-in/'] button[type=submit]")
    mobile.fill("input[name=code]", _outbox_link(root_page, r"\b(\d{6})\b"))
    mobile.click("form[action='/my/verify/'] button[type=submit]")
    expect(mobile.locator("[data-testid=my-partner]")).to_have_text("Reseller A")
    expect(mobile.locator("[data-testid=my-type]")).to_have_text(texts["referral"])
    expect(mobile.locator("[data-testid=my-past] a")).to_have_attribute(
        "href", f"/my/requests/{request.pk}/receipt.txt"
    )
    shot(mobile, f"my-{language}")
    assert not [e for e in page.console_errors if "Content Security Policy" in e], page.console_errors
    root.close()
    phone.close()
