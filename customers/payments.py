"""Partner payment (伙伴支付): pay an order a customer routed to its partner, or reject it (it pays itself).

The states and who moves them: customers/orders.py (PartnerPayment). The push and its reconciliation:
customers/outbox.py. Money leaves the order's partner's balance account (a reseller's customer's order, the
reseller's), so a payment is checked against that balance first, locked per partner, and sent one at a time
per partner with the partner's other money commands.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import audit
from accounts.models import Partner
from customers.orders import Order, PartnerPayment
from customers.services import ServiceError
from portal.lib.money import format_money
from upstream.outbox import enqueue

PAY_ORDER = "customers.pay_order"
REJECT_PARTNER_PAY_ORDER = "customers.reject_partner_pay_order"
COMMANDS = {PartnerPayment.Kind.PAY: PAY_ORDER, PartnerPayment.Kind.REJECT: REJECT_PARTNER_PAY_ORDER}


def available_to_pay(partner: Partner) -> Decimal | None:
    """What the partner's balance account can still pay: available balance, less its allocations and
    payments not yet through; None when the balance has not been synced yet."""
    from billing.models import PartnerAccount  # billing builds on customers, not the other way
    from billing.services import available_to_allocate

    account = PartnerAccount.objects.filter(
        partner=partner, account_type=PartnerAccount.AccountType.BALANCE
    ).first()
    if account is None:
        return None
    paying = PartnerPayment.objects.filter(
        partner=partner, kind=PartnerPayment.Kind.PAY, status=PartnerPayment.Status.PENDING
    ).aggregate(total=Sum("amount"))["total"] or Decimal(0)
    return available_to_allocate(partner, account) - paying


def _check(user, order: Order) -> None:
    partner = getattr(user, "partner", None)
    if partner is None or order.partner_id not in partner.visible_partner_ids():
        raise ServiceError(_("This order is not one of your customers' orders."))
    if order.parent_id:
        raise ServiceError(
            _("This order is part of combined order %(order)s: pay or reject the combination as a whole.")
            % {"order": order.parent_id}
        )
    if not order.awaits_partner_payment:
        raise ServiceError(_("This order is not awaiting the partner's payment."))
    if order.payment_deadline is not None and order.payment_deadline < timezone.now():
        raise ServiceError(_("This order is past its payment deadline; the customer must order again."))
    if PartnerPayment.objects.filter(order=order, status=PartnerPayment.Status.PENDING).exists():
        raise ServiceError(_("A payment or rejection of this order is already being sent."))


def request_partner_payment(user, order: Order, kind: str, *, reason: str = "") -> PartnerPayment:
    """Pay (or reject) an order awaiting the partner's payment: checked, then sent through the outbox.

    The order row is locked first, then its partner's: two concurrent requests for one order make one
    payment (the second finds the first), and two payments of one partner are checked against its balance
    one after the other.
    """
    kind = PartnerPayment.Kind(kind)
    try:
        with transaction.atomic():
            order = Order.objects.select_for_update().select_related("partner").get(pk=order.pk)
            _check(user, order)
            partner = Partner.objects.select_for_update().get(pk=order.partner_id)
            if kind == PartnerPayment.Kind.PAY:
                available = available_to_pay(partner)
                if available is None:
                    raise ServiceError(
                        _("%(partner)s's balance has not been synced yet; try again in a minute.")
                        % {"partner": partner.name}
                    )
                if order.amount_after_discount > available:
                    raise ServiceError(
                        _(
                            "Not enough balance: this order costs %(amount)s and %(partner)s can pay "
                            "%(available)s. Top up the account (a reseller: ask the distributor to "
                            "allocate funds) and try again."
                        )
                        % {
                            "amount": format_money(order.amount_after_discount),
                            "available": format_money(max(available, Decimal(0))),
                            "partner": partner.name,
                        }
                    )
            payment = PartnerPayment.objects.create(
                order=order,
                partner=partner,
                kind=kind,
                amount=order.amount_after_discount,
                reason=reason.strip()[:500],
                requested_by=user,
            )
            enqueue(
                COMMANDS[kind],
                {
                    "order_id": order.order_id,
                    "customer_id": order.customer_upstream_id,
                    "indirect_partner_id": partner.indirect_partner_id,
                    "reason": payment.reason,
                },
                partner_key=partner.upstream_id,
                obj=payment,
            )
            audit.record(
                "order_payment_requested" if kind == PartnerPayment.Kind.PAY else "order_payment_rejected",
                actor=user,
                owner_partner=partner,
                target=order,
                target_label=order.order_id,
                summary=f"{order.order_id}: {order.amount_after_discount}",
                data={"amount": str(order.amount_after_discount)},
            )
    except IntegrityError:  # the unique open payment per order: a concurrent request got there first
        raise ServiceError(_("A payment or rejection of this order is already being sent.")) from None
    return payment


def payment_succeeded(payment_pk: int) -> None:
    """The outbox got it through (or found it done upstream): the order is paid, or handed back."""
    from billing.models import PartnerAccount

    payment = PartnerPayment.objects.select_for_update().select_related("order").get(pk=payment_pk)
    if payment.status != PartnerPayment.Status.PENDING:
        return
    payment.mark_succeeded()
    if payment.kind == PartnerPayment.Kind.PAY:
        # The mirrored balance follows at once (the next balance sync overwrites it with the upstream's), so
        # that the payment, no longer pending, still counts against what the partner can pay.
        PartnerAccount.objects.filter(
            partner_id=payment.partner_id, account_type=PartnerAccount.AccountType.BALANCE
        ).update(amount=F("amount") - payment.amount, updated_at=timezone.now())


def payment_failed(payment_pk: int, error: str) -> None:
    payment = PartnerPayment.objects.select_for_update().get(pk=payment_pk)
    if payment.status == PartnerPayment.Status.PENDING:
        payment.mark_failed(error)
