"""Creating and verifying a customer in a real browser, in both languages: ra-sales opens the form from the
customer list, sees a malformed and a free account name checked as it types, creates a resale customer with
an address picked province → city → county, watches the progress page until the outbox has created the
account upstream, lands on the new customer's page, submits an enterprise verification with a licence and
ID card images, and sees it approved after the simulator's review (the documents stored in a local
directory, shown as thumbnails)."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from conftest import sign_in
from customers.models import Customer, CustomerApplication
from customers.tests.test_documents import image_bytes
from upstream import outbox as upstream_outbox
from upstream.client import UpstreamClient

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TEXT = {
    "en": {"reserved": "cannot start with", "free": "is available", "approved": "Approved"},
    "zh-hans": {"reserved": "不能以", "free": "可用", "approved": "已同意"},
}


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_ra_sales_creates_a_resale_customer(
    live_server, page, private_upstream, partners, ra_sales, monkeypatch, settings, tmp_path, language
):
    monkeypatch.setattr(upstream_outbox, "schedule_drain", lambda key=None, *, countdown=None: None)
    settings.STORAGES = {
        **settings.STORAGES,
        "documents": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "documents")},
        },
    }
    private_upstream.admin("POST", "/_sim/onboarding/review", {"delay_seconds": 3600, "outcome": "approve"})
    texts = TEXT[language]
    page.context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
    sign_in(page, "ra-sales")
    page.goto("/customers/")
    page.click("[data-testid=new-customer]")
    page.wait_for_url("**/customers/new/")
    check = page.locator("[data-testid=account-name-check]")
    page.fill("[data-testid=account-name]", "op_reserved")
    expect(check).to_contain_text(texts["reserved"])
    name = f"journey-{uuid.uuid4().hex[:8]}"
    page.fill("[data-testid=account-name]", name)
    expect(check).to_contain_text(texts["free"])
    page.fill("input[name=display_name]", "Journey Ltd")
    page.select_option("select[name=association_type]", "2")
    page.select_option("[data-testid=province]", "CN-13")
    expect(page.locator("[data-testid=city] option[value='CN-13-001']")).to_have_count(1)
    page.select_option("[data-testid=city]", "CN-13-001")
    county = page.locator("[data-testid=county] option:not([value=''])").first
    expect(county).to_have_count(1)
    page.select_option("[data-testid=county]", county.get_attribute("value"))
    page.fill("input[name=address]", "中山路 1 号")
    page.click("[data-testid=create-customer]")
    page.wait_for_url("**/customers/new/*/")
    expect(page.locator("[data-testid=application-status]")).to_have_attribute("data-status", "creating")
    assert page.console_errors == []

    work()
    customer = Customer.objects.get(account_name=name)
    page.wait_for_url(f"**/customers/{customer.pk}/")
    application = CustomerApplication.objects.get(account_name=name)
    assert application.status == "created" and application.county_code.startswith("CN-13-001-")
    assert customer.partner == partners["ra"] and customer.association_type == "2"

    # Real-name verification from the customer's page.
    page.click("[data-testid=verification-link]")
    page.wait_for_url(f"**/customers/{customer.pk}/verification/")
    page.fill("input[name=corp_name]", "杭州云栖数据科技有限公司")
    page.fill("input[name=certificate_number]", "91330106MA2H0XYZ7K")
    page.fill("input[name=representative]", "张伟")
    page.fill("input[name=representative_id]", "11010519491231002X")
    page.set_input_files(
        "input[name=licence]", files(tmp_path, "licence.png", image_bytes("PNG", (600, 400)))
    )
    page.set_input_files(
        "input[name=id_front]", files(tmp_path, "front.jpg", image_bytes("JPEG", (400, 250)))
    )
    page.set_input_files("input[name=id_back]", files(tmp_path, "back.jpg", image_bytes("JPEG", (400, 250))))
    page.click("[data-testid=submit-verification]")
    status = page.locator("[data-testid=verification-status]")
    expect(status).to_have_attribute("data-status", "submitted")
    expect(page.locator("[data-testid=document] img")).to_have_count(3)
    work()
    private_upstream.admin("POST", "/_sim/onboarding/review/finish", {})
    expect(status).to_have_attribute("data-status", "approved", timeout=20_000)  # the page polls
    expect(status).to_have_text(texts["approved"])
    customer.refresh_from_db()
    assert customer.verified_status == Customer.Verified.VERIFIED
    assert len([p for p in (tmp_path / "documents").rglob("*") if p.is_file()]) == 6
    assert page.console_errors == []


def work():
    """The worker's part: send what the outbox holds."""
    with UpstreamClient.from_settings(rate_limit=0) as client:
        upstream_outbox.drain(client=client)


def files(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)
