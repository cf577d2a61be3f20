"""Operations of the billing app across models: fund adjustments (allocate and reclaim), partner discounts
and dedicated offers."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import audit
from accounts.models import Partner
from billing.models import (
    MONEY,
    Adjustment,
    AdjustmentBatch,
    AdjustRecord,
    ApprovalPolicy,
    BalanceSnapshot,
    CustomerAccount,
    DedicatedOffer,
    PartnerAccount,
    PartnerDiscount,
    ReconciliationNote,
)
from customers.models import Customer
from portal.lib.masking import mask
from portal.lib.money import CENT, MoneyError, money_str, parse_decimal, parse_money, to_money
from portal.lib.text import db_text

logger = logging.getLogger(__name__)

# Outbox command kinds (handlers in billing/outbox.py).
ALLOCATE = "billing.allocate"
RECLAIM = "billing.reclaim"
ALLOCATE_RESELLER = "billing.allocate_reseller"
RECLAIM_RESELLER = "billing.reclaim_reseller"

MAX_AMOUNT = Decimal(10) ** (MONEY["max_digits"] - MONEY["decimal_places"]) - CENT
MEMO_MAX = Adjustment._meta.get_field("memo").max_length


def clean_amount(value) -> Decimal:
    """An amount of money from a form or a caller: a Decimal > 0 with at most 2 places (never a float)."""
    try:
        amount = parse_money(value)
    except TypeError:
        raise ValidationError(
            _("Enter the amount as a decimal number, not a float."), code="invalid_amount"
        ) from None
    except MoneyError as error:
        if error.code == "too_precise":
            raise ValidationError(
                _("The amount can have at most 2 decimal places (fen)."), code="amount_too_precise"
            ) from None
        raise ValidationError(_("Enter a valid amount, e.g. 100.00."), code="invalid_amount") from None
    if amount <= 0:
        raise ValidationError(_("The amount must be greater than zero."), code="amount_not_positive")
    if amount > MAX_AMOUNT:
        raise ValidationError(_("The amount is too large."), code="amount_too_large")
    return amount


def _open_sum(queryset) -> Decimal:
    return queryset.filter(status__in=Adjustment.OPEN_STATUSES).aggregate(s=Sum("amount"))["s"] or Decimal(0)


def _balance_account(partner: Partner) -> PartnerAccount:
    """The partner's balance account (type 1), locked until the end of the transaction."""
    account = (
        PartnerAccount.objects.select_for_update()
        .filter(partner=partner, account_type=PartnerAccount.AccountType.BALANCE)
        .first()
    )
    if account is None:
        raise ValidationError(
            _("The balance of %(partner)s is not known yet; try again after the next balance sync."),
            code="no_balance",
            params={"partner": partner},
        )
    return account


def available_to_allocate(partner: Partner, account: PartnerAccount | None = None) -> Decimal:
    """What the partner may still allocate: balance − designated − its allocations not yet through."""
    account = account or PartnerAccount.objects.get(
        partner=partner, account_type=PartnerAccount.AccountType.BALANCE
    )
    pending = _open_sum(Adjustment.objects.filter(partner=partner, kind=Adjustment.Kind.ALLOCATE))
    return account.amount - account.designated_amount - pending


def _check_customer(partner: Partner, customer: Customer) -> None:
    # The partner whose money moves is the customer's own (a distributor acting for a reseller passes the
    # reseller); any other tenant's customer is refused.
    if customer.partner_id != partner.pk:
        raise ValidationError(
            _("This customer is not one of %(partner)s's customers."),
            code="other_partner",
            params={"partner": partner},
        )
    if not customer.is_associated:
        raise ValidationError(_("This customer is no longer associated."), code="disassociated")
    if not customer.is_resale:
        raise ValidationError(
            _("Funds can only be allocated to or reclaimed from resale customers."), code="not_resale"
        )


def _check_reseller(partner: Partner, reseller: Partner) -> None:
    if not partner.is_distributor:
        raise ValidationError(
            _("Only a distributor can allocate funds to or reclaim funds from a reseller."),
            code="not_distributor",
        )
    if not reseller.is_reseller or reseller.parent_id != partner.pk:
        raise ValidationError(_("This reseller is not one of yours."), code="other_reseller")


def _validate_funds(
    *,
    partner: Partner,
    kind: str,
    amount: Decimal,
    customer: Customer | None,
    reseller: Partner | None,
    recorded: Decimal = Decimal(0),
) -> None:
    """Refuse an amount beyond what is available, with the account row locked until the end of the
    transaction. `recorded`: this request's own amount, already written in this transaction and so already
    counted among the open adjustments (added back to say what was available before it)."""
    if kind == Adjustment.Kind.ALLOCATE:
        available = available_to_allocate(partner, _balance_account(partner)) + recorded
        if amount > available:
            raise ValidationError(
                _(
                    "The amount is more than the available balance (%(available)s CNY: balance minus the "
                    "designated amount and the allocations still in progress)."
                ),
                code="insufficient_balance",
                params={"available": to_money(max(available, Decimal(0)))},
            )
        return
    if customer is not None:
        account = CustomerAccount.objects.select_for_update().filter(customer=customer).first()
        if account is None:
            raise ValidationError(
                _("The customer's balance is not known yet; try again after the next balance sync."),
                code="no_balance",
            )
        available = customer_reclaimable(customer, account) + recorded
    else:
        available = reseller_reclaimable(reseller, _balance_account(reseller)) + recorded
    if amount > available:
        raise ValidationError(
            _("The amount is more than the available amount of the account (%(available)s CNY)."),
            code="insufficient_balance",
            params={"available": to_money(max(available, Decimal(0)))},
        )


def customer_reclaimable(customer: Customer, account: CustomerAccount) -> Decimal:
    """What may be reclaimed from a customer: its account's amount less its reclaims still open."""
    return account.amount - _open_sum(
        Adjustment.objects.filter(customer=customer, kind=Adjustment.Kind.RECLAIM)
    )


def reseller_reclaimable(reseller: Partner, account: PartnerAccount) -> Decimal:
    """What a distributor may reclaim from a reseller: its balance less the reclaims from it and its own
    allocations still open."""
    pending = _open_sum(Adjustment.objects.filter(reseller=reseller, kind=Adjustment.Kind.RECLAIM))
    spending = _open_sum(Adjustment.objects.filter(partner=reseller, kind=Adjustment.Kind.ALLOCATE))
    return account.amount - pending - spending


def _command(adjustment: Adjustment) -> tuple[str, dict]:
    """The outbox kind and payload (the upstream call's parameters; money as a string)."""
    payload: dict = {"adjustment_id": adjustment.pk, "amount": money_str(adjustment.amount)}
    if adjustment.customer_id:
        payload["customer_id"] = adjustment.customer.customer_id
        payload["indirect_partner_id"] = adjustment.partner.indirect_partner_id
        kind = ALLOCATE if adjustment.kind == Adjustment.Kind.ALLOCATE else RECLAIM
    else:
        payload["indirect_partner_id"] = adjustment.reseller.upstream_id
        kind = ALLOCATE_RESELLER if adjustment.kind == Adjustment.Kind.ALLOCATE else RECLAIM_RESELLER
    return kind, payload


def request_adjustment(
    *,
    partner: Partner,
    kind: str,
    amount,
    customer: Customer | None = None,
    reseller: Partner | None = None,
    memo: str = "",
    requested_by=None,
    form_token: str | None = None,
    batch: AdjustmentBatch | None = None,
) -> Adjustment:
    """Ask for an allocation or reclaim: validate, write the Adjustment and its outbox command together.

    `partner` is the partner whose money moves (the customer's partner; the distributor for a reseller).
    Bad input raises ValidationError and changes nothing; a form token seen before returns that adjustment.
    """
    from upstream.outbox import enqueue

    form_token = form_token or None
    with transaction.atomic():
        if form_token:
            existing = Adjustment.objects.filter(form_token=form_token).first()
            if existing is not None:
                return _same_request(existing, partner)
        if kind not in Adjustment.Kind.values:
            raise ValidationError(_("Choose allocate or reclaim."), code="invalid_kind")
        amount = clean_amount(amount)
        memo = (memo or "").strip()
        if len(memo) > MEMO_MAX:
            raise ValidationError(
                _("The memo can have at most %(max)d characters."),
                code="memo_too_long",
                params={"max": MEMO_MAX},
            )
        if (customer is None) == (reseller is None):
            raise ValidationError(_("Choose either a customer or a reseller."), code="no_counterparty")
        if customer is not None:
            _check_customer(partner, customer)
        else:
            _check_reseller(partner, reseller)
        # The account row is locked last (in _validate_funds, below): concurrent requests of one partner
        # queue on it only for the balance check and the commit, not for the inserts before it.
        try:
            with transaction.atomic():
                adjustment = Adjustment.objects.create(
                    partner=partner,
                    customer=customer,
                    reseller=reseller,
                    kind=kind,
                    amount=amount,
                    memo=memo,
                    requested_by=requested_by,
                    form_token=form_token,
                    batch=batch,
                    status=_first_status(requested_by, amount),
                )
        except IntegrityError:
            # The same form submitted twice at once: the other submit has committed its adjustment.
            existing = Adjustment.objects.filter(form_token=form_token).first() if form_token else None
            if existing is None:
                raise
            return _same_request(existing, partner)
        if adjustment.status == Adjustment.Status.PENDING:  # else it waits for a second person
            command_kind, payload = _command(adjustment)
            enqueue(command_kind, payload, partner_key=partner.upstream_id, obj=adjustment)
        # The owning partner's audit log: the counterparty's (or, for a reseller, the distributor's).
        audit.record(
            "adjustment_requested",
            actor=requested_by,
            partner=getattr(requested_by, "partner", None) or partner,
            owner_partner=partner,
            target=adjustment,
            target_label=adjustment.audit_label,
            summary=f"{adjustment.kind} {money_str(amount)}",
            data={"kind_label": adjustment.get_kind_display(), "amount": money_str(amount)},
        )
        # Checked after the writes, under the account's row lock: the new adjustment is open, so it is counted
        # with every other open one (committed by whoever held the lock before); a refusal rolls it all back.
        _validate_funds(
            partner=partner, kind=kind, amount=amount, customer=customer, reseller=reseller, recorded=amount
        )
    return adjustment


def _first_status(requested_by, amount: Decimal) -> str:
    """Maker-checker: above the requesting partner's approval threshold, an adjustment waits for approval."""
    threshold = ApprovalPolicy.threshold_for(getattr(requested_by, "partner", None))
    if threshold is not None and amount > threshold:
        return Adjustment.Status.AWAITING
    return Adjustment.Status.PENDING


def decide_adjustment(adjustment: Adjustment, *, user, approve: bool, reason: str = "") -> Adjustment:
    """A second finance user or admin approves (→ pending, sent by the outbox) or rejects an adjustment that
    waits for approval. The requester cannot decide their own; the decision is audited."""
    from upstream.outbox import enqueue

    reason = (reason or "").strip()
    if not approve and not reason:
        raise ValidationError(_("Say why the adjustment is rejected."), code="no_reason")
    with transaction.atomic():
        adjustment = (
            Adjustment.objects.select_for_update(of=("self",))
            .select_related("requested_by")
            .get(pk=adjustment.pk)
        )
        if adjustment.status != Adjustment.Status.AWAITING:
            raise ValidationError(
                _("This adjustment is no longer waiting for approval."), code="not_awaiting"
            )
        if not adjustment.may_be_decided_by(user):
            raise ValidationError(
                _("Another finance user or admin of the requester's partner decides it, not the requester."),
                code="same_person",
            )
        if approve:
            adjustment.approve(user)
            command_kind, payload = _command(adjustment)
            enqueue(command_kind, payload, partner_key=adjustment.partner.upstream_id, obj=adjustment)
        else:
            adjustment.reject(user, reason)
        audit.record(
            "adjustment_approved" if approve else "adjustment_rejected",
            actor=user,
            owner_partner=adjustment.partner,
            target=adjustment,
            target_label=adjustment.audit_label,
            summary=f"{adjustment.kind} {money_str(adjustment.amount)} {reason}"[:200],
            data={"amount": money_str(adjustment.amount), "reason": reason[:200]},
        )
    return adjustment


def set_approval_threshold(*, partner: Partner, value, user) -> ApprovalPolicy:
    """Turn maker-checker on (a threshold > 0) or off (empty); audited as a partner settings change."""
    threshold = (
        None if value in (None, "") or (isinstance(value, str) and not value.strip()) else clean_amount(value)
    )
    policy, _created = ApprovalPolicy.objects.update_or_create(
        partner=partner, defaults={"approval_threshold": threshold, "updated_at": timezone.now()}
    )
    audit.record(
        "approval_threshold_changed",
        actor=user,
        owner_partner=partner,
        target_label=partner.name,
        summary=f"threshold {money_str(threshold) if threshold is not None else 'off'}",
        data={"threshold": money_str(threshold) if threshold is not None else "—"},
    )
    return policy


def _same_request(existing: Adjustment, partner: Partner) -> Adjustment:
    if existing.partner_id != partner.pk:
        raise ValidationError(_("This form has already been used; reload the page."), code="token_used")
    return existing


# --- discounts: partner-granted discounts and dedicated offers ----------------------------------------------

SET_DISCOUNT = "billing.set_partner_discount"
CREATE_OFFER = "billing.create_dedicated_offer"
INVALIDATE_OFFER = "billing.invalidate_dedicated_offer"

RATE_PLACES = 4  # the upstream takes a discount with at most 4 decimal places
# A new discount's effective time may be this much in the past: the time it takes to fill in the form.
EFFECTIVE_GRACE = timedelta(minutes=5)
BULK_DISCOUNT_MAX = 100
OFFER_NAME_MAX = 64  # the upstream's limit
OFFER_PRODUCTS_MAX = 20
PRODUCT_ID_MAX = 64
REASON_MAX = 500


def rate_range() -> tuple[Decimal, Decimal]:
    """The rates a partner may grant (settings PARTNER_DISCOUNT_MIN / _MAX)."""
    return settings.PARTNER_DISCOUNT_MIN, settings.PARTNER_DISCOUNT_MAX


def clean_rate(value) -> Decimal:
    """A discount rate from a form or a caller: a Decimal in the allowed range with at most 4 places."""
    low, high = rate_range()
    try:
        rate = parse_decimal(value)
    except TypeError:
        raise ValidationError(
            _("Enter the rate as a decimal number, not a float."), code="invalid_rate"
        ) from None
    except MoneyError:
        rate = None
    if rate is None:
        raise ValidationError(_("Enter a discount rate such as 0.85 (15% off)."), code="invalid_rate")
    if -rate.normalize().as_tuple().exponent > RATE_PLACES:
        raise ValidationError(_("The rate can have at most 4 decimal places."), code="rate_too_precise")
    if not low <= rate <= high:
        raise ValidationError(
            _("The rate must be between %(low)s and %(high)s."),
            code="rate_out_of_range",
            params={"low": low, "high": high},
        )
    return Decimal(format(rate, f".{RATE_PLACES}f"))  # exact: at most RATE_PLACES places, checked above


def _whole_seconds(value: datetime) -> datetime:
    """Times go upstream to the second: keep them so, so that a look-up compares like with like."""
    return value.replace(microsecond=0)


def _check_validity(effective_time, expire_time, *, new: bool, current=None) -> tuple[datetime, datetime]:
    if effective_time is None or expire_time is None:
        raise ValidationError(_("Enter both the effective time and the expiry time."), code="no_time")
    effective_time, expire_time = _whole_seconds(effective_time), _whole_seconds(expire_time)
    if expire_time <= effective_time:
        raise ValidationError(_("The expiry time must be after the effective time."), code="expiry_before")
    now = timezone.now()
    unchanged = current is not None and current.effective_time == effective_time
    if effective_time < now - EFFECTIVE_GRACE and (new or not unchanged):
        raise ValidationError(_("The effective time cannot be in the past."), code="effective_in_past")
    if expire_time <= now:
        raise ValidationError(_("The expiry time must be in the future."), code="expiry_in_past")
    return effective_time, expire_time


def check_discountable(customer: Customer) -> None:
    """Refuse customers the platform does not let a partner grant a discount to, with the reason."""
    if not customer.is_associated:
        raise ValidationError(_("This customer is no longer associated."), code="disassociated")
    if customer.is_resale:
        # The platform refuses SetPartnerDiscount for resale (代售) customers (CBC.5024).
        raise ValidationError(
            _("The cloud platform does not allow partner discounts for resale customers."), code="resale"
        )


def _discount_payload(discount: PartnerDiscount) -> dict:
    return {
        "discount_pk": discount.pk,
        "revision": discount.revision,
        "customer_id": discount.customer.customer_id,
        "indirect_partner_id": discount.partner.indirect_partner_id,
        "discount": str(discount.rate),
        "effective_time": discount.effective_time.isoformat(),
        "expire_time": discount.expire_time.isoformat(),
    }


def set_partner_discount(
    *, customer: Customer, rate, effective_time, expire_time, requested_by=None
) -> PartnerDiscount:
    """Set or change one customer's partner discount and push it upstream (outbox), in one transaction.

    Bad input raises ValidationError and changes nothing. The caller has checked the user sees the customer.
    """
    from upstream.outbox import enqueue

    rate = clean_rate(rate)
    with transaction.atomic():
        customer = Customer.objects.select_for_update().select_related("partner").get(pk=customer.pk)
        check_discountable(customer)
        discount = PartnerDiscount.objects.select_for_update().filter(customer=customer).first()
        effective_time, expire_time = _check_validity(
            effective_time, expire_time, new=discount is None, current=discount
        )
        if discount is None:
            discount = PartnerDiscount(partner=customer.partner, customer=customer)
            discount.change(
                rate=rate, effective_time=effective_time, expire_time=expire_time, by=requested_by
            )
            discount.save()
        else:
            discount.change(
                rate=rate, effective_time=effective_time, expire_time=expire_time, by=requested_by
            )
            discount.save()
        discount.customer = customer
        enqueue(
            SET_DISCOUNT, _discount_payload(discount), partner_key=customer.partner.upstream_id, obj=discount
        )
        audit.record(
            "partner_discount_set",
            actor=requested_by,
            target=customer,
            target_label=mask("name", customer.name) or customer.customer_id,
            summary=f"{customer.customer_id}: {rate}",
            data={
                "rate": str(rate),
                "effective_time": effective_time.isoformat(),
                "expire_time": expire_time.isoformat(),
            },
        )
    return discount


@dataclass
class BulkResult:
    """One customer's outcome of a bulk set: the discount, or the reason it was refused."""

    customer: Customer
    discount: PartnerDiscount | None = None
    error: str = ""


def set_partner_discounts(
    *, customers, rate, effective_time, expire_time, requested_by=None
) -> list[BulkResult]:
    """Set the same discount for several customers, each on its own (one refusal does not stop the rest)."""
    results = []
    for customer in list(customers)[:BULK_DISCOUNT_MAX]:
        try:
            discount = set_partner_discount(
                customer=customer,
                rate=rate,
                effective_time=effective_time,
                expire_time=expire_time,
                requested_by=requested_by,
            )
        except ValidationError as error:
            results.append(BulkResult(customer, error=" ".join(error.messages)))
        else:
            results.append(BulkResult(customer, discount=discount))
    return results


def apply_discount_success(payload: dict) -> None:
    """The upstream took the discount of `payload` (an older revision than the row's is a stale answer)."""
    discount = PartnerDiscount.objects.select_for_update().filter(pk=payload["discount_pk"]).first()
    if discount is None or discount.revision != payload["revision"]:
        return
    if discount.push_status == PartnerDiscount.Push.PENDING:
        discount.mark_applied()
        transaction.on_commit(partial(_notify_set, discount.pk), robust=True)


def _notify_set(discount_pk: int) -> None:
    from billing.tasks import notify_discount_set

    try:
        notify_discount_set.delay(discount_pk)
    except Exception:
        logger.warning("discounts: could not queue the email for discount #%s", discount_pk, exc_info=True)


def apply_discount_failure(payload: dict, message: str) -> None:
    discount = PartnerDiscount.objects.select_for_update().filter(pk=payload["discount_pk"]).first()
    if discount is None or discount.revision != payload["revision"]:
        return
    if discount.push_status == PartnerDiscount.Push.PENDING:
        discount.mark_refused(message)
        audit.record(
            "partner_discount_refused",
            partner=discount.partner,
            target=discount.customer,
            target_label=mask("name", discount.customer.name) or discount.customer.customer_id,
            summary=f"{discount.customer.customer_id}: {message}"[:200],
            data={"error": message},
        )


EXAMPLE_LIST_PRICE = Decimal("1000.00")  # the price effect is shown on this list price


def price_after(rate: Decimal, list_price: Decimal = EXAMPLE_LIST_PRICE) -> Decimal:
    """What a list price costs at a rate, in fen (half up)."""
    return to_money(list_price * rate)


def effective_rate(partner_rate: Decimal | None, commercial_rates) -> Decimal | None:
    """The rate a customer pays when a partner discount and commercial discounts apply at once.

    Rule implemented: discounts do not stack; the lowest rate in force applies (the best price for the
    customer). Source: the platform groups partner and commercial discounts as one "authorized discount"
    (授权折扣) and an order line carries one of them; no public document
    states the combination, so this is the portal's assumption (listed in docs as an open question).
    """
    rates = [r for r in [partner_rate, *commercial_rates] if r is not None]
    return min(rates) if rates else None


# --- dedicated offers ---------------------------------------------------------------------------------------


def parse_product_ids(value) -> list[str]:
    """Product ids from a form (comma, space or newline separated) or a list: 1–20, each ≤64 characters."""
    if isinstance(value, str):
        items = [p.strip() for p in value.replace("\n", ",").replace(" ", ",").split(",")]
    else:
        items = [str(p).strip() for p in value or []]
    products = list(dict.fromkeys(p for p in items if p))
    if not products:
        raise ValidationError(_("Enter at least one product ID."), code="no_products")
    if len(products) > OFFER_PRODUCTS_MAX:
        raise ValidationError(
            _("An offer can name at most %(max)d products."),
            code="too_many_products",
            params={"max": OFFER_PRODUCTS_MAX},
        )
    if any(len(p) > PRODUCT_ID_MAX for p in products):
        raise ValidationError(
            _("A product ID can have at most %(max)d characters."),
            code="product_too_long",
            params={"max": PRODUCT_ID_MAX},
        )
    return products


def _name_taken() -> ValidationError:
    return ValidationError(
        _("An offer with this name already exists; choose another name."), code="name_taken"
    )


def create_dedicated_offer(
    *, customer: Customer, name: str, product_ids, effective_time, expire_time, requested_by=None
) -> DedicatedOffer:
    """Create a dedicated offer for one customer's account and push it upstream (outbox).

    The name is unique per partner, also when two people create the same name at once (the database
    constraint decides: one offer, the other gets the message).
    """
    from upstream.outbox import enqueue

    name = " ".join((name or "").split())
    if not name:
        raise ValidationError(_("Enter a name for the offer."), code="no_name")
    if len(name) > OFFER_NAME_MAX:
        raise ValidationError(
            _("The name can have at most %(max)d characters."),
            code="name_too_long",
            params={"max": OFFER_NAME_MAX},
        )
    products = parse_product_ids(product_ids)
    if effective_time is None or expire_time is None:
        raise ValidationError(_("Enter both the effective time and the expiry time."), code="no_time")
    effective_time, expire_time = _whole_seconds(effective_time), _whole_seconds(expire_time)
    if expire_time <= effective_time:
        raise ValidationError(_("The expiry time must be after the effective time."), code="expiry_before")
    if expire_time <= timezone.now():
        raise ValidationError(_("The expiry time must be in the future."), code="expiry_in_past")
    if not customer.is_associated:
        raise ValidationError(_("This customer is no longer associated."), code="disassociated")
    if not customer.account_name:
        raise ValidationError(
            _("This customer has no account name yet; try after the next sync."), code="no_account"
        )
    partner = customer.partner
    with transaction.atomic():
        if (
            DedicatedOffer.objects.filter(partner=partner, name=name)
            .exclude(status=DedicatedOffer.Status.CREATE_FAILED)
            .exists()
        ):
            raise _name_taken()
        try:
            with transaction.atomic():
                offer = DedicatedOffer.objects.create(
                    partner=partner,
                    name=name,
                    customer=customer,
                    customer_account_name=customer.account_name,
                    product_ids=products,
                    effective_time=effective_time,
                    expire_time=expire_time,
                    status=DedicatedOffer.Status.CREATING,
                    requested_by=requested_by,
                )
        except IntegrityError:
            raise _name_taken() from None
        enqueue(
            CREATE_OFFER,
            {
                "offer_pk": offer.pk,
                "name": name,
                "customer_id": customer.customer_id,
                "customer_account_name": customer.account_name,
                "product_ids": products,
                "effective_time": effective_time.isoformat(),
                "expire_time": expire_time.isoformat(),
                "indirect_partner_id": partner.indirect_partner_id,
            },
            partner_key=partner.upstream_id,
            obj=offer,
        )
        audit.record(
            "dedicated_offer_created",
            actor=requested_by,
            partner=getattr(requested_by, "partner", None),
            owner_partner=partner,
            target=offer,
            target_label=name,
            summary=name,
            data={"name": name},
        )
    return offer


def invalidate_dedicated_offer(*, offer: DedicatedOffer, reason: str, requested_by=None) -> DedicatedOffer:
    """Ask the upstream to invalidate an active offer (outbox); it shows "invalidating…" until confirmed."""
    from upstream.outbox import enqueue

    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationError(_("Enter the reason for invalidating the offer."), code="no_reason")
    if len(reason) > REASON_MAX:
        raise ValidationError(
            _("The reason can have at most %(max)d characters."),
            code="reason_too_long",
            params={"max": REASON_MAX},
        )
    # An offer past its expiry is expired (kept even though the request is then refused), not invalidated.
    expire_offers(queryset=DedicatedOffer.objects.filter(pk=offer.pk))
    with transaction.atomic():
        offer = (
            DedicatedOffer.objects.select_for_update(of=("self",))
            .select_related("partner", "customer")
            .get(pk=offer.pk)
        )
        if offer.is_invalidating:
            raise ValidationError(_("This offer is already being invalidated."), code="invalidating")
        if offer.status != DedicatedOffer.Status.ACTIVE:
            raise ValidationError(
                _("Only an active offer can be invalidated; this one is %(status)s."),
                code="not_active",
                params={"status": offer.get_status_display()},
            )
        offer.request_invalidation(reason, by=requested_by)
        enqueue(
            INVALIDATE_OFFER,
            {
                "offer_pk": offer.pk,
                "offer_id": offer.offer_id,
                "customer_id": offer.customer.customer_id if offer.customer_id else None,
                "reason": reason,
                "indirect_partner_id": offer.partner.indirect_partner_id,
            },
            partner_key=offer.partner.upstream_id,
            obj=offer,
        )
        audit.record(
            "dedicated_offer_invalidated",
            actor=requested_by,
            partner=getattr(requested_by, "partner", None),
            owner_partner=offer.partner,
            target=offer,
            target_label=offer.name,
            summary=f"{offer.name}: {reason}"[:200],
            data={"reason": reason},
        )
    return offer


def expire_offers(now=None, queryset=None) -> int:
    """Active offers past their expiry time become expired (a conditional update: safe to run twice).

    An offer waiting for its invalidation to be confirmed expires too; if the upstream then confirms the
    invalidation, the outbox makes it invalidated (billing/outbox.py).
    """
    now = now or timezone.now()
    queryset = DedicatedOffer.objects.all() if queryset is None else queryset
    return queryset.filter(status=DedicatedOffer.Status.ACTIVE, expire_time__lte=now).update(
        status=DedicatedOffer.Status.EXPIRED, invalidation_requested_at=None, updated_at=now
    )


# --- the preview of one adjustment (nothing locked, nothing written) -------------------------------------


@dataclass(frozen=True)
class Tier:
    """One account an adjustment touches: whose, its available amount now, and after the adjustment."""

    label: str
    before: Decimal | None
    after: Decimal | None
    role: str  # "acting" (a distributor acting for its reseller: unchanged), "partner", "customer"

    @property
    def overdrawn(self) -> bool:
        return self.after is not None and self.after < 0


def preview_adjustment(
    *,
    acting_partner: Partner,
    kind: str,
    amount: Decimal,
    customer: Customer | None = None,
    reseller: Partner | None = None,
) -> list[Tier]:
    """Each account the adjustment moves, before → after, as the form shows it before submitting.

    The paying partner's available amount is balance − designated − its allocations still in progress (the
    same sum request_adjustment checks, without its lock). A customer's is its account's amount − its
    reclaims in progress; a reseller's, its balance − reclaims from it − its own allocations in progress.
    A distributor acting for a reseller's customer sees its own account too, unchanged: the reseller's
    account pays (indirect_partner_id).
    """
    sign = Decimal(-1) if kind == Adjustment.Kind.ALLOCATE else Decimal(1)
    payer = customer.partner if customer is not None else acting_partner
    tiers = []
    if payer.pk != acting_partner.pk:
        own = _known_available(acting_partner)
        tiers.append(Tier(acting_partner.name, own, own, "acting"))
    available = _known_available(payer)
    tiers.append(
        Tier(payer.name, available, None if available is None else available + sign * amount, "partner")
    )
    if customer is not None:
        account = CustomerAccount.objects.filter(customer=customer).first()
        held = None if account is None else customer_reclaimable(customer, account)
        tiers.append(
            Tier(customer.customer_id, held, None if held is None else held - sign * amount, "customer")
        )
    else:
        held = _reseller_holds(reseller)
        tiers.append(Tier(reseller.name, held, None if held is None else held - sign * amount, "reseller"))
    return tiers


def _reseller_holds(reseller: Partner) -> Decimal | None:
    account = PartnerAccount.objects.filter(
        partner=reseller, account_type=PartnerAccount.AccountType.BALANCE
    ).first()
    return None if account is None else reseller_reclaimable(reseller, account)


def _known_available(partner: Partner) -> Decimal | None:
    account = PartnerAccount.objects.filter(
        partner=partner, account_type=PartnerAccount.AccountType.BALANCE
    ).first()
    return None if account is None else available_to_allocate(partner, account)


# --- batches (批量拨款 / 批量回收) --------------------------------------------------------------------------

BATCH_MAX_ROWS = 1000


@dataclass
class BatchRow:
    """One row of a batch as checked: what was asked, the customer it names, and why it is refused (if so)."""

    line: int
    customer_id: str
    amount_text: str
    memo: str
    customer: Customer | None = None
    amount: Decimal | None = None
    error: str = ""

    @property
    def valid(self) -> bool:
        return not self.error


def parse_batch_csv(text: str) -> list[tuple[int, list[str]]]:
    """The rows of a batch CSV (customer_id, amount, memo), with their line numbers; a header is skipped."""
    import csv
    import io

    rows = []
    for line, cells in enumerate(csv.reader(io.StringIO(text.lstrip("\ufeff"))), start=1):
        cells = [cell.strip() for cell in cells]
        if not any(cells):
            continue
        if not rows and cells[0].lower() in ("customer_id", "客户id", "客户 id"):
            continue
        rows.append((line, cells))
    return rows


def check_batch(*, acting_partner: Partner, visible_customers, kind: str, text: str) -> list[BatchRow]:
    """Each row of a batch, checked as request_adjustment will check it (without its locks): the customer
    exists among those the user sees, is resale and associated; the amount is one; a reclaim stays within the
    customer's available amount, and allocations within their partner's available balance, counting the
    earlier rows of the batch. A constant number of queries, whatever the number of rows.
    """
    parsed = parse_batch_csv(text)
    if len(parsed) > BATCH_MAX_ROWS:
        raise ValidationError(
            _("A batch can have at most %(max)d rows; this one has %(count)d."),
            code="batch_too_long",
            params={"max": BATCH_MAX_ROWS, "count": len(parsed)},
        )
    if not parsed:
        raise ValidationError(_("The batch has no rows."), code="batch_empty")
    rows = [
        BatchRow(line, cells[0], cells[1] if len(cells) > 1 else "", cells[2] if len(cells) > 2 else "")
        for line, cells in parsed
    ]
    customers = {
        c.customer_id: c
        for c in visible_customers.filter(customer_id__in={row.customer_id for row in rows}).select_related(
            "partner"
        )
    }
    held = _customer_holds([c.pk for c in customers.values()])
    payers = {c.partner_id: c.partner for c in customers.values()}
    available = (
        {pk: _known_available(partner) for pk, partner in payers.items()} if kind == "allocate" else {}
    )
    for row in rows:
        customer = customers.get(row.customer_id)
        if customer is None:
            row.error = str(_("Unknown customer: not one of the customers you see."))
            continue
        row.customer = customer
        try:
            _check_customer(customer.partner, customer)
            row.amount = clean_amount(row.amount_text)
            if len(row.memo) > MEMO_MAX:
                raise ValidationError(
                    _("The memo can have at most %(max)d characters."), params={"max": MEMO_MAX}
                )
        except ValidationError as error:
            row.error = error.messages[0]
            continue
        if kind == "allocate":
            left = available.get(customer.partner_id)
            if left is None or row.amount > left:
                row.error = str(
                    _("Over the available balance of %(partner)s (%(available)s CNY left for this row).")
                    % {"partner": customer.partner.name, "available": money_str(max(left or 0, Decimal(0)))}
                )
                continue
            available[customer.partner_id] = left - row.amount
        else:
            left = held.get(customer.pk)
            if left is None or row.amount > left:
                row.error = str(
                    _("More than the customer's available amount (%(available)s CNY left for this row).")
                    % {"available": money_str(max(left or 0, Decimal(0)))}
                )
                continue
            held[customer.pk] = left - row.amount
    return rows


def _customer_holds(customer_pks: list[int]) -> dict[int, Decimal]:
    """Each customer's account amount less its reclaims in progress (two queries for any number)."""
    accounts = dict(
        CustomerAccount.objects.filter(customer_id__in=customer_pks).values_list("customer_id", "amount")
    )
    pending = dict(
        Adjustment.objects.filter(
            customer_id__in=customer_pks, kind=Adjustment.Kind.RECLAIM, status__in=Adjustment.OPEN_STATUSES
        )
        .values("customer_id")
        .annotate(s=Sum("amount"))
        .values_list("customer_id", "s")
    )
    return {pk: amount - pending.get(pk, Decimal(0)) for pk, amount in accounts.items()}


def start_batch(*, acting_partner: Partner, kind: str, rows: list[BatchRow], requested_by) -> AdjustmentBatch:
    """Record the batch's valid rows and have the worker ask for one adjustment per row (after commit)."""
    from billing.tasks import create_batch_adjustments

    valid = [row for row in rows if row.valid]
    if not valid:
        raise ValidationError(_("No row of the batch can be submitted."), code="batch_nothing_valid")
    with transaction.atomic():
        batch = AdjustmentBatch.objects.create(
            partner=acting_partner,
            kind=kind,
            requested_by=requested_by,
            rows=[
                {
                    "line": row.line,
                    "customer": row.customer.pk,
                    "customer_id": row.customer_id,
                    "amount": money_str(row.amount),
                    "memo": row.memo,
                    "adjustment": None,
                    "error": "",
                }
                for row in valid
            ],
        )
        transaction.on_commit(lambda: create_batch_adjustments.delay(batch.pk))
    return batch


def create_batch_adjustments_now(batch_pk: int) -> AdjustmentBatch:
    """Ask for every row's adjustment not asked for yet; idempotent (each row's form token is its own)."""
    with transaction.atomic():
        batch = AdjustmentBatch.objects.select_for_update().get(pk=batch_pk)
        if batch.status == AdjustmentBatch.Status.DONE:
            return batch
        batch.status = AdjustmentBatch.Status.CREATING
        batch.save(update_fields=["status"])
    customers = Customer.objects.select_related("partner").in_bulk([row["customer"] for row in batch.rows])
    for index, row in enumerate(batch.rows):
        if row["adjustment"] or row["error"]:
            continue
        customer = customers.get(row["customer"])
        try:
            if customer is None:
                raise ValidationError(_("The customer is no longer mirrored."), code="gone")
            adjustment = request_adjustment(
                partner=customer.partner,
                kind=batch.kind,
                amount=row["amount"],
                customer=customer,
                memo=row["memo"],
                requested_by=batch.requested_by,
                form_token=f"batch-{batch.pk}-{index}",
                batch=batch,
            )
        except ValidationError as error:
            row["error"] = error.messages[0]
        else:
            row["adjustment"] = adjustment.pk
        if index % 50 == 49:  # progress for the page that polls it
            AdjustmentBatch.objects.filter(pk=batch.pk).update(rows=batch.rows)
    batch.status = AdjustmentBatch.Status.DONE
    batch.finished_at = timezone.now()
    batch.save(update_fields=["rows", "status", "finished_at"])
    return batch


# --- reconciliation (portal adjustments against the upstream's adjust records) ------------------------------


@dataclass
class Mismatch:
    """One transaction that does not tie out, and its explanation if an admin gave one."""

    trans_id: str
    problem: str  # MISSING_UPSTREAM, MISSING_PORTAL or DIFFERENT
    day: date
    adjustment: Adjustment | None = None
    record: AdjustRecord | None = None
    note: ReconciliationNote | None = None

    PROBLEMS = {
        "missing_upstream": _("In the portal, not in the platform's records"),
        "missing_portal": _("In the platform's records, not in the portal"),
        "different": _("Amount or type differs"),
    }

    @property
    def problem_label(self) -> str:
        return str(self.PROBLEMS[self.problem])

    @property
    def explained(self) -> bool:
        return self.note is not None


@dataclass
class ReconciliationDay:
    day: date
    portal_count: int = 0
    portal_total: Decimal = Decimal(0)
    upstream_count: int = 0
    upstream_total: Decimal = Decimal(0)
    matched: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def open_mismatches(self) -> int:
        return sum(1 for m in self.mismatches if not m.explained)

    def summary(self) -> DaySummary:
        return DaySummary(
            self.day,
            self.portal_count,
            self.portal_total,
            self.upstream_count,
            self.upstream_total,
            self.matched,
            len(self.mismatches),
            self.open_mismatches,
        )


@dataclass(frozen=True)
class DaySummary:
    """A reconciled day as the page's table of days shows it: its differences counted, not listed."""

    day: date
    portal_count: int
    portal_total: Decimal
    upstream_count: int
    upstream_total: Decimal
    matched: int
    mismatches: int
    open_mismatches: int


def reconcile(partner_ids: list[int], start: date, end: date) -> list[ReconciliationDay]:
    """Per day from `start` to `end` (days of the active time zone), the portal's succeeded customer
    adjustments and the upstream's allocate / reclaim records, matched by transaction id.

    A pair belongs to the day of the upstream's operation time (the platform's clock decides); an
    adjustment the platform does not know, to the day it finished. Reseller transfers are left out: the
    platform's customer adjust records do not list them. Unbind reclaims are the platform's own and
    are not matched either. A fixed number of queries for any number of rows.
    """
    begin = timezone.make_aware(datetime.combine(start, datetime.min.time()))
    finish = timezone.make_aware(datetime.combine(end + timedelta(days=1), datetime.min.time()))
    kinds = {AdjustRecord.OperationType.ALLOCATE: "allocate", AdjustRecord.OperationType.RECLAIM: "reclaim"}
    # Matched on plain values (a week of a large partner is tens of thousands of rows), each with its day in
    # the active time zone computed by PostgreSQL; the mismatches a page or an email shows get their rows
    # from hydrate().
    zone = timezone.get_current_timezone()
    adjustment_columns = ("upstream_transaction_id", "amount", "kind", "status", "day")
    record_columns = ("trans_id", "amount", "operation_type", "day")

    def adjustment_rows(queryset):
        return queryset.annotate(day=TruncDate("finished_at", tzinfo=zone)).values_list(*adjustment_columns)

    def record_rows(queryset):
        return queryset.annotate(day=TruncDate("operation_time", tzinfo=zone)).values_list(*record_columns)

    portal = {
        row[0]: row
        for row in adjustment_rows(
            Adjustment.objects.filter(
                partner_id__in=partner_ids,
                customer__isnull=False,
                status=Adjustment.Status.SUCCEEDED,
                finished_at__gte=begin,
                finished_at__lt=finish,
            )
        )
    }
    in_window = AdjustRecord.objects.filter(
        partner_id__in=partner_ids,
        operation_type__in=list(kinds),
        operation_time__gte=begin,
        operation_time__lt=finish,
    )
    records = {row[0]: row for row in record_rows(in_window)}
    # The other half of pairs that straddle the window's edges: the records of the portal's adjustments
    # (a few), and the adjustments the window's records name (asked by a subquery, not a list of keys).
    records.update(
        {
            row[0]: row
            for row in record_rows(
                AdjustRecord.objects.filter(
                    partner_id__in=partner_ids, trans_id__in=[t for t in portal if t not in records]
                )
            )
        }
    )
    for row in adjustment_rows(
        Adjustment.objects.filter(
            partner_id__in=partner_ids, upstream_transaction_id__in=in_window.values("trans_id")
        )
    ):
        portal.setdefault(row[0], row)
    # Explanations are written by people, a few per partner: read them all rather than name every key.
    notes = {
        n.trans_id: n
        for n in ReconciliationNote.objects.filter(partner_id__in=partner_ids).select_related("explained_by")
    }
    days = {
        start + timedelta(days=n): ReconciliationDay(start + timedelta(days=n))
        for n in range((end - start).days + 1)
    }

    for trans_id in portal.keys() | records.keys():
        adjustment, record = portal.get(trans_id), records.get(trans_id)
        day = record[3] if record else adjustment[4]
        bucket = days.get(day)
        if bucket is None:  # the far half of a pair whose day is outside the window
            continue
        if adjustment is not None:
            bucket.portal_count += 1
            bucket.portal_total += adjustment[1]
        if record is not None:
            bucket.upstream_count += 1
            bucket.upstream_total += record[1]
        if adjustment is not None and adjustment[3] != Adjustment.Status.SUCCEEDED:
            adjustment = None  # a record that names a failed or open adjustment: the portal did not count it
        if adjustment and record:
            if adjustment[1] == record[1] and adjustment[2] == kinds.get(record[2]):
                bucket.matched += 1
                continue
            problem = "different"
        else:
            problem = "missing_portal" if record else "missing_upstream"
        bucket.mismatches.append(Mismatch(trans_id, problem, day, note=notes.get(trans_id)))
    for bucket in days.values():
        bucket.mismatches.sort(key=lambda m: m.trans_id)
    return sorted(days.values(), key=lambda d: d.day, reverse=True)


def hydrate(partner_ids: list[int], mismatches: list[Mismatch]) -> list[Mismatch]:
    """Give the mismatches to be shown their portal adjustment (only a succeeded one: the portal counts no
    other), their platform record and their explanation: three queries for any number of them."""
    wanted = [m.trans_id for m in mismatches]
    notes = {
        n.trans_id: n
        for n in ReconciliationNote.objects.filter(
            partner_id__in=partner_ids, trans_id__in=wanted
        ).select_related("explained_by")
    }
    adjustments = {
        a.upstream_transaction_id: a
        for a in Adjustment.objects.filter(
            partner_id__in=partner_ids, upstream_transaction_id__in=wanted, status=Adjustment.Status.SUCCEEDED
        ).select_related("customer")
    }
    records = {
        r.trans_id: r for r in AdjustRecord.objects.filter(partner_id__in=partner_ids, trans_id__in=wanted)
    }
    for mismatch in mismatches:
        mismatch.note = notes.get(mismatch.trans_id)
        if mismatch.problem != "missing_portal":
            mismatch.adjustment = adjustments.get(mismatch.trans_id)
        if mismatch.problem != "missing_upstream":
            mismatch.record = records.get(mismatch.trans_id)
    return mismatches


def explain_mismatch(*, partner: Partner, trans_id: str, note: str, user) -> ReconciliationNote:
    """A partner admin marks a mismatch explained (audited); the note may be changed later."""
    note = (note or "").strip()
    if not note:
        raise ValidationError(_("Write what explains the difference."), code="no_note")
    if len(note) > 2000:
        raise ValidationError(_("The explanation can have at most 2000 characters."), code="note_too_long")
    with transaction.atomic():
        explained, _created = ReconciliationNote.objects.update_or_create(
            partner=partner,
            trans_id=trans_id,
            defaults={"note": db_text(note), "explained_by": user, "explained_at": timezone.now()},
        )
        audit.record(
            "reconciliation_explained",
            actor=user,
            owner_partner=partner,
            target_label=trans_id,
            summary=f"{trans_id}: {note}"[:200],
            data={"trans_id": trans_id, "note": note[:200]},
        )
    return explained


# --- runway: how long a resale balance lasts --------------------------------------------------------------

RUNWAY_WINDOW_DAYS = 30


def record_balance_history(amounts: dict[int, Decimal], day: date | None = None) -> None:
    """Keep today's available amount of each customer (customer pk → amount): one statement per page."""
    day = day or timezone.localdate()
    BalanceSnapshot.objects.bulk_create(
        [BalanceSnapshot(customer_id=pk, day=day, amount=amount) for pk, amount in amounts.items()],
        update_conflicts=True,
        unique_fields=["customer", "day"],
        update_fields=["amount"],
    )


_RUNWAY_SQL = """
WITH history AS (
    SELECT customer_id, day, amount,
           LAG(amount) OVER (PARTITION BY customer_id ORDER BY day) AS previous
      FROM billing_balancesnapshot
     WHERE customer_id = ANY(%(ids)s) AND day >= %(since)s
), dropped AS (
    SELECT customer_id, SUM(GREATEST(previous - amount, 0)) AS amount, MAX(day) - MIN(day) AS days
      FROM history GROUP BY customer_id
), reclaimed AS (
    SELECT customer_id, SUM(amount) AS amount
      FROM billing_adjustment
     WHERE customer_id = ANY(%(ids)s) AND kind = 'reclaim' AND status = 'succeeded'
       AND finished_at >= %(since_at)s
     GROUP BY customer_id
), spend AS (
    SELECT d.customer_id, ROUND(GREATEST(d.amount - COALESCE(r.amount, 0), 0) / d.days, 2) AS daily
      FROM dropped d LEFT JOIN reclaimed r USING (customer_id)
     WHERE d.days > 0
)
UPDATE customers_customer AS c
   SET daily_spend = s.daily,
       runway_days = CASE WHEN s.daily > 0 THEN FLOOR(GREATEST(COALESCE(c.balance, 0), 0) / s.daily) END
  FROM (SELECT id FROM customers_customer WHERE id = ANY(%(ids)s)) AS page
  LEFT JOIN spend s ON s.customer_id = page.id
 WHERE c.id = page.id
"""


def refresh_runway(customer_pks: list[int], today: date | None = None) -> None:
    """The average daily spend over the last 30 days and the days until zero of these customers, from their
    balance history: what the balance dropped by from one day to the next, less the reclaims (money taken
    back is not spent), over the days the history covers. No history of two days or no spend: None."""
    from django.db import connection

    if not customer_pks:
        return
    today = today or timezone.localdate()
    since = today - timedelta(days=RUNWAY_WINDOW_DAYS)
    since_at = timezone.make_aware(datetime.combine(since, datetime.min.time()))
    with connection.cursor() as cursor:
        cursor.execute(_RUNWAY_SQL, {"ids": list(customer_pks), "since": since, "since_at": since_at})


def month_of_spend(customer: Customer) -> str | None:
    """What a top-up for a month at the customer's average daily spend would be (whole yuan, rounded up),
    as the allocate form pre-fills it from a balance warning; None while the spend is not known."""
    import math

    if not customer.daily_spend:
        return None
    return money_str(Decimal(math.ceil(customer.daily_spend * RUNWAY_WINDOW_DAYS)))
