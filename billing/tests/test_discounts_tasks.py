"""Beat tasks of the discounts (issue 10), with a frozen clock: offers expire, customers are reminded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.conf import settings
from django.core import mail

from billing import services, tasks
from billing.models import DedicatedOffer, PartnerDiscount
from customers.models import Customer

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def offer(partner, name, expire, status="ACTIVE", **fields):
    return DedicatedOffer.objects.create(
        partner=partner,
        offer_id=f"o-{name}",
        name=name,
        customer_account_name="acct",
        status=status,
        effective_time=T0 - timedelta(days=30),
        expire_time=expire,
        **fields,
    )


def test_offers_expire_by_themselves_when_their_time_passes(partners):
    with time_machine.travel(T0, tick=False):
        offer(partners["ra"], "ending", T0 + timedelta(hours=1))
        invalidating = offer(
            partners["ra"], "invalidating", T0 + timedelta(hours=1), invalidation_requested_at=T0
        )
        offer(partners["ra"], "later", T0 + timedelta(days=3))
        offer(partners["ra"], "done", T0 - timedelta(days=1), status="INVALIDATED")
        assert tasks.expire_offers() == 0
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        assert tasks.expire_offers() == 2
        assert tasks.expire_offers() == 0  # idempotent
    statuses = dict(DedicatedOffer.objects.values_list("name", "status"))
    assert statuses == {
        "ending": "EXPIRED",
        "invalidating": "EXPIRED",
        "later": "ACTIVE",
        "done": "INVALIDATED",
    }
    invalidating.refresh_from_db()
    assert not invalidating.is_invalidating


def discount(partners, customer_id, expire, push="applied", email=True, rate="0.85"):
    customer = Customer.objects.create(
        partner=partners["ra"],
        customer_id=customer_id,
        association_type="1",
        name="李小龙",
        email=f"{customer_id}@customer.example.com" if email else "",
    )
    return PartnerDiscount.objects.create(
        partner=partners["ra"],
        customer=customer,
        rate=Decimal(rate),
        effective_time=T0 - timedelta(days=60),
        expire_time=expire,
        push_status=push,
    )


def test_customers_are_reminded_once_seven_days_before_their_discount_ends(partners, settings):
    settings.PARTNER_DISCOUNT_REMINDER_DAYS = 7
    with time_machine.travel(T0, tick=False):
        due = discount(partners, "due", T0 + timedelta(days=6, hours=23))
        discount(partners, "not-yet", T0 + timedelta(days=8))
        discount(partners, "sending", T0 + timedelta(days=3), push="pending")
        discount(partners, "no-email", T0 + timedelta(days=3), email=False)
        discount(partners, "ended", T0 - timedelta(days=1))
        assert tasks.remind_expiring_discounts() == 1
        assert tasks.remind_expiring_discounts() == 0
    assert [m.to for m in mail.outbox] == [["due@customer.example.com"]]
    body = mail.outbox[0].body
    assert "李**" in body and "李小龙" not in body and "0.85" in body
    due.refresh_from_db()
    assert due.reminder_sent_at == T0
    with time_machine.travel(T0 + timedelta(days=1, hours=1), tick=False):
        assert tasks.remind_expiring_discounts() == 1  # "not-yet" is now within 7 days
    assert len(mail.outbox) == 2


def test_changing_a_discount_asks_for_a_new_reminder(partners, monkeypatch):
    from upstream import outbox

    monkeypatch.setattr(outbox, "schedule_drain", lambda key=None, *, countdown=None: None)
    with time_machine.travel(T0, tick=False):
        row = discount(partners, "renewed", T0 + timedelta(days=2))
        assert tasks.remind_expiring_discounts() == 1
        services.set_partner_discount(
            customer=row.customer,
            rate="0.8",
            effective_time=row.effective_time,
            expire_time=T0 + timedelta(days=5),
        )
        row.refresh_from_db()
        assert row.reminder_sent_at is None and row.push_status == "pending"
        assert tasks.remind_expiring_discounts() == 0  # not applied yet
        row.mark_applied()
        assert tasks.remind_expiring_discounts() == 1


def test_the_customer_is_told_once_when_the_discount_is_set(partners):
    with time_machine.travel(T0, tick=False):
        row = discount(partners, "told", T0 + timedelta(days=90), rate="0.8")
        assert tasks.notify_discount_set(row.pk) is True
        assert tasks.notify_discount_set(row.pk) is False
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["told@customer.example.com"]
    html = message.alternatives[0][0]
    assert "¥800.00" in message.body and "¥1,000.00" in message.body and "¥800.00" in html


def test_a_refused_or_pending_discount_is_not_announced(partners):
    row = discount(partners, "quiet", T0 + timedelta(days=90), push="pending")
    assert tasks.notify_discount_set(row.pk) is False
    assert mail.outbox == []


def test_the_beat_runs_both_tasks_with_an_expiry():
    entries = {e["task"]: e for e in settings.CELERY_BEAT_SCHEDULE.values()}
    for task in ("billing.expire_offers", "billing.remind_expiring_discounts"):
        assert 0 < entries[task]["options"]["expires"] <= entries[task]["schedule"]
