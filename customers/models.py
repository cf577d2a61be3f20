"""Customers mirrored from the upstream, their association history and the warnings about them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Partner
from accounts.tenancy import PartnerScopedQuerySet
from portal.lib.masking import redact


class AssociationType(models.TextChoices):
    REFERRAL = "1", _("Referral")
    RESALE = "2", _("Resale")


class CustomerQuerySet(PartnerScopedQuerySet):
    def associated(self):
        return self.filter(disassociated_at__isnull=True)

    def resale(self):
        return self.filter(association_type=AssociationType.RESALE)


class Customer(models.Model):
    """A partner's customer, mirrored from ListSubCustomers."""

    class Frozen(models.IntegerChoices):
        NO = 0, _("Not frozen")
        ACCOUNT = 1, _("Account frozen")
        ACCOUNT_AND_RESOURCES = 2, _("Account and resources frozen")

    class Verified(models.IntegerChoices):
        NONE = -1, _("Not verified")
        REVIEWING = 0, _("Under review")
        FAILED = 1, _("Verification failed")
        VERIFIED = 2, _("Verified")

    partner = models.ForeignKey(
        Partner, verbose_name=_("partner"), on_delete=models.PROTECT, related_name="customers"
    )
    customer_id = models.CharField(_("customer ID"), max_length=64, unique=True)
    name = models.CharField(_("customer name"), max_length=200, blank=True)
    account_name = models.CharField(_("account name"), max_length=100, blank=True, db_index=True)
    phone = models.CharField(_("mobile phone"), max_length=32, blank=True)
    email = models.CharField(_("email"), max_length=254, blank=True)
    country_code = models.CharField(_("country code"), max_length=8, blank=True)
    association_type = models.CharField(_("association type"), max_length=1, choices=AssociationType.choices)
    associated_on = models.DateTimeField(_("associated on"), null=True, blank=True)
    label = models.CharField(_("label"), max_length=200, blank=True)
    customer_level = models.CharField(_("customer level"), max_length=8, blank=True)
    verified_status = models.SmallIntegerField(
        _("verification"), null=True, blank=True, choices=Verified.choices
    )
    customer_type = models.SmallIntegerField(_("customer type"), null=True, blank=True)
    frozen_status = models.SmallIntegerField(_("frozen status"), default=0, choices=Frozen.choices)
    account_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("account manager"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="managed_customers",
    )
    upstream_account_manager = models.CharField(_("account manager upstream"), max_length=100, blank=True)
    # Set when the customer no longer appears upstream: kept, marked disassociated, never deleted.
    disassociated_at = models.DateTimeField(_("disassociated on"), null=True, blank=True)
    created_at = models.DateTimeField(_("first synced"), default=timezone.now)
    updated_at = models.DateTimeField(_("last changed"), default=timezone.now)

    objects = CustomerQuerySet.as_manager()

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["-associated_on", "id"]
        indexes = [
            models.Index(fields=["partner", "-associated_on"]),
            models.Index(fields=["partner", "association_type"]),
        ]
        permissions = [
            ("reveal_customer", _("Can reveal customers' personal data")),
            ("export_customer", _("Can export the customer list")),
            ("assign_account_manager", _("Can assign an account manager to a customer")),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.account_name})"

    @property
    def is_associated(self) -> bool:
        return self.disassociated_at is None

    @property
    def is_resale(self) -> bool:
        return self.association_type == AssociationType.RESALE


class CustomerRecord(models.Model):
    """A row the upstream keeps about one customer (an event, a warning, a record, a discount).

    It names the customer by its upstream id, so it is kept even when that customer is not (or no
    longer) mirrored; `customer` links it when it is. Subclasses may redeclare `customer` to name the
    reverse relation.
    """

    partner = models.ForeignKey(
        Partner, verbose_name=_("partner"), on_delete=models.PROTECT, related_name="+"
    )
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    customer_upstream_id = models.CharField(_("customer ID"), max_length=64, db_index=True)

    class Meta:
        abstract = True


class AssociationEvent(CustomerRecord):
    """An association, disassociation or switch of a customer, from the upstream records or the portal."""

    class Operation(models.TextChoices):
        ASSOCIATE = "ASSOCIATE", _("Associate")
        DISASSOCIATE = "DISASSOCIATE", _("Disassociate")
        SWITCH = "SWITCH", _("Switch association type")

    class Source(models.TextChoices):
        UPSTREAM = "upstream", _("Cloud platform")
        PORTAL = "portal", _("Portal")

    class Initiator(models.TextChoices):
        PARTNER = "PARTNER", _("Partner")
        CUSTOMER = "CUSTOMER", _("Customer")
        PLATFORM = "PLATFORM", _("Platform")

    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="events",
    )
    record_id = models.CharField(_("record ID"), max_length=64, null=True, blank=True, unique=True)
    operation = models.CharField(_("operation"), max_length=16, choices=Operation.choices)
    association_type = models.CharField(
        _("association type"), max_length=1, choices=AssociationType.choices, blank=True
    )
    from_association_type = models.CharField(
        _("previous association type"), max_length=1, choices=AssociationType.choices, blank=True
    )
    occurred_at = models.DateTimeField(_("operation time"), db_index=True)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices, default=Source.UPSTREAM)
    initiator = models.CharField(_("initiator"), max_length=16, choices=Initiator.choices, blank=True)
    initiated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("initiated by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
    )
    created_at = models.DateTimeField(_("recorded"), default=timezone.now)

    objects = PartnerScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("association event")
        verbose_name_plural = _("association events")
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["partner", "-occurred_at"])]

    def __str__(self) -> str:
        return f"{self.get_operation_display()} {self.customer_upstream_id} {self.occurred_at:%Y-%m-%d}"


class CustomerWarning(CustomerRecord):
    """A warning about a customer (churn, resource, balance, arrears), mirrored from the upstream."""

    class Category(models.TextChoices):
        CHURN = "CHURN", _("Churn")
        RESOURCE = "RESOURCE", _("Resource")
        BALANCE = "BALANCE", _("Balance")
        ARREARS = "ARREARS", _("Arrears")

    class Status(models.TextChoices):
        PENDING = "PENDING", _("Pending")
        HANDLED = "HANDLED", _("Handled")

    class Result(models.TextChoices):
        LOST = "LOST", _("Lost")
        NOT_LOST = "NOT_LOST", _("Not lost")
        HANDLED = "HANDLED", _("Handled")

    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="warnings",
    )
    warning_id = models.CharField(_("warning ID"), max_length=64, unique=True)
    scene_name = models.CharField(_("scene name"), max_length=100)
    category = models.CharField(_("category"), max_length=16, choices=Category.choices)
    title = models.CharField(_("title"), max_length=300)
    content = models.TextField(_("content"), blank=True)
    send_time = models.DateTimeField(_("send time"), db_index=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    handle_result = models.CharField(_("handling result"), max_length=16, choices=Result.choices, blank=True)
    handled_at = models.DateTimeField(_("handled at"), null=True, blank=True)
    handler = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("handled by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
    )
    remark = models.TextField(_("remark"), blank=True)
    # Handled in the portal and not yet confirmed upstream: the sync keeps the local status meanwhile.
    push_pending = models.BooleanField(_("waiting for the cloud platform"), default=False)
    handled_in_portal_at = models.DateTimeField(_("handled in the portal at"), null=True, blank=True)
    push_error = models.TextField(_("last push error"), blank=True)
    # Notifications sent about this warning (each is sent once).
    arrears_notified_at = models.DateTimeField(_("arrears email sent"), null=True, blank=True)
    digest_sent_at = models.DateTimeField(_("in a digest since"), null=True, blank=True)
    created_at = models.DateTimeField(_("first synced"), default=timezone.now)
    updated_at = models.DateTimeField(_("last changed"), default=timezone.now)

    objects = PartnerScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("customer warning")
        verbose_name_plural = _("customer warnings")
        ordering = ["-send_time", "-id"]
        indexes = [models.Index(fields=["partner", "status", "-send_time"])]
        permissions = [
            ("handle_warning", _("Can handle warnings of own customers")),
            ("view_all_warnings", _("Can see all warnings of the partner")),
        ]

    def __str__(self) -> str:
        return self.title

    def _personal_values(self) -> dict[str, str]:
        customer = self.customer if self.customer_id else None
        if customer is None:
            return {}
        return {
            "name": customer.name,
            "account_name": customer.account_name,
            "phone": customer.phone,
            "email": customer.email,
        }

    @property
    def masked_title(self) -> str:
        """The title with the customer's personal data masked (upstream titles quote the customer)."""
        return redact(self.title, self._personal_values())

    @property
    def masked_content(self) -> str:
        """The content with the customer's personal data masked."""
        return redact(self.content, self._personal_values())

    @property
    def is_pending(self) -> bool:
        return self.status == self.Status.PENDING

    def results(self) -> list[tuple[str, str]]:
        """The handling results this warning's category takes: churn lost / not lost, others handled."""
        if self.category == self.Category.CHURN:
            return [(r.value, r.label) for r in (self.Result.LOST, self.Result.NOT_LOST)]
        return [(self.Result.HANDLED.value, self.Result.HANDLED.label)]
