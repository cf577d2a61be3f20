"""The ledger never loses a cent: 40 allocations at once against a balance that covers 25, sent through the
outbox to the simulator, leave the partner's balance plus its customers' balances exactly as they were."""

from __future__ import annotations

import threading
from decimal import ROUND_DOWN, Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Sum
from hypothesis import HealthCheck
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

from billing.models import Adjustment, CustomerAccount, PartnerAccount
from billing.services import (
    available_to_allocate,
    check_batch,
    create_batch_adjustments_now,
    request_adjustment,
    start_batch,
)
from customers.models import Customer
from upstream import outbox
from upstream.client import UpstreamClient
from upstream.models import OutboxCommand, SyncRun
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


# --- any sequence of allocations, reclaims and batches over two tiers, through faults ----------------------


class LedgerMachine(RuleBasedStateMachine):
    """Random allocate / reclaim / batch sequences over both tiers (the distributor with its resellers, each
    partner with its customers), drained through 500s and apply-then-time-out. Invariants, read back from the
    platform once everything has settled: no money appears or vanishes (the sum over every account is the
    same), and each account moved by exactly the adjustments the portal reports succeeded, each once."""

    sim = None
    partners: dict = {}
    outcomes_unknown = 0  # sends whose outcome the faults hid, over the whole run

    def __init__(self):
        super().__init__()
        partners = self.partners
        self.resellers = [partners["ra"], partners["rb"]]
        self.customers = {
            key: list(
                Customer.objects.filter(
                    partner=partners[key], association_type="2", account__isnull=False
                ).order_by("customer_id")[:2]
            )
            for key in ("dist", "ra", "rb")
        }
        self.start = _accounts()
        self.seen = set(Adjustment.objects.values_list("pk", flat=True))
        self.moves: dict[str, Decimal] = {}

    def _counterparties(self):
        return [("customer", c) for cs in self.customers.values() for c in cs] + [
            ("reseller", r) for r in self.resellers
        ]

    def _request(self, kind: str, target, cents: int) -> None:
        what, obj = target
        before = Adjustment.objects.count()
        payer = self.partners["dist"] if what == "reseller" else obj.partner
        try:
            request_adjustment(partner=payer, kind=kind, amount=Decimal(cents) / 100, **{what: obj})
        except ValidationError:
            assert Adjustment.objects.count() == before, "a refused adjustment was written"

    @rule(data=st.data(), cents=st.integers(1, 400_00), kind=st.sampled_from(["allocate", "reclaim"]))
    def adjust(self, data, cents, kind):
        self._request(kind, data.draw(st.sampled_from(self._counterparties())), cents)

    @rule(key=st.sampled_from(["dist", "ra"]), cents=st.lists(st.integers(1, 200_00), min_size=1, max_size=3))
    def batch(self, key, cents):
        partner = self.partners[key]
        text = "\n".join(
            f"{self.customers[key][n % 2].customer_id},{Decimal(c) / 100}" for n, c in enumerate(cents)
        )
        rows = check_batch(
            acting_partner=partner,
            visible_customers=Customer.objects.filter(partner=partner),
            kind="allocate",
            text=text,
        )
        try:
            made = start_batch(acting_partner=partner, kind="allocate", rows=rows, requested_by=None)
        except ValidationError:
            assert not any(row.valid for row in rows)
            return
        create_batch_adjustments_now(made.pk)

    @precondition(lambda self: OutboxCommand.objects.filter(status="pending").exists())
    @rule(
        # Apply-then-time-out first: the fault the ledger must survive, and the one Hypothesis draws most.
        fault=st.sampled_from(
            [
                {
                    "apply_then_timeout": {
                        "operations": [
                            "UpdateCustomerAccountAmount",
                            "ReclaimToPartnerAccount",
                            "UpdateIndirectPartnerAccount",
                            "ReclaimIndirectPartnerAccount",
                        ],
                        "rate": 1.0,
                        "hang_seconds": 1,
                    }
                },
                {"error_rate": 0.3},
            ]
        )
    )
    def drain_through_a_fault(self, fault):
        self.sim.set_faults(**fault)
        try:
            with UpstreamClient.from_settings(rate_limit=0) as client:
                report = outbox.drain(client=client, time_budget=30)
        finally:
            self.sim.clear_faults()
        LedgerMachine.outcomes_unknown += report.unknown

    def teardown(self):
        """Settle: drain until nothing is in flight, then compare the platform's accounts with the ledger."""
        import time

        with UpstreamClient.from_settings(rate_limit=0) as client:
            for _ in range(20):
                if not OutboxCommand.objects.exclude(status__in=["succeeded", "failed"]).exists():
                    break
                time.sleep(0.3)  # past the reconcile grace
                outbox.drain(client=client, time_budget=30)
        assert not Adjustment.objects.filter(status__in=Adjustment.OPEN_STATUSES).exists()
        end = _accounts()
        assert sum(end.values()) == sum(self.start.values()), "money appeared or vanished"
        expected = dict(self.start)
        for adj in Adjustment.objects.exclude(pk__in=self.seen).filter(status="succeeded"):
            sign = 1 if adj.kind == "allocate" else -1
            payer = f"partner:{adj.partner_id}"
            receiver = f"customer:{adj.customer_id}" if adj.customer_id else f"partner:{adj.reseller_id}"
            expected[payer] -= sign * adj.amount
            expected[receiver] += sign * adj.amount
        assert end == expected, "an account moved by other than its succeeded adjustments"


def _accounts() -> dict[str, Decimal]:
    """Every balance account of the three partners and their customers, as the platform reports them."""
    _sync()
    accounts = {
        f"partner:{a.partner_id}": a.amount
        for a in PartnerAccount.objects.filter(account_type=PartnerAccount.AccountType.BALANCE)
    }
    accounts.update({f"customer:{a.customer_id}": a.amount for a in CustomerAccount.objects.all()})
    return accounts


def test_any_sequence_of_adjustments_through_faults_keeps_every_cent(
    private_upstream, partners, settings, monkeypatch
):
    settings.UPSTREAM_READ_TIMEOUT = 0.5
    settings.OUTBOX_RECONCILE_GRACE_SECONDS = 0.2
    settings.OUTBOX_BACKOFF_SECONDS = 0
    monkeypatch.setattr(outbox, "schedule_drain", lambda key=None, *, countdown=None: None)
    _sync()
    LedgerMachine.sim = private_upstream
    LedgerMachine.partners = partners
    # Derandomized: the same sequences on every run, so CI does not pass or fail by luck (a random run could
    # miss apply-then-time-out altogether, which the last assertion checks it does not).
    LedgerMachine.outcomes_unknown = 0
    LedgerMachine.TestCase.settings = hsettings(
        max_examples=6,
        stateful_step_count=6,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    LedgerMachine.TestCase().runTest()
    assert LedgerMachine.outcomes_unknown > 0, "no example went through apply-then-time-out"
