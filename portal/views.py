"""Portal-wide views: the dashboard, /healthz and the error pages."""

from __future__ import annotations

from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST, require_safe

from accounts.decorators import staff_required
from portal.health import run_checks
from portal.lib.fragments import Derived
from portal.lib.htmx import render_page


@require_GET
@staff_required
def dashboard(request):
    """运营看板: associations by month, current customers, money, warnings and sync health, for the user's
    partner or (a distributor) one reseller or all of them (`?partner=`). htmx refreshes the body every 60 s
    while the tab is visible (static/js/dashboard.js)."""
    from urllib.parse import urlencode

    from portal import dashboard as numbers

    user = request.user
    scope = numbers.scope_for(user, request.GET.get("partner"))
    # To the minute: the body is then the same for a minute while the numbers stay, and comes from the
    # fragment cache (portal/lib/fragments.py: keyed by everything it shows, never stale).
    now = timezone.now().replace(second=0, microsecond=0)
    access = numbers.Access(
        money=user.has_role("admin", "finance"),
        warnings=user.has_perm("customers.view_customerwarning"),
        orders=user.has_perm("customers.pay_order"),
        funnel=user.has_perm("customers.add_customerapplication"),
        requests=user.is_partner_admin,
    )
    tiles = numbers.tiles(scope.partner_ids, access, now)
    months = tiles["months"]
    context = {
        **tiles,
        "scope": scope,
        # Built from the months only when the body is rendered (not when it comes from the cache).
        "series": Derived(numbers.series_totals, months, scope.records_param),
        "rows": Derived(numbers.month_rows, months, scope.records_param),
        "chart": Derived(numbers.chart, months),
        "year_from": months[0].start,
        "year_to": months[-1].end,
        "fresh": numbers.freshness(tiles["sync"], now=now),
        "sync": tiles["sync"] if user.has_perm("upstream.view_syncrun") else None,
        "query": urlencode({"partner": scope.value}) if scope.value else "",
        "refreshed_at": now,
    }
    return render_page(request, "portal/dashboard.html", context, partial="body", cached=True)


@require_safe  # GET and HEAD (load balancers often probe with HEAD)
@never_cache
def healthz(request):
    """200 when `ok` or `degraded` (the node serves; the reasons say what is late), 503 when `unavailable`."""
    status, results = run_checks()
    return JsonResponse({"status": status, **results}, status=503 if status == "unavailable" else 200)


def csrf_failure(request, reason=""):
    return render(request, "403_csrf.html", {"reason": reason}, status=403)


def _ago(when, now=None) -> str:
    """ "3 minutes ago" / "3 分钟前"."""
    return _("%(delta)s ago") % {"delta": timesince(when, now)}


def sync_rows(now=None) -> list[dict]:
    """Per registered dataset: its newest run and its newest good run (two queries, whatever the runs), and
    how long ago each was (as of `now`)."""
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
                "run_ago": _ago(run.started_at, now) if run else "",
                "good": good_run,
                "good_ago": _ago(good_run.finished_at or good_run.started_at, now) if good_run else "",
            }
        )
    return rows


@require_GET
@staff_required(perm="upstream.view_syncrun")
def sync_status(request):
    """The last run of every dataset, refreshed by htmx while a run is going."""
    from upstream.models import SyncRun

    rows = sync_rows()
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
