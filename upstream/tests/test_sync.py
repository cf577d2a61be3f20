"""The sync runner against the running simulator: counts match, re-runs change nothing, gone is marked."""

from __future__ import annotations

import pytest

from billing.models import AdjustRecord, CustomerAccount, PartnerAccount
from customers.models import AssociationEvent, Customer, CustomerWarning
from upstream.client import RetryPolicy, UpstreamClient
from upstream.models import SyncRun, SyncSeen
from upstream.sync import datasets, run_dataset

pytestmark = pytest.mark.django_db


def _client(upstream_sim):
    return UpstreamClient.from_settings(rate_limit=0)


def sync_all(upstream_sim, **kwargs) -> dict[str, SyncRun]:
    with _client(upstream_sim) as client:
        return {d.name: run_dataset(d.name, client=client, **kwargs) for d in datasets()}


def _upstream_customers(client, scope):
    return list(client.iter_all(client.list_sub_customers, indirect_partner_id=scope))


def test_a_full_sync_mirrors_every_dataset(upstream_settings, upstream_sim, partners, ra_sales):
    runs = sync_all(upstream_sim)
    assert {r.status for r in runs.values()} == {SyncRun.Status.SUCCEEDED}, {
        n: r.errors for n, r in runs.items()
    }
    with _client(upstream_sim) as client:
        for key, scope in (("dist", None), ("ra", "ip-reseller-a"), ("rb", "ip-reseller-b")):
            upstream = _upstream_customers(client, scope)
            mirrored = Customer.objects.filter(partner=partners[key], disassociated_at__isnull=True)
            assert mirrored.count() == len(upstream) > 0
            resale = {c.customer_id for c in upstream if c.association_type == "2"}
            accounts = CustomerAccount.objects.filter(partner=partners[key])
            assert set(accounts.values_list("customer__customer_id", flat=True)) == resale
        warnings_total = sum(
            client.list_customer_warnings(indirect_partner_id=s, limit=1).total
            for s in (None, "ip-reseller-a", "ip-reseller-b")
        )
        records_total = sum(
            client.list_adjust_records(indirect_partner_id=s, limit=1).total
            for s in (None, "ip-reseller-a", "ip-reseller-b")
        )
    assert CustomerWarning.objects.count() == warnings_total > 0
    assert AdjustRecord.objects.count() == records_total
    assert PartnerAccount.objects.filter(partner=partners["dist"], account_type=1).exists()
    assert runs["customers"].rows_created == Customer.objects.count()
    assert runs["customers"].progress == 100
    # Account managers named upstream are linked to the portal's staff users of the same partner.
    assert Customer.objects.filter(account_manager=ra_sales).exists()
    assert not Customer.objects.exclude(partner=partners["ra"]).filter(account_manager=ra_sales).exists()
    assert not SyncSeen.objects.exists()


def test_re_running_a_full_sync_changes_nothing(upstream_settings, upstream_sim, partners):
    sync_all(upstream_sim)
    snapshot = list(Customer.objects.order_by("pk").values_list("pk", "updated_at"))
    again = sync_all(upstream_sim, mode="full")
    for name, run in again.items():
        assert run.status == SyncRun.Status.SUCCEEDED, run.errors
        assert (run.rows_created, run.rows_updated, run.rows_vanished) == (0, 0, 0), name
    assert list(Customer.objects.order_by("pk").values_list("pk", "updated_at")) == snapshot


def test_a_customer_removed_upstream_is_marked_disassociated_not_deleted(
    upstream_settings, upstream_sim, partners
):
    sync_all(upstream_sim)
    victim = Customer.objects.filter(partner=partners["ra"]).first()
    upstream_sim.remove_customer(victim.customer_id)
    with _client(upstream_sim) as client:
        run = run_dataset("customers", client=client, mode="full")
    assert run.rows_vanished == 1
    victim.refresh_from_db()
    assert victim.disassociated_at is not None
    assert Customer.objects.filter(disassociated_at__isnull=True, partner=partners["ra"]).count() == (
        Customer.objects.filter(partner=partners["ra"]).count() - 1
    )


def test_incremental_runs_pick_up_new_warnings_only(upstream_settings, upstream_sim, partners):
    with _client(upstream_sim) as client:
        for name in ("indirect_partners", "customers", "warnings"):
            run_dataset(name, client=client, mode="full")
        before = CustomerWarning.objects.count()
        upstream_sim.tick(warnings=3)
        run = run_dataset("warnings", client=client)
    assert run.mode == SyncRun.Mode.INCREMENTAL
    assert CustomerWarning.objects.count() == before + 3
    assert run.rows_created == 3
    assert run.rows_seen < before  # it did not read the whole list again


def test_association_records_link_to_customers(upstream_settings, upstream_sim, partners):
    sync_all(upstream_sim)
    assert AssociationEvent.objects.exists()
    linked = AssociationEvent.objects.filter(customer__isnull=False).count()
    assert linked > 0


def test_an_upstream_failure_fails_the_run_and_keeps_the_mirror(upstream_settings, upstream_sim, partners):
    sync_all(upstream_sim)
    count = Customer.objects.count()
    upstream_sim.set_faults(error_rate=1.0)
    with UpstreamClient.from_settings(
        rate_limit=0, retry=RetryPolicy(attempts=2, backoff_initial=0.05)
    ) as client:
        run = run_dataset("customers", client=client, mode="full")
    upstream_sim.clear_faults()
    assert run.status == SyncRun.Status.FAILED and "CBC.0999" in run.errors
    assert Customer.objects.filter(disassociated_at__isnull=True).count() == count
