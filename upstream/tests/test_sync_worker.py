"""Sync end to end through a real Celery worker on Redis, against a simulator of its own, with faults."""

from __future__ import annotations

import time

import pytest

from conftest import WorkerProcess, worker_env
from customers.models import Customer
from upstream.client import UpstreamClient
from upstream.models import SyncRun
from upstream.simulator.testing import SimulatorProcess
from upstream.tasks import sync_dataset

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SCOPES = (None, "ip-reseller-a", "ip-reseller-b")


@pytest.fixture
def sim(tmp_path):
    with SimulatorProcess(customers=1500, seed=11, resellers=2, data_dir=tmp_path / "sim") as simulator:
        yield simulator


@pytest.fixture
def worker_for(tmp_path, settings):
    workers = []

    def start(sim, **env):
        settings.UPSTREAM_ENDPOINT = sim.url
        worker = WorkerProcess(
            worker_env(UPSTREAM_ENDPOINT=sim.url, UPSTREAM_SYNC_BACKOFF_MAX="1", **env),
            tmp_path / f"worker-{len(workers)}.log",
        )
        workers.append(worker)
        return worker.start()

    yield start
    for worker in workers:
        worker.stop(kill=True)


def upstream_counts(sim) -> dict[str | None, set[str]]:
    with UpstreamClient(sim.url, "demo-ak", "demo-sk", "demo-distributor", is_simulator=True) as client:
        return {
            scope: {
                c.customer_id for c in client.iter_all(client.list_sub_customers, indirect_partner_id=scope)
            }
            for scope in SCOPES
        }


def wait_for_run(dataset: str, *, after_id: int = 0, timeout: float = 120, log=None) -> SyncRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = (
            SyncRun.objects.filter(dataset=dataset, id__gt=after_id)
            .exclude(status=SyncRun.Status.RUNNING)
            .first()
        )
        if run is not None and run.status == SyncRun.Status.SUCCEEDED:
            return run
        time.sleep(0.3)
    raise AssertionError(
        f"{dataset} did not finish: {list(SyncRun.objects.values())}\n{log() if log else ''}"
    )


def assert_mirror_matches(sim, partners):
    expected = upstream_counts(sim)
    for key, scope in zip(("dist", "ra", "rb"), SCOPES, strict=True):
        mirrored = set(
            Customer.objects.filter(partner=partners[key], disassociated_at__isnull=True).values_list(
                "customer_id", flat=True
            )
        )
        assert mirrored == expected[scope], scope
    assert Customer.objects.count() == sum(len(ids) for ids in expected.values())


def test_a_worker_syncs_and_a_second_run_changes_nothing(sim, worker_for, partners):
    worker = worker_for(sim)
    sync_dataset.delay("indirect_partners")
    wait_for_run("indirect_partners", log=lambda: worker.log_path.read_text())
    sync_dataset.delay("customers")
    first = wait_for_run("customers", log=lambda: worker.log_path.read_text())
    assert first.rows_created == Customer.objects.count() > 1000
    assert_mirror_matches(sim, partners)
    sync_dataset.delay("customers", "full")
    second = wait_for_run("customers", after_id=first.id)
    assert (second.rows_created, second.rows_updated, second.rows_vanished) == (0, 0, 0)


def test_a_full_sync_completes_exactly_despite_500s_and_429_bursts(sim, worker_for, partners):
    sim.set_faults(error_rate=0.2, burst_429={"every": 7, "length": 3})
    worker = worker_for(sim)
    sync_dataset.delay("indirect_partners")
    wait_for_run("indirect_partners", log=lambda: worker.log_path.read_text())
    sync_dataset.delay("customers")
    run = wait_for_run("customers", timeout=240, log=lambda: worker.log_path.read_text())
    sim.clear_faults()
    assert_mirror_matches(sim, partners)
    assert run.rows_created == Customer.objects.count()
    state = sim.state()
    assert state["throttled_429"] > 0 and state["api_calls"] > run.pages  # faults were hit and retried


def test_killing_the_worker_mid_sync_loses_and_duplicates_nothing(sim, worker_for, partners):
    sim.set_faults(latency_ms=150)
    env = {"SYNC_STALE_SECONDS": "3", "CELERY_VISIBILITY_TIMEOUT": "5"}
    worker = worker_for(sim, **env)
    sync_dataset.delay("indirect_partners")
    wait_for_run("indirect_partners", log=lambda: worker.log_path.read_text())
    sync_dataset.delay("customers")
    deadline = time.monotonic() + 60
    while not SyncRun.objects.filter(dataset="customers", pages__gte=2).exists():
        assert time.monotonic() < deadline, worker.log_path.read_text()
        time.sleep(0.1)
    worker.stop(kill=True)  # SIGKILL mid-sync: the task was not acknowledged
    interrupted = SyncRun.objects.get(dataset="customers")
    assert interrupted.status == SyncRun.Status.RUNNING and interrupted.rows_seen < 1500
    sim.clear_faults()
    time.sleep(5)  # past the visibility timeout: Redis hands the unacknowledged task out again
    restarted = worker_for(sim, **env)
    run = wait_for_run(
        "customers", after_id=interrupted.id, timeout=120, log=lambda: restarted.log_path.read_text()
    )
    interrupted.refresh_from_db()
    assert interrupted.status == SyncRun.Status.FAILED and "Interrupted" in interrupted.errors
    assert_mirror_matches(sim, partners)
    assert run.rows_created + interrupted.rows_created == Customer.objects.count()
