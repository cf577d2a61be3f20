"""Creating a customer (issue 14): the form with its account-name check, and the application's progress."""

from __future__ import annotations

from django.contrib import messages
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from accounts import audit
from accounts.decorators import staff_required
from accounts.http import StaffRequest
from accounts.tenancy import get_for_user_or_404
from customers.onboarding import CustomerApplication, OnboardingError, apply_for_customer, check_account_name
from customers.onboarding_forms import NewCustomerForm
from portal.lib.htmx import done, render_page

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
            form.add_error("account_name", error.message)
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
    way, the form that submits one. Every view of the documents is audited."""
    from customers import documents, realname
    from customers.onboarding_forms import EnterpriseVerificationForm

    customer = _customer(request, customer_pk)
    latest = realname.latest_for(customer)
    if latest is not None:
        realname.refresh_status(latest)
        audit.record("realname_documents_viewed", target=latest, request=request)
    may_submit = realname.may_submit(customer, latest)
    form = None
    if may_submit:
        form = EnterpriseVerificationForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            stored, storage = {}, documents.documents_storage()
            try:
                for field in DOCUMENT_FIELDS:
                    upload = form.cleaned_data[field]
                    stored[field] = documents.store_document(upload, upload.name, storage=storage)
                realname.submit_enterprise(request.user, customer, form.cleaned_data, stored)
            except documents.DocumentInvalid as error:
                form.add_error(field, error)
            except realname.RealnameError as error:
                form.add_error(None, error.message)
            else:
                messages.success(request, _("The verification is submitted to the cloud platform."))
                return done(request, reverse("customers:verification", args=[customer.pk]))
            for doc in stored.values():  # nothing is kept of a refused submission
                documents.delete_document(doc, storage=storage)
    elif request.method == "POST":
        messages.error(request, _("A verification of this customer is already under way."))
    context = {
        "customer": customer,
        "latest": latest,
        "form": form,
        "document_links": _document_links(request, latest),
    }
    return render_page(request, "customers/onboarding_verification.html", context, partial="status")


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
    from django.http import FileResponse, Http404

    from customers import documents, realname

    try:
        data = signing.loads(token, salt=realname.DOWNLOAD_SALT, max_age=realname.DOWNLOAD_SECONDS)
    except signing.BadSignature:
        raise Http404 from None
    if data.get("u") != request.user.pk:
        raise Http404
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
    handle = documents.documents_storage().open(name, "rb")
    response = FileResponse(handle, as_attachment=not data.get("t"), filename=name.rsplit("/", 1)[-1])
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
