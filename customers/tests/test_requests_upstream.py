"""Association requests against the simulator: the account check, ApplyAssociationChange through the outbox
(applied once, a refusal fails the request, "already applied" is a success), and the unbind reclaim."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from customers import services
from customers.models import AssociationEvent, AssociationRequest, Customer
from upstream import outbox as upstream_outbox
from upstream.client import UpstreamClient
from upstream.errors import UpstreamError
from upstream.models import OutboxCommand, SyncRun
from upstream.outbox import drain
from upstream.sync import run_dataset

pytestmark = pytest.mark.django_db

Status = AssociationRequest.Status
Kind = AssociationRequest.Kind


def _candidate(
    partner, kind: str | None = None, *, resale_with_balance: bool = False
) -> tuple[Customer, str]:
    """A mirrored customer of `partner` whose account check for the change passes upstream now."""
    customers = Customer.objects.filter(partner=partner).associated().order_by("customer_id")
    if resale_with_balance:
        customers = customers.filter(association_type="2", balance__gt=0)
    with UpstreamClient.from_settings(rate_limit=0) as client:
        for customer in customers:
            if AssociationRequest.objects.filter(customer=customer).exists():
                continue
            change = kind or services.request_kinds(customer)[0]
            try:
                check = client.check_association_change(
                    customer.customer_id, change, indirect_partner_id=partner.indirect_partner_id
                )
            except UpstreamError:
                continue
            if check.passed:
                return customer, change
    raise AssertionError("no customer passes the account check")


def agreed_switch(
    partner, kind: str | None = None, *, resale_with_balance: bool = False
) -> AssociationRequest:
    """A request the customer agreed to (applying, its ApplyAssociationChange command written)."""
    customer, change = _candidate(partner, kind, resale_with_balance=resale_with_balance)
    now = timezone.now()
    with transaction.atomic():
        request = AssociationRequest.objects.create(
            partner=customer.partner,
            customer=customer,
            kind=change,
            direction=AssociationRequest.Direction.PARTNER,
            status=Status.PENDING_CUSTOMER,
            from_association_type=customer.association_type,
            reason="test",
            expires_at=now + timedelta(days=7),
        )
        request.start_applying(channel="email", notices_version=AssociationRequest.NOTICES_VERSION)
        services._enqueue_apply(request)
    return request


def sync(*datasets: str) -> None:
    with UpstreamClient.from_settings(rate_limit=0) as client:
        for name in datasets:
            run = run_dataset(name, client=client, mode="full")
            assert run.status == SyncRun.Status.SUCCEEDED, run.errors


@pytest.fixture
def synced(upstream_settings, partners, settings, monkeypatch):
    settings.OUTBOX_BACKOFF_SECONDS = 0
    settings.OUTBOX_RECONCILE_GRACE_SECONDS = 0
    settings.UPSTREAM_READ_TIMEOUT = 0.5
    monkeypatch.setattr(upstream_outbox, "schedule_drain", lambda key=None, *, countdown=None: None)
    sync("indirect_partners", "customers", "partner_balances", "customer_balances")
    return partners


def _drain():
    with UpstreamClient.from_settings(rate_limit=0) as client:
        return drain(client=client)


def test_the_account_check_reports_each_blocker_with_advice(synced, upstream_sim):
    customer, change = _candidate(synced["dist"])
    blockers = [{"code": "ARREARS", "message": "欠费"}, {"code": "UNEXPIRED_RI", "message": "预留实例"}]
    upstream_sim.patch_rows("customers", {"customer_id": customer.customer_id}, blockers=json.dumps(blockers))
    try:
        check = services.run_account_check(customer, change)
    finally:
        upstream_sim.patch_rows("customers", {"customer_id": customer.customer_id}, blockers="[]")
    assert not check.passed and [b.code for b in check.blockers] == ["ARREARS", "UNEXPIRED_RI"]
    assert all(b.advice for b in check.blockers)
    assert services.run_account_check(customer, change).passed


def _returned_customer(partner) -> tuple[Customer, datetime]:
    """A customer of `partner` that left of its own accord in the last 90 days and came back."""
    since = timezone.now() - timedelta(days=90)
    with UpstreamClient.from_settings(rate_limit=0) as client:
        records = client.list_association_records(
            operation_type="DISASSOCIATE", operation_time_begin=since, limit=100
        )
    for record in records:
        customer = Customer.objects.filter(partner=partner, customer_id=record.customer_id).first()
        if record.initiator == "CUSTOMER" and customer is not None and customer.is_associated:
            return customer, record.operation_time
    raise AssertionError("the generated world has no returned customer")


def test_the_platform_holds_the_partner_back_after_the_customers_own_disassociation(synced):
    """CheckAssociationChange answers COOLDOWN until 90 days after a customer-initiated disassociation, and
    ApplyAssociationChange refuses, even before the portal has synced the record that starts it."""
    customer, left = _returned_customer(synced["dist"])
    assert services.cooldown_until(customer) is None  # the record is not synced: only the platform knows
    until = left + timedelta(days=90)
    for kind in services.request_kinds(customer):
        check = services.run_account_check(customer, kind)
        cooldown = [b for b in check.blockers if b.code == "COOLDOWN"]
        assert not check.passed and len(cooldown) == 1, kind
        assert cooldown[0].label == str(services.BLOCKER_LABELS["COOLDOWN"])
        assert timezone.localtime(until).strftime("%Y-%m-%d") in cooldown[0].advice
    with UpstreamClient.from_settings(rate_limit=0) as client, pytest.raises(UpstreamError) as refused:
        client.apply_association_change(
            customer.customer_id, "DISASSOCIATE", reason="test", customer_confirmed_at=timezone.now()
        )
    assert "COOLDOWN" in str(refused.value.message)
    sync("association_records")
    assert services.cooldown_until(customer) == until


def test_an_agreed_switch_is_applied_upstream_once_with_one_event(synced):
    request = agreed_switch(synced["dist"])
    report = _drain()
    request.refresh_from_db()
    customer = Customer.objects.get(pk=request.customer_id)
    assert (report.succeeded, request.status) == (1, Status.APPROVED)
    assert customer.association_type == request.to_association_type and request.record_id
    with UpstreamClient.from_settings(rate_limit=0) as client:
        upstream = client.list_sub_customers(customer_id=customer.customer_id, limit=1).items[0]
    assert upstream.association_type == request.to_association_type
    sync("association_records", "customers")  # the platform's record of it stays the portal's one event
    events = AssociationEvent.objects.filter(customer=customer, record_id=request.record_id)
    assert [(e.source, e.operation) for e in events] == [("portal", "SWITCH")]


def test_an_upstream_refusal_fails_the_request_with_the_reason(synced, upstream_sim):
    request = agreed_switch(synced["dist"])
    cid = request.customer.customer_id
    upstream_sim.patch_rows(
        "customers", {"customer_id": cid}, blockers=json.dumps([{"code": "ARREARS", "message": "欠费"}])
    )
    try:
        report = _drain()
    finally:
        upstream_sim.patch_rows("customers", {"customer_id": cid}, blockers="[]")
    request.refresh_from_db()
    assert (report.failed, request.status) == (1, Status.FAILED) and "ARREARS" in request.failure_reason
    assert Customer.objects.get(pk=request.customer_id).association_type == request.from_association_type
    assert not AssociationEvent.objects.filter(customer_id=request.customer_id, source="portal").exists()


def test_a_change_already_made_upstream_is_a_success(synced):
    request = agreed_switch(synced["dist"])
    with UpstreamClient.from_settings(rate_limit=0) as client:
        client.apply_association_change(
            request.customer.customer_id, request.kind, reason="console", customer_confirmed_at=timezone.now()
        )
    report = _drain()
    request.refresh_from_db()
    command = OutboxCommand.objects.get(object_id=str(request.pk), object_type="customers.associationrequest")
    assert (report.failed, request.status) == (0, Status.APPROVED) and command.result["reconciled"] is True


def test_a_resale_disassociation_reclaims_the_balance_upstream(synced, upstream_sim):
    request = agreed_switch(synced["dist"], Kind.DISASSOCIATE, resale_with_balance=True)
    _drain()
    request.refresh_from_db()
    assert request.status == Status.APPROVED
    assert Customer.objects.get(pk=request.customer_id).disassociated_at is not None
    records = upstream_sim.adjust_records(request.customer.customer_id)
    assert records[-1]["operation_type"] == "SOURCE_OPERATION_BEUNBIND"
