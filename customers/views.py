"""Customer pages: the customer list and detail, reveals of personal data, and the warning inbox."""

from __future__ import annotations

import csv

from django.contrib import messages
from django.db.models import Count, F, Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_POST

from accounts import audit
from accounts.decorators import staff_required
from accounts.http import StaffRequest
from accounts.models import AuditEvent
from accounts.tenancy import get_for_user_or_404
from customers import services
from customers.filters import CustomerFilter, WarningFilter
from customers.forms import AssignAccountManagerForm, BulkHandleForm, HandleWarningForm
from customers.models import Customer, CustomerWarning
from portal.lib import lists
from portal.lib.htmx import done, render_page
from portal.lib.masking import mask
from upstream.models import OutboxCommand


def _placeholder(request, title):
    return render(request, "portal/placeholder.html", {"title": title})


# --- customers ----------------------------------------------------------------------------------------------

CUSTOMER_TABS = (("mine", gettext_lazy("My customers")), ("resellers", gettext_lazy("Resellers' customers")))


def _customer_tab(request) -> str | None:
    """A distributor has two tabs, its own customers and its resellers'; other partners have none."""
    if not request.user.partner.is_distributor:
        return None
    return "resellers" if request.GET.get("tab") == "resellers" else "mine"


def _customers(request, tab: str | None):
    partner = request.user.partner
    customers = Customer.objects.for_user(request.user).associated()
    if tab == "mine":
        customers = customers.filter(partner=partner)
    elif tab == "resellers":
        customers = customers.exclude(partner=partner)
    return (
        customers.select_related("account_manager", "partner")
        .annotate(
            open_warnings=Count("warnings", filter=Q(warnings__status=CustomerWarning.Status.PENDING)),
            # The resale balance, through billing's one-to-one CustomerAccount (a join, not a query per row).
            balance=F("account__amount"),
        )
        .order_by(F("associated_on").desc(nulls_last=True), "id")
    )


@require_GET
@staff_required(perm="customers.view_customer")
def customer_list(request: StaffRequest):
    tab = _customer_tab(request)
    filterset = CustomerFilter(request.GET or None, queryset=_customers(request, tab), user=request.user)
    page = lists.paginate(request, lists.filtered(request, filterset))
    context = {
        "filter": filterset,
        "tab": tab,
        "tabs": CUSTOMER_TABS if tab else (),
        **lists.page_context(request, page),
    }
    return render_page(request, "customers/customer_list.html", context, partial="table")


def _csv_safe(value) -> str:
    """Neutralise spreadsheet formulas in exported cells."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@require_GET
@staff_required(perm="customers.export_customer")
def customer_export(request: StaffRequest):
    """The filtered customer list as CSV, with names, account names, phones and emails masked."""
    tab = _customer_tab(request)
    filterset = CustomerFilter(request.GET or None, queryset=_customers(request, tab), user=request.user)
    rows = lists.filtered(request, filterset)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="customers.csv"'
    response.write("\ufeff")  # so that spreadsheet programs read UTF-8
    writer = csv.writer(response)
    writer.writerow(
        [
            _("Customer name"),
            _("Account name"),
            _("Customer ID"),
            _("Mobile phone"),
            _("Email"),
            _("Association type"),
            _("Associated on"),
            _("Label"),
            _("Customer level"),
            _("Frozen status"),
            _("Account manager"),
            _("Balance"),
            _("Open warnings"),
        ]
    )
    count = 0
    for customer in rows.iterator(chunk_size=1000):
        count += 1
        writer.writerow(
            [
                _csv_safe(value)
                for value in (
                    mask("name", customer.name),
                    mask("account_name", customer.account_name),
                    customer.customer_id,
                    mask("phone", customer.phone),
                    mask("email", customer.email),
                    customer.get_association_type_display(),
                    customer.associated_on.isoformat() if customer.associated_on else "",
                    customer.label,
                    customer.customer_level,
                    customer.get_frozen_status_display(),
                    customer.account_manager.username if customer.account_manager else "",
                    customer.balance if customer.is_resale and customer.balance is not None else "",
                    customer.open_warnings,
                )
            ]
        )
    audit.record(
        "customer_export", request=request, summary=f"{count} customers (masked)", data={"rows": count}
    )
    return response


@require_GET
@staff_required(perm="customers.view_customer")
def customer_detail(request: StaffRequest, customer_pk: int):
    customers = Customer.objects.select_related("account_manager", "partner").annotate(
        open_warnings=Count("warnings", filter=Q(warnings__status=CustomerWarning.Status.PENDING))
    )
    customer = get_for_user_or_404(customers, request.user, pk=customer_pk)
    context = {
        "customer": customer,
        "warnings": customer.warnings.select_related("handler")[:20],
        "events": customer.events.select_related("initiated_by")[:20],
        "assign_form": (
            AssignAccountManagerForm(customer=customer, initial={"next": request.get_full_path()})
            if request.user.has_perm("customers.assign_account_manager")
            else None
        ),
    }
    return render_page(request, "customers/customer_detail.html", context)


@require_POST
@staff_required(perm="customers.assign_account_manager")
def customer_assign(request: StaffRequest, customer_pk: int):
    customer = get_for_user_or_404(Customer, request.user, pk=customer_pk)
    form = AssignAccountManagerForm(request.POST, customer=customer)
    if not form.is_valid():
        messages.error(request, _("Choose an account manager from the list."))
    else:
        manager = form.cleaned_data["account_manager"]
        try:
            services.assign_account_manager(request.user, customer, manager)
        except services.ServiceError as error:
            messages.error(request, error.message)
        else:
            if manager is None:
                messages.success(
                    request, _("The customer has no account manager now; partner admins own it.")
                )
            else:
                messages.success(
                    request, _("%(user)s is now the customer's account manager.") % {"user": manager.username}
                )
    return done(request, lists.safe_next(request, reverse("customers:detail", args=[customer.pk])))


def _reveal_response(request, customer, field, **extra):
    context = {
        "customer": customer,
        "field": field,
        "masked_value": mask(field, getattr(customer, field)),
        **extra,
    }
    return render(request, "customers/_reveal.html", context)


@require_POST
@staff_required(perm="customers.reveal_customer")
def customer_reveal(request: StaffRequest, customer_pk: int, field: str):
    """Swap one masked value for the full value (audited, rate limited)."""
    customer = get_for_user_or_404(Customer, request.user, pk=customer_pk)
    if field not in services.REVEALABLE_FIELDS:
        raise Http404
    try:
        value = services.reveal(request.user, customer, field)
    except services.ServiceError as error:
        return _reveal_response(request, customer, field, refusal=error.message)
    audit.record(
        "customer_reveal",
        request=request,
        target=customer,
        summary=f"{customer.customer_id}: {field}",
        data={"field": field, "customer_id": customer.customer_id},
    )
    return _reveal_response(request, customer, field, revealed=True, value=value)


@require_GET
@staff_required(perm="customers.view_customer")
def customer_hide(request: StaffRequest, customer_pk: int, field: str):
    """The masked value again, with its eye button."""
    customer = get_for_user_or_404(Customer, request.user, pk=customer_pk)
    if field not in services.REVEALABLE_FIELDS:
        raise Http404
    return _reveal_response(request, customer, field)


# --- warnings -----------------------------------------------------------------------------------------------


def _visible_warnings(user):
    """Warnings the user may open: all of the partner's for those who see all, else the user's own."""
    warnings = CustomerWarning.objects.for_user(user)
    if not user.has_perm("customers.view_all_warnings"):
        warnings = warnings.filter(services.owned_warnings_q(user))
    return warnings


@require_GET
@staff_required(perm="customers.view_customerwarning")
def warning_list(request: StaffRequest):
    user = request.user
    can_see_all = user.has_perm("customers.view_all_warnings")
    tab = "all" if request.GET.get("tab") == "all" and can_see_all else "handle"
    warnings = CustomerWarning.objects.for_user(user).select_related(
        "customer", "customer__account_manager", "partner"
    )
    if tab == "handle":
        warnings = warnings.filter(services.owned_warnings_q(user))
    filterset = WarningFilter(request.GET or None, queryset=warnings, user=user)
    page = lists.paginate(request, lists.filtered(request, filterset))
    may_handle = user.has_perm("customers.handle_warning")
    for warning in page:
        warning.can_handle = (
            may_handle and warning.is_pending and not warning.push_pending and services.owns(user, warning)
        )
    context = {
        "filter": filterset,
        "tab": tab,
        "can_see_all": can_see_all,
        "may_handle": may_handle,
        "bulk_form": BulkHandleForm(),
        **lists.page_context(request, page),
    }
    return render_page(request, "customers/warning_list.html", context, partial="table")


def _warning_context(request, warning, form=None):
    user = request.user
    can_handle = services.can_handle(user, warning) and not warning.push_pending
    history = AuditEvent.objects.filter(
        target_type="customers.customerwarning", target_id=str(warning.pk)
    ).order_by("created_at", "id")
    pushes = OutboxCommand.objects.filter(object_type="customers.customerwarning", object_id=str(warning.pk))
    assign_form = None
    if warning.customer_id and user.has_perm("customers.assign_account_manager"):
        assign_form = AssignAccountManagerForm(
            customer=warning.customer,
            initial={"account_manager": warning.customer.account_manager_id, "next": request.get_full_path()},
        )
    return {
        "warning": warning,
        "customer": warning.customer,
        "can_handle": can_handle,
        "form": form or (HandleWarningForm(warning=warning) if can_handle else None),
        "history": history,
        "pushes": pushes,
        "assign_form": assign_form,
    }


def _get_warning(request, warning_pk: int) -> CustomerWarning:
    warnings = _visible_warnings(request.user).select_related(
        "customer", "customer__account_manager", "partner", "handler"
    )
    return get_for_user_or_404(warnings, request.user, pk=warning_pk)


@require_GET
@staff_required(perm="customers.view_customerwarning")
def warning_detail(request: StaffRequest, warning_pk: int):
    warning = _get_warning(request, warning_pk)
    return render_page(
        request, "customers/warning_detail.html", _warning_context(request, warning), partial="handling"
    )


@require_POST
@staff_required(perm="customers.handle_warning")
def warning_handle(request: StaffRequest, warning_pk: int):
    warning = _get_warning(request, warning_pk)
    form = HandleWarningForm(request.POST, warning=warning)
    if form.is_valid():
        try:
            services.handle_warning(
                request.user, warning, form.cleaned_data["result"], form.cleaned_data["remark"]
            )
        except services.ServiceError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request, _("The warning is handled; the result is being sent to the cloud platform.")
            )
        if not request.htmx:
            return redirect("customers:warning-detail", warning_pk=warning.pk)
        warning = _get_warning(request, warning_pk)
        form = None
    elif not warning.is_pending:
        messages.error(request, _("This warning is already handled."))
        form = None
    response = render_page(
        request, "customers/warning_detail.html", _warning_context(request, warning, form), partial="handling"
    )
    response["HX-Trigger"] = "warnings-changed"
    return response


@require_POST
@staff_required(perm="customers.handle_warning")
def warning_bulk_handle(request: StaffRequest):
    form = BulkHandleForm(request.POST)
    next_url = lists.safe_next(request, reverse("customers:warnings"))
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, errors[0])
        return done(request, next_url)
    outcome = services.bulk_handle_warnings(
        request.user, form.cleaned_data["warnings"], form.cleaned_data["result"], form.cleaned_data["remark"]
    )
    if outcome.handled:
        count = len(outcome.handled)
        messages.success(
            request,
            ngettext(
                "%(count)d warning handled; the result is being sent to the cloud platform.",
                "%(count)d warnings handled; the results are being sent to the cloud platform.",
                count,
            )
            % {"count": count},
        )
    for warning, reason in outcome.refused:
        messages.error(
            request,
            _("“%(title)s” was not handled: %(reason)s") % {"title": warning.masked_title, "reason": reason},
        )
    missing = len(form.cleaned_data["warnings"]) - len(outcome.handled) - len(outcome.refused)
    if missing > 0:
        messages.error(
            request,
            ngettext(
                "%(count)d selected warning was not found.",
                "%(count)d selected warnings were not found.",
                missing,
            )
            % {"count": missing},
        )
    return done(request, next_url)


@require_GET
@staff_required
def warning_count(request: StaffRequest):
    """The navigation badge: the user's pending warnings (htmx polls it)."""
    return render(request, "customers/_warning_count.html", {"count": services.pending_count(request.user)})


# --- placeholders of later features -------------------------------------------------------------------------


@require_GET
@staff_required
def association_records(request):
    return _placeholder(request, _("Association records"))


@require_GET
@staff_required
def request_list(request):
    return _placeholder(request, _("Requests"))
