"""Customer pages: the customer list and detail, reveals of personal data, and the warning inbox."""

from __future__ import annotations

from functools import partial

from django.conf import settings
from django.contrib import messages
from django.db.models import F
from django.http import Http404, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import audit
from accounts.decorators import staff_required
from accounts.http import StaffRequest
from accounts.models import unshown_staff_columns
from accounts.tenancy import get_for_user_or_404
from customers import services
from customers.filters import (
    AssociationEventFilter,
    AssociationRequestFilter,
    CustomerFilter,
    WarningFilter,
)
from customers.forms import (
    AssignAccountManagerForm,
    AssociationRequestForm,
    BulkHandleForm,
    HandleWarningForm,
    PartnerDecisionForm,
)
from customers.models import AssociationEvent, AssociationRequest, Customer, CustomerWarning
from portal.lib import lists
from portal.lib.htmx import done, render_page
from portal.lib.masking import mask
from portal.lib.text import csv_response
from upstream import outbox


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
        # The resale balance is the maintained `balance` column (CustomerQuerySet.refresh_balances).
        customers.select_related("account_manager", "partner")
        .defer("created_at", "updated_at", *unshown_staff_columns("account_manager"))
        # The maintained counter (customers.models.CustomerQuerySet.recount_open_warnings), not a count over
        # every warning: the list, its sort and its CSV read the same column.
        .annotate(open_warnings=F("open_warning_count"))
        .order_by(F("associated_on").desc(nulls_last=True), "id")
    )


@require_GET
@staff_required(perm="customers.view_customer")
def customer_list(request: StaffRequest):
    tab = _customer_tab(request)
    filterset = CustomerFilter(
        request.GET or None, queryset=_customers(request, tab), user=request.user, request=request
    )
    page = lists.paginate(request, lists.filtered(request, filterset))
    context = {
        "filter": filterset,
        "sort_links": filterset.filters["sort"].links(request.GET),
        "tab": tab,
        "tabs": CUSTOMER_TABS if tab else (),
        "may_assign": request.user.has_perm("customers.assign_account_manager"),
        # The row actions other apps offer (their pages check again): asked once per list, not per row.
        "may_adjust": request.user.has_perm("billing.add_adjustment"),
        "may_discount": request.user.has_perm("billing.change_partnerdiscount"),
        "may_switch": request.user.is_partner_admin,
        **lists.page_context(request, page),
    }
    return render_page(request, "customers/customer_list.html", context, partial="table", cached=True)


def _local_time(value) -> str:
    """A time in the user's time zone (activated by UserTimezoneMiddleware), with its UTC offset."""
    return timezone.localtime(value).isoformat(sep=" ", timespec="seconds") if value else ""


@require_GET
@never_cache
@staff_required(perm="customers.export_customer")
def customer_export(request: StaffRequest):
    """The filtered customer list as CSV, with names, account names, phones and emails masked."""
    tab = _customer_tab(request)
    filterset = CustomerFilter(
        request.GET or None, queryset=_customers(request, tab), user=request.user, request=request
    )
    rows = lists.filtered(request, filterset)
    with_reseller = tab == "resellers"
    # Named after the list, the tab and the day (in the user's time zone): customers-resellers-2026-11-26.csv
    filename = "-".join(["customers", *([tab] if tab else []), timezone.localdate().isoformat()])
    response, writer = csv_response(filename)
    writer.writerow(
        [
            _("Customer name"),
            _("Account name"),
            _("Customer ID"),
            *([_("Reseller")] if with_reseller else []),
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
                mask("name", customer.name),
                mask("account_name", customer.account_name),
                customer.customer_id,
                *([customer.partner.name] if with_reseller else []),
                mask("phone", customer.phone),
                mask("email", customer.email),
                customer.get_association_type_display(),
                _local_time(customer.associated_on),
                customer.label,
                customer.customer_level,
                customer.get_frozen_status_display(),
                customer.account_manager.username if customer.account_manager else "",
                "" if customer.balance is None else customer.balance,
                customer.open_warnings,
            ]
        )
    audit.record(
        "customer_export", request=request, summary=f"{count} customers (masked)", data={"rows": count}
    )
    return response


@require_GET
@never_cache  # personal data: never kept by a browser or a proxy
@staff_required(perm="customers.view_customer")
def customer_detail(request: StaffRequest, customer_pk: int):
    customers = Customer.objects.select_related("account_manager", "partner").annotate(
        open_warnings=F("open_warning_count")
    )
    customer = get_for_user_or_404(customers, request.user, pk=customer_pk)
    assign_form = None
    if request.user.has_perm("customers.assign_account_manager"):
        # The current manager is selected, so that submitting the form unchanged keeps it.
        assign_form = AssignAccountManagerForm(
            customer=customer,
            initial={"account_manager": customer.account_manager_id, "next": request.get_full_path()},
        )
    context = {
        "customer": customer,
        "warnings": list(customer.warnings.select_related("handler")[:20]),
        "events": list(customer.events.select_related("initiated_by")[:20]),
        "assign_form": assign_form,
    }
    return render_page(request, "customers/customer_detail.html", context, partial="detail", cached=True)


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
    return render(request, "customers/_reveal.html", {"customer": customer, "field": field, **extra})


@require_POST
@never_cache  # a revealed value is never kept by a browser or a proxy
@staff_required(perm="customers.reveal_customer")
def customer_reveal(request: StaffRequest, customer_pk: int, field: str):
    """Swap one masked value for the full value (audited, rate limited; refusals audited too)."""
    customer = get_for_user_or_404(Customer, request.user, pk=customer_pk)
    if field not in services.REVEALABLE_FIELDS:
        raise Http404
    data = {
        "field": field,
        "field_label": Customer._meta.get_field(field).verbose_name,
        "customer_id": customer.customer_id,
    }
    record = partial(
        audit.record,
        request=request,
        target=customer,
        target_label=mask("name", customer.name),
        summary=f"{customer.customer_id}: {field}",
    )
    try:
        value = services.reveal(request.user, customer, field)
    except services.ServiceError as error:
        record("customer_reveal_refused", data={**data, "reason": error.message})
        return _reveal_response(request, customer, field, refusal=error.message)
    record("customer_reveal", data=data)
    return _reveal_response(request, customer, field, revealed=True, value=value)


@require_GET
@never_cache
@staff_required(perm="customers.view_customer")
def customer_hide(request: StaffRequest, customer_pk: int, field: str):
    """The masked value again, with its eye button."""
    customer = get_for_user_or_404(Customer, request.user, pk=customer_pk)
    if field not in services.REVEALABLE_FIELDS:
        raise Http404
    return _reveal_response(request, customer, field)


# --- warnings -----------------------------------------------------------------------------------------------

# Counting a distributor's warnings up to the list's usual 10,000 reads 10,000 of its 1M rows on every request
# (3.5 ms of the inbox's database time at 1M): past 1,000 the inbox says "more than 1,000 warnings".
WARNING_COUNT_CAP = 1_000

# Named as the cloud platform names them (处理预警 / 全部预警).
WARNING_TABS = (("handle", gettext_lazy("Handle warnings")), ("all", gettext_lazy("All warnings")))


def _warning_tab(user, tab: str | None) -> str:
    return "all" if tab == "all" and user.has_perm("customers.view_all_warnings") else "handle"


# What an inbox row reads of its customer: the name and account name (masked, with their eye buttons), the
# phone and email (masked wherever the title quotes them) and the account manager. Its other columns are not
# read: not converted, and not in the cached table's key.
_WARNING_ROW_CUSTOMER_FIELDS = {"id", "name", "account_name", "phone", "email", "account_manager", "partner"}


def _warning_rows(user, tab: str):
    """The "Handle" tab lists the user's own warnings, "All" every warning the user may see.

    Whether the user may handle each row is annotated on the page's rows alone (lists.paginate's decorate).
    """
    rows = (
        CustomerWarning.objects.owned_by(user)
        if tab == "handle"
        else CustomerWarning.objects.visible_to(user)
    )
    return (
        rows.select_related("customer", "customer__account_manager")
        # What the list does not show: the content (it shows the masked title), the handling's details.
        .defer(
            "content",
            "remark",
            "push_error",
            "handled_in_portal_at",
            "arrears_notified_at",
            "digest_sent_at",
            "created_at",
            "updated_at",
            *(
                f"customer__{field.name}"
                for field in Customer._meta.concrete_fields
                if field.name not in _WARNING_ROW_CUSTOMER_FIELDS
            ),
            *unshown_staff_columns("customer__account_manager"),
        )
    )


def _warning_filter(request, data, tab: str) -> WarningFilter:
    """The inbox's filters; the "Handle" tab shows pending warnings unless a status is chosen (even "all")."""
    if tab == "handle" and "status" not in data:
        data = data.copy()
        data["status"] = CustomerWarning.Status.PENDING
    return WarningFilter(
        data or None, queryset=_warning_rows(request.user, tab), user=request.user, request=request
    )


def _is_plain_handle_tab(filterset, tab: str) -> bool:
    """The "Handle" tab with no filter but its default (pending): the rows the badge counts."""
    if tab != "handle" or not filterset.is_bound or not filterset.is_valid():
        return False
    chosen = {
        name: value for name, value in filterset.form.cleaned_data.items() if value not in (None, "", [])
    }
    chosen.pop("sort", None)
    return chosen == {"status": CustomerWarning.Status.PENDING}


@require_GET
@staff_required(perm="customers.view_customerwarning")
def warning_list(request: StaffRequest):
    user = request.user
    tab = _warning_tab(user, request.GET.get("tab"))
    filterset = _warning_filter(request, request.GET, tab)
    rows = lists.filtered(request, filterset)
    may_handle = user.has_perm("customers.handle_warning")

    def handleable(page_rows):
        return page_rows.with_handleable(user)

    if may_handle and _is_plain_handle_tab(filterset, tab):
        # The "Handle" tab as the badge opens it: its count is the badge's (the maintained counters, not a
        # count over the warnings), and every row on it is the user's to handle (pending, owned, and a pending
        # warning is never being sent: handling it makes it HANDLED until the push is answered).
        count = services.pending_count(user)
        page = lists.paginate(request, rows, count=count, decorate=handleable)
        handleable_count = count
    else:
        page = lists.paginate(request, rows, cap=WARNING_COUNT_CAP, decorate=handleable)
        # Counted by warning_handleable when the bulk form comes into view, not on every list request.
        handleable_count = None
    query = request.GET.copy()
    query["tab"] = tab
    context = {
        "filter": filterset,
        "tab": tab,
        "tabs": WARNING_TABS if user.has_perm("customers.view_all_warnings") else WARNING_TABS[:1],
        "may_handle": may_handle,
        # "Select all N matching": the warnings the filters match that the user may handle, not just the page.
        "handleable_count": handleable_count,
        "bulk_max": services.BULK_HANDLE_MAX,
        "query": query.urlencode(),
        "bulk_form": BulkHandleForm(),
        **lists.page_context(request, page),
    }
    return render_page(request, "customers/warning_list.html", context, partial="table", cached=True)


def _warning_context(request, warning, form=None):
    user = request.user
    can_handle = warning.can_be_handled_by(user)
    history = audit.history_for(warning)
    pushes = outbox.commands_for(warning)
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
    warnings = CustomerWarning.objects.visible_to(request.user).select_related(
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


def _handleable_ids(user, rows):
    """The ids of `rows` the user may handle, at most one more than a bulk request may handle.

    Bounded: one request handles at most BULK_HANDLE_MAX, so an exact count beyond it (a scan of every
    matching warning, 0.6 s at 1M) would only say "narrow the filters" more precisely. Filtering by the rule
    itself (CustomerWarningQuerySet.handleable_by), in no particular order, lets the planner walk the pending
    warnings' index (1.25 ms at 1M; ordered by id, 3.7 ms). Beyond the bound nothing is handled, so which
    ids fill it does not matter.
    """
    return rows.handleable_by(user).order_by().values_list("pk", flat=True)[: services.BULK_HANDLE_MAX + 1]


def _bulk_targets(request, form) -> list[int] | None:
    """The ids to handle: the ticked rows, or (select all) every warning the list's filters match that the
    user may handle. None (with a message) when the filters are not understood."""
    user = request.user
    if not form.cleaned_data["select_all"]:
        return form.cleaned_data["warnings"]
    data = QueryDict(form.cleaned_data["query"])
    filterset = _warning_filter(request, data, _warning_tab(user, data.get("tab")))
    if filterset.is_bound and not filterset.is_valid():
        messages.error(request, _("The list's filters were not understood; nothing was handled."))
        return None
    return list(_handleable_ids(user, filterset.qs))


@require_POST
@staff_required(perm="customers.handle_warning")
def warning_bulk_handle(request: StaffRequest):
    """Handle the selected warnings with one result, after a confirmation that says how many."""
    form = BulkHandleForm(request.POST)
    next_url = lists.safe_next(request, reverse("customers:warnings"))
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, errors[0])
        return done(request, next_url)
    ids = _bulk_targets(request, form)
    if ids is None:
        return done(request, next_url)
    if len(ids) > services.BULK_HANDLE_MAX:  # asked for or confirmed: nothing beyond the bound is handled
        messages.error(
            request,
            _("At most %(max)d warnings can be handled at once; narrow the filters.")
            % {"max": services.BULK_HANDLE_MAX},
        )
        return done(request, next_url)
    if not form.cleaned_data["confirmed"]:
        handleable = list(
            CustomerWarning.objects.handleable_by(request.user)
            .filter(pk__in=ids)
            .values_list("pk", flat=True)
        )
        if not handleable:
            messages.error(request, _("None of the selected warnings can be handled by you now."))
            return done(request, next_url)
        context = {
            "ids": handleable,
            "count": len(handleable),
            "skipped": len(ids) - len(handleable),
            "result_label": dict(form.fields["result"].choices)[form.cleaned_data["result"]],
            "form": form,
            "next": next_url,
        }
        return render_page(request, "customers/warning_bulk_confirm.html", context)
    outcome = services.bulk_handle_warnings(
        request.user, ids, form.cleaned_data["result"], form.cleaned_data["remark"]
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
    missing = len(ids) - len(outcome.handled) - len(outcome.refused)
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
@staff_required(perm="customers.handle_warning")
def warning_handleable(request: StaffRequest):
    """The inbox's "Select all N matching": fetched by the bulk form when it comes into view, with the list's
    own query string, so that a list request does not count what the user may never ask for (2.7 ms of the
    inbox's 12 at 1M warnings)."""
    user = request.user
    tab = _warning_tab(user, request.GET.get("tab"))
    rows = lists.filtered(request, _warning_filter(request, request.GET, tab))
    context = {"handleable_count": _handleable_ids(user, rows).count(), "bulk_max": services.BULK_HANDLE_MAX}
    return render(request, "customers/warning_list.html#select_matching", context)


@require_GET
@staff_required
def warning_count(request: StaffRequest):
    """The navigation badge: the user's pending warnings (htmx polls it)."""
    return render(request, "customers/_warning_count.html", {"count": services.pending_count(request.user)})


# --- placeholders of later features -------------------------------------------------------------------------


# --- association records (关联关系操作记录) ---------------------------------------------------------------


def _association_rows(request):
    """Every association event the user's partner may see, newest first, with what a row shows."""
    return (
        AssociationEvent.objects.for_user(request.user)
        .select_related("customer", "partner", "initiated_by")
        .only(
            *(f.name for f in AssociationEvent._meta.concrete_fields if f.name != "created_at"),
            "customer__name",
            "customer__account_name",
            "customer__customer_id",
            "partner__name",
            "initiated_by__username",
        )
        .order_by("-occurred_at", "-id")
    )


def _association_filter(request) -> AssociationEventFilter:
    return AssociationEventFilter(
        request.GET or None, queryset=_association_rows(request), user=request.user, request=request
    )


@require_GET
@staff_required(perm="customers.view_customer")
def association_records(request: StaffRequest):
    """关联关系操作记录: every association, disassociation and switch, filtered; filters live in the URL."""
    filterset = _association_filter(request)
    page = lists.paginate(request, lists.filtered(request, filterset))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "filter": filterset,
        "query": query.urlencode(),
        "show_partner": request.user.partner.is_distributor,
        "may_export": request.user.has_perm("customers.export_customer"),
        **lists.page_context(request, page),
    }
    return render_page(request, "customers/association_list.html", context, partial="table", cached=True)


@require_GET
@never_cache
@staff_required(perm="customers.export_customer")
def association_export(request: StaffRequest):
    """The filtered association records as CSV, customers' names and account names masked."""
    rows = lists.filtered(request, _association_filter(request))
    with_partner = request.user.partner.is_distributor
    response, writer = csv_response(f"association-records-{timezone.localdate().isoformat()}")
    writer.writerow(
        [
            _("Operation time"),
            _("Customer name"),
            _("Account name"),
            _("Customer ID"),
            *([_("Partner")] if with_partner else []),
            _("Operation type"),
            _("Previous association type"),
            _("Association type"),
            _("Initiator"),
            _("Source"),
            _("Initiated by"),
        ]
    )
    count = 0
    for event in rows.iterator(chunk_size=1000):
        count += 1
        customer = event.customer
        writer.writerow(
            [
                _local_time(event.occurred_at),
                mask("name", customer.name) if customer else "",
                mask("account_name", customer.account_name) if customer else "",
                event.customer_upstream_id,
                *([event.partner.name] if with_partner else []),
                event.get_operation_display(),
                event.get_from_association_type_display(),
                event.get_association_type_display(),
                event.get_initiator_display(),
                event.get_source_display(),
                event.initiated_by.username if event.initiated_by else "",
            ]
        )
    audit.record(
        "association_export",
        request=request,
        summary=f"{count} association records (masked)",
        data={"rows": count},
    )
    return response


# --- association requests (switch / disassociation) ---------------------------------------------------------
# Partner admins only (403 for other roles; another tenant's customer or request: 404). The dry run, filing,
# the list of both directions, withdrawing, reminding and deciding a customer's disassociation request.

ADMIN_ONLY = ("admin",)


def _requests(user):
    return (
        AssociationRequest.objects.for_user(user)
        .select_related("customer", "partner", "requested_by", "decided_by")
        .only(
            *(f.name for f in AssociationRequest._meta.concrete_fields),
            "customer__name",
            "customer__account_name",
            "customer__customer_id",
            "partner__name",
            "requested_by__username",
            "decided_by__username",
        )
        .order_by("-created_at", "-id")
    )


@require_GET
@staff_required(roles=ADMIN_ONLY)
def request_list(request: StaffRequest):
    filterset = AssociationRequestFilter(
        request.GET or None, queryset=_requests(request.user), request=request
    )
    page = lists.paginate(request, lists.filtered(request, filterset))
    context = {"filter": filterset, "now": timezone.now(), **lists.page_context(request, page)}
    return render_page(request, "customers/requests.html", context, partial="table")


def _dry_run_context(request, customer, kind: str, form=None) -> dict:
    kinds = services.request_kinds(customer)
    until = services.cooldown_until(customer)
    open_request = AssociationRequest.objects.filter(customer=customer).open().first()
    check = None
    if until is None and open_request is None and customer.is_associated:
        check = services.run_account_check(customer, kind)
    return {
        "customer": customer,
        "kind": kind,
        "kind_label": AssociationRequest.Kind(kind).label,
        "kinds": [(k, AssociationRequest.Kind(k).label) for k in kinds],
        "cooldown_until": until,
        "open_request": open_request,
        "check": check,
        "effects": services.effects(customer, kind),
        "to_label": AssociationRequest(kind=kind).get_to_association_type_display(),
        "form": form or AssociationRequestForm(user=request.user, request=request),
        "may_file": check is not None and check.passed,
        "ttl_days": settings.ASSOCIATION_REQUEST_TTL.days,
    }


def _request_kind(request, customer) -> str:
    kinds = services.request_kinds(customer)
    kind = request.POST.get("kind") or request.GET.get("kind") or kinds[0]
    return kind if kind in kinds else kinds[0]


@require_http_methods(["GET", "POST"])
@never_cache
@staff_required(roles=ADMIN_ONLY)
def request_new(request: StaffRequest, customer_pk: int):
    """The dry run (account check, cooldown, effects) and, once it passes, the filing form."""
    customer = get_for_user_or_404(Customer.objects.select_related("partner"), request.user, pk=customer_pk)
    kind = _request_kind(request, customer)
    form = None
    if request.method == "POST":
        form = AssociationRequestForm(request.POST, user=request.user, request=request)
        if form.is_valid():
            try:
                filed = services.file_request(request.user, customer, kind, form.cleaned_data["reason"])
            except services.ServiceError as error:
                messages.error(request, error.message)
            else:
                messages.success(
                    request,
                    _("Submitted: waiting for the customer to confirm (until %(date)s).")
                    % {"date": date_format(timezone.localtime(filed.expires_at), "Y-m-d H:i")},
                )
                return done(request, reverse("customers:request-detail", args=[filed.pk]))
    context = _dry_run_context(request, customer, kind, form)
    return render_page(request, "customers/requests_new.html", context, partial="dry_run")


def _get_request(request, request_pk: int) -> AssociationRequest:
    return get_for_user_or_404(_requests(request.user), request.user, pk=request_pk)


def _request_context(request, association_request, form=None) -> dict:
    waiting_partner = association_request.status == AssociationRequest.Status.PENDING_PARTNER
    return {
        "r": association_request,
        "now": timezone.now(),
        "history": audit.history_for(association_request).select_related("actor"),
        "decision_form": form
        or (PartnerDecisionForm(user=request.user, request=request) if waiting_partner else None),
    }


@require_GET
@never_cache
@staff_required(roles=ADMIN_ONLY)
def request_detail(request: StaffRequest, request_pk: int):
    association_request = _get_request(request, request_pk)
    return render_page(
        request,
        "customers/requests_detail.html",
        _request_context(request, association_request),
        partial="detail",
    )


@require_POST
@staff_required(roles=ADMIN_ONLY)
def request_withdraw(request: StaffRequest, request_pk: int):
    association_request = _get_request(request, request_pk)
    try:
        services.withdraw_request(association_request, user=request.user)
    except services.ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("The request is withdrawn; the customer's link no longer works."))
    return done(request, lists.safe_next(request, reverse("customers:request-detail", args=[request_pk])))


@require_POST
@staff_required(roles=ADMIN_ONLY)
def request_remind(request: StaffRequest, request_pk: int):
    association_request = _get_request(request, request_pk)
    try:
        services.remind_customer(request.user, association_request)
    except services.ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("The customer's link was sent again."))
    return done(request, lists.safe_next(request, reverse("customers:request-detail", args=[request_pk])))


@require_POST
@staff_required(roles=ADMIN_ONLY)
def request_decide(request: StaffRequest, request_pk: int):
    """Approve or reject a customer's disassociation request (reason; code when step-up is on)."""
    association_request = _get_request(request, request_pk)
    form = PartnerDecisionForm(request.POST, user=request.user, request=request)
    if form.is_valid():
        approve = form.cleaned_data["decision"] == "approve"
        try:
            services.partner_decide(
                request.user, association_request, approve=approve, reason=form.cleaned_data["reason"]
            )
        except services.ServiceError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                _("Approved: the disassociation is being applied on the cloud platform.")
                if approve
                else _("Rejected: the customer is told."),
            )
            return done(request, reverse("customers:request-detail", args=[request_pk]))
    association_request = _get_request(request, request_pk)
    return render_page(
        request,
        "customers/requests_detail.html",
        _request_context(request, association_request, form),
        partial="detail",
    )
