"""Every outbox command type reads the upstream before any resend (apply-then-time-out for each), the
command's transition table, and the operators' "Mark applied" admin action."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from billing.models import Adjustment, PartnerAccount
from billing.services import request_adjustment
from customers.models import CustomerWarning
from customers.services import handle_warning
from upstream import outbox
from upstream.client import UpstreamClient
from upstream.models import OutboxCommand, OutboxStateError, SyncRun
from upstream.outbox import drain
from upstream.sync import run_dataset
from upstream.tests.test_outbox import resale_customer, sync_from_upstream

Status = OutboxCommand.Status

# Every command type the portal registers, with the upstream operation it calls. A new kind must be added here
# (the first test fails until it is), and so gets its own apply-then-time-out test below.
OPERATIONS = {
    "customers.handle_warning": "HandleCustomerWarning",
    "billing.allocate": "UpdateCustomerAccountAmount",
    "billing.reclaim": "ReclaimToPartnerAccount",
    "billing.allocate_reseller": "UpdateIndirectPartnerAccount",
    "billing.reclaim_reseller": "ReclaimIndirectPartnerAccount",
    "customers.apply_association_change": "ApplyAssociationChange",
    # discounts and dedicated offers (issue 10)
    "billing.set_partner_discount": "SetPartnerDiscount",
    "billing.create_dedicated_offer": "CreateDedicatedOffer",
    "billing.invalidate_dedicated_offer": "InvalidateDedicatedOffer",
    # partner payment of customers' orders (issue 12)
    "customers.pay_order": "PayOrders",
    "customers.reject_partner_pay_order": "RejectPartnerPayOrder",
}
ORDER_KINDS = {"customers.pay_order": "pay", "customers.reject_partner_pay_order": "reject"}
DISCOUNT_KINDS = (
    "billing.set_partner_discount",
    "billing.create_dedicated_offer",
    "billing.invalidate_dedicated_offer",
)


@pytest.fixture
def synced(upstream_settings, partners):
    sync_from_upstream()
    with UpstreamClient.from_settings(rate_limit=0) as client:
        run = run_dataset("warnings", client=client, mode="full")
    assert run.status == SyncRun.Status.SUCCEEDED, run.errors
    return partners


def _warning_command(partners, user) -> tuple[OutboxCommand, object]:
    warning = next(
        w
        for w in CustomerWarning.objects.filter(partner=partners["dist"]).pending().order_by("send_time")
        if w.can_be_handled_by(user)
    )
    result = warning.results()[0][0]
    handle_warning(user, warning, result)
    command = OutboxCommand.objects.get(object_type="customers.customerwarning", object_id=str(warning.pk))
    return command, warning


def _association_command(partners) -> tuple[OutboxCommand, object]:
    """A switch the customer agreed to, for a distributor's customer whose account check passes upstream."""
    from customers.tests.test_requests_upstream import agreed_switch

    request = agreed_switch(partners["dist"])
    command = OutboxCommand.objects.get(object_type="customers.associationrequest", object_id=str(request.pk))
    return command, request


def _order_command(partners, user, kind: str) -> tuple[OutboxCommand, object]:
    """A payment (or rejection) of one of the distributor's orders awaiting its payment, the cheapest."""
    from customers.models import Order
    from customers.payments import request_partner_payment

    with UpstreamClient.from_settings(rate_limit=0) as client:
        for name in ("partner_balances", "orders"):
            assert run_dataset(name, client=client, mode="full").status == SyncRun.Status.SUCCEEDED
    order = (
        Order.objects.heads()
        .awaiting_partner_payment()
        .filter(partner=partners["dist"], payments__isnull=True)
        .order_by("amount_after_discount", "order_id")
        .first()
    )
    payment = request_partner_payment(user, order, ORDER_KINDS[kind], reason="reconcile")
    command = OutboxCommand.objects.get(object_type="customers.partnerpayment", object_id=str(payment.pk))
    return command, payment


def _discount_command(partners, kind: str) -> tuple[OutboxCommand, object]:
    """A partner discount, a new dedicated offer, or an active offer to invalidate (a referral customer)."""
    from billing import services as billing_services
    from billing.models import DedicatedOffer
    from customers.models import Customer

    customer = (
        Customer.objects.filter(partner=partners["dist"], association_type="1", disassociated_at__isnull=True)
        .exclude(account_name="")
        .order_by("customer_id")
        .first()
    )
    start = (timezone.now() + timedelta(minutes=5)).replace(microsecond=0)
    end = start + timedelta(days=30)
    name = f"reconcile {time.monotonic_ns()}"
    if kind == "billing.set_partner_discount":
        obj = billing_services.set_partner_discount(
            customer=customer, rate="0.8888", effective_time=start, expire_time=end
        )
    elif kind == "billing.create_dedicated_offer":
        obj = billing_services.create_dedicated_offer(
            customer=customer, name=name, product_ids="ecs", effective_time=start, expire_time=end
        )
    else:
        with UpstreamClient.from_settings(rate_limit=0) as client:
            created = client.create_dedicated_offer(
                name=name,
                customer_account_name=customer.account_name,
                product_ids=["ecs"],
                effective_time=start,
                expire_time=end,
            )
        offer = DedicatedOffer.objects.create(
            partner=customer.partner,
            offer_id=created.offer_id,
            name=name,
            customer=customer,
            customer_account_name=customer.account_name,
            status=DedicatedOffer.Status.ACTIVE,
            effective_time=start,
            expire_time=end,
        )
        obj = billing_services.invalidate_dedicated_offer(offer=offer, reason="reconcile")
    return OutboxCommand.objects.get(kind=kind, object_id=str(obj.pk)), obj


def _adjustment_command(partners, kind: str, amount: str = "2.34") -> tuple[OutboxCommand, Adjustment]:
    # Each test its own amount: the session simulator keeps the records of the tests before.
    if kind in ("billing.allocate", "billing.reclaim"):
        customer = resale_customer(partners["dist"], 4)
        if kind == "billing.reclaim":
            customer.account.amount = max(
                customer.account.amount, Decimal("10")
            )  # the check is the upstream's
            customer.account.save()
        adjustment = request_adjustment(
            partner=customer.partner,
            kind=Adjustment.Kind.ALLOCATE if kind == "billing.allocate" else Adjustment.Kind.RECLAIM,
            amount=Decimal(amount),
            customer=customer,
        )
    else:
        PartnerAccount.objects.filter(partner=partners["rb"]).update(amount=Decimal("1000"))
        adjustment = request_adjustment(
            partner=partners["dist"],
            kind=Adjustment.Kind.ALLOCATE if kind == "billing.allocate_reseller" else Adjustment.Kind.RECLAIM,
            amount=Decimal(amount),
            reseller=partners["rb"],
        )
    command = OutboxCommand.objects.get(object_type="billing.adjustment", object_id=str(adjustment.pk))
    assert command.kind == kind
    return command, adjustment


# Command types whose apply-then-time-out test lives with their feature (module, test function).
RECONCILED_ELSEWHERE = {
    "customers.create_sub_customer": (
        "customers.tests.test_onboarding",
        "test_a_create_applied_upstream_then_timed_out_is_found_and_not_created_again",
    ),
    "customers.submit_realname": (
        "customers.tests.test_onboarding_realname",
        "test_a_verification_applied_upstream_then_timed_out_is_read_back_and_not_submitted_again",
    ),
    "customers.accept_invitation": (
        "customers.tests.test_invitations",
        "test_an_acceptance_applied_then_timed_out_is_found_and_not_associated_again",
    ),
}


def test_every_command_type_reads_the_upstream_before_a_resend():
    import importlib

    assert set(outbox.HANDLERS) == set(OPERATIONS) | set(RECONCILED_ELSEWHERE)
    for module, name in RECONCILED_ELSEWHERE.values():
        assert callable(getattr(importlib.import_module(module), name))
    assert all(handler.reconcile is not None for handler in outbox.HANDLERS.values())


@pytest.mark.django_db
@pytest.mark.parametrize("kind", list(OPERATIONS))
def test_applied_then_timed_out_is_reconciled_as_succeeded_for_every_command_type(
    kind, synced, upstream_sim, scheduled, fast_outbox, dist_admin
):
    if kind == "customers.handle_warning":
        command, obj = _warning_command(synced, dist_admin)
    elif kind == "customers.apply_association_change":
        command, obj = _association_command(synced)
    elif kind in DISCOUNT_KINDS:
        command, obj = _discount_command(synced, kind)
    elif kind in ORDER_KINDS:
        command, obj = _order_command(synced, dist_admin, kind)
    else:
        command, obj = _adjustment_command(synced, kind)
        if kind == "billing.reclaim":  # the customer needs money upstream to take back: give it first
            with UpstreamClient.from_settings(rate_limit=0) as client:
                client.allocate_to_customer(obj.customer.customer_id, "5.00")
    counter = obj.reseller.upstream_id if kind.endswith("_reseller") else None
    before = len(upstream_sim.adjust_records(counter)) if counter else None

    upstream_sim.set_faults(
        apply_then_timeout={"operations": [OPERATIONS[kind]], "rate": 1.0, "hang_seconds": 2}
    )
    with UpstreamClient.from_settings(rate_limit=0) as client:
        first = drain(client=client)
        upstream_sim.clear_faults()
        command.refresh_from_db()
        assert (first.sent, first.unknown, command.status) == (1, 1, Status.UNKNOWN)
        time.sleep(0.6)  # the look-up waits until the read timeout has certainly passed
        second = drain(client=client)

    command.refresh_from_db()
    assert (second.reconciled_found, second.sent, second.failed) == (1, 0, 0), command.last_error
    assert command.status == Status.SUCCEEDED and command.attempts == 1
    assert command.result["reconciled"] is True
    obj.refresh_from_db()
    if kind == "customers.handle_warning":
        assert obj.push_pending is False and obj.push_error == ""
        assert obj.status == CustomerWarning.Status.HANDLED
    elif kind == "customers.apply_association_change":
        assert obj.status == "approved" and obj.record_id == command.result["record_id"] != ""
        assert obj.customer.events.filter(source="portal").count() == 1  # applied once
    elif kind == "billing.set_partner_discount":
        assert obj.push_status == "applied"
    elif kind == "billing.create_dedicated_offer":
        assert obj.status == "ACTIVE" and obj.offer_id == command.result["offer_id"]
    elif kind == "billing.invalidate_dedicated_offer":
        assert obj.status == "INVALIDATED" and not obj.is_invalidating
    elif kind in ORDER_KINDS:
        assert obj.status == "succeeded"
        with UpstreamClient.from_settings(rate_limit=0) as client:
            [found] = client.list_customer_orders(order_id=obj.order.order_id).items
        # Paid once (a second payment of a paid order would have been refused and failed the command), or
        # handed back to the customer.
        assert (found.status, found.is_agent_pay) == (
            (5, True) if kind == "customers.pay_order" else (6, False)
        )
    else:
        assert obj.status == Adjustment.Status.SUCCEEDED
        assert obj.upstream_transaction_id == command.result["transaction_id"]
        if counter:
            new = upstream_sim.adjust_records(counter)[before:]
            assert [r["trans_id"] for r in new] == [obj.upstream_transaction_id]  # applied once


@pytest.mark.django_db
def test_a_warning_already_handled_upstream_as_asked_is_a_success_not_a_failure(
    synced, upstream_sim, scheduled, fast_outbox, dist_admin
):
    command, warning = _warning_command(synced, dist_admin)
    with UpstreamClient.from_settings(rate_limit=0) as client:
        # Another send got through (a worker died after the call): the upstream says "already handled".
        client.handle_customer_warning(
            warning.warning_id, command.payload["result"], indirect_partner_id=None
        )
        report = drain(client=client)
    command.refresh_from_db()
    warning.refresh_from_db()
    assert (report.succeeded, report.failed) == (1, 0)
    assert command.status == Status.SUCCEEDED and warning.push_pending is False and not warning.push_error


@pytest.mark.django_db
def test_a_warning_handled_upstream_with_another_result_fails_with_the_upstreams_message(
    synced, upstream_sim, scheduled, fast_outbox, dist_admin
):
    warning = None
    with UpstreamClient.from_settings(rate_limit=0) as client:
        for _ in range(10):  # churn warnings arrive among the others: let the platform send some
            churn = CustomerWarning.objects.filter(partner=synced["dist"], category="CHURN").pending()
            warning = next((w for w in churn if w.can_be_handled_by(dist_admin)), None)
            if warning is not None:
                break
            upstream_sim.tick(warnings=20)
            run_dataset("warnings", client=client, mode="full")
        assert warning is not None
        handle_warning(dist_admin, warning, "LOST")
        client.handle_customer_warning(warning.warning_id, "NOT_LOST")
        report = drain(client=client)
    command = OutboxCommand.objects.get(object_type="customers.customerwarning", object_id=str(warning.pk))
    assert (report.failed, command.status) == (1, Status.FAILED)
    assert "already handled" in command.last_error


@pytest.mark.django_db
def test_a_reseller_transfer_not_found_upstream_waits_for_a_person_and_is_looked_up_again(
    synced, upstream_sim, scheduled, fast_outbox
):
    command, adjustment = _adjustment_command(synced, "billing.allocate_reseller", "2.71")
    # The worker died after claiming it; nothing reached the upstream. Not found proves nothing here.
    adjustment.mark_sent()
    OutboxCommand.objects.filter(pk=command.pk).update(
        status=Status.UNKNOWN, attempts=1, sent_at=timezone.now() - timedelta(seconds=5)
    )
    with UpstreamClient.from_settings(rate_limit=0) as client:
        report = drain(client=client)
    command.refresh_from_db()
    assert (report.reconciled_missing, report.waiting, report.sent) == (1, 1, 0)
    assert command.status == Status.UNKNOWN and "a person must check the upstream" in command.last_error
    assert command.next_attempt_at > timezone.now() + timedelta(minutes=4)  # looked up again later


# --- the transition table -----------------------------------------------------------------------------------

ALL = list(Status)
ALLOWED = {(source, to) for source, targets in OutboxCommand.TRANSITIONS.items() for to in targets}
EDGES = [(source, to) for source in ALL for to in ALL]

MOVES = {
    Status.SENDING: lambda c: c.mark_sending(lease_until=timezone.now()),
    Status.SUCCEEDED: lambda c: c.mark_succeeded({"ok": True}),
    Status.FAILED: lambda c: c.mark_failed("refused\x00"),
    Status.UNKNOWN: lambda c: c.mark_unknown(check_at=timezone.now(), error="timeout"),
}


def _move_to(command: OutboxCommand, source: str, to: str) -> None:
    if to == Status.PENDING:
        if source == Status.FAILED:
            command.mark_retried_by_operator()
        else:
            command.mark_retry(at=timezone.now(), error="again")
    else:
        MOVES[to](command)


@pytest.mark.django_db
@pytest.mark.parametrize("source,to", EDGES, ids=[f"{s}-{t}" for s, t in EDGES])
def test_each_edge_of_the_transition_table(source, to):
    command = OutboxCommand.objects.create(kind="test.kind", partner_key="p", status=source, attempts=2)
    if (source, to) in ALLOWED:
        _move_to(command, source, to)
        command.refresh_from_db()
        assert command.status == to
        if to == Status.SENDING:
            assert command.attempts == 3 and command.sent_at is not None
        if to in (Status.SUCCEEDED, Status.FAILED):
            assert command.finished_at is not None
        if to == Status.FAILED:
            assert command.last_error == "refused"  # stored as text PostgreSQL takes
        if (source, to) == (Status.FAILED, Status.PENDING):
            assert command.attempts == 0 and command.finished_at is None
    else:
        with pytest.raises(OutboxStateError):
            _move_to(command, source, to)
        command.refresh_from_db()
        assert command.status == source


def test_the_table_is_the_documented_life():
    assert OutboxCommand.TRANSITIONS[Status.SUCCEEDED] == set()
    assert Status.SENDING not in OutboxCommand.TRANSITIONS[Status.UNKNOWN]  # never resent without a look-up
    assert OutboxCommand.TRANSITIONS[Status.PENDING] == {Status.SENDING}


# --- the admin action ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_operator_marks_a_stuck_reseller_transfer_applied_in_the_admin_and_the_queue_moves_on(
    synced, upstream_sim, scheduled, fast_outbox, admin_client
):
    command, adjustment = _adjustment_command(synced, "billing.allocate_reseller", "2.93")
    customer = resale_customer(synced["dist"], 5)
    behind = request_adjustment(
        partner=synced["dist"], kind=Adjustment.Kind.ALLOCATE, amount=Decimal("1.00"), customer=customer
    )
    adjustment.mark_sent()
    OutboxCommand.objects.filter(pk=command.pk).update(
        status=Status.UNKNOWN, attempts=1, sent_at=timezone.now()
    )
    with UpstreamClient.from_settings(rate_limit=0) as client:
        assert drain(client=client).sent == 0  # the distributor's money waits behind the unknown transfer
        transfer = client.allocate_to_reseller(adjustment.reseller.upstream_id, "2.93")  # the person checks
    changelist = reverse("admin:upstream_outboxcommand_changelist")
    admin_client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    done = OutboxCommand.objects.create(kind="billing.allocate", partner_key="x", status=Status.SUCCEEDED)

    # The action first asks for the transaction id found upstream.
    page = admin_client.post(
        changelist, {"action": "mark_applied", "_selected_action": [command.pk, done.pk], "index": 0}
    )
    assert page.status_code == 200
    assert f'name="result-{command.pk}-transaction_id"'.encode() in page.content
    command.refresh_from_db()
    assert command.status == Status.UNKNOWN

    # Without it, nothing changes.
    response = admin_client.post(
        changelist,
        {"action": "mark_applied", "_selected_action": [command.pk], "index": 0, "confirm": "yes"},
        follow=True,
    )
    assert "was not marked applied" in response.content.decode()
    command.refresh_from_db()
    assert command.status == Status.UNKNOWN

    response = admin_client.post(
        changelist,
        {
            "action": "mark_applied",
            "_selected_action": [command.pk, done.pk],
            "index": 0,
            "confirm": "yes",
            f"result-{command.pk}-transaction_id": transfer.transaction_id,
        },
        follow=True,
    )
    body = response.content.decode()
    assert "1 command was marked applied" in body and "1 command was left alone" in body
    command.refresh_from_db()
    adjustment.refresh_from_db()
    assert command.status == Status.SUCCEEDED and command.result["confirmed_by_operator"] is True
    assert (adjustment.status, adjustment.upstream_transaction_id) == ("succeeded", transfer.transaction_id)
    with UpstreamClient.from_settings(rate_limit=0) as client:
        drain(client=client)
    assert Adjustment.objects.get(pk=behind.pk).status == Adjustment.Status.SUCCEEDED


@pytest.mark.django_db
def test_mark_applied_is_refused_to_staff_without_the_change_permission(client, django_user_model):
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("viewer", password="pw-12345678", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_outboxcommand"))
    client.force_login(user)
    command = OutboxCommand.objects.create(kind="billing.allocate", partner_key="x", status=Status.UNKNOWN)
    response = client.post(
        reverse("admin:upstream_outboxcommand_changelist"),
        {"action": "mark_applied", "_selected_action": [command.pk], "index": 0, "confirm": "yes"},
    )
    assert response.status_code in (200, 302)
    command.refresh_from_db()
    assert command.status == Status.UNKNOWN
