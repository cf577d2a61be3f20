"""Orders, resources, resource packages, partner payment and price inquiry: the simulator over signed HTTP,
then the portal's client against it (typed results, mapped errors, ext parameters)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from upstream.client import RetryPolicy, UpstreamClient
from upstream.errors import (
    CombinedOrderChild,
    InsufficientBalance,
    NoRightOnCustomer,
    OrderNotFound,
    OrderNotPayable,
    OutcomeUnknown,
    ProductNotFound,
    UnsupportedOperation,
)
from upstream.simulator.store import Store
from upstream.simulator.testing import SimulatorProcess
from upstream.tests.test_simulator import Client, balance_account
from upstream.types import CustomerOrder, RatingProduct

RA = "ip-reseller-a"
ORDERS = "/v2/orders/customer-orders"
DETAILS = "/v2/orders/customer-orders/details/{}"
PAY = "/v3/orders/customer-orders/pay"
CANCEL = "/v2/orders/customer-orders/cancel"
REJECT = "/v2/partners/partner-pay-orders/{}/reject"
PERIOD = "/v2/orders/suscriptions/resources/query"
ON_DEMAND = "/v2/partners/sub-customers/on-demand-resources/query"
PACKAGES = "/v3/payments/free-resources/query"
USAGES = "/v2/payments/free-resources/usages/details/query"
RATINGS = "/v2/bills/ratings/on-demand-resources"
ORDER_FIELDS = {
    "order_id", "customer_id", "service_type_code", "service_type_name", "source_type", "status",
    "order_type", "amount_after_discount", "official_amount", "measure_id", "create_time", "payment_time",
    "currency", "contract_id", "amount_info", "enterprise_projects", "sub_order_infos", "agent_pay_info",
}  # fmt: skip
DISK = {
    "id": "disk",
    "cloud_service_type": "hws.service.type.ebs",
    "resource_type": "hws.resource.type.volume",
    "resource_spec": "SAS",
    "region": "cn-north-4",
    "resource_size": 40,
    "size_measure_id": 17,
    "usage_factor": "Duration",
    "usage_value": 720,
    "usage_measure_id": 4,
    "subscription_num": 1,
}


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    with SimulatorProcess(
        customers=60, seed=31, data_dir=tmp_path_factory.mktemp("orders-sim"), rate_limit=0
    ) as process:
        yield process


@pytest.fixture
def api(sim):
    sim.clear_faults()
    yield Client(sim.url)
    sim.admin("POST", "/_sim/trade-limit", {"per_day": 50})


def all_orders(api, **query):
    rows, offset = [], 0
    while True:
        page = api.ok("GET", ORDERS, query={**query, "offset": str(offset), "limit": "100"})
        rows += page["order_infos"]
        offset += 100
        if offset >= page["total_count"]:
            return rows


def awaiting(api, *, combined: bool, indirect_partner_id=None):
    """An order awaiting the partner's payment (several, in turn, as the tests pay them)."""
    query = {"status": "6", **({"indirect_partner_id": indirect_partner_id} if indirect_partner_id else {})}
    for o in all_orders(api, **query):
        if o["agent_pay_info"]["is_agent_pay"] and bool(o["sub_order_infos"]) is combined:
            return o
    pytest.fail("no order awaiting partner payment left")


def error(response):
    return response.status, response.code


# ---- the simulator ---------------------------------------------------------------------------------


def test_orders_carry_the_contract_fields_and_a_combination_sums_its_orders(api):
    orders = all_orders(api)
    assert orders and all(set(o) == ORDER_FIELDS for o in orders)
    combined = [o for o in orders if o["sub_order_infos"]]
    assert combined
    for head in combined:
        children = head["sub_order_infos"]
        assert len(children) >= 2 and head["service_type_code"] is None
        assert head["service_type_name"].startswith("组合交易单")
        assert sum(Decimal(str(c["official_amount"])) for c in children) == Decimal(
            str(head["official_amount"])
        )
        assert {c["status"] for c in children} == {head["status"]}
        assert {c["order_type"] for c in children} == {head["order_type"]}
    for o in orders:
        assert Decimal(str(o["official_amount"])) >= Decimal(str(o["amount_after_discount"])) >= 0
        discounts = sum(Decimal(str(d["discount_amount"])) for d in o["amount_info"]["discounts"])
        if o["order_type"] != 4:
            assert Decimal(str(o["official_amount"])) - discounts == Decimal(str(o["amount_after_discount"]))
        assert (o["payment_time"] is not None) == (o["status"] == 5)


def test_orders_page_oldest_first_once_each_and_limit_is_1_to_100(api):
    assert len(api.ok("GET", ORDERS)["order_infos"]) == 10
    pages = [
        api.ok("GET", ORDERS, query={"offset": str(n), "limit": "7"})["order_infos"] for n in range(0, 35, 7)
    ]
    ids = [o["order_id"] for page in pages for o in page]
    assert len(ids) == len(set(ids)) == 35
    times = [o["create_time"] for page in pages for o in page]
    assert times == sorted(times)
    newest = api.ok("GET", ORDERS, query={"order_by": "-createTime", "limit": "5"})["order_infos"]
    assert [o["create_time"] for o in newest] == sorted((o["create_time"] for o in newest), reverse=True)
    for bad in ({"limit": "0"}, {"limit": "101"}, {"offset": "-1"}, {"order_by": "amount"}, {"status": "7"}):
        assert error(api.call("GET", ORDERS, query=bad)) == (400, "CBC.0100")


def test_order_filters_narrow_the_list(api):
    orders = all_orders(api)
    some = orders[3]
    assert {o["customer_id"] for o in all_orders(api, customer_id=some["customer_id"])} == {
        some["customer_id"]
    }
    assert {o["status"] for o in all_orders(api, status="4")} == {4}
    assert {o["order_type"] for o in all_orders(api, order_type="2")} <= {2}
    head = next(o for o in orders if o["sub_order_infos"])
    child = head["sub_order_infos"][-1]
    assert [o["order_id"] for o in all_orders(api, order_id=child["order_id"].lower())] == [head["order_id"]]
    by_service = all_orders(api, service_type_code=child["service_type_code"])
    assert head["order_id"] in {o["order_id"] for o in by_service}
    begin, end = some["create_time"], orders[10]["create_time"]
    window = all_orders(api, create_time_begin=begin, create_time_end=end)
    assert window and all(begin <= o["create_time"] <= end for o in window)
    paid = all_orders(api, payment_time_begin="2000-01-01T00:00:00Z")
    assert paid and all(o["payment_time"] for o in paid)
    too_wide = {"create_time_begin": "2024-01-01T00:00:00Z", "create_time_end": "2025-06-01T00:00:00Z"}
    assert error(api.call("GET", ORDERS, query=too_wide)) == (400, "CBC.0100")
    assert api.ok("GET", ORDERS, query={"method": "sub_customer"})["total_count"] == 0


def test_orders_are_scoped_to_the_partner_and_its_resellers(api, sim):
    direct = {o["order_id"] for o in all_orders(api)}
    reseller = all_orders(api, indirect_partner_id=RA)
    assert reseller and not direct & {o["order_id"] for o in reseller}
    foreign = reseller[0]
    assert error(api.call("GET", ORDERS, query={"customer_id": foreign["customer_id"]})) == (400, "CBC.5004")
    assert error(api.call("GET", DETAILS.format(foreign["order_id"]))) == (400, "CBC.30000010")
    assert api.ok("GET", DETAILS.format(foreign["order_id"]), query={"indirect_partner_id": RA})
    assert error(api.call("GET", ORDERS, query={"indirect_partner_id": "ip-nobody"})) == (400, "CBC.99000037")
    assert error(api.call("GET", DETAILS.format("CS0000000000NOPE0"))) == (400, "CBC.30000010")


def test_details_page_the_line_items_of_a_combinations_orders(api):
    head = next(o for o in all_orders(api) if o["sub_order_infos"])
    children = {c["order_id"] for c in head["sub_order_infos"]}
    first = api.ok("GET", DETAILS.format(head["order_id"]), query={"limit": "1"})
    assert first["order_info"]["order_id"] == head["order_id"]
    assert {c["order_id"] for c in first["order_info"]["sub_order_infos"]} == children
    assert first["total_count"] >= len(children) and len(first["order_line_items"]) == 1
    everything = api.ok("GET", DETAILS.format(head["order_id"]), query={"limit": "100"})["order_line_items"]
    assert {i["order_id"] for i in everything} == children
    total = sum(Decimal(str(i["official_amount"])) for i in everything)
    assert total == Decimal(str(head["official_amount"]))
    one = api.ok("GET", DETAILS.format(next(iter(children))))
    assert one["order_info"]["sub_order_infos"] == []


def test_a_combined_order_is_paid_once_as_a_whole_from_the_partner_balance(api, sim):
    head = awaiting(api, combined=True)
    before = balance_account(api)["amount"]
    child = head["sub_order_infos"][0]["order_id"]
    refused = api.call("POST", PAY, {"order_id": child})
    assert error(refused) == (400, "CBC.99000089") and head["order_id"] in refused.body["error_msg"]
    assert balance_account(api)["amount"] == before

    assert api.call("POST", PAY, {"order_id": head["order_id"], "use_coupon": "NO"}).status == 200
    again = api.call("POST", PAY, {"order_id": head["order_id"]})
    assert error(again) == (400, "CBC.99003106")
    after = balance_account(api)["amount"]
    assert Decimal(str(before)) - Decimal(str(after)) == Decimal(str(head["amount_after_discount"]))
    shown = api.ok("GET", DETAILS.format(head["order_id"]))["order_info"]
    assert shown["status"] == 5 and {c["status"] for c in shown["sub_order_infos"]} == {5}
    assert {c["payment_time"] for c in shown["sub_order_infos"]} == {shown["payment_time"]}
    # A paid new order opens its resources.
    opened = api.ok(
        "POST", PERIOD, {"customer_id": head["customer_id"], "order_id": head["order_id"], "limit": 100}
    )
    assert opened["total_count"] >= len(head["sub_order_infos"])
    assert {r["status"] for r in opened["data"]} == {2}


def test_the_account_check_stops_reporting_partner_pay_orders_once_none_is_left(api):
    head = awaiting(api, combined=False)
    customer = head["customer_id"]
    path = f"/v2/partners/sub-customers/{customer}/association-check"
    codes = {i["code"] for i in api.ok("POST", path, {"change": "DISASSOCIATE"})["items"]}
    assert "PENDING_PARTNER_PAY_ORDERS" in codes
    for o in all_orders(api, customer_id=customer, status="6"):
        if o["agent_pay_info"]["is_agent_pay"]:
            api.ok("POST", REJECT.format(o["order_id"]), {"reason": "customer pays"})
    codes = {i["code"] for i in api.ok("POST", path, {"change": "DISASSOCIATE"})["items"]}
    assert "PENDING_PARTNER_PAY_ORDERS" not in codes


def test_only_an_order_awaiting_the_partners_payment_can_be_paid(api):
    orders = all_orders(api)
    completed = next(o for o in orders if o["status"] == 5)
    cancelled = next(o for o in orders if o["status"] == 4)
    for order in (completed, cancelled):
        assert error(api.call("POST", PAY, {"order_id": order["order_id"]})) == (400, "CBC.99003106")
    foreign = awaiting(api, combined=False, indirect_partner_id=RA)
    assert error(api.call("POST", PAY, {"order_id": foreign["order_id"]})) == (400, "CBC.30000010")
    assert error(api.call("POST", PAY, {})) == (400, "CBC.0100")
    coupon = api.call(
        "POST", PAY, {"order_id": foreign["order_id"], "use_coupon": "YES", "coupon_infos": [{}]}
    )
    assert error(coupon) == (400, "CBC.99003108")
    # The reseller's own order, paid on its behalf, comes out of the reseller's balance.
    before = balance_account(api, RA)["amount"]
    api.ok("POST", PAY, {"order_id": foreign["order_id"], "indirect_partner_id": RA})
    spent = Decimal(str(before)) - Decimal(str(balance_account(api, RA)["amount"]))
    assert spent == Decimal(str(foreign["amount_after_discount"]))


def test_an_insufficient_partner_balance_refuses_the_payment_and_changes_nothing(api, sim):
    order = awaiting(api, combined=False)
    account = balance_account(api)
    sim.patch_rows("partner_accounts", {"account_id": account["account_id"]}, amount=2_000_000)  # designated
    try:
        refused = api.call("POST", PAY, {"order_id": order["order_id"]})
        assert error(refused) == (400, "CBC.99005003")
        assert api.ok("GET", DETAILS.format(order["order_id"]))["order_info"]["status"] == 6
        assert balance_account(api)["amount"] == 20_000
    finally:
        sim.patch_rows("partner_accounts", {"account_id": account["account_id"]}, amount=50_000_000)


def test_the_daily_trade_limit_refuses_further_payments(api, sim):
    order = awaiting(api, combined=False)
    sim.admin("POST", "/_sim/trade-limit", {"per_day": 0})
    assert error(api.call("POST", PAY, {"order_id": order["order_id"]})) == (400, "CBC.99008056")
    assert api.ok("GET", DETAILS.format(order["order_id"]))["order_info"]["status"] == 6


def test_concurrent_payments_of_one_order_pay_it_once(api, sim):
    order = awaiting(api, combined=True)
    before = Decimal(str(balance_account(api)["amount"]))
    results, start = [], threading.Barrier(6)

    def pay():
        start.wait()
        results.append(Client(sim.url).call("POST", PAY, {"order_id": order["order_id"]}))

    threads = [threading.Thread(target=pay) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status for r in results) == [200, 400, 400, 400, 400, 400]
    assert {r.code for r in results if r.status == 400} == {"CBC.99003106"}
    spent = before - Decimal(str(balance_account(api)["amount"]))
    assert spent == Decimal(str(order["amount_after_discount"]))


def test_cancel_and_reject_act_on_a_combination_as_a_whole(api):
    head = awaiting(api, combined=True)
    child = head["sub_order_infos"][1]["order_id"]
    assert error(api.call("PUT", CANCEL, {"order_id": child})) == (400, "CBC.99000089")
    assert error(api.call("POST", REJECT.format(child), {})) == (400, "CBC.99000089")
    api.ok("POST", REJECT.format(head["order_id"]), {"reason": "not ours"})
    rejected = all_orders(api, order_id=head["order_id"])[0]
    assert rejected["status"] == 6 and rejected["agent_pay_info"]["is_agent_pay"] is False
    assert error(api.call("POST", PAY, {"order_id": head["order_id"]})) == (400, "CBC.99003106")
    assert api.call("PUT", CANCEL, {"order_id": head["order_id"]}).status == 200
    cancelled = api.ok("GET", DETAILS.format(head["order_id"]))["order_info"]
    assert cancelled["status"] == 4 and {c["status"] for c in cancelled["sub_order_infos"]} == {4}
    assert error(api.call("PUT", CANCEL, {"order_id": head["order_id"]})) == (400, "CBC.99005010")


def customer_with(api, path, items, **body):
    for customer_id in dict.fromkeys(o["customer_id"] for o in all_orders(api)):
        page = api.ok("POST", path, {"customer_id": customer_id, "limit": 100, **body})
        if page[items]:
            return customer_id, page
    pytest.fail(f"no customer with {items}")


def test_yearly_monthly_resources_carry_expiry_and_filter_by_it(api):
    customer_id, page = customer_with(api, PERIOD, "data")
    resource = page["data"][0]
    assert {
        "resource_id",
        "region_code",
        "resource_spec_code",
        "expire_time",
        "status",
        "expire_policy",
    } <= set(resource)
    soon = (datetime.now(UTC) + timedelta(days=400)).strftime("%Y-%m-%dT%H:%M:%SZ")
    window = {"expire_time_begin": "2000-01-01T00:00:00Z", "expire_time_end": soon}
    expiring = api.ok("POST", PERIOD, {"customer_id": customer_id, "limit": 100, **window})["data"]
    assert expiring and all(r["expire_time"] <= soon for r in expiring)
    mains = api.ok("POST", PERIOD, {"customer_id": customer_id, "limit": 100, "only_main_resource": 1})
    assert all(r["is_main_resource"] == 1 for r in mains["data"])
    in_use = api.ok("POST", PERIOD, {"customer_id": customer_id, "status_list": [2]})["data"]
    assert all(r["status"] == 2 for r in in_use)
    assert error(api.call("POST", PERIOD, {})) == (400, "CBC.0100")
    assert error(api.call("POST", PERIOD, {"customer_id": customer_id, "status_list": [9]})) == (
        400,
        "CBC.0100",
    )
    foreign = all_orders(api, indirect_partner_id=RA)[0]["customer_id"]
    assert error(api.call("POST", PERIOD, {"customer_id": foreign})) == (400, "CBC.5004")
    assert api.ok("POST", PERIOD, {"customer_id": foreign, "indirect_partner_id": RA})["total_count"] >= 0


def test_on_demand_resources_are_listed_per_customer_and_filtered(api):
    customer_id, page = customer_with(api, ON_DEMAND, "resources")
    resource = page["resources"][0]
    assert resource["customer_id"] == customer_id and resource["status"] in range(1, 7)
    same_region = api.ok(
        "POST", ON_DEMAND, {"customer_id": customer_id, "region_code": resource["region_code"]}
    )
    assert {r["region_code"] for r in same_region["resources"]} == {resource["region_code"]}
    one = api.ok("POST", ON_DEMAND, {"customer_id": customer_id, "resource_ids": [resource["resource_id"]]})
    assert [r["resource_id"] for r in one["resources"]] == [resource["resource_id"]]
    assert error(api.call("POST", ON_DEMAND, {"customer_id": customer_id, "status": 9})) == (400, "CBC.0100")


def test_resource_packages_show_their_usage_and_foreign_items_are_left_out(api):
    _customer_id, page = customer_with(api, PACKAGES, "free_resource_packages")
    package = page["free_resource_packages"][0]
    item = package["free_resources"][0]
    assert Decimal(item["amount"]) <= Decimal(item["original_amount"])
    assert package["status"] in range(5) and package["expire_time"] > package["effective_time"]
    usages = api.ok("POST", USAGES, {"free_resource_ids": [item["free_resource_id"], "no-such-item"]})
    [usage] = usages["free_resources"]
    assert usage["free_resource_id"] == item["free_resource_id"]
    assert Decimal(str(usage["original_amount"])) == Decimal(item["original_amount"])
    assert api.ok("POST", PACKAGES, {})["total_count"] == 0  # the partner's own: none
    reseller = api.ok(
        "POST", USAGES, {"free_resource_ids": [item["free_resource_id"]], "indirect_partner_id": RA}
    )
    assert reseller["free_resources"] == []
    assert error(api.call("POST", USAGES, {"free_resource_ids": []})) == (400, "CBC.0100")


def test_the_price_inquiry_rates_exactly_and_refuses_unknown_products(api):
    vm = {
        **DISK,
        "id": "vm",
        "cloud_service_type": "hws.service.type.ec2",
        "resource_type": "hws.resource.type.vm",
    }
    vm.update(resource_spec="c7.xlarge.2.linux", usage_value="1.5", subscription_num=2)
    del vm["resource_size"], vm["size_measure_id"]
    rating = api.ok("POST", RATINGS, {"project_id": "p", "product_infos": [DISK, vm]})
    by_id = {r["id"]: r for r in rating["product_rating_results"]}
    assert by_id["disk"]["official_website_amount"] == Decimal("0.0007") * 40 * 720
    assert by_id["vm"]["amount"] == Decimal("1.03") * Decimal("1.5") * 2
    assert rating["amount"] == by_id["disk"]["amount"] + by_id["vm"]["amount"]
    cases = [
        ({**DISK, "resource_spec": "nope"}, "CBC.99006006"),
        ({**DISK, "region": "mars-1"}, "CBC.99006006"),
        ({**DISK, "usage_measure_id": 10}, "CBC.99006050"),
        ({**DISK, "resource_size": None}, "CBC.0100"),
        ({**DISK, "usage_value": 0}, "CBC.0100"),
        (
            {**DISK, "usage_value": 1_000_000, "subscription_num": 10_000, "resource_size": 1_000_000},
            "CBC.99006055",
        ),
    ]
    for product, code in cases:
        assert error(api.call("POST", RATINGS, {"project_id": "p", "product_infos": [product]})) == (
            400,
            code,
        )
    twice = {"project_id": "p", "product_infos": [DISK, DISK]}
    assert error(api.call("POST", RATINGS, twice)) == (400, "CBC.0100")
    assert error(api.call("POST", RATINGS, {"product_infos": [DISK]})) == (400, "CBC.0100")


def test_the_trade_is_generated_deterministically_from_the_seed(tmp_path):
    def load(directory):
        store = Store(directory, seed=9, customers=40, resellers=2)
        try:
            return [
                tuple(r)
                for table in ("orders", "resources", "resource_packages", "on_demand_resources")
                for r in store._db.execute(f"SELECT * FROM {table} ORDER BY seq")  # noqa: S608
            ]
        finally:
            store.close()

    first = load(tmp_path / "a")
    assert first and first == load(tmp_path / "b")


def test_the_scale_load_adds_orders_only_when_asked(tmp_path):
    store = Store(tmp_path, seed=4, customers=0, resellers=2)
    try:
        assert "orders" not in store.add_scale_customers(10, 2)
        added = store.add_scale_customers(10, 2, orders=3)
        assert added["orders"] == 30
        heads = store._db.execute("SELECT COUNT(*) FROM orders WHERE parent_order_id IS NULL").fetchone()[0]
        assert heads == 30
    finally:
        store.close()


# ---- the client ------------------------------------------------------------------------------------

FAST = RetryPolicy(attempts=2, backoff_initial=0.01, backoff_max=0.02, rate_limited_wait=(0.05, 0.1))


@pytest.fixture
def client(upstream_settings):
    with UpstreamClient.from_settings(retry=FAST, rate_limit=0) as upstream:
        yield upstream


def test_the_client_reads_typed_orders_and_their_details(client):
    orders = list(client.iter_all(client.list_customer_orders))
    assert orders and all(isinstance(o, CustomerOrder) for o in orders)
    head = next(o for o in orders if o.is_combined)
    assert isinstance(head.official_amount, Decimal) and head.create_time.tzinfo is UTC
    assert head.official_amount == sum(s.official_amount for s in head.sub_orders)
    detail = client.show_customer_order(head.order_id)
    assert detail.order.order_id == head.order_id and detail.total == len(detail.line_items)
    assert {i.order_id for i in detail.line_items} == {s.order_id for s in head.sub_orders}
    newest = client.list_customer_orders(newest_first=True, limit=3)
    assert [o.create_time for o in newest] == sorted((o.create_time for o in newest), reverse=True)


def test_the_client_pays_a_combination_once_with_typed_refusals(client):
    pending = list(client.iter_all(client.list_customer_orders, status=6))
    head = next(o for o in pending if o.awaits_partner_payment and o.is_combined)
    with pytest.raises(CombinedOrderChild):
        client.pay_order(head.sub_orders[0].order_id)
    client.pay_order(head.order_id)
    with pytest.raises(OrderNotPayable):
        client.pay_order(head.order_id)
    with pytest.raises(OrderNotFound):
        client.pay_order("CS0000000000NOPE0")
    assert client.show_customer_order(head.order_id).order.status == CustomerOrder.COMPLETED


def test_a_payment_whose_answer_is_lost_is_unknown_and_reads_as_paid(client, upstream_sim):
    pending = list(client.iter_all(client.list_customer_orders, status=6))
    order = next(o for o in pending if o.awaits_partner_payment)
    upstream_sim.set_faults(apply_then_timeout={"operations": ["PayOrders"], "rate": 1.0, "hang_seconds": 5})
    hasty = UpstreamClient.from_settings(retry=FAST, rate_limit=0, read_timeout=0.5)
    with hasty, pytest.raises(OutcomeUnknown):
        hasty.pay_order(order.order_id)
    upstream_sim.clear_faults()
    assert client.show_customer_order(order.order_id).order.status == CustomerOrder.COMPLETED
    with pytest.raises(OrderNotPayable):  # nothing is paid twice
        client.pay_order(order.order_id)


def test_the_client_maps_an_insufficient_balance(client, upstream_sim):
    pending = list(client.iter_all(client.list_customer_orders, status=6))
    order = next(o for o in pending if o.awaits_partner_payment)
    account = next(b for b in client.list_partner_balances() if b.account_type == 1)
    upstream_sim.patch_rows("partner_accounts", {"account_id": account.account_id}, amount=0)
    try:
        with pytest.raises(InsufficientBalance):
            client.pay_order(order.order_id)
    finally:
        upstream_sim.patch_rows(
            "partner_accounts", {"account_id": account.account_id}, amount=int(account.amount * 100)
        )


def test_the_client_reads_resources_packages_and_usage(client):
    customers = [c.customer_id for c in client.iter_all(client.list_sub_customers)]
    period = next(p for c in customers if (p := client.list_period_resources(c)).items)
    assert period.items[0].expire_time and period.items[0].resource_id
    on_demand = next(p for c in customers if (p := client.list_on_demand_resources(c)).items)
    assert on_demand.items[0].resource_type_code
    packages = next(p for c in customers if (p := client.list_resource_packages(c)).items)
    item = packages.items[0].free_resources[0]
    assert isinstance(item.amount, Decimal) and item.used == item.original_amount - item.amount
    [usage] = client.list_free_resource_usages([item.free_resource_id]).items
    assert usage.original_amount == item.original_amount
    with pytest.raises(NoRightOnCustomer):
        client.list_period_resources("not-a-customer")


def test_the_client_prices_exactly_in_decimal_and_lists_the_catalogue(client):
    disk = RatingProduct(
        id="d",
        cloud_service_type="hws.service.type.ebs",
        resource_type="hws.resource.type.volume",
        resource_spec="SSD",
        region="cn-east-3",
        usage_value=Decimal("0.5"),
        resource_size=100,
        size_measure_id=17,
    )
    rating = client.rate_on_demand([disk], project_id="p")
    assert (
        rating.official_website_amount
        == Decimal("0.0014") * 100 * Decimal("0.5")
        == rating.products[0].amount
    )
    with pytest.raises(ProductNotFound):
        client.rate_on_demand([RatingProduct(**{**vars(disk), "resource_spec": "nope"})], project_id="p")
    with pytest.raises(TypeError):
        client.rate_on_demand([RatingProduct(**{**vars(disk), "usage_value": 0.5})], project_id="p")
    names = {s.service_type_name for s in client.list_service_types(language="en_US")}
    assert "Elastic Cloud Server" in names
    types = client.list_resource_types()
    assert any(t.service_type_code == "hws.service.type.ec2" for t in types)
    specs = client.list_resource_specs(
        cloud_service_type="hws.service.type.ec2",
        resource_type="hws.resource.type.vm",
        region_code="cn-north-4",
    )
    assert len(specs) == 4 and specs[0].charge_mode == "3"


def test_against_a_real_endpoint_the_partner_only_parameters_fail_before_any_request():
    def refuse(request):
        raise AssertionError(f"no request may be sent: {request.url}")

    real = UpstreamClient(
        "https://bss.example.invalid", "ak", "sk", "domain", transport=httpx.MockTransport(refuse)
    )
    with real:
        for call in (
            lambda: real.pay_order("CS1", indirect_partner_id=RA),
            lambda: real.cancel_order("CS1", indirect_partner_id=RA),
            lambda: real.reject_partner_pay_order("CS1"),
            lambda: real.list_resource_packages("c1"),
            lambda: real.list_period_resources("c1", indirect_partner_id=RA),
            lambda: real.list_free_resource_usages(["f1"], indirect_partner_id=RA),
        ):
            with pytest.raises(UnsupportedOperation):
                call()
