"""Balances, adjust records, commercial discounts and dedicated offers, mirrored from the upstream.

Money is Decimal with 2 places (CNY yuan) everywhere.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Partner
from accounts.tenancy import PartnerScopedQuerySet
from customers.models import Customer, CustomerRecord
from portal.lib.text import db_text

MONEY = {"max_digits": 16, "decimal_places": 2}


class PartnerAccount(models.Model):
    """One of a partner's accounts (balance, credit, bonus, deposit) from ListPartnerBalances."""

    class AccountType(models.IntegerChoices):
        BALANCE = 1, _("Balance")
        CREDIT = 2, _("Credit")
        BONUS = 5, _("Bonus")
        DEPOSIT = 7, _("Deposit")
        ALLOCATABLE = 8, _("Allocatable")

    partner = models.ForeignKey(
        Partner, verbose_name=_("partner"), on_delete=models.PROTECT, related_name="accounts"
    )
    account_id = models.CharField(_("account ID"), max_length=64)
    account_type = models.SmallIntegerField(_("account type"), choices=AccountType.choices)
    amount = models.DecimalField(_("amount"), **MONEY)
    designated_amount = models.DecimalField(_("designated amount"), default=0, **MONEY)
    credit_amount = models.DecimalField(_("credit amount"), default=0, **MONEY)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    updated_at = models.DateTimeField(_("last changed"), default=timezone.now)

    objects = PartnerScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("partner account")
        verbose_name_plural = _("partner accounts")
        constraints = [
            models.UniqueConstraint(fields=["partner", "account_type"], name="one_account_per_type")
        ]

    def __str__(self) -> str:
        return f"{self.partner} {self.get_account_type_display()}"

    @property
    def available(self):
        """What may be allocated from this account: amount minus designated amount."""
        return self.amount - self.designated_amount


class CustomerAccount(models.Model):
    """A resale customer's consumption account, from ListCustomersBalancesDetail."""

    customer = models.OneToOneField(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="account"
    )
    partner = models.ForeignKey(
        Partner, verbose_name=_("partner"), on_delete=models.PROTECT, related_name="+"
    )
    amount = models.DecimalField(_("available amount"), **MONEY)
    debt_amount = models.DecimalField(_("debt"), default=0, **MONEY)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    updated_at = models.DateTimeField(_("last changed"), default=timezone.now)

    objects = PartnerScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("customer account")
        verbose_name_plural = _("customer accounts")

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.amount}"

    # The customer's `balance` column follows its account (CustomerQuerySet.refresh_balances): here for a
    # row saved or deleted one at a time; the bulk paths (sync, adjustments) call it themselves.
    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        Customer.objects.filter(pk=self.customer_id).refresh_balances()

    def delete(self, *args, **kwargs):
        result = super().delete(*args, **kwargs)
        Customer.objects.filter(pk=self.customer_id).refresh_balances()
        return result


class AdjustRecord(CustomerRecord):
    """An allocation, reclaim or unbind reclaim as the upstream recorded it (ListPartnerAdjustRecords)."""

    class OperationType(models.TextChoices):
        ALLOCATE = "SOURCE_OPERATION_BEADJUST", _("Allocate")
        RECLAIM = "SOURCE_OPERATION_BERETRIEVE", _("Reclaim")
        UNBIND = "SOURCE_OPERATION_BEUNBIND", _("Reclaim on disassociation")

    customer_name = models.CharField(_("customer name"), max_length=200, blank=True)
    trans_id = models.CharField(_("transaction ID"), max_length=128, unique=True)
    operation_type = models.CharField(_("operation type"), max_length=40, choices=OperationType.choices)
    amount = models.DecimalField(_("amount"), **MONEY)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    apply_scene = models.CharField(_("scene"), max_length=64, blank=True)
    operation_time = models.DateTimeField(_("operation time"), db_index=True)
    memo = models.CharField(_("memo"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("first synced"), default=timezone.now)

    objects = PartnerScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("adjust record")
        verbose_name_plural = _("adjust records")
        ordering = ["-operation_time", "-id"]

    def __str__(self) -> str:
        return f"{self.get_operation_type_display()} {self.amount} {self.customer_upstream_id}"


class CommercialDiscount(CustomerRecord):
    """A commercial discount (商务折扣) in force for a customer; read-only, synced."""

    class Status(models.TextChoices):
        PENDING = "PENDING", _("Pending")
        EFFECTIVE = "EFFECTIVE", _("Effective")
        EXPIRED = "EXPIRED", _("Expired")
        INVALID = "INVALID", _("Invalid")

    discount_id = models.CharField(_("discount ID"), max_length=64, unique=True)
    business_name = models.CharField(_("business name"), max_length=200)
    discount_type = models.IntegerField(_("discount type"), null=True, blank=True)
    discount_rate = models.DecimalField(
        _("discount rate"), max_digits=6, decimal_places=4, null=True, blank=True
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices)
    effective_time = models.DateTimeField(_("effective time"), null=True, blank=True)
    expire_time = models.DateTimeField(_("expiry time"), null=True, blank=True)
    updated_at = models.DateTimeField(_("last changed"), default=timezone.now)

    objects = PartnerScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("commercial discount")
        verbose_name_plural = _("commercial discounts")
        ordering = ["-effective_time", "-id"]

    def __str__(self) -> str:
        return self.business_name


class DedicatedOffer(models.Model):
    """A dedicated offer (专属优惠) bound to one customer account."""

    class Status(models.TextChoices):
        ACTIVE = "ACTIVE", _("Active")
        INVALIDATED = "INVALIDATED", _("Invalidated")
        EXPIRED = "EXPIRED", _("Expired")

    partner = models.ForeignKey(
        Partner, verbose_name=_("partner"), on_delete=models.PROTECT, related_name="+"
    )
    offer_id = models.CharField(_("offer ID"), max_length=64, unique=True)
    name = models.CharField(_("offer name"), max_length=200)
    customer_account_name = models.CharField(_("customer account"), max_length=100)
    product_ids = models.JSONField(_("products"), default=list)
    effective_time = models.DateTimeField(_("effective time"), null=True, blank=True)
    expire_time = models.DateTimeField(_("expiry time"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices)
    updated_at = models.DateTimeField(_("last changed"), default=timezone.now)

    objects = PartnerScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("dedicated offer")
        verbose_name_plural = _("dedicated offers")
        ordering = ["-effective_time", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "name"], name="offer_name_unique_per_partner")
        ]

    def __str__(self) -> str:
        return self.name


class AdjustmentStateError(Exception):
    """An adjustment was asked to make a move its state machine does not allow."""


class Adjustment(models.Model):
    """A fund adjustment the portal asked for: allocate (拨款) or reclaim (回收), pushed through the outbox.

    pending → sent → succeeded | failed; a send may be repeated (sent → sent) after the outbox found it was
    not applied upstream, and an operator may retry a failed one from the admin site (failed → sent).
    """

    class Kind(models.TextChoices):
        ALLOCATE = "allocate", _("Allocate")
        RECLAIM = "reclaim", _("Reclaim")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Sent")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    TRANSITIONS = {
        Status.PENDING: {Status.SENT, Status.FAILED},
        Status.SENT: {Status.SENT, Status.SUCCEEDED, Status.FAILED},
        Status.FAILED: {Status.SENT},
        Status.SUCCEEDED: set(),
    }
    OPEN_STATUSES = (Status.PENDING, Status.SENT)

    # The partner whose money moves: the customer's partner, or the distributor for a reseller adjustment.
    partner = models.ForeignKey(
        Partner, verbose_name=_("partner"), on_delete=models.PROTECT, related_name="adjustments"
    )
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="adjustments",
    )
    reseller = models.ForeignKey(
        Partner,
        verbose_name=_("reseller"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"tier": "reseller"},
    )
    kind = models.CharField(_("type"), max_length=16, choices=Kind.choices)
    amount = models.DecimalField(_("amount"), **MONEY)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    memo = models.CharField(_("memo"), max_length=200, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    upstream_transaction_id = models.CharField(_("transaction ID"), max_length=128, blank=True)
    error_message = models.TextField(_("error"), blank=True)
    # The one-time token of the form that asked for it: a double submit finds this row instead of a new one.
    form_token = models.CharField(_("form token"), max_length=64, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(_("requested"), default=timezone.now, db_index=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    objects = PartnerScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("adjustment")
        verbose_name_plural = _("adjustments")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["partner", "status"]),
            models.Index(fields=["partner", "-created_at"]),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="adjustment_amount_positive"),
            models.CheckConstraint(
                condition=(
                    models.Q(customer__isnull=False, reseller__isnull=True)
                    | models.Q(customer__isnull=True, reseller__isnull=False)
                ),
                name="adjustment_one_counterparty",
            ),
            models.UniqueConstraint(
                fields=["upstream_transaction_id"],
                condition=~models.Q(upstream_transaction_id=""),
                name="adjustment_transaction_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount} → {self.counterparty} [{self.status}]"

    @property
    def counterparty(self):
        return self.customer if self.customer_id else self.reseller

    @property
    def is_final(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)

    def _move(self, to: str) -> None:
        if to not in self.TRANSITIONS[self.Status(self.status)]:
            raise AdjustmentStateError(f"Adjustment #{self.pk} cannot go from {self.status} to {to}.")
        self.status = to

    def mark_sent(self) -> None:
        """It is being sent to the upstream (again, after a check found it was not applied)."""
        self._move(self.Status.SENT)
        self.sent_at = timezone.now()
        self.error_message = ""
        self.finished_at = None
        self.save(update_fields=["status", "sent_at", "error_message", "finished_at"])

    def mark_succeeded(self, trans_id: str) -> None:
        """The upstream applied it as transaction `trans_id`."""
        if not trans_id:
            raise AdjustmentStateError("A succeeded adjustment needs the upstream's transaction id.")
        self._move(self.Status.SUCCEEDED)
        self.upstream_transaction_id = str(trans_id)
        self.finished_at = timezone.now()
        self.save(update_fields=["status", "upstream_transaction_id", "finished_at"])

    def mark_failed(self, message: str) -> None:
        """The upstream refused it (or it could not be sent): nothing moved."""
        self._move(self.Status.FAILED)
        self.error_message = db_text(message)
        self.finished_at = timezone.now()
        self.save(update_fields=["status", "error_message", "finished_at"])
