"""manage.py seed_scale --customers N: a large partner's data, through the simulator and a real sync.

Adds N customers to the running simulator (POST /_sim/scale), spread evenly over the distributor and 20
resellers (added upstream if missing), each with its balance, 10 warnings (about 20% pending, over a year),
3 association events, 2 adjust records and 2 orders (`--orders-per-customer`); then runs real full syncs of
every dataset that holds them, so the portal's tables hold what a large partner's would (N = 100,000:
1,000,000 warnings, 300,000 events, 200,000 adjust records, 200,000 orders). Only against the bundled
simulator.

The rate limit is lifted for the run, on both sides (the portal's client and the simulator, which gets its
previous limit back at the end): the load is ours, and at 10 requests/s 1M warnings would take hours.

It lives in portal/: it fills the apps' tables (the portal composes the apps; upstream/ imports none).
"""

from __future__ import annotations

import json
import resource
import time
import urllib.request
from types import SimpleNamespace

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test.utils import override_settings

from upstream.management.commands.sync_upstream import ProgressBar
from upstream.models import SyncRun
from upstream.sync import run_dataset

# Dependency order: partners before their customers, customers before the rows that point at them.
DATASETS = (
    "indirect_partners",
    "customers",
    "customer_balances",
    "warnings",
    "association_records",
    "adjust_records",
    "orders",
)
RESELLERS = 20
ORDERS_PER_CUSTOMER = 2
# Customers per simulator call: one SQLite transaction of ~5,000 customers and ~80,000 rows, so neither
# side holds more than that in memory and the call answers in about a second.
BATCH = 5_000


def _sim(path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(  # noqa: S310  (the configured simulator, http on loopback)
        f"{settings.UPSTREAM_ENDPOINT}/_sim/{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="GET" if body is None else "POST",
    )
    with urllib.request.urlopen(request, timeout=600) as response:  # noqa: S310
        return json.load(response)


def _upstream_totals(state: dict) -> dict[str, int]:
    """Rows each dataset will read upstream, over all scopes (from GET /_sim/state)."""
    partners = state["customers"]["by_partner"].values()
    return {
        "indirect_partners": len(state["balances"]) - 1,
        "customers": state["customers"]["active"],
        "customer_balances": sum(p["resale"] for p in partners),
        "warnings": sum(state["warnings"].values()),
        "association_records": state["association_records"],
        "adjust_records": state["adjust_records"]["total"],
        "orders": sum(state["orders"].values()),
    }


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Command(BaseCommand):
    help = "Add N customers with their history to the simulator and sync them into the portal (benchmarks)."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, required=True, help="How many customers to add.")
        parser.add_argument(
            "--orders-per-customer",
            type=int,
            default=ORDERS_PER_CUSTOMER,
            help=f"Completed orders (with line items) per customer, 0–20 (default {ORDERS_PER_CUSTOMER}).",
        )

    def handle(self, *args, customers: int, orders_per_customer: int, **options):
        if not settings.UPSTREAM_IS_SIMULATOR:
            raise CommandError(
                "seed_scale works through the bundled simulator only (UPSTREAM_IS_SIMULATOR=1)."
            )
        if not 1 <= customers <= 1_000_000:
            raise CommandError("--customers must be from 1 to 1,000,000.")
        if not 0 <= orders_per_customer <= 20:
            raise CommandError("--orders-per-customer must be from 0 to 20.")
        started = time.monotonic()
        previous_limit = _sim("state")["rate_limit"]
        _sim("rate-limit", {"per_second": 0})
        try:
            self._seed_upstream(customers, orders_per_customer)
            self.stdout.write(f"simulator ready in {time.monotonic() - started:.1f} s; syncing …")
            totals = _upstream_totals(_sim("state"))
            with override_settings(UPSTREAM_RATE_LIMIT=0):
                for name in DATASETS:
                    self._sync(name, totals[name])
        finally:
            _sim("rate-limit", {"per_second": previous_limit})
        # A bulk load leaves the planner without statistics until autovacuum comes by: without them it picks
        # a backward scan of all 1M warnings for one customer's 10 (measured: 367 ms instead of 0.1 ms). And
        # until VACUUM sets the visibility map, an index-only scan still reads every row from the table (the
        # badge's sums: 1.5 ms instead of 0.55 ms). Autovacuum does both on a live database, later.
        analyze_started = time.monotonic()
        with connection.cursor() as cursor:
            # VACUUM cannot run in a transaction (a test's): there only the statistics are refreshed.
            cursor.execute("ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE")
        self.stdout.write(f"tables vacuumed and analyzed in {time.monotonic() - analyze_started:.1f} s")
        self.stdout.write(f"done in {time.monotonic() - started:.1f} s; peak memory {_peak_rss_mb():.0f} MB")

    def _seed_upstream(self, customers: int, orders_per_customer: int) -> None:
        bar = ProgressBar("simulator")
        progress = SimpleNamespace(rows_total=customers, rows_seen=0)
        totals: dict[str, int] = {}
        started = time.monotonic()
        while progress.rows_seen < customers:
            added = _sim(
                "scale",
                {
                    "count": min(BATCH, customers - progress.rows_seen),
                    "resellers": RESELLERS,
                    "orders_per_customer": orders_per_customer,
                },
            )
            for key, value in added.items():
                totals[key] = totals.get(key, 0) + value if key != "resellers" else value
            progress.rows_seen += added["customers"]
            bar(progress)
        if bar.tty:
            self.stderr.write("\n")
        self.stdout.write(
            f"added upstream in {time.monotonic() - started:.1f} s: {totals['customers']:,} customers over "
            f"the distributor and {totals['resellers']} resellers, {totals['warnings']:,} warnings, "
            f"{totals['association_records']:,} association records, "
            f"{totals['adjust_records']:,} adjust records, {totals.get('orders', 0):,} orders"
        )

    def _sync(self, name: str, total: int) -> None:
        bar = ProgressBar(name)
        # A run's rows_total is its current scope's; the bar shows the dataset's rows over all 21 scopes.
        run = run_dataset(
            name,
            mode=SyncRun.Mode.FULL,
            on_page=lambda run: bar(SimpleNamespace(rows_seen=run.rows_seen, rows_total=total)),
        )
        if bar.tty:
            self.stderr.write("\n")
        self.stdout.write(
            f"{name:<20} {run.status:<9} pages={run.pages} read={run.rows_seen} "
            f"created={run.rows_created} in {run.duration.total_seconds():.1f}s"
        )
        if run.status != SyncRun.Status.SUCCEEDED:
            raise CommandError(f"{name} failed: {run.errors}")
