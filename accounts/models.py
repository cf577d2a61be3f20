"""Partners (tenants), staff users, the audit log, the message log and the email/SMS code device."""

from __future__ import annotations

import zoneinfo
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_otp.models import CooldownMixin, Device

from accounts.tenancy import PartnerScopedQuerySet
from portal.lib import codes

ROLE_ADMIN = "admin"
ROLE_FINANCE = "finance"
ROLE_SALES = "sales"
ROLE_VIEWER = "viewer"
ROLES = (ROLE_ADMIN, ROLE_FINANCE, ROLE_SALES, ROLE_VIEWER)
ROLE_LABELS = {
    ROLE_ADMIN: _("Administrator"),
    ROLE_FINANCE: _("Finance"),
    ROLE_SALES: _("Sales"),
    ROLE_VIEWER: _("Viewer"),
}


class PartnerQuerySet(models.QuerySet):
    def top_level(self):
        """Partners that hold the upstream credentials (distributors and solution providers)."""
        return self.filter(parent__isnull=True)


class Partner(models.Model):
    """A tenant: a distributor, one of its resellers, or a solution provider."""

    _resellers: list[tuple[int, str]] | None = None  # resellers_by_name, read once per instance

    class Tier(models.TextChoices):
        DISTRIBUTOR = "distributor", _("Distributor")
        RESELLER = "reseller", _("Reseller")
        SOLUTION_PROVIDER = "solution_provider", _("Solution provider")

    name = models.CharField(_("name"), max_length=200)
    tier = models.CharField(_("tier"), max_length=20, choices=Tier.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("distributor"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="resellers",
        limit_choices_to={"tier": "distributor"},
    )
    # The partner's id upstream: the domain id of a top partner, the indirect_partner_id of a reseller.
    upstream_id = models.CharField(_("upstream partner id"), max_length=64, unique=True)
    account_name = models.CharField(_("account name"), max_length=100, blank=True)
    email = models.EmailField(_("email"), blank=True)
    require_step_up = models.BooleanField(
        _("verification code for sensitive operations"),
        default=False,
        help_text=_(
            "Ask for a one-time code before adjustments, switches, disassociations and offer changes."
        ),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = PartnerQuerySet.as_manager()

    class Meta:
        verbose_name = _("partner")
        verbose_name_plural = _("partners")
        ordering = ["name"]
        permissions = [("manage_partner", _("Can change the partner's settings"))]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(tier="reseller", parent__isnull=False) | ~models.Q(tier="reseller")),
                name="reseller_has_distributor",
            ),
            models.CheckConstraint(
                condition=(models.Q(tier="reseller") | models.Q(parent__isnull=True)),
                name="only_resellers_have_parent",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def audit_label(self) -> str:
        """How the audit log names this partner (not personal data)."""
        return self.name

    @property
    def is_distributor(self) -> bool:
        return self.tier == self.Tier.DISTRIBUTOR

    @property
    def is_reseller(self) -> bool:
        return self.tier == self.Tier.RESELLER

    @property
    def indirect_partner_id(self) -> str | None:
        """What to pass upstream when acting for this partner: the reseller's id, or None for the top."""
        return self.upstream_id if self.is_reseller else None

    def visible_partner_ids(self) -> list[int]:
        """This partner and, for a distributor, its resellers: whose data its staff may see.

        Read once per instance (a request's user holds its partner): a list asks for it several times.
        """
        if not self.is_distributor:
            return [self.pk]
        return [self.pk, *(pk for pk, _name in self.resellers_by_name())]

    def resellers_by_name(self) -> list[tuple[int, str]]:
        """A distributor's resellers as (pk, name), by name (none for others): one query per instance, which
        the scope filters and visible_partner_ids share."""
        if not self.is_distributor:
            return []
        if self._resellers is None:
            self._resellers = list(self.resellers.order_by("name").values_list("pk", "name"))
        return list(self._resellers)


def unshown_staff_columns(path: str) -> list[str]:
    """For `.defer(*…)`: the columns of a staff user joined at `path` that lists do not show (they show its
    username): not read, not converted, not in a cached fragment's key (a fifth of a list's rows' columns)."""
    shown = {"id", "username", "partner"}
    return [f"{path}__{field.name}" for field in User._meta.concrete_fields if field.name not in shown]


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("%(value)s is not a known time zone."), params={"value": value})


class User(AbstractUser):
    """A member of a partner's staff; the role is one of the groups admin/finance/sales/viewer."""

    partner = models.ForeignKey(
        Partner,
        verbose_name=_("partner"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="staff",
    )
    phone = models.CharField(_("mobile phone"), max_length=32, blank=True)
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="Asia/Shanghai", validators=[validate_time_zone]
    )
    notify_warning_digest = models.BooleanField(_("daily digest of new warnings"), default=True)
    notify_arrears = models.BooleanField(_("immediate email for arrears warnings"), default=True)
    # Emails and text messages to this user are written in this language, whoever triggers them.
    language = models.CharField(
        _("language of emails"), max_length=10, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE
    )

    class Meta:
        verbose_name = _("staff user")
        verbose_name_plural = _("staff users")
        ordering = ["username"]

    @property
    def role(self) -> str | None:
        """The user's role (the first of ROLES among its groups), or None."""
        if not hasattr(self, "_role_cache"):
            names = {g.name for g in self.groups.all()}
            self._role_cache = next((r for r in ROLES if r in names), None)
        return self._role_cache

    @property
    def role_label(self) -> str:
        if self.role is None:
            return str(_("Superuser")) if self.is_superuser else ""
        return str(ROLE_LABELS[self.role])

    def has_role(self, *roles: str) -> bool:
        return self.role in roles

    @property
    def is_partner_admin(self) -> bool:
        return self.role == ROLE_ADMIN

    @property
    def can_start_sync(self) -> bool:
        """May queue a sync now (the sync page's button and its view): an admin of the top partner, the one
        holding the upstream credentials, who may see sync runs."""
        return (
            self.is_active
            and self.is_partner_admin
            and self.partner_id is not None
            and self.partner.parent_id is None
            and self.has_perm("upstream.view_syncrun")
        )


class AuditEventQuerySet(PartnerScopedQuerySet):
    def for_partner(self, partner: Partner | None, *, include_resellers: bool = True):
        """Events by this partner's staff, and events about objects it owns (e.g. its distributor's
        actions on its customers); for a distributor, its resellers' too."""
        if partner is None:
            return self.none()
        ids = partner.visible_partner_ids() if include_resellers else [partner.pk]
        return self.filter(models.Q(partner__in=ids) | models.Q(owner_partner__in=ids))

    def update(self, **kwargs):
        raise TypeError("Audit events are immutable.")

    def delete(self):
        raise TypeError("Audit events are immutable.")


class AuditEvent(models.Model):
    """An immutable record of a sensitive action: who did what to which object, when, from where."""

    # The actor's partner (who did it) and the partner that owns the target (whose object it was): they
    # differ when a distributor acts on a reseller's customer, and both partners see the event.
    partner = models.ForeignKey(
        Partner, null=True, blank=True, on_delete=models.PROTECT, verbose_name=_("partner")
    )
    owner_partner = models.ForeignKey(
        Partner,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("owner of the object"),
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, verbose_name=_("actor")
    )
    actor_label = models.CharField(_("actor name"), max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=64, db_index=True)
    target_type = models.CharField(_("object type"), max_length=64, blank=True)
    target_id = models.CharField(_("object id"), max_length=64, blank=True)
    # An English note for operators; users read `message`, rendered in their language from action + data.
    summary = models.CharField(_("summary"), max_length=300, blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    created_at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["partner", "-created_at"]),
            models.Index(fields=["owner_partner", "-created_at"]),
            models.Index(fields=["target_type", "target_id"]),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise TypeError("Audit events are immutable.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Audit events are immutable.")

    @property
    def action_label(self) -> str:
        """The action's name in the active language."""
        from accounts.audit import action_label

        return action_label(self.action)

    @property
    def message(self) -> str:
        """What happened, in the active language (e.g. "handled the warning: Lost")."""
        from accounts.audit import describe

        return describe(self)

    @property
    def object_label(self) -> str:
        """The object as a person reads it (e.g. "Customer 张**"), in the active language."""
        from accounts.audit import object_label

        return object_label(self)


class Message(models.Model):
    """A record of every email and SMS the portal sent (the demo outbox shows these)."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("Email")
        SMS = "sms", _("SMS")

    partner = models.ForeignKey(
        Partner, null=True, blank=True, on_delete=models.SET_NULL, verbose_name=_("partner")
    )
    # The staff user it was sent to: the outbox shows each user only their own messages.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("user"),
    )
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    recipient = models.CharField(_("to"), max_length=254, db_index=True)
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    body = models.TextField(_("body"))
    tag = models.CharField(_("kind"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("sent"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["-created_at", "-id"]
        permissions = [("view_outbox", _("Can read the demo message outbox"))]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} → {self.recipient}: {self.subject or self.body[:40]}"


class MessageCodeDevice(CooldownMixin, Device):
    """A django-otp device that sends a 6-digit code by email or SMS; the code is stored hashed.

    A code is valid STEP_UP_CODE_TTL, allows STEP_UP_MAX_ATTEMPTS tries, is used once, and a new one can be
    requested after STEP_UP_RESEND_SECONDS.
    """

    class Channel(models.TextChoices):
        EMAIL = "email", _("Email")
        SMS = "sms", _("SMS")

    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    code_hash = models.CharField(max_length=64, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    failed_attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("email/SMS code device")
        verbose_name_plural = _("email/SMS code devices")
        constraints = [
            models.UniqueConstraint(fields=["user", "channel"], name="one_code_device_per_channel")
        ]

    def get_cooldown_duration(self) -> int:
        return settings.STEP_UP_RESEND_SECONDS

    def destination(self) -> str:
        return self.user.email if self.channel == self.Channel.EMAIL else self.user.phone

    def new_code(self) -> str:
        """Store the hash of a fresh code (resetting the tries) and return the code itself."""
        code = codes.new_code()
        self.code_hash = codes.code_digest("step-up", self.pk, code)
        self.valid_until = timezone.now() + settings.STEP_UP_CODE_TTL
        self.failed_attempts = 0
        self.cooldown_set(commit=False)
        self.save()
        return code

    def has_live_code(self) -> bool:
        return bool(self.code_hash) and self.valid_until is not None and self.valid_until > timezone.now()

    def verify_is_allowed(self):
        if self.failed_attempts >= settings.STEP_UP_MAX_ATTEMPTS:
            return False, {"error_message": _("Too many wrong codes. Ask for a new code.")}
        return super().verify_is_allowed()

    def verify_token(self, token) -> bool:
        allowed, _data = self.verify_is_allowed()
        if not allowed or not self.has_live_code():
            return False
        if codes.code_matches(self.code_hash, "step-up", self.pk, str(token)):
            self.code_hash = ""
            self.valid_until = None
            self.failed_attempts = 0
            self.last_generated_timestamp = None
            self.save()
            return True
        self.failed_attempts += 1
        self.save(update_fields=["failed_attempts"])
        return False

    def seconds_until_resend(self) -> int:
        allowed, data = self.generate_is_allowed()
        if allowed:
            return 0
        return max(1, int((data["next_generation_at"] - timezone.now()) / timedelta(seconds=1)))
