"""manage.py seed_scale --customers N: large data for benchmarks, through the simulator and a real sync.

Adds N new customers to the running simulator, spread over the distributor and its resellers, then runs a
real full sync of resellers, customers, balances and association records, so that the portal's tables hold
what a large partner's would. Only against the bundled simulator.

It lives in portal/: it fills the apps' tables (the portal composes the apps; upstream/ imports none).
"""

from __future__ import annotations

import json
import time
import urllib.request

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from upstream.management.commands.sync_upstream import ProgressBar
from upstream.models import SyncRun
from upstream.sync import run_dataset

DATASETS = ("indirect_partners", "customers", "customer_balances", "association_records")
BATCH = 100_000  # the simulator adds at most this many customers per call


def _add_customers(count: int) -> int:
    body = json.dumps({"count": count}).encode()
    request = urllib.request.Request(  # noqa: S310  (the configured simulator, http on loopback)
        f"{settings.UPSTREAM_ENDPOINT}/_sim/customers",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=600) as response:  # noqa: S310
        return len(json.load(response)["customer_ids"])


class Command(BaseCommand):
    help = "Add N customers to the simulator and sync them into the portal (benchmark data)."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, required=True, help="How many customers to add.")

    def handle(self, *args, customers: int, **options):
        if not settings.UPSTREAM_IS_SIMULATOR:
            raise CommandError(
                "seed_scale works through the bundled simulator only (UPSTREAM_IS_SIMULATOR=1)."
            )
        if not 1 <= customers <= 1_000_000:
            raise CommandError("--customers must be from 1 to 1,000,000.")
        started = time.monotonic()
        added = 0
        while added < customers:
            # The simulator spreads new customers over the distributor and its resellers as in its demo world.
            added += _add_customers(min(BATCH, customers - added))
        self.stdout.write(f"added {added:,} customers upstream")
        self.stdout.write(f"simulator ready in {time.monotonic() - started:.1f} s; syncing …")
        for name in DATASETS:
            bar = ProgressBar(name)
            run = run_dataset(name, mode=SyncRun.Mode.FULL, on_page=bar)
            if bar.tty:
                self.stderr.write("\n")
            self.stdout.write(
                f"{name:<20} {run.status:<9} pages={run.pages} read={run.rows_seen} "
                f"created={run.rows_created} in {run.duration.total_seconds():.1f}s"
            )
            if run.status != SyncRun.Status.SUCCEEDED:
                raise CommandError(f"{name} failed: {run.errors}")
