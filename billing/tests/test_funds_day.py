"""FundsDay, the maintained daily sums of adjust records (billing 0008): equal to a recount whoever writes the
records, and the dashboard's "funds this month" from them equals summing the records, in any time zone."""

from __future__ import annotations

import itertools
import zoneinfo
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db.models import Count, Q, Sum
from django.utils import timezone

from billing.models import RECLAIMS, AdjustRecord, FundsDay
from portal import dashboard
from upstream.client import UpstreamClient
from upstream.models import SyncRun
from upstream.sync import run_dataset

pytestmark = pytest.mark.django_db

Op = AdjustRecord.OperationType
_seq = itertools.count(1)


def record(partner, operation_type, amount, at) -> AdjustRecord:
    n = next(_seq)
    return AdjustRecord.objects.create(
        partner=partner,
        customer_upstream_id=f"c-{n}",
        trans_id=f"fd-{n}",
        operation_type=operation_type,
        amount=Decimal(amount),
        operation_time=at,
    )


def stored(partner_ids) -> dict:
    return {
        (f.partner_id, f.day): (f.allocated, f.reclaimed, f.allocations, f.reclaims)
        for f in FundsDay.objects.filter(partner_id__in=partner_ids)
        if (f.allocated, f.reclaimed, f.allocations, f.reclaims) != (0, 0, 0, 0)
    }


def test_the_rollup_follows_inserts_changes_and_deletes(partners):
    ra, rb = partners["ra"], partners["rb"]
    ids = [ra.pk, rb.pk]
    at = datetime(2026, 3, 31, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai: still 31 March there
    a = record(ra, Op.ALLOCATE, "10.50", at)
    b = record(ra, Op.RECLAIM, "3", at + timedelta(hours=1))  # 1 April in Shanghai
    record(rb, Op.UNBIND, "7.25", at)
    assert stored(ids) == FundsDay.recount(ids)
    assert FundsDay.objects.get(partner=ra, day="2026-03-31").allocated == Decimal("10.50")
    # A change of type with the same amount moves the money between the columns (no net-zero shortcut).
    AdjustRecord.objects.filter(pk=b.pk).update(operation_type=Op.ALLOCATE)
    AdjustRecord.objects.filter(pk=a.pk).update(partner=rb, amount=Decimal("11"))
    AdjustRecord.objects.filter(pk=b.pk).update(operation_time=at - timedelta(days=40))
    assert stored(ids) == FundsDay.recount(ids)
    AdjustRecord.objects.filter(partner=rb).delete()
    assert stored(ids) == FundsDay.recount(ids)
    assert FundsDay.recount([rb.pk]) == {}


def test_the_rollup_equals_a_recount_after_a_real_sync(upstream_settings, partners):
    with UpstreamClient.from_settings(rate_limit=0) as client:
        for name in ("indirect_partners", "customers", "adjust_records"):
            assert run_dataset(name, client=client, mode="full").status == SyncRun.Status.SUCCEEDED
    ids = [p.pk for p in partners.values()]
    assert AdjustRecord.objects.exists()
    assert stored(ids) == FundsDay.recount(ids)


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "UTC", "America/Los_Angeles", "Asia/Kolkata"])
def test_funds_this_month_equals_summing_the_records_in_any_zone(partners, zone):
    tz = zoneinfo.ZoneInfo(zone)
    ra = partners["ra"]
    month_start = datetime.combine(timezone.localdate(timezone=tz).replace(day=1), datetime.min.time(), tz)
    # Around the month's start in the user's zone and in Shanghai's, and later in the month.
    for hours in (-30, -9, -1, 0, 1, 7, 9, 15, 16, 30, 200):
        at = month_start + timedelta(hours=hours, minutes=5)
        if at < timezone.now():
            record(ra, Op.ALLOCATE, f"{hours + 100}.01", at)
            record(ra, Op.RECLAIM if hours % 2 else Op.UNBIND, "2.50", at)
    expected = AdjustRecord.objects.filter(partner=ra, operation_time__gte=month_start).aggregate(
        allocated=Sum("amount", filter=Q(operation_type=Op.ALLOCATE), default=Decimal(0)),
        reclaimed=Sum("amount", filter=Q(operation_type__in=RECLAIMS), default=Decimal(0)),
        allocations=Count("pk", filter=Q(operation_type=Op.ALLOCATE)),
        reclaims=Count("pk", filter=Q(operation_type__in=RECLAIMS)),
    )
    got = dashboard.funds_this_month([ra.pk], tz=tz)
    assert {k: got[k] for k in expected} == expected
    assert expected["allocations"] > 0
