"""Association requests: the state machine, filing rules, decisions, codes, expiry, the outbox effect."""

from __future__ import annotations

import contextlib
import re
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.utils import timezone, translation
from hypothesis import HealthCheck
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from accounts.models import AuditEvent, Message
from customers import outbox, services
from customers.models import (
    AssociationEvent,
    AssociationRequest,
    AssociationRequestError,
    AssociationType,
    Customer,
    CustomerCode,
)
from upstream.models import OutboxCommand

pytestmark = pytest.mark.django_db

Status = AssociationRequest.Status
Kind = AssociationRequest.Kind


@pytest.fixture(autouse=True)
def _english():
    """Service messages are matched in English (the site default is Chinese)."""
    with translation.override("en"):
        yield


@pytest.fixture
def passing_check(monkeypatch):
    """The upstream account check passes (tests that need the simulator say so)."""
    monkeypatch.setattr(services, "run_account_check", lambda customer, kind: services.AccountCheck(True))


@pytest.fixture
def file(ra_admin, make_customer, passing_check, django_capture_on_commit_callbacks):
    def make(customer=None, kind=Kind.SWITCH_TO_REFERRAL, reason="Moving to self-service"):
        customer = customer or make_customer("ra")
        with django_capture_on_commit_callbacks(execute=True):
            return services.file_request(ra_admin, customer, kind, reason)

    return make


def code_sent_to(customer, purpose=CustomerCode.Purpose.CONFIRM, channel="email"):
    """Send the customer a code and read it back from the message log (as the customer would)."""
    services.send_customer_code(customer, purpose, channel)
    body = Message.objects.filter(recipient=customer.email if channel == "email" else customer.phone).latest(
        "created_at", "id"
    )
    return re.search(r"\b(\d{6})\b", body.body).group(1)


def agree(request, **kwargs):
    code = code_sent_to(request.customer)
    return services.customer_decide(request.pk, request.token_nonce, agree=True, code=code, **kwargs)


# --- the transition table -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "method", "end"),
    [
        (Status.PENDING_CUSTOMER, "start_applying", Status.APPLYING),
        (Status.PENDING_CUSTOMER, "reject", Status.REJECTED),
        (Status.PENDING_CUSTOMER, "withdraw", Status.WITHDRAWN),
        (Status.PENDING_PARTNER, "start_applying", Status.APPLYING),
        (Status.PENDING_PARTNER, "reject", Status.REJECTED),
        (Status.PENDING_PARTNER, "withdraw", Status.WITHDRAWN),
        (Status.APPLYING, "mark_applied", Status.APPROVED),
    ],
)
def test_each_allowed_edge_moves_the_request(file, start, method, end):
    request = file()
    AssociationRequest.objects.filter(pk=request.pk).update(status=start)
    request.refresh_from_db()
    getattr(request, method)() if method != "mark_failed" else request.mark_failed("x")
    request.refresh_from_db()
    assert request.status == end


@pytest.mark.parametrize("start", [Status.PENDING_CUSTOMER, Status.PENDING_PARTNER])
def test_a_waiting_request_expires_only_when_its_time_is_up(file, start):
    request = file()
    AssociationRequest.objects.filter(pk=request.pk).update(status=start)
    request.refresh_from_db()
    with pytest.raises(AssociationRequestError):
        request.expire()
    request.expires_at = timezone.now() - timedelta(seconds=1)
    request.expire()
    assert request.status == Status.EXPIRED


def test_applying_fails_with_the_reason(file):
    request = file()
    request.start_applying()
    request.mark_failed("CBC.0100 arrears")
    request.refresh_from_db()
    assert request.status == Status.FAILED and "arrears" in request.failure_reason


@pytest.mark.parametrize(
    "end", [Status.APPROVED, Status.REJECTED, Status.WITHDRAWN, Status.EXPIRED, Status.FAILED]
)
@pytest.mark.parametrize("method", ["start_applying", "reject", "withdraw", "mark_applied"])
def test_a_closed_request_takes_no_transition(file, end, method):
    request = file()
    AssociationRequest.objects.filter(pk=request.pk).update(status=end)
    request.refresh_from_db()
    with pytest.raises(AssociationRequestError):
        getattr(request, method)()
    request.refresh_from_db()
    assert request.status == end


def test_applying_cannot_be_withdrawn_rejected_or_expired(file):
    request = file()
    request.start_applying()
    for method in ("withdraw", "reject", "start_applying"):
        with pytest.raises(AssociationRequestError):
            getattr(request, method)()
    request.expires_at = timezone.now() - timedelta(days=1)
    with pytest.raises(AssociationRequestError):
        request.expire()


def test_an_expired_request_cannot_be_decided(file):
    request = file()
    request.expires_at = timezone.now() - timedelta(seconds=1)
    with pytest.raises(AssociationRequestError):
        request.start_applying()
    with pytest.raises(AssociationRequestError):
        request.reject()


# --- filing -------------------------------------------------------------------------------------------------


def test_filing_makes_a_request_waiting_for_the_customer_and_notifies_it(file, make_customer):
    customer = make_customer("ra", balance=Decimal("12.50"))
    request = file(customer, Kind.DISASSOCIATE)
    assert request.status == Status.PENDING_CUSTOMER
    assert request.balance_at_filing == Decimal("12.50")
    assert request.expires_at - request.created_at == timedelta(days=7)
    sent = Message.objects.filter(tag="association-request")
    assert {m.recipient for m in sent} == {customer.email, customer.phone}
    email = next(m for m in sent if m.channel == "email")
    assert "/confirm/" in email.body and customer.account_name not in email.body
    assert AuditEvent.objects.filter(action="association_request_filed", target_id=str(request.pk)).exists()


def test_the_reason_is_required_and_spaces_are_not_a_reason(file):
    for reason in ("", "   \t "):
        with pytest.raises(services.ServiceError):
            file(reason=reason)
    assert not AssociationRequest.objects.exists()


def test_one_open_request_per_customer(file, make_customer):
    customer = make_customer("ra")
    file(customer)
    with pytest.raises(services.ServiceError, match="open request"):
        file(customer, Kind.DISASSOCIATE)
    assert AssociationRequest.objects.count() == 1


def test_a_switch_to_the_current_type_is_refused(file, make_customer):
    customer = make_customer("ra", association_type=AssociationType.REFERRAL)
    with pytest.raises(services.ServiceError):
        file(customer, Kind.SWITCH_TO_REFERRAL)
    assert file(customer, Kind.SWITCH_TO_RESALE).status == Status.PENDING_CUSTOMER


def test_only_partner_admins_file(ra_sales, make_customer, passing_check):
    with pytest.raises(services.ServiceError):
        services.file_request(ra_sales, make_customer("ra"), Kind.DISASSOCIATE, "why")
    assert not AssociationRequest.objects.exists()


def test_another_tenants_customer_is_refused(rb_admin, make_customer, passing_check):
    with pytest.raises(services.ServiceError):
        services.file_request(rb_admin, make_customer("ra"), Kind.DISASSOCIATE, "why")
    assert not AssociationRequest.objects.exists()


def test_a_failing_account_check_files_nothing(ra_admin, make_customer, monkeypatch):
    blocked = services.AccountCheck(False, [services.Blocker("ARREARS", "Arrears", "欠费", "Allocate")])
    monkeypatch.setattr(services, "run_account_check", lambda customer, kind: blocked)
    with pytest.raises(services.ServiceError, match="account check"):
        services.file_request(ra_admin, make_customer("ra"), Kind.DISASSOCIATE, "why")
    assert not AssociationRequest.objects.exists() and not OutboxCommand.objects.exists()


def test_the_cooldown_after_a_customer_disassociation_request_blocks_the_partner(file, make_customer):
    customer = make_customer("ra")
    asked = services.customer_file_unbind(customer, "Leaving")
    AssociationRequest.objects.filter(pk=asked.pk).update(status=Status.REJECTED)
    until = services.cooldown_until(customer)
    assert until == asked.created_at + timedelta(days=90)
    with pytest.raises(services.ServiceError, match="recently"):
        file(customer)
    AssociationRequest.objects.filter(pk=asked.pk).update(created_at=timezone.now() - timedelta(days=91))
    assert services.cooldown_until(customer) is None
    assert file(customer).status == Status.PENDING_CUSTOMER


def test_a_withdrawn_customer_request_starts_no_cooldown(make_customer):
    customer = make_customer("ra")
    request = services.customer_file_unbind(customer, "Leaving")
    services.withdraw_request(request, customer=customer)
    assert services.cooldown_until(customer) is None


def test_a_recorded_customer_disassociation_starts_the_cooldown(make_customer):
    customer = make_customer("ra")
    when = timezone.now() - timedelta(days=10)
    AssociationEvent.objects.create(
        partner=customer.partner,
        customer=customer,
        customer_upstream_id=customer.customer_id,
        operation="DISASSOCIATE",
        initiator="CUSTOMER",
        occurred_at=when,
    )
    assert services.cooldown_until(customer) == when + timedelta(days=90)


def test_the_effects_name_the_reclaimed_balance_only_for_a_resale_disassociation(make_customer):
    resale = make_customer("ra", balance=Decimal("88.20"))
    referral = make_customer("ra", association_type=AssociationType.REFERRAL)
    assert services.effects(resale, Kind.DISASSOCIATE).balance_reclaimed == Decimal("88.20")
    assert services.effects(resale, Kind.SWITCH_TO_REFERRAL).balance_reclaimed is None
    assert services.effects(referral, Kind.DISASSOCIATE).balance_reclaimed is None
    switch = services.effects(referral, Kind.SWITCH_TO_RESALE)
    assert switch.refunds_before != switch.refunds_after


# --- the customer's decision --------------------------------------------------------------------------------


def test_agreeing_sends_the_change_through_the_outbox(file):
    request = file()
    decided = agree(request, channel="email")
    assert decided.status == Status.APPLYING and decided.notices_version == AssociationRequest.NOTICES_VERSION
    command = OutboxCommand.objects.get(kind=services.APPLY_ASSOCIATION_CHANGE)
    assert command.payload["change"] == "SWITCH_TO_REFERRAL" and command.object_id == str(request.pk)
    CustomerCode.objects.update(sent_at=timezone.now() - timedelta(minutes=5))  # a fresh code may be sent
    with pytest.raises(services.ServiceError, match="no longer valid"):  # the link works once
        agree(request)
    assert OutboxCommand.objects.count() == 1


def test_rejecting_closes_the_request_and_tells_the_partner(file, django_capture_on_commit_callbacks):
    request = file()
    code = code_sent_to(request.customer)
    with django_capture_on_commit_callbacks(execute=True):
        services.customer_decide(request.pk, request.token_nonce, agree=False, code=code, reason="No thanks")
    request.refresh_from_db()
    assert request.status == Status.REJECTED and request.decision_reason == "No thanks"
    assert not OutboxCommand.objects.exists()
    assert Message.objects.filter(recipient="ra-admin@partner.example.com").exists()


def test_a_wrong_code_decides_nothing_and_five_invalidate_the_code(file, settings):
    request = file()
    code = code_sent_to(request.customer)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(settings.STEP_UP_MAX_ATTEMPTS):
        with pytest.raises(services.ServiceError, match="code"):
            services.customer_decide(request.pk, request.token_nonce, agree=True, code=wrong)
    with pytest.raises(services.ServiceError, match="code"):  # the right code no longer works
        services.customer_decide(request.pk, request.token_nonce, agree=True, code=code)
    request.refresh_from_db()
    assert request.status == Status.PENDING_CUSTOMER and not OutboxCommand.objects.exists()


def test_a_code_cannot_be_resent_at_once(make_customer):
    customer = make_customer("ra")
    services.send_customer_code(customer, CustomerCode.Purpose.CONFIRM, "sms")
    with pytest.raises(services.ServiceError, match="just now"):
        services.send_customer_code(customer, CustomerCode.Purpose.CONFIRM, "sms")


def test_an_expired_code_is_refused(file):
    request = file()
    code = code_sent_to(request.customer)
    CustomerCode.objects.update(valid_until=timezone.now() - timedelta(seconds=1))
    with pytest.raises(services.ServiceError):
        services.customer_decide(request.pk, request.token_nonce, agree=True, code=code)


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_agrees_decide_once(ra_admin, make_customer, monkeypatch):
    monkeypatch.setattr(services, "run_account_check", lambda customer, kind: services.AccountCheck(True))
    request = services.file_request(ra_admin, make_customer("ra"), Kind.DISASSOCIATE, "why")
    code = code_sent_to(request.customer)
    outcomes = []

    def decide():
        try:
            services.customer_decide(request.pk, request.token_nonce, agree=True, code=code)
            outcomes.append("ok")
        except services.ServiceError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=decide) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok", "refused"]
    assert OutboxCommand.objects.filter(kind=services.APPLY_ASSOCIATION_CHANGE).count() == 1


# --- tokens -------------------------------------------------------------------------------------------------


def test_the_link_names_the_pending_request(file):
    request = file()
    assert services.request_for_token(services.confirm_token(request)).pk == request.pk


@pytest.mark.parametrize("spoil", ["tamper", "withdrawn", "expired", "decided"])
def test_a_spoiled_link_is_refused(file, ra_admin, spoil):
    request = file()
    token = services.confirm_token(request)
    if spoil == "tamper":
        token = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    elif spoil == "withdrawn":
        services.withdraw_request(request, user=ra_admin)
    elif spoil == "expired":
        AssociationRequest.objects.filter(pk=request.pk).update(expires_at=timezone.now())
    else:
        agree(request)
    with pytest.raises(services.BadToken):
        services.request_for_token(token)


# --- withdraw, remind, expire -------------------------------------------------------------------------------


def test_the_partner_withdraws_a_waiting_request(file, ra_admin):
    request = services.withdraw_request(file(), user=ra_admin)
    assert request.status == Status.WITHDRAWN
    with pytest.raises(services.ServiceError):
        services.withdraw_request(request, user=ra_admin)


def test_a_reminder_goes_at_most_once_a_day(file, ra_admin, django_capture_on_commit_callbacks):
    request = file()
    with pytest.raises(services.ServiceError, match="less than a day"):
        services.remind_customer(ra_admin, request)
    AssociationRequest.objects.filter(pk=request.pk).update(created_at=timezone.now() - timedelta(days=1))
    with django_capture_on_commit_callbacks(execute=True):
        services.remind_customer(ra_admin, request)
    assert Message.objects.filter(tag="association-reminder", channel="email").count() == 1
    with pytest.raises(services.ServiceError):
        services.remind_customer(ra_admin, request)


def test_the_expiry_task_expires_due_requests_and_tells_both_sides(
    file, make_customer, django_capture_on_commit_callbacks
):
    from customers.tasks import expire_association_requests

    due, fresh = file(), file()
    AssociationRequest.objects.filter(pk=due.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    Message.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        assert expire_association_requests() == 1
    due.refresh_from_db()
    fresh.refresh_from_db()
    assert due.status == Status.EXPIRED and fresh.status == Status.PENDING_CUSTOMER
    recipients = set(Message.objects.values_list("recipient", flat=True))
    assert due.customer.email in recipients and "ra-admin@partner.example.com" in recipients
    assert expire_association_requests() == 0


def test_the_expiry_follows_a_frozen_clock(file):
    request = file()
    with time_machine.travel(timezone.now() + timedelta(days=6, hours=23), tick=False):
        assert services.expire_requests() == 0
    with time_machine.travel(timezone.now() + timedelta(days=7, seconds=1), tick=False):
        assert services.expire_requests() == 1
    request.refresh_from_db()
    assert request.status == Status.EXPIRED


# --- customer-initiated disassociation ----------------------------------------------------------------------


def test_a_customer_request_waits_for_the_partner_who_approves_it(
    make_customer, ra_admin, django_capture_on_commit_callbacks
):
    customer = make_customer("ra")
    with django_capture_on_commit_callbacks(execute=True):
        request = services.customer_file_unbind(customer, "  Leaving  ")
    assert request.status == Status.PENDING_PARTNER and request.reason == "Leaving"
    assert Message.objects.filter(recipient="ra-admin@partner.example.com").exists()
    with pytest.raises(services.ServiceError):
        services.partner_decide(ra_admin, request, approve=True, reason="  ")
    decided = services.partner_decide(ra_admin, request, approve=True, reason="Agreed")
    assert decided.status == Status.APPLYING and decided.decided_by == ra_admin
    assert OutboxCommand.objects.filter(kind=services.APPLY_ASSOCIATION_CHANGE).count() == 1


def test_the_partner_rejects_a_customer_request(make_customer, ra_admin, rb_admin):
    request = services.customer_file_unbind(make_customer("ra"), "Leaving")
    with pytest.raises(services.ServiceError):
        services.partner_decide(rb_admin, request, approve=False, reason="no")
    decided = services.partner_decide(ra_admin, request, approve=False, reason="Contract runs")
    assert decided.status == Status.REJECTED and not OutboxCommand.objects.exists()


# --- applying the upstream's answer -------------------------------------------------------------------------


def test_success_changes_the_type_and_writes_one_event(file, django_capture_on_commit_callbacks):
    request = file()
    agree(request)
    command = OutboxCommand.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        outbox.association_applied(command, {"record_id": "rec-1"})
        outbox.association_applied(command, {"record_id": "rec-1"})  # delivered twice: applied once
    request.refresh_from_db()
    customer = Customer.objects.get(pk=request.customer_id)
    assert request.status == Status.APPROVED and request.record_id == "rec-1"
    assert customer.association_type == AssociationType.REFERRAL and customer.balance is None
    event = AssociationEvent.objects.get(customer=customer)
    assert (event.operation, event.source, event.from_association_type, event.association_type) == (
        "SWITCH",
        "portal",
        "2",
        "1",
    )


def test_a_disassociation_ends_the_association(file):
    request = file(kind=Kind.DISASSOCIATE)
    agree(request)
    outbox.association_applied(OutboxCommand.objects.get(), {"record_id": ""})
    customer = Customer.objects.get(pk=request.customer_id)
    assert customer.disassociated_at is not None
    assert AssociationEvent.objects.get(customer=customer).operation == "DISASSOCIATE"


def test_an_upstream_refusal_fails_the_request_with_the_reason(file):
    request = file()
    agree(request)
    outbox.association_failed(OutboxCommand.objects.get(), RuntimeError("The account check failed: ARREARS"))
    request.refresh_from_db()
    assert request.status == Status.FAILED and "ARREARS" in request.failure_reason
    assert Customer.objects.get(pk=request.customer_id).association_type == AssociationType.RESALE
    assert not AssociationEvent.objects.exists()


# --- a random walk over the state machine -------------------------------------------------------------------


@pytest.fixture
def walk_env(ra_admin, make_customer, passing_check):
    return ra_admin, make_customer


def test_random_sequences_keep_the_rules(walk_env):
    admin, make_customer = walk_env

    class Machine(RuleBasedStateMachine):
        @initialize()
        def start(self):
            self.customer = make_customer("ra")
            self.request = None
            self.approved = 0

        def _current(self):
            if self.request is not None:
                self.request.refresh_from_db()
            return self.request

        @rule(kind=st.sampled_from([Kind.SWITCH_TO_REFERRAL, Kind.DISASSOCIATE]))
        def file(self, kind):
            self.customer.refresh_from_db()
            with contextlib.suppress(services.ServiceError):
                self.request = services.file_request(admin, self.customer, kind, "walk")

        @rule()
        def withdraw(self):
            if self._current():
                with contextlib.suppress(services.ServiceError):
                    services.withdraw_request(self.request, user=admin)

        @rule(agree=st.booleans())
        def decide(self, agree):
            request = self._current()
            if request is None:
                return
            try:
                code = code_sent_to(request.customer) if request.token_nonce else "000000"
            except services.ServiceError:
                CustomerCode.objects.update(sent_at=timezone.now() - timedelta(minutes=5))
                code = code_sent_to(request.customer)
            with contextlib.suppress(services.ServiceError):
                services.customer_decide(request.pk, request.token_nonce, agree=agree, code=code)

        @rule()
        def expire(self):
            if self._current():
                AssociationRequest.objects.filter(pk=self.request.pk).update(expires_at=timezone.now())
                services.expire_requests()

        @rule(ok=st.booleans())
        def upstream_answers(self, ok):
            request = self._current()
            if request is None:
                return
            for command in OutboxCommand.objects.filter(object_id=str(request.pk), status="pending"):
                if ok:
                    outbox.association_applied(command, {"record_id": ""})
                else:
                    outbox.association_failed(command, RuntimeError("refused"))
                OutboxCommand.objects.filter(pk=command.pk).update(status="succeeded")

        @invariant()
        def rules_hold(self):
            if not hasattr(self, "customer"):
                return
            requests = AssociationRequest.objects.filter(customer=self.customer)
            assert requests.open().count() <= 1
            for r in requests:
                assert r.status in Status.values
                events = AssociationEvent.objects.filter(customer=self.customer, source="portal").count()
                assert events == requests.filter(status=Status.APPROVED).count()
                if r.status == Status.EXPIRED:
                    assert r.decided_at is None  # never a decision after expiry
                if r.status in (Status.APPLYING, Status.APPROVED, Status.FAILED):
                    assert r.decided_at is not None and r.decided_at <= r.expires_at

    Machine.TestCase.settings = hsettings(
        max_examples=15, stateful_step_count=12, deadline=None, suppress_health_check=list(HealthCheck)
    )
    Machine.TestCase().runTest()


def test_a_pending_request_past_its_expiry_cannot_be_decided_before_the_task_runs(file):
    request = file()
    code = code_sent_to(request.customer)
    AssociationRequest.objects.filter(pk=request.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(services.ServiceError, match="expired"):
        services.customer_decide(request.pk, request.token_nonce, agree=True, code=code)
    request.refresh_from_db()
    assert request.status == Status.PENDING_CUSTOMER and request.decided_at is None
    assert not OutboxCommand.objects.exists()


def test_the_partner_cannot_decide_an_expired_customer_request(make_customer, ra_admin):
    request = services.customer_file_unbind(make_customer("ra"), "Leaving")
    AssociationRequest.objects.filter(pk=request.pk).update(expires_at=timezone.now())
    with pytest.raises(services.ServiceError, match="expired"):
        services.partner_decide(ra_admin, request, approve=True, reason="ok")
