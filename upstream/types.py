"""What the upstream client returns: frozen dataclasses with aware UTC datetimes and Decimal money.

Each record keeps the upstream's dict in `raw` (fields this project does not model yet stay reachable);
`raw` is left out of comparisons and repr.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from portal.lib.money import parse_decimal, to_money

T = TypeVar("T")

UPSTREAM_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def _raw() -> Any:
    """The `raw` field: the upstream's dict, kept out of repr and comparisons."""
    return field(default_factory=dict, repr=False, compare=False)


# --- parsing helpers ----------------------------------------------------------------------------------


def parse_time(value: Any) -> datetime | None:
    """An upstream time (`YYYY-MM-DDTHH:MM:SSZ`, or any ISO 8601 form) as an aware UTC datetime."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise ValueError(f"{value!r} is not an upstream time (YYYY-MM-DDTHH:MM:SSZ).") from None
    if parsed.tzinfo is None:  # the contract's times are UTC
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_time(value: datetime | str) -> str:
    """An aware datetime in the upstream's format; a string is passed through as it is."""
    if isinstance(value, str):
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("Upstream times must be aware datetimes (a naive one has no known zone).")
    return value.astimezone(UTC).strftime(UPSTREAM_TIME_FORMAT)


def upstream_amount(value: Any) -> Decimal:
    """An upstream amount: 2 places, rounded half up (missing: 0.00); the one parser is portal.lib.money."""
    return to_money(value, default=Decimal(0))


def parse_int(value: Any) -> int | None:
    if value in (None, ""):
        return None
    return int(value)


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


# --- containers ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list operation: `total` matching records upstream, `items` on this page."""

    total: int
    items: tuple[T, ...]
    offset: int = 0
    limit: int | None = None
    raw: Mapping[str, Any] = _raw()

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def has_more(self) -> bool:
        return self.offset + len(self.items) < self.total and bool(self.items)


# --- records ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubCustomer:
    """A customer associated with the partner (ListSubCustomers)."""

    customer_id: str
    name: str
    account_name: str
    association_type: str  # "1" referral (顾问销售), "2" resale (代售)
    associated_on: datetime | None
    label: str
    telephone: str
    email: str
    verified_status: int | None  # -1 not verified, 0 pending, 1 individual, 2 enterprise
    country_code: str
    customer_type: int | None  # -1 none, 0 individual, 1 enterprise
    is_frozen: int | None  # 0 no, 1 yes, 2 …
    customer_level: str
    account_manager_id: str | None
    account_manager_name: str | None
    raw: Mapping[str, Any] = _raw()

    REFERRAL = "1"
    RESALE = "2"

    @property
    def is_resale(self) -> bool:
        return self.association_type == self.RESALE

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> SubCustomer:
        managers = d.get("account_managers") or []
        manager = managers[0] if managers else {}
        return cls(
            customer_id=_text(d.get("customer_id")),
            name=_text(d.get("customer")),
            account_name=_text(d.get("account_name")),
            association_type=_text(d.get("association_type")),
            associated_on=parse_time(d.get("associated_on")),
            label=_text(d.get("label")),
            telephone=_text(d.get("telephone")),
            email=_text(d.get("email")),
            verified_status=parse_int(d.get("verified_status")),
            country_code=_text(d.get("country_code")),
            customer_type=parse_int(d.get("customer_type")),
            is_frozen=parse_int(d.get("is_frozen")),
            customer_level=_text(d.get("customer_level")),
            account_manager_id=_str(manager.get("account_manager_id")),
            account_manager_name=_str(manager.get("account_manager_name")),
            raw=d,
        )


@dataclass(frozen=True)
class IndirectPartner:
    """A reseller (云经销商) under the distributor (ListIndirectPartners)."""

    indirect_partner_id: str
    name: str
    account_name: str
    mobile_phone: str
    email: str
    associated_on: datetime | None
    account_manager_id: str | None
    account_manager_name: str | None
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> IndirectPartner:
        return cls(
            indirect_partner_id=_text(d.get("indirect_partner_id")),
            name=_text(d.get("name")),
            account_name=_text(d.get("account_name")),
            mobile_phone=_text(d.get("mobile_phone")),
            email=_text(d.get("email")),
            associated_on=parse_time(d.get("associated_on")),
            account_manager_id=_str(d.get("account_manager_id")),
            account_manager_name=_str(d.get("account_manager_name")),
            raw=d,
        )


@dataclass(frozen=True)
class PartnerBalance:
    """One account of the partner (ListPartnerBalances); type 1 balance, 2 credit, 5 bonus, 7 deposit."""

    account_id: str
    account_type: int | None
    amount: Decimal
    currency: str
    designated_amount: Decimal
    credit_amount: Decimal
    measure_id: int | None
    raw: Mapping[str, Any] = _raw()

    CASH = 1
    CREDIT = 2
    BONUS = 5
    DEPOSIT = 7

    @property
    def available_to_allocate(self) -> Decimal:
        """What an allocation may take from this account: amount − designated amount."""
        return self.amount - self.designated_amount

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> PartnerBalance:
        return cls(
            account_id=_text(d.get("account_id")),
            account_type=parse_int(d.get("account_type")),
            amount=upstream_amount(d.get("amount")),
            currency=_text(d.get("currency")) or "CNY",
            designated_amount=upstream_amount(d.get("designated_amount")),
            credit_amount=upstream_amount(d.get("credit_amount")),
            measure_id=parse_int(d.get("measure_id")),
            raw=d,
        )


@dataclass(frozen=True)
class CustomerBalance:
    """A resale customer's account (ListCustomersBalancesDetail)."""

    customer_id: str
    amount: Decimal
    debt_amount: Decimal
    currency: str
    measure_id: int | None
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> CustomerBalance:
        return cls(
            customer_id=_text(d.get("customer_id")),
            amount=upstream_amount(d.get("amount")),
            debt_amount=upstream_amount(d.get("debt_amount")),
            currency=_text(d.get("currency")) or "CNY",
            measure_id=parse_int(d.get("measure_id")),
            raw=d,
        )


@dataclass(frozen=True)
class Transfer:
    """The upstream's transaction id of a successful allocate or reclaim (`transfer_id` or `trans_id`)."""

    transaction_id: str
    raw: Mapping[str, Any] = _raw()


@dataclass(frozen=True)
class AdjustRecord:
    """One allocate/reclaim in the partner's adjust records (ListPartnerAdjustRecords)."""

    customer_id: str
    customer_name: str
    operation_type: str
    amount: Decimal
    currency: str
    apply_scene: str
    operation_time: datetime | None
    measure_id: int | None
    trans_id: str
    memo: str
    raw: Mapping[str, Any] = _raw()

    ALLOCATE = "SOURCE_OPERATION_BEADJUST"
    RECLAIM = "SOURCE_OPERATION_BERETRIEVE"
    RECLAIM_ON_UNBIND = "SOURCE_OPERATION_BEUNBIND"

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> AdjustRecord:
        return cls(
            customer_id=_text(d.get("customer_id")),
            customer_name=_text(d.get("customer_name")),
            operation_type=_text(d.get("operation_type")),
            amount=upstream_amount(d.get("amount")),
            currency=_text(d.get("currency")) or "CNY",
            apply_scene=_text(d.get("apply_scene")),
            operation_time=parse_time(d.get("operation_time")),
            measure_id=parse_int(d.get("measure_id")),
            trans_id=_text(d.get("trans_id")),
            memo=_text(d.get("memo")),
            raw=d,
        )


@dataclass(frozen=True)
class PartnerDiscount:
    """The discount a partner grants a customer (GetPartnerDiscount); `discount` in 0–1."""

    discount: Decimal
    effective_time: datetime | None
    expire_time: datetime | None
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> PartnerDiscount:
        return cls(
            discount=parse_decimal(d.get("discount")) or Decimal("0"),
            effective_time=parse_time(d.get("effective_time")),
            expire_time=parse_time(d.get("expire_time")),
            raw=d,
        )


@dataclass(frozen=True)
class CustomerWarning:
    """A customer warning (客户预警) (**ext** ListCustomerWarnings)."""

    warning_id: str
    scene_name: str
    category: str  # CHURN, RESOURCE, BALANCE, ARREARS
    title: str
    content: str
    customer_id: str
    send_time: datetime | None
    status: str  # PENDING, HANDLED
    handle_result: str | None
    handled_at: datetime | None
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> CustomerWarning:
        return cls(
            warning_id=_text(d.get("warning_id")),
            scene_name=_text(d.get("scene_name")),
            category=_text(d.get("category")),
            title=_text(d.get("title")),
            content=_text(d.get("content")),
            customer_id=_text(d.get("customer_id")),
            send_time=parse_time(d.get("send_time")),
            status=_text(d.get("status")),
            handle_result=_str(d.get("handle_result")),
            handled_at=parse_time(d.get("handled_at")),
            raw=d,
        )


@dataclass(frozen=True)
class AssociationRecord:
    """An association, disassociation or switch (**ext** ListAssociationRecords)."""

    record_id: str
    customer_id: str
    operation_type: str  # ASSOCIATE, DISASSOCIATE, SWITCH
    association_type: str | None  # after the change
    from_association_type: str | None
    operation_time: datetime | None
    initiator: str  # PARTNER, CUSTOMER, PLATFORM
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> AssociationRecord:
        return cls(
            record_id=_text(d.get("record_id")),
            customer_id=_text(d.get("customer_id")),
            operation_type=_text(d.get("operation_type")),
            association_type=_str(d.get("association_type")),
            from_association_type=_str(d.get("from_association_type")),
            operation_time=parse_time(d.get("operation_time")),
            initiator=_text(d.get("initiator")),
            raw=d,
        )


@dataclass(frozen=True)
class AssociationCheckItem:
    """A blocker found by the account check: ARREARS, UNEXPIRED_RI, PENDING_PARTNER_PAY_ORDERS, FROZEN, …

    `until` is set for COOLDOWN: when the partner may act again after the customer's own disassociation.
    """

    code: str
    message: str
    until: datetime | None = None


@dataclass(frozen=True)
class AssociationCheck:
    """The account check before an association change (**ext** CheckAssociationChange)."""

    passed: bool
    items: tuple[AssociationCheckItem, ...]
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> AssociationCheck:
        items = tuple(
            AssociationCheckItem(
                code=_text(i.get("code")), message=_text(i.get("message")), until=parse_time(i.get("until"))
            )
            for i in d.get("items") or []
        )
        return cls(passed=bool(d.get("passed")), items=items, raw=d)


@dataclass(frozen=True)
class AssociationChange:
    """The record of an applied association change (**ext** ApplyAssociationChange)."""

    record_id: str
    raw: Mapping[str, Any] = _raw()


@dataclass(frozen=True)
class CommercialDiscount:
    """A commercial discount (商务折扣, **ext**); discount_type 605 platform, 606 distributor."""

    discount_id: str
    business_name: str
    discount_type: int | None
    discount_rate: Decimal | None
    status: str  # PENDING, EFFECTIVE, EXPIRED, INVALID
    effective_time: datetime | None
    expire_time: datetime | None
    customer_id: str
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> CommercialDiscount:
        return cls(
            discount_id=_text(d.get("discount_id")),
            business_name=_text(d.get("business_name")),
            discount_type=parse_int(d.get("discount_type")),
            discount_rate=parse_decimal(d.get("discount_rate")),
            status=_text(d.get("status")),
            effective_time=parse_time(d.get("effective_time")),
            expire_time=parse_time(d.get("expire_time")),
            customer_id=_text(d.get("customer_id")),
            raw=d,
        )


@dataclass(frozen=True)
class DedicatedOffer:
    """A dedicated offer (专属优惠) (**ext** ListDedicatedOffers)."""

    offer_id: str
    name: str
    customer_account_name: str
    product_ids: tuple[str, ...]
    effective_time: datetime | None
    expire_time: datetime | None
    status: str  # ACTIVE, INVALIDATED, EXPIRED
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> DedicatedOffer:
        products = d.get("product_ids") or []
        if isinstance(products, str):
            products = [p for p in products.split(",") if p]
        return cls(
            offer_id=_text(d.get("offer_id")),
            name=_text(d.get("name")),
            customer_account_name=_text(d.get("customer_account_name")),
            product_ids=tuple(str(p) for p in products),
            effective_time=parse_time(d.get("effective_time")),
            expire_time=parse_time(d.get("expire_time")),
            status=_text(d.get("status")),
            raw=d,
        )


@dataclass(frozen=True)
class CreatedOffer:
    """The id of a new dedicated offer (**ext** CreateDedicatedOffer)."""

    offer_id: str
    raw: Mapping[str, Any] = _raw()


# --- orders, resources, resource packages, price inquiry --------------------------------------------------


def _rows(value: Any) -> list[Mapping[str, Any]]:
    """A list of objects from the upstream (None or a non-list: none); anything else is refused."""
    if not isinstance(value, list):
        return []
    if not all(isinstance(v, Mapping) for v in value):
        raise ValueError("expected a list of objects")
    return value


def _left_of(d: Mapping[str, Any]) -> dict[str, Any]:
    """What is left of a package item (`amount`) of `original_amount`, in `measure_id` units."""
    return {
        "amount": parse_decimal(d.get("amount")) or Decimal(0),
        "original_amount": parse_decimal(d.get("original_amount")) or Decimal(0),
        "measure_id": parse_int(d.get("measure_id")),
    }


def _price(d: Mapping[str, Any]) -> dict[str, Decimal]:
    """A price inquiry's amounts, exact (not rounded to cents)."""
    return {
        key: parse_decimal(d.get(key)) or Decimal(0)
        for key in ("amount", "discount_amount", "official_website_amount")
    }


@dataclass(frozen=True)
class OrderDiscount:
    """A discount applied to an order (amount_info.discounts): 200 promotion, 605 commercial, 607 partner."""

    discount_type: str
    discount_amount: Decimal


def _discounts(amount_info: Any) -> tuple[OrderDiscount, ...]:
    info = amount_info if isinstance(amount_info, Mapping) else {}
    return tuple(
        OrderDiscount(
            discount_type=_text(d.get("discount_type")),
            discount_amount=upstream_amount(d.get("discount_amount")),
        )
        for d in _rows(info.get("discounts"))
    )


@dataclass(frozen=True)
class CustomerOrder:
    """A yearly/monthly order (ListCustomerOrders, ShowCustomerOrderDetails).

    A combined trade order (组合交易单) has `sub_orders`: they are paid or cancelled together, through the
    combined order's id only. `is_agent_pay` marks an order the customer routed to the partner (伙伴支付).
    """

    order_id: str
    customer_id: str
    service_type_code: str
    service_type_name: str
    source_type: int | None
    status: int | None  # 1 pending approval, 3 processing, 4 cancelled, 5 completed, 6 awaiting payment, 9 …
    order_type: int | None  # 1 new, 2 renew, 3 change, 4 unsubscribe, 10 to on-demand, 11 to yearly/monthly
    official_amount: Decimal
    amount_after_discount: Decimal
    discounts: tuple[OrderDiscount, ...]
    currency: str
    create_time: datetime | None
    payment_time: datetime | None
    pending_payment_end_time: datetime | None
    user_name: str
    is_agent_pay: bool
    paying_agent_id: str | None
    sub_orders: tuple[CustomerOrder, ...]
    raw: Mapping[str, Any] = _raw()

    CANCELLED, COMPLETED, AWAITING_PAYMENT = 4, 5, 6

    @property
    def is_combined(self) -> bool:
        return bool(self.sub_orders)

    @property
    def awaits_partner_payment(self) -> bool:
        return self.status == self.AWAITING_PAYMENT and self.is_agent_pay

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> CustomerOrder:
        agent = d.get("agent_pay_info") if isinstance(d.get("agent_pay_info"), Mapping) else {}
        return cls(
            order_id=_text(d.get("order_id")),
            customer_id=_text(d.get("customer_id")),
            service_type_code=_text(d.get("service_type_code")),
            service_type_name=_text(d.get("service_type_name")),
            source_type=parse_int(d.get("source_type")),
            status=parse_int(d.get("status")),
            order_type=parse_int(d.get("order_type")),
            official_amount=upstream_amount(d.get("official_amount")),
            amount_after_discount=upstream_amount(d.get("amount_after_discount")),
            discounts=_discounts(d.get("amount_info")),
            currency=_text(d.get("currency")) or "CNY",
            create_time=parse_time(d.get("create_time")),
            payment_time=parse_time(d.get("payment_time")),
            pending_payment_end_time=parse_time(d.get("pending_payment_end_time")),
            user_name=_text(d.get("user_name")),
            is_agent_pay=agent.get("is_agent_pay") is True,
            paying_agent_id=_str(agent.get("paying_agent_id")),
            sub_orders=tuple(cls.from_api(s) for s in _rows(d.get("sub_order_infos"))),
            raw=d,
        )


@dataclass(frozen=True)
class OrderLineItem:
    """One line of an order (ShowCustomerOrderDetails); `order_id` is the child's in a combined order."""

    order_line_item_id: str
    order_id: str
    service_type_code: str
    service_type_name: str
    product_id: str
    product_spec_desc: str
    period_type: int | None  # 2 month, 3 year, …
    period_num: int | None
    subscription_num: int | None
    effective_time: datetime | None
    expire_time: datetime | None
    official_amount: Decimal
    amount_after_discount: Decimal
    discounts: tuple[OrderDiscount, ...]
    resource_type_code: str
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> OrderLineItem:
        return cls(
            order_line_item_id=_text(d.get("order_line_item_id")),
            order_id=_text(d.get("order_id")),
            service_type_code=_text(d.get("service_type_code")),
            service_type_name=_text(d.get("service_type_name")),
            product_id=_text(d.get("product_id")),
            product_spec_desc=_text(d.get("product_spec_desc")),
            period_type=parse_int(d.get("period_type")),
            period_num=parse_int(d.get("period_num")),
            subscription_num=parse_int(d.get("subscription_num")),
            effective_time=parse_time(d.get("effective_time")),
            expire_time=parse_time(d.get("expire_time")),
            official_amount=upstream_amount(d.get("official_amount")),
            amount_after_discount=upstream_amount(d.get("amount_after_discount")),
            discounts=_discounts(d.get("amount_info")),
            resource_type_code=_text(d.get("commercial_resource")),
            raw=d,
        )


@dataclass(frozen=True)
class OrderDetail:
    """An order and one page of its line items (ShowCustomerOrderDetails); `total` counts the line items."""

    order: CustomerOrder
    line_items: tuple[OrderLineItem, ...]
    total: int
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> OrderDetail:
        info = d.get("order_info")
        if not isinstance(info, Mapping):
            raise ValueError("the response has no order_info")
        items = tuple(OrderLineItem.from_api(i) for i in _rows(d.get("order_line_items")))
        total = parse_int(d.get("total_count"))
        return cls(order=CustomerOrder.from_api(info), line_items=items, total=total or len(items), raw=d)


@dataclass(frozen=True)
class PeriodResource:
    """A yearly/monthly resource instance (ListPayPerUseCustomerResources, OrderInstanceV2)."""

    resource_id: str
    resource_name: str
    region_code: str
    service_type_code: str
    service_type_name: str
    resource_type_code: str
    resource_type_name: str
    resource_spec_code: str
    product_spec_desc: str
    order_id: str
    parent_resource_id: str | None
    is_main_resource: bool
    status: int | None  # 2 in use, 3 closed, 4 frozen, 5 expired
    effective_time: datetime | None
    expire_time: datetime | None
    expire_policy: int | None  # 3 renews automatically
    spec_size: Decimal | None
    spec_size_measure_id: int | None
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> PeriodResource:
        return cls(
            resource_id=_text(d.get("resource_id")),
            resource_name=_text(d.get("resource_name")),
            region_code=_text(d.get("region_code")),
            service_type_code=_text(d.get("service_type_code")),
            service_type_name=_text(d.get("service_type_name")),
            resource_type_code=_text(d.get("resource_type_code")),
            resource_type_name=_text(d.get("resource_type_name")),
            resource_spec_code=_text(d.get("resource_spec_code")),
            product_spec_desc=_text(d.get("product_spec_desc")),
            order_id=_text(d.get("order_id")),
            parent_resource_id=_str(d.get("parent_resource_id")) or None,
            is_main_resource=parse_int(d.get("is_main_resource")) == 1,
            status=parse_int(d.get("status")),
            effective_time=parse_time(d.get("effective_time")),
            expire_time=parse_time(d.get("expire_time")),
            expire_policy=parse_int(d.get("expire_policy")),
            spec_size=parse_decimal(d.get("spec_size")),
            spec_size_measure_id=parse_int(d.get("spec_size_measure_id")),
            raw=d,
        )


@dataclass(frozen=True)
class OnDemandResource:
    """An on-demand resource of a customer (ListCustomerOnDemandResources)."""

    resource_id: str
    resource_name: str
    customer_id: str
    region_code: str
    availability_zone_code: str
    service_type_code: str
    service_type_name: str
    resource_type_code: str
    resource_type_name: str
    resource_spec_code: str
    product_spec_desc: str
    status: int | None  # 1 normal, 2 grace period, 3 frozen, 4 changing, 5 closing, 6 closed
    effective_time: datetime | None
    expire_time: datetime | None
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> OnDemandResource:
        return cls(
            resource_id=_text(d.get("resource_id")),
            resource_name=_text(d.get("resource_name")),
            customer_id=_text(d.get("customer_id")),
            region_code=_text(d.get("region_code")),
            availability_zone_code=_text(d.get("availability_zone_code")),
            service_type_code=_text(d.get("service_type_code")),
            service_type_name=_text(d.get("service_type_name")),
            resource_type_code=_text(d.get("resource_type_code")),
            resource_type_name=_text(d.get("resource_type_name")),
            resource_spec_code=_text(d.get("resource_spec_code")),
            product_spec_desc=_text(d.get("product_spec_desc")),
            status=parse_int(d.get("status")),
            effective_time=parse_time(d.get("effective_time")),
            expire_time=parse_time(d.get("expire_time")),
            raw=d,
        )


@dataclass(frozen=True)
class FreeResource:
    """One item of a resource package: what is left (`amount`) of `original_amount`, in `measure_id` units."""

    free_resource_id: str
    usage_type_name: str
    amount: Decimal
    original_amount: Decimal
    measure_id: int | None
    raw: Mapping[str, Any] = _raw()

    @property
    def used(self) -> Decimal:
        return max(self.original_amount - self.amount, Decimal(0))

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> FreeResource:
        return cls(
            free_resource_id=_text(d.get("free_resource_id")),
            usage_type_name=_text(d.get("usage_type_name")),
            **_left_of(d),
            raw=d,
        )


@dataclass(frozen=True)
class ResourcePackage:
    """A resource package (资源包) with its items (ListFreeResourceInfos, FreeResourcePackageV3)."""

    order_instance_id: str
    order_id: str
    product_id: str
    product_name: str
    service_type_code: str
    service_type_name: str
    region_code: str
    status: int | None  # 0 not yet effective, 1 effective, 2 used up, 3 expired, 4 unsubscribed
    effective_time: datetime | None
    expire_time: datetime | None
    quota_reuse_mode: int | None  # 1 resets every cycle, 2 does not
    free_resources: tuple[FreeResource, ...]
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> ResourcePackage:
        return cls(
            order_instance_id=_text(d.get("order_instance_id")),
            order_id=_text(d.get("order_id")),
            product_id=_text(d.get("product_id")),
            product_name=_text(d.get("product_name")),
            service_type_code=_text(d.get("service_type_code")),
            service_type_name=_text(d.get("service_type_name")),
            region_code=_text(d.get("region_code")),
            status=parse_int(d.get("status")),
            effective_time=parse_time(d.get("effective_time")),
            expire_time=parse_time(d.get("expire_time")),
            quota_reuse_mode=parse_int(d.get("quota_reuse_mode")),
            free_resources=tuple(FreeResource.from_api(f) for f in _rows(d.get("free_resources"))),
            raw=d,
        )


@dataclass(frozen=True)
class FreeResourceUsage:
    """The current cycle of a package item (ListFreeResourceUsages): left `amount` of `original_amount`."""

    free_resource_id: str
    free_resource_type_name: str
    usage_type_name: str
    quota_reuse_cycle: int | None  # 1 hour, 2 day, 3 week, 4 month, 5 year
    start_time: datetime | None
    end_time: datetime | None
    amount: Decimal
    original_amount: Decimal
    measure_id: int | None
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> FreeResourceUsage:
        return cls(
            free_resource_id=_text(d.get("free_resource_id")),
            free_resource_type_name=_text(d.get("free_resource_type_name")),
            usage_type_name=_text(d.get("usage_type_name")),
            quota_reuse_cycle=parse_int(d.get("quota_reuse_cycle")),
            start_time=parse_time(d.get("start_time")),
            end_time=parse_time(d.get("end_time")),
            **_left_of(d),
            raw=d,
        )


@dataclass(frozen=True)
class RatingProduct:
    """One product to price (ListOnDemandResourceRatings' product_infos): `usage_value` hours by default."""

    id: str
    cloud_service_type: str
    resource_type: str
    resource_spec: str
    region: str
    usage_value: Decimal
    subscription_num: int = 1
    resource_size: int | None = None
    size_measure_id: int | None = None  # 17 GB, 15 Mbit/s (linear products)
    usage_factor: str = "Duration"
    usage_measure_id: int = 4  # hour
    available_zone: str | None = None

    def as_api(self) -> dict[str, Any]:
        if isinstance(self.usage_value, float):
            raise TypeError("usage_value is never a float: pass a Decimal or an int.")
        return {
            "id": self.id,
            "cloud_service_type": self.cloud_service_type,
            "resource_type": self.resource_type,
            "resource_spec": self.resource_spec,
            "region": self.region,
            "available_zone": self.available_zone,
            "resource_size": self.resource_size,
            "size_measure_id": self.size_measure_id,
            "usage_factor": self.usage_factor,
            "usage_value": self.usage_value,
            "usage_measure_id": self.usage_measure_id,
            "subscription_num": self.subscription_num,
        }


@dataclass(frozen=True)
class ProductRating:
    """The price of one product: `amount` after discounts, `official_website_amount` the list price."""

    id: str
    product_id: str
    amount: Decimal
    discount_amount: Decimal
    official_website_amount: Decimal
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> ProductRating:
        return cls(
            id=_text(d.get("id")),
            product_id=_text(d.get("product_id")),
            **_price(d),
            raw=d,
        )


@dataclass(frozen=True)
class OnDemandRating:
    """An on-demand price inquiry (ListOnDemandResourceRatings); amounts are exact, up to 6 (or 10) places."""

    amount: Decimal
    discount_amount: Decimal
    official_website_amount: Decimal
    currency: str
    products: tuple[ProductRating, ...]
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> OnDemandRating:
        return cls(
            **_price(d),
            currency=_text(d.get("currency")) or "CNY",
            products=tuple(ProductRating.from_api(p) for p in _rows(d.get("product_rating_results"))),
            raw=d,
        )


@dataclass(frozen=True)
class ServiceType:
    """A cloud service type (ListServiceTypes), e.g. hws.service.type.ec2."""

    service_type_code: str
    service_type_name: str
    abbreviation: str
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> ServiceType:
        return cls(
            service_type_code=_text(d.get("service_type_code")),
            service_type_name=_text(d.get("service_type_name")),
            abbreviation=_text(d.get("abbreviation")),
            raw=d,
        )


@dataclass(frozen=True)
class ResourceType:
    """A resource type (ListResourceTypes), e.g. hws.resource.type.vm of hws.service.type.ec2."""

    resource_type_code: str
    resource_type_name: str
    resource_type_desc: str
    service_type_code: str
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> ResourceType:
        return cls(
            resource_type_code=_text(d.get("resource_type_code")),
            resource_type_name=_text(d.get("resource_type_name")),
            resource_type_desc=_text(d.get("resource_type_desc")),
            service_type_code=_text(d.get("service_type_code")),
            raw=d,
        )


@dataclass(frozen=True)
class ResourceSpec:
    """A resource spec of a resource type in a region (ListResourceSpecs)."""

    resource_spec: str
    resource_spec_name: str
    resource_type: str
    resource_type_name: str
    cloud_service_type: str
    cloud_service_type_name: str
    region_code: str
    charge_mode: str  # "1" yearly/monthly, "3" on demand
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> ResourceSpec:
        return cls(
            resource_spec=_text(d.get("resource_spec")),
            resource_spec_name=_text(d.get("resource_spec_name")),
            resource_type=_text(d.get("resource_type")),
            resource_type_name=_text(d.get("resource_type_name")),
            cloud_service_type=_text(d.get("cloud_service_type")),
            cloud_service_type_name=_text(d.get("cloud_service_type_name")),
            region_code=_text(d.get("region_code")),
            charge_mode=_text(d.get("charge_mode")),
            raw=d,
        )


# --- customer onboarding ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreatedCustomer:
    """A customer account made by CreateSubCustomer: its id (domain_id) and account name (domain_name)."""

    customer_id: str
    account_name: str
    raw: Mapping[str, Any] = _raw()


@dataclass(frozen=True)
class AcceptedInvitation:
    """An existing account associated with the partner by its invitation (**ext** AcceptPartnerInvitation)."""

    customer_id: str
    account_name: str
    association_type: str
    record_id: str
    raw: Mapping[str, Any] = _raw()


@dataclass(frozen=True)
class IdentityCheck:
    """CheckUserIdentity: whether an account name, mobile number or email may still register."""

    available: bool
    mobile_remaining: int | None  # customers the mobile number may still register (mobile checks only)
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> IdentityCheck:
        result = _text(d.get("check_result"))
        if result not in ("available", "used_by_user"):
            raise ValueError(f"unknown check_result {result!r}")
        return cls(
            available=result == "available",
            mobile_remaining=parse_int(d.get("mobile_remain_available_num")),
            raw=d,
        )


@dataclass(frozen=True)
class LegalPerson:
    """EnterprisePersonNew: the legal representative whose ID card files follow the certificate's."""

    name: str
    id_number: str
    certifier_role: str = "legalPerson"

    def as_api(self) -> dict[str, str]:
        return {
            "legel_name": self.name,
            "legel_id_number": self.id_number,
            "certifier_role": self.certifier_role,
        }


@dataclass(frozen=True)
class BankCard:
    """BankCardInfoV2 of a personal bank card verification (its SMS code is of scene 18)."""

    bank_account: str
    mobile: str
    verification_code: str
    areacode: str = "0086"

    def as_api(self) -> dict[str, str]:
        return {
            "bank_account": self.bank_account,
            "areacode": self.areacode,
            "mobile": self.mobile,
            "verification_code": self.verification_code,
        }


@dataclass(frozen=True)
class RealnameSubmission:
    """The answer to a real-name application: `needs_review` when it went to (manual) review."""

    needs_review: bool
    raw: Mapping[str, Any] = _raw()


@dataclass(frozen=True)
class RealnameReview:
    """ShowRealnameAuthenticationReviewResult of the latest application (`result` None: none was made)."""

    result: int | None  # 0 under review, 1 rejected, 2 approved
    opinion: str
    raw: Mapping[str, Any] = _raw()

    UNDER_REVIEW, REJECTED, APPROVED = 0, 1, 2

    @property
    def pending(self) -> bool:
        return self.result == self.UNDER_REVIEW

    @property
    def approved(self) -> bool:
        return self.result == self.APPROVED

    @property
    def rejected(self) -> bool:
        return self.result == self.REJECTED

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> RealnameReview:
        result = parse_int(d.get("review_result"))
        if result not in (None, 0, 1, 2):
            raise ValueError(f"unknown review_result {result!r}")
        return cls(result=result, opinion=_text(d.get("opinion")), raw=d)


@dataclass(frozen=True)
class Region:
    """A province, city or county of ListProvinces / ListCities / ListCounties (CN-13, CN-13-006, …)."""

    code: str
    name: str
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> Region:
        code = _text(d.get("code"))
        if not code:
            raise ValueError("a region without a code")
        return cls(code=code, name=_text(d.get("name")), raw=d)
