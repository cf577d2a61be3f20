"""The ledger never loses a cent: 40 allocations at once against a balance that covers 25, sent through the
outbox to the simulator, leave the partner's balance plus its customers' balances exactly as they were."""

from __future__ import annotations

import threading
from decimal import ROUND_DOWN, Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Sum

from billing.models import Adjustment, CustomerAccount, PartnerAccount
from billing.services import available_to_allocate, request_adjustment
from customers.models import Customer
from upstream import outbox
from upstream.client import UpstreamClient
from upstream.models import SyncRun
from upstream.sync import run_dataset

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _sync() -> None:
    with UpstreamClient.from_settings(rate_limit=0) as client:
        for name in ("indirect_partners", "customers", "partner_balances", "customer_balances"):
            assert run_dataset(name, client=client, mode="full").status == SyncRun.Status.SUCCEEDED


def _total(partner) -> Decimal:
    """The partner's balance plus every customer balance it holds, as the upstream reports them."""
    _sync()
    own = PartnerAccount.objects.get(partner=partner, account_type=PartnerAccount.AccountType.BALANCE).amount
    customers = CustomerAccount.objects.filter(customer__partner=partner).aggregate(s=Sum("amount"))["s"]
    return own + (customers or Decimal(0))


def test_forty_parallel_allocations_of_which_25_fit_keep_the_money_exact(
    private_upstream, partners, monkeypatch
):
    monkeypatch.setattr(outbox, "schedule_drain", lambda key=None, *, countdown=None: None)
    ra = partners["ra"]
    before = _total(ra)
    balance_before = PartnerAccount.objects.get(partner=ra, account_type=1).amount
    available = available_to_allocate(ra)
    amount = (available / 25).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    assert amount * 26 > available >= amount * 25 and amount > 0
    customers = list(
        Customer.objects.filter(partner=ra, association_type="2", account__isnull=False).order_by(
            "customer_id"
        )[:5]
    )
    results: list = []
    barrier = threading.Barrier(40)

    def allocate(n: int) -> None:
        try:
            barrier.wait(10)
            results.append(
                request_adjustment(
                    partner=ra, kind="allocate", amount=amount, customer=customers[n % len(customers)]
                )
            )
        except Exception as error:
            results.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=allocate, args=(n,)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    made = [r for r in results if isinstance(r, Adjustment)]
    refused = [r for r in results if isinstance(r, ValidationError)]
    assert (len(made), len(refused)) == (25, 15), [r for r in results if not isinstance(r, Adjustment)][:3]
    assert {e.code for e in refused} == {"insufficient_balance"}

    with UpstreamClient.from_settings(rate_limit=0) as client:
        report = outbox.drain(client=client, time_budget=120)
    assert report.failed == 0
    assert Adjustment.objects.filter(status="succeeded").count() == 25
    # What left the partner's account arrived in its customers' accounts, to the cent.
    assert _total(ra) == before
    assert PartnerAccount.objects.get(partner=ra, account_type=1).amount == balance_before - amount * 25
