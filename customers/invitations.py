"""Inviting an existing customer (issue 14): a signed, single-use link the partner emails, the customer's
agreement with a code, and the outbox command that associates the account upstream.

    sent ──the customer agrees (code)──▶ accepted ──associated upstream──▶ associated  (the customer row is
      │                                      └──────refused upstream────▶ failed       written at once)
      ├──past its expiry──▶ expired
      └──the partner revokes──▶ revoked

The link carries a signed token (salted) naming the invitation and its nonce; it works only while the
invitation is `sent` and not past `expires_at` (INVITATION_TTL_DAYS): anything else shows one clear page and
changes nothing. The platform has no public API for the association (AcceptPartnerInvitation is **ext**);
the portal's own id goes with it as `invitation_id`, so a resend gives the same result, and after a send whose
outcome is unknown the outbox looks the account up among the partner's customers before sending again.
"""

from __future__ import annotations

import hmac
import re
import secrets
from functools import partial

from django.conf import settings
from django.core import signing
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts import audit
from accounts.models import Partner
from accounts.tenancy import PartnerScopedQuerySet
from customers.models import AssociationType, Customer
from portal.lib import codes
from portal.lib.masking import mask
from portal.lib.notifications import send_email
from upstream.errors import UpstreamError
from upstream.types import format_time

ACCEPT_INVITATION = "customers.accept_invitation"
INVITE_SALT = "customers.invitation"
ACCOUNT_NAME_RE = re.compile(r"^[A-Za-z_-][A-Za-z0-9_-]{4,31}$")  # the platform's account names

# What the customer is told when the platform refuses (AcceptPartnerInvitation's codes, docs/upstream.md).
FAILURES = {
    "CBC.99000040": _("No cloud account has this account name."),
    "CBC.99000041": _("This account is already associated with a partner."),
    "CBC.99000042": _(
        "This account left its partner of its own accord in the last 3 months and cannot associate again yet."
    ),
}


class InvitationError(Exception):
    """A refused step; the message is for the user (staff or customer)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadInvitation(Exception):
    """The link does not lead to an invitation that can be accepted; `reason` says which page to show."""

    def __init__(self, reason: str, invitation: Invitation | None = None) -> None:
        super().__init__(reason)
        self.reason = reason  # invalid, expired, used, revoked
        self.invitation = invitation


class InvitationQuerySet(PartnerScopedQuerySet):
    pass


class Invitation(models.Model):
    """A partner's invitation to an existing account to associate with it."""

    class Status(models.TextChoices):
        SENT = "sent", _("Sent, awaiting the customer")
        ACCEPTED = "accepted", _("Accepted, associating")
        ASSOCIATED = "associated", _("Associated")
        FAILED = "failed", _("Not associated")
        EXPIRED = "expired", _("Expired")
        REVOKED = "revoked", _("Revoked")

    TRANSITIONS = {
        Status.SENT: {Status.ACCEPTED, Status.EXPIRED, Status.REVOKED},
        Status.ACCEPTED: {Status.ASSOCIATED, Status.FAILED},
    }

    partner = models.ForeignKey(
        Partner, verbose_name=_("partner"), on_delete=models.PROTECT, related_name="invitations"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("invited by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    email = models.CharField(_("email"), max_length=254)
    account_name_hint = models.CharField(_("account name (if known)"), max_length=32, blank=True)
    association_type = models.CharField(
        _("association type"), max_length=1, choices=AssociationType.choices, default=AssociationType.RESALE
    )
    language = models.CharField(_("message language"), max_length=8, choices=settings.LANGUAGES)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.SENT)
    token_nonce = models.CharField(max_length=32, default="", blank=True)
    created_at = models.DateTimeField(_("sent"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires"))
    used_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    account_name = models.CharField(_("account name"), max_length=32, blank=True)
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    error_code = models.CharField(_("error code"), max_length=32, blank=True)
    error = models.TextField(_("error"), blank=True)
    code_hash = models.CharField(max_length=64, blank=True)
    code_sent_at = models.DateTimeField(null=True, blank=True)
    code_valid_until = models.DateTimeField(null=True, blank=True)
    code_failures = models.PositiveSmallIntegerField(default=0)
    updated_at = models.DateTimeField(_("last changed"), default=timezone.now)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["partner", "-created_at"], name="invitation_partner_idx")]

    def __str__(self) -> str:
        return f"#{self.pk} {mask('email', self.email)}"

    @property
    def audit_label(self) -> str:
        return str(self)

    @property
    def invitation_id(self) -> str:
        """The portal's id of the invitation upstream (AcceptPartnerInvitation's idempotency key)."""
        return f"portal-invitation-{self.pk}"

    @property
    def masked_email(self) -> str:
        return mask("email", self.email)

    def is_expired(self, now=None) -> bool:
        return self.status == self.Status.SENT and self.expires_at <= (now or timezone.now())

    @property
    def shown_status(self) -> str:
        """The status as lists show it: a sent invitation past its expiry is expired, marked or not."""
        return self.Status.EXPIRED.label if self.is_expired() else self.get_status_display()

    @property
    def failure_message(self) -> str:
        if self.status != self.Status.FAILED:
            return ""
        known = FAILURES.get(self.error_code)
        return str(known) if known else gettext("The cloud platform did not associate the account.")

    def move(self, to: str) -> None:
        if to not in self.TRANSITIONS.get(self.status, set()):
            raise InvitationError(gettext("This invitation can no longer be used."))
        self.status = to
        self.updated_at = timezone.now()


# --- the link -----------------------------------------------------------------------------------------------


def invitation_token(invitation: Invitation) -> str:
    return signing.dumps({"i": invitation.pk, "n": invitation.token_nonce}, salt=INVITE_SALT, compress=True)


def invitation_link(invitation: Invitation) -> str:
    return f"{settings.SITE_URL}{reverse('confirm:invite', args=[invitation_token(invitation)])}"


def invitation_for_token(token: str, *, usable: bool = True) -> Invitation:
    """The invitation a link names; BadInvitation when tampered with, or (usable) no longer open: expired
    (marked so now), used or revoked."""
    try:
        data = signing.loads(
            token, salt=INVITE_SALT, max_age=settings.INVITATION_TTL + settings.INVITATION_TTL
        )
        pk, nonce = int(data["i"]), str(data["n"])
    except signing.SignatureExpired:
        raise BadInvitation("expired") from None
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise BadInvitation("invalid") from None
    invitation = Invitation.objects.select_related("partner").filter(pk=pk).first()
    if invitation is None or not nonce or not hmac.compare_digest(invitation.token_nonce, nonce):
        raise BadInvitation("invalid")
    if not usable:
        return invitation
    if invitation.is_expired():
        expire(invitation.pk)
        raise BadInvitation("expired", invitation)
    if invitation.status == Invitation.Status.REVOKED:
        raise BadInvitation("revoked", invitation)
    if invitation.status == Invitation.Status.EXPIRED:
        raise BadInvitation("expired", invitation)
    if invitation.status != Invitation.Status.SENT:
        raise BadInvitation("used", invitation)
    return invitation


# --- the partner's side -------------------------------------------------------------------------------------


def _locked(invitation_pk: int) -> Invitation | None:
    return Invitation.objects.select_for_update().select_related("partner").filter(pk=invitation_pk).first()


def _send_invitation(invitation_pk: int) -> None:
    invitation = Invitation.objects.select_related("partner", "created_by").get(pk=invitation_pk)
    context = {
        "partner_name": invitation.partner.name,
        "association_type": invitation.get_association_type_display,
        "link": invitation_link(invitation),
        "expires_at": invitation.expires_at,
        "partner_id": invitation.partner_id,  # the partner's admins see it in the demo outbox
    }
    send_email(
        invitation.email,
        "emails/customer_invitation",
        context,
        tag="invitation",
        language=invitation.language,
    )


def invite(
    user, *, email: str, association_type: str, language: str, account_name_hint: str = ""
) -> Invitation:
    """Write the invitation and email its link (after the commit)."""
    now = timezone.now()
    with transaction.atomic():
        invitation = Invitation.objects.create(
            partner=user.partner,
            created_by=user,
            email=email.strip(),
            account_name_hint=account_name_hint.strip(),
            association_type=association_type,
            language=language,
            token_nonce=secrets.token_hex(16),
            created_at=now,
            expires_at=now + settings.INVITATION_TTL,
            updated_at=now,
        )
        audit.record(
            "invitation_sent",
            actor=user,
            target=invitation,
            data={"association_type": invitation.association_type},
        )
        transaction.on_commit(partial(_send_invitation, invitation.pk))
    return invitation


def revoke(user, invitation: Invitation) -> Invitation:
    with transaction.atomic():
        locked = _locked(invitation.pk)
        if locked.is_expired():
            raise InvitationError(gettext("This invitation has expired already."))
        locked.move(Invitation.Status.REVOKED)
        locked.save(update_fields=["status", "updated_at"])
        audit.record("invitation_revoked", actor=user, target=locked)
    return locked


def expire(invitation_pk: int) -> None:
    with transaction.atomic():
        locked = _locked(invitation_pk)
        if locked is not None and locked.is_expired():
            locked.move(Invitation.Status.EXPIRED)
            locked.save(update_fields=["status", "updated_at"])
            audit.record("invitation_expired", target=locked, owner_partner=locked.partner)


def expire_invitations(now=None) -> int:
    """Mark the sent invitations past their expiry (the links already refuse them)."""
    due = Invitation.objects.filter(status=Invitation.Status.SENT, expires_at__lte=now or timezone.now())
    pks = list(due.values_list("pk", flat=True))
    for pk in pks:
        expire(pk)
    return len(pks)


# --- the customer's code ------------------------------------------------------------------------------------


def send_code(invitation: Invitation) -> None:
    """A fresh 6-digit code to the invitation's email; refused within the resend wait."""
    with transaction.atomic():
        locked = _locked(invitation.pk)
        if locked.status != Invitation.Status.SENT or locked.is_expired():
            raise InvitationError(gettext("This invitation can no longer be used."))
        now = timezone.now()
        if locked.code_sent_at is not None and locked.code_hash:
            wait = settings.STEP_UP_RESEND_SECONDS - (now - locked.code_sent_at).total_seconds()
            if wait > 0:
                raise InvitationError(
                    gettext("A code was sent just now. You can ask again in %(s)d s.") % {"s": int(wait) + 1}
                )
        code = codes.new_code()
        locked.code_hash = codes.code_digest("invitation-code", locked.pk, code)
        locked.code_sent_at = now
        locked.code_valid_until = now + settings.STEP_UP_CODE_TTL
        locked.code_failures = 0
        locked.save(update_fields=["code_hash", "code_sent_at", "code_valid_until", "code_failures"])
        context = {
            "code": code,
            "minutes": max(1, int(settings.STEP_UP_CODE_TTL.total_seconds() // 60)),
            "partner_id": locked.partner_id,
        }
        transaction.on_commit(
            partial(
                send_email,
                locked.email,
                "emails/association_code",
                context,
                tag="invitation-code",
                language=locked.language,
            )
        )


def _use_code(invitation: Invitation, code: str, *, consume: bool = True) -> bool:
    """On the locked row: True (and the code is used up, unless `consume` is false) when it matches;
    STEP_UP_MAX_ATTEMPTS wrong tries invalidate it."""
    now = timezone.now()
    if not invitation.code_hash or invitation.code_valid_until is None or invitation.code_valid_until <= now:
        return False
    if codes.code_matches(invitation.code_hash, "invitation-code", invitation.pk, code):
        if consume:
            invitation.code_hash = ""
            invitation.code_valid_until = None
        return True
    invitation.code_failures += 1
    if invitation.code_failures >= settings.STEP_UP_MAX_ATTEMPTS:
        invitation.code_hash = ""
        invitation.code_valid_until = None
    return False


# --- accepting ----------------------------------------------------------------------------------------------


def account_problem(invitation: Invitation, account_name: str) -> str | None:
    """Why this account cannot accept the invitation, as far as the portal and the platform tell before
    anything is sent: a malformed name, one of the portal's associated customers, no such account."""
    from upstream.client import RetryPolicy, UpstreamClient

    if not ACCOUNT_NAME_RE.match(account_name or ""):
        return gettext("5 to 32 letters, digits, “_” or “-”, starting with a letter, “_” or “-”.")
    if Customer.objects.filter(account_name__iexact=account_name, disassociated_at__isnull=True).exists():
        return str(FAILURES["CBC.99000041"])
    try:
        with UpstreamClient.from_settings(retry=RetryPolicy(attempts=1)) as client:
            exists = not client.check_user_identity("name", account_name).available
    except UpstreamError:
        return None  # the platform could not be asked: the association itself checks
    if not exists:
        return str(FAILURES["CBC.99000040"])
    return None


def accept(invitation: Invitation, *, account_name: str, code: str) -> Invitation:
    """The customer agrees: the code checked, the invitation used up and its command written (one
    transaction). InvitationError with a message for the customer otherwise; nothing changes but a wrong
    code's count."""
    from upstream.outbox import enqueue

    account_name = (account_name or "").strip()
    # The code first: what the portal or the platform know of an account name is told only to whoever holds
    # the code sent to the invitation's email (a forwarded link alone cannot probe account names). Checked
    # here without using it up, so that a mistyped account name does not cost the customer a new code.
    with transaction.atomic():
        locked = _locked(invitation.pk)
        if locked.status != Invitation.Status.SENT or locked.is_expired():
            raise InvitationError(gettext("This invitation can no longer be used."))
        matches = _use_code(locked, code, consume=False)
        if not matches:
            locked.save(update_fields=["code_hash", "code_valid_until", "code_failures"])
    if not matches:  # after the commit, so the counted failure stays
        raise InvitationError(gettext("That code is wrong or has expired. Ask for a new one."))
    problem = account_problem(invitation, account_name)
    if problem:
        raise InvitationError(problem)
    with transaction.atomic():
        locked = _locked(invitation.pk)
        if locked.status != Invitation.Status.SENT or locked.is_expired():
            raise InvitationError(gettext("This invitation can no longer be used."))
        if not _use_code(locked, code):
            locked.save(update_fields=["code_hash", "code_valid_until", "code_failures"])
            wrong = True
        else:
            wrong = False
            now = timezone.now()
            locked.move(Invitation.Status.ACCEPTED)
            locked.used_at = now
            locked.account_name = account_name
            locked.save()
            enqueue(
                ACCEPT_INVITATION,
                {
                    "invitation_id": locked.invitation_id,
                    "account_name": account_name,
                    "association_type": locked.association_type,
                    "customer_confirmed_at": format_time(now),
                    "indirect_partner_id": locked.partner.indirect_partner_id,
                },
                partner_key=locked.partner.upstream_id,
                obj=locked,
            )
            audit.record(
                "invitation_accepted",
                target=locked,
                owner_partner=locked.partner,
                data={"account": mask("account_name", account_name)},
            )
    if wrong:  # after the commit, so the counted failure stays
        raise InvitationError(gettext("That code is wrong or has expired. Ask for a new one."))
    return locked


def invitation_associated(invitation_pk: int, customer_id: str) -> None:
    """The account is associated upstream: mirror it now (the sync fills in the rest); close the
    invitation."""
    invitation = _locked(invitation_pk)
    if invitation is None or invitation.status != Invitation.Status.ACCEPTED:
        return
    now = timezone.now()
    customer, created = Customer.objects.select_for_update().get_or_create(
        customer_id=customer_id,
        defaults={
            "partner_id": invitation.partner_id,
            "account_name": invitation.account_name,
            "name": invitation.account_name,
            "association_type": invitation.association_type,
            "associated_on": now,
            "verified_status": Customer.Verified.NONE,
            "customer_type": -1,
            "created_at": now,
            "updated_at": now,
        },
    )
    if not created:  # a customer that had left (another partner's once): associated again, with us
        customer.partner_id = invitation.partner_id
        customer.association_type = invitation.association_type
        customer.associated_on = now
        customer.disassociated_at = None
        customer.label = ""
        customer.account_manager = None
        customer.updated_at = now
        customer.save(
            update_fields=[
                "partner",
                "association_type",
                "associated_on",
                "disassociated_at",
                "label",
                "account_manager",
                "updated_at",
            ]
        )
    invitation.move(Invitation.Status.ASSOCIATED)
    invitation.customer = customer
    invitation.save(update_fields=["status", "customer", "updated_at"])
    audit.record("invitation_associated", target=invitation, owner_partner=invitation.partner)


def invitation_failed(invitation_pk: int, error: Exception) -> None:
    invitation = _locked(invitation_pk)
    if invitation is None or invitation.status != Invitation.Status.ACCEPTED:
        return
    invitation.move(Invitation.Status.FAILED)
    invitation.error_code = (getattr(error, "error_code", None) or "")[:32]
    invitation.error = str(getattr(error, "message", None) or error)[:2000]
    invitation.save(update_fields=["status", "error_code", "error", "updated_at"])
    audit.record(
        "invitation_failed",
        target=invitation,
        owner_partner=invitation.partner,
        data={"error_code": invitation.error_code},
    )


# --- the outbox handler -------------------------------------------------------------------------------------


def _associated_upstream(client, command) -> dict | None:
    """The account, when the upstream already lists it among the partner's customers with the association
    type asked for; else None: not associated, safe to send again."""
    payload = command.payload
    found = client.find_customer_by_account_name(
        payload["account_name"], indirect_partner_id=payload.get("indirect_partner_id")
    )
    if found is None or found.association_type != payload["association_type"]:
        return None
    return {"customer_id": found.customer_id, "account_name": found.account_name, "reconciled": True}


def send_accept_invitation(client, command) -> dict:
    from customers.outbox import applied_despite_refusal

    payload = command.payload
    try:
        accepted = client.accept_partner_invitation(
            invitation_id=payload["invitation_id"],
            account_name=payload["account_name"],
            association_type=payload["association_type"],
            customer_confirmed_at=payload["customer_confirmed_at"],
            indirect_partner_id=payload.get("indirect_partner_id"),
        )
    except UpstreamError as exc:
        # Refused "already associated": an earlier send that timed out may have associated it with us.
        return applied_despite_refusal(exc, _associated_upstream, client, command)
    return {
        "customer_id": accepted.customer_id,
        "account_name": accepted.account_name,
        "record_id": accepted.record_id,
    }


def on_associated(command, result: dict) -> None:
    invitation_associated(int(command.object_id), result["customer_id"])


def on_refused(command, error: Exception) -> None:
    invitation_failed(int(command.object_id), error)
