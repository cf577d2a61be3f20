"""The operations of docs/upstream.md: routes, request validation, and the call into the store.

Every handler takes the store, the path parameters and a Params (the JSON body of a POST, the query of a
GET) and returns the response body: a dict, None for "null", or EMPTY for an empty 200.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import bad_request
from .generate import TIME_FORMAT, WARNING_SCENES
from .store import OP_ADJUST, OP_RETRIEVE, OP_UNBIND, Store, utc_now

EMPTY = object()  # a 200 with an empty body

_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
MAX_AMOUNT_CENTS = 100_000_000_000_00  # ¥100 billion: more is a client bug


class Params:
    """Typed access to request parameters; every violation is a 400 CBC.0100."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

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


OPERATIONS = frozenset(r.name for r in ROUTES)
