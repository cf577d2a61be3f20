"""The discount pages (/billing/discounts/): partner-granted and commercial discounts, dedicated offers.

Three tabs, one template (billing/discounts.html); the forms (set a discount for one or several customers,
create an offer, invalidate one) share billing/discount_forms.html. The rules are the services'
(billing/services.py); a refusal is shown on the form and changes nothing.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from accounts import audit
from accounts.decorators import staff_required
from accounts.http import StaffRequest
from accounts.tenancy import get_for_user_or_404
from billing import services
from billing.discount_filters import CommercialDiscountFilter, OfferFilter, PartnerDiscountFilter
from billing.forms import BulkDiscountForm, DiscountForm, InvalidateOfferForm, OfferForm, add_service_error
from billing.models import CommercialDiscount, DedicatedOffer, PartnerDiscount
from customers.models import Customer
from portal.lib import lists
from portal.lib.htmx import done, render_page
from portal.lib.masking import mask
from portal.lib.text import csv_response

TABS = (
    ("partner", _("Partner discounts"), "billing:discounts", "billing.view_partnerdiscount"),
    (
        "commercial",
        _("Commercial discounts"),
        "billing:commercial-discounts",
        "billing.view_commercialdiscount",
    ),
    ("offers", _("Dedicated offers"), "billing:offers", "billing.view_dedicatedoffer"),
)
FORM_TEMPLATE = "billing/discount_forms.html"


def _tabs(user) -> list[tuple[str, str, str]]:
    return [(key, label, reverse(url)) for key, label, url, perm in TABS if user.has_perm(perm)]


def _render_list(request, tab: str, filterset, **extra):
    page = lists.paginate(request, lists.filtered(request, filterset))
    context = {
        "tab": tab,
        "tabs": _tabs(request.user),
        "filter": filterset,
        "list_url": request.path,
        "query": request.GET.urlencode(),
        **extra,
        **lists.page_context(request, page),
    }
    return render_page(request, "billing/discounts.html", context, partial="table")


# --- partner-granted discounts ----------------------------------------------------------------------------


def _partner_discounts(user):
    return (
        PartnerDiscount.objects.for_user(user)
        .select_related("customer", "partner", "requested_by")
        .order_by("-updated_at", "-id")
    )


@require_GET
@staff_required(perm="billing.view_partnerdiscount")
def discount_list(request: StaffRequest):
    """Partner-granted discounts (设置折扣), filtered by customer, status and expiry."""
    filterset = PartnerDiscountFilter(
        request.GET or None, queryset=_partner_discounts(request.user), request=request
    )
    low, high = services.rate_range()
    return _render_list(
        request,
        "partner",
        filterset,
        may_set=request.user.has_perm("billing.change_partnerdiscount"),
        rate_low=low,
        rate_high=high,
    )


@require_GET
@never_cache
@staff_required(perm="billing.view_partnerdiscount")
def discount_export(request: StaffRequest):
    """The filtered partner discounts as CSV; customer names and account names masked."""
    filterset = PartnerDiscountFilter(
        request.GET or None, queryset=_partner_discounts(request.user), request=request
    )
    rows = lists.filtered(request, filterset)
    response, writer = csv_response(f"partner-discounts-{timezone.localdate().isoformat()}")
    writer.writerow(
        [
            gettext("Customer name"),
            gettext("Account name"),
            gettext("Customer ID"),
            gettext("Discount rate"),
            gettext("Effective time"),
            gettext("Expiry time"),
            gettext("Status"),
            gettext("Push status"),
            gettext("Set by"),
            gettext("Last changed"),
        ]
    )
    count = 0
    for discount in rows.iterator(chunk_size=1000):
        count += 1
        customer = discount.customer
        writer.writerow(
            [
                mask("name", customer.name),
                mask("account_name", customer.account_name),
                customer.customer_id,
                discount.rate,
                _local(discount.effective_time),
                _local(discount.expire_time),
                discount.get_validity_display(),
                discount.get_push_status_display(),
                discount.requested_by.username if discount.requested_by else "",
                _local(discount.updated_at),
            ]
        )
    audit.record(
        "partner_discount_export",
        request=request,
        summary=f"{count} discounts (masked)",
        data={"rows": count},
    )
    return response


def _local(value) -> str:
    return timezone.localtime(value).isoformat(sep=" ", timespec="seconds") if value else ""


def _default_times(discount: PartnerDiscount | None = None) -> dict:
    if discount is not None:
        return {
            "rate": discount.rate,
            "effective_time": timezone.localtime(discount.effective_time),
            "expire_time": timezone.localtime(discount.expire_time),
        }
    start = timezone.localtime().replace(second=0, microsecond=0) + timedelta(minutes=1)
    return {"effective_time": start, "expire_time": start + timedelta(days=365)}


@require_http_methods(["GET", "POST"])
@staff_required(perm="billing.change_partnerdiscount")
def discount_set(request: StaffRequest, customer_pk: int):
    """Set or change one customer's partner discount."""
    customer = get_for_user_or_404(Customer.objects.select_related("partner"), request.user, pk=customer_pk)
    current = PartnerDiscount.objects.filter(customer=customer).first()
    refusal = None
    try:
        services.check_discountable(customer)
    except ValidationError as error:
        refusal = " ".join(error.messages)
    if request.method == "POST" and refusal is None:
        form = DiscountForm(request.POST)
        if form.is_valid():
            try:
                services.set_partner_discount(
                    customer=customer,
                    rate=form.cleaned_data["rate"],
                    effective_time=form.cleaned_data["effective_time"],
                    expire_time=form.cleaned_data["expire_time"],
                    requested_by=request.user,
                )
            except ValidationError as error:
                add_service_error(form, error)
            else:
                messages.success(
                    request,
                    gettext(
                        "The discount is being sent to the cloud platform; "
                        "the customer is emailed once it is set."
                    ),
                )
                return done(request, _next(request))
    else:
        form = DiscountForm(initial=_default_times(current))
    context = {
        "kind": "set",
        "form": form,
        "customer": customer,
        "current": current,
        "refusal": refusal,
        "next": _next(request),
    }
    return render_page(request, FORM_TEMPLATE, context, partial="form")


def _next(request) -> str:
    """Where to go after the form: the `next` it was opened with (a path on this site), else the list."""
    target = (request.POST.get("next") or request.GET.get("next") or "").strip()
    if target.startswith("/") and not target.startswith(("//", "/\\")) and len(target) <= 2000:
        return target
    return reverse("billing:discounts")


@require_http_methods(["GET", "POST"])
@staff_required(perm="billing.change_partnerdiscount")
def discount_bulk(request: StaffRequest):
    """The same discount for several customers; each row's outcome is shown (set, or refused and why)."""
    results = None
    if request.method == "POST":
        form = BulkDiscountForm(request.POST)
        if form.is_valid():
            ids = form.cleaned_data["customer_ids"]
            found = {
                c.customer_id: c
                for c in Customer.objects.for_user(request.user)
                .select_related("partner")
                .filter(customer_id__in=ids)
            }
            results = []
            chosen = [found[i] for i in ids if i in found]
            outcomes = {
                r.customer.customer_id: r
                for r in services.set_partner_discounts(
                    customers=chosen,
                    rate=form.cleaned_data["rate"],
                    effective_time=form.cleaned_data["effective_time"],
                    expire_time=form.cleaned_data["expire_time"],
                    requested_by=request.user,
                )
            }
            for customer_id in ids:
                if customer_id in outcomes:
                    results.append(outcomes[customer_id])
                else:
                    results.append(
                        services.BulkResult(
                            Customer(customer_id=customer_id), error=gettext("No customer with this ID.")
                        )
                    )
            ok = sum(1 for r in results if r.discount)
            if ok:
                messages.success(
                    request,
                    gettext("%(n)d of %(total)d discounts are being sent.")
                    % {"n": ok, "total": len(results)},
                )
            else:
                messages.error(request, gettext("No discount was set."))
    else:
        initial = _default_times()
        picked = request.GET.getlist("customer")
        if picked:
            initial["customer_ids"] = "\n".join(picked[: services.BULK_DISCOUNT_MAX])
        form = BulkDiscountForm(initial=initial)
    context = {"kind": "bulk", "form": form, "results": results}
    return render_page(request, FORM_TEMPLATE, context, partial="form")


# --- commercial discounts ----------------------------------------------------------------------------------


@require_GET
@staff_required(perm="billing.view_commercialdiscount")
def commercial_discount_list(request: StaffRequest):
    """Commercial discounts (商务折扣): synced from the cloud platform, read-only."""
    rows = CommercialDiscount.objects.for_user(request.user).select_related("customer", "partner")
    filterset = CommercialDiscountFilter(request.GET or None, queryset=rows, request=request)
    return _render_list(request, "commercial", filterset)


# --- dedicated offers --------------------------------------------------------------------------------------


@require_GET
@staff_required(perm="billing.view_dedicatedoffer")
def offer_list(request: StaffRequest):
    """Dedicated offers (专属优惠): active, invalidating, invalidated, expired."""
    rows = DedicatedOffer.objects.for_user(request.user).select_related("customer", "partner")
    filterset = OfferFilter(request.GET or None, queryset=rows, request=request)
    return _render_list(
        request,
        "offers",
        filterset,
        may_create=request.user.has_perm("billing.add_dedicatedoffer"),
        may_invalidate=request.user.has_perm("billing.invalidate_dedicatedoffer"),
    )


@require_http_methods(["GET", "POST"])
@staff_required(perm="billing.add_dedicatedoffer")
def offer_new(request: StaffRequest):
    """Create a dedicated offer for one customer's account."""
    if request.method == "POST":
        form = OfferForm(request.POST)
        if form.is_valid():
            customer = (
                Customer.objects.for_user(request.user)
                .select_related("partner")
                .filter(customer_id=form.cleaned_data["customer"].strip())
                .first()
            )
            if customer is None:
                form.add_error("customer", gettext("No customer with this ID."))
            else:
                try:
                    services.create_dedicated_offer(
                        customer=customer,
                        name=form.cleaned_data["name"],
                        product_ids=form.cleaned_data["product_ids"],
                        effective_time=form.cleaned_data["effective_time"],
                        expire_time=form.cleaned_data["expire_time"],
                        requested_by=request.user,
                    )
                except ValidationError as error:
                    add_service_error(form, error)
                else:
                    messages.success(request, gettext("The offer is being created on the cloud platform."))
                    return done(request, reverse("billing:offers"))
    else:
        initial = _default_times()
        picked = request.GET.get("customer")
        if picked:
            customer = Customer.objects.for_user(request.user).filter(customer_id=picked).first()
            if customer is not None:
                initial["customer"] = customer.customer_id
        form = OfferForm(initial=initial)
    return render_page(request, FORM_TEMPLATE, {"kind": "offer", "form": form}, partial="form")


@require_http_methods(["GET", "POST"])
@staff_required(perm="billing.invalidate_dedicatedoffer")
def offer_invalidate(request: StaffRequest, offer_pk: int):
    """Invalidate a dedicated offer (使该专属优惠失效): a reason, and the verification code when required."""
    offer = get_for_user_or_404(
        DedicatedOffer.objects.select_related("partner", "customer"), request.user, pk=offer_pk
    )
    if request.method == "POST":
        form = InvalidateOfferForm(request.POST, user=request.user, request=request)
        if form.is_valid():
            try:
                services.invalidate_dedicated_offer(
                    offer=offer, reason=form.cleaned_data["reason"], requested_by=request.user
                )
            except ValidationError as error:
                add_service_error(form, error)
            else:
                messages.success(
                    request,
                    gettext("The offer is being invalidated; its status changes once the platform confirms."),
                )
                return done(request, reverse("billing:offers"))
    else:
        form = InvalidateOfferForm(user=request.user, request=request)
    return render_page(
        request, FORM_TEMPLATE, {"kind": "invalidate", "form": form, "offer": offer}, partial="form"
    )
