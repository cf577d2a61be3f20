import pytest
from django.urls import reverse

from upstream.models import SyncRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def runs():
    from django.utils import timezone

    SyncRun.objects.create(
        dataset="customers",
        status=SyncRun.Status.SUCCEEDED,
        pages=3,
        rows_seen=250,
        rows_total=250,
        finished_at=timezone.now(),
    )
    SyncRun.objects.create(dataset="warnings", status=SyncRun.Status.FAILED, errors="CBC.0999 boom")
    SyncRun.objects.create(
        dataset="customer_balances", status=SyncRun.Status.RUNNING, rows_seen=50, rows_total=200
    )


def test_admins_see_each_datasets_last_run(client_for, dist_admin, runs):
    page = client_for(dist_admin).get(reverse("portal:sync-status")).content.decode()
    assert "customers" in page and "CBC.0999 boom" in page and "25%" in page
    # A run is going: the table polls.
    assert 'hx-trigger="every 3s"' in page


def test_htmx_gets_the_table_only(client_for, dist_admin, runs):
    response = client_for(dist_admin).get(reverse("portal:sync-status"), headers={"HX-Request": "true"})
    assert b'id="sync-table"' in response.content and b"<html" not in response.content


def test_the_sync_page_is_for_admins(client_for, ra_sales):
    assert client_for(ra_sales).get(reverse("portal:sync-status")).status_code == 403


def test_queueing_a_sync_is_for_the_top_partners_admins(client_for, dist_admin, ra_admin, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    assert client_for(ra_admin).post(reverse("portal:sync-now"), {"dataset": "customers"}).status_code == 403
    response = client_for(dist_admin).post(reverse("portal:sync-now"), {"dataset": "nonsense"}, follow=True)
    assert "nonsense" in response.content.decode()


def test_healthz_reports_the_last_good_sync(client, runs):
    body = client.get("/healthz").json()
    assert "customers" in body["last_sync"] and "warnings" not in body["last_sync"]
