"""Creating a new customer account (issue 14): the application, its rules, and its outbox command.

An application is written with the command that creates the account upstream (CreateSubCustomer), in one
transaction. The portal chooses the account name and sends its own id as `xaccount_id`, so that after a send
whose outcome is unknown the outbox looks the account up by that name before it creates anything again:
never two accounts. Two applications for one account name cannot both be open (a unique index on the
lower-cased name of the open and created ones): the second is refused before anything is sent.

The customer's contacts are verified before the application is written (ContactCode): the email by a code
the portal sends and checks itself; the mobile phone by an SMS the platform sends (SendVerificationMessageCode
scene 29) and checks when it creates the account (CreateSubCustomer's `mobile_phone` + `verification_code`).
The SMS code is kept on the application only until the command has been answered; the command's payload
holds no personal data (the handler reads the number from the application).

    creating ──created upstream──▶ created   (the customer row is written at once: it shows in the list)
        └─────refused upstream───▶ failed    (with the platform's message; the name is free again)
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from datetime import timedelta

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
from portal.lib import codes
from portal.lib.masking import mask_account_name, mask_email, mask_phone
from upstream.errors import ERRORS_BY_CODE, UpstreamError

log = logging.getLogger(__name__)

CREATE_SUB_CUSTOMER = "customers.create_sub_customer"
XACCOUNT_TYPE = "portal"

# The platform's rule for account names (CheckUserIdentity's, the stricter one: no leading "_").
ACCOUNT_NAME_RE = re.compile(r"^[A-Za-z-][A-Za-z0-9_-]{4,31}$")
RESERVED_PREFIXES = ("op_", "shadow_")
CHINA_MOBILE_RE = re.compile(r"^1[3-9][0-9]{9}$")  # the platform's: 11 digits, mainland China


class OnboardingError(Exception):
    def __init__(self, message: str, field: str = "account_name") -> None:
        super().__init__(message)
        self.message = message
        self.field = field  # the form field the message belongs to


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


# What may have regions under it: nothing (the provinces), a province (CN-13) or a city (CN-13-006).
REGION_PARENT_RE = re.compile(r"(CN-[0-9]{2}(-[0-9]{3})?)?", re.ASCII)
REGIONS_CACHE_SECONDS = 24 * 3600  # the region tree changes with the administrative divisions, rarely


def regions(parent: str = "") -> list[tuple[str, str]]:
    """(code, name) of the provinces (no parent), a province's cities or a city's counties, from the
    platform (ListProvinces / ListCities / ListCounties), cached for a day; [] when it cannot be asked."""
    from django.core.cache import cache

    from upstream.client import RetryPolicy, UpstreamClient

    if not REGION_PARENT_RE.fullmatch(parent):
        return []  # not a province or city code (posted by hand): nothing under it, and nothing asked
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


# --- the new customer's contacts, verified by a code --------------------------------------------------------


def _address_digest(channel: str, address: str) -> str:
    """The contact as the code row keeps it: a keyed hash (no personal data in one more table)."""
    key = settings.SECRET_KEY.encode()
    message = f"onboarding-contact:{channel}:{address.strip().lower()}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


class ContactCode(models.Model):
    """The latest code sent to a contact of the customer a staff member is creating, one per user and channel.

    Email: the portal's own 6-digit code, stored hashed, checked by the portal (STEP_UP_CODE_TTL,
    STEP_UP_MAX_ATTEMPTS tries). SMS: the platform sends and checks the code (CreateSubCustomer); the row
    records that a code went to that number and when (for the resend wait and the form's "send a code first").
    Either may be sent again after STEP_UP_RESEND_SECONDS, per user and per address.
    """

    class Channel(models.TextChoices):
        EMAIL = "email", _("Email")
        SMS = "sms", _("SMS")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    address_digest = models.CharField(max_length=64)
    code_hash = models.CharField(max_length=64, blank=True)
    sent_at = models.DateTimeField(default=timezone.now)
    valid_until = models.DateTimeField(null=True, blank=True)
    failed_attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("contact verification code")
        verbose_name_plural = _("contact verification codes")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "channel"], name="onboarding_one_contact_code_per_channel"
            )
        ]
        indexes = [models.Index(fields=["address_digest", "sent_at"], name="onboarding_code_address_idx")]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} #{self.pk}"


def contact_available(channel: str, address: str) -> bool | None:
    """Whether the platform would still register this email or mobile (CheckUserIdentity); None when it
    could not be asked."""
    from upstream.client import RetryPolicy, UpstreamClient

    search = ("email", address) if channel == ContactCode.Channel.EMAIL else ("mobile", f"0086-{address}")
    try:
        with UpstreamClient.from_settings(retry=RetryPolicy(attempts=1)) as client:
            return client.check_user_identity(*search).available
    except UpstreamError:
        return None


def _resend_wait(user, channel: str, digest: str) -> int:
    """Seconds before another code may go to this address (or from this user on this channel); 0 if now."""
    since = timezone.now() - timedelta(seconds=settings.STEP_UP_RESEND_SECONDS)
    recent = (
        ContactCode.objects.filter(channel=channel, sent_at__gt=since)
        .filter(models.Q(user=user) | models.Q(address_digest=digest))
        .order_by("-sent_at")
        .values_list("sent_at", flat=True)
        .first()
    )
    if recent is None:
        return 0
    return max(1, int(settings.STEP_UP_RESEND_SECONDS - (timezone.now() - recent).total_seconds()) + 1)


def send_contact_code(user, channel: str, address: str) -> None:
    """Send a code to the new customer's email (the portal's) or mobile (the platform's SMS), after checking
    the address is well formed, free on the platform and not sent a code just now. OnboardingError with a
    message for the form otherwise; nothing is sent then."""
    address = (address or "").strip()
    if channel == ContactCode.Channel.EMAIL:
        from django.core.exceptions import ValidationError
        from django.core.validators import validate_email

        try:
            validate_email(address)
        except ValidationError:
            raise OnboardingError(gettext("Enter a complete email address.")) from None
        if len(address) > 64:  # CheckUserIdentity's limit
            raise OnboardingError(gettext("An email address of at most 64 characters, please."))
    elif channel == ContactCode.Channel.SMS:
        if not CHINA_MOBILE_RE.match(address):
            raise OnboardingError(gettext("A mainland China mobile number: 11 digits, starting with 1."))
    else:
        raise OnboardingError(gettext("Choose email or mobile phone."))
    digest = _address_digest(channel, address)
    wait = _resend_wait(user, channel, digest)
    if wait:
        raise OnboardingError(
            gettext("A code was sent just now. You can ask again in %(s)d s.") % {"s": wait}
        )
    available = contact_available(channel, address)
    if available is None:
        raise OnboardingError(gettext("The cloud platform could not be asked now; try again in a moment."))
    if not available:
        raise OnboardingError(
            gettext("This email address is already registered on the cloud platform.")
            if channel == ContactCode.Channel.EMAIL
            else gettext("This mobile number cannot register another customer account.")
        )
    ttl = settings.STEP_UP_CODE_TTL
    minutes = max(1, int(ttl.total_seconds() // 60))
    if channel == ContactCode.Channel.SMS:
        _send_sms_code(address, minutes)  # the platform's SMS first: nothing is recorded if it fails
    with transaction.atomic():
        row, _created = ContactCode.objects.select_for_update().get_or_create(user=user, channel=channel)
        row.address_digest = digest
        row.sent_at = timezone.now()
        row.valid_until = row.sent_at + ttl
        row.failed_attempts = 0
        code = codes.new_code() if channel == ContactCode.Channel.EMAIL else ""
        row.code_hash = codes.code_digest("onboarding-code", row.pk, code) if code else ""
        row.save()
    if channel == ContactCode.Channel.EMAIL:
        from portal.lib.notifications import send_email

        send_email(
            address,
            "emails/onboarding_contact_code",
            {"code": code, "minutes": minutes, "partner_id": user.partner_id, "requested_by": user},
            tag="onboarding-contact-code",
        )
    else:
        _demo_outbox_sms(user, address, minutes)
    audit.record(
        "onboarding_contact_code_sent",
        actor=user,
        data={
            "contact": mask_email(address) if channel == ContactCode.Channel.EMAIL else mask_phone(address)
        },
    )


def _send_sms_code(mobile: str, minutes: int) -> None:
    """SendVerificationMessageCode (scene 29): the platform texts the number a code it checks itself."""
    from upstream.client import RetryPolicy, UpstreamClient
    from upstream.errors import TooManyVerificationCodes

    try:
        with UpstreamClient.from_settings(retry=RetryPolicy(attempts=1)) as client:
            client.send_verification_code(mobile, timeout_minutes=minutes, language=_sms_language())
    except TooManyVerificationCodes:
        raise OnboardingError(
            gettext("Too many verification codes were sent to this number; try again later.")
        ) from None
    except UpstreamError:
        raise OnboardingError(
            gettext("The cloud platform could not send the SMS now; try again in a moment.")
        ) from None


def _sms_language() -> str:
    from django.utils.translation import get_language

    return "en-us" if (get_language() or "").startswith("en") else "zh-cn"


def _demo_outbox_sms(user, mobile: str, minutes: int) -> None:
    """Demo mode against the bundled simulator: the SMS the platform "sent" shows in /dev/outbox/ (read from
    the simulator's GET /_sim/onboarding/verification-codes), so a person can play the customer."""
    if not (settings.PORTAL_DEMO and settings.UPSTREAM_IS_SIMULATOR):
        return
    import json
    import urllib.parse
    import urllib.request

    from django.template.loader import render_to_string
    from django.utils import translation

    from portal.lib.notifications import message_sent

    url = (
        f"{settings.UPSTREAM_ENDPOINT.rstrip('/')}/_sim/onboarding/verification-codes?"
        + urllib.parse.urlencode({"mobile_phone": mobile})
    )
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - the configured simulator
            codes = json.loads(response.read()).get("codes") or []
    except (OSError, ValueError):
        log.warning("Demo outbox: the simulator's SMS code could not be read")
        return
    if not codes:
        return
    with translation.override(settings.LANGUAGE_CODE):
        body = render_to_string(
            "emails/onboarding_contact_code_sms.txt", {"code": codes[0]["code"], "minutes": minutes}
        ).strip()
    message_sent.send(
        sender=_demo_outbox_sms,
        channel="sms",
        recipient=mobile,
        subject="",
        body=body,
        context={"partner_id": user.partner_id, "requested_by": user},
        tag="onboarding-contact-code",
    )


def email_code_problem(user, email: str, code: str, *, use: bool = False) -> str | None:
    """Why this email code does not verify `email` for this user (a wrong guess is counted), or None; with
    `use` (the application is being written, in its transaction) a right code is used up."""
    rows = ContactCode.objects.filter(user=user, channel=ContactCode.Channel.EMAIL)
    row = (rows.select_for_update() if use else rows).first()
    if row is None or row.address_digest != _address_digest(ContactCode.Channel.EMAIL, email or ""):
        return gettext("Send a code to this email address first.")
    if not row.code_hash or row.valid_until is None:
        return gettext("This code is used up. Ask for a new code.")
    if row.valid_until <= timezone.now():
        return gettext("The code has expired. Ask for a new code.")
    if row.failed_attempts >= settings.STEP_UP_MAX_ATTEMPTS:
        return gettext("Too many wrong codes. Ask for a new code.")
    if not codes.code_matches(row.code_hash, "onboarding-code", row.pk, code):
        ContactCode.objects.filter(pk=row.pk).update(failed_attempts=models.F("failed_attempts") + 1)
        return gettext("The code is wrong.")
    if use:
        ContactCode.objects.filter(pk=row.pk).update(code_hash="", valid_until=None)
    return None


def phone_code_problem(user, mobile: str, *, use: bool = False) -> str | None:
    """Why the SMS code typed for `mobile` cannot be right (no code was sent to it from this form, or it has
    expired), or None. The platform checks the code itself when it creates the account."""
    rows = ContactCode.objects.filter(user=user, channel=ContactCode.Channel.SMS)
    row = (rows.select_for_update() if use else rows).first()
    if row is None or row.address_digest != _address_digest(ContactCode.Channel.SMS, mobile or ""):
        return gettext("Send a code to this mobile number first.")
    if row.valid_until is None:
        return gettext("This code is used up. Ask for a new code.")
    if row.valid_until <= timezone.now():
        return gettext("The code has expired. Ask for a new code.")
    if use:
        ContactCode.objects.filter(pk=row.pk).update(valid_until=None)
    return None


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
    # The customer's contacts, each verified by a code before the application was written.
    contact_email = models.CharField(_("contact email"), max_length=254, blank=True)
    contact_phone = models.CharField(_("contact mobile phone"), max_length=32, blank=True)
    # The SMS code typed in the form, for CreateSubCustomer; cleared once the platform has answered.
    phone_code = models.CharField(max_length=8, blank=True, editable=False)
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
    error_code = models.CharField(max_length=32, blank=True, editable=False)  # the platform's, when it said
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
        return mask_account_name(self.account_name)

    @property
    def error_message(self) -> str:
        """Why the platform did not create the account, in the reader's language when the platform's error
        code is a known one (its own text otherwise)."""
        known = ERRORS_BY_CODE.get(self.error_code)
        return str(known.default_message) if known is not None else self.error

    @property
    def masked_contact_email(self) -> str:
        return mask_email(self.contact_email)

    @property
    def masked_contact_phone(self) -> str:
        return mask_phone(self.contact_phone)

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
        self.phone_code = ""
        self.save(update_fields=["status", "customer", "phone_code", "updated_at"])

    def mark_failed(self, error: str, error_code: str = "") -> None:
        self._move(self.Status.FAILED)
        self.error = error
        self.error_code = (error_code or "")[:32]
        self.phone_code = ""
        self.save(update_fields=["status", "error", "error_code", "phone_code", "updated_at"])


# --- the service --------------------------------------------------------------------------------------------


def apply_for_customer(user, data: dict) -> CustomerApplication:
    """Write the application and its command (one transaction); refused when the name is taken meanwhile."""
    from upstream.outbox import enqueue

    partner = user.partner
    problem = account_name_problem(data["account_name"])
    if problem:
        raise OnboardingError(problem)
    email, phone = data.get("contact_email") or "", data.get("contact_phone") or ""
    try:
        with transaction.atomic():
            # The contacts' codes are checked again and used up with the application (one transaction).
            if email and (problem := email_code_problem(user, email, data.get("email_code"), use=True)):
                raise OnboardingError(problem, field="email_code")
            if phone and (problem := phone_code_problem(user, phone, use=True)):
                raise OnboardingError(problem, field="phone_code")
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
                contact_email=email,
                contact_phone=phone,
                phone_code=(data.get("phone_code") or "") if phone else "",
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
                    "with_mobile": bool(phone),  # the number and its code are read from the application
                },
                partner_key=partner.upstream_id,
                obj=application,
            )
            audit.record(
                "customer_application_filed",
                actor=user,
                target=application,
                data={"email": mask_email(email), "phone": mask_phone(phone)},
            )
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
            "email": application.contact_email,
            "phone": application.contact_phone,
            "account_manager_id": application.account_manager_id,
            "verified_status": Customer.Verified.NONE,
            "customer_type": -1,
            "created_at": now,
            "updated_at": now,
        },
    )
    application.mark_created(customer)
    audit.record("customer_application_created", target=application, owner_partner=application.partner)


def application_failed(application_id: int, error: str, error_code: str = "") -> None:
    application = CustomerApplication.objects.select_for_update().filter(pk=application_id).first()
    if application is None or application.status != CustomerApplication.Status.CREATING:
        return
    application.mark_failed(error, error_code)
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
    mobile = code = None
    if payload.get("with_mobile"):
        mobile, code = (
            CustomerApplication.objects.filter(pk=payload["application_id"])
            .values_list("contact_phone", "phone_code")
            .get()
        )
    try:
        created = client.create_sub_customer(
            xaccount_id=payload["xaccount_id"],
            xaccount_type=XACCOUNT_TYPE,
            account_name=payload["account_name"],
            mobile_phone=mobile or None,
            verification_code=code or None,
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
    application_failed(
        int(command.object_id),
        str(getattr(error, "message", None) or error),
        getattr(error, "error_code", None) or "",
    )
