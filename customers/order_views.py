"""Customers' orders (issue 12): the list with its filters and CSV, an order's detail, and partner payment.

Every member of staff sees its partners' orders (an account manager only its own customers': see
OrderQuerySet.visible_to); finance and admins (`customers.pay_order`) pay or reject those awaiting the
partner's payment, with a verification code when the partner asks for one.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts import audit
from accounts.decorators import staff_required
from accounts.http import StaffRequest
from accounts.stepup import StepUpFormMixin
from accounts.tenancy import get_for_user_or_404
from customers.filters import OrderFilter
from customers.orders import Order, PartnerPayment
from customers.payments import available_to_pay, request_partner_payment
from customers.services import ServiceError
from portal.lib import lists
from portal.lib.htmx import done, render_page
from portal.lib.masking import mask
from portal.lib.text import csv_response


class PartnerPaymentForm(StepUpFormMixin, forms.Form):
    """Pay or reject an order awaiting the partner's payment (a verification code when asked for)."""

    action = forms.ChoiceField(choices=PartnerPayment.Kind.choices, widget=forms.HiddenInput)
    reason = forms.CharField(
        label=gettext_lazy("Reason (for a rejection, shown to nobody but your colleagues)"),
        required=False,
        max_length=500,
    )


def _orders(user):
    """The orders the user may see, newest first, with what a row shows."""
    return (
        Order.objects.visible_to(user)
        .select_related("customer", "partner")
        .only(
            *(f.name for f in Order._meta.concrete_fields if f.name not in ("created_at", "updated_at")),
            "customer__name",
            "customer__account_name",
            "customer__customer_id",
            "customer__partner_id",
            "partner__name",
        )
        # As the list's indexes sort (customers migration 0011): newest first, orders without a time last.
        .order_by(F("ordered_at").desc(nulls_last=True), "-id")
    )


def _order_filter(request, rows=None) -> OrderFilter:
    rows = _orders(request.user).heads() if rows is None else rows
    return OrderFilter(request.GET or None, queryset=rows, user=request.user, request=request)


def attach_children(orders) -> None:
    """Give each combined order on the page its orders (`orders_inside`), in one query for the page."""
    heads = [o.order_id for o in orders if o.is_combined]
    inside: dict[str, list[Order]] = {}
    if heads:
        for child in Order.objects.filter(parent_id__in=heads).only(
            "order_id", "parent_id", "service_type_name", "status", "amount_after_discount"
        ):
            inside.setdefault(child.parent_id, []).append(child)
    for order in orders:
        order.orders_inside = sorted(inside.get(order.order_id, []), key=lambda o: o.order_id)


def _list_context(request, filterset, page) -> dict:
    attach_children(page.object_list)
    query = request.GET.copy()
    query.pop("page", None)
    return {
        "filter": filterset,
        "query": query.urlencode(),
        "show_partner": request.user.partner.is_distributor,
        "may_export": request.user.has_perm("customers.export_order"),
        **lists.page_context(request, page),
    }


@require_GET
@staff_required(perm="customers.view_order")
def order_list(request: StaffRequest):
    """客户订单: the partner's customers' orders, a combination as one row that expands to its orders."""
    filterset = _order_filter(request)
    page = lists.paginate(request, lists.filtered(request, filterset))
    context = _list_context(request, filterset, page)
    return render_page(request, "customers/order_list.html", context, partial="table", cached=True)


@require_GET
@staff_required(perm="customers.view_order")
def customer_orders(request: StaffRequest, customer_pk: int):
    """The customer detail's orders panel (loaded by URL): its latest orders, linking to the full list."""
    from customers.models import Customer

    customer = get_for_user_or_404(Customer, request.user, pk=customer_pk)
    rows = _orders(request.user).heads().filter(customer=customer)
    orders = list(rows[:10])
    attach_children(orders)
    context = {"customer": customer, "orders": orders, "more": rows[10:11].exists()}
    return render_page(request, "customers/order_panel.html", context)


def _local_time(value) -> str:
    return timezone.localtime(value).isoformat(sep=" ", timespec="seconds") if value else ""


@require_GET
@never_cache
@staff_required(perm="customers.export_order")
def order_export(request: StaffRequest):
    """The filtered orders as CSV (a combination's orders follow it), customers' names masked."""
    filterset = _order_filter(request, _orders(request.user))
    rows = lists.filtered(request, filterset)  # a combination's orders too, each its own line
    response, writer = csv_response(f"orders-{timezone.localdate().isoformat()}")
    writer.writerow(
        [
            _("Order ID"),
            _("Combined order"),
            _("Customer name"),
            _("Customer ID"),
            _("Partner"),
            _("Service"),
            _("Order type"),
            _("Status"),
            _("Partner pays"),
            _("Official price"),
            _("Amount after discount"),
            _("Discounts"),
            _("Currency"),
            _("Created on"),
            _("Paid"),
        ]
    )
    count = 0
    for order in rows.iterator(chunk_size=1000):
        count += 1
        customer = order.customer
        writer.writerow(
            [
                order.order_id,
                order.parent_id or "",
                mask("name", customer.name) if customer else "",
                order.customer_upstream_id,
                order.partner.name,
                order.service_type_name,
                order.get_order_type_display(),
                order.get_status_display(),
                _("Yes") if order.is_agent_pay else _("No"),
                order.official_amount,
                order.amount_after_discount,
                "; ".join(f"{label} {amount}" for label, amount in order.discount_rows()),
                order.currency,
                _local_time(order.ordered_at),
                _local_time(order.paid_at),
            ]
        )
    audit.record("order_export", request=request, summary=f"{count} orders (masked)", data={"rows": count})
    return response


# --- one order ----------------------------------------------------------------------------------------------


def _get_order(request, order_pk: int) -> Order:
    return get_for_user_or_404(
        Order.objects.visible_to(request.user).select_related("customer", "partner"),
        request.user,
        pk=order_pk,
    )


def _detail_context(request, order: Order, form=None) -> dict:
    head = order if order.parent_id is None else _get_order_by_id(request, order.parent_id)
    orders_inside = list(head.children.order_by("order_id")) if head and head.is_combined else []
    payments = list(head.payments.select_related("requested_by")[:10]) if head else []
    pending = next((p for p in payments if p.status == PartnerPayment.Status.PENDING), None)
    may_pay = (
        head is not None
        and head.awaits_partner_payment
        and pending is None
        and request.user.has_perm("customers.pay_order")
    )
    context = {
        "order": order,
        "head": head,
        "orders_inside": orders_inside,
        "payments": payments,
        "pending": pending,
        "may_pay": may_pay,
    }
    if may_pay:
        context["form"] = form or PartnerPaymentForm(user=request.user, request=request)
        context["available"] = available_to_pay(head.partner)
    return context


def _get_order_by_id(request, order_id: str) -> Order | None:
    return (
        Order.objects.visible_to(request.user)
        .select_related("customer", "partner")
        .filter(order_id=order_id)
        .first()
    )


@require_GET
@never_cache
@staff_required(perm="customers.view_order")
def order_detail(request: StaffRequest, order_pk: int):
    """An order: amounts and discounts, a combination's orders, partner payment; line items load by URL."""
    order = _get_order(request, order_pk)
    return render_page(
        request, "customers/order_detail.html", _detail_context(request, order), partial="status"
    )


@require_GET
@staff_required(perm="customers.view_order")
def order_items(request: StaffRequest, order_pk: int):
    """The order's line items and the resources it opened, read from the platform now (a short read)."""
    from upstream.client import RetryPolicy, UpstreamClient
    from upstream.errors import UpstreamError

    order = _get_order(request, order_pk)
    indirect = order.partner.indirect_partner_id
    context: dict = {"order": order, "items": [], "resources": [], "error": ""}
    try:
        with UpstreamClient.from_settings(retry=RetryPolicy(attempts=2, backoff_initial=0.2)) as client:
            detail = client.show_customer_order(order.order_id, indirect_partner_id=indirect, limit=100)
            context["items"] = [
                i for i in detail.line_items if order.is_combined or i.order_id == order.order_id
            ]
            context["total"] = detail.total
            if order.customer_upstream_id:
                ids = [c.order_id for c in detail.order.sub_orders] or [order.order_id]
                for order_id in ids[:10]:
                    page = client.list_period_resources(
                        order.customer_upstream_id, order_id=order_id, indirect_partner_id=indirect, limit=50
                    )
                    context["resources"] += list(page.items)
    except UpstreamError as error:
        context["error"] = str(error.message)
    return render_page(request, "customers/order_items.html", context)


@require_POST
@staff_required(perm="customers.pay_order")
def order_pay(request: StaffRequest, order_pk: int):
    """Pay or reject an order awaiting the partner's payment (a combination as a whole)."""
    order = _get_order(request, order_pk)
    form = PartnerPaymentForm(request.POST, user=request.user, request=request)
    if form.is_valid():
        try:
            payment = request_partner_payment(
                request.user, order, form.cleaned_data["action"], reason=form.cleaned_data["reason"]
            )
        except ServiceError as error:
            messages.error(request, error.message)
        else:
            if payment.kind == PartnerPayment.Kind.PAY:
                messages.success(request, _("The payment is being sent to the cloud platform."))
            else:
                messages.success(request, _("The rejection is being sent: the customer will pay the order."))
            return done(request, reverse("customers:order-detail", args=[order.pk]))
    context = _detail_context(request, order, form)
    return render_page(request, "customers/order_detail.html", context, partial="status")
