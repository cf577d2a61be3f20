"""The signed client of the upstream partner API (docs/upstream.md is the wire contract).

One typed method per operation. Every call waits for the shared rate limiter, is signed (AK/SK,
SDK-HMAC-SHA256) and sent over a keep-alive httpx connection with explicit timeouts.

Retries differ by kind of operation:
- reads (list/get/check, POST queries included) retry 429s, 5xx, timeouts and connection errors with
  backoff (Retry-After when the server sends one; otherwise 2–5 s with jitter for a 429 and exponential
  backoff with jitter for the rest), then raise the typed error;
- writes (allocate, reclaim, set discount, handle warning, apply change, create/invalidate offer, pay,
  cancel or reject an order, create a customer, apply for real-name verification, send an SMS code) are
  resent only when the server certainly did not act: a 429, or a connection that never opened. A read
  timeout, a connection dropped after sending, or a 5xx raises OutcomeUnknown: the caller reconciles
  (adjust records for fund adjustments) before it sends anything again.

Operations marked **ext** in docs/upstream.md exist only on the bundled simulator; against a real endpoint
they raise UnsupportedOperation before any request is made.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from tenacity import Retrying, retry_if_exception, wait_exponential_jitter

from portal.lib.money import money_str, parse_decimal
from upstream import signer
from upstream.errors import (
    ERRORS_BY_CODE,
    AuthenticationFailed,
    InvalidResponse,
    OutcomeUnknown,
    RateLimited,
    UnsupportedOperation,
    UpstreamError,
    UpstreamServerError,
    UpstreamUnavailable,
    error_class_for,
)
from upstream.ratelimit import RateLimiter
from upstream.types import (
    AcceptedInvitation,
    AdjustRecord,
    AssociationChange,
    AssociationCheck,
    AssociationRecord,
    BankCard,
    CommercialDiscount,
    CreatedCustomer,
    CreatedOffer,
    CustomerBalance,
    CustomerOrder,
    CustomerWarning,
    DedicatedOffer,
    FreeResourceUsage,
    IdentityCheck,
    IndirectPartner,
    LegalPerson,
    OnDemandRating,
    OnDemandResource,
    OrderDetail,
    Page,
    PartnerBalance,
    PartnerDiscount,
    PeriodResource,
    RatingProduct,
    RealnameReview,
    RealnameSubmission,
    Region,
    ResourcePackage,
    ResourceSpec,
    ResourceType,
    ServiceType,
    SubCustomer,
    Transfer,
    format_time,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

USER_AGENT = "partner-portal-upstream/1.0"

# Errors that say "try again later": nothing was changed upstream.
TRANSIENT_ERRORS: tuple[type[UpstreamError], ...] = (RateLimited, UpstreamUnavailable)


@dataclass(frozen=True)
class Operation:
    """One upstream API: its name (the rate-limit and log key), method, path template and kind."""

    name: str
    method: str
    path: str
    write: bool = False
    ext: bool = False
    ext_params: tuple[str, ...] = ()  # parameters only the simulator knows (the platform's op lacks them)


OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in [
        Operation("ListSubCustomers", "POST", "/v2/partners/sub-customers/query"),
        Operation("ListIndirectPartners", "POST", "/v2/partners/indirect-partners/query"),
        Operation("ListPartnerBalances", "GET", "/v2/accounts/partner-accounts/balances"),
        Operation(
            "ListCustomersBalancesDetail", "POST", "/v2/accounts/customer-accounts/balances/batch-query"
        ),
        Operation("UpdateCustomerAccountAmount", "POST", "/v2/accounts/partner-accounts/adjust-amount", True),
        Operation("ReclaimToPartnerAccount", "POST", "/v2/accounts/partner-accounts/reclaim", True),
        Operation(
            "UpdateIndirectPartnerAccount",
            "POST",
            "/v2/accounts/partner-accounts/indirect-partner-adjust",
            True,
        ),
        Operation(
            "ReclaimIndirectPartnerAccount",
            "POST",
            "/v2/accounts/partner-accounts/indirect-partner-reclaim",
            True,
        ),
        Operation("ListPartnerAdjustRecords", "GET", "/v3/accounts/partner-accounts/adjust-records"),
        Operation("GetPartnerDiscount", "GET", "/v2/partners/discounts"),
        Operation("SetPartnerDiscount", "POST", "/v2/partners/discounts", write=True),
        Operation("ListCustomerWarnings", "POST", "/v2/partners/customer-warnings/query", ext=True),
        Operation(
            "HandleCustomerWarning",
            "POST",
            "/v2/partners/customer-warnings/{warning_id}/handle",
            write=True,
            ext=True,
        ),
        Operation("ListAssociationRecords", "GET", "/v2/partners/association-records", ext=True),
        Operation(
            "CheckAssociationChange",
            "POST",
            "/v2/partners/sub-customers/{customer_id}/association-check",
            ext=True,
        ),
        Operation(
            "ApplyAssociationChange",
            "POST",
            "/v2/partners/sub-customers/{customer_id}/association-change",
            write=True,
            ext=True,
        ),
        Operation("ListCommercialDiscounts", "POST", "/v2/partners/commercial-discounts/query", ext=True),
        Operation("ListDedicatedOffers", "POST", "/v2/partners/dedicated-offers/query", ext=True),
        Operation("CreateDedicatedOffer", "POST", "/v2/partners/dedicated-offers", write=True, ext=True),
        Operation(
            "InvalidateDedicatedOffer",
            "POST",
            "/v2/partners/dedicated-offers/{offer_id}/invalidate",
            write=True,
            ext=True,
        ),
        Operation("ListCustomerOrders", "GET", "/v2/orders/customer-orders"),
        Operation("ShowCustomerOrderDetails", "GET", "/v2/orders/customer-orders/details/{order_id}"),
        Operation(
            "ListCustomerOnDemandResources", "POST", "/v2/partners/sub-customers/on-demand-resources/query"
        ),
        Operation(
            "ListPayPerUseCustomerResources",
            "POST",
            "/v2/orders/suscriptions/resources/query",  # sic: the platform's spelling
            ext_params=("indirect_partner_id",),
        ),
        Operation(
            "ListFreeResourceInfos",
            "POST",
            "/v3/payments/free-resources/query",
            ext_params=("customer_id", "indirect_partner_id"),
        ),
        Operation(
            "ListFreeResourceUsages",
            "POST",
            "/v2/payments/free-resources/usages/details/query",
            ext_params=("indirect_partner_id",),
        ),
        Operation(
            "PayOrders",
            "POST",
            "/v3/orders/customer-orders/pay",
            write=True,
            ext_params=("indirect_partner_id",),
        ),
        Operation(
            "CancelCustomerOrder",
            "PUT",
            "/v2/orders/customer-orders/cancel",
            write=True,
            ext_params=("indirect_partner_id",),
        ),
        Operation(
            "RejectPartnerPayOrder",
            "POST",
            "/v2/partners/partner-pay-orders/{order_id}/reject",
            write=True,
            ext=True,
        ),
        Operation("ListOnDemandResourceRatings", "POST", "/v2/bills/ratings/on-demand-resources"),
        Operation("ListServiceTypes", "GET", "/v2/products/service-types"),
        Operation("ListResourceTypes", "GET", "/v2/products/resource-types"),
        Operation("ListResourceSpecs", "POST", "/v2/products/resource-specs-query"),
        Operation("CreateSubCustomer", "POST", "/v2/partners/sub-customers", write=True),
        Operation("AcceptPartnerInvitation", "POST", "/v2/partners/invitations/accept", write=True, ext=True),
        Operation("CheckUserIdentity", "POST", "/v2/partners/sub-customers/users/check-identity"),
        Operation(
            "CreateEnterpriseRealnameAuthentication",
            "POST",
            "/v2/customers/realname-auths/enterprise",
            write=True,
        ),
        Operation(
            "CreatePersonalRealnameAuth", "POST", "/v2/customers/realname-auths/individual", write=True
        ),
        Operation("ShowRealnameAuthenticationReviewResult", "GET", "/v2/customers/realname-auths/result"),
        Operation("ListProvinces", "GET", "/v2/systems/configs/provinces"),
        Operation("ListCities", "GET", "/v2/systems/configs/cities"),
        Operation("ListCounties", "GET", "/v2/systems/configs/counties"),
        Operation("SendVerificationMessageCode", "POST", "/v2/bases/verificationcode/send", write=True),
    ]
}


@dataclass(frozen=True)
class RetryPolicy:
    """How hard a call tries before it raises; the defaults suit Celery workers, tests shrink them."""

    attempts: int = 4  # tries in all, for reads and for writes that certainly were not acted on
    backoff_initial: float = 0.5  # 5xx/timeouts: initial × 2^n s plus up to `initial` s of jitter
    backoff_max: float = 10.0
    rate_limited_wait: tuple[float, float] = (2.0, 5.0)  # a 429 without Retry-After
    max_retry_after: float = 30.0  # a longer Retry-After is not slept through: RateLimited at once


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    raise TypeError(f"{type(value).__name__} cannot be sent to the upstream as JSON.")


def encode_json(body: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON; Decimal as a string (never through float), datetimes in the upstream format."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=_json_default).encode("utf-8")


def decode_json(content: bytes) -> Any:
    """Parse a response body; JSON numbers with a fraction become Decimal."""
    if not content.strip():
        return None
    return json.loads(content, parse_float=Decimal)


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _clean(params: Mapping[str, Any]) -> dict[str, Any]:
    """Drop parameters left at None: the upstream applies its defaults."""
    return {k: v for k, v in params.items() if v is not None}


def _text_of(value: Any) -> str:
    return "" if value is None else str(value)


def _time_or_none(value: datetime | str | None) -> str | None:
    return None if value is None else format_time(value)


class UpstreamClient:
    """The portal's one way to the upstream partner API. Thread-safe; close() it (or use `with`)."""

    def __init__(
        self,
        endpoint: str,
        ak: str,
        sk: str,
        domain_id: str,
        partner_id: str | None = None,
        *,
        is_simulator: bool = False,
        connect_timeout: float = 3.0,
        read_timeout: float = 15.0,
        rate_limit: float = 0.0,
        redis_url: str | None = None,
        limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], datetime] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.ak = ak
        self._sk = sk
        self.domain_id = domain_id
        self.partner_id = partner_id or domain_id
        self.is_simulator = is_simulator
        self.retry = retry or RetryPolicy()
        self.limiter = limiter or RateLimiter(rate_limit, scope=ak, redis_url=redis_url, sleep=sleep)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._sleep = sleep
        self._host = signer.host_of(self.endpoint)
        self._http = httpx.Client(
            timeout=httpx.Timeout(
                connect=connect_timeout, read=read_timeout, write=read_timeout, pool=read_timeout
            ),
            limits=httpx.Limits(max_keepalive_connections=10, keepalive_expiry=30),
            headers={"User-Agent": USER_AGENT},
            transport=transport,
            trust_env=False,
        )

    @classmethod
    def from_settings(cls, **overrides: Any) -> UpstreamClient:
        """A client configured from the UPSTREAM_* settings (keyword arguments override them)."""
        from django.conf import settings

        options: dict[str, Any] = {
            "endpoint": settings.UPSTREAM_ENDPOINT,
            "ak": settings.UPSTREAM_AK,
            "sk": settings.UPSTREAM_SK,
            "domain_id": settings.UPSTREAM_DOMAIN_ID,
            "partner_id": settings.UPSTREAM_PARTNER_ID,
            "is_simulator": settings.UPSTREAM_IS_SIMULATOR,
            "connect_timeout": settings.UPSTREAM_CONNECT_TIMEOUT,
            "read_timeout": settings.UPSTREAM_READ_TIMEOUT,
            "rate_limit": settings.UPSTREAM_RATE_LIMIT,
            "redis_url": settings.REDIS_URL,
        }
        options.update(overrides)
        return cls(**options)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> UpstreamClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<UpstreamClient {self.endpoint} ak={self.ak}{' simulator' if self.is_simulator else ''}>"

    # --- customers and resellers -----------------------------------------------------------------------

    def list_sub_customers(
        self,
        *,
        account_name: str | None = None,
        customer: str | None = None,
        label: str | None = None,
        association_type: str | None = None,
        associated_on_begin: datetime | str | None = None,
        associated_on_end: datetime | str | None = None,
        customer_id: str | None = None,
        indirect_partner_id: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> Page[SubCustomer]:
        """ListSubCustomers: the partner's customers (a reseller's with `indirect_partner_id`)."""
        data = self._call(
            "ListSubCustomers",
            body={
                "account_name": account_name,
                "customer": customer,
                "label": label,
                "association_type": association_type,
                "associated_on_begin": _time_or_none(associated_on_begin),
                "associated_on_end": _time_or_none(associated_on_end),
                "customer_id": customer_id,
                "indirect_partner_id": indirect_partner_id,
                "offset": offset,
                "limit": limit,
            },
        )
        return self._page(data, "customer_infos", SubCustomer.from_api, offset, limit, total_key="count")

    def list_indirect_partners(
        self,
        *,
        account_name: str | None = None,
        associated_on_begin: datetime | str | None = None,
        associated_on_end: datetime | str | None = None,
        indirect_partner_id: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> Page[IndirectPartner]:
        """ListIndirectPartners: the distributor's resellers."""
        data = self._call(
            "ListIndirectPartners",
            body={
                "account_name": account_name,
                "associated_on_begin": _time_or_none(associated_on_begin),
                "associated_on_end": _time_or_none(associated_on_end),
                "indirect_partner_id": indirect_partner_id,
                "offset": offset,
                "limit": limit,
            },
        )
        return self._page(
            data, "indirect_partners", IndirectPartner.from_api, offset, limit, total_key="count"
        )

    # --- balances and fund adjustment ------------------------------------------------------------------

    def list_partner_balances(self, *, indirect_partner_id: str | None = None) -> Page[PartnerBalance]:
        """ListPartnerBalances: the partner's (or a reseller's) accounts."""
        data = self._call("ListPartnerBalances", query={"indirect_partner_id": indirect_partner_id})
        return self._page(data, "account_balances", PartnerBalance.from_api, 0, None)

    def list_customers_balances(
        self, customer_ids: Sequence[str], *, indirect_partner_id: str | None = None
    ) -> Page[CustomerBalance]:
        """ListCustomersBalancesDetail for 1–100 customers; non-resale customers are left out silently."""
        ids = list(customer_ids)
        if not 1 <= len(ids) <= 100:
            raise ValueError("Ask for the balances of 1 to 100 customers at a time.")
        data = self._call(
            "ListCustomersBalancesDetail",
            body={
                "customer_infos": [{"customer_id": cid} for cid in ids],
                "indirect_partner_id": indirect_partner_id,
            },
        )
        return self._page(data, "customer_balances", CustomerBalance.from_api, 0, None)

    def allocate_to_customer(
        self, customer_id: str, amount: Decimal | int | str, *, indirect_partner_id: str | None = None
    ) -> Transfer:
        """UpdateCustomerAccountAmount: move `amount` from the partner account to a resale customer."""
        data = self._call(
            "UpdateCustomerAccountAmount",
            body={
                "customer_id": customer_id,
                "amount": money_str(amount),
                "indirect_partner_id": indirect_partner_id,
            },
        )
        return self._transfer(data, "transfer_id", "UpdateCustomerAccountAmount")

    def reclaim_from_customer(
        self, customer_id: str, amount: Decimal | int | str, *, indirect_partner_id: str | None = None
    ) -> Transfer:
        """ReclaimToPartnerAccount: take `amount` back from a resale customer (the id is `trans_id`)."""
        data = self._call(
            "ReclaimToPartnerAccount",
            body={
                "customer_id": customer_id,
                "amount": money_str(amount),
                "indirect_partner_id": indirect_partner_id,
            },
        )
        return self._transfer(data, "trans_id", "ReclaimToPartnerAccount")

    def allocate_to_reseller(self, indirect_partner_id: str, amount: Decimal | int | str) -> Transfer:
        """UpdateIndirectPartnerAccount: move `amount` from the distributor to a reseller."""
        data = self._call(
            "UpdateIndirectPartnerAccount",
            body={"indirect_partner_id": indirect_partner_id, "amount": money_str(amount)},
        )
        return self._transfer(data, "transfer_id", "UpdateIndirectPartnerAccount")

    def reclaim_from_reseller(self, indirect_partner_id: str, amount: Decimal | int | str) -> Transfer:
        """ReclaimIndirectPartnerAccount: take `amount` back from a reseller (the id is `trans_id`)."""
        data = self._call(
            "ReclaimIndirectPartnerAccount",
            body={"indirect_partner_id": indirect_partner_id, "amount": money_str(amount)},
        )
        return self._transfer(data, "trans_id", "ReclaimIndirectPartnerAccount")

    def list_adjust_records(
        self,
        *,
        customer_id: str | None = None,
        operation_type: str | None = None,
        operation_time_begin: datetime | str | None = None,
        operation_time_end: datetime | str | None = None,
        trans_id: str | None = None,
        indirect_partner_id: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> Page[AdjustRecord]:
        """ListPartnerAdjustRecords: allocations and reclaims, for reconciliation and the records page."""
        data = self._call(
            "ListPartnerAdjustRecords",
            query={
                "customer_id": customer_id,
                "operation_type": operation_type,
                "operation_time_begin": _time_or_none(operation_time_begin),
                "operation_time_end": _time_or_none(operation_time_end),
                "trans_id": trans_id,
                "indirect_partner_id": indirect_partner_id,
                "offset": offset,
                "limit": limit,
            },
        )
        return self._page(data, "records", AdjustRecord.from_api, offset, limit)

    # --- discounts and offers --------------------------------------------------------------------------

    def get_partner_discount(
        self, customer_id: str, *, indirect_partner_id: str | None = None
    ) -> PartnerDiscount | None:
        """GetPartnerDiscount: the customer's partner-granted discount, or None."""
        data = self._call(
            "GetPartnerDiscount",
            query={"customer_id": customer_id, "indirect_partner_id": indirect_partner_id},
        )
        if not data:
            return None
        return self._parse("GetPartnerDiscount", PartnerDiscount.from_api, data)

    def set_partner_discount(
        self,
        customer_id: str,
        discount: Decimal | str,
        *,
        effective_time: datetime | str,
        expire_time: datetime | str,
        indirect_partner_id: str | None = None,
    ) -> None:
        """SetPartnerDiscount: grant or change a discount (0–1); referral-only customers are refused."""
        if isinstance(discount, float):
            raise TypeError("A discount is never a float: pass a Decimal or a string.")
        self._call(
            "SetPartnerDiscount",
            body={
                "customer_id": customer_id,
                "discount": parse_decimal(discount),
                "effective_time": format_time(effective_time),
                "expire_time": format_time(expire_time),
                "indirect_partner_id": indirect_partner_id,
            },
        )

    def list_commercial_discounts(
        self,
        *,
        customer_id: str | None = None,
        status: str | None = None,
        indirect_partner_id: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> Page[CommercialDiscount]:
        """**ext** ListCommercialDiscounts."""
        data = self._call(
            "ListCommercialDiscounts",
            body={
                "customer_id": customer_id,
                "status": status,
                "indirect_partner_id": indirect_partner_id,
                "offset": offset,
                "limit": limit,
            },
        )
        return self._page(data, "discounts", CommercialDiscount.from_api, offset, limit)

    def list_dedicated_offers(
        self,
        *,
        status: str | None = None,
        customer_id: str | None = None,
        indirect_partner_id: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> Page[DedicatedOffer]:
        """**ext** ListDedicatedOffers."""
        data = self._call(
            "ListDedicatedOffers",
            body={
                "status": status,
                "customer_id": customer_id,
                "indirect_partner_id": indirect_partner_id,
                "offset": offset,
                "limit": limit,
            },
        )
        return self._page(data, "offers", DedicatedOffer.from_api, offset, limit)

    def create_dedicated_offer(
        self,
        *,
        name: str,
        customer_account_name: str,
        product_ids: Sequence[str],
        effective_time: datetime | str,
        expire_time: datetime | str,
        indirect_partner_id: str | None = None,
    ) -> CreatedOffer:
        """**ext** CreateDedicatedOffer (the name is unique per partner)."""
        data = self._call(
            "CreateDedicatedOffer",
            body={
                "name": name,
                "customer_account_name": customer_account_name,
                "product_ids": list(product_ids),
                "effective_time": format_time(effective_time),
                "expire_time": format_time(expire_time),
                "indirect_partner_id": indirect_partner_id,
            },
        )
        offer_id = data.get("offer_id") if isinstance(data, Mapping) else None
        if not offer_id:
            raise self._unreadable_write("CreateDedicatedOffer", "offer_id")
        return CreatedOffer(offer_id=str(offer_id), raw=data)

    def invalidate_dedicated_offer(
        self, offer_id: str, *, reason: str, indirect_partner_id: str | None = None
    ) -> None:
        """**ext** InvalidateDedicatedOffer."""
        self._call(
            "InvalidateDedicatedOffer",
            path_params={"offer_id": offer_id},
            body={"reason": reason, "indirect_partner_id": indirect_partner_id},
        )

    # --- warnings --------------------------------------------------------------------------------------

    def list_customer_warnings(
        self,
        *,
        status: str | None = None,
        category: str | None = None,
        scene: str | None = None,
        send_time_begin: datetime | str | None = None,
        send_time_end: datetime | str | None = None,
        customer_id: str | None = None,
        indirect_partner_id: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> Page[CustomerWarning]:
        """**ext** ListCustomerWarnings."""
        data = self._call(
            "ListCustomerWarnings",
            body={
                "status": status,
                "category": category,
                "scene": scene,
                "send_time_begin": _time_or_none(send_time_begin),
                "send_time_end": _time_or_none(send_time_end),
                "customer_id": customer_id,
                "indirect_partner_id": indirect_partner_id,
                "offset": offset,
                "limit": limit,
            },
        )
        return self._page(data, "warnings", CustomerWarning.from_api, offset, limit)

    def handle_customer_warning(
        self,
        warning_id: str,
        result: str,
        *,
        remark: str | None = None,
        indirect_partner_id: str | None = None,
    ) -> None:
        """**ext** HandleCustomerWarning: churn warnings take LOST / NOT_LOST, the others HANDLED."""
        self._call(
            "HandleCustomerWarning",
            path_params={"warning_id": warning_id},
            body={"result": result, "remark": remark, "indirect_partner_id": indirect_partner_id},
        )

    # --- association -----------------------------------------------------------------------------------

    def list_association_records(
        self,
        *,
        association_type: str | None = None,
        operation_type: str | None = None,
        operation_time_begin: datetime | str | None = None,
        operation_time_end: datetime | str | None = None,
        customer_id: str | None = None,
        indirect_partner_id: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> Page[AssociationRecord]:
        """**ext** ListAssociationRecords."""
        data = self._call(
            "ListAssociationRecords",
            query={
                "association_type": association_type,
                "operation_type": operation_type,
                "operation_time_begin": _time_or_none(operation_time_begin),
                "operation_time_end": _time_or_none(operation_time_end),
                "customer_id": customer_id,
                "indirect_partner_id": indirect_partner_id,
                "offset": offset,
                "limit": limit,
            },
        )
        return self._page(data, "records", AssociationRecord.from_api, offset, limit)

    def check_association_change(
        self, customer_id: str, change: str, *, indirect_partner_id: str | None = None
    ) -> AssociationCheck:
        """**ext** CheckAssociationChange: the account check before a switch or disassociation."""
        data = self._call(
            "CheckAssociationChange",
            path_params={"customer_id": customer_id},
            body={"change": change, "indirect_partner_id": indirect_partner_id},
        )
        return self._parse("CheckAssociationChange", AssociationCheck.from_api, data)

    def apply_association_change(
        self,
        customer_id: str,
        change: str,
        *,
        reason: str,
        customer_confirmed_at: datetime | str,
        indirect_partner_id: str | None = None,
    ) -> AssociationChange:
        """**ext** ApplyAssociationChange: carry out a change the customer has confirmed."""
        data = self._call(
            "ApplyAssociationChange",
            path_params={"customer_id": customer_id},
            body={
                "change": change,
                "reason": reason,
                "customer_confirmed_at": format_time(customer_confirmed_at),
                "indirect_partner_id": indirect_partner_id,
            },
        )
        record_id = data.get("record_id") if isinstance(data, Mapping) else None
        if not record_id:
            raise self._unreadable_write("ApplyAssociationChange", "record_id")
        return AssociationChange(record_id=str(record_id), raw=data)

    # --- orders and partner payment ---------------------------------------------------------------------

    def list_customer_orders(
        self,
        *,
        customer_id: str | None = None,
        order_id: str | None = None,
        status: int | None = None,
        order_type: int | str | None = None,
        service_type_code: str | None = None,
        create_time_begin: datetime | str | None = None,
        create_time_end: datetime | str | None = None,
        payment_time_begin: datetime | str | None = None,
        payment_time_end: datetime | str | None = None,
        newest_first: bool = False,
        indirect_partner_id: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> Page[CustomerOrder]:
        """ListCustomerOrders: yearly/monthly orders; a combined order is one item with its sub-orders.

        Time windows are at most one year wide (the platform refuses wider ones).
        """
        data = self._call(
            "ListCustomerOrders",
            query={
                "customer_id": customer_id,
                "order_id": order_id,
                "status": status,
                "order_type": order_type,
                "service_type_code": service_type_code,
                "create_time_begin": _time_or_none(create_time_begin),
                "create_time_end": _time_or_none(create_time_end),
                "payment_time_begin": _time_or_none(payment_time_begin),
                "payment_time_end": _time_or_none(payment_time_end),
                "order_by": "-createTime" if newest_first else "createTime",
                "indirect_partner_id": indirect_partner_id,
                "offset": offset,
                "limit": limit,
            },
        )
        return self._page(data, "order_infos", CustomerOrder.from_api, offset, limit)

    def show_customer_order(
        self,
        order_id: str,
        *,
        indirect_partner_id: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> OrderDetail:
        """ShowCustomerOrderDetails: the order, its sub-orders and one page of its line items."""
        data = self._call(
            "ShowCustomerOrderDetails",
            path_params={"order_id": order_id},
            query={"indirect_partner_id": indirect_partner_id, "offset": offset, "limit": limit},
        )
        return self._parse("ShowCustomerOrderDetails", OrderDetail.from_api, data)

    def pay_order(self, order_id: str, *, indirect_partner_id: str | None = None) -> None:
        """PayOrders: the partner pays an order its customer routed to it (a combined order as a whole).

        No idempotency key: after OutcomeUnknown, read the order (paid = status 5) before paying again.
        A reseller's order (`indirect_partner_id`) is paid through the simulator only.
        """
        self._call("PayOrders", body={"order_id": order_id, "indirect_partner_id": indirect_partner_id})

    def cancel_order(self, order_id: str, *, indirect_partner_id: str | None = None) -> None:
        """CancelCustomerOrder: cancel an order awaiting payment (a combined order as a whole)."""
        self._call(
            "CancelCustomerOrder", body={"order_id": order_id, "indirect_partner_id": indirect_partner_id}
        )

    def reject_partner_pay_order(
        self, order_id: str, *, reason: str | None = None, indirect_partner_id: str | None = None
    ) -> None:
        """**ext** RejectPartnerPayOrder: decline to pay; the customer then pays the order itself."""
        self._call(
            "RejectPartnerPayOrder",
            path_params={"order_id": order_id},
            body={"reason": reason, "indirect_partner_id": indirect_partner_id},
        )

    # --- resources and resource packages ---------------------------------------------------------------

    def list_period_resources(
        self,
        customer_id: str,
        *,
        order_id: str | None = None,
        resource_ids: Sequence[str] | None = None,
        only_main_resource: bool = False,
        statuses: Sequence[int] | None = None,
        service_type_code: str | None = None,
        expire_time_begin: datetime | str | None = None,
        expire_time_end: datetime | str | None = None,
        indirect_partner_id: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> Page[PeriodResource]:
        """ListPayPerUseCustomerResources: a customer's yearly/monthly resources (of an order, expiring…).

        A reseller's customer (`indirect_partner_id`) is read through the simulator only.
        """
        data = self._call(
            "ListPayPerUseCustomerResources",
            body={
                "customer_id": customer_id,
                "order_id": order_id,
                "resource_ids": list(resource_ids) if resource_ids else None,
                "only_main_resource": 1 if only_main_resource else 0,
                "status_list": list(statuses) if statuses else None,
                "service_type_code": service_type_code,
                "expire_time_begin": _time_or_none(expire_time_begin),
                "expire_time_end": _time_or_none(expire_time_end),
                "indirect_partner_id": indirect_partner_id,
                "offset": offset,
                "limit": limit,
            },
        )
        return self._page(data, "data", PeriodResource.from_api, offset, limit)

    def list_on_demand_resources(
        self,
        customer_id: str,
        *,
        region_code: str | None = None,
        service_type_code: str | None = None,
        resource_ids: Sequence[str] | None = None,
        status: int | None = None,
        effective_time_begin: datetime | str | None = None,
        effective_time_end: datetime | str | None = None,
        indirect_partner_id: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> Page[OnDemandResource]:
        """ListCustomerOnDemandResources: a customer's on-demand resources."""
        data = self._call(
            "ListCustomerOnDemandResources",
            body={
                "customer_id": customer_id,
                "region_code": region_code,
                "service_type_code": service_type_code,
                "resource_ids": list(resource_ids) if resource_ids else None,
                "status": status,
                "effective_time_begin": _time_or_none(effective_time_begin),
                "effective_time_end": _time_or_none(effective_time_end),
                "indirect_partner_id": indirect_partner_id,
                "offset": offset,
                "limit": limit,
            },
        )
        return self._page(data, "resources", OnDemandResource.from_api, offset, limit)

    def list_resource_packages(
        self,
        customer_id: str,
        *,
        status: int | None = None,
        region_code: str | None = None,
        order_id: str | None = None,
        product_name: str | None = None,
        service_type_codes: Sequence[str] | None = None,
        indirect_partner_id: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> Page[ResourcePackage]:
        """ListFreeResourceInfos for a customer: its resource packages and what is left of each.

        The platform's operation lists the caller's own packages; a customer's are read through the
        simulator only (`customer_id` is this project's parameter).
        """
        data = self._call(
            "ListFreeResourceInfos",
            body={
                "customer_id": customer_id,
                "status": status,
                "region_code": region_code,
                "order_id": order_id,
                "product_name": product_name,
                "service_type_code_list": list(service_type_codes) if service_type_codes else None,
                "indirect_partner_id": indirect_partner_id,
                "offset": offset,
                "limit": limit,
            },
        )
        return self._page(data, "free_resource_packages", ResourcePackage.from_api, offset, limit)

    def list_free_resource_usages(
        self, free_resource_ids: Sequence[str], *, indirect_partner_id: str | None = None
    ) -> Page[FreeResourceUsage]:
        """ListFreeResourceUsages for 1–100 package items (other partners' items are left out)."""
        ids = list(free_resource_ids)
        if not 1 <= len(ids) <= 100:
            raise ValueError("Ask for the usage of 1 to 100 resource package items at a time.")
        data = self._call(
            "ListFreeResourceUsages",
            body={"free_resource_ids": ids, "indirect_partner_id": indirect_partner_id},
        )
        return self._page(data, "free_resources", FreeResourceUsage.from_api, 0, None)

    # --- price inquiry -----------------------------------------------------------------------------------

    def rate_on_demand(
        self, products: Sequence[RatingProduct], *, project_id: str, precise: bool = False
    ) -> OnDemandRating:
        """ListOnDemandResourceRatings: the official on-demand price of 1–100 products."""
        items = list(products)
        if not 1 <= len(items) <= 100:
            raise ValueError("Price 1 to 100 products at a time.")
        data = self._call(
            "ListOnDemandResourceRatings",
            body={
                "project_id": project_id,
                "inquiry_precision": 1 if precise else 0,
                "product_infos": [_clean(p.as_api()) for p in items],
            },
        )
        return self._parse("ListOnDemandResourceRatings", OnDemandRating.from_api, data)

    def list_service_types(
        self,
        *,
        service_type_name: str | None = None,
        language: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> Page[ServiceType]:
        """ListServiceTypes (`language` zh_CN or en_US names the types)."""
        data = self._call(
            "ListServiceTypes",
            query={"service_type_name": service_type_name, "offset": offset, "limit": limit},
            headers={"X-Language": language},
        )
        return self._page(data, "service_types", ServiceType.from_api, offset, limit)

    def list_resource_types(
        self, *, language: str | None = None, offset: int = 0, limit: int = 100
    ) -> Page[ResourceType]:
        """ListResourceTypes (each names its service type)."""
        data = self._call(
            "ListResourceTypes", query={"offset": offset, "limit": limit}, headers={"X-Language": language}
        )
        return self._page(data, "resource_types", ResourceType.from_api, offset, limit)

    def list_resource_specs(
        self,
        *,
        cloud_service_type: str,
        resource_type: str,
        region_code: str,
        on_demand: bool = True,
        resource_spec: str | None = None,
        language: str | None = None,
    ) -> list[ResourceSpec]:
        """ListResourceSpecs: every spec of a resource type in a region (all marker pages)."""
        specs: list[ResourceSpec] = []
        marker = None
        while True:
            data = self._call(
                "ListResourceSpecs",
                body={
                    "cloud_service_type": cloud_service_type,
                    "resource_type": resource_type,
                    "region_code": region_code,
                    "charge_mode": "3" if on_demand else "1",
                    "filters": [{"key": "RESOURCE_SPEC", "value": resource_spec}] if resource_spec else None,
                    "marker": marker,
                    "limit": 100,
                },
                headers={"X-Language": language},
            )
            page = self._page(data, "cloud_service_basics", ResourceSpec.from_api, 0, None)
            specs += page.items
            info = page.raw.get("page_info")
            marker = info.get("next_marker") if isinstance(info, Mapping) else None
            if not marker or not page.items:
                return specs

    # --- customer onboarding ---------------------------------------------------------------------------

    def create_sub_customer(
        self,
        *,
        xaccount_id: str,
        xaccount_type: str,
        account_name: str | None = None,
        mobile_phone: str | None = None,
        verification_code: str | None = None,
        password: str | None = None,
        close_marketing_messages: bool | None = None,
        referral: bool = False,
        indirect_partner_id: str | None = None,
    ) -> CreatedCustomer:
        """CreateSubCustomer: a new platform account associated with the partner (resale, or referral with
        `referral`), a reseller's customer with `indirect_partner_id`.

        `xaccount_id` is the portal's own id of the application: sent again it is refused with
        AccountAlreadyCreated. After OutcomeUnknown look the account up (find_customer_by_account_name)
        before creating it again. A mobile number needs its SMS code (send_verification_code).
        """
        data = self._call(
            "CreateSubCustomer",
            body={
                "xaccount_id": xaccount_id,
                "xaccount_type": xaccount_type,
                "domain_name": account_name,
                "mobile_phone": mobile_phone,
                "verification_code": verification_code,
                "password": password,
                "is_close_market_ms": None
                if close_marketing_messages is None
                else str(close_marketing_messages).lower(),
                "cooperation_type": "1" if referral else None,
                "indirect_partner_id": indirect_partner_id,
            },
        )
        customer_id = data.get("domain_id") if isinstance(data, Mapping) else None
        if not customer_id:
            raise self._unreadable_write("CreateSubCustomer", "domain_id")
        return CreatedCustomer(
            customer_id=str(customer_id), account_name=_text_of(data.get("domain_name")), raw=data
        )

    def accept_partner_invitation(
        self,
        *,
        invitation_id: str,
        account_name: str,
        association_type: str,
        customer_confirmed_at: datetime | str,
        indirect_partner_id: str | None = None,
    ) -> AcceptedInvitation:
        """**ext** AcceptPartnerInvitation: associate an existing account with the partner, as the customer
        agreed to the partner's invitation (`invitation_id`, the portal's own id: sent again, the same
        result and no second association). Refusals: InvitedAccountNotFound, AlreadyAssociated,
        AssociationCooldown. After OutcomeUnknown look the account up (find_customer_by_account_name)."""
        data = self._call(
            "AcceptPartnerInvitation",
            body={
                "invitation_id": invitation_id,
                "account_name": account_name,
                "association_type": association_type,
                "customer_confirmed_at": format_time(customer_confirmed_at),
                "indirect_partner_id": indirect_partner_id,
            },
        )
        customer_id = data.get("customer_id") if isinstance(data, Mapping) else None
        if not customer_id:
            raise self._unreadable_write("AcceptPartnerInvitation", "customer_id")
        return AcceptedInvitation(
            customer_id=str(customer_id),
            account_name=_text_of(data.get("account_name")),
            association_type=_text_of(data.get("association_type")),
            record_id=_text_of(data.get("record_id")),
            raw=data,
        )

    def check_user_identity(self, search_type: str, value: str) -> IdentityCheck:
        """CheckUserIdentity: is an account name ("name"), mobile ("mobile", 0086-…) or email ("email")
        still free to register?"""
        if search_type not in ("name", "mobile", "email"):
            raise ValueError("search_type is name, mobile or email.")
        data = self._call("CheckUserIdentity", body={"search_type": search_type, "search_value": value})
        return self._parse("CheckUserIdentity", IdentityCheck.from_api, data)

    def find_customer_by_account_name(
        self, account_name: str, *, indirect_partner_id: str | None = None
    ) -> SubCustomer | None:
        """The partner's customer with exactly this account name (ListSubCustomers filters by
        substring), or None: how a create with an unknown outcome is reconciled."""
        wanted = account_name.lower()
        for customer in self.iter_all(
            self.list_sub_customers, account_name=account_name, indirect_partner_id=indirect_partner_id
        ):
            if customer.account_name.lower() == wanted:
                return customer
        return None

    def create_enterprise_realname_auth(
        self,
        customer_id: str,
        *,
        certificate_type: int,
        corp_name: str,
        verified_number: str,
        files: Sequence[str],
        xaccount_type: str,
        legal_person: LegalPerson | None = None,
        reg_country: str | None = None,
        reg_address: str | None = None,
    ) -> RealnameSubmission:
        """CreateEnterpriseRealnameAuthentication: `files` are paths under the bucket's download/ folder,
        the certificate first, then (with `legal_person`) the ID card's portrait and emblem sides."""
        data = self._call(
            "CreateEnterpriseRealnameAuthentication",
            body={
                "customer_id": customer_id,
                "identify_type": 1,
                "certificate_type": certificate_type,
                "verified_file_url": list(files),
                "corp_name": corp_name,
                "verified_number": verified_number,
                "reg_country": reg_country,
                "reg_address": reg_address,
                "xaccount_type": xaccount_type,
                "enterprise_person": legal_person.as_api() if legal_person else None,
            },
        )
        return self._submission(data)

    def create_personal_realname_auth(
        self,
        customer_id: str,
        *,
        name: str,
        verified_number: str,
        files: Sequence[str],
        xaccount_type: str,
        document_type: int | None = None,
        bank_card: BankCard | None = None,
    ) -> RealnameSubmission:
        """CreatePersonalRealnameAuth: by document (`document_type` 3 passport, 5/6 permits, 9/10 residence
        permits; three files) or by bank card (`bank_card`; one file, the face photo)."""
        if (document_type is None) == (bank_card is None):
            raise ValueError("Give either a document_type or a bank_card.")
        data = self._call(
            "CreatePersonalRealnameAuth",
            body={
                "customer_id": customer_id,
                "identify_type": 4 if bank_card else 0,
                "verified_type": document_type,
                "verified_file_url": list(files),
                "name": name,
                "verified_number": verified_number,
                "change_type": -1,
                "xaccount_type": xaccount_type,
                "bank_card_info": bank_card.as_api() if bank_card else None,
            },
        )
        return self._submission(data)

    def show_realname_review(self, customer_id: str) -> RealnameReview:
        """ShowRealnameAuthenticationReviewResult of the customer's latest application."""
        data = self._call("ShowRealnameAuthenticationReviewResult", query={"customer_id": customer_id})
        return self._parse("ShowRealnameAuthenticationReviewResult", RealnameReview.from_api, data or {})

    def list_provinces(self, *, offset: int = 0, limit: int = 1000) -> Page[Region]:
        """ListProvinces (CN-11, …)."""
        data = self._call("ListProvinces", query={"offset": offset, "limit": limit})
        return self._page(data, "provinces", Region.from_api, offset, limit, total_key="count")

    def list_cities(self, province_code: str, *, offset: int = 0, limit: int = 1000) -> Page[Region]:
        """ListCities of a province (CN-13-006, …)."""
        data = self._call(
            "ListCities", query={"province_code": province_code, "offset": offset, "limit": limit}
        )
        return self._page(data, "cities", Region.from_api, offset, limit, total_key="count")

    def list_counties(self, city_code: str, *, offset: int = 0, limit: int = 1000) -> Page[Region]:
        """ListCounties of a city."""
        data = self._call("ListCounties", query={"city_code": city_code, "offset": offset, "limit": limit})
        return self._page(data, "counties", Region.from_api, offset, limit, total_key="count")

    def send_verification_code(
        self,
        mobile_phone: str,
        *,
        bank_card_customer_id: str | None = None,
        timeout_minutes: int | None = None,
        language: str | None = None,
    ) -> None:
        """SendVerificationMessageCode: an SMS code for registration (scene 29), or for a bank card
        verification of `bank_card_customer_id` (scene 18). A write: not resent after a timeout."""
        self._call(
            "SendVerificationMessageCode",
            body={
                "receiver_type": 1,
                "mobile_phone": mobile_phone,
                "timeout": timeout_minutes,
                "lang": language,
                "scene": 18 if bank_card_customer_id else 29,
                "customer_id": bank_card_customer_id,
            },
        )

    @staticmethod
    def _submission(data: Any) -> RealnameSubmission:
        review = data.get("is_review") if isinstance(data, Mapping) else None
        return RealnameSubmission(needs_review=str(review) == "1", raw=data or {})

    # --- paging helper ---------------------------------------------------------------------------------

    def iter_all(
        self, list_method: Callable[..., Page[T]], *, page_size: int = 100, **filters: Any
    ) -> Iterator[T]:
        """Every item of a list operation, page by page (e.g. `iter_all(client.list_sub_customers)`)."""
        offset = 0
        while True:
            page = list_method(offset=offset, limit=page_size, **filters)
            yield from page.items
            offset += len(page.items)
            if not page.items or offset >= page.total:
                return

    # --- plumbing --------------------------------------------------------------------------------------

    def _call(
        self,
        name: str,
        *,
        path_params: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str | None] | None = None,
    ) -> Any:
        op = OPERATIONS[name]
        if op.ext and not self.is_simulator:
            raise UnsupportedOperation(op.name, self.endpoint)
        if not self.is_simulator:
            given = {**(query or {}), **(body or {})}
            for param in op.ext_params:
                if given.get(param) is not None:
                    raise UnsupportedOperation(f"{op.name} with {param}", self.endpoint)
        path = op.path
        for key, value in (path_params or {}).items():
            if not value:
                raise ValueError(f"{op.name} needs a {key}.")
            path = path.replace(f"{{{key}}}", quote(str(value), safe=""))
        query_string = signer.canonical_query(_clean(query or {}))
        url = f"{self.endpoint}{path}" + (f"?{query_string}" if query_string else "")
        content = encode_json(_clean(body)) if body is not None else b""

        retrying = Retrying(
            stop=self._stop,
            wait=self._wait,
            retry=retry_if_exception(lambda exc: isinstance(exc, TRANSIENT_ERRORS)),
            before_sleep=self._log_retry,
            sleep=self._sleep,
            reraise=True,
        )
        return retrying(self._send, op, url, content, _clean(headers or {}))

    def _send(self, op: Operation, url: str, content: bytes, extra: Mapping[str, str] | None = None) -> Any:
        """One attempt: wait for the rate limiter, sign, send, and map the outcome."""
        self.limiter.acquire(op.name)
        headers = {"Content-Type": "application/json", "Host": self._host, "X-Domain-Id": self.domain_id}
        headers.update(extra or {})
        headers.update(
            signer.sign_request(op.method, url, headers, content, self.ak, self._sk, self._clock())
        )
        started = time.perf_counter()
        try:
            response = self._http.request(op.method, url, content=content or None, headers=headers)
        except httpx.TransportError as exc:
            elapsed_ms = (time.perf_counter() - started) * 1000
            logger.debug(
                "upstream %s %s: %s after %.0f ms", op.name, op.method, type(exc).__name__, elapsed_ms
            )
            raise self._transport_error(op, exc) from exc
        elapsed_ms = (time.perf_counter() - started) * 1000
        request_id = response.headers.get("X-Request-Id")
        logger.debug(
            "upstream %s %s -> %s in %.0f ms (request id %s)",
            op.name,
            op.method,
            response.status_code,
            elapsed_ms,
            request_id,
        )
        if not response.is_success:
            raise self._status_error(op, response, request_id)
        try:
            data = decode_json(response.content)
        except ValueError as exc:
            if op.write:
                raise OutcomeUnknown(
                    status=response.status_code, request_id=request_id, operation=op.name
                ) from exc
            raise InvalidResponse(
                status=response.status_code, request_id=request_id, operation=op.name
            ) from exc
        # Legacy and batch APIs report business errors in a 200 body; v2 does not, but be safe.
        if isinstance(data, Mapping) and data.get("error_code") not in (None, "", "CBC.0000"):
            raise self._coded_error(
                op,
                error_class_for(response.status_code, data["error_code"]),
                error_code=data["error_code"],
                error_msg=data.get("error_msg"),
                status=response.status_code,
                request_id=request_id,
            )
        return data

    @staticmethod
    def _transport_error(op: Operation, exc: httpx.TransportError) -> UpstreamError:
        never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
        if op.write and not never_sent:
            return OutcomeUnknown(error_msg=f"{type(exc).__name__}: {exc}", operation=op.name)
        return UpstreamUnavailable(error_msg=f"{type(exc).__name__}: {exc}", operation=op.name)

    @staticmethod
    def _status_error(op: Operation, response: httpx.Response, request_id: str | None) -> UpstreamError:
        status = response.status_code
        error_code = error_msg = None
        try:
            payload = decode_json(response.content)
        except ValueError:
            payload = None
        if isinstance(payload, Mapping):
            error_code = payload.get("error_code")
            error_msg = payload.get("error_msg")
        elif response.content:
            error_msg = response.text[:500]
        details = {
            "error_code": error_code,
            "error_msg": error_msg,
            "status": status,
            "request_id": request_id,
        }
        if status == 429:
            retry_after = _parse_retry_after(response.headers.get("Retry-After"))
            return RateLimited(retry_after=retry_after, operation=op.name, **details)
        if status >= 500:
            if op.write:
                unknown = ERRORS_BY_CODE.get(error_code or "")  # e.g. CBC.99000050 names what to check
                if unknown is None or not issubclass(unknown, OutcomeUnknown):
                    unknown = OutcomeUnknown
                return unknown(operation=op.name, **details)
            return UpstreamServerError(operation=op.name, **details)
        if status == 401:
            return AuthenticationFailed(operation=op.name, **details)
        return UpstreamClient._coded_error(op, error_class_for(status, error_code), **details)

    @staticmethod
    def _coded_error(op: Operation, cls: type[UpstreamError], **details: Any) -> UpstreamError:
        # A server-side failure on a write leaves its outcome unknown: never let it be retried.
        if op.write and issubclass(cls, UpstreamUnavailable):
            return OutcomeUnknown(operation=op.name, **details)
        return cls(operation=op.name, **details)

    def _wait(self, state: Any) -> float:
        exc = state.outcome.exception()
        if isinstance(exc, RateLimited):
            if exc.retry_after is not None:
                return exc.retry_after
            low, high = self.retry.rate_limited_wait
            return random.uniform(low, high)
        backoff = wait_exponential_jitter(
            multiplier=self.retry.backoff_initial,
            max=self.retry.backoff_max,
            jitter=self.retry.backoff_initial,
        )
        return backoff(state)

    def _stop(self, state: Any) -> bool:
        if state.attempt_number >= self.retry.attempts:
            return True
        exc = state.outcome.exception()
        return (
            isinstance(exc, RateLimited)
            and exc.retry_after is not None
            and exc.retry_after > self.retry.max_retry_after
        )

    @staticmethod
    def _log_retry(state: Any) -> None:
        exc = state.outcome.exception()
        wait = state.next_action.sleep if state.next_action else 0
        logger.info(
            "upstream %s: attempt %d failed (%s); retrying in %.2f s",
            getattr(exc, "operation", "?"),
            state.attempt_number,
            exc.__class__.__name__,
            wait,
        )

    def _page(
        self,
        data: Any,
        items_key: str,
        parse: Callable[[Mapping[str, Any]], T],
        offset: int,
        limit: int | None,
        total_key: str = "total_count",
    ) -> Page[T]:
        # A page of another partner's records may come back as an empty body (ListPartnerAdjustRecords).
        data = data or {}
        if not isinstance(data, Mapping):
            raise InvalidResponse(error_msg=f"expected an object with {items_key}")
        rows = data.get(items_key) or []
        items = tuple(self._parse(items_key, parse, row) for row in rows)
        total = data.get(total_key)
        return Page(
            total=int(total) if total is not None else len(items),
            items=items,
            offset=offset,
            limit=limit,
            raw=data,
        )

    @staticmethod
    def _parse(what: str, parse: Callable[[Mapping[str, Any]], T], row: Any) -> T:
        if not isinstance(row, Mapping):
            raise InvalidResponse(error_msg=f"{what}: expected an object, got {type(row).__name__}")
        try:
            return parse(row)
        except (TypeError, ValueError, ArithmeticError) as exc:
            raise InvalidResponse(error_msg=f"{what}: {exc}") from exc

    def _transfer(self, data: Any, key: str, operation: str) -> Transfer:
        transaction_id = data.get(key) if isinstance(data, Mapping) else None
        if not transaction_id:
            raise self._unreadable_write(operation, key)
        return Transfer(transaction_id=str(transaction_id), raw=data)

    @staticmethod
    def _unreadable_write(operation: str, key: str) -> OutcomeUnknown:
        # The change was accepted but its id is missing: reconcile as after a timeout.
        return OutcomeUnknown(error_msg=f"the response has no {key}", operation=operation)
