"""Creating a new customer account (issue 14): the application, its rules, and its outbox command.

An application is written with the command that creates the account upstream (CreateSubCustomer), in one
transaction. The portal chooses the account name and sends its own id as `xaccount_id`, so that after a send
whose outcome is unknown the outbox looks the account up by that name before it creates anything again:
never two accounts. Two applications for one account name cannot both be open (a unique index on the
lower-cased name of the open and created ones): the second is refused before anything is sent.

    creating ──created upstream──▶ created   (the customer row is written at once: it shows in the list)
        └─────refused upstream───▶ failed    (with the platform's message; the name is free again)
"""

from __future__ import annotations

import re

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts import audit
from accounts.models import Partner
from accounts.tenancy import PartnerScopedQuerySet
from customers.models import AssociationType, Customer
from upstream.errors import UpstreamError

CREATE_SUB_CUSTOMER = "customers.create_sub_customer"
XACCOUNT_TYPE = "portal"

# The platform's rule for account names (CheckUserIdentity's, the stricter one: no leading "_").
ACCOUNT_NAME_RE = re.compile(r"^[A-Za-z-][A-Za-z0-9_-]{4,31}$")
RESERVED_PREFIXES = ("op_", "shadow_")


class OnboardingError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def account_name_problem(name: str) -> str | None:
    """Why this account name cannot be used (format, or already taken here), or None."""
    if not ACCOUNT_NAME_RE.match(name or ""):
        return gettext("5 to 32 letters, digits, “_” or “-”, starting with a letter or “-”.")
    if name.lower().startswith(RESERVED_PREFIXES):
        return gettext("An account name cannot start with “op_” or “shadow_”.")
    if (
        Customer.objects.filter(account_name__iexact=name).exists()
        or CustomerApplication.objects.open_or_created().filter(account_name__iexact=name).exists()
    ):
        return gettext("This account name is taken.")
    return None


def check_account_name(name: str) -> tuple[bool | None, str]:
    """(available, message) for the form's check as you type: the portal's own rules and records first,
    then the platform (CheckUserIdentity); None when the platform could not be asked."""
    from upstream.client import RetryPolicy, UpstreamClient

    problem = account_name_problem(name)
    if problem:
        return False, problem
    try:
        with UpstreamClient.from_settings(retry=RetryPolicy(attempts=1)) as client:
            available = client.check_user_identity("name", name).available
    except UpstreamError:
        return None, gettext("The cloud platform could not be asked now; it checks the name when it creates.")
    if not available:
        return False, gettext("This account name is taken.")
    return True, gettext("This account name is available.")


REGIONS_CACHE_SECONDS = 24 * 3600  # the region tree changes with the administrative divisions, rarely


def regions(parent: str = "") -> list[tuple[str, str]]:
    """(code, name) of the provinces (no parent), a province's cities or a city's counties, from the
    platform (ListProvinces / ListCities / ListCounties), cached for a day; [] when it cannot be asked."""
    from django.core.cache import cache

    from upstream.client import RetryPolicy, UpstreamClient

    key = f"onboarding:regions:{parent or 'CN'}"
    found = cache.get(key)
    if found is not None:
        return found
    level = parent.count("-")  # "" → provinces, CN-13 → cities, CN-13-006 → counties
    try:
        with UpstreamClient.from_settings(retry=RetryPolicy(attempts=2, backoff_initial=0.2)) as client:
            if not parent:
                page = client.list_provinces()
            elif level == 1:
                page = client.list_cities(parent)
            else:
                page = client.list_counties(parent)
    except UpstreamError:
        return []
    found = [(region.code, region.name) for region in page.items]
    cache.set(key, found, REGIONS_CACHE_SECONDS)
    return found


class CustomerApplicationQuerySet(PartnerScopedQuerySet):
    def open_or_created(self):
        return self.exclude(status=CustomerApplication.Status.FAILED)


class CustomerApplication(models.Model):
    """A request to create a customer account upstream, and what became of it."""

    class Status(models.TextChoices):
        CREATING = "creating", _("Creating")
        CREATED = "created", _("Created")
        FAILED = "failed", _("Not created")

    TRANSITIONS = {Status.CREATING: {Status.CREATED, Status.FAILED}}

    partner = models.ForeignKey(
        Partner, verbose_name=_("partner"), on_delete=models.PROTECT, related_name="customer_applications"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    account_name = models.CharField(_("account name"), max_length=32)
    display_name = models.CharField(_("display name"), max_length=200, blank=True)
    association_type = models.CharField(
        _("association type"), max_length=1, choices=AssociationType.choices, default=AssociationType.RESALE
    )
    label = models.CharField(_("label"), max_length=200, blank=True)
    province_code = models.CharField(_("province"), max_length=16, blank=True)
    city_code = models.CharField(_("city"), max_length=24, blank=True)
    county_code = models.CharField(_("county"), max_length=32, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    account_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("account manager"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.CREATING)
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("last changed"), default=timezone.now)

    objects = CustomerApplicationQuerySet.as_manager()

    class Meta:
        verbose_name = _("customer application")
        verbose_name_plural = _("customer applications")
        constraints = [
            models.UniqueConstraint(
                Lower("account_name"),
                condition=~models.Q(status="failed"),
                name="customerapplication_open_name_uniq",
            )
        ]

    def __str__(self) -> str:
        return self.account_name

    @property
    def audit_label(self) -> str:
        return self.account_name

    @property
    def xaccount_id(self) -> str:
        return f"portal-application-{self.pk}"

    def _move(self, to: str) -> None:
        if to not in self.TRANSITIONS.get(self.status, set()):
            raise OnboardingError(gettext("This application is already closed."))
        self.status = to
        self.updated_at = timezone.now()

    def mark_created(self, customer: Customer) -> None:
        self._move(self.Status.CREATED)
        self.customer = customer
        self.save(update_fields=["status", "customer", "updated_at"])

    def mark_failed(self, error: str) -> None:
        self._move(self.Status.FAILED)
        self.error = error
        self.save(update_fields=["status", "error", "updated_at"])


# --- the service --------------------------------------------------------------------------------------------


def apply_for_customer(user, data: dict) -> CustomerApplication:
    """Write the application and its command (one transaction); refused when the name is taken meanwhile."""
    from upstream.outbox import enqueue

    partner = user.partner
    problem = account_name_problem(data["account_name"])
    if problem:
        raise OnboardingError(problem)
    try:
        with transaction.atomic():
            application = CustomerApplication.objects.create(
                partner=partner,
                created_by=user,
                account_name=data["account_name"],
                display_name=data.get("display_name") or "",
                association_type=data.get("association_type") or AssociationType.RESALE,
                label=data.get("label") or "",
                province_code=data.get("province") or "",
                city_code=data.get("city") or "",
                county_code=data.get("county") or "",
                address=data.get("address") or "",
                account_manager=data.get("account_manager"),
            )
            enqueue(
                CREATE_SUB_CUSTOMER,
                {
                    "application_id": application.pk,
                    "xaccount_id": application.xaccount_id,
                    "account_name": application.account_name,
                    "referral": application.association_type == AssociationType.REFERRAL,
                    "indirect_partner_id": partner.indirect_partner_id,
                },
                partner_key=partner.upstream_id,
                obj=application,
            )
            audit.record("customer_application_filed", actor=user, target=application)
    except IntegrityError:
        # Another application for this name was filed at the same moment (the unique index decided).
        raise OnboardingError(gettext("This account name is taken.")) from None
    return application


def application_created(application_id: int, customer_id: str) -> None:
    """The account exists upstream: mirror it now (the sync fills in the rest), close the application."""
    application = CustomerApplication.objects.select_for_update().filter(pk=application_id).first()
    if application is None or application.status != CustomerApplication.Status.CREATING:
        return
    now = timezone.now()
    customer, _created = Customer.objects.get_or_create(
        customer_id=customer_id,
        defaults={
            "partner_id": application.partner_id,
            "account_name": application.account_name,
            "name": application.display_name or application.account_name,
            "association_type": application.association_type,
            "associated_on": now,
            "label": application.label,
            "account_manager_id": application.account_manager_id,
            "verified_status": Customer.Verified.NONE,
            "customer_type": -1,
            "created_at": now,
            "updated_at": now,
        },
    )
    application.mark_created(customer)
    audit.record("customer_application_created", target=application, owner_partner=application.partner)


def application_failed(application_id: int, error: str) -> None:
    application = CustomerApplication.objects.select_for_update().filter(pk=application_id).first()
    if application is None or application.status != CustomerApplication.Status.CREATING:
        return
    application.mark_failed(error)
    audit.record(
        "customer_application_failed",
        target=application,
        owner_partner=application.partner,
        data={"error": error},
    )


# --- the outbox handler -------------------------------------------------------------------------------------


def _created_upstream(client, command) -> dict | None:
    """The account, when the upstream already has it among the partner's customers (by the exact name the
    portal chose); else None: not created, safe to send again."""
    payload = command.payload
    found = client.find_customer_by_account_name(
        payload["account_name"], indirect_partner_id=payload.get("indirect_partner_id")
    )
    if found is None or found.account_name.lower() != payload["account_name"].lower():
        return None
    return {"customer_id": found.customer_id, "account_name": found.account_name, "reconciled": True}


def send_create_sub_customer(client, command) -> dict:
    from customers.outbox import applied_despite_refusal

    payload = command.payload
    try:
        created = client.create_sub_customer(
            xaccount_id=payload["xaccount_id"],
            xaccount_type=XACCOUNT_TYPE,
            account_name=payload["account_name"],
            referral=payload.get("referral", False),
            indirect_partner_id=payload.get("indirect_partner_id"),
        )
    except UpstreamError as exc:
        # Refused ("xaccount_id already used", "name taken"): an earlier send that timed out may have made it.
        return applied_despite_refusal(exc, _created_upstream, client, command)
    return {"customer_id": created.customer_id, "account_name": created.account_name}


def on_created(command, result: dict) -> None:
    application_created(int(command.object_id), result["customer_id"])


def on_refused(command, error: Exception) -> None:
    application_failed(int(command.object_id), str(getattr(error, "message", None) or error))
