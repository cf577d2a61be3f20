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
    """A blocker found by the account check: ARREARS, UNEXPIRED_RI, PENDING_PARTNER_PAY_ORDERS, FROZEN, …"""

    code: str
    message: str


@dataclass(frozen=True)
class AssociationCheck:
    """The account check before an association change (**ext** CheckAssociationChange)."""

    passed: bool
    items: tuple[AssociationCheckItem, ...]
    raw: Mapping[str, Any] = _raw()

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> AssociationCheck:
        items = tuple(
            AssociationCheckItem(code=_text(i.get("code")), message=_text(i.get("message")))
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
