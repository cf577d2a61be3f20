"""Price inquiry (询价) at /billing/quote/: the platform's on-demand price and a customer's price.

A quote is a read: the form travels by GET, so that its address is the quote (the CSV export and the
printable page take the same query string and ask the platform again). Who may quote: whoever may see
partner discounts (`billing.view_partnerdiscount`: sales, finance, admins), since a customer's quote shows
the discount it gets; viewers may not.

The choosers cascade through `quote-choices` (service type → resource types → specs, by region); the
customer chooser (`quote-customers`) finds the partner's customers (a distributor's resellers' too) by
customer ID, or by a whole name or account name under the personal-search rules (docs/privacy.md), and
shows them masked.
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.decorators import staff_required
from accounts.http import StaffRequest
from accounts.tenancy import get_for_user_or_404
from billing import quote
from billing.quote_forms import QuoteForm, rating_message
from customers.filters import PersonalSearch
from customers.models import Customer
from customers.services import normalize_search
from portal.lib.htmx import is_partial, render_page
from portal.lib.masking import mask
from portal.lib.text import csv_response
from upstream.errors import UpstreamError

PERMISSION = "billing.view_partnerdiscount"
TEMPLATE = "billing/quote.html"
CUSTOMER_RESULTS_MAX = 10
QUOTE_FIELDS = ("region", "service_type", "resource_type", "spec", "size", "quantity", "hours", "customer")


def _form(request: StaffRequest) -> QuoteForm:
    bound = any(name in request.GET for name in QUOTE_FIELDS)
    return QuoteForm(request.GET if bound else None, user=request.user, initial={"region": "cn-north-4"})


def _priced(form: QuoteForm) -> tuple[quote.Quote | None, str]:
    """The quote of a valid form, or the message saying why the platform gave none."""
    if not form.is_bound or not form.is_valid():
        return None, ""
    try:
        return quote.price(form.line(), customer=form.cleaned_data["customer"]), ""
    except UpstreamError as error:
        return None, rating_message(error)


def _context(request: StaffRequest, form: QuoteForm, result, refusal: str) -> dict:
    query = request.GET.urlencode() if result else ""
    return {
        "form": form,
        "quote": result,
        "refusal": refusal,
        "query": query,
        "region_name": quote.REGIONS.get(form.data.get("region", ""), ""),
        "names": _names(form),
        "size_unit": quote.SIZE_UNITS.get(form.size_measure_id, ""),
        "quoted_at": timezone.now(),
    }


def _names(form: QuoteForm) -> dict[str, str]:
    """The chosen service type, resource type and spec by name (the quote shows names, not codes)."""
    return {
        name: str(dict(form.fields[name].choices).get(form.data.get(name, ""), ""))
        for name in ("service_type", "resource_type", "spec")
    }


@require_GET
@staff_required(perm=PERMISSION)
def quote_page(request: StaffRequest):
    """The inquiry form and, once submitted, the price (the list price, and the customer's)."""
    form = _form(request)
    result, refusal = _priced(form)
    return render_page(request, TEMPLATE, _context(request, form, result, refusal), partial="quote")


@require_GET
@staff_required(perm=PERMISSION)
def quote_choices(request: StaffRequest):
    """The cascading choosers for the values chosen so far (htmx swaps them in place)."""
    form = _form(request)
    context = {"form": form, "size_unit": quote.SIZE_UNITS.get(form.size_measure_id, "")}
    return render_page(request, TEMPLATE, context, partial="choosers")


class _CustomerSearch(PersonalSearch):
    def __init__(self, user, request):
        self.user, self.request = user, request


@require_GET
@never_cache
@staff_required(perm=PERMISSION)
def quote_customers(request: StaffRequest):
    """Find a customer to quote for (`q`), or put a found one into the form (`pick`), masked.

    Parts of the inquiry page for htmx; a plain request goes to the page itself.
    """
    if not is_partial(request):
        return redirect(reverse("billing:quote"))
    customers = Customer.objects.for_user(request.user).select_related("partner")
    pick = normalize_search(request.GET.get("pick", ""))
    if pick:
        # Another partner's customer does not exist here (404).
        picked = get_for_user_or_404(
            Customer.objects.select_related("partner"), request.user, customer_id=pick
        )
        return render_page(request, TEMPLATE, {"picked": picked}, partial="customer_field")
    q = normalize_search(request.GET.get("q", ""))
    found: list[Customer] = []
    if q:
        # Customer IDs are not personal data: any part of one matches, without audit or limit.
        found = list(
            customers.filter(customer_id__icontains=q).order_by("customer_id")[:CUSTOMER_RESULTS_MAX]
        )
        if not found:
            # A whole name or account name: metered and audited; a refusal is flashed and finds nobody.
            by_name = _CustomerSearch(request.user, request).personal(
                customers, q, ("name", "account_name"), ("name", "account_name")
            )
            found = list(by_name.order_by("customer_id")[:CUSTOMER_RESULTS_MAX])
    context = {"customers": found, "searched": q}
    return render_page(request, TEMPLATE, context, partial="customer_results")


def _quote_or_back(request: StaffRequest):
    """The form and its quote; without a quote, the inquiry page with the same inputs (and their errors)."""
    form = _form(request)
    result, _refusal = _priced(form)
    if result is not None:
        return form, result, None
    if not form.is_bound:
        messages.error(request, gettext("Fill in the form and ask for the price first."))
    query = request.GET.urlencode()
    return form, None, redirect(f"{reverse('billing:quote')}?{query}" if query else reverse("billing:quote"))


@require_GET
@never_cache
@staff_required(perm=PERMISSION)
def quote_export(request: StaffRequest):
    """The quote as CSV (customer name masked), priced again from the same inputs."""
    form, result, back = _quote_or_back(request)
    if back is not None:
        return back
    names = _names(form)
    response, writer = csv_response(f"quote-{timezone.localdate().isoformat()}")
    rows = [
        (gettext("Quoted at"), timezone.localtime().isoformat(sep=" ", timespec="seconds")),
        (gettext("Region"), f"{quote.REGIONS[result.line.region]} ({result.line.region})"),
        (gettext("Service type"), names["service_type"]),
        (gettext("Resource type"), names["resource_type"]),
        (gettext("Spec"), names["spec"]),
        (gettext("Size"), f"{result.line.size} {quote.SIZE_UNITS[result.line.size_measure_id]}")
        if result.line.size
        else None,
        (gettext("Quantity"), result.line.quantity),
        (gettext("Usage (hours)"), result.line.hours),
        (gettext("Currency"), result.currency),
        (gettext("On-demand price (list)"), quote.exact(result.amount)),
    ]
    if result.customer is not None:
        rows += [
            (gettext("Customer"), mask("name", result.customer.name)),
            (gettext("Customer ID"), result.customer.customer_id),
            (gettext("Discount applied"), quote.discount_label(result)),
            (gettext("Customer's price"), quote.exact(result.customer_amount)),
        ]
    writer.writerow([gettext("Item"), gettext("Value")])
    for row in rows:
        if row is not None:
            writer.writerow(row)
    return response


@require_GET
@never_cache
@staff_required(perm=PERMISSION)
def quote_print(request: StaffRequest):
    """The quote as a page to print (or save as PDF from the browser's print dialog) and send."""
    form, result, back = _quote_or_back(request)
    if back is not None:
        return back
    return render_page(request, "billing/quote_print.html", _context(request, form, result, ""))
