"""Creating a customer (issue 14): the form with its account-name check, and the application's progress."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import FileResponse, Http404
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import audit
from accounts.decorators import staff_required
from accounts.http import StaffRequest
from accounts.tenancy import get_for_user_or_404
from customers.onboarding import (
    ContactCode,
    CustomerApplication,
    OnboardingError,
    apply_for_customer,
    check_account_name,
    send_contact_code,
)
from customers.onboarding_forms import NewCustomerForm
from portal.lib.htmx import done, render_page
from portal.lib.masking import mask

CREATE = "customers.add_customerapplication"


@require_http_methods(["GET", "POST"])
@never_cache
@staff_required(perm=CREATE)
def customer_new(request: StaffRequest):
    form = NewCustomerForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            application = apply_for_customer(request.user, form.cleaned_data)
        except OnboardingError as error:
            form.add_error(error.field, error.message)
        else:
            return done(request, reverse("customers:application", args=[application.pk]))
    return render_page(request, "customers/onboarding_new.html", {"form": form})


@require_GET
@never_cache
@staff_required(perm=CREATE)
def account_name_check(request: StaffRequest):
    """The check as you type (htmx): a line under the account-name field."""
    name = (request.GET.get("account_name") or "").strip()
    available, message = check_account_name(name) if name else (None, "")
    return render_page(
        request, "customers/_account_name_check.html", {"available": available, "message": message}
    )


@require_POST
@never_cache
@staff_required(perm=CREATE)
def contact_code_send(request: StaffRequest):
    """The "Send code" button next to the contact email or mobile (htmx): a line saying it was sent, or why
    not."""
    channel = request.POST.get("channel")
    address = request.POST.get("contact_email" if channel == ContactCode.Channel.EMAIL else "contact_phone")
    ok, message = False, ""
    try:
        send_contact_code(request.user, channel or "", address or "")
    except OnboardingError as error:
        message = error.message
    else:
        ok = True
        minutes = max(1, int(settings.STEP_UP_CODE_TTL.total_seconds() // 60))
        message = (
            ngettext(
                "A code was sent to the email address. It is valid for %(n)d minute.",
                "A code was sent to the email address. It is valid for %(n)d minutes.",
                minutes,
            )
            if channel == ContactCode.Channel.EMAIL
            else ngettext(
                "The cloud platform sent a code to the mobile phone by SMS. It is valid for %(n)d minute.",
                "The cloud platform sent a code to the mobile phone by SMS. It is valid for %(n)d minutes.",
                minutes,
            )
        ) % {"n": minutes}
    return render_page(
        request,
        "customers/_contact_code_status.html",
        {"ok": ok, "message": message, "channel": channel if channel in ContactCode.Channel.values else ""},
    )


@require_GET
@staff_required(perm=CREATE)
def region_options(request: StaffRequest):
    """The <option>s of a city or county picker (htmx), for the province or city chosen above it."""
    from customers.onboarding import regions

    parent = request.GET.get("city") if "city" in request.GET else request.GET.get("province")
    options = regions(parent) if (parent or "").startswith("CN-") else []
    return render_page(request, "customers/_region_options.html", {"options": options})


@require_GET
@never_cache
@staff_required(perm=CREATE)
def application_detail(request: StaffRequest, application_pk: int):
    """Where the creation stands; polls (htmx) until the account is created or refused."""
    application = get_for_user_or_404(
        CustomerApplication.objects.select_related("customer"), request.user, pk=application_pk
    )
    if application.status == CustomerApplication.Status.CREATED and application.customer_id:
        messages.success(request, _("The customer account is created."))
        return done(request, reverse("customers:detail", args=[application.customer_id]))
    return render_page(
        request, "customers/onboarding_application.html", {"application": application}, partial="progress"
    )


# --- real-name verification ---------------------------------------------------------------------------------

VERIFY = "customers.add_realnameapplication"
DOCUMENT_FIELDS = ("licence", "id_front", "id_back")


def _customer(request, customer_pk: int):
    from customers.models import Customer

    return get_for_user_or_404(Customer.objects.select_related("partner"), request.user, pk=customer_pk)


@require_http_methods(["GET", "POST"])
@never_cache
@staff_required(perm=VERIFY)
def customer_verification(request: StaffRequest, customer_pk: int):
    """The customer's latest verification (its status refreshed from the platform) and, when none is under
    way, the form that submits one: personal or enterprise (`kind`). Every view of the documents is
    audited."""
    from customers import documents, realname
    from customers.onboarding_forms import VERIFICATION_FORMS

    customer = _customer(request, customer_pk)
    latest = realname.latest_for(customer)
    if latest is not None:
        realname.refresh_status(latest)
        audit.record("realname_documents_viewed", target=latest, request=request)
    may_submit = realname.may_submit(customer, latest)
    kind = (request.POST if request.method == "POST" else request.GET).get("kind")
    if kind not in VERIFICATION_FORMS:
        kind = realname.default_kind(customer, latest)
    form = None
    if may_submit:
        form = VERIFICATION_FORMS[kind](
            request.POST or None, request.FILES or None, user=request.user, customer=customer
        )
        if request.method == "POST" and form.is_valid():
            stored, storage, field = dict(form.pending), documents.documents_storage(), None
            fresh = []  # stored by this request: deleted again if the submission fails
            submit = realname.submit_personal if kind == "personal" else realname.submit_enterprise
            try:
                for field in form.document_fields:
                    upload = form.cleaned_data.get(field)
                    if upload:
                        stored[field] = documents.store_document(upload, upload.name, storage=storage)
                        fresh.append(stored[field])
                field = None
                submit(request.user, customer, form.cleaned_data, stored)
            except documents.DocumentInvalid as error:
                form.add_error(field, error)
            except realname.RealnameError as error:
                form.add_error(None, error.message)
            else:
                messages.success(request, _("The verification is submitted to the cloud platform."))
                return done(request, reverse("customers:verification", args=[customer.pk]))
            for doc in fresh:  # nothing is kept of a refused submission
                documents.delete_document(doc, storage=storage)
    elif request.method == "POST":
        messages.error(request, _("A verification of this customer is already under way."))
    context = {
        "customer": customer,
        "latest": latest,
        "form": form,
        "kind": kind,
        "document_links": _document_links(request, latest),
        "slots": _slots(request, form) if form is not None else [],
    }
    return render_page(request, "customers/onboarding_verification.html", context, partial="status")


def _slots(request, form) -> list[dict]:
    """The form's document slots, each with the thumbnail link of an upload already made for it."""
    slots = form.slots()
    for slot in slots:
        slot["thumb"] = _upload_thumb(request, slot["upload"])
    return slots


def _upload_thumb(request, upload) -> str:
    if upload is None or not upload.thumbnail_name:
        return ""
    return reverse("customers:document", args=[upload.signed_token(request.user, thumbnail=True)])


@require_POST
@never_cache
@staff_required(perm=VERIFY)
def document_upload(request: StaffRequest, customer_pk: int):
    """One document for a slot of the customer's next verification (drag and drop, static/js/upload.js):
    checked by its content and stored privately at once; answers with the slot's verdict (a thumbnail, the
    PDF's page count, or why the file was refused) as an HTML fragment. A refusal is a verdict too (200, like
    the account-name check): the browser's console stays clean."""
    from customers import documents, realname

    customer = _customer(request, customer_pk)
    upload, error = None, ""
    if not realname.may_submit(customer, realname.latest_for(customer)):
        error = _("A verification of this customer is already under way.")
    elif not request.FILES.get("file"):
        error = _("Choose a file.")
    else:
        try:
            upload = realname.add_upload(
                request.user, customer, request.POST.get("role", ""), request.FILES["file"]
            )
        except documents.DocumentInvalid as invalid:
            error = invalid.messages[0]
        except realname.RealnameError as refused:
            error = refused.message
    context = {"upload": upload, "thumb": _upload_thumb(request, upload), "error": error}
    return render_page(request, "customers/_upload_result.html", context)


def _document_links(request, application) -> list[dict]:
    if application is None:
        return []
    return [
        {
            "doc": doc,
            "url": reverse("customers:document", args=[doc.signed_token(request.user)]),
            "thumb": reverse("customers:document", args=[doc.signed_token(request.user, thumbnail=True)])
            if doc.thumbnail_name
            else "",
        }
        for doc in application.documents.all()
        if doc.purged_at is None
    ]


@require_GET
@never_cache
@staff_required(perm=VERIFY)
def document_download(request: StaffRequest, token: str):
    """A document through a signed link of this user's that lasts five minutes; audited; 404 for anyone
    else, another partner's staff included."""
    from django.core import signing

    from customers import realname

    try:
        data = signing.loads(token, salt=realname.DOWNLOAD_SALT, max_age=realname.DOWNLOAD_SECONDS)
    except signing.BadSignature:
        raise Http404 from None
    if data.get("u") != request.user.pk:
        raise Http404
    if "p" in data:  # an upload no application has taken yet: its uploader's, within the partner
        upload = get_for_user_or_404(
            realname.RealnameUpload.objects.select_related("customer"),
            request.user,
            pk=data["p"],
            uploaded_by=request.user,
        )
        audit.record(
            "realname_document_downloaded",
            target=upload.customer,
            target_label=mask("name", upload.customer.name),
            request=request,
            data={"document": realname.RealnameDocument.Role(upload.role).label},
        )
        return _file_response(upload.thumbnail_name if data.get("t") else upload.name, data.get("t"))
    doc = realname.RealnameDocument.objects.filter(pk=data.get("d")).first()
    if doc is None or doc.purged_at is not None:
        raise Http404
    get_for_user_or_404(realname.RealnameApplication, request.user, pk=doc.application_id)  # the owner only
    name = doc.thumbnail_name if data.get("t") else doc.name
    if not name:
        raise Http404
    audit.record(
        "realname_document_downloaded",
        target=doc.application,
        request=request,
        data={"document": realname.RealnameDocument.Role(doc.role).label},
    )
    return _file_response(name, data.get("t"))


def _file_response(name: str, thumbnail) -> FileResponse:
    from customers import documents

    if not name:
        raise Http404
    try:  # streamed from the store (file system or bucket), never a redirect to the store
        handle = documents.documents_storage().open(name, "rb")
    except FileNotFoundError:  # gone from the store (deleted behind the portal's back)
        raise Http404 from None
    response = FileResponse(handle, as_attachment=not thumbnail, filename=name.rsplit("/", 1)[-1])
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
