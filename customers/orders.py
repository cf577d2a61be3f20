"""Customers' orders mirrored from the upstream, and the partner's payments (伙伴支付) of them.

A combined trade order (组合交易单) is a head row with `is_combined` and its orders as rows whose `parent` is
the head; the list shows heads only and expands a combination to its orders. The head is what is paid,
rejected or cancelled: the platform refuses a child's id.

A partner payment (PartnerPayment: pay, or reject so that the customer pays itself) goes through the outbox:

    pending ──upstream took it (or a reconcile found it done)──▶ succeeded   (the order and its children
       │                                                                      are paid / handed back)
       └──refused (not awaiting payment, insufficient balance …)──▶ failed  (the reason is shown)

At most one open (pending) payment per order: a partial unique index, and the service locks the order row
first, so two concurrent clicks make one payment.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import ROLE_SALES, Partner
from accounts.tenancy import PartnerScopedQuerySet
from portal.lib.text import db_text

MONEY = {"max_digits": 16, "decimal_places": 2}


class OrderStatus(models.IntegerChoices):
    PENDING_APPROVAL = 1, _("Pending approval")
    PROCESSING = 3, _("Processing")
    CANCELLED = 4, _("Cancelled")
    COMPLETED = 5, _("Completed")
    AWAITING_PAYMENT = 6, _("Awaiting payment")
    AWAITING_CONFIRMATION = 9, _("Awaiting confirmation")


class OrderType(models.IntegerChoices):
    NEW = 1, _("New purchase")
    RENEW = 2, _("Renewal")
    CHANGE = 3, _("Change")
    UNSUBSCRIBE = 4, _("Unsubscription")
    TO_ON_DEMAND = 10, _("Conversion to pay-per-use")
    TO_PERIOD = 11, _("Conversion to yearly/monthly")
    TRIAL = 13, _("Trial")
    TRIAL_TO_COMMERCIAL = 14, _("Trial to commercial use")
    PRICE_ADJUSTMENT = 15, _("Price adjustment")


# The filter's groups of order types (the "new / renew / change / unsubscribe / conversion").
ORDER_TYPE_GROUPS = {
    "new": (OrderType.NEW,),
    "renew": (OrderType.RENEW,),
    "change": (OrderType.CHANGE,),
    "unsubscribe": (OrderType.UNSUBSCRIBE,),
    "conversion": (OrderType.TO_ON_DEMAND, OrderType.TO_PERIOD),
}

# Discount types of amount_info.discounts (reference/domain: 200 promotion, 605/606 commercial, 607 partner).
DISCOUNT_LABELS = {
    "0": _("Promotion"),
    "1": _("Contract discount"),
    "2": _("Commercial discount"),
    "3": _("Partner discount"),
    "200": _("Promotion"),
    "605": _("Commercial discount"),
    "606": _("Distributor commercial discount"),
    "607": _("Partner-granted discount"),
    "609": _("Price adjustment"),
}

AWAITING_PARTNER = models.Q(status=OrderStatus.AWAITING_PAYMENT, is_agent_pay=True)


class OrderQuerySet(PartnerScopedQuerySet):
    def heads(self):
        """Standalone orders and combined orders (not the orders inside a combination)."""
        return self.filter(parent__isnull=True)

    def awaiting_partner_payment(self):
        return self.filter(AWAITING_PARTNER)

    def visible_to(self, user):
        """The orders the user may see: its partners' (a distributor's resellers' too); a salesperson, an
        account manager, only those of the customers it manages (reference/domain: 客户经理 sees only its
        customers' orders)."""
        rows = self.for_user(user)
        if user.role == ROLE_SALES:
            rows = rows.filter(customer__account_manager_id=user.pk)
        return rows


class Order(models.Model):
    """A customer's yearly/monthly order (ListCustomerOrders); a combination's orders hang off its head."""

    partner = models.ForeignKey(
        Partner, verbose_name=_("partner"), on_delete=models.PROTECT, related_name="+"
    )
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="orders",
    )
    customer_upstream_id = models.CharField(_("customer ID"), max_length=64, db_index=True)
    order_id = models.CharField(_("order ID"), max_length=64, unique=True)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("combined order"),
        to_field="order_id",
        db_column="parent_order_id",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="children",
        db_constraint=False,  # a page may bring a child before its head is stored
    )
    is_combined = models.BooleanField(_("combined order"), default=False)
    service_type_code = models.CharField(_("service type"), max_length=64, blank=True)
    service_type_name = models.CharField(_("service"), max_length=400, blank=True)
    status = models.SmallIntegerField(_("status"), choices=OrderStatus.choices, null=True)
    order_type = models.SmallIntegerField(_("order type"), choices=OrderType.choices, null=True)
    official_amount = models.DecimalField(_("official price"), **MONEY)
    amount_after_discount = models.DecimalField(_("amount after discount"), **MONEY)
    discounts = models.JSONField(_("discounts"), default=list, blank=True)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    ordered_at = models.DateTimeField(_("created on"), null=True)
    paid_at = models.DateTimeField(_("paid"), null=True, blank=True)
    payment_deadline = models.DateTimeField(_("payment deadline"), null=True, blank=True)
    is_agent_pay = models.BooleanField(_("partner pays"), default=False)
    paying_agent_id = models.CharField(_("paying partner"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("first synced"), default=timezone.now)
    updated_at = models.DateTimeField(_("last changed"), default=timezone.now)

    objects = OrderQuerySet.as_manager()

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-ordered_at", "-id"]
        indexes = [
            # The list: newest first, per partner and across a distributor's partners (heads only).
            models.Index(
                "partner",
                models.F("ordered_at").desc(nulls_last=True),
                models.F("id").desc(),
                name="order_partner_list_idx",
                condition=models.Q(parent__isnull=True),
            ),
            models.Index(
                models.F("ordered_at").desc(nulls_last=True),
                models.F("id").desc(),
                include=["partner"],
                name="order_list_idx",
                condition=models.Q(parent__isnull=True),
            ),
            # The list filtered by order type (renewals this month): see migration 0018.
            models.Index(
                "order_type",
                models.F("ordered_at").desc(nulls_last=True),
                models.F("id").desc(),
                include=["partner"],
                name="order_type_list_idx",
                condition=models.Q(parent__isnull=True),
            ),
            models.Index("customer", models.F("ordered_at").desc(nulls_last=True), name="order_customer_idx"),
            # "Awaiting the partner's payment": few rows, asked by the dashboard tile and the filter.
            models.Index(
                fields=["partner"],
                name="order_partner_pay_idx",
                condition=models.Q(AWAITING_PARTNER, parent__isnull=True),
            ),
            models.Index(fields=["partner", "status"], name="order_partner_status_idx"),
        ]
        permissions = [
            ("pay_order", _("Can pay or reject orders awaiting the partner's payment")),
            ("export_order", _("Can export the order list")),
        ]

    def __str__(self) -> str:
        return self.order_id

    @property
    def awaits_partner_payment(self) -> bool:
        return self.status == OrderStatus.AWAITING_PAYMENT and self.is_agent_pay

    @property
    def head_id(self) -> str:
        """The id the platform acts on: the combination's for an order inside one."""
        return self.parent_id or self.order_id

    @property
    def audit_label(self) -> str:
        return self.order_id

    def discount_rows(self) -> list[tuple[str, str]]:
        """(label, amount) of each discount applied, for people."""
        return [
            (str(DISCOUNT_LABELS.get(str(d.get("type")), d.get("type"))), d.get("amount"))
            for d in self.discounts or []
        ]

    def mark_paid(self, when=None) -> None:
        """The partner's payment went through: this order and a combination's orders are completed."""
        when = when or timezone.now()
        Order.objects.filter(models.Q(pk=self.pk) | models.Q(parent_id=self.order_id)).update(
            status=OrderStatus.COMPLETED, paid_at=when, updated_at=timezone.now()
        )

    def mark_handed_back(self) -> None:
        """The partner rejected paying: the customer pays it itself (still awaiting payment)."""
        Order.objects.filter(models.Q(pk=self.pk) | models.Q(parent_id=self.order_id)).update(
            is_agent_pay=False, updated_at=timezone.now()
        )


class PaymentStateError(Exception):
    """A partner payment asked to take a transition its state does not allow."""


class PartnerPayment(models.Model):
    """The partner paying (or declining to pay) an order its customer routed to it, through the outbox."""

    class Kind(models.TextChoices):
        PAY = "pay", _("Pay")
        REJECT = "reject", _("Reject")

    class Status(models.TextChoices):
        PENDING = "pending", _("Being sent")
        SUCCEEDED = "succeeded", _("Done")
        FAILED = "failed", _("Failed")

    TRANSITIONS = {
        Status.PENDING: {Status.SUCCEEDED, Status.FAILED},
        Status.SUCCEEDED: set(),
        Status.FAILED: set(),
    }

    order = models.ForeignKey(
        Order, verbose_name=_("order"), on_delete=models.PROTECT, related_name="payments"
    )
    # Whose account pays: the order's partner (a reseller's customer's order, the reseller's).
    partner = models.ForeignKey(
        Partner, verbose_name=_("partner"), on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(_("action"), max_length=8, choices=Kind.choices)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    amount = models.DecimalField(_("amount"), **MONEY)
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    error = models.TextField(_("error"), blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("requested by"), null=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(_("requested"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    objects = PartnerScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("partner payment")
        verbose_name_plural = _("partner payments")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["order"], condition=models.Q(status="pending"), name="one_open_payment_per_order"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.order_id}"

    @property
    def audit_label(self) -> str:
        return self.order.order_id

    def _move(self, to: str, **changes) -> None:
        if to not in self.TRANSITIONS[self.Status(self.status)]:
            raise PaymentStateError(f"A partner payment cannot go from {self.status} to {to}.")
        self.status = to
        for name, value in changes.items():
            setattr(self, name, value)
        self.save(update_fields=["status", *changes])

    def mark_succeeded(self) -> None:
        self._move(self.Status.SUCCEEDED, finished_at=timezone.now())
        if self.kind == self.Kind.PAY:
            self.order.mark_paid()
        else:
            self.order.mark_handed_back()

    def mark_failed(self, error: str) -> None:
        self._move(self.Status.FAILED, error=db_text(error), finished_at=timezone.now())
