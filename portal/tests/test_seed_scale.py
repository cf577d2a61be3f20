"""seed_scale adds a large partner's shape to the simulator and syncs all of it into the portal."""

from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, Q, Sum

from accounts.models import Partner
from billing.models import AdjustRecord, CustomerAccount
from customers.models import AssociationEvent, Customer, CustomerWarning
from customers.orders import Order
from upstream.simulator.testing import SimulatorProcess

pytestmark = pytest.mark.django_db

N = 50


def counts() -> dict[str, int]:
    return {
        "customers": Customer.objects.count(),
        "warnings": CustomerWarning.objects.count(),
        "events": AssociationEvent.objects.count(),
        "adjust_records": AdjustRecord.objects.count(),
        "orders": Order.objects.count(),
    }


def per_customer(model) -> set[int]:
    """How many rows of the model each customer has (every customer has some: no customer is left out)."""
    rows = model.objects.values("customer").annotate(n=Count("id"))
    assert {r["customer"] for r in rows} == set(Customer.objects.values_list("id", flat=True))
    return {r["n"] for r in rows}


def test_seed_scale_syncs_the_whole_shape_of_a_large_partner(tmp_path, settings, partners):
    with SimulatorProcess(customers=0, seed=3, data_dir=tmp_path / "sim", rate_limit=7) as sim:
        settings.UPSTREAM_ENDPOINT = sim.url
        call_command("seed_scale", customers=N)
        # 10 warnings, 3 association events, 2 adjust records and 2 orders for each customer, no more or less.
        assert counts() == {
            "customers": N,
            "warnings": 10 * N,
            "events": 3 * N,
            "adjust_records": 2 * N,
            "orders": 2 * N,
        }
        assert per_customer(CustomerWarning) == {10}
        assert per_customer(Order) == {2}
        assert per_customer(AssociationEvent) == {3}
        assert per_customer(AdjustRecord) == {2}
        # ~20% pending (binomial over 500: far inside these bounds).
        assert 50 <= CustomerWarning.objects.filter(status="PENDING").count() <= 150
        # Over the distributor and 20 resellers, which the partner sync brought in: 50 / 21 = 2 or 3 each.
        assert Partner.objects.filter(parent=partners["dist"]).count() == 20
        spread = Customer.objects.values("partner").annotate(n=Count("id")).values_list("n", flat=True)
        assert len(spread) == 21 and set(spread) <= {2, 3}
        # Each resale customer's balance is what its two adjust records add up to.
        resale = Customer.objects.filter(association_type="2")
        assert CustomerAccount.objects.count() == resale.count() > 0
        for customer in resale.select_related("account"):
            net = AdjustRecord.objects.filter(customer=customer).aggregate(
                net=Sum("amount", filter=Q(operation_type="SOURCE_OPERATION_BEADJUST"))
                - Sum("amount", filter=Q(operation_type="SOURCE_OPERATION_BERETRIEVE"))
            )["net"]
            assert net == customer.account.amount
        # The simulator gets its own rate limit back.
        assert sim.state()["rate_limit"] == 7

        call_command("seed_scale", customers=N)  # a second run adds exactly N more, with their history
        assert counts() == {
            "customers": 2 * N,
            "warnings": 20 * N,
            "events": 6 * N,
            "adjust_records": 4 * N,
            "orders": 4 * N,
        }
        assert (
            Decimal(str(sim.state()["customer_amount_total"]))
            == CustomerAccount.objects.aggregate(s=Sum("amount"))["s"]
        )


def test_seed_scale_can_leave_out_the_orders(tmp_path, settings, partners):
    with SimulatorProcess(customers=0, seed=3, data_dir=tmp_path / "sim") as sim:
        settings.UPSTREAM_ENDPOINT = sim.url
        call_command("seed_scale", customers=5, orders_per_customer=0)
    assert counts()["customers"] == 5 and counts()["orders"] == 0


def test_seed_scale_refuses_an_order_count_out_of_range():
    with pytest.raises(CommandError, match="from 0 to 20"):
        call_command("seed_scale", customers=5, orders_per_customer=21)
    assert Customer.objects.count() == 0


@pytest.mark.parametrize("customers", [0, -5, 1_000_001])
def test_seed_scale_refuses_a_count_out_of_range(customers):
    with pytest.raises(CommandError, match="from 1 to 1,000,000"):
        call_command("seed_scale", customers=customers)
    assert Customer.objects.count() == 0


def test_seed_scale_refuses_a_real_upstream(settings):
    settings.UPSTREAM_IS_SIMULATOR = False
    with pytest.raises(CommandError, match="simulator only"):
        call_command("seed_scale", customers=10)
