"""The warning journey in a real browser: reveal a name, handle a churn warning, see the count drop."""

import pytest
from playwright.sync_api import expect

from accounts.models import AuditEvent
from conftest import shot, sign_in
from customers.models import CustomerWarning

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_ra_sales_reveals_a_name_handles_a_churn_warning_and_sees_the_count_drop(
    page, ra_sales, make_customer, make_warning
):
    customer = make_customer("ra", name="张伟伟", account_name="hwc-journey", account_manager=ra_sales)
    churn = make_warning(customer, category="CHURN", title="客户可能流失")
    make_warning(customer, category="RESOURCE", title="资源即将到期")

    sign_in(page, "ra-sales")
    page.goto("/customers/warnings/")
    count = page.locator("[data-testid=warning-count]").first
    expect(count).to_have_text("2")

    row = page.locator(f"tr[data-warning='{churn.warning_id}']")
    assert "张伟伟" not in row.inner_text()
    row.locator("[data-testid=reveal-name]").click()
    row.locator("[data-testid=revealed-name]").wait_for()
    assert row.locator("[data-testid=revealed-name]").inner_text() == "张伟伟"
    assert AuditEvent.objects.filter(action="customer_reveal", actor=ra_sales).count() == 1

    row.locator("[data-testid=handle-warning]").click()
    page.wait_for_url(f"**/customers/warnings/{churn.pk}/")
    page.check("input[name=result][value=NOT_LOST]")
    page.fill("textarea[name=remark]", "已电话回访")
    page.click("#warning-handling button[type=submit]")
    page.locator("#warning-handling .badge.ok").wait_for()

    expect(count).to_have_text("1")
    churn.refresh_from_db()
    assert (churn.status, churn.handle_result) == (
        CustomerWarning.Status.HANDLED,
        CustomerWarning.Result.NOT_LOST,
    )
    assert not [e for e in page.console_errors if "Content Security Policy" in e], page.console_errors


def test_ra_sales_handles_every_matching_warning_after_confirming_the_count(
    page, ra_sales, make_customer, make_warning
):
    customer = make_customer("ra", account_manager=ra_sales)
    warnings = [make_warning(customer, category="RESOURCE", title=f"资源预警 {i}") for i in range(12)]
    page.set_viewport_size({"width": 1440, "height": 900})
    sign_in(page, "ra-sales")
    # Filtered, the list leaves counting what the user may handle to its bulk form, once it is in view.
    page.goto("/customers/warnings/?per_page=10&category=RESOURCE")
    page.locator("#bulk-form fieldset.bulk").scroll_into_view_if_needed()
    expect(page.locator("[data-testid=select-all-matching]")).to_be_visible()
    page.goto("/customers/warnings/?per_page=10")
    # The badge is on the "Customer warnings" entry too (updated by the menu button's poll).
    expect(page.locator("[data-testid=warning-count-menu]")).to_have_text("12")
    expect(page.locator("[data-testid=tab-handle]")).to_have_text("处理预警")
    shot(page, "inbox-zh")

    page.check("[data-testid=select-all-matching]")
    # Ticking "all matching" ticks this page's rows as well (static/js/customers.js, no inline script).
    assert page.locator("input[name=warnings]:checked").count() == 10
    page.select_option("#bulk-form select[name=result]", "NOT_LOST")
    page.click("#bulk-form button[type=submit]")
    expect(page.locator("[data-testid=bulk-confirm]")).to_have_text("确定处理 12 条预警？")
    shot(page, "bulk-confirm-zh")
    assert not CustomerWarning.objects.filter(status="HANDLED").exists()

    page.click("[data-testid=bulk-confirm-submit]")
    page.wait_for_url("**/customers/warnings/?per_page=10")
    expect(page.locator("[data-testid=warning-count]").first).to_be_hidden()
    assert CustomerWarning.objects.filter(pk__in=[w.pk for w in warnings], status="HANDLED").count() == 12
    assert not [e for e in page.console_errors if "Content Security Policy" in e], page.console_errors
