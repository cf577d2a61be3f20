"""`make bench` (bench/): the percentile math, the page registry, the bench-only hooks, and one real run."""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.core.management import call_command
from django.db import connection
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import Resolver404, resolve
from django.utils import timezone

from bench import run as bench_run
from bench.pages import PAGES, TRIVIAL, Page
from portal.bench import QueryCountMiddleware

BASE_DIR = Path(settings.BASE_DIR)
RESULT_KEYS = {"rps", "p50_ms", "p95_ms", "p99_ms", "errors", "queries", "ratio_to_trivial"}


# --- percentiles --------------------------------------------------------------------------------------------


def test_percentile_is_nearest_rank():
    values = list(range(1, 101))  # 1..100
    assert bench_run.percentile(values, 50) == 50
    assert bench_run.percentile(values, 95) == 95
    assert bench_run.percentile(values, 99) == 99
    assert bench_run.percentile(values, 100) == 100
    # No interpolation: the median of four values is the 2nd, a latency that was measured (not 2.5).
    assert bench_run.percentile([4, 1, 3, 2], 50) == 2
    # The rank rounds up: 95% of 10 values is the 10th value, 94% the 10th too, 90% the 9th.
    ten = [10, 20, 30, 40, 50, 60, 70, 80, 90, 1000]
    assert bench_run.percentile(ten, 95) == 1000
    assert bench_run.percentile(ten, 90) == 90
    assert bench_run.percentile(ten, 1) == 10


def test_percentile_edges():
    assert bench_run.percentile([0.25], 99) == 0.25
    assert math.isnan(bench_run.percentile([], 50))
    with pytest.raises(ValueError):
        bench_run.percentile([1, 2], 0)
    with pytest.raises(ValueError):
        bench_run.percentile([1, 2], 101)


def test_summary_reports_the_ratio_to_the_trivial_view():
    run = bench_run.Measurement(requests=50, elapsed=2.0, p50=0.1, p95=0.2, p99=0.25)
    run.error("502", 3)
    summary = run.summary(queries=7, trivial_rps=500.0)
    assert summary.keys() >= RESULT_KEYS
    assert summary["rps"] == 25.0
    assert summary["ratio_to_trivial"] == 0.05
    assert (summary["p50_ms"], summary["p95_ms"], summary["p99_ms"]) == (100.0, 200.0, 250.0)
    assert summary["errors"] == 3
    assert summary["error_kinds"] == {"502": 3}
    assert summary["queries"] == 7


def test_ceiling_drift_compares_the_trivial_view_at_start_and_end():
    assert bench_run.ceiling_drift({"rps": 550, "rps_start": 600, "rps_end": 500}) == pytest.approx(
        1 / 6, abs=0.001
    )
    assert bench_run.ceiling_drift({"rps": 600, "rps_start": 600, "rps_end": 600}) == 0
    assert bench_run.ceiling_drift({"rps": 600}) is None  # measured once (only the trivial view)
    assert bench_run.ceiling_drift(None) is None


# --- the page registry --------------------------------------------------------------------------------------


def test_page_urls_are_filled_from_facts_and_skipped_without_them():
    page = Page("search", "/customers/?name={customer_name}&page={customer_last_page}")
    assert page.facts == ["customer_name", "customer_last_page"]
    assert page.url({"customer_name": "张 伟&x", "customer_last_page": 3}) == (
        "/customers/?name=%E5%BC%A0%20%E4%BC%9F%26x&page=3"
    )
    assert page.url({"customer_name": None, "customer_last_page": 3}) is None
    assert page.url({"customer_last_page": 3}) is None


def test_registry_has_the_issue_pages_and_the_trivial_view_first():
    names = [page.name for page in PAGES]
    assert names[0] == TRIVIAL
    assert len(names) == len(set(names))
    paths = {page.path.split("?")[0] for page in PAGES}
    for path in ("/customers/", "/customers/warnings/", "/customers/warnings/count/", "/"):
        assert path in paths
    assert {"/customers/associations/", "/billing/adjustments/", "/customers/{customer_pk}/"} <= paths


def test_pages_filter_keeps_the_trivial_view_and_refuses_unknown_names():
    chosen = [page.name for page in bench_run.select_pages("customers_*, warning_count")]
    assert chosen[0] == TRIVIAL
    assert "warning_count" in chosen
    assert "customers_search" in chosen
    assert "customers" not in chosen and "dashboard" not in chosen
    with pytest.raises(SystemExit, match="no page matches"):
        bench_run.select_pages("nonsense")


# --- the hooks inside the portal ----------------------------------------------------------------------------


def test_bench_hooks_are_off_in_production():
    assert settings.BENCH is False
    assert "portal.bench.QueryCountMiddleware" not in settings.MIDDLEWARE
    with pytest.raises(Resolver404):
        resolve("/_bench/trivial/")
    with pytest.raises(Resolver404):
        resolve("/_bench/signed-in/")


@pytest.mark.django_db
def test_query_count_middleware_counts_every_query_of_the_request():
    def view(request):
        for _ in range(3):
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        return HttpResponse("ok")

    response = QueryCountMiddleware(view)(RequestFactory().get("/"))
    assert response["X-Queries"] == "3"
    assert QueryCountMiddleware(lambda request: HttpResponse())(RequestFactory().get("/"))["X-Queries"] == "0"


def _customers(partner, count: int, prefix: str):
    from customers.models import AssociationType, Customer

    now = timezone.now()
    return [
        Customer.objects.create(
            partner=partner,
            customer_id=f"bench-{prefix}-{n:03d}",
            name=f"{prefix}客户{n:03d}",
            account_name=f"bench-{prefix}-{n:03d}",
            association_type=AssociationType.RESALE if n % 5 else AssociationType.REFERRAL,
            associated_on=now - timedelta(hours=n),
        )
        for n in range(count)
    ]


def test_bench_pages_discovers_the_urls_from_the_data(partners, dist_admin):
    own = _customers(partners["dist"], 45, "dist")
    _customers(partners["ra"], 30, "ra")  # a reseller's: not in the distributor's default tab
    out = io.StringIO()
    call_command("bench_pages", "--user", dist_admin.username, stdout=out)
    report = json.loads(out.getvalue())
    facts, pages = report["facts"], report["pages"]
    assert facts["customer_last_page"] == 3  # 45 rows, 20 a page
    assert facts["customer_pk"] == own[0].pk  # the newest, first on the list
    assert facts["customer_name"] in {c.name for c in own}
    assert facts["customer_association_type"] == "1"  # referral, the rarer type: the filter narrows
    assert pages["customers_last"] == "/customers/?page=3"
    assert pages["customer_detail"] == f"/customers/{own[0].pk}/"
    assert pages["warnings_filtered"] is None  # no warnings in this data: skipped, not a 404


# --- a real run: gunicorn, signed-in clients, results.json --------------------------------------------------


def _database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.mark.slow
@pytest.mark.parametrize("driver", ["wrk", "python"])
def test_make_bench_end_to_end(transactional_db, partners, dist_admin, driver, tmp_path):
    if driver == "wrk" and not shutil.which("wrk"):
        pytest.skip("wrk is not installed (make bench installs it)")
    # The server runs with the production password hashers, not the test suite's fast one.
    hasher = PBKDF2PasswordHasher()
    dist_admin.password = hasher.encode("bench-password-1", hasher.salt())
    dist_admin.save(update_fields=["password"])
    _customers(partners["dist"], 25, "dist")
    out = tmp_path / "results.json"
    env = {**os.environ, "DATABASE_URL": _database_url()}
    command = [sys.executable, "-m", "bench.run", "--seconds", "1", "--driver", driver, "--out", str(out)]
    command += ["--pages", "signed_in,customers,customer_detail,warning_count", "--user", dist_admin.username]
    command += ["--password", "bench-password-1"]
    done = subprocess.run(command, cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr

    report = json.loads(out.read_text())
    pages = report["pages"]
    assert set(pages) == {TRIVIAL, "signed_in", "customers", "customer_detail", "warning_count"}
    for name, figures in pages.items():
        assert figures.keys() >= RESULT_KEYS, name
        assert figures["errors"] == 0, (name, figures)
        assert figures["queries"] is not None, name  # the X-Queries header of the warm request
        # On a busy machine a slow page may answer nothing within 1 s: then no percentiles, not made-up ones.
        if figures["rps"]:
            assert figures["p50_ms"] <= figures["p95_ms"] <= figures["p99_ms"], name
        else:
            assert figures["p50_ms"] is None, name
    assert pages[TRIVIAL]["rps"] > 0
    assert pages[TRIVIAL]["queries"] == 0  # the ceiling touches no database, not even the session
    assert pages[TRIVIAL]["ratio_to_trivial"] == 1.0
    # The ceiling is measured at the start and the end of the run; the pages are divided by the mean.
    assert pages[TRIVIAL]["rps"] == pytest.approx(
        (pages[TRIVIAL]["rps_start"] + pages[TRIVIAL]["rps_end"]) / 2, abs=0.1
    )
    assert report["run"]["ceiling_drift"] is not None
    assert pages["signed_in"]["queries"] == 1  # the user (the session comes from the cache), answered 200
    assert pages["customers"]["queries"] > 0
    assert pages["customers"]["ratio_to_trivial"] == pytest.approx(
        pages["customers"]["rps"] / pages[TRIVIAL]["rps"], abs=0.002
    )
    assert report["memory"]["worker_rss_mb"] and 0 < report["memory"]["max_worker_rss_mb"] < 1000
    assert "customer_detail" in done.stdout and "× trivial" in done.stdout  # the table
