"""Customer pages. The lists fill in with the customer and warning features."""

from __future__ import annotations

from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from accounts.decorators import staff_required


def _placeholder(request, title):
    return render(request, "portal/placeholder.html", {"title": title})


@require_GET
@staff_required
def customer_list(request):
    return _placeholder(request, _("Customer list"))


@require_GET
@staff_required
def warning_list(request):
    return _placeholder(request, _("Customer warnings"))


@require_GET
@staff_required
def association_records(request):
    return _placeholder(request, _("Association records"))


@require_GET
@staff_required
def request_list(request):
    return _placeholder(request, _("Requests"))
