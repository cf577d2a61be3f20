"""Customers' resources and resource packages, mirrored from the upstream (issue 12).

The platform lists them per customer only, so the sync (customers/sync.py) reads them customer by customer,
a few times a day; the pages read the mirror: a customer's resources and packages, and "expiring within N
days" across all customers.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Partner
from accounts.tenancy import PartnerScopedQuerySet

# A package is "nearly used up" when one of its items has this share used, or more.
NEARLY_USED_UP = Decimal("0.8")
# "Expiring" without a number of days: within this many.
EXPIRING_DAYS = 30
# Units of package items (measure_id); an unknown one is shown without a unit.
MEASURE_UNITS = {4: _("hours"), 15: "Mbit/s", 17: "GB"}


class ResourceQuerySet(PartnerScopedQuerySet):
    def expiring_within(self, days: int, now=None):
        now = now or timezone.now()
        return self.filter(expire_time__gte=now, expire_time__lt=now + timedelta(days=days))


class Resource(models.Model):
    """A customer's resource: yearly/monthly (ListPayPerUseCustomerResources) or on demand."""

    class Charging(models.TextChoices):
        PERIOD = "period", _("Yearly/monthly")
        ON_DEMAND = "on_demand", _("Pay-per-use")

    # The platform's statuses differ by charging mode; the label is chosen by `status_label`.
    PERIOD_STATUSES = {2: _("In use"), 3: _("Closed"), 4: _("Frozen"), 5: _("Expired")}
    ON_DEMAND_STATUSES = {
        1: _("Normal"),
        2: _("Grace period"),
        3: _("Frozen"),
        4: _("Changing"),
        5: _("Closing"),
        6: _("Closed"),
    }

    partner = models.ForeignKey(
        Partner, verbose_name=_("partner"), on_delete=models.PROTECT, related_name="+"
    )
    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), on_delete=models.CASCADE, related_name="resources"
    )
    charging = models.CharField(_("charging mode"), max_length=16, choices=Charging.choices)
    resource_id = models.CharField(_("resource ID"), max_length=64)
    resource_name = models.CharField(_("resource name"), max_length=200, blank=True)
    region_code = models.CharField(_("region"), max_length=64, blank=True)
    service_type_name = models.CharField(_("service"), max_length=200, blank=True)
    resource_type_name = models.CharField(_("resource type"), max_length=200, blank=True)
    spec = models.CharField(_("specification"), max_length=400, blank=True)
    order_id = models.CharField(_("order ID"), max_length=64, blank=True)
    is_main_resource = models.BooleanField(_("main resource"), default=True)
    status = models.SmallIntegerField(_("status"), null=True)
    effective_time = models.DateTimeField(_("effective"), null=True, blank=True)
    expire_time = models.DateTimeField(_("expires"), null=True, blank=True)
    renews_itself = models.BooleanField(_("renews automatically"), default=False)
    updated_at = models.DateTimeField(_("last changed"), default=timezone.now)

    objects = ResourceQuerySet.as_manager()

    class Meta:
        verbose_name = _("resource")
        verbose_name_plural = _("resources")
        ordering = ["expire_time", "id"]
        constraints = [
            models.UniqueConstraint(fields=["charging", "resource_id"], name="one_resource_per_id")
        ]
        indexes = [
            models.Index(fields=["customer", "charging"], name="resource_customer_idx"),
            # "Expiring within N days", across a partner's customers.
            models.Index(
                fields=["partner", "expire_time"],
                name="resource_expiry_idx",
                condition=models.Q(charging="period"),
            ),
        ]

    def __str__(self) -> str:
        return self.resource_name or self.resource_id

    @property
    def status_label(self) -> str:
        labels = self.PERIOD_STATUSES if self.charging == self.Charging.PERIOD else self.ON_DEMAND_STATUSES
        return str(labels.get(self.status, "—"))


class PackageQuerySet(PartnerScopedQuerySet):
    def nearly_used_up(self):
        return self.filter(used_share__gte=NEARLY_USED_UP)

    def expiring_within(self, days: int = EXPIRING_DAYS, now=None):
        now = now or timezone.now()
        return self.filter(expire_time__gte=now, expire_time__lt=now + timedelta(days=days))


class ResourcePackage(models.Model):
    """A customer's resource package (资源包) and what is used of each of its items."""

    STATUSES = {
        0: _("Not yet effective"),
        1: _("Effective"),
        2: _("Used up"),
        3: _("Expired"),
        4: _("Unsubscribed"),
    }

    partner = models.ForeignKey(
        Partner, verbose_name=_("partner"), on_delete=models.PROTECT, related_name="+"
    )
    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), on_delete=models.CASCADE, related_name="packages"
    )
    package_id = models.CharField(_("package ID"), max_length=64, unique=True)  # order_instance_id
    order_id = models.CharField(_("order ID"), max_length=64, blank=True)
    product_name = models.CharField(_("product"), max_length=400, blank=True)
    service_type_name = models.CharField(_("service"), max_length=200, blank=True)
    region_code = models.CharField(_("region"), max_length=64, blank=True)
    status = models.SmallIntegerField(_("status"), null=True)
    effective_time = models.DateTimeField(_("effective"), null=True, blank=True)
    expire_time = models.DateTimeField(_("expires"), null=True, blank=True)
    # [{"name", "used", "total", "measure_id"}] per item; used_share: the most used item's share (0–1).
    items = models.JSONField(_("items"), default=list, blank=True)
    used_share = models.DecimalField(_("used"), max_digits=5, decimal_places=4, default=0)
    updated_at = models.DateTimeField(_("last changed"), default=timezone.now)

    objects = PackageQuerySet.as_manager()

    class Meta:
        verbose_name = _("resource package")
        verbose_name_plural = _("resource packages")
        ordering = ["expire_time", "id"]
        indexes = [models.Index(fields=["customer", "expire_time"], name="package_customer_idx")]

    def __str__(self) -> str:
        return self.product_name or self.package_id

    @property
    def status_label(self) -> str:
        return str(self.STATUSES.get(self.status, "—"))

    def usage(self) -> list[dict]:
        """Each item with its used percentage (for the bar)."""
        rows = []
        for item in self.items or []:
            total, used = Decimal(item["total"]), Decimal(item["used"])
            percent = int(used * 100 / total) if total > 0 else 0
            unit = MEASURE_UNITS.get(item.get("measure_id"), "")
            rows.append(
                {**item, "used": used, "total": total, "unit": unit, "percent": min(max(percent, 0), 100)}
            )
        return rows
