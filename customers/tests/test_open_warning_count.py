"""Customer.open_warning_count is maintained, and always equals a recount of the customer's pending warnings.

The list, its sort, its CSV and the badge read it instead of counting warnings per request (issue 13), so
every path that changes a warning's status or customer keeps it exact: the warnings sync, handling (one and
bulk), a refused push and the linking of warnings that arrived before their customer.
"""

from __future__ import annotations

import pytest
from django.db.models import Count

from customers import outbox, services
from customers.models import Customer, CustomerWarning
from customers.sync import _link_records
from upstream.client import UpstreamClient
from upstream.models import OutboxCommand, SyncRun
from upstream.sync import run_dataset

pytestmark = pytest.mark.django_db

PENDING = CustomerWarning.Status.PENDING


def recount() -> dict[int, int]:
    counted = dict(
        CustomerWarning.objects.filter(status=PENDING, customer__isnull=False)
        .values("customer")
        .annotate(n=Count("pk"))
        .values_list("customer", "n")
    )
    return {pk: counted.get(pk, 0) for pk in Customer.objects.values_list("pk", flat=True)}


def stored() -> dict[int, int]:
    return dict(Customer.objects.values_list("pk", "open_warning_count"))


def assert_exact() -> None:
    assert stored() == recount()


def sync(*names: str) -> None:
    with UpstreamClient.from_settings(rate_limit=0) as client:
        for name in names:
            run = run_dataset(name, client=client, mode="full")
            assert run.status == SyncRun.Status.SUCCEEDED, run.errors


@pytest.fixture
def synced(upstream_settings, partners):
    """Partners, customers and warnings from the simulator, through the real sync."""
    sync("indirect_partners", "customers", "warnings")
    return partners


def pending_of(user, n: int) -> list[CustomerWarning]:
    rows = CustomerWarning.objects.handleable_by(user).select_related("customer").order_by("pk")[:n]
    warnings = list(rows)
    assert len(warnings) == n
    return warnings


def test_the_sync_fills_the_counters_exactly(synced):
    assert_exact()
    assert sum(stored().values()) > 0  # the simulator has pending warnings: the test counts something
    # A second run (nothing changed) leaves them as they are.
    before = stored()
    sync("warnings")
    assert stored() == before


def test_handling_bulk_handling_and_a_refused_push_keep_the_counters_exact(synced, dist_admin):
    one, *more = pending_of(dist_admin, 4)
    before = stored()[one.customer_id]
    services.handle_warning(dist_admin, one, one.results()[0][0])
    assert stored()[one.customer_id] == before - 1
    assert_exact()

    outcome = services.bulk_handle_warnings(dist_admin, [w.pk for w in more], "LOST")
    assert len(outcome.handled) == 3
    assert_exact()

    # The upstream refuses the first result: pending again, counted again.
    command = OutboxCommand.objects.filter(object_id=str(one.pk)).get()
    outbox.on_failure(command, RuntimeError("CBC.0100 warning closed"))
    assert stored()[one.customer_id] == before
    assert_exact()

    # A sync while the others' results are still being sent keeps the portal's handling, and the counts.
    sync("warnings")
    assert_exact()


def test_warnings_linked_to_a_customer_that_arrives_later_are_counted(partners):
    for n in range(3):
        CustomerWarning.objects.create(
            partner=partners["ra"],
            customer_upstream_id="cust-late",
            warning_id=f"warn-late-{n}",
            scene_name="欠费预警",
            category=CustomerWarning.Category.ARREARS,
            title="Arrears",
            send_time="2026-11-01T00:00:00Z",
            status=PENDING if n else CustomerWarning.Status.HANDLED,
        )
    customer = Customer.objects.create(partner=partners["ra"], customer_id="cust-late", association_type="2")
    _link_records([customer.customer_id])
    customer.refresh_from_db()
    assert customer.open_warning_count == 2
    assert_exact()


def test_the_badge_is_the_handle_tabs_count_from_the_counters(synced, dist_admin, ra_admin, ra_sales):
    # Give ra-sales some customers, so that the badge sums managed and unmanaged customers alike.
    managed = Customer.objects.filter(partner=synced["ra"], open_warning_count__gt=0).order_by("pk")[:3]
    Customer.objects.filter(pk__in=[c.pk for c in managed]).update(account_manager=ra_sales)
    # And one pending warning whose customer is not mirrored: an admin owns it.
    CustomerWarning.objects.create(
        partner=synced["ra"],
        customer_upstream_id="cust-unknown",
        warning_id="warn-unknown-badge",
        scene_name="欠费预警",
        category=CustomerWarning.Category.ARREARS,
        title="Arrears",
        send_time="2026-11-01T00:00:00Z",
    )
    for user in (dist_admin, ra_admin, ra_sales):
        expected = CustomerWarning.objects.owned_by(user).pending().count()
        assert services.pending_count(user) == expected, user.username
    assert services.pending_count(ra_sales) > 0
