"""The transactional outbox: enqueue after commit, the drain's state machine, serialisation per partner,
reconciliation of unknown outcomes, the admin, and a real Celery worker draining what was left behind."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone, translation

from billing.models import Adjustment, CustomerAccount, PartnerAccount
from billing.services import request_adjustment
from customers.models import Customer
from upstream import outbox
from upstream.client import RetryPolicy, UpstreamClient
from upstream.errors import OutcomeUnknown, UpstreamUnavailable
from upstream.models import OutboxCommand, SyncRun
from upstream.outbox import Handler, drain, enqueue, register_handler
from upstream.sync import run_dataset

Status = OutboxCommand.Status
FAST = RetryPolicy(attempts=4, backoff_initial=0.01, backoff_max=0.05, rate_limited_wait=(0.05, 0.1))
ONE_TRY = RetryPolicy(attempts=1)


# --- fixtures and helpers -----------------------------------------------------------------------------------


def sync_from_upstream() -> None:
    """Partners, customers and balances from the simulator the settings point at, as the beat sync does."""
    with UpstreamClient.from_settings(rate_limit=0) as client:
        for name in ("indirect_partners", "customers", "partner_balances", "customer_balances"):
            run = run_dataset(name, client=client, mode="full")
            assert run.status == SyncRun.Status.SUCCEEDED, run.errors


@pytest.fixture
def synced(upstream_settings, partners):
    sync_from_upstream()
    return partners


def resale_customer(partner, n: int = 0) -> Customer:
    return Customer.objects.filter(
        partner=partner, association_type="2", disassociated_at__isnull=True, account__isnull=False
    ).order_by("customer_id")[n]


def allocate(customer: Customer, amount: str = "1.00", **kwargs) -> Adjustment:
    return request_adjustment(
        partner=customer.partner,
        kind=Adjustment.Kind.ALLOCATE,
        amount=Decimal(amount),
        customer=customer,
        **kwargs,
    )


def command_of(adjustment: Adjustment) -> OutboxCommand:
    return OutboxCommand.objects.get(object_type="billing.adjustment", object_id=str(adjustment.pk))


def records(sim, customer: Customer, kind: str = "SOURCE_OPERATION_BEADJUST") -> list[dict]:
    return [r for r in sim.adjust_records(customer.customer_id) if r["operation_type"] == kind]


def drain_until_settled(
    client, *, timeout: float = 20.0, partner_key: str | None = None
) -> outbox.DrainReport:
    """Drain in this process until no command is open (waiting out backoffs), summing the reports."""
    total = outbox.DrainReport()
    deadline = time.monotonic() + timeout
    while True:
        report = drain(partner_key, client=client)
        for field, value in report.as_dict().items():
            setattr(total, field, getattr(total, field) + value)
        if not OutboxCommand.objects.open().exists():
            return total
        if time.monotonic() > deadline:
            raise AssertionError(f"still open: {list(OutboxCommand.objects.open().values())}")
        time.sleep(0.05)


@pytest.fixture
def fake_kinds():
    """Register test-only handlers; removed afterwards."""
    added: list[str] = []

    def add(handler: Handler) -> Handler:
        added.append(handler.kind)
        return register_handler(handler)

    yield add
    for kind in added:
        outbox.HANDLERS.pop(kind, None)


# --- enqueue ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_enqueue_schedules_a_drain_only_once_the_transaction_commits(
    scheduled, fake_kinds, django_capture_on_commit_callbacks
):
    fake_kinds(Handler(kind="test.noop", send=lambda client, command: {}))
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        command = enqueue("test.noop", {"x": 1}, partner_key="p1")
        assert scheduled == []
    assert len(callbacks) == 1
    assert scheduled == [("p1", None)]
    assert (command.status, command.serial, command.payload) == (Status.PENDING, False, {"x": 1})


@pytest.mark.django_db
def test_a_rolled_back_enqueue_leaves_no_command_and_schedules_nothing(
    scheduled, fake_kinds, django_capture_on_commit_callbacks
):
    fake_kinds(Handler(kind="test.noop", send=lambda client, command: {}))
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        enqueue("test.noop", {}, partner_key="p1")
        raise RuntimeError("the domain change failed")
    assert callbacks == [] and scheduled == []
    assert not OutboxCommand.objects.exists()


@pytest.mark.django_db
def test_enqueue_refuses_a_kind_without_a_handler():
    with pytest.raises(LookupError):
        enqueue("nobody.handles_this", {}, partner_key="p1")


def test_the_beat_drains_the_outbox_every_30_seconds_and_expires_stale_ticks():
    entry = django_settings.CELERY_BEAT_SCHEDULE["drain-outbox"]
    assert entry["task"] == "upstream.drain_outbox"
    assert entry["schedule"] == 30.0
    assert 0 < entry["options"]["expires"] <= 30


# --- sending against the simulator --------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_allocation_is_sent_once_and_its_result_applied(synced, upstream_sim, scheduled, fast_outbox):
    customer = resale_customer(synced["ra"])
    account_before = PartnerAccount.objects.get(partner=synced["ra"], account_type=1).amount
    customer_before = CustomerAccount.objects.get(customer=customer).amount
    upstream_before = len(records(upstream_sim, customer))
    adjustment = allocate(customer, "12.34", memo="first")
    command = command_of(adjustment)
    assert (command.kind, command.partner_key, command.serial) == ("billing.allocate", "ip-reseller-a", True)
    assert command.payload == {
        "adjustment_id": adjustment.pk,
        "amount": "12.34",
        "customer_id": customer.customer_id,
        "indirect_partner_id": "ip-reseller-a",
    }

    with UpstreamClient.from_settings(rate_limit=0) as client:
        report = drain(client=client)
        again = drain(client=client)

    assert (report.sent, report.succeeded) == (1, 1)
    assert again.sent == 0
    adjustment.refresh_from_db()
    command.refresh_from_db()
    new = records(upstream_sim, customer)[upstream_before:]
    assert [(r["amount"], r["trans_id"]) for r in new] == [(12.34, adjustment.upstream_transaction_id)]
    assert adjustment.status == Adjustment.Status.SUCCEEDED and adjustment.sent_at and adjustment.finished_at
    assert command.status == Status.SUCCEEDED and command.attempts == 1
    assert command.result == {"transaction_id": adjustment.upstream_transaction_id}
    # The mirror follows at once; the next balance sync overwrites it with the upstream's own figures.
    assert PartnerAccount.objects.get(
        partner=synced["ra"], account_type=1
    ).amount == account_before - Decimal("12.34")
    assert CustomerAccount.objects.get(customer=customer).amount == customer_before + Decimal("12.34")


@pytest.mark.django_db
def test_an_allocation_the_upstream_refuses_marks_the_adjustment_failed_with_its_message(
    synced, upstream_sim, scheduled, fast_outbox
):
    customer = resale_customer(synced["ra"])
    # The portal's mirror is behind (someone spent the money elsewhere): it lets through more than there is.
    PartnerAccount.objects.filter(partner=synced["ra"], account_type=1).update(amount=Decimal("999999999.00"))
    upstream_before = len(records(upstream_sim, customer))
    adjustment = allocate(customer, "500000000.00")

    with UpstreamClient.from_settings(rate_limit=0) as client:
        report = drain(client=client)

    assert (report.sent, report.failed) == (1, 1)
    adjustment.refresh_from_db()
    command = command_of(adjustment)
    assert adjustment.status == Adjustment.Status.FAILED
    assert "Insufficient balance" in adjustment.error_message
    assert command.status == Status.FAILED and "CBC.5003" in command.last_error and command.attempts == 1
    assert len(records(upstream_sim, customer)) == upstream_before


@pytest.mark.django_db
def test_429_bursts_are_retried_later_and_each_allocation_lands_once(
    synced, upstream_sim, scheduled, fast_outbox
):
    customers = [resale_customer(synced["dist"], n) for n in range(2)]
    before = {c.pk: len(records(upstream_sim, c)) for c in customers}
    adjustments = [allocate(customers[i % 2], f"{i + 1}.05") for i in range(4)]
    upstream_sim.set_faults(burst_429={"every": 1, "length": 2})

    # One try per call: every 429 reaches the outbox, which puts the command back with a backoff.
    with UpstreamClient.from_settings(rate_limit=0, retry=ONE_TRY) as client:
        total = drain_until_settled(client, timeout=30)
    upstream_sim.clear_faults()

    assert total.retried >= 2 and total.succeeded == 4 and total.failed == 0
    for customer in customers:
        new = records(upstream_sim, customer)[before[customer.pk] :]
        mine = [a for a in adjustments if a.customer_id == customer.pk]
        assert sorted(r["trans_id"] for r in new) == sorted(
            Adjustment.objects.get(pk=a.pk).upstream_transaction_id for a in mine
        )
    assert OutboxCommand.objects.filter(attempts__gt=1).exists()
    assert "CBC.0250" in "".join(OutboxCommand.objects.values_list("last_error", flat=True))


@pytest.mark.django_db
def test_server_errors_on_allocations_are_checked_upstream_then_resent(
    synced, upstream_sim, scheduled, fast_outbox
):
    customer = resale_customer(synced["dist"], 2)
    before = len(records(upstream_sim, customer))
    adjustments = [allocate(customer, "3.00") for _ in range(5)]
    upstream_sim.set_faults(error_rate=0.4, seed=3)

    # A 500 on a write leaves the outcome unknown (the client never resends it): the outbox looks it up first.
    with UpstreamClient.from_settings(rate_limit=0, retry=FAST) as client:
        total = drain_until_settled(client, timeout=30)
    upstream_sim.clear_faults()

    assert total.unknown >= 1 and total.reconciled_missing >= 1 and total.reconciled_found == 0
    new = records(upstream_sim, customer)[before:]
    assert len(new) == 5
    assert {r["trans_id"] for r in new} == {
        a.upstream_transaction_id for a in Adjustment.objects.filter(pk__in=[a.pk for a in adjustments])
    }
    assert set(
        Adjustment.objects.filter(pk__in=[a.pk for a in adjustments]).values_list("status", flat=True)
    ) == {"succeeded"}


@pytest.mark.django_db
def test_a_timeout_after_the_upstream_applied_is_reconciled_not_resent_and_holds_the_partner_back(
    synced, upstream_sim, scheduled, fast_outbox
):
    first_customer, second_customer = resale_customer(synced["ra"], 0), resale_customer(synced["ra"], 1)
    before = len(records(upstream_sim, first_customer))
    first = allocate(first_customer, "7.00")
    second = allocate(second_customer, "8.00")
    upstream_sim.set_faults(
        apply_then_timeout={"operations": ["UpdateCustomerAccountAmount"], "rate": 1.0, "hang_seconds": 2}
    )
    with UpstreamClient.from_settings(rate_limit=0) as client:
        report = drain(client=client)
        upstream_sim.clear_faults()
        assert (report.sent, report.unknown) == (1, 1)
        assert command_of(first).status == Status.UNKNOWN
        # The second allocation of the same partner waits: nothing is sent while an outcome is unknown,
        # and the unknown one is not looked up before the read timeout has certainly passed.
        assert drain(client=client).sent == 0
        assert command_of(second).status == Status.PENDING
        time.sleep(0.6)
        report = drain(client=client)

    assert (report.reconciled_found, report.sent, report.succeeded) == (1, 1, 2)
    new = records(upstream_sim, first_customer)[before:]
    first.refresh_from_db()
    assert len(new) == 1 and new[0]["trans_id"] == first.upstream_transaction_id
    assert command_of(first).result == {"transaction_id": first.upstream_transaction_id, "reconciled": True}
    assert command_of(first).attempts == 1
    assert Adjustment.objects.get(pk=second.pk).status == Adjustment.Status.SUCCEEDED


@pytest.mark.django_db
@pytest.mark.parametrize("applied", [True, False], ids=["applied-before-the-worker-died", "never-sent"])
def test_a_command_stuck_in_sending_becomes_unknown_and_is_reconciled(
    synced, upstream_sim, scheduled, fast_outbox, applied
):
    fast_outbox.OUTBOX_SENDING_LEASE_SECONDS = 60
    customer = resale_customer(synced["dist"], 3)
    before = len(records(upstream_sim, customer))
    amount = "4.44" if applied else "4.46"  # the session simulator keeps the other case's record
    adjustment = allocate(customer, amount)
    command = command_of(adjustment)
    with UpstreamClient.from_settings(rate_limit=0) as client:
        # A worker claimed it, (maybe) sent it, and died: the row says `sending` since long ago.
        adjustment.mark_sent()
        if applied:
            client.allocate_to_customer(customer.customer_id, amount)
        OutboxCommand.objects.filter(pk=command.pk).update(
            status=Status.SENDING, attempts=1, sent_at=timezone.now() - timedelta(seconds=61)
        )
        report = drain(client=client)

    assert report.recovered == 1
    assert (report.reconciled_found, report.reconciled_missing) == ((1, 0) if applied else (0, 1))
    new = records(upstream_sim, customer)[before:]
    adjustment.refresh_from_db()
    command.refresh_from_db()
    assert len(new) == 1 and new[0]["trans_id"] == adjustment.upstream_transaction_id
    assert adjustment.status == Adjustment.Status.SUCCEEDED
    assert command.status == Status.SUCCEEDED and command.attempts == (1 if applied else 2)


@pytest.mark.django_db
def test_a_command_within_its_lease_is_left_alone(synced, scheduled, fast_outbox):
    adjustment = allocate(resale_customer(synced["dist"]), "1.00")
    OutboxCommand.objects.filter(pk=command_of(adjustment).pk).update(
        status=Status.SENDING, attempts=1, sent_at=timezone.now()
    )
    report = drain(client=object())
    assert report.as_dict() == outbox.DrainReport().as_dict()
    assert command_of(adjustment).status == Status.SENDING


# --- the state machine, with handlers of the test's own -----------------------------------------------------


@pytest.mark.django_db
def test_a_command_fails_for_good_after_the_allowed_attempts(scheduled, fake_kinds, fast_outbox):
    fast_outbox.OUTBOX_MAX_ATTEMPTS = 3
    failures = []

    def send(client, command):
        raise UpstreamUnavailable(error_msg="connection refused")

    fake_kinds(Handler(kind="test.down", send=send, on_failure=lambda command, error: failures.append(error)))
    command = enqueue("test.down", {}, partner_key="p1")
    total = drain_until_settled(object(), timeout=10)

    command.refresh_from_db()
    assert (total.retried, total.failed) == (2, 1)
    assert command.status == Status.FAILED and command.attempts == 3 and command.finished_at
    assert isinstance(failures[0], outbox.GaveUp)
    with translation.override("en"):
        message = str(failures[0].message)
    assert "after 3 attempts" in message and "connection refused" in message


@pytest.mark.django_db
def test_a_transient_error_backs_off_with_jitter(scheduled, fake_kinds, settings):
    settings.OUTBOX_BACKOFF_SECONDS = 10

    def send(client, command):
        raise UpstreamUnavailable()

    fake_kinds(Handler(kind="test.down", send=send))
    command = enqueue("test.down", {}, partner_key="p1")
    start = timezone.now()
    drain(client=object())
    command.refresh_from_db()
    assert command.status == Status.PENDING
    assert timedelta(seconds=10) <= command.next_attempt_at - start <= timedelta(seconds=16)
    # The drain asked for a follow-up when the command is due (the beat drain is the backstop).
    assert scheduled and scheduled[-1][0] is None and 9 <= scheduled[-1][1] <= 16


@pytest.mark.django_db
def test_an_unknown_money_command_that_cannot_be_checked_needs_a_person(scheduled, fake_kinds, fast_outbox):
    sent: list[str] = []

    def send_unknown(client, command):
        sent.append(command.payload["name"])
        if command.payload["name"] == "m1":
            raise OutcomeUnknown(error_msg="read timeout")
        return {"ok": True}

    def send_plain(client, command):
        sent.append(command.payload["name"])
        return {}

    fake_kinds(Handler(kind="test.money", send=send_unknown, serial=True))
    fake_kinds(Handler(kind="test.plain", send=send_plain))
    m1 = enqueue("test.money", {"name": "m1"}, partner_key="p1")
    enqueue("test.money", {"name": "m2"}, partner_key="p1")
    enqueue("test.plain", {"name": "plain"}, partner_key="p1")
    enqueue("test.money", {"name": "other"}, partner_key="p2")

    report = drain(client=object())
    time.sleep(0.05)
    drain(client=object())

    m1.refresh_from_db()
    assert sent == ["m1", "plain", "other"]  # m2 waits behind m1; the others are not held back
    assert report.waiting == 1 and m1.status == Status.UNKNOWN
    assert "a person must check the upstream" in m1.last_error

    # The operator checked the upstream: not applied. Resend it; then m2 follows.
    assert outbox.resend_unknown(m1)
    m1.payload = {"name": "m1-again"}
    OutboxCommand.objects.filter(pk=m1.pk).update(payload=m1.payload)
    drain(client=object())
    assert sent[3:] == ["m1-again", "m2"]
    assert not OutboxCommand.objects.open().exists()


@pytest.mark.django_db
def test_a_non_serial_kind_without_a_look_up_is_resent_after_an_unknown_outcome(
    scheduled, fake_kinds, fast_outbox
):
    fast_outbox.UPSTREAM_READ_TIMEOUT = 0.1
    calls = []

    def send(client, command):
        calls.append(1)
        if len(calls) == 1:
            raise OutcomeUnknown()
        return {"done": True}

    fake_kinds(Handler(kind="test.idempotent", send=send))
    command = enqueue("test.idempotent", {}, partner_key="p1")
    total = drain_until_settled(object(), timeout=5)
    command.refresh_from_db()
    assert len(calls) == 2 and total.reconciled_missing == 1
    assert command.status == Status.SUCCEEDED and command.attempts == 2


@pytest.mark.django_db
def test_an_unexpected_exception_in_send_is_treated_as_an_unknown_outcome(scheduled, fake_kinds, fast_outbox):
    looked_up = []

    def send(client, command):
        raise KeyError("bug after the request went out?")

    def reconcile(client, command):
        looked_up.append(command.pk)
        return {"found": True}

    fake_kinds(Handler(kind="test.buggy", send=send, reconcile=reconcile, serial=True))
    command = enqueue("test.buggy", {}, partner_key="p1")
    fast_outbox.UPSTREAM_READ_TIMEOUT = 0.1
    drain_until_settled(object(), timeout=5)
    command.refresh_from_db()
    assert looked_up == [command.pk]
    assert command.status == Status.SUCCEEDED and command.result == {"found": True}


@pytest.mark.django_db(transaction=True)
def test_serial_commands_of_one_partner_are_never_in_flight_together(scheduled, fake_kinds, fast_outbox):
    lock = threading.Lock()
    in_flight: dict[str, int] = defaultdict(int)
    peak: dict[str, int] = defaultdict(int)
    order: dict[str, list[int]] = defaultdict(list)
    plain_overlapped = threading.Event()

    def send(client, command):
        key = command.partner_key
        with lock:
            in_flight[key] += 1
            peak[key] = max(peak[key], in_flight[key])
            order[key].append(command.payload["n"])
        time.sleep(0.03)
        with lock:
            in_flight[key] -= 1
        return {}

    def send_plain(client, command):
        with lock:
            if in_flight[command.partner_key]:
                plain_overlapped.set()
        time.sleep(0.03)
        return {}

    fake_kinds(Handler(kind="test.money", send=send, serial=True))
    fake_kinds(Handler(kind="test.plain", send=send_plain))
    for n in range(8):
        for key in ("p1", "p2"):
            enqueue("test.money", {"n": n}, partner_key=key)
        enqueue("test.plain", {"n": n}, partner_key="p1")

    errors: list[BaseException] = []

    def worker():
        try:
            drain(client=object())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert not errors
    assert not OutboxCommand.objects.open().exists()
    assert peak == {"p1": 1, "p2": 1}
    assert order == {"p1": list(range(8)), "p2": list(range(8))}  # in the order they were written
    assert plain_overlapped.is_set()  # non-serial commands of p1 went out while p1's money was in flight


# --- the admin ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_admin_lists_sync_runs_read_only_with_progress(admin_client):
    SyncRun.objects.create(dataset="customers", rows_seen=50, rows_total=200)
    page = admin_client.get(reverse("admin:upstream_syncrun_changelist") + "?status__exact=running")
    assert page.status_code == 200
    assert b'value="25"' in page.content and b"25%" in page.content
    assert admin_client.get(reverse("admin:upstream_syncrun_add")).status_code == 403


@pytest.mark.django_db
def test_the_admin_retries_a_failed_command_now(
    admin_client, scheduled, fake_kinds, django_capture_on_commit_callbacks
):
    fake_kinds(Handler(kind="test.noop", send=lambda client, command: {}))
    failed = OutboxCommand.objects.create(
        kind="test.noop", partner_key="p1", status=Status.FAILED, attempts=8, last_error="gave up"
    )
    done = OutboxCommand.objects.create(kind="test.noop", partner_key="p1", status=Status.SUCCEEDED)
    url = reverse("admin:upstream_outboxcommand_changelist")
    assert admin_client.get(url + "?q=gave").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            url, {"action": "retry_now", "_selected_action": [failed.pk, done.pk]}, follow=True
        )
    assert response.status_code == 200
    failed.refresh_from_db()
    done.refresh_from_db()
    assert (failed.status, failed.attempts, failed.finished_at) == (Status.PENDING, 0, None)
    assert done.status == Status.SUCCEEDED
    assert scheduled == [("p1", None)]
    assert (
        admin_client.get(reverse("admin:upstream_outboxcommand_change", args=[failed.pk])).status_code == 200
    )


@pytest.mark.django_db
def test_retry_now_checks_an_unknown_outcome_instead_of_resending_it(scheduled, fake_kinds):
    fake_kinds(Handler(kind="test.money", send=lambda c, x: {}, reconcile=lambda c, x: None, serial=True))
    command = OutboxCommand.objects.create(
        kind="test.money",
        partner_key="p1",
        serial=True,
        status=Status.UNKNOWN,
        attempts=1,
        next_attempt_at=timezone.now() + timedelta(hours=1),
    )
    assert outbox.retry_now(command) == "reconciling"
    command.refresh_from_db()
    assert command.status == Status.UNKNOWN and command.next_attempt_at <= timezone.now()


# --- a real worker ------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_nothing_is_lost_while_the_worker_or_the_broker_is_down(
    transactional_db, upstream_settings, upstream_sim, partners, tmp_path, monkeypatch
):
    from conftest import WorkerProcess, worker_env
    from portal.celery import app
    from upstream import tasks

    sync_from_upstream()
    app.control.purge()
    dist_customer, ra_customer = resale_customer(partners["dist"], 4), resale_customer(partners["ra"], 2)

    # No worker: the drain message waits in Redis.
    while_worker_down = allocate(dist_customer, "2.22")
    # Redis down as well: the drain cannot even be queued; the command is in the database all the same.
    monkeypatch.setattr(tasks.drain_outbox, "apply_async", _broker_down)
    while_broker_down = allocate(ra_customer, "3.33")
    monkeypatch.undo()
    assert set(OutboxCommand.objects.values_list("status", flat=True)) == {Status.PENDING}

    log = tmp_path / "worker.log"
    worker = WorkerProcess(worker_env(UPSTREAM_ENDPOINT=upstream_sim.url, UPSTREAM_RATE_LIMIT="0"), log)
    worker.start()
    try:
        assert _wait_for(lambda: command_of(while_worker_down).status == Status.SUCCEEDED, 30), (
            log.read_text()
        )
        time.sleep(1)
        assert command_of(while_broker_down).status == Status.PENDING
        # The next beat tick drains everything.
        entry = django_settings.CELERY_BEAT_SCHEDULE["drain-outbox"]
        app.send_task(entry["task"], args=entry.get("args", ()), **entry["options"])
        assert _wait_for(lambda: command_of(while_broker_down).status == Status.SUCCEEDED, 30), (
            log.read_text()
        )
    finally:
        worker.stop()
    for adjustment in (while_worker_down, while_broker_down):
        adjustment.refresh_from_db()
        assert adjustment.status == Adjustment.Status.SUCCEEDED and adjustment.upstream_transaction_id


def _broker_down(*args, **kwargs):
    from kombu.exceptions import OperationalError

    raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


def _wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def test_a_burst_of_commands_queues_one_drain_until_that_drain_has_nothing_left(monkeypatch):
    from upstream import tasks

    queued: list = []
    monkeypatch.setattr(tasks.drain_outbox, "apply_async", lambda args, countdown=None: queued.append(args))
    for _ in range(5):
        outbox.schedule_drain("ra")
    outbox.schedule_drain("rb")
    assert queued == [["ra"], ["rb"]]
    # The drain finds nothing more to send: a command committed from now on queues a drain of its own.
    outbox.release_mark("ra")
    outbox.schedule_drain("ra")
    assert queued == [["ra"], ["rb"], ["ra"]]
    # A follow-up at a given time (a backoff) is not held back by the mark.
    outbox.schedule_drain("ra", countdown=5)
    assert queued[-1] == ["ra"] and len(queued) == 4


def test_a_drain_that_could_not_be_queued_leaves_no_mark(monkeypatch):
    from upstream import tasks

    queued: list = []
    monkeypatch.setattr(tasks.drain_outbox, "apply_async", _broker_down)
    outbox.schedule_drain("ra")
    monkeypatch.setattr(tasks.drain_outbox, "apply_async", lambda args, countdown=None: queued.append(args))
    outbox.schedule_drain("ra")
    assert queued == [["ra"]]


@pytest.mark.django_db
def test_commands_written_while_a_drain_runs_are_sent_by_it_without_queueing_more_drains(
    monkeypatch, fake_kinds, fast_outbox
):
    """A running drain holds the mark: the commands of a burst neither queue drains that would race it for
    the partner's line, nor wait for the periodic drain when one is written just as the drain runs dry."""
    from upstream import tasks

    queued: list = []
    monkeypatch.setattr(tasks.drain_outbox, "apply_async", lambda args, countdown=None: queued.append(args))
    sent: list[int] = []

    def send(client, command):
        sent.append(command.pk)
        if len(sent) == 1:  # a user submits another one while the first is being sent
            enqueue("test.serial", {}, partner_key="p1")
            outbox.schedule_drain("p1")
        return {}

    fake_kinds(Handler(kind="test.serial", send=send, serial=True))
    first = enqueue("test.serial", {}, partner_key="p1")
    release = outbox.release_mark
    late: list[OutboxCommand] = []

    def written_just_before_the_release(partner_key):
        if not late:  # committed while the mark still said "a drain runs": it queued none
            late.append(enqueue("test.serial", {}, partner_key="p1"))
            outbox.schedule_drain("p1")
        release(partner_key)

    monkeypatch.setattr(outbox, "release_mark", written_just_before_the_release)
    report = drain("p1", client=object())

    assert queued == [] and report.succeeded == 3
    assert sent[0] == first.pk and sent[-1] == late[0].pk
    assert not OutboxCommand.objects.open().exists()
    # The drain is over: the next command queues a drain of its own.
    outbox.schedule_drain("p1")
    assert queued == [["p1"]]
