"""Reconciliation (对账): the portal's succeeded adjustments against the platform's adjust records, per day in
the user's time zone, matched by transaction id; planted mismatches are found, explained (audited) and
emailed to admins each morning."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from billing import services, tasks
from billing.models import Adjustment, AdjustRecord, ReconciliationNote
from customers.models import Customer

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
URL = reverse("billing:reconciliation")
EXPLAIN = reverse("billing:reconciliation-explain")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture
def planted(partners):
    """On 2026-11-20 (Shanghai): a matched pair, an adjustment the platform lacks, a record the portal lacks,
    a pair whose amounts differ; one pair straddles midnight (the platform's time decides its day)."""
    ra = partners["ra"]
    customer = Customer.objects.create(partner=ra, customer_id="c-1", association_type="2")

    def adjustment(trans_id, amount, finished, kind="allocate"):
        return Adjustment.objects.create(
            partner=ra,
            customer=customer,
            kind=kind,
            amount=Decimal(amount),
            status="succeeded",
            upstream_transaction_id=trans_id,
            finished_at=finished,
        )

    def record(trans_id, amount, when, kind=AdjustRecord.OperationType.ALLOCATE):
        return AdjustRecord.objects.create(
            partner=ra,
            customer=customer,
            customer_upstream_id="c-1",
            trans_id=trans_id,
            operation_type=kind,
            amount=Decimal(amount),
            operation_time=when,
        )

    adjustment("T-match", "10.00", at(20, 9))
    record("T-match", "10.00", at(20, 9))
    adjustment("T-portal-only", "5.00", at(20, 10))
    record("T-upstream-only", "7.00", at(20, 11))
    adjustment("T-diff", "3.00", at(20, 12))
    record("T-diff", "3.50", at(20, 12))
    # Finished 23:59:59 on the 20th in the portal, recorded 00:00:02 on the 21st by the platform.
    adjustment("T-midnight", "1.00", at(20, 23, 59))
    record("T-midnight", "1.00", at(21, 0, 0) + timedelta(seconds=2))
    # Unbind reclaims are the platform's own: never a difference.
    record("T-unbind", "9.00", at(20, 13), AdjustRecord.OperationType.UNBIND)
    return ra


def test_the_planted_differences_are_found_on_their_days(planted, settings):
    with timezone.override(SHANGHAI):
        days = services.reconcile([planted.pk], at(20, 0).date(), at(21, 0).date())
    by_day = {d.day.day: d for d in days}
    assert [d.day.day for d in days] == [21, 20]
    twentieth = by_day[20]
    assert {(m.trans_id, m.problem) for m in twentieth.mismatches} == {
        ("T-portal-only", "missing_upstream"),
        ("T-upstream-only", "missing_portal"),
        ("T-diff", "different"),
    }
    assert twentieth.matched == 1 and twentieth.portal_total == Decimal("18.00")
    assert by_day[21].matched == 1 and not by_day[21].mismatches  # the midnight pair, on the platform's day


def test_a_window_that_holds_one_half_of_a_pair_matches_it_without_a_false_difference(planted):
    with timezone.override(SHANGHAI):
        (only_21st,) = services.reconcile([planted.pk], at(21, 0).date(), at(21, 0).date())
        (only_20th,) = services.reconcile([planted.pk], at(20, 0).date(), at(20, 0).date())
    assert only_21st.matched == 1 and not only_21st.mismatches
    assert "T-midnight" not in {m.trans_id for m in only_20th.mismatches}


def test_an_admin_explains_a_difference_and_it_is_no_longer_flagged(
    client_for, ra_admin, ra_finance, planted
):
    client = client_for(ra_admin)
    query = {"start": "2026-11-20", "end": "2026-11-20"}
    page = client.get(URL, query)
    assert page.status_code == 200 and page.context["open_count"] == 3
    response = client.post(
        EXPLAIN, {"trans_id": "T-diff", "note": "fee charged by the platform", "next": "/x"}
    )
    assert response.status_code == 302
    assert ReconciliationNote.objects.get(trans_id="T-diff").explained_by == ra_admin
    assert AuditEvent.objects.filter(action="reconciliation_explained").count() == 1
    assert client.get(URL, query).context["open_count"] == 2
    # Finance reads the page but does not explain; an empty note changes nothing.
    assert client_for(ra_finance).get(URL, query).status_code == 200
    assert client_for(ra_finance).post(EXPLAIN, {"trans_id": "T-portal-only", "note": "x"}).status_code == 403
    client.post(EXPLAIN, {"trans_id": "T-portal-only", "note": "   "})
    assert ReconciliationNote.objects.count() == 1


def test_a_bad_window_falls_back_to_the_last_seven_days_with_a_message(client_for, ra_admin, planted):
    for query in (
        {"start": "2026-13-01"},
        {"start": "2026-11-20", "end": "2026-01-01"},
        {"start": "2025-01-01"},
    ):
        response = client_for(ra_admin).get(URL, query)
        assert response.status_code == 200 and len(response.context["days"]) == 7
        assert [str(m) for m in response.context["messages"]]


def test_other_tenants_see_none_of_it(client_for, rb_admin, planted):
    page = client_for(rb_admin).get(URL, {"start": "2026-11-20", "end": "2026-11-21"})
    assert page.status_code == 200 and page.context["mismatch_count"] == 0 and not list(page.context["page"])
    client_for(rb_admin).post(EXPLAIN, {"trans_id": "T-diff", "note": "not mine"})
    # Reseller B's note is its own; Reseller A's difference stays open.
    assert not ReconciliationNote.objects.filter(partner=planted, trans_id="T-diff").exists()


def test_the_morning_task_emails_admins_the_open_differences_of_yesterday(ra_admin, planted, time_machine):
    time_machine.move_to(at(21, 6, 30))
    ReconciliationNote.objects.create(partner=planted, trans_id="T-diff", note="known")
    with timezone.override(SHANGHAI):
        sent = tasks.reconcile_daily()
    to_ra = [m for m in mail.outbox if m.to == [ra_admin.email]]
    assert sent >= 1 and len(to_ra) == 1
    assert "T-portal-only" in to_ra[0].body and "T-upstream-only" in to_ra[0].body
    assert "T-diff" not in to_ra[0].body  # explained


def _outside_record(partner, trans_id: str, when: datetime) -> AdjustRecord:
    """An allocation made in the platform's console, not through the portal (unsaved)."""
    return AdjustRecord(
        partner=partner,
        customer_upstream_id="c-1",
        trans_id=trans_id,
        operation_type=AdjustRecord.OperationType.ALLOCATE,
        amount=Decimal("1.00"),
        operation_time=when,
    )


def test_the_differences_are_shown_a_page_at_a_time_and_all_counted(client_for, ra_admin, planted, settings):
    """A partner that adjusts funds outside the portal has thousands of differences a week: the page lists a
    page of them (with their rows) and counts them all."""
    AdjustRecord.objects.bulk_create(
        _outside_record(planted, f"T-outside-{n:03}", at(20, 14)) for n in range(45)
    )
    client = client_for(ra_admin)
    query = {"start": "2026-11-20", "end": "2026-11-20"}
    first = client.get(URL, query)
    assert first.context["open_count"] == 48 and first.context["mismatch_count"] == 48
    shown = list(first.context["page"])
    assert len(shown) == 20 and first.content.decode().count('data-testid="explain-form"') == 20
    assert all(m.record is not None for m in shown if m.problem != "missing_upstream")
    diff = next(m for m in shown if m.trans_id == "T-diff")  # sorted by transaction id: on the first page
    assert diff.adjustment.amount == Decimal("3.00") and diff.record.amount == Decimal("3.50")
    last = client.get(URL, {**query, "page": "3"})
    rest = list(last.context["page"])
    assert len(rest) == 8 and {m.trans_id for m in rest}.isdisjoint(m.trans_id for m in shown)
    assert "T-outside-044" in last.content.decode() and last.context["page"].paginator.num_pages == 3
    # An explanation shows on its row and leaves the difference counted, but no longer open.
    ReconciliationNote.objects.create(partner=planted, trans_id="T-outside-044", note="console top-up")
    again = client.get(URL, {**query, "page": "3"})
    assert again.context["open_count"] == 47 and again.context["mismatch_count"] == 48
    assert "console top-up" in again.content.decode()


@pytest.mark.django_db(transaction=True)
def test_the_report_is_matched_again_only_after_a_commit(client_for, ra_admin, planted):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from portal.lib.unchanged import database_stamp

    client = client_for(ra_admin)
    query = {"start": "2026-11-20", "end": "2026-11-20"}
    # A commit anywhere in the cluster between the two requests is a miss: tried until there was none.
    for _attempt in range(50):
        stamp = database_stamp()
        client.get(URL, query)
        with CaptureQueriesContext(connection) as hit:
            response = client.get(URL, query)
        if database_stamp() == stamp:
            break
    assert response.context["open_count"] == 3 and len(list(response.context["page"])) == 3
    # Nothing is matched again: no query reads the window; the shown rows are read (hydrate).
    sql = [q["sql"] for q in hit]
    assert not [q for q in sql if '"operation_time" >=' in q or '"finished_at" >=' in q], sql
    assert any('"trans_id" IN' in q for q in sql), sql

    _outside_record(planted, "T-late", at(20, 15)).save()
    response = client.get(URL, query)
    assert response.context["open_count"] == 4 and "T-late" in response.content.decode()
