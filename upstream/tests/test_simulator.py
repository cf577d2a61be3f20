"""The upstream simulator against its contract (docs/upstream.md), driven over HTTP like the portal drives it.

Signed calls go through the official SDK's signer (huaweicloudsdkcore), which also proves that the simulator
accepts the official signature. No database is needed: run with ``-p no:django``.
"""

from __future__ import annotations

import http.client
import json
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

from upstream.simulator.store import Store
from upstream.simulator.testing import SimulatorError, SimulatorProcess

DIRECT = "demo-distributor"
RA, RB = "ip-reseller-a", "ip-reseller-b"

CUSTOMERS = "/v2/partners/sub-customers/query"
PARTNER_BALANCES = "/v2/accounts/partner-accounts/balances"
CUSTOMER_BALANCES = "/v2/accounts/customer-accounts/balances/batch-query"
ALLOCATE = "/v2/accounts/partner-accounts/adjust-amount"
RECLAIM = "/v2/accounts/partner-accounts/reclaim"
RESELLER_ADJUST = "/v2/accounts/partner-accounts/indirect-partner-adjust"
RESELLER_RECLAIM = "/v2/accounts/partner-accounts/indirect-partner-reclaim"
ADJUST_RECORDS = "/v3/accounts/partner-accounts/adjust-records"
DISCOUNTS = "/v2/partners/discounts"
WARNINGS = "/v2/partners/customer-warnings/query"
ASSOCIATION_RECORDS = "/v2/partners/association-records"
OFFERS = "/v2/partners/dedicated-offers"


class Response(SimpleNamespace):
    status: int
    headers: dict[str, str]
    body: object

    @property
    def code(self) -> str | None:
        return self.body.get("error_code") if isinstance(self.body, dict) else None


class Client:
    """A minimal signed client: the official SDK signs, http.client sends."""

    def __init__(self, url: str, ak: str = "demo-ak", sk: str = "demo-sk", domain_id: str = DIRECT) -> None:
        self.url, self.ak, self.sk, self.domain_id = url, ak, sk, domain_id

    def call(
        self, method, path, body=None, *, query=None, sdk_date=None, sk=None, send_body=None, timeout=10.0
    ):
        netloc = urlsplit(self.url).netloc
        headers = {"Content-Type": "application/json", "X-Domain-Id": self.domain_id}
        if sdk_date:
            headers["X-Sdk-Date"] = sdk_date
        payload = b"" if body is None else json.dumps(body).encode()
        request = SdkRequest(
            method=method,
            schema="http",
            host=netloc,
            resource_path=path,
            query_params=list((query or {}).items()),
            header_params=headers,
            body=payload,
        )
        Signer(SimpleNamespace(ak=self.ak, sk=sk or self.sk)).sign(request)
        conn = http.client.HTTPConnection(netloc, timeout=timeout)
        try:
            sent = payload if send_body is None else json.dumps(send_body).encode()
            conn.request(method, request.uri, body=sent, headers=request.header_params)
            raw = conn.getresponse()
            data = raw.read()
            parsed = json.loads(data, parse_float=Decimal) if data else ""
            return Response(status=raw.status, headers=dict(raw.getheaders()), body=parsed)
        finally:
            conn.close()

    def ok(self, method, path, body=None, **kwargs):
        response = self.call(method, path, body, **kwargs)
        assert response.status == 200, response
        return response.body


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    with SimulatorProcess(
        customers=80, seed=11, data_dir=tmp_path_factory.mktemp("sim"), rate_limit=0
    ) as process:
        yield process


@pytest.fixture
def client(sim):
    sim.clear_faults()
    yield Client(sim.url)
    sim.clear_faults()


def all_customers(client, **filters):
    rows, offset = [], 0
    while True:
        page = client.ok("POST", CUSTOMERS, {**filters, "offset": offset, "limit": 100})
        rows += page["customer_infos"]
        offset += 100
        if offset >= page["count"]:
            return rows


def balances(client, customer_ids, indirect_partner_id=None):
    body = {"customer_infos": [{"customer_id": c} for c in customer_ids]}
    if indirect_partner_id:
        body["indirect_partner_id"] = indirect_partner_id
    return {b["customer_id"]: b for b in client.ok("POST", CUSTOMER_BALANCES, body)["customer_balances"]}


def balance_account(client, indirect_partner_id=None):
    query = {"indirect_partner_id": indirect_partner_id} if indirect_partner_id else None
    accounts = client.ok("GET", PARTNER_BALANCES, query=query)["account_balances"]
    return next(a for a in accounts if a["account_type"] == 1)


def clean_customer(client, change, *, association_type, with_balance=False):
    """A direct customer whose account check passes (and, if asked, one with money)."""
    rows = all_customers(client, association_type=association_type)
    money = balances(client, [r["customer_id"] for r in rows[:100]]) if with_balance else {}
    for row in rows:
        cid = row["customer_id"]
        if with_balance and not (cid in money and money[cid]["amount"] > 0):
            continue
        path = f"/v2/partners/sub-customers/{cid}/association-check"
        if client.ok("POST", path, {"change": change})["passed"]:
            return row
    pytest.fail("no suitable customer in the generated world")


def resale_customer(client, indirect_partner_id=None):
    filters = {"association_type": "2", "limit": 1}
    if indirect_partner_id:
        filters["indirect_partner_id"] = indirect_partner_id
    return client.ok("POST", CUSTOMERS, filters)["customer_infos"][0]


def sdk_date(delta=timedelta()):
    return (datetime.now(UTC) + delta).strftime("%Y%m%dT%H%M%SZ")


# ---- signatures ------------------------------------------------------------------------------------------


def test_a_call_signed_by_the_official_sdk_signer_succeeds_with_a_request_id(client):
    response = client.call("POST", CUSTOMERS, {})
    assert response.status == 200
    assert len(response.headers["X-Request-Id"]) >= 16
    assert response.body["count"] > 0
    assert len(response.body["customer_infos"]) == 10


def test_a_wrong_secret_key_is_refused_with_401(client):
    response = client.call("POST", CUSTOMERS, {}, sk="not-the-secret")
    assert response.status == 401
    assert response.code == "APIGW.0301"
    assert response.body["error_msg"]
    assert "X-Request-Id" in response.headers


def test_a_date_more_than_15_minutes_off_is_refused(client):
    assert client.call("POST", CUSTOMERS, {}, sdk_date=sdk_date(timedelta(minutes=-16))).status == 401
    assert client.call("POST", CUSTOMERS, {}, sdk_date=sdk_date(timedelta(minutes=16))).status == 401
    assert client.call("POST", CUSTOMERS, {}, sdk_date=sdk_date(timedelta(minutes=-14))).status == 200


def test_an_unknown_access_key_is_refused(sim):
    assert Client(sim.url, ak="someone-else").call("POST", CUSTOMERS, {}).code == "APIGW.0301"


def test_a_request_without_authorization_is_refused(sim):
    conn = http.client.HTTPConnection(urlsplit(sim.url).netloc, timeout=5)
    conn.request(
        "POST", CUSTOMERS, body=b"{}", headers={"Content-Type": "application/json", "X-Domain-Id": DIRECT}
    )
    response = conn.getresponse()
    assert response.status == 401
    assert json.loads(response.read())["error_code"] == "APIGW.0301"
    conn.close()


def test_a_body_changed_after_signing_is_refused(client):
    response = client.call("POST", CUSTOMERS, {"limit": 5}, send_body={"limit": 6})
    assert response.status == 401


def test_query_values_with_reserved_characters_verify(client):
    page = client.ok("GET", ADJUST_RECORDS, query={"trans_id": "a b~c*/é", "limit": "5"})
    assert page == {"total_count": 0, "records": []}


def test_another_domain_id_is_refused_with_403(sim):
    response = Client(sim.url, domain_id="someone-else").call("POST", CUSTOMERS, {})
    assert (response.status, response.code) == (403, "CBC.0151")


def test_an_unknown_path_is_404_with_an_error_body(client):
    response = client.call("POST", "/v2/partners/no-such-thing", {})
    assert response.status == 404
    assert response.code


def test_a_body_that_is_not_json_is_a_parameter_error(sim):
    client = Client(sim.url)
    netloc = urlsplit(sim.url).netloc
    request = SdkRequest(
        method="POST",
        schema="http",
        host=netloc,
        resource_path=CUSTOMERS,
        query_params=[],
        header_params={"Content-Type": "application/json", "X-Domain-Id": DIRECT},
        body=b"{nope",
    )
    Signer(SimpleNamespace(ak=client.ak, sk=client.sk)).sign(request)
    conn = http.client.HTTPConnection(netloc, timeout=5)
    conn.request("POST", request.uri, body=b"{nope", headers=request.header_params)
    response = conn.getresponse()
    assert (response.status, json.loads(response.read())["error_code"]) == (400, "CBC.0100")
    conn.close()


# ---- paging and filters ----------------------------------------------------------------------------------


def test_paging_defaults_to_10_accepts_1_to_100_and_visits_every_customer_once(client, sim):
    assert len(client.ok("POST", CUSTOMERS, {})["customer_infos"]) == 10
    for bad in ({"limit": 0}, {"limit": 101}, {"offset": -1}, {"limit": "x"}):
        assert client.call("POST", CUSTOMERS, bad).code == "CBC.0100", bad
    rows, offset = [], 0
    while True:
        page = client.ok("POST", CUSTOMERS, {"offset": offset, "limit": 7})
        rows += page["customer_infos"]
        offset += 7
        if offset >= page["count"]:
            break
    assert len(rows) == page["count"] == len({r["customer_id"] for r in rows})
    assert page["count"] == sim.state()["customers"]["by_partner"][DIRECT]["total"]


def test_customer_rows_carry_the_contract_fields(client):
    row = client.ok("POST", CUSTOMERS, {"limit": 1})["customer_infos"][0]
    assert set(row) == {
        "customer",
        "account_name",
        "customer_id",
        "associated_on",
        "association_type",
        "label",
        "telephone",
        "verified_status",
        "country_code",
        "customer_type",
        "is_frozen",
        "account_managers",
        "customer_level",
        "email",
    }
    assert len(row["customer_id"]) == 32
    assert row["account_name"].startswith("hwc-")
    assert row["association_type"] in ("1", "2")
    assert len(row["account_managers"]) <= 1


def test_time_filters_take_the_utc_format_only(client):
    assert client.call("POST", CUSTOMERS, {"associated_on_begin": "2024-01-01 00:00:00"}).code == "CBC.0100"
    assert client.call("POST", CUSTOMERS, {"associated_on_begin": "2024-02-30T00:00:00Z"}).code == "CBC.0100"
    recent = client.ok("POST", CUSTOMERS, {"associated_on_begin": "2000-01-01T00:00:00Z", "limit": 1})
    assert recent["count"] == client.ok("POST", CUSTOMERS, {"limit": 1})["count"]


# ---- scope -----------------------------------------------------------------------------------------------


def test_without_indirect_partner_id_only_direct_customers_are_listed_and_with_it_the_resellers(client, sim):
    by_partner = sim.state()["customers"]["by_partner"]
    direct = {r["customer_id"] for r in all_customers(client)}
    reseller_a = {r["customer_id"] for r in all_customers(client, indirect_partner_id=RA)}
    assert len(direct) == by_partner[DIRECT]["total"]
    assert len(reseller_a) == by_partner[RA]["total"]
    assert not direct & reseller_a
    partners = client.ok("POST", "/v2/partners/indirect-partners/query", {})
    assert [(p["indirect_partner_id"], p["name"]) for p in partners["indirect_partners"]] == [
        (RA, "Reseller A"),
        (RB, "Reseller B"),
    ]


def test_an_unknown_reseller_is_refused_with_99000037(client):
    response = client.call("POST", CUSTOMERS, {"indirect_partner_id": "ip-nobody"})
    assert (response.status, response.code) == (400, "CBC.99000037")
    response = client.call("GET", PARTNER_BALANCES, query={"indirect_partner_id": "ip-nobody"})
    assert response.code == "CBC.99000037"


def test_a_customer_of_another_partner_is_refused_with_5004(client):
    theirs = resale_customer(client, RA)["customer_id"]
    response = client.call("POST", ALLOCATE, {"customer_id": theirs, "amount": "1.00"})
    assert (response.status, response.code) == (400, "CBC.5004")
    assert client.call("POST", CUSTOMERS, {"customer_id": theirs}).code == "CBC.5004"
    assert client.ok("POST", CUSTOMERS, {"customer_id": theirs, "indirect_partner_id": RA})["count"] == 1


def test_the_balance_batch_query_leaves_out_referral_and_foreign_customers(client):
    referral = client.ok("POST", CUSTOMERS, {"association_type": "1", "limit": 1})["customer_infos"][0]
    resale = resale_customer(client)
    foreign = resale_customer(client, RA)
    found = balances(client, [referral["customer_id"], resale["customer_id"], foreign["customer_id"]])
    assert list(found) == [resale["customer_id"]]
    assert set(found[resale["customer_id"]]) == {
        "customer_id",
        "amount",
        "debt_amount",
        "currency",
        "measure_id",
    }
    assert client.call("POST", CUSTOMER_BALANCES, {"customer_infos": []}).code == "CBC.0100"


# ---- money -----------------------------------------------------------------------------------------------


def test_allocation_moves_money_and_writes_one_record_with_the_transfer_id(client, sim):
    customer = resale_customer(client)["customer_id"]
    before_partner = balance_account(client)["amount"]
    before_customer = balances(client, [customer])[customer]["amount"]
    result = client.ok("POST", ALLOCATE, {"customer_id": customer, "amount": "12.34"})
    assert set(result) == {"transfer_id"}
    assert balance_account(client)["amount"] == before_partner - Decimal("12.34")
    assert balances(client, [customer])[customer]["amount"] == before_customer + Decimal("12.34")
    records = client.ok("GET", ADJUST_RECORDS, query={"trans_id": result["transfer_id"]})["records"]
    assert len(records) == 1
    assert records[0]["operation_type"] == "SOURCE_OPERATION_BEADJUST"
    assert records[0]["amount"] == Decimal("12.34")
    assert records[0]["customer_id"] == customer
    assert [r["trans_id"] for r in sim.adjust_records(customer)].count(result["transfer_id"]) == 1


def test_allocation_accepts_a_number_and_refuses_bad_amounts(client):
    customer = resale_customer(client)["customer_id"]
    assert client.call("POST", ALLOCATE, {"customer_id": customer, "amount": 1.5}).status == 200
    for bad in ("1.001", 0, -5, "abc", "NaN", "1e40", True, None, [1]):
        response = client.call("POST", ALLOCATE, {"customer_id": customer, "amount": bad})
        assert (response.status, response.code) == (400, "CBC.0100"), bad


def test_allocation_beyond_balance_minus_designated_amount_is_refused_with_5003(client):
    customer = resale_customer(client)["customer_id"]
    account = balance_account(client)
    too_much = account["amount"] - account["designated_amount"] + Decimal("0.01")
    response = client.call("POST", ALLOCATE, {"customer_id": customer, "amount": str(too_much)})
    assert (response.status, response.code) == (400, "CBC.5003")
    assert balance_account(client)["amount"] == account["amount"]


def test_allocation_to_a_referral_customer_is_refused_with_5021(client):
    referral = client.ok("POST", CUSTOMERS, {"association_type": "1", "limit": 1})["customer_infos"][0]
    response = client.call("POST", ALLOCATE, {"customer_id": referral["customer_id"], "amount": "1"})
    assert (response.status, response.code) == (400, "CBC.5021")


def test_reclaim_returns_a_trans_id_and_never_leaves_a_negative_balance(client):
    customer = resale_customer(client)["customer_id"]
    client.ok("POST", ALLOCATE, {"customer_id": customer, "amount": "5.00"})
    have = balances(client, [customer])[customer]["amount"]
    response = client.call("POST", RECLAIM, {"customer_id": customer, "amount": str(have + Decimal("0.01"))})
    assert (response.status, response.code) == (400, "CBC.5003")
    result = client.ok("POST", RECLAIM, {"customer_id": customer, "amount": str(have)})
    assert set(result) == {"trans_id"}
    assert balances(client, [customer])[customer]["amount"] == 0
    records = client.ok("GET", ADJUST_RECORDS, query={"trans_id": result["trans_id"]})["records"]
    assert records[0]["operation_type"] == "SOURCE_OPERATION_BERETRIEVE"


def test_with_indirect_partner_id_the_reseller_pays_and_money_moves_between_tiers(client):
    customer = resale_customer(client, RA)["customer_id"]
    distributor, reseller = balance_account(client)["amount"], balance_account(client, RA)["amount"]
    client.ok("POST", ALLOCATE, {"customer_id": customer, "amount": "10", "indirect_partner_id": RA})
    assert balance_account(client, RA)["amount"] == reseller - 10
    assert balance_account(client)["amount"] == distributor
    response = client.call(
        "POST", ALLOCATE, {"customer_id": customer, "amount": str(reseller), "indirect_partner_id": RA}
    )
    assert response.code == "CBC.5003"

    transfer = client.ok("POST", RESELLER_ADJUST, {"indirect_partner_id": RA, "amount": "100.00"})
    assert set(transfer) == {"transfer_id"}
    record = client.ok("GET", ADJUST_RECORDS, query={"trans_id": transfer["transfer_id"]})["records"][0]
    assert (record["customer_id"], record["customer_name"], record["apply_scene"]) == (
        RA,
        "Reseller A",
        "INDIRECT_PARTNER",
    )
    assert balance_account(client, RA)["amount"] == reseller + 90
    assert balance_account(client)["amount"] == distributor - 100
    back = client.call("POST", RESELLER_RECLAIM, {"indirect_partner_id": RA, "amount": str(reseller + 91)})
    assert back.code == "CBC.5003"
    assert set(client.ok("POST", RESELLER_RECLAIM, {"indirect_partner_id": RA, "amount": "100"})) == {
        "trans_id"
    }
    assert balance_account(client)["amount"] == distributor


def test_adjust_records_page_oldest_first_and_filter_by_type_and_time(client):
    page = client.ok("GET", ADJUST_RECORDS, query={"limit": "100"})
    times = [(r["operation_time"]) for r in page["records"]]
    assert times == sorted(times)
    only = client.ok(
        "GET", ADJUST_RECORDS, query={"operation_type": "SOURCE_OPERATION_BERETRIEVE", "limit": "100"}
    )
    assert {r["operation_type"] for r in only["records"]} <= {"SOURCE_OPERATION_BERETRIEVE"}
    assert client.call("GET", ADJUST_RECORDS, query={"limit": "101"}).code == "CBC.0100"
    assert client.call("GET", ADJUST_RECORDS, query={"operation_type": "X"}).code == "CBC.0100"


# ---- flow control and faults -----------------------------------------------------------------------------


def test_over_the_rate_limit_a_call_gets_429_with_retry_after(client, sim):
    sim.set_rate_limit(5)
    statuses = [client.call("GET", PARTNER_BALANCES) for _ in range(8)]
    assert [r.status for r in statuses[:5]] == [200] * 5
    throttled = [r for r in statuses if r.status == 429]
    assert throttled
    assert throttled[0].code == "CBC.0250"
    assert int(throttled[0].headers["Retry-After"]) >= 1
    assert client.call("POST", CUSTOMERS, {}).status == 200  # another operation has its own window
    time.sleep(1.05)
    assert client.call("GET", PARTNER_BALANCES).status == 200
    assert sim.state()["throttled_429"] >= 1


def test_an_injected_500_applies_nothing(client, sim):
    customer = resale_customer(client)["customer_id"]
    before = len(sim.adjust_records(customer))
    sim.set_faults(error_rate=1.0)
    response = client.call("POST", ALLOCATE, {"customer_id": customer, "amount": "3"})
    assert (response.status, response.code) == (500, "CBC.0999")
    sim.clear_faults()
    assert len(sim.adjust_records(customer)) == before


def test_a_partial_error_rate_is_repeatable_with_the_same_fault_seed(client, sim):
    def pattern():
        sim.set_faults(error_rate=0.5, seed=3)
        return [client.call("GET", PARTNER_BALANCES).status for _ in range(12)]

    first = pattern()
    assert set(first) == {200, 500}
    assert pattern() == first


def test_latency_is_added_to_api_calls_but_not_to_admin_calls(client, sim):
    sim.set_faults(latency_ms=300)
    started = time.monotonic()
    client.ok("GET", PARTNER_BALANCES)
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    sim.state()
    assert time.monotonic() - started < 0.3


def test_a_429_burst_comes_after_every_n_calls(client, sim):
    sim.set_faults(burst_429={"every": 3, "length": 2})
    statuses = [client.call("GET", PARTNER_BALANCES).status for _ in range(10)]
    assert statuses == [200, 200, 200, 429, 429, 200, 200, 200, 429, 429]


def test_apply_then_timeout_applies_the_change_and_the_client_times_out(client, sim):
    customer = resale_customer(client)["customer_id"]
    before = balances(client, [customer])[customer]["amount"]
    sim.set_faults(
        apply_then_timeout={"operations": ["UpdateCustomerAccountAmount"], "rate": 1, "hang_seconds": 3}
    )
    with pytest.raises((TimeoutError, socket.timeout)):
        client.call("POST", ALLOCATE, {"customer_id": customer, "amount": "7.77"}, timeout=1)
    sim.clear_faults()
    assert balances(client, [customer])[customer]["amount"] == before + Decimal("7.77")
    mine = [r for r in sim.adjust_records(customer) if r["amount"] == 7.77]
    assert len(mine) == 1
    assert mine[0]["operation_type"] == "SOURCE_OPERATION_BEADJUST"


def test_apply_then_timeout_closes_the_connection_without_an_answer(client, sim):
    customer = resale_customer(client)["customer_id"]
    client.ok("POST", ALLOCATE, {"customer_id": customer, "amount": "1"})
    sim.set_faults(
        apply_then_timeout={"operations": ["ReclaimToPartnerAccount"], "rate": 1, "hang_seconds": 0.2}
    )
    with pytest.raises(http.client.RemoteDisconnected):
        client.call("POST", RECLAIM, {"customer_id": customer, "amount": "1"}, timeout=5)
    assert sim.adjust_records(customer)[-1]["operation_type"] == "SOURCE_OPERATION_BERETRIEVE"


def test_a_bad_fault_set_is_refused(sim):
    with pytest.raises(SimulatorError, match="400"):
        sim.set_faults(apply_then_timeout={"operations": ["NoSuchOperation"]})
    with pytest.raises(SimulatorError, match="400"):
        sim.set_faults(error_rate=2)


# ---- warnings, association, discounts, offers ---------------------------------------------------------


def test_a_pending_warning_is_handled_once_with_a_result_that_fits_its_category(client):
    pending = client.ok("POST", WARNINGS, {"status": "PENDING", "limit": 100})["warnings"]
    churn = next(w for w in pending if w["category"] == "CHURN")
    path = f"/v2/partners/customer-warnings/{churn['warning_id']}/handle"
    assert client.call("POST", path, {"result": "HANDLED"}).code == "CBC.0100"
    response = client.call("POST", path, {"result": "NOT_LOST", "remark": "客户已续费"})
    assert (response.status, response.body) == (200, "")
    again = client.call("POST", path, {"result": "LOST"})
    assert again.code == "CBC.0100"
    assert "already handled" in again.body["error_msg"]
    handled = client.ok(
        "POST", WARNINGS, {"customer_id": churn["customer_id"], "status": "HANDLED", "limit": 100}
    )
    mine = next(w for w in handled["warnings"] if w["warning_id"] == churn["warning_id"])
    assert mine["handle_result"] == "NOT_LOST"
    assert mine["handled_at"]


def test_a_resellers_warning_is_handled_only_with_its_indirect_partner_id(client):
    theirs = client.ok("POST", WARNINGS, {"indirect_partner_id": RB, "status": "PENDING", "limit": 100})[
        "warnings"
    ]
    warning = next(w for w in theirs if w["category"] != "CHURN")
    path = f"/v2/partners/customer-warnings/{warning['warning_id']}/handle"
    assert client.call("POST", path, {"result": "HANDLED"}).code == "CBC.5004"
    assert client.call("POST", path, {"result": "HANDLED", "indirect_partner_id": RB}).status == 200
    assert (
        client.call("POST", path, {"result": "HANDLED", "indirect_partner_id": "ip-x"}).code == "CBC.99000037"
    )
    assert client.call(
        "POST", "/v2/partners/customer-warnings/WRN-none/handle", {"result": "HANDLED"}
    ).code == ("CBC.0100")


def test_a_tick_delivers_new_pending_warnings_after_the_old_ones(client, sim):
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    before = sim.state()["warnings"]["PENDING"]
    sim.tick(warnings=3)
    assert sim.state()["warnings"]["PENDING"] == before + 3
    fresh = []
    for scope in (None, RA, RB):
        body = {"send_time_begin": now, "limit": 100, **({"indirect_partner_id": scope} if scope else {})}
        fresh += client.ok("POST", WARNINGS, body)["warnings"]
    assert len(fresh) == 3
    assert {w["status"] for w in fresh} == {"PENDING"}
    everything = client.ok("POST", WARNINGS, {"limit": 100, "offset": 0})
    times = [w["send_time"] for w in everything["warnings"]]
    assert times == sorted(times)


def test_the_account_check_lists_blockers_and_a_failing_apply_is_refused(client):
    for row in all_customers(client):
        path = f"/v2/partners/sub-customers/{row['customer_id']}"
        check = client.ok("POST", f"{path}/association-check", {"change": "DISASSOCIATE"})
        if not check["passed"]:
            break
    else:
        pytest.fail("no customer with blockers")
    assert check["items"] and {"code", "message"} <= set(check["items"][0])
    response = client.call("POST", f"{path}/association-change", {"change": "DISASSOCIATE", "reason": "测试"})
    assert response.code == "CBC.0100"
    assert check["items"][0]["code"] in response.body["error_msg"]


def test_a_switch_changes_the_type_and_writes_a_switch_record(client):
    row = clean_customer(client, "SWITCH_TO_RESALE", association_type="1")
    path = f"/v2/partners/sub-customers/{row['customer_id']}/association-change"
    assert client.call("POST", path, {"change": "SWITCH_TO_RESALE"}).code == "CBC.0100"  # reason required
    record_id = client.ok("POST", path, {"change": "SWITCH_TO_RESALE", "reason": "客户要求"})["record_id"]
    after = client.ok("POST", CUSTOMERS, {"customer_id": row["customer_id"]})["customer_infos"][0]
    assert after["association_type"] == "2"
    records = client.ok("GET", ASSOCIATION_RECORDS, query={"customer_id": row["customer_id"], "limit": "100"})
    switch = next(r for r in records["records"] if r["record_id"] == record_id)
    assert (switch["operation_type"], switch["from_association_type"], switch["association_type"]) == (
        "SWITCH",
        "1",
        "2",
    )
    assert client.call("POST", path, {"change": "SWITCH_TO_RESALE", "reason": "again"}).code == "CBC.0100"


def test_disassociating_a_resale_customer_returns_its_balance_with_a_beunbind_record(client, sim):
    row = clean_customer(client, "DISASSOCIATE", association_type="2", with_balance=True)
    cid = row["customer_id"]
    amount = balances(client, [cid])[cid]["amount"]
    partner_before = balance_account(client)["amount"]
    path = f"/v2/partners/sub-customers/{cid}/association-change"
    record_id = client.ok(
        "POST",
        path,
        {"change": "DISASSOCIATE", "reason": "合作结束", "customer_confirmed_at": "2025-01-01T00:00:00Z"},
    )["record_id"]
    assert record_id
    assert client.ok("POST", CUSTOMERS, {"customer_id": cid})["count"] == 0
    assert balance_account(client)["amount"] == partner_before + amount
    unbind = client.ok(
        "GET", ADJUST_RECORDS, query={"customer_id": cid, "operation_type": "SOURCE_OPERATION_BEUNBIND"}
    )
    assert [r["amount"] for r in unbind["records"]] == [amount]
    assert client.call("POST", ALLOCATE, {"customer_id": cid, "amount": "1"}).code == "CBC.5004"
    records = client.ok(
        "GET", ASSOCIATION_RECORDS, query={"operation_type": "DISASSOCIATE", "customer_id": cid}
    )
    assert records["records"][-1]["record_id"] == record_id


def test_partner_discounts_are_for_referral_customers_only_and_read_null_when_unset(client):
    referral = client.ok("POST", CUSTOMERS, {"association_type": "1", "limit": 50})["customer_infos"]
    resale = resale_customer(client)["customer_id"]
    query = {"customer_id": resale}
    assert client.call("GET", DISCOUNTS, query=query).code == "CBC.5024"
    body = {"discount": 0.9, "effective_time": "2025-01-01T00:00:00Z", "expire_time": "2026-01-01T00:00:00Z"}
    assert client.call("POST", DISCOUNTS, {**body, "customer_id": resale}).code == "CBC.5024"
    unset = [
        r["customer_id"]
        for r in referral
        if client.ok("GET", DISCOUNTS, query={"customer_id": r["customer_id"]}) is None
    ]
    assert unset, "every referral customer already has a discount"
    cid = unset[0]
    for bad in (
        {"discount": 0},
        {"discount": 1.01},
        {"expire_time": "2024-01-01T00:00:00Z"},
        {"effective_time": "x"},
    ):
        assert client.call("POST", DISCOUNTS, {**body, "customer_id": cid, **bad}).code == "CBC.0100", bad
    assert client.call("POST", DISCOUNTS, {**body, "customer_id": cid}).status == 200
    got = client.ok("GET", DISCOUNTS, query={"customer_id": cid})
    assert got == {"discount": Decimal("0.9"), **{k: body[k] for k in ("effective_time", "expire_time")}}


def test_dedicated_offers_have_unique_names_and_only_active_ones_can_be_invalidated(client):
    customer = client.ok("POST", CUSTOMERS, {"limit": 1})["customer_infos"][0]
    body = {
        "name": "ECS新购专享",
        "customer_account_name": customer["account_name"],
        "product_ids": ["OFFI-ECS-C7-LARGE"],
        "effective_time": "2025-01-01T00:00:00Z",
        "expire_time": "2099-01-01T00:00:00Z",
    }
    offer_id = client.ok("POST", OFFERS, body)["offer_id"]
    assert client.call("POST", OFFERS, body).code == "CBC.0100"
    listed = client.ok("POST", f"{OFFERS}/query", {"customer_id": customer["customer_id"], "limit": 100})[
        "offers"
    ]
    assert any(o["offer_id"] == offer_id and o["status"] == "ACTIVE" for o in listed)
    path = f"{OFFERS}/{offer_id}/invalidate"
    assert client.call("POST", path, {"reason": "活动结束"}).status == 200
    assert client.call("POST", path, {"reason": "again"}).code == "CBC.0100"
    discounts = client.ok("POST", "/v2/partners/commercial-discounts/query", {"limit": 100})
    assert discounts["total_count"] >= 0
    assert {d["discount_type"] for d in discounts["discounts"]} <= {605, 606}


# ---- admin endpoints, persistence, determinism, CLI ---------------------------------------------------


def test_removing_a_customer_upstream_makes_it_vanish_from_the_list(client, sim):
    row = client.ok("POST", CUSTOMERS, {"limit": 1, "offset": 3})["customer_infos"][0]
    sim.remove_customer(row["customer_id"])
    assert client.ok("POST", CUSTOMERS, {"customer_id": row["customer_id"]})["count"] == 0


def test_added_customers_join_the_named_reseller(client, sim):
    before = sim.state()["customers"]["by_partner"][RB]["total"]
    sim.add_customers(2, indirect_partner_id=RB)
    assert sim.state()["customers"]["by_partner"][RB]["total"] == before + 2
    assert client.ok("POST", CUSTOMERS, {"indirect_partner_id": RB})["count"] == before + 2


def test_the_store_survives_a_restart(tmp_path):
    with SimulatorProcess(customers=30, seed=5, data_dir=tmp_path, rate_limit=0) as sim:
        client = Client(sim.url)
        customer = resale_customer(client)["customer_id"]
        transfer = client.ok("POST", ALLOCATE, {"customer_id": customer, "amount": "42.00"})["transfer_id"]
        state = sim.state()
        sim.restart()
        client = Client(sim.url)
        assert client.ok("GET", ADJUST_RECORDS, query={"trans_id": transfer})["total_count"] == 1
        again = sim.state()
        assert again["balances"] == state["balances"]
        assert again["generated_at"] == state["generated_at"]


def test_two_stores_from_the_same_seed_hold_the_same_world(tmp_path):
    def rows(directory, seed):
        store = Store(directory, seed=seed, customers=200, resellers=3)
        store.close()
        db = sqlite3.connect(directory / "upstream-sim.sqlite3")
        try:
            anchor = db.execute("SELECT value FROM meta WHERE key = 'anchor'").fetchone()[0]
            data = {
                table: db.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()  # noqa: S608
                for table in ("customers", "warnings", "adjust_records", "association_records", "partners")
            }
            return anchor, data
        finally:
            db.close()

    anchor_a, first = rows(tmp_path / "a", 9)
    anchor_b, second = rows(tmp_path / "b", 9)
    if anchor_a == anchor_b:  # generated on the same UTC day: identical to the byte
        assert first == second
    assert [r[1] for r in first["customers"]] == [r[1] for r in second["customers"]]
    assert [r[4] for r in first["customers"]] == [r[4] for r in second["customers"]]
    _, other = rows(tmp_path / "c", 10)
    assert [r[1] for r in other["customers"]] != [r[1] for r in first["customers"]]
    partners = [(r[0], r[3]) for r in first["partners"]]
    assert partners[-1] == ("ip-reseller-c", "Reseller C")


def test_the_help_documents_the_fault_environment_variables():
    result = subprocess.run(
        [sys.executable, "-m", "upstream.simulator", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    for name in (
        "UPSTREAM_SIM_LATENCY_MS",
        "UPSTREAM_SIM_ERROR_RATE",
        "UPSTREAM_SIM_BURST_429",
        "UPSTREAM_SIM_APPLY_THEN_TIMEOUT",
        "--warning-interval",
        "--rate-limit",
        "--reset",
    ):
        assert name in result.stdout


def test_faults_can_be_set_from_the_environment_at_start(tmp_path):
    env = {"UPSTREAM_SIM_BURST_429": "1:1", "UPSTREAM_SIM_LATENCY_MS": "10"}
    with SimulatorProcess(customers=10, data_dir=tmp_path, env=env) as sim:
        assert sim.admin("GET", "/_sim/faults") == {
            "burst_429": {"every": 1, "length": 1},
            "latency_ms": 10.0,
        }
        client = Client(sim.url)
        assert [client.call("GET", PARTNER_BALANCES).status for _ in range(4)] == [200, 429, 200, 429]


def test_the_scale_endpoint_adds_customers_with_their_whole_history_consistently(tmp_path):
    with SimulatorProcess(customers=0, seed=8, data_dir=tmp_path, rate_limit=0) as sim:
        for bad in ({"count": 0}, {"count": 10_001}, {"count": "5"}, {"count": 5, "resellers": -1}):
            with pytest.raises(SimulatorError, match="400"):
                sim.admin("POST", "/_sim/scale", bad)
        assert sim.state()["customers"]["active"] == 0
        added = sim.scale(42, resellers=20)
        sim.restart()  # the store was made with 2 resellers: a restart keeps the 18 added since
        state = sim.state()
        client = Client(sim.url)
        resellers = client.ok("POST", "/v2/partners/indirect-partners/query", {"limit": 100})
    assert added == {
        "customers": 42,
        "warnings": 420,
        "association_records": 126,
        "adjust_records": 84,
        "resellers": 20,
    }
    assert resellers["count"] == 20
    # Spread evenly: 42 customers over the distributor and 20 resellers, two each.
    assert {p["total"] for p in state["customers"]["by_partner"].values()} == {2}
    assert state["association_records"] == 126
    assert state["adjust_records"]["SOURCE_OPERATION_BEADJUST"] == 42
    assert state["adjust_records"]["SOURCE_OPERATION_BERETRIEVE"] == 42
    assert 40 <= state["warnings"]["PENDING"] <= 130  # about 20% of 420

    db = sqlite3.connect(tmp_path / "upstream-sim.sqlite3")
    try:
        for customer_id, kind, amount, associated_on in db.execute(
            "SELECT customer_id, association_type, amount, associated_on FROM customers"
        ):
            events = db.execute(
                "SELECT operation_type, association_type, from_association_type, operation_time"
                " FROM association_records WHERE customer_id = ? ORDER BY operation_time, seq",
                (customer_id,),
            ).fetchall()
            # ASSOCIATE, a switch away and a switch back: the history ends in the current type.
            assert [e[0] for e in events] == ["ASSOCIATE", "SWITCH", "SWITCH"]
            assert events[0][1] == kind and events[-1][1] == kind and events[1][2] == kind
            assert events[0][3] == associated_on
            moves = db.execute(
                "SELECT operation_type, amount FROM adjust_records WHERE customer_id = ?", (customer_id,)
            ).fetchall()
            net = sum(a if op == "SOURCE_OPERATION_BEADJUST" else -a for op, a in moves)
            assert len(moves) == 2 and net == amount  # the records add up to the balance
            sent = [
                r[0]
                for r in db.execute("SELECT send_time FROM warnings WHERE customer_id = ?", (customer_id,))
            ]
            assert len(sent) == 10 and all(associated_on <= s for s in sent)
    finally:
        db.close()


def test_the_scale_load_is_deterministic_from_the_seed(tmp_path):
    def load(directory):
        store = Store(directory, seed=4, customers=0, resellers=2)
        try:
            store.add_scale_customers(30, 20)
            return (
                store._db.execute(
                    "SELECT customer_id, customer, partner_id, amount FROM customers"
                ).fetchall(),
                store._db.execute("SELECT customer_id, category, title, status FROM warnings").fetchall(),
            )
        finally:
            store.close()

    first, second = load(tmp_path / "a"), load(tmp_path / "b")
    assert [tuple(r) for r in first[0]] == [tuple(r) for r in second[0]]
    assert [tuple(r) for r in first[1]] == [tuple(r) for r in second[1]]
