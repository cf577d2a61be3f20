"""manage.py bench_adjustments: 500 allocations from 20 signed-in clients through gunicorn, to the simulator.

It makes a scratch database (portal_bench_adjustments on the configured server, dropped and made anew), a
simulator of its own at the documented 10 requests/s, the demo partners and staff, and a first sync. Then it
serves the portal with gunicorn (the production settings and worker count of `make bench`) and a Celery
worker, and N clients signed in as ra-finance each open the allocation form of a resale customer and submit
it, as fast as they are answered. It prints the submits' throughput and latency (p50/p95 of the POST alone),
the time until every adjustment is final, against the rate-limit bound (one upstream call each: N ÷ 10 s),
and the invariant: Reseller A's balance plus its customers' balances, as the upstream reports them, are the
same before and after, to the cent, with exactly N succeeded adjustments.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

ROOT = Path(settings.BASE_DIR)
SCRATCH = "portal_bench_adjustments"
USERNAME, PASSWORD = "ra-finance", "portal-demo"


class Command(BaseCommand):
    help = (
        "Benchmark fund allocations through the web layer, the outbox and the simulator (scratch database)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--allocations", type=int, default=500)
        parser.add_argument("--clients", type=int, default=20)
        parser.add_argument("--amount", default="0.01", help="Each allocation's amount (CNY).")
        parser.add_argument("--rate", type=float, default=10.0, help="The upstream's limit (requests/s).")
        parser.add_argument("--settle-timeout", type=float, default=600.0)
        parser.add_argument("--inner", help="(internal) run one step in this process and print JSON.")

    def handle(self, *args, allocations, clients, amount, rate, settle_timeout, inner, **options):
        if inner:
            self.stdout.write(json.dumps(run_step(inner)))
            return
        from bench.run import Gunicorn, Portal, free_port, percentile, server_env
        from upstream.simulator.testing import SimulatorProcess

        # gunicorn and the worker keep the connection pool, as production runs them; the short set-up and
        # check steps open one connection each.
        served = {**server_env(), "DATABASE_URL": scratch_database(), "LOG_LEVEL": "WARNING"}
        env = {**served, "DB_POOL": "0"}
        subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
        subprocess.run(
            [sys.executable, "manage.py", "seed_demo"], cwd=ROOT, env=env, check=True, capture_output=True
        )
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        with (
            tempfile.TemporaryDirectory(prefix="bench-adjust-sim-") as data_dir,
            SimulatorProcess(customers=60, seed=7, resellers=2, data_dir=data_dir, rate_limit=rate) as sim,
        ):
            upstream = {"UPSTREAM_ENDPOINT": sim.url, "UPSTREAM_RATE_LIMIT": str(rate)}
            env.update(upstream)
            served.update(upstream)
            before = inner_step(env, "sync")
            if not before["customers"]:
                raise CommandError("The simulator gave Reseller A no resale customer with a balance.")
            port = free_port()
            web = Gunicorn(served, port, workers=4, threads=1)
            worker = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "portal",
                    "worker",
                    "--concurrency",
                    "2",
                    "--loglevel",
                    "WARNING",
                ],
                cwd=ROOT,
                env={**served, "SYNC_ON_WORKER_START": "0"},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                portal = Portal(port)
                web.wait_ready(portal)
                portal.sign_in(USERNAME, PASSWORD)
                self.stdout.write(
                    f"{allocations} allocations of ¥{amount} from {clients} clients as {USERNAME} "
                    f"(upstream limit {rate:g}/s) …"
                )
                started = time.monotonic()
                latencies, errors = drive(portal, before["customers"], allocations, clients, amount)
                submitted = time.monotonic() - started
                settled = wait_settled(env, allocations, settle_timeout)
                settle_time = time.monotonic() - started
            finally:
                worker.terminate()
                worker.wait(30)
                web.stop()
            after = inner_step(env, "verify")
        bound = allocations / rate
        w = self.stdout.write
        w("")
        w(
            f"  submits: {allocations} in {submitted:.1f} s = {allocations / submitted:.1f} submits/s, "
            f"errors {errors or 'none'}"
        )
        w(
            f"  submit latency (POST): p50 {percentile(latencies, 50) * 1000:.0f} ms, "
            f"p95 {percentile(latencies, 95) * 1000:.0f} ms, p99 {percentile(latencies, 99) * 1000:.0f} ms "
            f"(target p95 ≤ 200 ms)"
        )
        w(
            f"  all final after {settle_time:.1f} s: {settled}; rate-limit bound {bound:.0f} s, "
            f"ratio {settle_time / bound:.2f} (target ≤ 1.2)"
        )
        total_before, total_after = Decimal(before["total"]), Decimal(after["total"])
        exact = (
            total_before == total_after
            and after["succeeded"] == allocations
            and after["failed"] == 0
            and Decimal(before["balance"]) - Decimal(after["balance"]) == Decimal(amount) * allocations
        )
        w(
            f"  invariant: Reseller A balance {before['balance']} → {after['balance']}, balance + customers "
            f"{total_before} → {total_after}; succeeded {after['succeeded']}, failed {after['failed']}: "
            f"{'EXACT' if exact else 'BROKEN'}"
        )
        if not exact:
            raise CommandError("The invariant does not hold.")


def scratch_database() -> str:
    import psycopg
    from psycopg import sql

    url = urlparse(settings.DATABASE_URL)
    with psycopg.connect(url._replace(path="/postgres").geturl(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(SCRATCH)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(SCRATCH)))
    return url._replace(path=f"/{SCRATCH}").geturl()


def inner_step(env: dict, step: str) -> dict:
    done = subprocess.run(
        [sys.executable, "manage.py", "bench_adjustments", "--inner", step],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise CommandError(f"bench_adjustments --inner {step} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def drive(portal, customers: list[int], allocations: int, clients: int, amount: str):
    """Each client: open a customer's allocation form (its one-time token), submit it; time the submit."""
    from bench.run import Portal

    latencies: list[float] = []
    errors: dict[str, int] = {}
    lock = threading.Lock()
    counter = iter(range(allocations))

    def client() -> None:
        own = Portal(portal.port)
        own.cookies = dict(portal.cookies)
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                return
            customer = customers[n % len(customers)]
            url = f"/billing/customers/{customer}/adjust/"
            status, _, html = own.request("GET", f"{url}?kind=allocate")
            token = re.search(r'name="form_token" value="([^"]+)"', html)
            csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
            if status != 200 or not token or not csrf:
                with lock:
                    errors[f"form {status}"] = errors.get(f"form {status}", 0) + 1
                continue
            body = {
                "kind": "allocate",
                "amount": amount,
                "memo": f"bench {n}",
                "form_token": token.group(1),
                "csrfmiddlewaretoken": csrf.group(1),
            }
            sent = time.perf_counter()
            status, _, _ = own.request(
                "POST", url, body=body, headers={"Origin": own.origin, "Referer": f"{own.origin}{url}"}
            )
            took = time.perf_counter() - sent
            with lock:
                if status == 302:
                    latencies.append(took)
                else:
                    errors[str(status)] = errors.get(str(status), 0) + 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors


def wait_settled(env: dict, allocations: int, timeout: float) -> str:
    import psycopg

    until = time.monotonic() + timeout
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        while True:
            counts = dict(
                conn.execute("SELECT status, count(*) FROM billing_adjustment GROUP BY status").fetchall()
            )
            final = counts.get("succeeded", 0) + counts.get("failed", 0)
            if final >= allocations:
                return f"{counts.get('succeeded', 0)} succeeded, {counts.get('failed', 0)} failed"
            if time.monotonic() > until:
                return f"NOT SETTLED after {timeout:.0f} s: {counts}"
            time.sleep(0.2)


def run_step(step: str) -> dict:
    """In the scratch database: `sync` (balances from the upstream, the customers to allocate to, the totals)
    or `verify` (the same totals after, and the adjustments' outcome)."""
    from django.db.models import Sum

    from accounts.models import Partner
    from billing.models import Adjustment, CustomerAccount, PartnerAccount
    from customers.models import Customer
    from upstream.client import UpstreamClient
    from upstream.sync import run_dataset

    with UpstreamClient.from_settings(rate_limit=0) as client:
        for name in ("indirect_partners", "customers", "partner_balances", "customer_balances"):
            run = run_dataset(name, client=client, mode="full")
            if run.status != "succeeded":
                raise CommandError(f"sync of {name} failed: {run.errors}")
    ra = Partner.objects.get(name="Reseller A")
    balance = PartnerAccount.objects.get(partner=ra, account_type=PartnerAccount.AccountType.BALANCE).amount
    held = CustomerAccount.objects.filter(customer__partner=ra).aggregate(s=Sum("amount"))["s"] or Decimal(0)
    result = {"balance": str(balance), "total": str(balance + held)}
    if step == "sync":
        result["customers"] = list(
            Customer.objects.filter(partner=ra, association_type="2", account__isnull=False).values_list(
                "pk", flat=True
            )[:20]
        )
    else:
        result["succeeded"] = Adjustment.objects.filter(status="succeeded").count()
        result["failed"] = Adjustment.objects.filter(status="failed").count()
    return result
