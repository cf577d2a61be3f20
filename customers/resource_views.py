"""Customers' resources and resource packages (issue 12): "expiring within N days" across all customers, and
the customer detail's resources and packages panels (loaded by URL). They read the mirror (customers/sync.py).
"""

from __future__ import annotations

from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.decorators import staff_required
from accounts.http import StaffRequest
from accounts.tenancy import get_for_user_or_404
from customers.models import Customer
from customers.resources import EXPIRING_DAYS, Resource, ResourcePackage
from customers.services import normalize_search
from portal.lib import lists
from portal.lib.htmx import render_page

DAY_CHOICES = (7, 15, 30, 60, 90)


def _days(request) -> int:
    try:
        days = int(request.GET.get("days", EXPIRING_DAYS))
    except ValueError:
        return EXPIRING_DAYS
    return days if days in DAY_CHOICES else EXPIRING_DAYS


@require_GET
@staff_required(perm="customers.view_customer")
def expiring_resources(request: StaffRequest):
    """Yearly/monthly resources of every customer the user sees that expire within N days, soonest first."""
    days = _days(request)
    rows = (
        Resource.objects.for_user(request.user)
        .filter(charging=Resource.Charging.PERIOD)
        .expiring_within(days)
        .select_related("customer")
        .order_by("expire_time", "id")
    )
    customer = normalize_search(request.GET.get("customer", ""))
    if customer:
        rows = rows.filter(customer__customer_id=customer)
    page = lists.paginate(request, rows)
    now = timezone.now()
    for resource in page.object_list:
        resource.days_left = max((resource.expire_time - now).days, 0)
    context = {
        "days": days,
        "day_choices": DAY_CHOICES,
        "customer_id": customer,
        **lists.page_context(request, page),
    }
    return render_page(request, "customers/resource_list.html", context, partial="table")


@require_GET
@staff_required(perm="customers.view_customer")
def customer_resources(request: StaffRequest, customer_pk: int):
    """The customer detail's resources panel: yearly/monthly and on-demand (region, type, spec, expiry)."""
    customer = get_for_user_or_404(Customer, request.user, pk=customer_pk)
    resources = list(customer.resources.order_by("charging", "expire_time", "id")[:200])
    context = {
        "customer": customer,
        "period": [r for r in resources if r.charging == Resource.Charging.PERIOD],
        "on_demand": [r for r in resources if r.charging == Resource.Charging.ON_DEMAND],
    }
    return render_page(request, "customers/resource_panel.html", context)


PACKAGE_FILTERS = ("nearly_used_up", "expiring")


@require_GET
@staff_required(perm="customers.view_customer")
def customer_packages(request: StaffRequest, customer_pk: int):
    """The customer detail's resource packages panel: validity and usage per item; "nearly used up" and
    "expiring" filters (swapped inside the panel)."""
    customer = get_for_user_or_404(Customer, request.user, pk=customer_pk)
    show = request.GET.get("show", "")
    packages = ResourcePackage.objects.filter(customer=customer)
    if show == "nearly_used_up":
        packages = packages.nearly_used_up()
    elif show == "expiring":
        packages = packages.expiring_within(EXPIRING_DAYS)
    else:
        show = ""
    context = {
        "customer": customer,
        "packages": list(packages.order_by("expire_time", "id")[:100]),
        "show": show,
        "expiring_days": EXPIRING_DAYS,
    }
    return render_page(request, "customers/package_panel.html", context)
