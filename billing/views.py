"""Billing pages. The lists fill in with the fund adjustment and discount features."""

from __future__ import annotations

from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from accounts.decorators import staff_required
from accounts.tenancy import get_for_user_or_404
from billing.models import AdjustRecord, CommercialDiscount, CustomerAccount
from customers.models import Customer
from portal.lib.htmx import render_page


@require_GET
@staff_required
def adjustment_list(request):
    return render(request, "portal/placeholder.html", {"title": _("Adjustments")})


@require_GET
@staff_required
def discount_list(request):
    return render(request, "portal/placeholder.html", {"title": _("Discounts")})


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
    """The commercial discounts in force for the customer."""
    customer = _panel_customer(request, customer_pk)
    discounts = CommercialDiscount.objects.filter(customer=customer)[:50]
    return _customer_panel(request, "discounts", {"customer": customer, "discounts": discounts})


@require_GET
@staff_required(perm="customers.view_customer")
def customer_adjust_records_panel(request, customer_pk: int):
    """The latest allocations and reclaims of the customer, as the upstream recorded them."""
    customer = _panel_customer(request, customer_pk)
    records = AdjustRecord.objects.filter(customer=customer)[:20]
    return _customer_panel(request, "adjust_records", {"customer": customer, "records": records})
