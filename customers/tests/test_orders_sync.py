"""The orders sync (issue 12): a full run mirrors every order, combinations with their orders; an incremental
run reads only what was created or paid since the last one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from customers.models import Customer, Order
from upstream.client import UpstreamClient
from upstream.sync import run_dataset

pytestmark = pytest.mark.django_db


def sync(*names, mode="full"):
    with UpstreamClient.from_settings(rate_limit=0) as client:
        runs = [run_dataset(name, client=client, mode=mode) for name in names]
    for run in runs:
        assert run.status == "succeeded", run.errors
    return runs[-1]


def upstream_orders(client, scope):
    return list(client.iter_all(client.list_customer_orders, indirect_partner_id=scope))


def test_a_full_sync_mirrors_every_order_and_each_combination_with_its_orders(upstream_settings, partners):
    sync("indirect_partners", "customers")
    run = sync("orders")
    with UpstreamClient.from_settings(rate_limit=0) as client:
        by_scope = {
            scope: upstream_orders(client, scope) for scope in (None, "ip-reseller-a", "ip-reseller-b")
        }
    heads = [o for orders in by_scope.values() for o in orders]
    children = [c for o in heads for c in o.sub_orders]
    assert heads and children, "the simulator gives combined orders"
    assert (run.rows_seen, run.rows_created, run.rows_updated) == (len(heads), len(heads) + len(children), 0)
    assert Order.objects.heads().count() == len(heads)
    assert Order.objects.filter(parent__isnull=False).count() == len(children)
    # Each under its scope's partner, linked to its customer, a combination's orders under their head.
    ra_ids = {o.order_id for o in by_scope["ip-reseller-a"]}
    assert (
        set(Order.objects.heads().filter(partner=partners["ra"]).values_list("order_id", flat=True)) == ra_ids
    )
    combined = next(o for o in heads if o.sub_orders)
    head = Order.objects.get(order_id=combined.order_id)
    assert head.is_combined and head.amount_after_discount == combined.amount_after_discount
    assert set(head.children.values_list("order_id", flat=True)) == {c.order_id for c in combined.sub_orders}
    assert head.customer == Customer.objects.get(customer_id=combined.customer_id)
    assert not Order.objects.filter(customer__isnull=True).exists()
    # Again: nothing new, nothing changed.
    again = sync("orders")
    assert (again.rows_seen, again.rows_created, again.rows_updated) == (len(heads), 0, 0)


def test_an_incremental_sync_reads_only_orders_created_or_paid_since(private_upstream, partners):
    sync("indirect_partners", "customers")
    full = sync("orders")
    waiting = Order.objects.heads().filter(partner=partners["dist"], status=6).order_by("order_id")
    paid, created = list(waiting[:2])
    now = timezone.now().replace(microsecond=0)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    private_upstream.patch_rows("orders", {"order_id": paid.order_id}, status=5, payment_time=stamp)
    private_upstream.patch_rows("orders", {"order_id": created.order_id}, create_time=stamp)
    run = sync("orders", mode="incremental")
    assert run.mode == "incremental"
    # Only the two (and what shares their last seconds): far fewer than a full run reads.
    assert 2 <= run.rows_seen < full.rows_seen / 4
    assert run.rows_created == 0 and run.rows_updated >= 2
    paid.refresh_from_db()
    created.refresh_from_db()
    assert (paid.status, paid.paid_at) == (5, now)
    assert created.ordered_at == now
    assert timezone.now() - created.updated_at < timedelta(minutes=1)
