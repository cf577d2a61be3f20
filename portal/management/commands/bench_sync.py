"""manage.py bench_sync --customers 100000: time and memory of a full customer + balance sync.

It makes a scratch database (portal_bench on the configured server, dropped and made anew), starts a
simulator of its own with N customers, and syncs resellers, customers and customer balances twice:
with the limit lifted (rows upserted per second), and at the documented 10 requests/s (time taken against
the rate-limit bound: pages ÷ 10 s per operation). Prints the figures; writes nothing else.

It lives in portal/ because it composes apps (accounts, customers); upstream/ imports no app.
"""

from __future__ import annotations

import json
import os
import resource
import secrets
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

from django.conf import settings
from django.core.management.base import BaseCommand

ROOT = Path(settings.BASE_DIR)


class Command(BaseCommand):
    help = "Benchmark a full customer + balance sync against the simulator (scratch database)."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=100_000)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--rate", type=float, default=10.0, help="The documented limit (requests/s).")
        parser.add_argument("--skip-limited", action="store_true", help="Only the run with the limit lifted.")
        parser.add_argument("--inner", help="(internal) run one phase in this process and print JSON.")

    def handle(self, *args, customers, seed, rate, skip_limited, inner, **options):
        if inner:
            self.stdout.write(json.dumps(run_phase(inner)))
            return
        from upstream.simulator.testing import SimulatorProcess

        db_url = make_scratch_database()
        # DEBUG=0 as in production: Django's debug query log would otherwise keep the last 9,000 statements.
        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "DB_POOL": "0",
            "LOG_LEVEL": "WARNING",
            "DEBUG": "0",
            "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
        }
        subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
        data_dir = ROOT / "var" / f"bench-sim-{customers}-{seed}"
        self.stdout.write(f"Simulator with {customers:,} customers (data in {data_dir}) …")
        started = time.monotonic()
        with SimulatorProcess(customers=customers, seed=seed, data_dir=data_dir, rate_limit=0) as sim:
            self.stdout.write(f"  ready in {time.monotonic() - started:.1f} s at {sim.url}")
            env["UPSTREAM_ENDPOINT"] = sim.url
            phases = [("lifted", 0.0)] + ([] if skip_limited else [("limited", rate)])
            for name, limit in phases:
                sim.set_rate_limit(limit)
                result = json.loads(
                    subprocess.run(
                        [sys.executable, "manage.py", "bench_sync", "--inner", name],
                        cwd=ROOT,
                        env={**env, "UPSTREAM_RATE_LIMIT": str(limit)},
                        check=True,
                        capture_output=True,
                        text=True,
                    )
                    .stdout.strip()
                    .splitlines()[-1]
                )
                self.report(name, limit, result)

    def report(self, name: str, limit: float, r: dict) -> None:
        w = self.stdout.write
        w("")
        w(f"== {'limit lifted' if not limit else f'at {limit:g} requests/s'} ==")
        for ds in r["datasets"]:
            w(
                f"  {ds['name']:<18} pages={ds['pages']:>5} rows={ds['rows']:>7} created={ds['created']:>7} "
                f"updated={ds['updated']:>7} time={ds['seconds']:>7.1f} s  "
                f"rows/s={ds['rows'] / ds['seconds']:>8,.0f}"
            )
        timed = [ds for ds in r["datasets"] if ds["name"] != "indirect_partners"]
        rows = sum(ds["rows"] for ds in timed)
        secs = sum(ds["seconds"] for ds in timed)
        w(f"  customers + balances: {rows:,} rows in {secs:.1f} s = {rows / secs:,.0f} rows/s")
        if limit:
            pages = sum(ds["pages"] for ds in timed)
            bound = pages / limit
            w(f"  rate-limit bound: {pages} pages / {limit:g} per s = {bound:.1f} s")
            w(f"  ratio bound/taken = {bound / secs:.3f}")
        w(f"  peak memory of the syncing process: RSS {r['peak_rss_mb']:.0f} MB")


def make_scratch_database() -> str:
    import psycopg
    from psycopg import sql

    url = urlparse(settings.DATABASE_URL)
    name = "portal_bench"
    with psycopg.connect(url._replace(path="/postgres").geturl(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return url._replace(path=f"/{name}").geturl()


def run_phase(phase: str) -> dict:
    from django.db import connection

    from accounts.models import Partner
    from accounts.services import ensure_partner
    from customers.models import Customer
    from upstream.client import UpstreamClient
    from upstream.sync import run_dataset

    ensure_partner(
        upstream_id=settings.UPSTREAM_PARTNER_ID, name="Bench Distributor", tier=Partner.Tier.DISTRIBUTOR
    )
    if phase == "lifted":  # start empty, so the first run measures inserts
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {Customer._meta.db_table} CASCADE")
    results = []
    with UpstreamClient.from_settings() as client:
        for name in ("indirect_partners", "customers", "customer_balances"):
            started = time.monotonic()
            run = run_dataset(name, client=client, mode="full")
            seconds = time.monotonic() - started
            if run.status != "succeeded":
                raise SystemExit(f"{name} failed: {run.errors}")
            results.append(
                {
                    "name": name,
                    "pages": run.pages,
                    "rows": run.rows_seen,
                    "created": run.rows_created,
                    "updated": run.rows_updated,
                    "seconds": seconds,
                }
            )
    return {"datasets": results, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
