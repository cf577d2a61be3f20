"""Billing pages. The lists fill in with the fund adjustment and discount features."""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.decorators import staff_required
from accounts.http import StaffRequest
from accounts.models import Partner
from accounts.tenancy import get_for_user_or_404, get_partner_or_404
from billing import services
from billing.filters import KIND_CHOICES, OUTSIDE, AdjustmentFilterForm, Ledger
from billing.forms import (
    AdjustmentBatchForm,
    AdjustmentBatchSubmitForm,
    AdjustmentDecisionForm,
    AdjustmentForm,
    ApprovalPolicyForm,
)
from billing.models import (
    Adjustment,
    AdjustmentBatch,
    AdjustRecord,
    CommercialDiscount,
    CustomerAccount,
    PartnerAccount,
)
from customers.models import Customer
from portal.lib import lists, unchanged
from portal.lib.htmx import done, render_page
from portal.lib.masking import mask
from portal.lib.money import money_str
from portal.lib.text import csv_response


def _adjustment_filter(request) -> tuple[AdjustmentFilterForm, dict]:
    """The filter form and its values; a filter that makes no sense is dropped, with a message."""
    form = AdjustmentFilterForm(request.GET or None, user=request.user)
    if not form.is_bound:
        return form, {}
    if form.is_valid():
        return form, form.cleaned_data
    names = ", ".join(str(form.fields[name].label) for name in form.errors if name in form.fields)
    messages.warning(
        request,
        gettext("Some filters were not understood (%(names)s), so the list is not filtered.")
        % {"names": names},
    )
    return form, {}


class _Row(SimpleNamespace):
    """One line of the records page: a portal adjustment or an upstream record made outside the portal."""

    @property
    def outside(self) -> bool:
        return self.origin == OUTSIDE

    @property
    def customer(self) -> Customer | None:
        """The mirrored customer, enough of it for the masked name and its eye button (no query)."""
        if not self.row_customer:
            return None
        return Customer(pk=self.row_customer, customer_id=self.customer_code, name=self.customer_label or "")

    def get_kind_display(self) -> str:
        return dict(KIND_CHOICES).get(self.row_kind, self.row_kind)

    def get_status_display(self) -> str:
        return Adjustment.Status(self.row_status).label


@require_GET
@staff_required(perm="billing.view_adjustment")
def adjustment_list(request: StaffRequest):
    """调账记录: every allocation and reclaim, the portal's and those made outside it, with their totals."""
    form, data = _adjustment_filter(request)
    ledger = Ledger(request.user, data)
    page = lists.paginate(request, ledger.page_rows)
    page.object_list = [_Row(**values) for values in page.object_list]
    context = {
        "form": form,
        "totals": ledger.totals(),
        "query": request.GET.urlencode(),
        **lists.page_context(request, page),
    }
    return render_page(request, "billing/adjustment_list.html", context, partial="table", cached=True)


@require_GET
@staff_required(perm="billing.view_adjustment")
def adjustment_export(request: StaffRequest):
    """The filtered records as CSV (customer names masked), in the user's time zone."""
    _form, data = _adjustment_filter(request)
    ledger = Ledger(request.user, data)
    response, writer = csv_response(f"adjustments-{timezone.localdate().isoformat()}")
    writer.writerow(
        [
            gettext("Time"),
            gettext("Type"),
            gettext("Status"),
            gettext("Amount"),
            gettext("Currency"),
            gettext("Customer ID"),
            gettext("Customer name"),
            gettext("Reseller"),
            gettext("Requested by"),
            gettext("Transaction ID"),
            gettext("Memo"),
            gettext("Origin"),
        ]
    )
    for values in ledger.rows.iterator(chunk_size=1000):
        row = _Row(**values)
        writer.writerow(
            [
                timezone.localtime(row.at).isoformat(sep=" ", timespec="seconds"),
                row.get_kind_display(),
                row.get_status_display(),
                money_str(row.row_amount),
                "CNY",
                row.customer_code or "",
                mask("name", row.customer_label),
                row.reseller_name or "",
                row.requested_by_name or "",
                row.row_trans_id,
                row.row_memo,
                gettext("Outside the portal") if row.outside else gettext("Requested in the portal"),
            ]
        )
    return response


# --- read-only panels of the customer detail page (loaded by htmx from customers' templates) ---------------


def _customer_panel(request, kind: str, context: dict):
    return render_page(request, "billing/customer_panels.html", {"kind": kind, **context}, partial="panel")


def _panel_customer(request, customer_pk: int):
    return get_for_user_or_404(Customer, request.user, pk=customer_pk)


@require_GET
@staff_required(perm="customers.view_customer")
def customer_balance_panel(request, customer_pk: int):
    """The customer's resale balance and debt."""
    customer = _panel_customer(request, customer_pk)
    account = CustomerAccount.objects.filter(customer=customer).first() if customer.has_balance else None
    return _customer_panel(request, "balance", {"customer": customer, "account": account})


@require_GET
@staff_required(perm="customers.view_customer")
def customer_discounts_panel(request, customer_pk: int):
    """The customer's discounts of all three kinds, and the rate it pays when several apply (issue 10)."""
    from billing.models import DedicatedOffer, PartnerDiscount
    from billing.services import effective_rate

    customer = _panel_customer(request, customer_pk)
    partner_discount = PartnerDiscount.objects.filter(customer=customer).first()
    discounts = list(CommercialDiscount.objects.filter(customer=customer)[:50])
    offers = list(DedicatedOffer.objects.filter(customer=customer)[:50])
    in_force = [d.discount_rate for d in discounts if d.status == CommercialDiscount.Status.EFFECTIVE]
    partner_rate = partner_discount.rate if partner_discount and partner_discount.is_in_force else None
    context = {
        "customer": customer,
        "partner_discount": partner_discount,
        "discounts": discounts,
        "offers": offers,
        "effective_rate": effective_rate(partner_rate, in_force),
        "may_set_discount": request.user.has_perm("billing.change_partnerdiscount"),
        "may_create_offer": request.user.has_perm("billing.add_dedicatedoffer"),
    }
    return _customer_panel(request, "discounts", context)


@require_GET
@staff_required(perm="customers.view_customer")
def customer_adjust_records_panel(request, customer_pk: int):
    """The latest allocations and reclaims of the customer, as the upstream recorded them."""
    customer = _panel_customer(request, customer_pk)
    records = AdjustRecord.objects.filter(customer=customer)[:20]
    return _customer_panel(request, "adjust_records", {"customer": customer, "records": records})


# --- allocate / reclaim one customer (拨款 / 回收) ---------------------------------------------------------


def _adjustable_customer(request, customer_pk: int) -> Customer:
    """A customer the user's partner may see (404 otherwise), with its partner for the preview."""
    customers = Customer.objects.select_related("partner")
    return get_for_user_or_404(customers, request.user, pk=customer_pk)


def _adjustable_reseller(request, reseller_pk: int) -> Partner:
    """One of the user's distributor's resellers; anything else (another tenant, itself) is a 404."""
    reseller = get_partner_or_404(request.user, reseller_pk)
    if reseller.pk == request.user.partner_id:
        raise Http404
    return reseller


def _adjustment_context(
    request, form: AdjustmentForm, *, customer=None, reseller=None, preview: bool = True
) -> dict:
    """The form page's context: the counterparty, the refusal if funds cannot move, and (to render) the
    preview; a submit that goes through is not previewed (4 queries less on every allocation)."""
    if customer is not None:
        urls = {
            "form_url": reverse("billing:adjustment-new", args=[customer.pk]),
            "preview_url": reverse("billing:adjustment-preview", args=[customer.pk]),
            "back_url": reverse("customers:detail", args=[customer.pk]),
        }
        refusal = None if customer.has_balance and customer.is_associated else _refusal(customer)
    else:
        urls = {
            "form_url": reverse("billing:reseller-adjust", args=[reseller.pk]),
            "preview_url": reverse("billing:reseller-adjust-preview", args=[reseller.pk]),
            "back_url": reverse("billing:resellers"),
        }
        refusal = None
    context = {"customer": customer, "reseller": reseller, "form": form, "refusal": refusal, **urls}
    context.update({"tiers": None, "preview_error": ""})
    if preview:
        _add_preview(request, context)
    return context


def _add_preview(request, context: dict) -> None:
    """The accounts before → after for the amount typed so far, or why there is no preview yet."""
    form, customer, reseller = context["form"], context["customer"], context["reseller"]
    kind = form.data.get("kind") or form.initial.get("kind")
    raw = form.data.get("amount") or form.initial.get("amount")
    if context["refusal"] is None and kind in Adjustment.Kind.values and raw:
        try:
            amount = services.clean_amount(raw)
        except ValidationError as error:
            context["preview_error"] = error.messages[0]
        else:
            context["tiers"] = services.preview_adjustment(
                acting_partner=request.user.partner,
                kind=kind,
                amount=amount,
                customer=customer,
                reseller=reseller,
            )
            context.update({"preview_amount": amount, "preview_kind": kind})


def _refusal(customer: Customer) -> str:
    if not customer.is_associated:
        return gettext("This customer is no longer associated.")
    return gettext(
        "Referral customers pay the cloud platform themselves: funds can only be allocated to or reclaimed "
        "from resale customers."
    )


def _adjust(request: StaffRequest, *, customer=None, reseller=None):
    """The form (GET), or the adjustment it asks for (POST): recorded with its outbox command, then followed
    on its own page; bad input comes back on the form and changes nothing."""
    if request.method == "GET":
        kind = request.GET.get("kind")
        initial = {
            "kind": kind if kind in Adjustment.Kind.values else Adjustment.Kind.ALLOCATE,
            "form_token": secrets.token_urlsafe(24),
        }
        if customer is not None and request.GET.get("fill") == "month":
            initial["amount"] = services.month_of_spend(customer) or ""
        form = AdjustmentForm(user=request.user, request=request, initial=initial)
        context = _adjustment_context(request, form, customer=customer, reseller=reseller)
        return render_page(request, "billing/adjustment_form.html", context, partial="form")
    form = AdjustmentForm(request.POST, user=request.user, request=request)
    context = _adjustment_context(request, form, customer=customer, reseller=reseller, preview=False)
    if context["refusal"] is None and form.is_valid():
        try:
            adjustment = services.request_adjustment(
                partner=customer.partner if customer is not None else request.user.partner,
                kind=form.cleaned_data["kind"],
                amount=form.cleaned_data["amount"],
                customer=customer,
                reseller=reseller,
                memo=form.cleaned_data["memo"],
                requested_by=request.user,
                form_token=form.cleaned_data["form_token"],
            )
        except ValidationError as error:
            form.add_refusal(error)
        else:
            messages.success(
                request, gettext("The adjustment is recorded and is being sent to the cloud platform.")
            )
            return done(request, reverse("billing:adjustment-detail", args=[adjustment.pk]))
    _add_preview(request, context)
    return render_page(request, "billing/adjustment_form.html", context, partial="form")


def _preview_only(request: StaffRequest, *, customer=None, reseller=None):
    form = AdjustmentForm(request.GET, user=request.user, request=request)
    context = _adjustment_context(request, form, customer=customer, reseller=reseller)
    return render_page(request, "billing/adjustment_form.html", context, partial="preview")


@require_http_methods(["GET", "POST"])
@staff_required(perm="billing.add_adjustment")
def adjustment_new(request: StaffRequest, customer_pk: int):
    """拨款 / 回收 for one customer: the form, a live preview of the accounts, then the outbox sends it."""
    return _adjust(request, customer=_adjustable_customer(request, customer_pk))


@require_GET
@staff_required(perm="billing.add_adjustment")
def adjustment_preview(request: StaffRequest, customer_pk: int):
    """The preview alone, as the amount is typed (htmx; changes nothing)."""
    return _preview_only(request, customer=_adjustable_customer(request, customer_pk))


@require_http_methods(["GET", "POST"])
@staff_required(perm="billing.add_adjustment")
def reseller_adjust(request: StaffRequest, reseller_pk: int):
    """A distributor allocates to or reclaims from one of its resellers."""
    return _adjust(request, reseller=_adjustable_reseller(request, reseller_pk))


@require_GET
@staff_required(perm="billing.add_adjustment")
def reseller_adjust_preview(request: StaffRequest, reseller_pk: int):
    return _preview_only(request, reseller=_adjustable_reseller(request, reseller_pk))


@require_GET
@staff_required(perm="billing.view_adjustment")
def reseller_list(request: StaffRequest):
    """The partner's balance and, for a distributor, each reseller's, with how fresh each is."""
    partner = request.user.partner
    accounts = {
        account.partner_id: account
        for account in PartnerAccount.objects.filter(
            partner_id__in=partner.visible_partner_ids(), account_type=PartnerAccount.AccountType.BALANCE
        )
    }
    resellers = (
        list(Partner.objects.filter(parent=partner).order_by("name")) if partner.is_distributor else []
    )
    own = accounts.get(partner.pk)
    context = {
        "partner": partner,
        "own": own,
        "own_available": services.available_to_allocate(partner, own) if own else None,
        "rows": [(reseller, accounts.get(reseller.pk)) for reseller in resellers],
        "may_adjust": request.user.has_perm("billing.add_adjustment"),
    }
    return render_page(request, "billing/reseller_list.html", context)


def _get_adjustment(request, adjustment_pk: int) -> Adjustment:
    """An adjustment of the user's partner (or one of its resellers), as counterparty or payer; else 404."""
    rows = Adjustment.objects.select_related("customer", "reseller", "partner", "requested_by", "decided_by")
    return get_for_user_or_404(rows, request.user, pk=adjustment_pk)


def _detail_context(request, adjustment: Adjustment, form=None) -> dict:
    may_decide = adjustment.may_be_decided_by(request.user)
    if may_decide and form is None:
        form = AdjustmentDecisionForm(user=request.user, request=request)
    return {
        "adjustment": adjustment,
        "customer": adjustment.customer,
        "may_decide": may_decide,
        "decision_form": form,
    }


@require_GET
@staff_required(perm="billing.view_adjustment")
def adjustment_detail(request: StaffRequest, adjustment_pk: int):
    """One adjustment: pending → sent → succeeded | failed, refreshed in place while the outbox works."""
    adjustment = _get_adjustment(request, adjustment_pk)
    context = _detail_context(request, adjustment)
    return render_page(request, "billing/adjustment_detail.html", context, partial="status")


# --- batches (批量拨款 / 批量回收) --------------------------------------------------------------------------


def _batch_preview_context(request, kind: str, text: str) -> dict:
    """Every row checked, the totals of the valid ones, and the signed rows the submit form carries."""
    from django.core import signing

    rows = services.check_batch(
        acting_partner=request.user.partner,
        visible_customers=Customer.objects.for_user(request.user),
        kind=kind,
        text=text,
    )
    valid = [row for row in rows if row.valid]
    payload = signing.dumps(
        {"user": request.user.pk, "kind": kind, "text": text},
        salt=AdjustmentBatchSubmitForm.SALT,
        compress=True,
    )
    available = {}
    if kind == Adjustment.Kind.ALLOCATE:
        for row in valid:
            partner = row.customer.partner
            if partner.pk not in available:
                available[partner.pk] = (partner.name, services.available_to_allocate(partner))
    return {
        "kind": kind,
        "rows": rows,
        "valid_count": len(valid),
        "invalid_count": len(rows) - len(valid),
        "total": sum((row.amount for row in valid), Decimal(0)),
        "available": list(available.values()),
        "submit_form": AdjustmentBatchSubmitForm(
            initial={"rows": payload}, user=request.user, request=request
        ),
    }


@require_http_methods(["GET", "POST"])
@staff_required(perm="billing.add_adjustment")
def adjustment_batch(request: StaffRequest):
    """Upload or paste the rows, then the preview of every row (POST; nothing is written yet)."""
    form = AdjustmentBatchForm(request.POST or None, request.FILES or None)
    context = {"form": form}
    if request.method == "POST" and form.is_valid():
        try:
            context.update(
                _batch_preview_context(request, form.cleaned_data["kind"], form.cleaned_data["text"])
            )
        except ValidationError as error:
            form.add_error(None, error)
    return render_page(request, "billing/adjustment_batch.html", context)


@require_POST
@staff_required(perm="billing.add_adjustment")
def adjustment_batch_submit(request: StaffRequest):
    """Submit a previewed batch: its rows are checked again, the valid ones become adjustments (a task)."""
    submit = AdjustmentBatchSubmitForm(request.POST, user=request.user, request=request)
    valid = submit.is_valid()
    payload = submit.cleaned_data.get("rows")
    if payload is not None and payload.get("user") != request.user.pk:
        submit.add_error("rows", gettext("This preview is not yours: preview the batch again."))
        payload = None
    if payload is None:
        errors = [str(e) for field in submit.errors.values() for e in field]
        context = {"form": AdjustmentBatchForm(), "errors": errors}
        return render_page(request, "billing/adjustment_batch.html", context)
    kind, text = payload["kind"], payload["text"]
    context = {"form": AdjustmentBatchForm(initial={"kind": kind, "text": text})}
    context.update(_batch_preview_context(request, kind, text))
    if not valid:  # the verification code: the preview again, with the code's error
        context["submit_form"] = submit
        return render_page(request, "billing/adjustment_batch.html", context)
    try:
        batch = services.start_batch(
            acting_partner=request.user.partner, kind=kind, rows=context["rows"], requested_by=request.user
        )
    except ValidationError as error:
        context["errors"] = error.messages
        return render_page(request, "billing/adjustment_batch.html", context)
    messages.success(request, gettext("The batch is submitted: its adjustments are being created and sent."))
    return done(request, reverse("billing:adjustment-batch-detail", args=[batch.pk]))


def _get_batch(request, batch_pk: int) -> AdjustmentBatch:
    return get_for_user_or_404(AdjustmentBatch, request.user, pk=batch_pk)


def _batch_rows(batch: AdjustmentBatch) -> list[dict]:
    """The batch's rows with their adjustment's status and transaction id (one query)."""
    adjustments = Adjustment.objects.in_bulk([row["adjustment"] for row in batch.rows if row["adjustment"]])
    rows = []
    for row in batch.rows:
        adjustment = adjustments.get(row["adjustment"])
        rows.append({**row, "amount": Decimal(row["amount"]), "record": adjustment})
    return rows


@require_GET
@staff_required(perm="billing.view_adjustment")
def adjustment_batch_detail(request: StaffRequest, batch_pk: int):
    """A batch's progress and per-row results, refreshed in place until every row is final."""
    batch = _get_batch(request, batch_pk)
    rows = _batch_rows(batch)
    counts = {"succeeded": 0, "failed": 0, "open": 0}
    for row in rows:
        if row["record"] is None:
            counts["failed" if row["error"] else "open"] += 1
        elif row["record"].is_open:
            counts["open"] += 1
        else:
            counts[row["record"].status] += 1
    context = {
        "batch": batch,
        "rows": rows,
        "counts": counts,
        "settled": batch.status == AdjustmentBatch.Status.DONE and not counts["open"],
    }
    return render_page(request, "billing/adjustment_batch_detail.html", context, partial="progress")


@require_GET
@staff_required(perm="billing.view_adjustment")
def adjustment_batch_export(request: StaffRequest, batch_pk: int):
    """The batch's results as CSV: each row as submitted, its outcome and transaction id."""
    batch = _get_batch(request, batch_pk)
    response, writer = csv_response(f"adjustment-batch-{batch.pk}")
    writer.writerow(
        [
            gettext("Line"),
            gettext("Customer ID"),
            gettext("Amount"),
            gettext("Memo"),
            gettext("Status"),
            gettext("Transaction ID"),
            gettext("Reason"),
        ]
    )
    for row in _batch_rows(batch):
        record = row["record"]
        status = record.get_status_display() if record else gettext("Refused")
        reason = row["error"] or (record.error_display() if record and record.status == "failed" else "")
        writer.writerow(
            [
                row["line"],
                row["customer_id"],
                money_str(row["amount"]),
                row["memo"],
                status,
                record.upstream_transaction_id if record else "",
                reason,
            ]
        )
    return response


# --- reconciliation (对账) ---------------------------------------------------------------------------------

RECONCILIATION_DAYS = 7
RECONCILIATION_MAX_DAYS = 92


def _reconciliation_window(request) -> tuple[date, date, str]:
    """The days asked for (default: the last 7, today included), at most 92; or the default with a reason."""
    today = timezone.localdate()
    default = (today - timedelta(days=RECONCILIATION_DAYS - 1), today)
    try:
        start = date.fromisoformat(request.GET.get("start") or default[0].isoformat())
        end = date.fromisoformat(request.GET.get("end") or default[1].isoformat())
    except ValueError:
        return *default, gettext("Dates are written YYYY-MM-DD: showing the last 7 days.")
    if end < start or (end - start).days >= RECONCILIATION_MAX_DAYS:
        return *default, gettext(
            "Choose at most 92 days, the end not before the start: showing the last 7 days."
        )
    return start, end, ""


def _reconciliation_report(request, partner_ids: list[int], start, end) -> dict:
    """The days' figures and the keys of the asked page's differences, cached while the database is unchanged
    (portal/lib/unchanged.py): matching a week of a large partner reads tens of thousands of rows (~0.25 s).
    Only counts, amounts and keys are cached; the page's rows are read for each request (services.hydrate)."""

    def compute() -> dict:
        days = services.reconcile(partner_ids, start, end)
        mismatches = [m for day in days for m in day.mismatches]
        page = lists.paginate(request, mismatches, count=len(mismatches))
        return {
            "days": [day.summary() for day in days],
            "count": len(mismatches),
            "open_count": sum(day.open_mismatches for day in days),
            "number": page.number,
            "page_keys": [(m.trans_id, m.problem, m.day) for m in page.object_list],
        }

    inputs = (
        tuple(partner_ids),
        start,
        end,
        timezone.get_current_timezone_name(),
        request.GET.get("page"),
        lists.per_page(request),
    )
    return unchanged.cached("reconciliation", inputs, compute)


@require_GET
@staff_required(perm="billing.view_adjustment")
def reconciliation(request: StaffRequest):
    """对账: per day, the portal's adjustments against the platform's adjust records, differences flagged."""
    start, end, problem = _reconciliation_window(request)
    if problem:
        messages.warning(request, problem)
    partner_ids = request.user.partner.visible_partner_ids()
    report = _reconciliation_report(request, partner_ids, start, end)
    # A page of the differences at a time: a partner that adjusts funds outside the portal has thousands a
    # week (at 100,000 customers, 48,000 in 7 days: the whole list was 53 MB of HTML and took 12 s).
    paginator = lists.BoundedPaginator(range(report["count"]), lists.per_page(request))
    paginator.count = report["count"]
    page = paginator.page(report["number"])
    page.object_list = services.hydrate(partner_ids, [services.Mismatch(*key) for key in report["page_keys"]])
    context = {
        "days": report["days"],
        "start": start,
        "end": end,
        "today": timezone.localdate(),
        "mismatch_count": report["count"],
        "open_count": report["open_count"],
        "may_explain": request.user.has_perm("billing.add_reconciliationnote"),
        **lists.page_context(request, page),
    }
    return render_page(request, "billing/reconciliation.html", context, partial="report", cached=True)


@require_POST
@staff_required(perm="billing.add_reconciliationnote")
def reconciliation_explain(request: StaffRequest):
    """A partner admin explains one difference (audited); back to the page it was explained on."""
    target = lists.safe_next(request, reverse("billing:reconciliation"))
    trans_id = (request.POST.get("trans_id") or "").strip()[:128]
    if not trans_id:
        messages.error(request, gettext("Choose the difference to explain."))
        return done(request, target)
    try:
        services.explain_mismatch(
            partner=request.user.partner,
            trans_id=trans_id,
            note=request.POST.get("note", ""),
            user=request.user,
        )
    except ValidationError as error:
        messages.error(request, error.messages[0])
    else:
        messages.success(request, gettext("The difference is marked explained."))
    return done(request, target)


# --- maker-checker -----------------------------------------------------------------------------------------


@require_POST
@staff_required(perm="billing.add_adjustment")
def adjustment_decide(request: StaffRequest, adjustment_pk: int):
    """Approve or reject an adjustment that waits for a second person (not its requester)."""
    adjustment = _get_adjustment(request, adjustment_pk)
    form = AdjustmentDecisionForm(request.POST, user=request.user, request=request)
    if form.is_valid():
        try:
            services.decide_adjustment(
                adjustment,
                user=request.user,
                approve=form.cleaned_data["decision"] == "approve",
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as error:
            messages.error(request, error.messages[0])
        else:
            messages.success(request, gettext("Your decision is recorded."))
            return done(request, reverse("billing:adjustment-detail", args=[adjustment.pk]))
    adjustment.refresh_from_db()
    return render_page(
        request,
        "billing/adjustment_detail.html",
        _detail_context(request, adjustment, form),
        partial="status",
    )


@require_http_methods(["GET", "POST"])
@staff_required(perm="accounts.manage_partner")
def billing_settings(request: StaffRequest):
    """The partner's maker-checker threshold for adjustments."""
    from billing.models import ApprovalPolicy

    partner = request.user.partner
    current = ApprovalPolicy.threshold_for(partner)
    form = ApprovalPolicyForm(
        request.POST or None, initial={"approval_threshold": money_str(current) if current else ""}
    )
    if request.method == "POST" and form.is_valid():
        services.set_approval_threshold(
            partner=partner, value=form.cleaned_data["approval_threshold"], user=request.user
        )
        messages.success(request, gettext("The approval threshold is saved."))
        return done(request, reverse("billing:settings"))
    return render_page(request, "billing/settings.html", {"form": form, "current": current})
