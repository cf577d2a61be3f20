"""Operations of the billing app across models: fund adjustments (allocate and reclaim)."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils.translation import gettext_lazy as _

from accounts.models import Partner
from billing.models import MONEY, Adjustment, CustomerAccount, PartnerAccount
from customers.models import Customer
from portal.lib.money import CENT, MoneyError, money_str, parse_money, to_money

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
    *, partner: Partner, kind: str, amount: Decimal, customer: Customer | None, reseller: Partner | None
) -> None:
    if kind == Adjustment.Kind.ALLOCATE:
        available = available_to_allocate(partner, _balance_account(partner))
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
        pending = _open_sum(Adjustment.objects.filter(customer=customer, kind=Adjustment.Kind.RECLAIM))
        available = account.amount - pending
    else:
        account = _balance_account(reseller)
        pending = _open_sum(Adjustment.objects.filter(reseller=reseller, kind=Adjustment.Kind.RECLAIM))
        spending = _open_sum(Adjustment.objects.filter(partner=reseller, kind=Adjustment.Kind.ALLOCATE))
        available = account.amount - pending - spending
    if amount > available:
        raise ValidationError(
            _("The amount is more than the available amount of the account (%(available)s CNY)."),
            code="insufficient_balance",
            params={"available": to_money(max(available, Decimal(0)))},
        )


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
        _validate_funds(partner=partner, kind=kind, amount=amount, customer=customer, reseller=reseller)
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
                )
        except IntegrityError:
            # The same form submitted twice at once: the other submit has committed its adjustment.
            existing = Adjustment.objects.filter(form_token=form_token).first() if form_token else None
            if existing is None:
                raise
            return _same_request(existing, partner)
        command_kind, payload = _command(adjustment)
        enqueue(command_kind, payload, partner_key=partner.upstream_id, obj=adjustment)
    return adjustment


def _same_request(existing: Adjustment, partner: Partner) -> Adjustment:
    if existing.partner_id != partner.pk:
        raise ValidationError(_("This form has already been used; reload the page."), code="token_used")
    return existing
