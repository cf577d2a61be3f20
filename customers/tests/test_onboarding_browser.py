"""Creating and verifying a customer in a real browser, in both languages: ra-sales opens the form from the
customer list, sees a malformed and a free account name checked as it types, confirms the customer's email
and mobile phone with the codes sent to them (the portal's email, the platform's SMS), creates a resale
customer with an address picked province → city → county, watches the progress page until the outbox has
created the account upstream, lands on the new customer's page, submits an enterprise verification with a
licence and ID card images, and sees it approved after the simulator's review (the documents stored in a
local directory, shown as thumbnails)."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from accounts.models import Message
from conftest import sign_in
from customers.models import Customer, CustomerApplication
from customers.tests.test_documents import image_bytes
from customers.tests.test_onboarding import email_code, fresh_phone
from upstream import outbox as upstream_outbox
from upstream.client import UpstreamClient

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TEXT = {
    "en": {"reserved": "cannot start with", "free": "is available", "approved": "Approved"},
    "zh-hans": {"reserved": "不能以", "free": "可用", "approved": "已同意"},
}
VERIFY_TEXT = {  # the verification part: a renamed .exe refused by its content
    "en": {"refused": "content is checked, not its name"},
    "zh-hans": {"refused": "检查的是文件内容"},
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
    email, phone = f"{name}@example.com", fresh_phone()
    page.fill("input[name=contact_email]", email)
    page.click("[data-testid=send-email-code]")
    expect(page.locator("[data-testid=email-code-status]")).to_have_attribute("data-sent", "1")
    page.fill("input[name=email_code]", email_code(email))
    page.fill("input[name=contact_phone]", phone)
    page.click("[data-testid=send-sms-code]")
    expect(page.locator("[data-testid=sms-code-status]")).to_have_attribute("data-sent", "1")
    sent = private_upstream.admin("GET", f"/_sim/onboarding/verification-codes?mobile_phone={phone}")
    page.fill("input[name=phone_code]", sent["codes"][0]["code"])
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
    assert (customer.email, customer.phone) == (email, phone)
    assert Message.objects.filter(recipient=email, tag="onboarding-contact-code").count() == 1

    # Real-name verification from the customer's page.
    page.click("[data-testid=verification-link]")
    page.wait_for_url(f"**/customers/{customer.pk}/verification/")
    page.fill("input[name=corp_name]", "杭州云栖数据科技有限公司")
    page.fill("input[name=certificate_number]", "91330106MA2H0XYZ7K")
    page.fill("input[name=representative]", "张伟")
    page.fill("input[name=representative_id]", "11010519491231002X")
    # Each document goes up as it is dropped (static/js/upload.js): a progress bar, then the server's verdict.
    licence = page.locator("[data-testid=dropzone-licence]")
    licence.locator("input[type=file]").set_input_files(files(tmp_path, "licence.pdf", b"MZ\x90\x00" * 64))
    expect(licence.locator("[data-testid=upload-error]")).to_contain_text(VERIFY_TEXT[language]["refused"])
    expect(licence.locator("input[data-upload-key]")).to_have_value("")
    for field, name, data in (
        ("licence", "licence.png", image_bytes("PNG", (600, 400))),
        ("id_front", "front.jpg", image_bytes("JPEG", (400, 250))),
        ("id_back", "back.jpg", image_bytes("JPEG", (400, 250))),
    ):
        zone = page.locator(f"[data-testid=dropzone-{field}]")
        if field == "id_back":  # dropped on the zone, as a file dragged from the desktop is
            drop_file(page, f"[data-testid=dropzone-{field}]", name, data)
        else:
            zone.locator("input[type=file]").set_input_files(files(tmp_path, name, data))
        expect(zone.locator("[data-testid=upload-progress]")).to_have_attribute("value", "100")
        expect(zone.locator("[data-testid=upload-thumbnail]")).to_be_visible()
        expect(zone.locator("input[data-upload-key]")).not_to_have_value("")
        expect(zone.locator("input[type=file]")).to_have_value("")  # the form sends the upload's key
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


def drop_file(page, selector: str, name: str, data: bytes) -> None:
    """A drop of one file on an element, with the DataTransfer a drag from the desktop carries."""
    transfer = page.evaluate_handle(
        "([name, bytes]) => { const t = new DataTransfer();"
        " t.items.add(new File([new Uint8Array(bytes)], name)); return t; }",
        [name, list(data)],
    )
    page.dispatch_event(selector, "dragover", {"dataTransfer": transfer})
    page.dispatch_event(selector, "drop", {"dataTransfer": transfer})


def files(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)
