import pytest

from conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_ra_admin_signs_in_switches_language_and_sees_the_navigation(page, ra_admin):
    sign_in(page, "ra-admin")
    nav = page.locator("nav.mainnav")
    assert nav.get_by_text("运营看板").is_visible()
    assert "Reseller A" in page.locator(".who").inner_text()

    page.select_option("[data-testid=language-select]", "en")
    page.wait_for_load_state("load")
    page.locator("html[lang=en]").wait_for()
    assert nav.get_by_text("Dashboard").is_visible()
    nav.get_by_role("button", name="Customers").hover()
    page.get_by_role("link", name="Customer warnings").click()
    page.wait_for_url("**/customers/warnings/")
    assert page.locator("h1").inner_text() == "Customer warnings"
    nav.get_by_role("button", name="Billing").hover()
    assert page.get_by_role("link", name="Adjustments").is_visible()
    # The strict Content-Security-Policy let every script run: nothing was blocked.
    assert not [e for e in page.console_errors if "Content Security Policy" in e], page.console_errors
