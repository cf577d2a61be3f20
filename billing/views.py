"""Billing pages. The lists fill in with the fund adjustment and discount features."""

from __future__ import annotations

from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from accounts.decorators import staff_required


@require_GET
@staff_required
def adjustment_list(request):
    return render(request, "portal/placeholder.html", {"title": _("Adjustments")})


@require_GET
@staff_required
def discount_list(request):
    return render(request, "portal/placeholder.html", {"title": _("Discounts")})
