"""Portal-wide views: the dashboard, /healthz and the error pages."""

from __future__ import annotations

from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts.decorators import staff_required
from portal.health import run_checks
from portal.lib.htmx import render_page


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


@require_GET
@staff_required(perm="upstream.view_syncrun")
def sync_status(request):
    """The last run of every dataset, refreshed by htmx while a run is going."""
    from upstream.models import SyncRun
    from upstream.sync import datasets

    names = [d.name for d in datasets()]
    latest: dict[str, SyncRun] = {}
    last_good: dict[str, SyncRun] = {}
    # Two small queries whatever the number of runs: the newest run, and the newest good one, per dataset.
    for run in (
        SyncRun.objects.filter(dataset__in=names).order_by("dataset", "-started_at").distinct("dataset")
    ):
        latest[run.dataset] = run
    good = SyncRun.objects.filter(dataset__in=names, status=SyncRun.Status.SUCCEEDED)
    for run in good.order_by("dataset", "-started_at").distinct("dataset"):
        last_good[run.dataset] = run
    rows = [{"name": n, "run": latest.get(n), "good": last_good.get(n)} for n in names]
    running = any(r["run"] is not None and r["run"].status == SyncRun.Status.RUNNING for r in rows)
    context = {"rows": rows, "running": running}
    return render_page(request, "portal/sync_status.html", context, partial="table")


@require_POST
@staff_required(roles=("admin",), perm="upstream.view_syncrun")
def sync_now(request):
    """Queue a full sync of one dataset (admins of the partner that holds the upstream credentials)."""
    from django.contrib import messages
    from django.core.exceptions import PermissionDenied
    from django.shortcuts import redirect

    from upstream.sync import REGISTRY
    from upstream.tasks import sync_dataset

    if request.user.partner.parent_id is not None:
        raise PermissionDenied
    dataset = request.POST.get("dataset", "")
    if dataset not in REGISTRY:
        messages.error(request, _("There is no dataset called %(name)s.") % {"name": dataset[:64]})
        return redirect("portal:sync-status")
    sync_dataset.delay(dataset, "full")
    messages.success(request, _("A full sync of %(name)s is queued.") % {"name": dataset})
    return redirect("portal:sync-status")
