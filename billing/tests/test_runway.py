"""The runway of a resale balance: the sync keeps a balance per customer and day, the average daily spend
over 30 days (reclaims are not spend) and the days until zero follow; the list filters on it, and a
balance warning offers an allocation pre-filled with a month of spend."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from billing import services
from billing.models import Adjustment, BalanceSnapshot, CustomerAccount
from customers.models import Customer, CustomerWarning
from upstream.client import UpstreamClient
from upstream.models import SyncRun
from upstream.sync import run_dataset

pytestmark = pytest.mark.django_db

TODAY = date(2026, 11, 20)


@pytest.fixture
def spender(partners):
    customer = Customer.objects.create(
        partner=partners["ra"],
        customer_id="spender",
        name="王小明",
        association_type="2",
        balance=Decimal("90"),
    )
    CustomerAccount.objects.create(customer=customer, partner=partners["ra"], amount=Decimal("90.00"))
    return customer


def history(customer, *amounts: str, end: date = TODAY) -> None:
    for n, amount in enumerate(amounts):
        day = end - timedelta(days=len(amounts) - 1 - n)
        services.record_balance_history({customer.pk: Decimal(amount)}, day=day)


def test_spend_is_what_the_balance_dropped_by_per_day_and_the_runway_follows(spender):
    # 150 → 140 → 130 → (allocation) 160 → 150 → 90: drops 10 + 10 + 10 + 60 = 90 over 5 days = 18/day.
    history(spender, "150.00", "140.00", "130.00", "160.00", "150.00", "90.00")
    services.refresh_runway([spender.pk], today=TODAY)
    spender.refresh_from_db()
    assert spender.daily_spend == Decimal("18.00")
    assert spender.runway_days == 5  # 90 / 18


def test_a_reclaim_is_not_spend(spender, partners, time_machine):
    time_machine.move_to(timezone.make_aware(timezone.datetime(2026, 11, 20, 12)))
    history(spender, "150.00", "140.00", "90.00")  # dropped 60 over 2 days, of which 40 taken back
    Adjustment.objects.create(
        partner=partners["ra"],
        customer=spender,
        kind="reclaim",
        amount=Decimal("40.00"),
        status="succeeded",
        upstream_transaction_id="R-1",
        finished_at=timezone.now() - timedelta(days=1),
    )
    services.refresh_runway([spender.pk], today=TODAY)
    spender.refresh_from_db()
    assert (spender.daily_spend, spender.runway_days) == (Decimal("10.00"), 9)


def test_too_short_a_history_or_no_spend_leaves_the_runway_unknown(spender, partners):
    history(spender, "90.00")
    services.refresh_runway([spender.pk], today=TODAY)
    spender.refresh_from_db()
    assert (spender.daily_spend, spender.runway_days) == (None, None)
    history(spender, "90.00", "95.00")
    services.refresh_runway([spender.pk], today=TODAY)
    spender.refresh_from_db()
    assert (spender.daily_spend, spender.runway_days) == (Decimal("0.00"), None)
    # History older than 30 days does not count.
    history(spender, "500.00", "90.00", end=TODAY - timedelta(days=40))
    services.refresh_runway([spender.pk], today=TODAY)
    spender.refresh_from_db()
    assert spender.daily_spend == Decimal("0.00")


def test_the_balance_sync_keeps_the_history(upstream_settings, partners):
    def sync():
        with UpstreamClient.from_settings(rate_limit=0) as client:
            for name in ("indirect_partners", "customers", "customer_balances"):
                assert run_dataset(name, client=client, mode="full").status == SyncRun.Status.SUCCEEDED

    sync()
    sync()  # the same day: the day's row is updated, not doubled
    accounts = CustomerAccount.objects.count()
    assert accounts and BalanceSnapshot.objects.count() == accounts
    BalanceSnapshot.objects.update(day=timezone.localdate() - timedelta(days=1))  # as if synced yesterday
    sync()
    assert BalanceSnapshot.objects.count() == 2 * accounts
    assert BalanceSnapshot.objects.filter(day=timezone.localdate()).count() == accounts


def test_the_list_finds_the_balances_that_run_out_soon(client_for, ra_finance, spender, partners):
    history(spender, "150.00", "120.00", "90.00")  # 30/day: 3 days left
    services.refresh_runway([spender.pk], today=TODAY)
    Customer.objects.create(partner=partners["ra"], customer_id="calm", association_type="2")
    client = client_for(ra_finance)
    shown = [
        c.customer_id for c in client.get(reverse("customers:list"), {"runs_out_within": 7}).context["page"]
    ]
    assert shown == ["spender"]
    assert [
        c.customer_id for c in client.get(reverse("customers:list"), {"runs_out_within": 2}).context["page"]
    ] == []
    bad = client.get(reverse("customers:list"), {"runs_out_within": "1.5"})
    assert bad.status_code == 200 and [str(m) for m in bad.context["messages"]]


def test_a_balance_warning_offers_an_allocation_of_a_month_of_spend(client_for, ra_admin, spender, partners):
    history(spender, "150.00", "120.00", "90.00")
    services.refresh_runway([spender.pk], today=TODAY)
    warning = CustomerWarning.objects.create(
        partner=partners["ra"],
        customer=spender,
        customer_upstream_id="spender",
        warning_id="w-bal",
        scene_name="余额预警",
        category="BALANCE",
        title="余额不足",
        send_time=timezone.now(),
    )
    page = client_for(ra_admin).get(reverse("customers:warning-detail", args=[warning.pk])).content.decode()
    assert 'data-testid="warning-allocate"' in page
    form = client_for(ra_admin).get(
        reverse("billing:adjustment-new", args=[spender.pk]), {"kind": "allocate", "fill": "month"}
    )
    assert form.context["form"].initial["amount"] == "900.00"  # 30/day × 30 days
    assert form.context["tiers"][-1].after == Decimal("990.00")
