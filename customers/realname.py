"""Real-name verification of a customer (issue 14): an enterprise application with its documents, its review
status as the platform reports it, and audited, signed, short-lived downloads of the documents.

Documents are checked by content and stored privately by customers/documents.py; their stored names are
their paths under the bucket's download/ folder, which is what the platform is sent. The application goes
upstream through the outbox; a send whose outcome is unknown is looked up (the customer's latest review: under
review or approved means it arrived) before it is sent again.

    submitted ──accepted upstream──▶ under review ──▶ approved
        │                                  └────────▶ rejected (with the platform's opinion; may resubmit)
        └──refused upstream──▶ refused (with the platform's message; may resubmit)
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts import audit
from accounts.tenancy import PartnerScopedQuerySet
from customers.models import Customer
from upstream.errors import UpstreamError

SUBMIT_REALNAME = "customers.submit_realname"
DOWNLOAD_SALT = "customers.realname.download"
DOWNLOAD_SECONDS = 300  # a download link works for five minutes


class RealnameError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RealnameApplicationQuerySet(PartnerScopedQuerySet):
    pass


class RealnameApplication(models.Model):
    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("Submitted")
        REVIEWING = "reviewing", _("Under review")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        REFUSED = "refused", _("Not accepted")

    TRANSITIONS = {
        Status.SUBMITTED: {Status.REVIEWING, Status.APPROVED, Status.REJECTED, Status.REFUSED},
        Status.REVIEWING: {Status.APPROVED, Status.REJECTED},
    }
    OPEN = (Status.SUBMITTED, Status.REVIEWING)

    partner = models.ForeignKey(
        "accounts.Partner", verbose_name=_("partner"), on_delete=models.PROTECT, related_name="+"
    )
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="realname_applications"
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("submitted by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    corp_name = models.CharField(_("company name"), max_length=200)
    certificate_number = models.CharField(_("certificate number"), max_length=64)
    representative = models.CharField(_("legal representative"), max_length=100)
    representative_id = models.CharField(_("representative's ID number"), max_length=32)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.SUBMITTED)
    opinion = models.TextField(_("opinion"), blank=True)
    created_at = models.DateTimeField(_("submitted"), default=timezone.now)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)

    objects = RealnameApplicationQuerySet.as_manager()

    class Meta:
        verbose_name = _("real-name verification")
        verbose_name_plural = _("real-name verifications")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"],
                condition=models.Q(status__in=["submitted", "reviewing"]),
                name="realname_one_open_per_customer",
            )
        ]

    def __str__(self) -> str:
        return gettext("Verification #%(pk)s") % {"pk": self.pk}

    @property
    def audit_label(self) -> str:
        return str(self)

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN

    def move(self, to: str, *, opinion: str = "") -> None:
        if to not in self.TRANSITIONS.get(self.status, set()):
            raise RealnameError(gettext("This verification is already decided."))
        self.status = to
        if opinion:
            self.opinion = opinion
        if to in (self.Status.APPROVED, self.Status.REJECTED, self.Status.REFUSED):
            self.decided_at = timezone.now()
        self.save(update_fields=["status", "opinion", "decided_at"])


class RealnameDocument(models.Model):
    """One stored document of an application (customers/documents.py stored it; never a public URL)."""

    class Role(models.TextChoices):
        LICENCE = "licence", _("Business licence")
        ID_FRONT = "id_front", _("ID card, portrait side")
        ID_BACK = "id_back", _("ID card, emblem side")

    application = models.ForeignKey(RealnameApplication, on_delete=models.CASCADE, related_name="documents")
    role = models.CharField(_("document"), max_length=10, choices=Role.choices)
    name = models.CharField(max_length=255)  # in the documents storage
    thumbnail_name = models.CharField(max_length=255, blank=True)
    kind = models.CharField(max_length=8)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    pages = models.PositiveIntegerField(null=True, blank=True)
    display_name = models.CharField(max_length=255, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)  # its files deleted after the retention period

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.get_role_display()

    def signed_token(self, user, *, thumbnail: bool = False) -> str:
        return signing.dumps({"d": self.pk, "u": user.pk, "t": int(thumbnail)}, salt=DOWNLOAD_SALT)


ROLE_ORDER = (RealnameDocument.Role.LICENCE, RealnameDocument.Role.ID_FRONT, RealnameDocument.Role.ID_BACK)


def latest_for(customer: Customer) -> RealnameApplication | None:
    return customer.realname_applications.prefetch_related("documents").first()


def may_submit(customer: Customer, latest: RealnameApplication | None) -> bool:
    """A customer may apply when not verified and its latest application (if any) was turned down."""
    if latest is not None:
        return latest.status in (RealnameApplication.Status.REJECTED, RealnameApplication.Status.REFUSED)
    return customer.verified_status != Customer.Verified.VERIFIED


def submit_enterprise(user, customer: Customer, data: dict, stored: dict) -> RealnameApplication:
    """Write the application with its (already stored) documents and the command that sends it upstream."""
    from upstream.outbox import enqueue

    if customer.verified_status == Customer.Verified.VERIFIED:
        raise RealnameError(gettext("This customer is already verified."))
    with transaction.atomic():
        locked = Customer.objects.select_for_update().get(pk=customer.pk)
        if locked.realname_applications.filter(status__in=RealnameApplication.OPEN).exists():
            raise RealnameError(gettext("A verification of this customer is already under way."))
        application = RealnameApplication.objects.create(
            partner_id=customer.partner_id,
            customer=customer,
            submitted_by=user,
            corp_name=data["corp_name"],
            certificate_number=data["certificate_number"],
            representative=data["representative"],
            representative_id=data["representative_id"],
        )
        for role in ROLE_ORDER:
            doc = stored.get(role)
            if doc is not None:
                RealnameDocument.objects.create(
                    application=application,
                    role=role,
                    name=doc.name,
                    thumbnail_name=doc.thumbnail_name or "",
                    kind=doc.kind,
                    size=doc.size,
                    sha256=doc.sha256,
                    pages=doc.pages,
                    display_name=doc.display_name,
                )
        enqueue(
            SUBMIT_REALNAME,
            {"application_id": application.pk, "customer_id": customer.customer_id},
            partner_key=customer.partner.upstream_id,
            obj=application,
        )
        audit.record("realname_submitted", actor=user, target=application)
    return application


def apply_review(application: RealnameApplication, result: int | None, opinion: str) -> None:
    """Move the application to the platform's decision (0 under review, 1 rejected, 2 approved)."""
    to = {0: RealnameApplication.Status.REVIEWING, 1: RealnameApplication.Status.REJECTED}.get(
        result, RealnameApplication.Status.APPROVED if result == 2 else None
    )
    if to is None or to == application.status or not application.is_open:
        return
    with transaction.atomic():
        application.move(to, opinion=opinion)
        if to == RealnameApplication.Status.APPROVED:
            Customer.objects.filter(pk=application.customer_id).update(
                verified_status=Customer.Verified.VERIFIED, customer_type=1, updated_at=timezone.now()
            )
        elif to == RealnameApplication.Status.REJECTED:
            Customer.objects.filter(pk=application.customer_id).update(
                verified_status=Customer.Verified.FAILED, updated_at=timezone.now()
            )


def refresh_status(application: RealnameApplication) -> None:
    """Ask the platform for the review's result (a short read the user started); unchanged on errors."""
    from upstream.client import RetryPolicy, UpstreamClient

    if application.status != RealnameApplication.Status.REVIEWING:
        return
    try:
        with UpstreamClient.from_settings(retry=RetryPolicy(attempts=1)) as client:
            review = client.show_realname_review(application.customer.customer_id)
    except UpstreamError:
        return
    apply_review(application, review.result, review.opinion)


def purge_expired_documents(*, now=None) -> int:
    """Delete the stored files of approved verifications older than REALNAME_RETENTION_DAYS (the rows stay,
    marked purged, for the audit trail). Returns how many documents were purged."""
    from datetime import timedelta

    from customers.documents import documents_storage

    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.REALNAME_RETENTION_DAYS)
    due = RealnameDocument.objects.filter(
        purged_at__isnull=True,
        application__status=RealnameApplication.Status.APPROVED,
        application__decided_at__lt=cutoff,
    )
    storage, purged = documents_storage(), 0
    for doc in due.iterator():
        for name in (doc.name, doc.thumbnail_name):
            if name:
                storage.delete(name)
        RealnameDocument.objects.filter(pk=doc.pk).update(purged_at=now)
        purged += 1
    return purged


# --- the outbox handler -------------------------------------------------------------------------------------


def _application(command) -> RealnameApplication:
    return (
        RealnameApplication.objects.select_related("customer")
        .prefetch_related("documents")
        .get(pk=command.payload["application_id"])
    )


def _arrived(client, command) -> dict | None:
    """The review, when the platform has an application under review or approved for the customer."""
    review = client.show_realname_review(command.payload["customer_id"])
    if review.pending or review.approved:
        return {"result": review.result, "opinion": review.opinion, "reconciled": True}
    return None


def send_realname(client, command) -> dict:
    from customers.onboarding import XACCOUNT_TYPE
    from customers.outbox import applied_despite_refusal
    from upstream.types import LegalPerson

    application = _application(command)
    files = [d.name for d in application.documents.all()]
    try:
        submission = client.create_enterprise_realname_auth(
            application.customer.customer_id,
            certificate_type=0,
            corp_name=application.corp_name,
            verified_number=application.certificate_number,
            files=files,
            xaccount_type=XACCOUNT_TYPE,
            legal_person=LegalPerson(application.representative, application.representative_id)
            if len(files) == 3
            else None,
            reg_country="CN",
        )
    except UpstreamError as exc:
        return applied_despite_refusal(exc, _arrived, client, command)
    return {"needs_review": submission.needs_review}


def on_sent(command, result: dict) -> None:
    # Accepted: under review (a decision made at once is read by the next status refresh).
    apply_review(_application(command), 0, "")


def on_refused(command, error: Exception) -> None:
    application = _application(command)
    if application.status == RealnameApplication.Status.SUBMITTED:
        application.move(
            RealnameApplication.Status.REFUSED, opinion=str(getattr(error, "message", None) or error)
        )
