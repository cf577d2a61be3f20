"""Balances, adjust records, commercial discounts and dedicated offers, mirrored from the upstream.

Money is Decimal with 2 places (CNY yuan) everywhere.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

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
        indexes = [
            # The accounts in debt, per partner: a few percent of all (the dashboard's tile; migration 0007).
            models.Index(
                fields=["partner"],
                include=["customer"],
                condition=models.Q(debt_amount__gt=0),
                name="customeraccount_in_debt_idx",
            )
        ]

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
        indexes = [
            # The dashboard's "funds this month" sums a month of a scope's records (migration 0007).
            models.Index(
                fields=["partner", "operation_time"],
                include=["operation_type", "amount"],
                name="adjustrecord_partner_time_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_operation_type_display()} {self.amount} {self.customer_upstream_id}"


class FundsDay(models.Model):
    """One partner's adjust records of one day (in customers.models.ROLLUP_ZONE): allocated and reclaimed
    (reclaims on disassociation included), summed and counted.

    Maintained by database triggers on AdjustRecord (migration 0008), whoever writes the records (the adjust
    records sync, the admin), in the writer's transaction; concurrent writers serialise on the day's row, so
    it always equals `FundsDay.recount` (tests: test_funds_day). The dashboard's "funds this month" sums these
    rows instead of a month of records (90,000 for a distributor's resellers at 100,000 customers).
    """

    partner = models.ForeignKey(
        Partner, verbose_name=_("partner"), on_delete=models.PROTECT, related_name="+"
    )
    day = models.DateField(_("day"))
    allocated = models.DecimalField(_("allocated"), default=0, **MONEY)
    reclaimed = models.DecimalField(_("reclaimed"), default=0, **MONEY)
    allocations = models.IntegerField(_("allocations"), default=0)
    reclaims = models.IntegerField(_("reclaims"), default=0)

    objects = PartnerScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("funds moved on a day")
        verbose_name_plural = _("funds moved by day")
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "day"],
                include=["allocated", "reclaimed", "allocations", "reclaims"],
                name="funds_day_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.partner_id} {self.day}: +{self.allocated} -{self.reclaimed}"

    @staticmethod
    def recount(partner_ids) -> dict[tuple[int, object], tuple[Decimal, Decimal, int, int]]:
        """(partner id, day) → (allocated, reclaimed, allocations, reclaims), from the records themselves."""
        import zoneinfo

        from django.db.models.functions import TruncDay

        from customers.models import ROLLUP_ZONE

        Op = AdjustRecord.OperationType
        allocate, reclaim = models.Q(operation_type=Op.ALLOCATE), models.Q(operation_type__in=RECLAIMS)
        rows = (
            AdjustRecord.objects.filter(partner_id__in=partner_ids)
            .order_by()
            .annotate(d=TruncDay("operation_time", tzinfo=zoneinfo.ZoneInfo(ROLLUP_ZONE)))
            .values("partner_id", "d")
            .annotate(
                a=models.Sum("amount", filter=allocate, default=Decimal(0)),
                r=models.Sum("amount", filter=reclaim, default=Decimal(0)),
                na=models.Count("pk", filter=allocate),
                nr=models.Count("pk", filter=reclaim),
            )
        )
        return {(r["partner_id"], r["d"].date()): (r["a"], r["r"], r["na"], r["nr"]) for r in rows}


# The operation types counted as reclaimed: the partner's own reclaims and the platform's on disassociation.
RECLAIMS = (AdjustRecord.OperationType.RECLAIM, AdjustRecord.OperationType.UNBIND)


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
        # The commercial-discount tab lists a partner's rows newest first, filtered by status and type.
        indexes = [models.Index(fields=["partner", "-effective_time", "-id"])]

    def __str__(self) -> str:
        return self.business_name


class OfferStateError(Exception):
    """A dedicated offer was asked to make a move its state machine does not allow."""


class DedicatedOffer(models.Model):
    """A dedicated offer (专属优惠) bound to one customer account.

    `status` is the upstream's status, plus two the portal alone knows (an offer it asked for that the
    upstream has not confirmed, or refused). Invalidating is asked for with a reason and pushed through the
    outbox; until the upstream confirms, the offer stays ACTIVE with `invalidation_requested_at` set and
    shows "invalidating…":

        CREATING ──upstream created (outbox, or the sync finds it by name)──▶ ACTIVE
           └──refused──▶ CREATE_FAILED
        ACTIVE ──request_invalidation──▶ ACTIVE + invalidating ──upstream confirmed──▶ INVALIDATED
                                              └──refused──▶ ACTIVE (the reason is shown)
        ACTIVE ──expiry time passed (beat task billing.expire_offers, or the sync)──▶ EXPIRED
    """

    class Status(models.TextChoices):
        CREATING = "CREATING", _("Creating…")
        CREATE_FAILED = "CREATE_FAILED", _("Not created")
        ACTIVE = "ACTIVE", _("Active")
        INVALIDATED = "INVALIDATED", _("Invalidated")
        EXPIRED = "EXPIRED", _("Expired")

    TRANSITIONS = {
        Status.CREATING: {Status.ACTIVE, Status.CREATE_FAILED},
        Status.CREATE_FAILED: set(),
        Status.ACTIVE: {Status.INVALIDATED, Status.EXPIRED},
        Status.INVALIDATED: set(),
        Status.EXPIRED: set(),
    }

    partner = models.ForeignKey(
        Partner, verbose_name=_("partner"), on_delete=models.PROTECT, related_name="+"
    )
    # Null until the upstream has created it (an offer the portal asked for).
    offer_id = models.CharField(_("offer ID"), max_length=64, unique=True, null=True, blank=True)
    name = models.CharField(_("offer name"), max_length=200)
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="dedicated_offers",
    )
    customer_account_name = models.CharField(_("customer account"), max_length=100)
    product_ids = models.JSONField(_("products"), default=list)
    effective_time = models.DateTimeField(_("effective time"), null=True, blank=True)
    expire_time = models.DateTimeField(_("expiry time"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices)
    invalidation_reason = models.CharField(_("reason for invalidating"), max_length=500, blank=True)
    invalidation_requested_at = models.DateTimeField(_("invalidation asked for"), null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    error_message = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("first seen"), default=timezone.now)
    updated_at = models.DateTimeField(_("last changed"), default=timezone.now)

    objects = PartnerScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("dedicated offer")
        verbose_name_plural = _("dedicated offers")
        ordering = ["-effective_time", "-id"]
        permissions = [("invalidate_dedicatedoffer", _("Can invalidate dedicated offers"))]
        indexes = [models.Index(fields=["partner", "status", "expire_time"])]
        constraints = [
            # A refused create keeps its row (and its error) without holding the name.
            models.UniqueConstraint(
                fields=["partner", "name"],
                condition=~models.Q(status="CREATE_FAILED"),
                name="offer_name_unique_per_partner",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_invalidating(self) -> bool:
        return self.status == self.Status.ACTIVE and self.invalidation_requested_at is not None

    def can_be_invalidated(self) -> bool:
        return self.status == self.Status.ACTIVE and not self.is_invalidating

    def _move(self, to: str) -> None:
        if to not in self.TRANSITIONS[self.Status(self.status)]:
            raise OfferStateError(f"Dedicated offer #{self.pk} cannot go from {self.status} to {to}.")
        self.status = to
        self.updated_at = timezone.now()

    def mark_created(self, offer_id: str) -> None:
        """The upstream created it as `offer_id`."""
        self._move(self.Status.ACTIVE)
        self.offer_id = str(offer_id)
        self.error_message = ""
        self.save(update_fields=["status", "offer_id", "error_message", "updated_at"])

    def mark_create_failed(self, message: str) -> None:
        self._move(self.Status.CREATE_FAILED)
        self.error_message = db_text(message)
        self.save(update_fields=["status", "error_message", "updated_at"])

    def request_invalidation(self, reason: str, by=None) -> None:
        """Ask the upstream to invalidate it; it shows "invalidating…" until the upstream confirms."""
        if not self.can_be_invalidated():
            raise OfferStateError(f"Dedicated offer #{self.pk} cannot be invalidated ({self.status}).")
        self.invalidation_reason = reason
        self.invalidation_requested_at = timezone.now()
        self.error_message = ""
        self.updated_at = timezone.now()
        self.save(
            update_fields=["invalidation_reason", "invalidation_requested_at", "error_message", "updated_at"]
        )

    def mark_invalidated(self) -> None:
        """The upstream confirmed the invalidation."""
        self._move(self.Status.INVALIDATED)
        self.invalidation_requested_at = None
        self.save(update_fields=["status", "invalidation_requested_at", "updated_at"])

    def invalidation_refused(self, message: str) -> None:
        """The upstream refused to invalidate it: it stays as it is, with the reason shown."""
        self.invalidation_requested_at = None
        self.error_message = db_text(message)
        self.updated_at = timezone.now()
        self.save(update_fields=["invalidation_requested_at", "error_message", "updated_at"])

    def mark_expired(self) -> None:
        self._move(self.Status.EXPIRED)
        self.invalidation_requested_at = None
        self.save(update_fields=["status", "invalidation_requested_at", "updated_at"])


class DiscountStateError(Exception):
    """A partner discount was asked to make a move its state machine does not allow."""


class PartnerDiscountQuerySet(PartnerScopedQuerySet):
    """Partner discounts by validity; `now` defaults to the current time."""

    def in_force_or_sending(self):
        return self.exclude(push_status=PartnerDiscount.Push.REFUSED)

    def not_yet_effective(self, now=None):
        return self.in_force_or_sending().filter(effective_time__gt=now or timezone.now())

    def effective(self, now=None):
        now = now or timezone.now()
        return self.in_force_or_sending().filter(effective_time__lte=now, expire_time__gt=now)

    def expired(self, now=None):
        return self.in_force_or_sending().filter(expire_time__lte=now or timezone.now())

    def expiring_within(self, days: int, now=None):
        now = now or timezone.now()
        return self.effective(now).filter(expire_time__lte=now + timedelta(days=days))


class PartnerDiscount(models.Model):
    """A partner-granted discount (设置折扣) of one customer, set in the portal and pushed upstream.

    One row per customer: setting it again changes the row (`revision` counts the changes, so that the answer
    to an older push never overwrites a newer change). Its push state:

        (set) pending ──upstream took it──▶ applied ──change──▶ pending …
                 └──refused──▶ refused  (a first discount), or back to the values in force before the
                                         change (applied, with the refusal shown)
        refused ──change──▶ pending

    Its validity is a matter of time alone: not yet effective, effective, or expired (see the queryset).
    """

    class Push(models.TextChoices):
        PENDING = "pending", _("Sending…")
        APPLIED = "applied", _("Applied")
        REFUSED = "refused", _("Refused")

    class Validity(models.TextChoices):
        PENDING = "pending", _("Not yet effective")
        EFFECTIVE = "effective", _("Effective")
        EXPIRED = "expired", _("Expired")

    TRANSITIONS = {
        Push.PENDING: {Push.PENDING, Push.APPLIED, Push.REFUSED},
        Push.APPLIED: {Push.PENDING},
        Push.REFUSED: {Push.PENDING},
    }

    partner = models.ForeignKey(
        Partner, verbose_name=_("partner"), on_delete=models.PROTECT, related_name="+"
    )
    customer = models.OneToOneField(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="partner_discount"
    )
    rate = models.DecimalField(_("discount rate"), max_digits=5, decimal_places=4)
    effective_time = models.DateTimeField(_("effective time"))
    expire_time = models.DateTimeField(_("expiry time"))
    push_status = models.CharField(
        _("push status"), max_length=16, choices=Push.choices, default=Push.PENDING
    )
    revision = models.PositiveIntegerField(_("revision"), default=1)
    # The values in force upstream before the change being pushed ({} for a first discount).
    previous = models.JSONField(_("previous values"), default=dict, blank=True)
    error_message = models.TextField(_("error"), blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    set_notified_at = models.DateTimeField(_("customer told"), null=True, blank=True)
    reminder_sent_at = models.DateTimeField(_("expiry reminder sent"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("last changed"), default=timezone.now)

    objects = PartnerDiscountQuerySet.as_manager()

    class Meta:
        verbose_name = _("partner discount")
        verbose_name_plural = _("partner discounts")
        ordering = ["-updated_at", "-id"]
        indexes = [
            models.Index(fields=["partner", "-updated_at"]),
            models.Index(fields=["partner", "expire_time"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rate__gt=0, rate__lte=1), name="partner_discount_rate_range"
            ),
            models.CheckConstraint(
                condition=models.Q(expire_time__gt=models.F("effective_time")),
                name="partner_discount_expiry_after_effective",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.rate}"

    def validity(self, now=None) -> str:
        now = now or timezone.now()
        if self.effective_time > now:
            return self.Validity.PENDING
        if self.expire_time <= now:
            return self.Validity.EXPIRED
        return self.Validity.EFFECTIVE

    def get_validity_display(self) -> str:
        return self.Validity(self.validity()).label

    @property
    def is_in_force(self) -> bool:
        """Applied upstream and effective now."""
        return self.push_status == self.Push.APPLIED and self.validity() == self.Validity.EFFECTIVE

    def _move(self, to: str) -> None:
        if to not in self.TRANSITIONS[self.Push(self.push_status)]:
            raise DiscountStateError(
                f"Partner discount #{self.pk} cannot go from {self.push_status} to {to}."
            )
        self.push_status = to
        self.updated_at = timezone.now()

    def values(self) -> dict:
        return {
            "rate": str(self.rate),
            "effective_time": self.effective_time.isoformat(),
            "expire_time": self.expire_time.isoformat(),
        }

    def change(self, *, rate, effective_time, expire_time, by=None) -> None:
        """Ask for new values (saved by the caller's service, with its outbox command)."""
        if self.pk and self.push_status == self.Push.APPLIED:
            self.previous = self.values()
        elif self.pk and self.push_status == self.Push.REFUSED:
            self.previous = {}
        if self.pk:
            self._move(self.Push.PENDING)
            self.revision += 1
        self.rate, self.effective_time, self.expire_time = rate, effective_time, expire_time
        self.requested_by = by
        self.error_message = ""
        self.set_notified_at = None
        self.reminder_sent_at = None
        self.updated_at = timezone.now()

    def mark_applied(self) -> None:
        self._move(self.Push.APPLIED)
        self.previous = {}
        self.error_message = ""
        self.save(update_fields=["push_status", "previous", "error_message", "updated_at"])

    def mark_refused(self, message: str) -> None:
        """The upstream refused the change: back to the values in force before it, if any."""
        self.error_message = db_text(message)
        if self.previous:
            from django.utils.dateparse import parse_datetime

            self._move(self.Push.APPLIED)
            self.rate = Decimal(self.previous["rate"])
            self.effective_time = parse_datetime(self.previous["effective_time"])
            self.expire_time = parse_datetime(self.previous["expire_time"])
            self.previous = {}
        else:
            self._move(self.Push.REFUSED)
        self.save(
            update_fields=[
                "push_status",
                "rate",
                "effective_time",
                "expire_time",
                "previous",
                "error_message",
                "updated_at",
            ]
        )


class AdjustmentQuerySet(PartnerScopedQuerySet):
    def for_partner(self, partner, *, include_resellers: bool = True):
        """A partner's adjustments: those its money paid, and those to it as a reseller (its distributor's
        allocations and reclaims), with its resellers' for a distributor."""
        if partner is None:
            return self.none()
        ids = partner.visible_partner_ids() if include_resellers else [partner.pk]
        return self.filter(models.Q(partner__in=ids) | models.Q(reseller__in=ids))


class AdjustmentStateError(Exception):
    """An adjustment was asked to make a move its state machine does not allow."""


class AdjustmentBatch(models.Model):
    """批量拨款 / 批量回收: one allocation or reclaim per row of a CSV, asked for together.

    Each row was checked when the batch was previewed, and is checked again by request_adjustment when the
    task billing.create_batch_adjustments asks for it, with the form token `batch-<id>-<line>`: a retried
    task makes no adjustment twice. `rows` keeps each row as submitted and what became of it (the
    adjustment's id, or the reason it was refused at that moment: the balance may have moved since):

        pending ──task picks it up──▶ creating ──every row asked for──▶ done
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        CREATING = "creating", _("Creating the adjustments")
        DONE = "done", _("All rows asked for")

    partner = models.ForeignKey(
        Partner, verbose_name=_("partner"), on_delete=models.PROTECT, related_name="adjustment_batches"
    )
    kind = models.CharField(
        _("type"), max_length=16, choices=[("allocate", _("Allocate")), ("reclaim", _("Reclaim"))]
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # [{"line", "customer" (pk), "customer_id", "amount" (a decimal string), "memo", "adjustment", "error"}]
    rows = models.JSONField(_("rows"), default=list)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(_("requested"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    objects = PartnerScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("adjustment batch")
        verbose_name_plural = _("adjustment batches")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} × {len(self.rows)}"

    @property
    def total(self) -> Decimal:
        return sum((Decimal(row["amount"]) for row in self.rows), Decimal(0))


class Adjustment(models.Model):
    """A fund adjustment the portal asked for: allocate (拨款) or reclaim (回收), pushed through the outbox.

    pending → sent → succeeded | failed; a send may be repeated (sent → sent) after the outbox found it was
    not applied upstream, and an operator may retry a failed one from the admin site (failed → sent).
    Above the partner's approval threshold (ApprovalPolicy, maker-checker) it starts as awaiting, holding its
    funds, until a second finance user or admin approves it (→ pending, and only then the outbox command)
    or rejects it (→ rejected, the funds released):

        awaiting ─approve─▶ pending ─▶ sent ─▶ succeeded | failed
            └──reject──▶ rejected
    """

    class Kind(models.TextChoices):
        ALLOCATE = "allocate", _("Allocate")
        RECLAIM = "reclaim", _("Reclaim")

    class Status(models.TextChoices):
        AWAITING = "awaiting", _("Waiting for approval")
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Sent")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        REJECTED = "rejected", _("Rejected")

    TRANSITIONS = {
        Status.AWAITING: {Status.PENDING, Status.REJECTED},
        Status.PENDING: {Status.SENT, Status.FAILED},
        Status.SENT: {Status.SENT, Status.SUCCEEDED, Status.FAILED},
        Status.FAILED: {Status.SENT},
        Status.SUCCEEDED: set(),
        Status.REJECTED: set(),
    }
    # Still holding its funds (what may be allocated or reclaimed next counts them).
    OPEN_STATUSES = (Status.AWAITING, Status.PENDING, Status.SENT)

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
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("approved or rejected by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("approved or rejected"), null=True, blank=True)
    batch = models.ForeignKey(
        AdjustmentBatch,
        verbose_name=_("batch"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="adjustments",
    )
    created_at = models.DateTimeField(_("requested"), default=timezone.now, db_index=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    objects = AdjustmentQuerySet.as_manager()

    class Meta:
        verbose_name = _("adjustment")
        verbose_name_plural = _("adjustments")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["partner", "status"]),
            models.Index(fields=["partner", "-created_at"]),
            # The records page shows an upstream record unless an adjustment carries its transaction id
            # (an anti-join per record) and its totals subtract those that do (migration 0009).
            models.Index(
                fields=["upstream_transaction_id"],
                condition=~models.Q(upstream_transaction_id=""),
                name="adjustment_trans_id_idx",
            ),
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
    def audit_label(self) -> str:
        """Names the adjustment in the audit log and pages without personal data: the customer's id."""
        who = self.customer.customer_id if self.customer_id else self.reseller.name
        return f"#{self.pk} {who}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    def error_display(self) -> str:
        """The refusal in the reader's language: the failure is stored as the upstream's code and text."""
        from upstream.errors import ERRORS_BY_CODE

        code, _sep, text = self.error_message.partition(": ")
        error = ERRORS_BY_CODE.get(code)
        if error is None:
            return self.error_message
        return f"{error.default_message} ({code}{': ' + text if text else ''})"

    @property
    def is_final(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED, self.Status.REJECTED)

    def may_be_decided_by(self, user) -> bool:
        """Maker-checker: another finance user or admin of the requester's partner."""
        return (
            self.status == self.Status.AWAITING
            and user.pk != self.requested_by_id
            and user.has_perm("billing.add_adjustment")
            and self.requested_by is not None
            and user.partner_id == self.requested_by.partner_id
        )

    def approve(self, user) -> None:
        """A second person agrees: it goes to the outbox (the caller writes the command alongside)."""
        self._move(self.Status.PENDING)
        self.decided_by, self.decided_at = user, timezone.now()
        self.save(update_fields=["status", "decided_by", "decided_at"])

    def reject(self, user, reason: str) -> None:
        """A second person refuses it: nothing is sent, its funds are released."""
        self._move(self.Status.REJECTED)
        now = timezone.now()
        self.decided_by, self.decided_at, self.finished_at = user, now, now
        self.error_message = db_text(reason)
        self.save(update_fields=["status", "decided_by", "decided_at", "finished_at", "error_message"])

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


class ReconciliationNote(models.Model):
    """A partner admin's explanation of one reconciliation mismatch (a transaction id that does not tie out).

    A mismatch explained is no longer flagged; the explanation is also an audit event. One per transaction.
    """

    partner = models.ForeignKey(
        Partner, verbose_name=_("partner"), on_delete=models.PROTECT, related_name="+"
    )
    trans_id = models.CharField(_("transaction ID"), max_length=128)
    note = models.TextField(_("explanation"))
    explained_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("explained by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    explained_at = models.DateTimeField(_("explained"), default=timezone.now)

    objects = PartnerScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("reconciliation note")
        verbose_name_plural = _("reconciliation notes")
        constraints = [
            models.UniqueConstraint(fields=["partner", "trans_id"], name="one_note_per_transaction")
        ]

    def __str__(self) -> str:
        return self.trans_id


class ApprovalPolicy(models.Model):
    """A partner's maker-checker setting: adjustments above the threshold wait for a second person.

    No row, or no threshold, means every adjustment is sent at once (the default).
    """

    partner = models.OneToOneField(
        Partner, verbose_name=_("partner"), on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    approval_threshold = models.DecimalField(
        _("approval threshold"),
        null=True,
        blank=True,
        help_text=_("Adjustments above this amount wait for a second finance user or admin. Empty: off."),
        **MONEY,
    )
    updated_at = models.DateTimeField(_("last changed"), default=timezone.now)

    class Meta:
        verbose_name = _("approval policy")
        verbose_name_plural = _("approval policies")

    def __str__(self) -> str:
        return f"{self.partner}: {self.approval_threshold or '—'}"

    @classmethod
    def threshold_for(cls, partner) -> Decimal | None:
        if partner is None:
            return None
        return cls.objects.filter(partner=partner).values_list("approval_threshold", flat=True).first()


class BalanceSnapshot(models.Model):
    """A resale customer's available amount as a day's balance sync last saw it: the history the runway
    (average daily spend, days until zero) is computed from. One row per customer and day."""

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="+"
    )
    day = models.DateField(_("day"))
    amount = models.DecimalField(_("available amount"), **MONEY)

    class Meta:
        verbose_name = _("balance of a day")
        verbose_name_plural = _("balance history")
        constraints = [models.UniqueConstraint(fields=["customer", "day"], name="one_balance_per_day")]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.day}: {self.amount}"
