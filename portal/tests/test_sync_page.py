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


# --- labels, relative times, and one rule for "may sync now" ------------------------------------------------


def _english(client):
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    return client


def test_datasets_show_translated_labels_and_times_ago_not_codes(client_for, dist_admin):
    from datetime import timedelta

    from django.utils import timezone

    started = timezone.now() - timedelta(minutes=3, seconds=10)
    SyncRun.objects.create(
        dataset="customer_balances",
        status=SyncRun.Status.SUCCEEDED,
        started_at=started,
        finished_at=started,
        rows_refused=2,
    )
    client = client_for(dist_admin)
    chinese = client.get(reverse("portal:sync-status")).content.decode()
    assert "客户账户余额" in chinese and "3\xa0分钟前" in chinese
    assert "2 行未入库" in chinese
    assert ">customer_balances<" not in chinese  # the code only as a tooltip
    english = _english(client).get(reverse("portal:sync-status")).content.decode()
    assert "Customer balances" in english and "3\xa0minutes ago" in english
    assert "2 rows refused" in english
    assert ">customer_balances<" not in english


def test_every_registered_dataset_has_a_label():
    from upstream.sync import datasets

    assert all(str(d.label) and d.verbose_name != d.name for d in datasets())


def test_may_sync_now_is_one_rule_asked_by_the_page_and_the_view(
    client_for, dist_admin, ra_admin, ra_sales, ra_viewer, settings, monkeypatch
):
    from upstream import tasks

    queued: list = []
    monkeypatch.setattr(tasks.sync_dataset, "delay", lambda *args: queued.append(args))
    for user, allowed in ((dist_admin, True), (ra_admin, False), (ra_sales, False), (ra_viewer, False)):
        assert user.can_start_sync is allowed
        client = client_for(user)
        page = client.get(reverse("portal:sync-status"))
        if page.status_code == 200:
            assert (reverse("portal:sync-now") in page.content.decode()) is allowed, user
        response = client.post(reverse("portal:sync-now"), {"dataset": "customers"})
        assert response.status_code == (302 if allowed else 403), user
    assert queued == [("customers", "full")]
    # The rule itself: an inactive or reseller admin may not; the top partner's admin may.
    dist_admin.is_active = False
    assert dist_admin.can_start_sync is False
