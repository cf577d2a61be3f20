"""Real-name verification of a customer (issue 14): an enterprise or a personal application with its
documents, its review status as the platform reports it, and audited, signed, short-lived downloads of the
documents.

Documents come either with the form (a plain multipart post) or ahead of it, one at a time (drag and drop:
a RealnameUpload, checked and stored at once, that the form names by its key); an application takes its
uploads over, and uploads nobody used are deleted after UPLOAD_HOURS.

Documents are checked by content and stored privately by customers/documents.py; their stored names are
their paths under the bucket's download/ folder, which is what the platform is sent. The application goes
upstream through the outbox; a send whose outcome is unknown is looked up (the customer's latest review: under
review or approved means it arrived) before it is sent again.

    submitted ──accepted upstream──▶ under review ──▶ approved
        │                                  └────────▶ rejected (with the platform's opinion; may resubmit)
        └──refused upstream──▶ refused (with the platform's message; may resubmit)
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts import audit
from accounts.tenancy import PartnerScopedQuerySet
from customers.models import Customer
from portal.lib.masking import mask
from upstream.errors import UpstreamError

SUBMIT_REALNAME = "customers.submit_realname"
DOWNLOAD_SALT = "customers.realname.download"
DOWNLOAD_SECONDS = 300  # a download link works for five minutes
UPLOAD_HOURS = 24  # a document uploaded ahead of its application is kept this long unless one takes it


class RealnameError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RealnameApplicationQuerySet(PartnerScopedQuerySet):
    pass


class RealnameApplication(models.Model):
    class Kind(models.TextChoices):
        ENTERPRISE = "enterprise", _("Enterprise")
        PERSONAL = "personal", _("Personal")

    class DocumentType(models.IntegerChoices):
        """CreatePersonalRealnameAuth's verified_type with identify_type 0 (the platform's documented
        values: the SDK's ApplyIndividualRealnameAuthsReq lists no mainland ID card)."""

        PASSPORT = 3, _("Passport")
        HK_MACAO_PERMIT = 5, _("Mainland Travel Permit for Hong Kong and Macao Residents")
        TAIWAN_PERMIT = 6, _("Mainland Travel Permit for Taiwan Residents")
        HK_MACAO_RESIDENCE = 9, _("Residence Permit for Hong Kong and Macao Residents")
        TAIWAN_RESIDENCE = 10, _("Residence Permit for Taiwan Residents")

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
    kind = models.CharField(_("type"), max_length=10, choices=Kind.choices, default=Kind.ENTERPRISE)
    corp_name = models.CharField(_("company name"), max_length=200, blank=True)
    # The enterprise's certificate number, or the person's document number (verified_number).
    certificate_number = models.CharField(_("certificate number"), max_length=64)
    representative = models.CharField(_("legal representative"), max_length=100, blank=True)
    representative_id = models.CharField(_("representative's ID number"), max_length=32, blank=True)
    name = models.CharField(_("name"), max_length=100, blank=True)  # a person's, as on the document
    document_type = models.PositiveSmallIntegerField(
        _("document type"), choices=DocumentType.choices, null=True, blank=True
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.SUBMITTED)
    opinion = models.TextField(_("opinion"), blank=True)
    created_at = models.DateTimeField(_("submitted"), default=timezone.now)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    # When the background status sync last asked the platform (refresh_open_reviews takes the oldest first).
    checked_at = models.DateTimeField(null=True, blank=True, editable=False)

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

    @property
    def is_personal(self) -> bool:
        return self.kind == self.Kind.PERSONAL

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
        DOC_FRONT = "doc_front", _("Document, front")
        DOC_BACK = "doc_back", _("Document, back")
        DOC_HELD = "doc_held", _("Photo holding the document")

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
# A person's document in the platform's documented order: front (a passport's personal data page), back (its
# entry stamp page), and the person holding the front.
PERSONAL_ROLE_ORDER = (
    RealnameDocument.Role.DOC_FRONT,
    RealnameDocument.Role.DOC_BACK,
    RealnameDocument.Role.DOC_HELD,
)


def _new_key() -> str:
    return secrets.token_hex(16)


class RealnameUploadQuerySet(PartnerScopedQuerySet):
    pass


class RealnameUpload(models.Model):
    """A document uploaded ahead of its application (drag and drop), already checked and stored; the form
    names it by its key. Only its uploader may use it, for the customer and the slot it was uploaded for."""

    key = models.CharField(max_length=32, unique=True, default=_new_key)
    partner = models.ForeignKey("accounts.Partner", on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    role = models.CharField(max_length=10, choices=RealnameDocument.Role.choices)
    name = models.CharField(max_length=255)  # in the documents storage
    thumbnail_name = models.CharField(max_length=255, blank=True)
    kind = models.CharField(max_length=8)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    pages = models.PositiveIntegerField(null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    display_name = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = RealnameUploadQuerySet.as_manager()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.get_role_display()

    def signed_token(self, user, *, thumbnail: bool = False) -> str:
        return signing.dumps({"p": self.pk, "u": user.pk, "t": int(thumbnail)}, salt=DOWNLOAD_SALT)


def add_upload(user, customer: Customer, role: str, upload) -> RealnameUpload:
    """Check and store one document for a slot of the customer's next application (DocumentInvalid when
    the file is not acceptable: nothing is stored). It replaces the user's earlier upload for that slot."""
    from customers import documents

    if role not in RealnameDocument.Role.values:
        raise RealnameError(gettext("Choose which document this is."))
    stored = documents.store_document(upload, getattr(upload, "name", None))
    try:
        pending, earlier = _record_upload(user, customer, role, stored)
    except BaseException:
        documents.delete_document(stored)  # nothing is kept of an upload that was not recorded
        raise
    _delete_files(earlier)
    return pending


def _record_upload(user, customer: Customer, role: str, stored) -> tuple[RealnameUpload, list]:
    with transaction.atomic():
        earlier = list(
            RealnameUpload.objects.select_for_update().filter(customer=customer, uploaded_by=user, role=role)
        )
        pending = RealnameUpload.objects.create(
            partner_id=customer.partner_id,
            customer=customer,
            uploaded_by=user,
            role=role,
            name=stored.name,
            thumbnail_name=stored.thumbnail_name or "",
            kind=stored.kind,
            size=stored.size,
            sha256=stored.sha256,
            pages=stored.pages,
            width=stored.width,
            height=stored.height,
            display_name=stored.display_name,
        )
        RealnameUpload.objects.filter(pk__in=[u.pk for u in earlier]).delete()
        audit.record(
            "realname_document_uploaded",
            actor=user,
            target=customer,
            target_label=mask("name", customer.name),
            data={"document": RealnameDocument.Role(role).label},
        )
    return pending, earlier


def pending_upload(user, customer: Customer, key: str, role: str) -> RealnameUpload | None:
    """The user's own upload for this customer and slot, by its key (None for anyone else's)."""
    if not key:
        return None
    return (
        RealnameUpload.objects.for_user(user)
        .filter(key=key, customer=customer, uploaded_by=user, role=role)
        .first()
    )


def _delete_files(uploads) -> None:
    from customers.documents import documents_storage

    storage = documents_storage()
    for upload in uploads:
        for name in (upload.name, upload.thumbnail_name):
            if name:
                storage.delete(name)


def purge_expired_uploads(*, now=None) -> int:
    """Delete the uploads no application took within UPLOAD_HOURS, with their files. Returns how many."""
    now = now or timezone.now()
    due = list(RealnameUpload.objects.filter(created_at__lt=now - timedelta(hours=UPLOAD_HOURS)))
    RealnameUpload.objects.filter(pk__in=[u.pk for u in due]).delete()
    _delete_files(due)
    return len(due)


# --- a person's document number -----------------------------------------------------------------------------

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_NUMBER_RULES = {
    # type: (pattern, message)
    3: (re.compile(r"^[A-Z0-9]{5,20}$"), _("5 to 20 letters or digits, as on the passport.")),
    5: (re.compile(r"^[HM][0-9]{8}([0-9]{2})?$"), _("H or M, then 8 or 10 digits.")),
    6: (re.compile(r"^[0-9]{8}([0-9]{2})?$"), _("8 or 10 digits.")),
    9: (re.compile(r"^8[12]0000[0-9]{11}[0-9X]$"), _("18 characters starting 810000 or 820000.")),
    10: (re.compile(r"^830000[0-9]{11}[0-9X]$"), _("18 characters starting 830000.")),
}


def id_checksum_ok(number: str) -> bool:
    """The check character of an 18-character resident ID number (GB 11643, also used by the residence
    permits of Hong Kong, Macao and Taiwan residents)."""
    if not re.fullmatch(r"[0-9]{17}[0-9X]", number):
        return False
    total = sum(int(digit) * weight for digit, weight in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17]


def document_number_problem(document_type, number: str) -> str | None:
    """Why this is not a number of that type of document (None when it is)."""
    try:
        pattern, message = _NUMBER_RULES[int(document_type)]
    except (KeyError, TypeError, ValueError):
        return gettext("Choose the type of document.")
    if not pattern.match(number or ""):
        return str(message)
    if int(document_type) in (9, 10) and not id_checksum_ok(number):
        return gettext("This number's check character is wrong; check it against the document.")
    return None


def latest_for(customer: Customer) -> RealnameApplication | None:
    return customer.realname_applications.prefetch_related("documents").first()


def may_submit(customer: Customer, latest: RealnameApplication | None) -> bool:
    """A customer may apply when not verified and its latest application (if any) was turned down."""
    if latest is not None:
        return latest.status in (RealnameApplication.Status.REJECTED, RealnameApplication.Status.REFUSED)
    return customer.verified_status != Customer.Verified.VERIFIED


def default_kind(customer: Customer, latest: RealnameApplication | None) -> str:
    """Personal or enterprise: the latest application's kind, else what the customer's type suggests."""
    if latest is not None:
        return latest.kind
    if customer.customer_type == 0:
        return RealnameApplication.Kind.PERSONAL
    return RealnameApplication.Kind.ENTERPRISE


def submit_enterprise(user, customer: Customer, data: dict, stored: dict) -> RealnameApplication:
    """Write the application with its (already stored) documents and the command that sends it upstream."""
    fields = {
        "kind": RealnameApplication.Kind.ENTERPRISE,
        "corp_name": data["corp_name"],
        "certificate_number": data["certificate_number"],
        "representative": data["representative"],
        "representative_id": data["representative_id"],
    }
    return _submit(user, customer, fields, stored, ROLE_ORDER)


def submit_personal(user, customer: Customer, data: dict, stored: dict) -> RealnameApplication:
    """A person's application: name, document type and number, and the document's three images in the
    platform's order (front, back, held in hand). RealnameError, with nothing written, on bad input."""
    name = (data.get("name") or "").strip()
    number = (data.get("document_number") or "").strip().upper()
    if not name:
        raise RealnameError(gettext("Enter the name as written on the document."))
    problem = document_number_problem(data.get("document_type"), number)
    if problem:
        raise RealnameError(problem)
    missing = [RealnameDocument.Role(role).label for role in PERSONAL_ROLE_ORDER if stored.get(role) is None]
    if missing:
        raise RealnameError(
            gettext("Add the missing image: %(documents)s.") % {"documents": ", ".join(map(str, missing))}
        )
    fields = {
        "kind": RealnameApplication.Kind.PERSONAL,
        "name": name,
        "document_type": int(data["document_type"]),
        "certificate_number": number,
    }
    return _submit(user, customer, fields, stored, PERSONAL_ROLE_ORDER)


def _submit(user, customer: Customer, fields: dict, stored: dict, roles) -> RealnameApplication:
    """The application, its documents (stored ones, or the user's uploads, which it takes over) and its
    outbox command, in one transaction."""
    from upstream.outbox import enqueue

    if customer.verified_status == Customer.Verified.VERIFIED:
        raise RealnameError(gettext("This customer is already verified."))
    with transaction.atomic():
        locked = Customer.objects.select_for_update().get(pk=customer.pk)
        if locked.realname_applications.filter(status__in=RealnameApplication.OPEN).exists():
            raise RealnameError(gettext("A verification of this customer is already under way."))
        application = RealnameApplication.objects.create(
            partner_id=customer.partner_id, customer=customer, submitted_by=user, **fields
        )
        for role in roles:
            doc = stored.get(role)
            if doc is None:
                continue
            if isinstance(doc, RealnameUpload):
                # Taken over once: the row goes, its files now belong to the document.
                taken, _rows = RealnameUpload.objects.filter(
                    pk=doc.pk, customer=customer, uploaded_by=user, role=role
                ).delete()
                if not taken:
                    raise RealnameError(
                        gettext("An uploaded document is no longer available; upload it again.")
                    )
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
                verified_status=Customer.Verified.VERIFIED,
                customer_type=0 if application.is_personal else 1,
                updated_at=timezone.now(),
            )
        elif to == RealnameApplication.Status.REJECTED:
            Customer.objects.filter(pk=application.customer_id).update(
                verified_status=Customer.Verified.FAILED, updated_at=timezone.now()
            )


def refresh_status(application: RealnameApplication, *, client=None) -> None:
    """Ask the platform for the review's result (a short read the user started, or the background sync with
    its own client); unchanged on errors."""
    from upstream.client import RetryPolicy, UpstreamClient

    if application.status != RealnameApplication.Status.REVIEWING:
        return
    try:
        if client is not None:
            review = client.show_realname_review(application.customer.customer_id)
        else:
            with UpstreamClient.from_settings(retry=RetryPolicy(attempts=1)) as own:
                review = own.show_realname_review(application.customer.customer_id)
    except UpstreamError:
        return
    apply_review(application, review.result, review.opinion)


REFRESH_PER_RUN = 100  # reviews asked about per run of the background sync (one read each)


def refresh_open_reviews(*, client=None, limit: int = REFRESH_PER_RUN, now=None) -> dict:
    """The background status sync: ask the platform about the verifications under review, of every partner
    (the real-name operations take the distributor's credentials for its resellers' customers too), the
    longest unchecked first, at most `limit` per run. Each is claimed first (a conditional UPDATE of its
    `checked_at`), so two workers never ask about the same one in a run.

    Submitted ones are left to the outbox: until their command has been answered the platform's latest review
    may be an earlier application's, and the outbox reads it itself before any resend."""
    from upstream.client import RetryPolicy, UpstreamClient

    now = now or timezone.now()
    due = list(
        RealnameApplication.objects.filter(status=RealnameApplication.Status.REVIEWING)
        .order_by(models.F("checked_at").asc(nulls_first=True), "pk")
        .values_list("pk", "checked_at")[:limit]
    )
    counts = {"checked": 0, "approved": 0, "rejected": 0}
    if not due:
        return counts
    own = None
    if client is None:
        own = client = UpstreamClient.from_settings(retry=RetryPolicy(attempts=2, backoff_initial=0.5))
    try:
        for pk, checked_at in due:
            if not RealnameApplication.objects.filter(
                pk=pk, status=RealnameApplication.Status.REVIEWING, checked_at=checked_at
            ).update(checked_at=now):
                continue  # another run took it
            application = RealnameApplication.objects.select_related("customer").get(pk=pk)
            refresh_status(application, client=client)
            counts["checked"] += 1
            if application.status in counts:  # decided: approved or rejected
                counts[application.status] += 1
    finally:
        if own is not None:
            own.close()
    return counts


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
        if application.is_personal:
            submission = client.create_personal_realname_auth(
                application.customer.customer_id,
                name=application.name,
                verified_number=application.certificate_number,
                files=files,
                xaccount_type=XACCOUNT_TYPE,
                document_type=application.document_type,
            )
            return {"needs_review": submission.needs_review}
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
