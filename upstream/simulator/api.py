"""The operations of docs/upstream.md: routes, request validation, and the call into the store.

Every handler takes the store, the path parameters and a Params (the JSON body of a POST, the query of a
GET) and returns the response body: a dict, None for "null", or EMPTY for an empty 200.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from . import trade
from .errors import ApiError, bad_request
from .generate import TIME_FORMAT, WARNING_SCENES, parse_time
from .store import OP_ADJUST, OP_RETRIEVE, OP_UNBIND, Store, utc_now

EMPTY = object()  # a 200 with an empty body

_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
MAX_AMOUNT_CENTS = 100_000_000_000_00  # ¥100 billion: more is a client bug


class Params:
    """Typed access to request parameters; every violation is a 400 CBC.0100."""

    def __init__(self, data: dict[str, Any], language: str | None = None) -> None:
        self.data = data
        self.language = language  # the X-Language header (zh_CN, en_US)

    def _raw(self, name: str) -> Any:
        value = self.data.get(name)
        return None if value is None or value == "" else value

    def str(self, name: str, *, required: bool = False, max_len: int = 64, choices=None) -> str | None:
        value = self._raw(name)
        if value is None:
            if required:
                raise bad_request(f"{name} is required.")
            return None
        if isinstance(value, int) and not isinstance(value, bool) and choices is not None:
            value = str(value)  # association_type may come as 1/2
        if not isinstance(value, str):
            raise bad_request(f"{name} must be a string.")
        if len(value) > max_len:
            raise bad_request(f"{name} must be at most {max_len} characters.")
        if choices is not None and value not in choices:
            raise bad_request(f"{name} must be one of {', '.join(choices)}.")
        return value

    def int(self, name: str, *, default: int, low: int, high: int | None = None) -> int:
        value = self._raw(name)
        if value is None:
            return default
        if isinstance(value, str) and re.fullmatch(r"-?\d{1,12}", value.strip()):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad_request(f"{name} must be an integer.")
        if value < low or (high is not None and value > high):
            raise bad_request(
                f"{name} must be between {low} and {high}." if high else f"{name} must be >= {low}."
            )
        return value

    def optional_int(self, name: str, *, low: int, high: int) -> int | None:
        return None if self._raw(name) is None else self.int(name, default=0, low=low, high=high)

    def str_list(self, name: str, *, max_items: int, max_len: int = 64) -> list[str]:
        """A list of non-empty strings (none given: an empty list)."""
        value = self.data.get(name)
        if value is None:
            return []
        if (
            not isinstance(value, list)
            or len(value) > max_items
            or not all(isinstance(v, str) and 0 < len(v) <= max_len for v in value)
        ):
            raise bad_request(
                f"{name} must be a list of at most {max_items} strings of 1 to {max_len} characters."
            )
        return list(dict.fromkeys(value))

    def english(self) -> bool:
        return (self.language or "").strip().lower().replace("-", "_") == "en_us"

    def page(self, default_limit: int = 10) -> tuple[int, int]:
        offset = self.int("offset", default=0, low=0, high=2**31)
        return offset, self.int("limit", default=default_limit, low=1, high=100)

    def time(self, name: str, *, required: bool = False) -> str | None:
        value = self.str(name, required=required, max_len=20)
        if value is None:
            return None
        if not _TIME_RE.match(value):
            raise bad_request(f"{name} must be a UTC time in the format YYYY-MM-DDTHH:MM:SSZ.")
        try:
            datetime.strptime(value, TIME_FORMAT)
        except ValueError:
            raise bad_request(f"{name} is not a valid time.") from None
        return value

    def time_range(self, prefix: str) -> dict[str, str | None]:
        begin, end = self.time(f"{prefix}_begin"), self.time(f"{prefix}_end")
        if begin and end and begin > end:
            raise bad_request(f"{prefix}_begin must not be after {prefix}_end.")
        return {f"{prefix}_begin": begin, f"{prefix}_end": end}

    def decimal(self, name: str, *, required: bool = True) -> Decimal | None:
        value = self._raw(name)
        if value is None:
            if required:
                raise bad_request(f"{name} is required.")
            return None
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
            raise bad_request(f"{name} must be a number.")
        try:
            number = Decimal(value.strip() if isinstance(value, str) else str(value))
        except InvalidOperation:
            raise bad_request(f"{name} must be a number.") from None
        if not number.is_finite():
            raise bad_request(f"{name} must be a finite number.")
        return number

    def amount_cents(self, name: str = "amount") -> int:
        """A money amount: > 0, at most two decimal places, in cents."""
        number = self.decimal(name)
        if number <= 0:
            raise bad_request(f"{name} must be greater than 0.")
        if number * 100 > MAX_AMOUNT_CENTS:
            raise bad_request(f"{name} is too large.")
        if number != number.quantize(Decimal("0.01")):
            raise bad_request(f"{name} must have at most two decimal places.")
        return int(number * 100)


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    pattern: re.Pattern[str]
    handler: Callable[..., Any]


ROUTES: list[Route] = []


def route(method: str, path: str):
    """Register a handler for METHOD path; {name} in the path captures one segment."""
    regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path) + "/?$")

    def register(fn):
        name = "".join(part.capitalize() for part in fn.__name__.split("_"))
        ROUTES.append(Route(OPERATION_NAMES.get(fn.__name__, name), method, regex, fn))
        return fn

    return register


OPERATION_NAMES = {
    "allocate": "UpdateCustomerAccountAmount",
    "reclaim": "ReclaimToPartnerAccount",
}


def match(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    for r in ROUTES:
        if r.method == method:
            m = r.pattern.match(path)
            if m:
                return r, m.groupdict()
    return None


def _scope(store: Store, p: Params) -> str:
    return store.scope(p.str("indirect_partner_id"))


@route("POST", "/v2/partners/sub-customers/query")
def list_sub_customers(store: Store, p: Params) -> dict:
    scope = _scope(store, p)
    onboarding.settle_reviews(store)  # real-name reviews that are due show in verified_status
    offset, limit = p.page(10)
    filters = {
        "account_name": p.str("account_name"),
        "customer": p.str("customer", max_len=255),
        "label": p.str("label"),
        "association_type": p.str("association_type", choices=("1", "2")),
        "customer_id": p.str("customer_id"),
        **p.time_range("associated_on"),
    }
    return store.list_sub_customers(scope, filters, offset, limit)


@route("POST", "/v2/partners/indirect-partners/query")
def list_indirect_partners(store: Store, p: Params) -> dict:
    offset, limit = p.page(10)
    filters = {
        "account_name": p.str("account_name"),
        "indirect_partner_id": p.str("indirect_partner_id"),
        **p.time_range("associated_on"),
    }
    return store.list_indirect_partners(filters, offset, limit)


@route("GET", "/v2/accounts/partner-accounts/balances")
def list_partner_balances(store: Store, p: Params) -> dict:
    return store.partner_balances(_scope(store, p))


@route("POST", "/v2/accounts/customer-accounts/balances/batch-query")
def list_customers_balances_detail(store: Store, p: Params) -> dict:
    scope = _scope(store, p)
    infos = p.data.get("customer_infos")
    if not isinstance(infos, list) or not 1 <= len(infos) <= 100:
        raise bad_request("customer_infos must be a list of 1 to 100 items.")
    ids = []
    for item in infos:
        if not isinstance(item, dict):
            raise bad_request("each item of customer_infos must be an object with customer_id.")
        cid = Params(item).str("customer_id", required=True)
        ids.append(cid)
    return store.customer_balances(scope, ids)


@route("POST", "/v2/accounts/partner-accounts/adjust-amount")
def allocate(store: Store, p: Params) -> dict:
    scope = _scope(store, p)
    customer_id = p.str("customer_id", required=True)
    return {"transfer_id": store.allocate(scope, customer_id, p.amount_cents())}


@route("POST", "/v2/accounts/partner-accounts/reclaim")
def reclaim(store: Store, p: Params) -> dict:
    scope = _scope(store, p)
    customer_id = p.str("customer_id", required=True)
    return {"trans_id": store.reclaim(scope, customer_id, p.amount_cents())}


def _reseller(store: Store, p: Params) -> str:
    return store.scope(p.str("indirect_partner_id", required=True))


@route("POST", "/v2/accounts/partner-accounts/indirect-partner-adjust")
def update_indirect_partner_account(store: Store, p: Params) -> dict:
    reseller = _reseller(store, p)
    return {"transfer_id": store.adjust_indirect_partner(reseller, p.amount_cents(), reclaim=False)}


@route("POST", "/v2/accounts/partner-accounts/indirect-partner-reclaim")
def reclaim_indirect_partner_account(store: Store, p: Params) -> dict:
    reseller = _reseller(store, p)
    return {"trans_id": store.adjust_indirect_partner(reseller, p.amount_cents(), reclaim=True)}


@route("GET", "/v3/accounts/partner-accounts/adjust-records")
def list_partner_adjust_records(store: Store, p: Params) -> dict:
    scope = _scope(store, p)
    offset, limit = p.page(10)
    filters = {
        "customer_id": p.str("customer_id"),
        "operation_type": p.str("operation_type", choices=(OP_ADJUST, OP_RETRIEVE, OP_UNBIND)),
        "trans_id": p.str("trans_id", max_len=128),
        **p.time_range("operation_time"),
    }
    return store.adjust_records(scope, filters, offset, limit)


@route("GET", "/v2/partners/discounts")
def get_partner_discount(store: Store, p: Params) -> dict | None:
    scope = _scope(store, p)
    return store.get_partner_discount(scope, p.str("customer_id", required=True))


def _validity(p: Params) -> tuple[str, str]:
    effective, expire = p.time("effective_time", required=True), p.time("expire_time", required=True)
    if not effective < expire:
        raise bad_request("effective_time must be before expire_time.")
    return effective, expire


@route("POST", "/v2/partners/discounts")
def set_partner_discount(store: Store, p: Params) -> object:
    scope = _scope(store, p)
    customer_id = p.str("customer_id", required=True)
    discount = p.decimal("discount")
    if not Decimal(0) < discount <= Decimal(1):
        raise bad_request("discount must be greater than 0 and at most 1.")
    if discount != discount.quantize(Decimal("0.0001")):
        raise bad_request("discount must have at most four decimal places.")
    effective, expire = _validity(p)
    store.set_partner_discount(scope, customer_id, str(discount.normalize()), effective, expire)
    return EMPTY


@route("POST", "/v2/partners/customer-warnings/query")
def list_customer_warnings(store: Store, p: Params) -> dict:
    scope = _scope(store, p)
    offset, limit = p.page(10)
    filters = {
        "status": p.str("status", choices=("PENDING", "HANDLED")),
        "category": p.str("category", choices=tuple(WARNING_SCENES)),
        "scene": p.str("scene"),
        "customer_id": p.str("customer_id"),
        **p.time_range("send_time"),
    }
    return store.list_warnings(scope, filters, offset, limit)


@route("POST", "/v2/partners/customer-warnings/{warning_id}/handle")
def handle_customer_warning(store: Store, p: Params, warning_id: str) -> object:
    scope = _scope(store, p)
    result = p.str("result", required=True, choices=("LOST", "NOT_LOST", "HANDLED"))
    store.handle_warning(scope, warning_id, result, p.str("remark", max_len=1000))
    return EMPTY


@route("GET", "/v2/partners/association-records")
def list_association_records(store: Store, p: Params) -> dict:
    scope = _scope(store, p)
    offset, limit = p.page(10)
    filters = {
        "association_type": p.str("association_type", choices=("1", "2")),
        "operation_type": p.str("operation_type", choices=("ASSOCIATE", "DISASSOCIATE", "SWITCH")),
        "customer_id": p.str("customer_id"),
        **p.time_range("operation_time"),
    }
    return store.association_records(scope, filters, offset, limit)


CHANGES = ("SWITCH_TO_REFERRAL", "SWITCH_TO_RESALE", "DISASSOCIATE")


@route("POST", "/v2/partners/sub-customers/{customer_id}/association-check")
def check_association_change(store: Store, p: Params, customer_id: str) -> dict:
    scope = _scope(store, p)
    change = p.str("change", required=True, choices=CHANGES)
    return store.check_association_change(scope, customer_id, change)


@route("POST", "/v2/partners/sub-customers/{customer_id}/association-change")
def apply_association_change(store: Store, p: Params, customer_id: str) -> dict:
    scope = _scope(store, p)
    change = p.str("change", required=True, choices=CHANGES)
    reason = p.str("reason", required=True, max_len=1000)
    p.time("customer_confirmed_at")
    return {"record_id": store.apply_association_change(scope, customer_id, change, reason)}


@route("POST", "/v2/partners/commercial-discounts/query")
def list_commercial_discounts(store: Store, p: Params) -> dict:
    scope = _scope(store, p)
    offset, limit = p.page(10)
    filters = {
        "customer_id": p.str("customer_id"),
        "status": p.str("status", choices=("PENDING", "EFFECTIVE", "EXPIRED", "INVALID")),
    }
    return store.commercial_discounts(scope, filters, offset, limit)


@route("POST", "/v2/partners/dedicated-offers/query")
def list_dedicated_offers(store: Store, p: Params) -> dict:
    scope = _scope(store, p)
    offset, limit = p.page(10)
    filters = {
        "customer_id": p.str("customer_id"),
        "status": p.str("status", choices=("ACTIVE", "INVALIDATED", "EXPIRED")),
    }
    return store.dedicated_offers(scope, filters, offset, limit)


@route("POST", "/v2/partners/dedicated-offers")
def create_dedicated_offer(store: Store, p: Params) -> dict:
    scope = _scope(store, p)
    name = p.str("name", required=True, max_len=64)
    account_name = p.str("customer_account_name", required=True)
    products = p.data.get("product_ids")
    if (
        not isinstance(products, list)
        or not 1 <= len(products) <= 20
        or not all(isinstance(x, str) and 0 < len(x) <= 64 for x in products)
    ):
        raise bad_request("product_ids must be a list of 1 to 20 product ids.")
    effective, expire = _validity(p)
    if expire <= utc_now().strftime(TIME_FORMAT):
        raise bad_request("expire_time must be in the future.")
    offer_id = store.create_dedicated_offer(
        scope, name.strip(), account_name, list(dict.fromkeys(products)), effective, expire
    )
    return {"offer_id": offer_id}


@route("POST", "/v2/partners/dedicated-offers/{offer_id}/invalidate")
def invalidate_dedicated_offer(store: Store, p: Params, offer_id: str) -> object:
    scope = _scope(store, p)
    store.invalidate_dedicated_offer(scope, offer_id, p.str("reason", max_len=1000))
    return EMPTY


# ---- orders, resources, resource packages, payment, price inquiry --------------------------------------


def _within_a_year(window: dict[str, str | None], prefix: str) -> dict[str, str | None]:
    begin, end = window[f"{prefix}_begin"], window[f"{prefix}_end"]
    if begin and end and parse_time(end) - parse_time(begin) > timedelta(days=366):
        raise bad_request(f"{prefix}_begin and {prefix}_end must be at most one year apart.")
    return window


@route("GET", "/v2/orders/customer-orders")
def list_customer_orders(store: Store, p: Params) -> dict:
    scope = _scope(store, p)
    offset, limit = p.page(10)
    order_by = p.str("order_by", max_len=16)
    if order_by is not None and order_by.lower() not in ("createtime", "-createtime"):
        raise bad_request("order_by must be createTime or -createTime.")
    filters = {
        "order_id": p.str("order_id"),
        "customer_id": p.str("customer_id"),
        "service_type_code": p.str("service_type_code"),
        "status": p.str("status", choices=tuple(str(s) for s in trade.ORDER_STATUSES)),
        "order_type": p.str("order_type", choices=trade.ORDER_TYPES),
        "method": p.str("method", choices=("oneself", "sub_customer")),
        "descending": bool(order_by and order_by.startswith("-")),
        **_within_a_year(p.time_range("create_time"), "create_time"),
        **_within_a_year(p.time_range("payment_time"), "payment_time"),
    }
    return store.list_customer_orders(scope, filters, offset, limit)


@route("GET", "/v2/orders/customer-orders/details/{order_id}")
def show_customer_order_details(store: Store, p: Params, order_id: str) -> dict:
    scope = _scope(store, p)
    offset, limit = p.page(10)
    return store.show_customer_order(scope, order_id, offset, limit)


@route("POST", "/v2/partners/sub-customers/on-demand-resources/query")
def list_customer_on_demand_resources(store: Store, p: Params) -> dict:
    scope = _scope(store, p)
    offset, limit = p.page(10)
    filters = {
        "customer_id": p.str("customer_id", required=True),
        "region_code": p.str("region_code"),
        "service_type_code": p.str("service_type_code"),
        "resource_ids": p.str_list("resource_ids", max_items=50),
        "status": p.optional_int("status", low=1, high=6),
        **p.time_range("effective_time"),
    }
    return store.on_demand_resources(scope, filters, offset, limit)


@route("POST", "/v2/orders/suscriptions/resources/query")
def list_pay_per_use_customer_resources(store: Store, p: Params) -> dict:
    """Yearly/monthly resources; indirect_partner_id is this project's addition (**ext**)."""
    scope = _scope(store, p)
    offset, limit = p.page(10)
    statuses = p.data.get("status_list") or []
    if not isinstance(statuses, list) or not all(
        s in (2, 3, 4, 5) and not isinstance(s, bool) for s in statuses
    ):
        raise bad_request("status_list must be a list of resource statuses 2, 3, 4 and 5.")
    filters = {
        "customer_id": p.str("customer_id", required=True),
        "resource_ids": p.str_list("resource_ids", max_items=50),
        "order_id": p.str("order_id"),
        "only_main_resource": p.int("only_main_resource", default=0, low=0, high=1),
        "status_list": list(dict.fromkeys(statuses)),
        "service_type_code": p.str("service_type_code"),
        **p.time_range("expire_time"),
    }
    return store.period_resources(scope, filters, offset, limit)


@route("POST", "/v3/payments/free-resources/query")
def list_free_resource_infos(store: Store, p: Params) -> dict:
    """Resource packages; customer_id and indirect_partner_id are this project's additions (**ext**)."""
    scope = _scope(store, p)
    offset, limit = p.page(10)
    filters = {
        "customer_id": p.str("customer_id"),
        "region_code": p.str("region_code"),
        "order_id": p.str("order_id"),
        "product_id": p.str("product_id"),
        "product_name": p.str("product_name", max_len=256),
        "enterprise_project_id": p.str("enterprise_project_id"),
        "status": p.optional_int("status", low=0, high=4),
        "service_type_code_list": p.str_list("service_type_code_list", max_items=50),
    }
    return store.resource_packages(scope, filters, offset, limit)


@route("POST", "/v2/payments/free-resources/usages/details/query")
def list_free_resource_usages(store: Store, p: Params) -> dict:
    scope = _scope(store, p)
    ids = p.str_list("free_resource_ids", max_items=100)
    if not ids:
        raise bad_request("free_resource_ids must list 1 to 100 resource item ids.")
    return store.free_resource_usages(scope, ids)


@route("POST", "/v3/orders/customer-orders/pay")
def pay_orders(store: Store, p: Params) -> object:
    """The partner pays (伙伴支付); indirect_partner_id is this project's addition (**ext**)."""
    scope = _scope(store, p)
    order_id = p.str("order_id", required=True)
    for flag, infos in (("use_coupon", "coupon_infos"), ("use_discount", "discount_infos")):
        chosen = p.str(flag, choices=("YES", "NO")) == "YES"
        given = p.data.get(infos)
        if chosen and not (isinstance(given, list) and given):
            raise bad_request(f"{infos} is required when {flag} is YES.")
        if not chosen and given:
            raise bad_request(f"{infos} must not be given unless {flag} is YES.")
        if chosen:
            raise ApiError(
                400, "CBC.99003108", "The discount or coupon chosen cannot be used for this order."
            )
    store.pay_order(scope, order_id)
    return EMPTY


@route("PUT", "/v2/orders/customer-orders/cancel")
def cancel_customer_order(store: Store, p: Params) -> object:
    scope = _scope(store, p)
    store.cancel_order(scope, p.str("order_id", required=True))
    return EMPTY


@route("POST", "/v2/partners/partner-pay-orders/{order_id}/reject")
def reject_partner_pay_order(store: Store, p: Params, order_id: str) -> object:
    scope = _scope(store, p)
    p.str("reason", max_len=1000)
    store.reject_partner_pay(scope, order_id)
    return EMPTY


def _service_name(p: Params, code: str) -> str:
    zh, en, _abbr = trade.SERVICE_TYPES[code]
    return en if p.english() else zh


def _resource_type_name(p: Params, code: str) -> str:
    _service, zh, en, _desc = trade.RESOURCE_TYPES[code]
    return en if p.english() else zh


@route("GET", "/v2/products/service-types")
def list_service_types(store: Store, p: Params) -> dict:
    offset, limit = p.page(10)
    name = p.str("service_type_name", max_len=128)
    rows = [
        {"service_type_name": _service_name(p, code), "service_type_code": code, "abbreviation": abbr}
        for code, (_zh, _en, abbr) in trade.SERVICE_TYPES.items()
    ]
    if name:
        rows = [r for r in rows if name.lower() in r["service_type_name"].lower()]
    return {"total_count": len(rows), "service_types": rows[offset : offset + limit]}


@route("GET", "/v2/products/resource-types")
def list_resource_types(store: Store, p: Params) -> dict:
    offset, limit = p.page(10)
    rows = [
        {
            "resource_type_code": code,
            "resource_type_name": _resource_type_name(p, code),
            "resource_type_desc": desc,
            "service_type_code": service,
        }
        for code, (service, _zh, _en, desc) in trade.RESOURCE_TYPES.items()
    ]
    return {"total_count": len(rows), "resource_types": rows[offset : offset + limit]}


@route("POST", "/v2/products/resource-specs-query")
def list_resource_specs(store: Store, p: Params) -> dict:
    """On-demand ("3") specs of a resource type in a region; marker paging (the next offset)."""
    service = p.str("cloud_service_type", required=True)
    resource_type = p.str("resource_type", required=True)
    region = p.str("region_code", required=True)
    charge_mode = p.str("charge_mode", required=True, choices=("1", "3"))
    limit = p.int("limit", default=100, low=1, high=100)
    marker = p.str("marker")
    if marker is not None and not marker.isdigit():
        raise bad_request("marker must be the next_marker of the previous page.")
    filters = p.data.get("filters") or []
    if not isinstance(filters, list) or len(filters) > 1:
        raise bad_request("filters must be a list of at most one filter.")
    wanted = None
    for f in filters:
        if not isinstance(f, dict) or f.get("key") != "RESOURCE_SPEC" or not isinstance(f.get("value"), str):
            raise bad_request('A filter must be {"key": "RESOURCE_SPEC", "value": "<spec>"}.')
        wanted = f["value"]
    specs = [
        s
        for s in trade.SPECS.values()
        if s.service_type == service.lower()
        and s.resource_type == resource_type.lower()
        and region in trade.REGIONS
        and wanted in (None, s.code)
    ]
    start = int(marker or 0)
    rows = specs[start : start + limit]
    return {
        "page_info": {"next_marker": str(start + limit) if start + limit < len(specs) else None},
        "cloud_service_basics": [
            {
                "cloud_service_type": s.service_type,
                "cloud_service_type_name": _service_name(p, s.service_type),
                "resource_type": s.resource_type,
                "resource_type_name": _resource_type_name(p, s.resource_type),
                "resource_spec": s.code,
                "resource_spec_name": s.description,
                "charge_mode": charge_mode,
                "region_code": region,
            }
            for s in rows
        ],
    }


def _rating_item(item: Any, seen: set[str]) -> tuple[str, trade.Spec, Decimal, int, int | None, str]:
    if not isinstance(item, dict):
        raise bad_request("each item of product_infos must be an object.")
    q = Params(item)
    item_id = q.str("id", required=True)
    if item_id in seen:
        raise bad_request(f"product_infos ids must be unique ({item_id} repeats).")
    seen.add(item_id)
    service, rtype = q.str("cloud_service_type", required=True), q.str("resource_type", required=True)
    spec_code, region = q.str("resource_spec", required=True, max_len=128), q.str("region", required=True)
    q.str("available_zone")
    spec = trade.SPECS.get(spec_code)
    if (
        spec is None
        or spec.service_type != service.lower()
        or spec.resource_type != rtype.lower()
        or region not in trade.REGIONS
    ):
        raise ApiError(400, "CBC.99006006", f"Product not found: {service} {rtype} {spec_code} in {region}.")
    size = q.optional_int("resource_size", low=1, high=1_000_000)
    measure = q.optional_int("size_measure_id", low=1, high=100)
    if spec.linear and (size is None or measure != spec.size_measure_id):
        raise bad_request(
            f"{spec_code} is a linear product: give resource_size and size_measure_id {spec.size_measure_id}."
        )
    if q.str("usage_factor", required=True).lower() != trade.USAGE_FACTOR.lower():
        raise bad_request(f"usage_factor of {spec_code} must be {trade.USAGE_FACTOR}.")
    usage = q.decimal("usage_value")
    if not Decimal(0) < usage <= Decimal(1_000_000):
        raise bad_request("usage_value must be greater than 0 and at most 1000000.")
    if q.int("usage_measure_id", default=0, low=0) != trade.MEASURE_HOUR:
        raise ApiError(
            400, "CBC.99006050", f"Usage unit error: usage_measure_id must be {trade.MEASURE_HOUR} (hour)."
        )
    quantity = q.int("subscription_num", default=0, low=1, high=10_000)
    return item_id, spec, usage, quantity, size, region


@route("POST", "/v2/bills/ratings/on-demand-resources")
def list_on_demand_resource_ratings(store: Store, p: Params) -> dict:
    """The official on-demand price (the partner's own inquiry carries no customer discount)."""
    p.str("project_id", required=True)
    precision = p.int("inquiry_precision", default=0, low=0, high=1)
    infos = p.data.get("product_infos")
    if not isinstance(infos, list) or not 1 <= len(infos) <= 100:
        raise bad_request("product_infos must be a list of 1 to 100 products.")
    seen: set[str] = set()
    results, total = [], Decimal(0)
    for item in infos:
        item_id, spec, usage, quantity, size, region = _rating_item(item, seen)
        amount = trade.rate(spec, hours=usage, quantity=quantity, size=size, precision=precision)
        total += amount
        results.append(
            {
                "id": item_id,
                "product_id": trade.product_id_for(spec.code, region),
                "amount": float(amount),
                "discount_amount": 0,
                "official_website_amount": float(amount),
                "measure_id": 1,
                "discount_rating_results": [],
            }
        )
    if total > trade.MAX_RATING:
        raise ApiError(400, "CBC.99006055", "The inquiry result exceeds the maximum amount.")
    return {
        "amount": float(total),
        "discount_amount": 0,
        "official_website_amount": float(total),
        "measure_id": 1,
        "currency": "CNY",
        "product_rating_results": results,
    }


from . import onboarding  # noqa: E402 (registers its routes; it imports this module)

OPERATIONS = frozenset(r.name for r in ROUTES)
