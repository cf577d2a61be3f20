"""The upstream client against the simulator over loopback: every operation, typed errors, retries."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from django.conf import settings
from django.utils import translation

from upstream.client import RetryPolicy, UpstreamClient
from upstream.errors import (
    AssociationTypeNotAllowed,
    AuthenticationFailed,
    InsufficientBalance,
    NoRightOnCustomer,
    NoRightOnReseller,
    OutcomeUnknown,
    RateLimited,
    ReferralCustomer,
    UnsupportedOperation,
    UpstreamServerError,
    UpstreamUnavailable,
    ValidationRejected,
)
from upstream.ratelimit import RateLimiter
from upstream.types import AdjustRecord, PartnerBalance, SubCustomer

FAST = RetryPolicy(
    attempts=4, backoff_initial=0.01, backoff_max=0.05, rate_limited_wait=(0.05, 0.1), max_retry_after=5
)
RESELLER = "ip-reseller-a"


class SleepLog(list):
    """The client's sleep between retries: records each wait, then really waits."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
        time.sleep(seconds)


@pytest.fixture
def sleeps():
    return SleepLog()


@pytest.fixture
def limiter():
    """The shared limiter at the simulator's rate, on a schedule of this test's own."""
    return RateLimiter(
        10, scope="demo-ak", redis_url=settings.REDIS_URL, key_prefix=f"test:client:{uuid.uuid4().hex}"
    )


@pytest.fixture
def client(upstream_settings, sleeps, limiter):
    with UpstreamClient.from_settings(retry=FAST, sleep=sleeps, limiter=limiter) as upstream:
        yield upstream


def all_customers(client, **filters) -> list[SubCustomer]:
    return list(client.iter_all(client.list_sub_customers, **filters))


def a_resale_customer(client) -> SubCustomer:
    return next(c for c in all_customers(client, association_type="2"))


def a_referral_customer(client) -> SubCustomer:
    return next(c for c in all_customers(client, association_type="1"))


def cash_account(client, **kwargs) -> PartnerBalance:
    return next(b for b in client.list_partner_balances(**kwargs) if b.account_type == PartnerBalance.CASH)


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


# --- every operation ------------------------------------------------------------------------------------


def test_customers_come_back_as_typed_pages(client):
    first = client.list_sub_customers(limit=5)
    second = client.list_sub_customers(offset=5, limit=5)
    assert first.total >= 10 and len(first) == 5 and first.has_more
    customer = first.items[0]
    assert isinstance(customer, SubCustomer)
    assert len(customer.customer_id) == 32 and int(customer.customer_id, 16) >= 0
    assert customer.association_type in ("1", "2")
    assert customer.associated_on.tzinfo == UTC
    assert customer.raw["customer_id"] == customer.customer_id
    assert {c.customer_id for c in first}.isdisjoint(c.customer_id for c in second)
    assert len(all_customers(client)) == first.total


def test_a_distributor_lists_its_resellers_and_acts_for_them(client):
    resellers = client.list_indirect_partners()
    assert {"ip-reseller-a", "ip-reseller-b"} <= {r.indirect_partner_id for r in resellers}
    assert next(r for r in resellers if r.indirect_partner_id == RESELLER).name == "Reseller A"

    direct = {c.customer_id for c in all_customers(client)}
    theirs = {c.customer_id for c in all_customers(client, indirect_partner_id=RESELLER)}
    assert theirs and direct.isdisjoint(theirs)
    # Every list operation takes indirect_partner_id.
    assert client.list_partner_balances(indirect_partner_id=RESELLER).items
    client.list_adjust_records(indirect_partner_id=RESELLER, limit=5)
    client.list_customer_warnings(indirect_partner_id=RESELLER, limit=5)
    client.list_association_records(indirect_partner_id=RESELLER, limit=5)
    client.list_commercial_discounts(indirect_partner_id=RESELLER, limit=5)
    client.list_dedicated_offers(indirect_partner_id=RESELLER, limit=5)


def test_balances_are_decimal_and_only_resale_customers_have_one(client):
    cash = cash_account(client)
    assert isinstance(cash.amount, Decimal) and cash.amount.as_tuple().exponent == -2
    assert cash.available_to_allocate == cash.amount - cash.designated_amount
    assert cash.currency == "CNY" and cash.measure_id == 1

    resale = [c.customer_id for c in all_customers(client, association_type="2")[:3]]
    referral = a_referral_customer(client).customer_id
    balances = client.list_customers_balances([*resale, referral])
    assert [b.customer_id for b in balances] == resale
    assert all(isinstance(b.amount, Decimal) and isinstance(b.debt_amount, Decimal) for b in balances)


def test_allocating_and_reclaiming_move_exact_decimal_amounts(client):
    customer = a_resale_customer(client)
    before = client.list_customers_balances([customer.customer_id]).items[0].amount
    partner_before = cash_account(client).amount

    allocated = client.allocate_to_customer(customer.customer_id, Decimal("12.50"))
    reclaimed = client.reclaim_from_customer(customer.customer_id, "2.25")

    after = client.list_customers_balances([customer.customer_id]).items[0].amount
    assert after == before + Decimal("10.25")
    assert cash_account(client).amount == partner_before - Decimal("10.25")
    assert allocated.transaction_id and reclaimed.transaction_id != allocated.transaction_id
    (record,) = client.list_adjust_records(
        customer_id=customer.customer_id, trans_id=allocated.transaction_id
    )
    assert record.amount == Decimal("12.50") and str(record.amount) == "12.50"
    assert record.operation_type == AdjustRecord.ALLOCATE
    assert record.operation_time.tzinfo == UTC
    (record,) = client.list_adjust_records(
        customer_id=customer.customer_id,
        operation_type=AdjustRecord.RECLAIM,
        trans_id=reclaimed.transaction_id,
    )
    assert record.amount == Decimal("2.25")


def test_a_distributor_allocates_to_and_reclaims_from_a_reseller(client):
    before = cash_account(client, indirect_partner_id=RESELLER).amount
    assert client.allocate_to_reseller(RESELLER, Decimal("100.00")).transaction_id
    assert client.reclaim_from_reseller(RESELLER, Decimal("0.01")).transaction_id
    assert cash_account(client, indirect_partner_id=RESELLER).amount == before + Decimal("99.99")


def test_a_partner_discount_is_set_and_read_back(client):
    customer = a_referral_customer(client)
    start, end = now(), now() + timedelta(days=30)
    client.set_partner_discount(customer.customer_id, Decimal("0.85"), effective_time=start, expire_time=end)
    discount = client.get_partner_discount(customer.customer_id)
    assert discount.discount == Decimal("0.85")
    assert (discount.effective_time, discount.expire_time) == (start, end)
    with pytest.raises(AssociationTypeNotAllowed):
        client.get_partner_discount(a_resale_customer(client).customer_id)


def test_warnings_are_listed_and_handled(client, upstream_sim):
    upstream_sim.tick(warnings=1)
    pending = client.list_customer_warnings(status="PENDING", limit=100)
    warning = pending.items[-1]
    assert warning.status == "PENDING" and warning.send_time.tzinfo == UTC
    result = {"CHURN": "NOT_LOST"}.get(warning.category, "HANDLED")
    client.handle_customer_warning(warning.warning_id, result, remark="客户已续费")
    handled = client.list_customer_warnings(customer_id=warning.customer_id, status="HANDLED")
    assert warning.warning_id in {w.warning_id for w in handled}
    assert next(w for w in handled if w.warning_id == warning.warning_id).handle_result == result


def test_an_association_change_is_checked_applied_and_recorded(client):
    records = client.list_association_records(limit=5)
    assert records.total >= 5 and records.items[0].operation_time.tzinfo == UTC

    # The simulator gives some customers blockers (arrears, reserved instances…): find one without.
    referral = all_customers(client, association_type="1")
    checks = (client.check_association_change(c.customer_id, "SWITCH_TO_RESALE") for c in referral)
    blocked, customer_id = [], None
    for customer, check in zip(referral, checks, strict=False):
        if check.passed:
            customer_id = customer.customer_id
            break
        blocked.append(check)
    assert customer_id and all(check.items for check in blocked)
    change = client.apply_association_change(
        customer_id, "SWITCH_TO_RESALE", reason="客户要求代售", customer_confirmed_at=now()
    )
    switches = client.list_association_records(customer_id=customer_id, operation_type="SWITCH")
    record = next(r for r in switches if r.record_id == change.record_id)
    assert (record.from_association_type, record.association_type) == ("1", "2")


def test_commercial_discounts_and_dedicated_offers(client):
    discounts = client.list_commercial_discounts(limit=5)
    assert discounts.items and all(isinstance(d.discount_rate, Decimal) for d in discounts)
    assert all(d.discount_type in (605, 606) for d in discounts)

    customer = a_referral_customer(client)
    created = client.create_dedicated_offer(
        name=f"ECS 专属优惠 {uuid.uuid4().hex[:8]}",
        customer_account_name=customer.account_name,
        product_ids=["OFFI-ECS-C7-2U4G", "OFFI-EVS-SSD-100G"],
        effective_time=now(),
        expire_time=now() + timedelta(days=90),
    )
    offers = client.list_dedicated_offers(customer_id=customer.customer_id, status="ACTIVE")
    offer = next(o for o in offers if o.offer_id == created.offer_id)
    assert offer.product_ids == ("OFFI-ECS-C7-2U4G", "OFFI-EVS-SSD-100G")
    client.invalidate_dedicated_offer(created.offer_id, reason="客户不再需要")
    offers = client.list_dedicated_offers(customer_id=customer.customer_id, status="INVALIDATED")
    assert created.offer_id in {o.offer_id for o in offers}


# --- errors ---------------------------------------------------------------------------------------------


def test_business_errors_become_typed_exceptions_without_retries(client, sleeps):
    resale, referral = a_resale_customer(client), a_referral_customer(client)
    too_much = cash_account(client).available_to_allocate + Decimal("0.01")

    with pytest.raises(InsufficientBalance) as caught:
        client.allocate_to_customer(resale.customer_id, too_much)
    error = caught.value
    assert (error.error_code, error.status, error.operation) == (
        "CBC.5003",
        400,
        "UpdateCustomerAccountAmount",
    )
    assert error.request_id
    with translation.override("en"):
        assert str(error.message).startswith("The account does not have enough available balance")
    with translation.override("zh-hans"):
        assert "余额不足" in str(error.message)
    assert "CBC.5003" in str(error)

    with pytest.raises(NoRightOnCustomer):
        client.reclaim_from_customer("0" * 32, Decimal("1.00"))
    with pytest.raises(ReferralCustomer) as caught:
        client.allocate_to_customer(referral.customer_id, Decimal("1.00"))
    assert caught.value.error_code == "CBC.5021"
    with pytest.raises(NoRightOnReseller):
        client.list_partner_balances(indirect_partner_id="ip-somebody-else")
    with pytest.raises(ValidationRejected) as caught:
        client.list_sub_customers(limit=101)
    assert caught.value.error_code == "CBC.0100"
    assert sleeps == []


def test_a_wrong_secret_key_or_clock_is_an_authentication_failure(upstream_settings, sleeps, limiter):
    with (
        UpstreamClient.from_settings(
            sk="not-the-secret", retry=FAST, sleep=sleeps, limiter=limiter
        ) as wrong_sk,
        pytest.raises(AuthenticationFailed) as caught,
    ):
        wrong_sk.list_partner_balances()
    assert caught.value.status == 401
    late = lambda: datetime.now(UTC) - timedelta(minutes=20)  # noqa: E731
    with (
        UpstreamClient.from_settings(clock=late, retry=FAST, sleep=sleeps, limiter=limiter) as skewed,
        pytest.raises(AuthenticationFailed),
    ):
        skewed.list_partner_balances()
    assert sleeps == []


# --- retries ----------------------------------------------------------------------------------------------


def test_a_429_with_retry_after_is_retried_transparently_for_reads(client, upstream_sim, sleeps):
    upstream_sim.set_faults(burst_429={"every": 1, "length": 1})  # every other call is refused
    assert client.list_partner_balances().items
    assert client.list_partner_balances().items
    assert sleeps == [1.0]  # the simulator's Retry-After


def test_the_simulators_own_rate_limit_is_waited_out(upstream_settings, upstream_sim, sleeps):
    upstream_sim.set_rate_limit(2)
    with UpstreamClient.from_settings(retry=FAST, sleep=sleeps, rate_limit=0) as unthrottled:
        for _ in range(4):
            assert unthrottled.list_indirect_partners().total >= 2
    assert sleeps and all(s >= 1 for s in sleeps)


class Scripted(BaseHTTPRequestHandler):
    """Answers requests from a script of (status, headers, body); records what it was sent."""

    protocol_version = "HTTP/1.1"
    script: list[tuple[int, dict[str, str], bytes]]
    received: list[tuple[str, str, dict[str, str], bytes]]

    def _answer(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.received.append((self.command, self.path, dict(self.headers), body))
        status, headers, payload = self.script.pop(0)
        self.send_response(status)
        for key, value in {**headers, "Content-Length": str(len(payload))}.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def scripted():
    """A tiny local HTTP server; set `.script` before calling it."""
    handler = type("Handler", (Scripted,), {"script": [], "received": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield handler
    server.shutdown()
    server.server_close()


def local_client(url, sleeps, **kwargs):
    return UpstreamClient(url, "demo-ak", "demo-sk", "demo-distributor", retry=FAST, sleep=sleeps, **kwargs)


REFUSED = (
    429,
    {"Content-Type": "application/json"},
    b'{"error_code":"CBC.0250","error_msg":"Flow control."}',
)


def test_a_429_without_retry_after_waits_a_random_pause_and_retries(scripted, sleeps):
    balances = {"account_balances": [{"account_id": "x", "account_type": 1, "amount": 1.5, "measure_id": 1}]}
    scripted.script = [REFUSED, (200, {}, json.dumps(balances).encode())]
    with local_client(scripted.url, sleeps) as upstream:
        (balance,) = upstream.list_partner_balances()
    assert balance.amount == Decimal("1.50")
    assert len(scripted.received) == 2
    (pause,) = sleeps
    assert FAST.rate_limited_wait[0] <= pause <= FAST.rate_limited_wait[1]


def test_a_write_refused_with_429_was_not_applied_and_is_resent(scripted, sleeps):
    scripted.script = [REFUSED, (200, {}, b'{"transfer_id":"T1"}')]
    with local_client(scripted.url, sleeps) as upstream:
        assert upstream.allocate_to_customer("c" * 32, Decimal("5")).transaction_id == "T1"
    assert len(scripted.received) == 2 and len(sleeps) == 1


def test_a_long_retry_after_is_not_slept_through(scripted, sleeps):
    scripted.script = [(429, {"Retry-After": "120"}, b"")]
    with local_client(scripted.url, sleeps) as upstream, pytest.raises(RateLimited) as caught:
        upstream.list_partner_balances()
    assert caught.value.retry_after == 120 and sleeps == []


def test_a_business_error_in_a_200_body_is_raised_and_a_server_code_on_a_write_is_not_resent(
    scripted, sleeps
):
    scripted.script = [
        (200, {}, b'{"error_code":"CBC.5003","error_msg":"Insufficient balance."}'),
        (400, {}, b'{"error_code":"CBC.0999","error_msg":"Other error."}'),
    ]
    with local_client(scripted.url, sleeps) as upstream:
        with pytest.raises(InsufficientBalance):
            upstream.allocate_to_customer("c" * 32, Decimal("5"))
        with pytest.raises(OutcomeUnknown):
            upstream.allocate_to_customer("c" * 32, Decimal("5"))
    assert len(scripted.received) == 2 and sleeps == []


def test_server_errors_on_reads_are_retried_until_they_succeed(
    upstream_settings, upstream_sim, sleeps, limiter
):
    errors_before = upstream_sim.state()["server_errors_500"]
    upstream_sim.set_faults(error_rate=0.4, seed=3)
    patience = RetryPolicy(attempts=10, backoff_initial=0.01, backoff_max=0.02)
    with UpstreamClient.from_settings(retry=patience, sleep=sleeps, limiter=limiter) as patient:
        for _ in range(8):
            assert patient.list_indirect_partners().total >= 2
    assert sleeps  # some calls did fail first, and each failure was retried
    assert upstream_sim.state()["server_errors_500"] - errors_before == len(sleeps)


def test_reads_give_up_after_the_configured_attempts(client, upstream_sim, sleeps):
    upstream_sim.set_faults(error_rate=1.0)
    with pytest.raises(UpstreamServerError) as caught:
        client.list_indirect_partners()
    assert isinstance(caught.value, UpstreamUnavailable) and caught.value.error_code == "CBC.0999"
    assert len(sleeps) == FAST.attempts - 1


def test_a_server_error_on_a_write_is_an_unknown_outcome_and_is_not_resent(client, upstream_sim, sleeps):
    customer = a_resale_customer(client)
    records_before = len(upstream_sim.adjust_records(customer.customer_id))
    upstream_sim.set_faults(error_rate=1.0)
    with pytest.raises(OutcomeUnknown) as caught:
        client.allocate_to_customer(customer.customer_id, Decimal("1.00"))
    assert caught.value.status == 500 and sleeps == []
    upstream_sim.clear_faults()
    assert len(upstream_sim.adjust_records(customer.customer_id)) == records_before


def test_a_write_applied_then_timed_out_is_an_unknown_outcome_found_in_the_adjust_records(
    upstream_settings, upstream_sim, sleeps, limiter
):
    with UpstreamClient.from_settings(
        read_timeout=0.5, retry=FAST, sleep=sleeps, limiter=limiter
    ) as upstream:
        customer = a_resale_customer(upstream)
        records_before = len(upstream_sim.adjust_records(customer.customer_id))
        upstream_sim.set_faults(
            apply_then_timeout={"operations": ["UpdateCustomerAccountAmount"], "rate": 1.0, "hang_seconds": 3}
        )
        started = time.monotonic()
        with pytest.raises(OutcomeUnknown) as caught:
            upstream.allocate_to_customer(customer.customer_id, Decimal("3.21"))
        assert time.monotonic() - started < 2
        assert caught.value.operation == "UpdateCustomerAccountAmount" and sleeps == []
        upstream_sim.clear_faults()
        # Applied once and not resent; the caller finds it by reconciling against the adjust records.
        records = upstream_sim.adjust_records(customer.customer_id)
        assert len(records) == records_before + 1
        found = upstream.list_adjust_records(
            customer_id=customer.customer_id, operation_type=AdjustRecord.ALLOCATE
        )
        assert Decimal("3.21") in {r.amount for r in found}


def test_reads_that_time_out_are_retried_then_reported_unavailable(upstream_settings, upstream_sim, sleeps):
    upstream_sim.set_faults(latency_ms=1000)
    retry = RetryPolicy(attempts=2, backoff_initial=0.01, backoff_max=0.01)
    with (
        UpstreamClient.from_settings(read_timeout=0.3, retry=retry, sleep=sleeps, rate_limit=0) as upstream,
        pytest.raises(UpstreamUnavailable) as caught,
    ):
        upstream.list_partner_balances()
    assert "ReadTimeout" in caught.value.error_msg and len(sleeps) == 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_refused_connection_is_retried_for_reads_and_writes_alike(sleeps):
    # Nothing was sent, so even a write may be resent.
    with local_client(f"http://127.0.0.1:{free_port()}", sleeps) as upstream:
        with pytest.raises(UpstreamUnavailable):
            upstream.list_partner_balances()
        assert len(sleeps) == FAST.attempts - 1
        with pytest.raises(UpstreamUnavailable) as caught:
            upstream.allocate_to_customer("c" * 32, Decimal("1.00"))
        assert not isinstance(caught.value, OutcomeUnknown)
        assert len(sleeps) == 2 * (FAST.attempts - 1)


# --- no HTTP at all ---------------------------------------------------------------------------------------


def refuse_any_request(request):
    raise AssertionError(f"no request should be made, got {request.method} {request.url}")


def test_ext_operations_against_the_real_platform_fail_clearly_before_any_request(sleeps):
    real = UpstreamClient(
        "https://bss.myhuaweicloud.com",
        "AK",
        "SK",
        "domain",
        is_simulator=False,
        transport=httpx.MockTransport(refuse_any_request),
    )
    later = now() + timedelta(days=1)
    calls = {
        "ListCustomerWarnings": lambda: real.list_customer_warnings(),
        "HandleCustomerWarning": lambda: real.handle_customer_warning("WRN1", "HANDLED"),
        "ListAssociationRecords": lambda: real.list_association_records(),
        "CheckAssociationChange": lambda: real.check_association_change("c" * 32, "DISASSOCIATE"),
        "ApplyAssociationChange": lambda: real.apply_association_change(
            "c" * 32, "DISASSOCIATE", reason="r", customer_confirmed_at=later
        ),
        "ListCommercialDiscounts": lambda: real.list_commercial_discounts(),
        "ListDedicatedOffers": lambda: real.list_dedicated_offers(),
        "CreateDedicatedOffer": lambda: real.create_dedicated_offer(
            name="n", customer_account_name="a", product_ids=["p"], effective_time=later, expire_time=later
        ),
        "InvalidateDedicatedOffer": lambda: real.invalidate_dedicated_offer("DO1", reason="r"),
    }
    for operation, call in calls.items():
        with pytest.raises(UnsupportedOperation) as caught:
            call()
        with translation.override("en"):
            message = str(caught.value)
        assert operation in message and "no public API" in message and "bss.myhuaweicloud.com" in message
    real.close()


def test_requests_carry_the_contract_headers_and_amounts_as_two_place_strings():
    sent = []

    def answer(request):
        sent.append(request)
        return httpx.Response(200, json={"transfer_id": "T42"})

    upstream = UpstreamClient(
        "https://bss.example.com", "AK", "SK", "domain-1", transport=httpx.MockTransport(answer)
    )
    upstream.allocate_to_customer("c" * 32, Decimal("12.5"), indirect_partner_id=RESELLER)
    (request,) = sent
    assert json.loads(request.content) == {
        "customer_id": "c" * 32,
        "amount": "12.50",
        "indirect_partner_id": RESELLER,
    }
    headers = request.headers
    assert headers["Content-Type"] == "application/json"
    assert headers["Host"] == "bss.example.com"
    assert headers["X-Domain-Id"] == "domain-1"
    assert len(headers["X-Sdk-Date"]) == 16 and headers["X-Sdk-Date"].endswith("Z")
    assert headers["Authorization"].startswith(
        "SDK-HMAC-SHA256 Access=AK, SignedHeaders=content-type;host;x-domain-id;x-sdk-date, Signature="
    )
    with pytest.raises(TypeError):
        upstream.allocate_to_customer("c" * 32, 12.5)
    with pytest.raises(ValueError, match="2 decimal places"):
        upstream.allocate_to_customer("c" * 32, Decimal("1.005"))
    assert len(sent) == 1
    upstream.close()


def test_each_call_is_logged_at_debug_level(client, caplog):
    caplog.set_level(logging.DEBUG, logger="upstream.client")
    client.list_indirect_partners()
    (line,) = [r.getMessage() for r in caplog.records if r.name == "upstream.client"]
    assert "ListIndirectPartners" in line and "200" in line and "request id" in line


def test_the_client_is_built_from_the_upstream_settings(upstream_settings):
    upstream_settings.UPSTREAM_CONNECT_TIMEOUT = 1.5
    upstream_settings.UPSTREAM_READ_TIMEOUT = 7.0
    upstream_settings.UPSTREAM_IS_SIMULATOR = False
    with UpstreamClient.from_settings() as upstream:
        assert upstream.endpoint == upstream_settings.UPSTREAM_ENDPOINT
        assert (upstream.ak, upstream.domain_id, upstream.is_simulator) == (
            "demo-ak",
            "demo-distributor",
            False,
        )
        assert upstream.limiter.rate == upstream_settings.UPSTREAM_RATE_LIMIT
        timeout = upstream._http.timeout
        assert (timeout.connect, timeout.read) == (1.5, 7.0)
