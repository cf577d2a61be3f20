"""Exact query-count baselines of the audit log, the demo outbox and the sync page (issue 7, point 22).

As NetBox does: each page is measured with few rows and with three times as many, and both must equal the
baseline written here. A new query per row (an N+1) fails the second measurement; a new query per page
changes the baseline, which is then changed knowingly, with the reason in the comment.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts import audit
from accounts.models import Message
from upstream.models import SyncRun
from upstream.sync import datasets

pytestmark = pytest.mark.django_db

# Every staff page: the user with its partner, 1 query (the session, the permissions and the role come from
# the cache once a visit has read them: accounts/backends.py). Then, whatever the number of rows:
# the audit log: the row count and the page of events with their partners joined;
AUDIT_LOG_QUERIES = 3
# the demo outbox: the row count and the page of the user's messages;
OUTBOX_QUERIES = 3
# the sync page: the newest run and the newest good run of every dataset (one query each, DISTINCT ON).
SYNC_PAGE_QUERIES = 3


def _queries(client, url: str) -> int:
    client.get(url)  # warm per-process caches (content types, translations) alike for both measurements
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.status_code
    return len(captured)


def test_the_audit_log_keeps_its_query_count_baseline(client_for, ra_admin, ra_sales, dist_admin, partners):
    client = client_for(ra_admin)
    url = reverse("accounts:audit")

    def add(n):
        for i in range(n):
            actor = (ra_admin, ra_sales, dist_admin)[i % 3]
            audit.record("partner_settings_changed", actor=actor, target=partners["ra"])
            audit.record("user_signed_in", actor=actor)

    add(5)
    few = _queries(client, url)
    add(10)
    many = _queries(client, url)
    assert (few, many) == (AUDIT_LOG_QUERIES, AUDIT_LOG_QUERIES)


def test_the_demo_outbox_keeps_its_query_count_baseline(client_for, ra_admin, partners):
    client = client_for(ra_admin)
    url = reverse("dev:outbox")

    def add(n):
        for i in range(n):
            Message.objects.create(
                partner=partners["ra"],
                user=ra_admin,
                channel=Message.Channel.EMAIL,
                recipient=ra_admin.email,
                subject=f"Code {i}",
                body=f"Your code is {i:06d}.",
                tag="step_up_code",
            )

    add(4)
    few = _queries(client, url)
    add(8)
    many = _queries(client, url)
    assert (few, many) == (OUTBOX_QUERIES, OUTBOX_QUERIES)


def test_the_sync_page_keeps_its_query_count_baseline(client_for, dist_admin):
    client = client_for(dist_admin)
    url = reverse("portal:sync-status")
    names = [dataset.name for dataset in datasets()]

    def add(runs_per_dataset):
        start = timezone.now() - timedelta(hours=1)
        for name in names:
            for i in range(runs_per_dataset):
                status = (SyncRun.Status.SUCCEEDED, SyncRun.Status.FAILED)[i % 2]
                SyncRun.objects.create(
                    dataset=name,
                    status=status,
                    started_at=start + timedelta(minutes=i),
                    finished_at=start + timedelta(minutes=i, seconds=30),
                    rows_seen=i,
                )

    add(1)
    few = _queries(client, url)
    add(3)
    many = _queries(client, url)
    assert (few, many) == (SYNC_PAGE_QUERIES, SYNC_PAGE_QUERIES)
