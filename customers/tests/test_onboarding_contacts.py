"""A new customer's contacts (issue 14): the email confirmed by the portal's own code, the mobile phone by the
platform's SMS code (checked by the platform when it creates the account); resend waits, wrong, expired and
used-up codes, taken addresses; contacts masked on the pages and in the audit log; the values the partner gave
on the form surviving the customer sync until the platform has its own."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent, Message
from customers.models import Customer, CustomerApplication
from customers.onboarding import ContactCode, apply_for_customer
from customers.tests.test_onboarding import (
    drain,
    email_code,
    fresh_name,
    fresh_phone,
    sms_code,
    upstream_accounts,
    verified_contacts,
)
from upstream import outbox
from upstream.client import UpstreamClient
from upstream.models import OutboxCommand, SyncRun
from upstream.sync import run_dataset

SEND = "customers:contact-code"


@pytest.fixture(autouse=True)
def _english(settings, monkeypatch):
    settings.LANGUAGE_CODE = "en"
    settings.STEP_UP_RESEND_SECONDS = 0
    monkeypatch.setattr(outbox, "schedule_drain", lambda key=None, *, countdown=None: None)


def send(client, channel: str, value: str) -> str:
    field = "contact_email" if channel == "email" else "contact_phone"
    return client.post(reverse(SEND), {"channel": channel, field: value}).content.decode()


def form(**fields) -> dict:
    return {"account_name": fresh_name(), "display_name": "", "association_type": "2", "label": "", **fields}


def nothing_filed() -> bool:
    return not CustomerApplication.objects.exists() and not OutboxCommand.objects.exists()


@pytest.mark.django_db
def test_a_customer_is_created_with_both_contacts_confirmed_and_masked_everywhere(
    private_upstream, ra_sales, client_for, settings
):
    settings.PORTAL_DEMO = True
    client = client_for(ra_sales)
    email, phone = "li.na@example.com", fresh_phone()
    contacts = verified_contacts(client, email, phone)
    response = client.post(reverse("customers:new"), form(display_name="Acme", label="vip", **contacts))
    application = CustomerApplication.objects.get()
    assert response.status_code == 302, response.context["form"].errors
    assert (application.contact_email, application.contact_phone, application.phone_code) == (
        email,
        phone,
        contacts["phone_code"],
    )
    # The command carries no personal data: the handler reads the number and its code from the application.
    command = OutboxCommand.objects.get(kind="customers.create_sub_customer")
    assert phone not in str(command.payload) and contacts["phone_code"] not in str(command.payload)
    page = client.get(reverse("customers:application", args=[application.pk])).content.decode()
    assert "l***@example.com" in page and f"{phone[:3]}****{phone[-4:]}" in page
    assert email not in page and phone not in page

    assert drain().succeeded == 1
    application.refresh_from_db()
    assert application.status == "created" and application.phone_code == ""  # the code is not kept
    [upstream] = upstream_accounts(application.account_name, indirect="ip-reseller-a")
    assert upstream.telephone == phone  # the platform took the number with the code it had sent
    customer = application.customer
    assert (customer.email, customer.phone, customer.name, customer.label) == (email, phone, "Acme", "vip")
    # Both codes are used up: a second application cannot reuse them.
    again = client.post(reverse("customers:new"), form(**contacts))
    errors = again.context["form"].errors
    assert errors["email_code"] == errors["phone_code"] == ["This code is used up. Ask for a new code."]

    # The audit log and the demo outbox: masked contacts in the log; the codes in the outbox for the
    # person who asked for them (the email the portal sent, the SMS the simulated platform sent).
    events = AuditEvent.objects.filter(actor=ra_sales)
    for event in events:
        assert email not in str(event.data) and phone not in str(event.data)
    filed = events.get(action="customer_application_filed")
    assert filed.data["email"] == "l***@example.com" and filed.data["phone"] == f"{phone[:3]}****{phone[-4:]}"
    assert events.filter(action="onboarding_contact_code_sent").count() == 2
    assert filed.data["target_label"] != application.account_name  # the account name is masked too
    sent = Message.objects.filter(tag="onboarding-contact-code", user=ra_sales)
    assert {m.channel for m in sent} == {"email", "sms"}
    assert contacts["phone_code"] in sent.get(channel="sms").body
    outbox_page = client.get(reverse("dev:outbox")).content.decode()
    assert contacts["email_code"] in outbox_page and contacts["phone_code"] in outbox_page


@pytest.mark.django_db
def test_wrong_expired_or_foreign_email_codes_are_refused_and_nothing_is_filed(
    upstream_settings, ra_sales, ra_admin, client_for, settings
):
    settings.STEP_UP_MAX_ATTEMPTS = 3
    client = client_for(ra_sales)
    contacts = verified_contacts(client)
    wrong = "000000" if contacts["email_code"] != "000000" else "111111"

    def errors(**changes):
        response = client.post(reverse("customers:new"), form(**{**contacts, **changes}))
        assert response.status_code == 200
        return response.context["form"].errors

    assert errors(email_code=wrong)["email_code"] == ["The code is wrong."]
    assert errors(email_code="12ab")["email_code"] == ["The 6 digits of the code."]
    assert errors(contact_email="other@example.com")["email_code"] == [
        "Send a code to this email address first."
    ]
    assert errors(email_code=wrong)["email_code"] == ["The code is wrong."]
    assert errors(email_code=wrong)["email_code"] == ["The code is wrong."]
    # Three wrong guesses: even the right code is refused now.
    assert errors()["email_code"] == ["Too many wrong codes. Ask for a new code."]
    assert nothing_filed()

    contacts = verified_contacts(client)  # a new code; then it expires
    ContactCode.objects.filter(user=ra_sales).update(valid_until=timezone.now() - timedelta(seconds=1))
    found = errors()
    assert found["email_code"] == found["phone_code"] == ["The code has expired. Ask for a new code."]
    # A code is the user's who asked for it: another user cannot use it.
    contacts = verified_contacts(client)
    client = client_for(ra_admin)
    found = errors()
    assert found["email_code"] == ["Send a code to this email address first."]
    assert found["phone_code"] == ["Send a code to this mobile number first."]
    assert nothing_filed()


@pytest.mark.django_db
def test_a_wrong_sms_code_is_refused_by_the_platform_and_no_account_is_made(
    upstream_settings, ra_sales, client_for
):
    client = client_for(ra_sales)
    contacts = verified_contacts(client)
    wrong = "000000" if contacts["phone_code"] != "000000" else "111111"
    response = client.post(reverse("customers:new"), form(**{**contacts, "phone_code": wrong}))
    assert response.status_code == 302
    application = CustomerApplication.objects.get()
    assert drain().failed == 1
    application.refresh_from_db()
    assert application.status == "failed" and application.customer is None and application.phone_code == ""
    assert application.error_code == "CBC.99004010"
    assert not upstream_accounts(application.account_name, indirect="ip-reseller-a")
    page = client.get(reverse("customers:application", args=[application.pk]))
    body = page.content.decode()
    assert "The verification code is wrong or has expired; request a new one." in body
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    body = client.get(reverse("customers:application", args=[application.pk])).content.decode()
    assert "request a new one" not in body and "The verification code is wrong." not in body


@pytest.mark.django_db
def test_sending_waits_between_codes_and_refuses_bad_or_taken_addresses(
    upstream_settings, ra_sales, ra_admin, client_for, settings
):
    settings.STEP_UP_RESEND_SECONDS = 60
    client = client_for(ra_sales)
    email, phone = f"{fresh_name()}@example.com", fresh_phone()
    assert 'data-sent="1"' in send(client, "email", email)
    assert "A code was sent just now. You can ask again in" in send(client, "email", f"x{email}")
    assert 'data-sent="1"' in send(client, "sms", phone)  # each channel waits on its own
    assert "You can ask again in" in send(client, "sms", fresh_phone())
    # The wait holds for the address whoever asks.
    other = client_for(ra_admin)
    assert "You can ask again in" in send(other, "email", email.upper())
    assert "You can ask again in" in send(other, "sms", phone)
    assert Message.objects.filter(tag="onboarding-contact-code", channel="email").count() == 1

    settings.STEP_UP_RESEND_SECONDS = 0
    assert "A mainland China mobile number" in send(other, "sms", "23812345678")
    assert "A mainland China mobile number" in send(other, "sms", "1381234567")
    assert "Enter a complete email address." in send(other, "email", "someone@")
    assert "Choose email or mobile phone." in send(other, "", "x")
    # An email the platform already has (one of the partner's customers upstream) is not sent a code.
    with UpstreamClient.from_settings(rate_limit=0) as upstream:
        taken = next(
            c.email
            for c in upstream.list_sub_customers(limit=100).items
            if re.fullmatch(r"[a-z0-9._-]{1,40}@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}", c.email or "")
        )
    assert "already registered on the cloud platform" in send(other, "email", taken)
    assert not Message.objects.filter(recipient=taken).exists()


@pytest.mark.django_db
def test_the_platforms_sms_limit_reaches_the_form_as_a_message(upstream_settings, ra_sales, client_for):
    client = client_for(ra_sales)
    phone = fresh_phone()
    for _ in range(5):  # the platform sends at most 5 codes to a number an hour
        assert 'data-sent="1"' in send(client, "sms", phone)
    assert "Too many verification codes were sent to this number" in send(client, "sms", phone)
    assert sms_code(phone)  # the last code sent still stands


@pytest.mark.django_db
def test_the_sync_keeps_what_the_partner_gave_until_the_platform_has_its_own(
    private_upstream, ra_sales, client_for
):
    client = client_for(ra_sales)
    contacts = verified_contacts(client)
    client.post(reverse("customers:new"), form(display_name="Acme Ltd", label="vip", **contacts))
    drain()
    customer = CustomerApplication.objects.get().customer

    def sync() -> Customer:
        with UpstreamClient.from_settings(rate_limit=0) as upstream:
            assert run_dataset("customers", client=upstream, mode="full").status == SyncRun.Status.SUCCEEDED
        return Customer.objects.get(pk=customer.pk)

    # The platform lists the new account with its account name as its name, no label and no email.
    synced = sync()
    assert (synced.name, synced.label, synced.email, synced.phone) == (
        "Acme Ltd",
        "vip",
        contacts["contact_email"],
        contacts["contact_phone"],
    )
    # Once the platform has values of its own (a verified name, a label set in its console), they win.
    private_upstream.patch_rows(
        "customers", {"customer_id": customer.customer_id}, customer="杭州云栖数据科技有限公司", label="key"
    )
    synced = sync()
    assert (synced.name, synced.label) == ("杭州云栖数据科技有限公司", "key")


@pytest.mark.django_db
def test_the_service_checks_the_codes_again_when_it_files(upstream_settings, ra_sales, client_for):
    client = client_for(ra_sales)
    contacts = verified_contacts(client)
    ContactCode.objects.filter(user=ra_sales, channel="email").update(code_hash="")  # used meanwhile
    from customers.onboarding import OnboardingError

    with pytest.raises(OnboardingError, match="used up"):
        apply_for_customer(ra_sales, form(**contacts))
    assert nothing_filed()
    assert email_code(contacts["contact_email"])  # the email did go out
