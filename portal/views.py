"""Portal-wide views: the dashboard, /healthz and the error pages."""

from __future__ import annotations

from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.decorators import staff_required
from portal.health import run_checks


@require_GET
@staff_required
def dashboard(request):
    return render(request, "portal/dashboard.html", {})


@require_GET
@never_cache
def healthz(request):
    healthy, results = run_checks()
    body = {"status": "ok" if healthy else "unavailable", **results}
    return JsonResponse(body, status=200 if healthy else 503)


def csrf_failure(request, reason=""):
    return render(request, "403_csrf.html", {"reason": reason}, status=403)
