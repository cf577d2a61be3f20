"""Emails are written in the RECIPIENT's language, whoever (or whichever worker) triggers them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone, translation

from accounts import stepup
from accounts.models import Message
from customers.models import AssociationType, Customer, CustomerWarning
from customers.tasks import notify_arrears_warnings

pytestmark = pytest.mark.django_db


def _arrears_warning(partner, manager) -> CustomerWarning:
    customer = Customer.objects.create(
        partner=partner,
        customer_id="cust-lang-1",
        name="李四",
        account_name="acct-lang-1",
        association_type=AssociationType.RESALE,
        account_manager=manager,
    )
    return CustomerWarning.objects.create(
        partner=partner,
        customer=customer,
        customer_upstream_id=customer.customer_id,
        warning_id="warn-lang-1",
        scene_name="欠费预警",
        category=CustomerWarning.Category.ARREARS,
        title="Arrears",
        send_time=timezone.now() - timedelta(minutes=5),
    )


@pytest.mark.parametrize(
    "language,subject,body",
    [
        ("en", "Arrears warning", "An arrears warning arrived"),
        ("zh-hans", "欠费预警", "您负责的客户收到一条欠费预警"),
    ],
)
def test_the_arrears_email_is_in_the_recipients_language(ra_sales, partners, language, subject, body):
    ra_sales.language = language
    ra_sales.save()
    _arrears_warning(partners["ra"], ra_sales)
    # Whatever language the sender runs in (a worker, or a user of the other language).
    other = "zh-hans" if language == "en" else "en"
    with translation.override(other):
        assert notify_arrears_warnings() == 1
    message = Message.objects.get(recipient=ra_sales.email)
    assert message.subject.startswith(subject) and body in message.body
    assert message.user == ra_sales


@pytest.mark.parametrize("language,subject", [("en", "Your verification code"), ("zh-hans", "您的验证码")])
def test_the_step_up_email_is_in_the_recipients_language(ra_finance, partners, language, subject):
    partners["ra"].require_step_up = True
    partners["ra"].save()
    ra_finance.language = language
    ra_finance.save()
    with translation.override("zh-hans" if language == "en" else "en"):
        stepup.send_code(ra_finance, "email")
    assert Message.objects.get(recipient=ra_finance.email).subject == subject


def test_the_language_is_set_in_the_profile(client_for, ra_sales):
    response = client_for(ra_sales).post(
        "/accounts/profile/",
        {"email": ra_sales.email, "phone": ra_sales.phone, "time_zone": ra_sales.time_zone, "language": "en"},
    )
    assert response.status_code == 302
    ra_sales.refresh_from_db()
    assert ra_sales.language == "en"
