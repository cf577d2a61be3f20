"""Discounts and dedicated offers pushed through the outbox against the simulator (issue 10).

Each kind reads the upstream before anything is resent: an apply-then-time-out is found applied and never
sent twice; a refusal whose change is already upstream is a success.
"""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing import services
from billing.models import DedicatedOffer, PartnerDiscount
from billing.sync import DEDICATED_OFFERS
from customers.models import Customer
from upstream import outbox
from upstream.client import UpstreamClient
from upstream.models import OutboxCommand
from upstream.sync import run_dataset

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_broker(monkeypatch):
    monkeypatch.setattr(outbox, "schedule_drain", lambda key=None, *, countdown=None: None)
    emails: list = []
    monkeypatch.setattr(services, "_notify_set", lambda pk: emails.append(pk))
    return emails


@pytest.fixture
def synced(upstream_settings, partners, no_broker, settings):
    settings.UPSTREAM_READ_TIMEOUT = 0.5
    settings.OUTBOX_RECONCILE_GRACE_SECONDS = 0
    with UpstreamClient.from_settings(rate_limit=0) as client:
        for name in ("indirect_partners", "customers"):
            run = run_dataset(name, client=client, mode="full")
            assert run.status == "succeeded", run.errors
    return partners


def customer_of(partner, association_type="1") -> Customer:
    return (
        Customer.objects.filter(
            partner=partner, association_type=association_type, disassociated_at__isnull=True
        )
        .exclude(account_name="")
        .order_by("customer_id")
        .first()
    )


def drain():
    with UpstreamClient.from_settings(rate_limit=0) as client:
        return outbox.drain(client=client)


def calls(sim, operation: str) -> int:
    return sim.state().get("calls_by_operation", {}).get(operation, 0)


def when(days: int = 30):
    start = (timezone.now() + timedelta(minutes=2)).replace(microsecond=0)
    return start, start + timedelta(days=days)


def upstream_discount(customer):
    with UpstreamClient.from_settings(rate_limit=0) as client:
        return client.get_partner_discount(
            customer.customer_id, indirect_partner_id=customer.partner.indirect_partner_id
        )


def test_a_discount_reaches_the_upstream_and_the_customer_is_told(
    synced, upstream_sim, django_capture_on_commit_callbacks, no_broker
):
    customer = customer_of(synced["ra"])
    start, end = when()
    discount = services.set_partner_discount(
        customer=customer, rate="0.8765", effective_time=start, expire_time=end
    )
    with django_capture_on_commit_callbacks(execute=True):
        report = drain()
    discount.refresh_from_db()
    assert report.succeeded == 1 and discount.push_status == "applied"
    assert no_broker == [discount.pk]
    upstream = upstream_discount(customer)
    assert (upstream.discount, upstream.effective_time, upstream.expire_time) == (
        Decimal("0.8765"),
        start,
        end,
    )


def test_a_discount_applied_then_timed_out_is_found_and_not_sent_again(synced, upstream_sim):
    customer = customer_of(synced["ra"])
    start, end = when()
    discount = services.set_partner_discount(
        customer=customer, rate="0.81", effective_time=start, expire_time=end
    )
    before = calls(upstream_sim, "SetPartnerDiscount")
    upstream_sim.set_faults(
        apply_then_timeout={"operations": ["SetPartnerDiscount"], "rate": 1.0, "hang_seconds": 1}
    )
    first = drain()
    upstream_sim.clear_faults()
    discount.refresh_from_db()
    assert first.unknown == 1 and discount.push_status == "pending"
    time.sleep(0.6)
    second = drain()
    discount.refresh_from_db()
    assert (second.reconciled_found, second.sent) == (1, 0)
    assert discount.push_status == "applied"
    assert calls(upstream_sim, "SetPartnerDiscount") == before + 1
    assert OutboxCommand.objects.get(object_id=str(discount.pk)).result["reconciled"] is True


def test_a_discount_the_platform_refuses_is_marked_refused_with_its_reason(synced, upstream_sim):
    customer = customer_of(synced["ra"])
    start, end = when()
    discount = services.set_partner_discount(
        customer=customer, rate="0.9", effective_time=start, expire_time=end
    )
    # The customer became a resale customer upstream meanwhile: the platform refuses (CBC.5024).
    upstream_sim.patch_rows("customers", {"customer_id": customer.customer_id}, association_type="2")
    try:
        report = drain()
    finally:
        upstream_sim.patch_rows("customers", {"customer_id": customer.customer_id}, association_type="1")
    discount.refresh_from_db()
    assert report.failed == 1 and discount.push_status == "refused"
    assert "CBC.5024" in discount.error_message or "association type" in discount.error_message


def test_an_offer_is_created_and_a_timed_out_create_is_found_by_name(synced, upstream_sim):
    customer = customer_of(synced["ra"])
    start, end = when()
    offer = services.create_dedicated_offer(
        customer=customer, name="Portal offer A", product_ids="ecs.c6", effective_time=start, expire_time=end
    )
    assert drain().succeeded == 1
    offer.refresh_from_db()
    assert offer.status == "ACTIVE" and offer.offer_id
    second = services.create_dedicated_offer(
        customer=customer, name="Portal offer B", product_ids="obs", effective_time=start, expire_time=end
    )
    before = calls(upstream_sim, "CreateDedicatedOffer")
    upstream_sim.set_faults(
        apply_then_timeout={"operations": ["CreateDedicatedOffer"], "rate": 1.0, "hang_seconds": 1}
    )
    assert drain().unknown == 1
    upstream_sim.clear_faults()
    time.sleep(0.6)
    report = drain()
    second.refresh_from_db()
    assert (report.reconciled_found, report.sent) == (1, 0)
    assert second.status == "ACTIVE" and second.offer_id
    assert calls(upstream_sim, "CreateDedicatedOffer") == before + 1


def test_an_invalidation_applied_then_timed_out_is_confirmed_once(synced, upstream_sim):
    customer = customer_of(synced["ra"])
    start, end = when()
    offer = services.create_dedicated_offer(
        customer=customer, name="To invalidate", product_ids="ecs", effective_time=start, expire_time=end
    )
    drain()
    offer.refresh_from_db()
    services.invalidate_dedicated_offer(offer=offer, reason="Customer asked")
    upstream_sim.set_faults(
        apply_then_timeout={"operations": ["InvalidateDedicatedOffer"], "rate": 1.0, "hang_seconds": 1}
    )
    assert drain().unknown == 1
    upstream_sim.clear_faults()
    offer.refresh_from_db()
    assert offer.is_invalidating
    time.sleep(0.6)
    report = drain()
    offer.refresh_from_db()
    assert (report.reconciled_found, report.sent) == (1, 0)
    assert offer.status == "INVALIDATED" and not offer.is_invalidating


def test_an_invalidation_refused_because_it_is_already_done_upstream_is_a_success(synced, upstream_sim):
    customer = customer_of(synced["ra"])
    start, end = when()
    offer = services.create_dedicated_offer(
        customer=customer, name="Done elsewhere", product_ids="ecs", effective_time=start, expire_time=end
    )
    drain()
    offer.refresh_from_db()
    services.invalidate_dedicated_offer(offer=offer, reason="r")
    upstream_sim.patch_rows("dedicated_offers", {"offer_id": offer.offer_id}, status="INVALIDATED")
    report = drain()
    offer.refresh_from_db()
    assert report.succeeded == 1 and offer.status == "INVALIDATED"


def test_an_invalidation_the_platform_refuses_leaves_the_offer_with_the_reason(synced, upstream_sim):
    customer = customer_of(synced["ra"])
    start, end = when()
    offer = services.create_dedicated_offer(
        customer=customer, name="Expired elsewhere", product_ids="ecs", effective_time=start, expire_time=end
    )
    drain()
    offer.refresh_from_db()
    services.invalidate_dedicated_offer(offer=offer, reason="r")
    upstream_sim.patch_rows("dedicated_offers", {"offer_id": offer.offer_id}, status="EXPIRED")
    report = drain()
    offer.refresh_from_db()
    assert report.failed == 1 and offer.status == "ACTIVE" and not offer.is_invalidating
    assert "EXPIRED" in offer.error_message


def test_the_sync_gives_a_creating_offer_its_id_instead_of_a_second_row(synced, upstream_sim):
    customer = customer_of(synced["ra"])
    start, end = when()
    offer = services.create_dedicated_offer(
        customer=customer, name="Synced first", product_ids="ecs", effective_time=start, expire_time=end
    )
    # Created upstream, but the answer is lost and the sync runs before the reconcile.
    upstream_sim.set_faults(
        apply_then_timeout={"operations": ["CreateDedicatedOffer"], "rate": 1.0, "hang_seconds": 1}
    )
    drain()
    upstream_sim.clear_faults()
    with UpstreamClient.from_settings(rate_limit=0) as client:
        run = run_dataset(DEDICATED_OFFERS.name, client=client, mode="full")
    assert run.status == "succeeded", run.errors
    offer.refresh_from_db()
    assert offer.offer_id and offer.status == "ACTIVE"
    assert DedicatedOffer.objects.filter(name="Synced first").count() == 1
    time.sleep(0.6)
    drain()
    offer.refresh_from_db()
    assert offer.status == "ACTIVE"
    assert (
        OutboxCommand.objects.get(object_id=str(offer.pk), kind=services.CREATE_OFFER).status == "succeeded"
    )


def test_the_sync_never_brings_an_expired_offer_back(synced, upstream_sim):
    with UpstreamClient.from_settings(rate_limit=0) as client:
        run_dataset(DEDICATED_OFFERS.name, client=client, mode="full")
    offer = DedicatedOffer.objects.filter(status="ACTIVE").first()
    assert offer is not None
    upstream_sim.patch_rows(
        "dedicated_offers", {"offer_id": offer.offer_id}, expire_time="2020-01-01T00:00:00Z"
    )
    with UpstreamClient.from_settings(rate_limit=0) as client:
        run_dataset(DEDICATED_OFFERS.name, client=client, mode="full")
    offer.refresh_from_db()
    assert offer.status == "EXPIRED"
    assert not PartnerDiscount.objects.exists()
