"""Portal-wide views: the dashboard, /healthz and the error pages."""

from __future__ import annotations

from django.http import JsonResponse
from django.shortcuts import render
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST, require_safe

from accounts.decorators import staff_required
from portal.health import run_checks
from portal.lib.htmx import render_page


@require_GET
@staff_required
def dashboard(request):
    return render(request, "portal/dashboard.html", {})


@require_safe  # GET and HEAD (load balancers often probe with HEAD)
@never_cache
def healthz(request):
    """200 when `ok` or `degraded` (the node serves; the reasons say what is late), 503 when `unavailable`."""
    status, results = run_checks()
    return JsonResponse({"status": status, **results}, status=503 if status == "unavailable" else 200)


def csrf_failure(request, reason=""):
    return render(request, "403_csrf.html", {"reason": reason}, status=403)


def _ago(when) -> str:
    """ "3 minutes ago" / "3 分钟前"."""
    return _("%(delta)s ago") % {"delta": timesince(when)}


@require_GET
@staff_required(perm="upstream.view_syncrun")
def sync_status(request):
    """The last run of every dataset, refreshed by htmx while a run is going."""
    from upstream.models import SyncRun
    from upstream.sync import datasets

    registered = datasets()
    names = [d.name for d in registered]
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
    rows = []
    for d in registered:
        run, good_run = latest.get(d.name), last_good.get(d.name)
        rows.append(
            {
                "name": d.name,
                "label": d.verbose_name,
                "run": run,
                "run_ago": _ago(run.started_at) if run else "",
                "good": good_run,
                "good_ago": _ago(good_run.finished_at or good_run.started_at) if good_run else "",
            }
        )
    running = any(r["run"] is not None and r["run"].status == SyncRun.Status.RUNNING for r in rows)
    context = {"rows": rows, "running": running}
    return render_page(request, "portal/sync_status.html", context, partial="table")


@require_POST
@staff_required(perm="upstream.view_syncrun")
def sync_now(request):
    """Queue a full sync of one dataset (who may: User.can_start_sync, which the page asks too)."""
    from django.contrib import messages
    from django.core.exceptions import PermissionDenied
    from django.shortcuts import redirect

    from upstream.sync import REGISTRY
    from upstream.tasks import sync_dataset

    if not request.user.can_start_sync:
        raise PermissionDenied
    dataset = REGISTRY.get(request.POST.get("dataset", ""))
    if dataset is None:
        messages.error(
            request,
            _("There is no dataset called %(name)s.") % {"name": request.POST.get("dataset", "")[:64]},
        )
        return redirect("portal:sync-status")
    sync_dataset.delay(dataset.name, "full")
    messages.success(request, _("A full sync of %(name)s is queued.") % {"name": dataset.verbose_name})
    return redirect("portal:sync-status")
