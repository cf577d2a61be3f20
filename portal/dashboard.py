"""The operations dashboard's numbers (运营看板): each a fixed number of indexed queries or maintained rows.

The page composes every app, so it lives in `portal/`; each number asks the app's models. Nothing here
depends on how many customers or events there are: the monthly association counts sum the maintained
AssociationDay rows (customers migration 0008), the other tiles count through indexes of small sets.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from urllib.parse import urlencode

from django.conf import settings
from django.db import models
from django.db.models import Count, Q, Sum
from django.http import Http404
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from customers.filters import ALL_RESELLERS
from customers.models import ROLLUP_ZONE, AssociationDay, AssociationEvent, AssociationType, CustomerTally

MONTHS = 12
EXPIRY_DAYS = 7
TOP_LABELS = 8

# --- whose numbers ------------------------------------------------------------------------------------------


@dataclass
class Scope:
    """Whose numbers the page shows: the user's partner, one of a distributor's resellers, or all of them."""

    partner_ids: list[int]
    value: str  # the `partner` GET parameter ("" for the user's own partner)
    label: str
    choices: list[tuple[str, str]] = field(default_factory=list)

    @property
    def records_param(self) -> str:
        """The records page's `partner` filter for the same scope ("" when the user has no such filter)."""
        if not self.choices:
            return ""
        return self.value or str(self.partner_ids[0])


def scope_for(user, value: str | None) -> Scope:
    """The scope a GET parameter names for the user; one it may not see is a 404 (never another's numbers).

    A distributor chooses between its own numbers (the default), one reseller, or all its resellers
    combined; anyone else sees its own partner's and may name nothing else.
    """
    partner = user.partner
    value = (value or "").strip()
    if not partner.is_distributor:
        if value and value != str(partner.pk):
            raise Http404
        return Scope([partner.pk], "", partner.name)
    resellers = partner.resellers_by_name()
    choices = [
        ("", partner.name),
        (ALL_RESELLERS, str(_("All resellers combined"))),
        *((str(pk), name) for pk, name in resellers),
    ]
    if value in ("", str(partner.pk)):
        return Scope([partner.pk], "", partner.name, choices)
    if value == ALL_RESELLERS:
        return Scope(
            [pk for pk, _name in resellers], ALL_RESELLERS, str(_("All resellers combined")), choices
        )
    names = dict(resellers)
    try:
        pk = int(value)
    except ValueError:
        raise Http404 from None
    if pk not in names:
        raise Http404
    return Scope([pk], value, names[pk], choices)


@dataclass(frozen=True)
class Access:
    """Which tiles the user may see (each tile is computed only for those who see it)."""

    money: bool  # balance, funds this month, customers in debt, expiring discounts (admins, finance)
    warnings: bool  # open warnings by category
    orders: bool  # orders awaiting the partner's payment (those who may pay them)
    funnel: bool  # the onboarding funnel (those who create customers)
    requests: bool  # association requests waiting (partner admins)


def tiles(partner_ids: list[int], access: Access, now: datetime) -> dict:
    """Every number of the page for these partners and this access, as of `now` (to the minute).

    Cached while the database has not changed (portal/lib/unchanged.py): the numbers are a function of the
    committed data and of the key's inputs, the time zone and language included (months are the user's,
    and the sync rows say "3 minutes ago" in the user's words)."""
    from portal.lib.unchanged import cached

    tz = timezone.get_current_timezone()
    inputs = (
        tuple(partner_ids),
        access,
        now.isoformat(),
        timezone.get_current_timezone_name(),
        translation.get_language(),
    )
    return cached("dashboard", inputs, lambda: _plain(_tiles(partner_ids, access, now, tz)))


def _plain(value):
    """The tiles with their lazy labels said in the active language (in the key): a lazy string costs ~0.2 ms
    to unpickle from the cache, a plain one nothing."""
    if isinstance(value, Promise):
        return str(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _tiles(partner_ids: list[int], access: Access, now: datetime, tz) -> dict:
    from portal.views import sync_rows

    ids, today = partner_ids, now.astimezone(tz).date()
    return {
        "months": association_months(ids, tz, today),
        "sync": sync_rows(now),
        "customers": customer_breakdown(ids),
        "balance": balance_tile(ids) if access.money else None,
        "funds": funds_this_month(ids, tz, today) if access.money else None,
        "debt": customers_in_debt(ids) if access.money else None,
        "orders_awaiting": orders_awaiting_payment(ids) if access.orders else None,
        "expiring": expiring_soon(ids, now) if access.money else None,
        "warnings": open_warnings(ids) if access.warnings else None,
        "funnel": onboarding_funnel(ids, tz, today) if access.funnel else None,
        "requests": pending_requests(ids) if access.requests else None,
    }


# --- associations by month, in the user's time zone ---------------------------------------------------------


@dataclass
class Month:
    start: date  # the first day, in the user's time zone
    end: date  # the last day
    associated: int = 0
    disassociated: int = 0
    switched: int = 0

    @property
    def total(self) -> int:
        return self.associated + self.disassociated + self.switched


def month_starts(today: date, months: int = MONTHS) -> list[date]:
    """The first days of the last `months` months up to today's, and of the month after (months + 1)."""
    year, month = today.year, today.month
    starts = []
    for back in range(months - 1, -2, -1):
        y, m = divmod((year * 12 + month - 1) - back, 12)
        starts.append(date(y, m + 1, 1))
    return starts


def _instant(day: date, tz) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz)


def _first_whole_day(instant: datetime, rollup_tz) -> date:
    """The first rollup day that starts at or after `instant`."""
    local = instant.astimezone(rollup_tz)
    if local.timetz().replace(tzinfo=None) == time.min:
        return local.date()
    return local.date() + timedelta(days=1)


_OPERATION_FIELD = {
    AssociationEvent.Operation.ASSOCIATE: "associated",
    AssociationEvent.Operation.DISASSOCIATE: "disassociated",
    AssociationEvent.Operation.SWITCH: "switched",
}


def association_months(partner_ids: list[int], tz=None, today: date | None = None) -> list[Month]:
    """Associations, disassociations and switches per month of the user's time zone, the last 12 months.

    Whole days of the rollup's zone (AssociationDay) are summed into the month they fall in. Where a month of
    the user's zone begins in the middle of a rollup day (any zone but Asia/Shanghai's offset), that day is
    left out of the sums and its events are counted from AssociationEvent instead, split at the boundary:
    at most 13 such days, read through the (partner, occurred_at) index. One query in a zone whose months
    begin at midnight in Asia/Shanghai (UTC+8 zones), two in any other, whatever the data.
    """
    tz = tz or timezone.get_current_timezone()
    today = today or timezone.localdate(timezone=tz)
    rollup_tz = zoneinfo.ZoneInfo(ROLLUP_ZONE)
    starts = month_starts(today)
    bounds = [_instant(d, tz) for d in starts]  # 13 instants: 12 months [bounds[i], bounds[i + 1])
    months = [Month(start, starts[i + 1] - timedelta(days=1)) for i, start in enumerate(starts[:-1])]

    # Rollup days a boundary cuts through: counted from the events.
    split_days: set[date] = set()
    for instant in bounds:
        local = instant.astimezone(rollup_tz)
        if local.timetz().replace(tzinfo=None) != time.min:
            split_days.add(local.date())
    first_day = bounds[0].astimezone(rollup_tz).date()
    last_day = (bounds[-1] - timedelta(microseconds=1)).astimezone(rollup_tz).date()

    # Each whole rollup day belongs to the month whose first instant is at or before its start: bucket in
    # SQL by the first rollup day of each following month, so the query returns one row per month.
    firsts = [_first_whole_day(instant, rollup_tz) for instant in bounds]
    day_bucket = models.Case(
        *(models.When(day__lt=firsts[i + 1], then=models.Value(i)) for i in range(MONTHS)),
        default=models.Value(MONTHS),
    )
    days = (
        AssociationDay.objects.filter(partner_id__in=partner_ids, day__gte=first_day, day__lte=last_day)
        .exclude(day__in=split_days)
        .annotate(bucket=day_bucket)
        .values("bucket")
        .annotate(a=Sum("associated"), u=Sum("disassociated"), s=Sum("switched"))
        .order_by()
    )
    for row in days:
        if row["bucket"] >= MONTHS:
            continue
        month = months[row["bucket"]]
        month.associated += row["a"]
        month.disassociated += row["u"]
        month.switched += row["s"]

    if split_days:
        ranges = Q()
        for day in split_days:
            start = _instant(day, rollup_tz)
            ranges |= Q(occurred_at__gte=start, occurred_at__lt=start + timedelta(days=1))
        bucket = models.Case(
            *(models.When(occurred_at__lt=bounds[i + 1], then=models.Value(i)) for i in range(MONTHS)),
            default=models.Value(MONTHS),
        )
        edges = (
            AssociationEvent.objects.filter(partner_id__in=partner_ids, occurred_at__gte=bounds[0])
            .filter(ranges)
            .annotate(bucket=bucket)
            .values("bucket", "operation")
            .annotate(n=Count("pk"))
            .order_by()
        )
        for row in edges:
            name = _OPERATION_FIELD.get(row["operation"])
            if name and row["bucket"] < MONTHS:
                month = months[row["bucket"]]
                setattr(month, name, getattr(month, name) + row["n"])
    return months


# --- the chart: an SVG drawn here, so that it needs no script under the CSP -------------------------------

SERIES = (
    ("associated", _("New associations"), "#2f7d32", AssociationEvent.Operation.ASSOCIATE),
    ("disassociated", _("Disassociations"), "#c0392b", AssociationEvent.Operation.DISASSOCIATE),
    ("switched", _("Switches"), "#1f6fb2", AssociationEvent.Operation.SWITCH),
)


def _records_url(records_param: str, **params) -> str:
    """The association records filtered like a count of the page (and to the page's partner scope)."""
    if records_param:
        params["partner"] = records_param
    return f"{reverse('customers:associations')}?{urlencode(params)}"


def series_totals(months: list[Month], records_param: str) -> list[dict]:
    """Each series' total over the year, linking to its records."""
    year_from, year_to = months[0].start.isoformat(), months[-1].end.isoformat()
    return [
        {
            "label": label,
            "color": color,
            "total": sum(getattr(m, name) for m in months),
            "url": _records_url(
                records_param, operation=operation, occurred_from=year_from, occurred_to=year_to
            ),
        }
        for name, label, color, operation in SERIES
    ]


def month_rows(months: list[Month], records_param: str) -> list[dict]:
    """The chart's table: a row per month, a cell per series linking to that month's records."""
    return [
        {
            "month": m,
            "cells": [
                {
                    "value": getattr(m, name),
                    "url": _records_url(
                        records_param,
                        operation=operation,
                        occurred_from=m.start.isoformat(),
                        occurred_to=m.end.isoformat(),
                    ),
                }
                for name, _label, _color, operation in SERIES
            ],
        }
        for m in months
    ]


CHART_WIDTH, CHART_HEIGHT, CHART_PAD = 720, 220, 28


def chart(months: list[Month]) -> dict:
    """Bar geometry of a grouped bar chart (one group per month, one bar per series), in SVG units."""
    peak = max([getattr(m, name) for m in months for name, *_rest in SERIES] + [1])
    plot_h = CHART_HEIGHT - 2 * CHART_PAD
    group_w = (CHART_WIDTH - CHART_PAD) / len(months)
    bar_w = group_w / (len(SERIES) + 1)
    groups = []
    for i, month in enumerate(months):
        x0 = CHART_PAD + i * group_w
        bars = []
        for j, (name, label, color, _op) in enumerate(SERIES):
            value = getattr(month, name)
            h = round(plot_h * value / peak, 1)
            bars.append(
                {
                    "x": round(x0 + bar_w * (j + 0.5), 1),
                    "y": round(CHART_PAD + plot_h - h, 1),
                    "w": round(bar_w, 1),
                    "h": h,
                    "value": value,
                    "label": label,
                    "color": color,
                }
            )
        groups.append({"month": month, "bars": bars, "label_x": round(x0 + group_w / 2, 1)})
    return {
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "baseline": CHART_HEIGHT - CHART_PAD,
        "label_y": CHART_HEIGHT - CHART_PAD + 16,
        "peak": peak,
        "peak_y": CHART_PAD,
        "groups": groups,
        "series": [{"label": label, "color": color} for _name, label, color, _op in SERIES],
    }


# --- current customers --------------------------------------------------------------------------------------


def customer_breakdown(partner_ids: list[int]) -> dict:
    """The associated customers of these partners by association type, by level and by label, summed from
    the maintained CustomerTally rows (customers migration 0008): one query, a few hundred rows."""
    by_type: dict[str, int] = {}
    by_level: dict[str, int] = {}
    by_label: dict[str, int] = {}
    rows = (
        CustomerTally.objects.filter(partner_id__in=partner_ids, customers__gt=0)
        .values_list("association_type", "customer_level", "label")
        .annotate(n=Sum("customers"))
        .order_by()
    )
    for assoc, level, label, n in rows:
        by_type[assoc] = by_type.get(assoc, 0) + n
        by_level[level] = by_level.get(level, 0) + n
        by_label[label] = by_label.get(label, 0) + n
    total = sum(by_type.values())
    types = [
        {"value": value, "label": label, "count": by_type.get(value, 0)}
        for value, label in AssociationType.choices
    ]
    levels = sorted(by_level.items(), key=lambda item: (item[0] == "", item[0]))
    labels = sorted(((k, v) for k, v in by_label.items() if k), key=lambda item: (-item[1], item[0]))
    other = sum(v for _k, v in labels[TOP_LABELS:]) + by_label.get("", 0)
    return {
        "total": total,
        "types": types,
        "levels": [{"value": k, "count": v} for k, v in levels],
        "labels": [{"value": k, "count": v} for k, v in labels[:TOP_LABELS]],
        "labels_other": other,
    }


# --- KPI tiles ----------------------------------------------------------------------------------------------


def balance_tile(partner_ids: list[int]) -> dict:
    """Available to allocate: the balance accounts' amount − designated, less allocations not yet through
    (billing.services.available_to_allocate, summed over the scope's partners). None when never synced."""
    from billing.models import Adjustment, PartnerAccount

    accounts = PartnerAccount.objects.filter(
        partner_id__in=partner_ids, account_type=PartnerAccount.AccountType.BALANCE
    ).aggregate(
        n=Count("pk"),
        amount=Sum(models.F("amount") - models.F("designated_amount")),
        updated=models.Max("updated_at"),
    )
    # Asked whether or not the accounts are known, so that the page's query count does not depend on it.
    pending = Adjustment.objects.filter(
        partner_id__in=partner_ids, kind=Adjustment.Kind.ALLOCATE, status__in=Adjustment.OPEN_STATUSES
    ).aggregate(s=Sum("amount"))["s"] or Decimal(0)
    if not accounts["n"]:
        return {"known": False}
    return {"known": True, "available": accounts["amount"] - pending, "accounts": accounts["n"]}


def funds_this_month(partner_ids: list[int], tz=None, today: date | None = None) -> dict:
    """Allocated and reclaimed (including reclaims on disassociation) since the first of this month in the
    user's time zone: the maintained FundsDay rows of the whole rollup days since then (billing 0008), plus,
    where the month begins in the middle of a rollup day (any zone but Asia/Shanghai's offset), the records
    of that day from its start (the partner/time index). One query in UTC+8 zones, two in any other."""
    from billing.models import RECLAIMS, AdjustRecord, FundsDay

    tz = tz or timezone.get_current_timezone()
    today = today or timezone.localdate(timezone=tz)
    start = _instant(today.replace(day=1), tz)
    rollup_tz = zoneinfo.ZoneInfo(ROLLUP_ZONE)
    local = start.astimezone(rollup_tz)
    first_whole = (
        local.date() if local.timetz().replace(tzinfo=None) == time.min else local.date() + timedelta(1)
    )
    sums = FundsDay.objects.filter(partner_id__in=partner_ids, day__gte=first_whole).aggregate(
        allocated=Sum("allocated", default=Decimal(0)),
        reclaimed=Sum("reclaimed", default=Decimal(0)),
        allocations=Sum("allocations", default=0),
        reclaims=Sum("reclaims", default=0),
    )
    if first_whole != local.date():
        allocate, reclaim = (
            Q(operation_type=AdjustRecord.OperationType.ALLOCATE),
            Q(operation_type__in=RECLAIMS),
        )
        edge = AdjustRecord.objects.filter(
            partner_id__in=partner_ids,
            operation_time__gte=start,
            operation_time__lt=_instant(first_whole, rollup_tz),
        ).aggregate(
            allocated=Sum("amount", filter=allocate, default=Decimal(0)),
            reclaimed=Sum("amount", filter=reclaim, default=Decimal(0)),
            allocations=Count("pk", filter=allocate),
            reclaims=Count("pk", filter=reclaim),
        )
        sums = {key: sums[key] + edge[key] for key in sums}
    return {**sums, "since": start.date()}


def onboarding_funnel(partner_ids: list[int], tz=None, today: date | None = None) -> dict:
    """Customers created through the portal since the first of this month (user's time zone), how many of
    them are verified, and how many have had a first allocation that succeeded (issue 14). One query."""
    from django.db.models import Exists, OuterRef

    from billing.models import Adjustment
    from customers.models import Customer, CustomerApplication

    tz = tz or timezone.get_current_timezone()
    today = today or timezone.localdate(timezone=tz)
    start = _instant(today.replace(day=1), tz)
    allocated = Adjustment.objects.filter(
        customer_id=OuterRef("customer_id"),
        kind=Adjustment.Kind.ALLOCATE,
        status=Adjustment.Status.SUCCEEDED,
    )
    return CustomerApplication.objects.filter(
        partner_id__in=partner_ids, status=CustomerApplication.Status.CREATED, created_at__gte=start
    ).aggregate(
        created=Count("pk"),
        verified=Count("pk", filter=Q(customer__verified_status=Customer.Verified.VERIFIED)),
        allocated=Count("pk", filter=Exists(allocated)),
    )


def open_warnings(partner_ids: list[int]) -> list[dict]:
    """Pending warnings by category, summed from the maintained WarningTally rows (customers 0008)."""
    from customers.models import CustomerWarning, WarningTally

    counts = dict(
        WarningTally.objects.filter(partner_id__in=partner_ids)
        .values("category")
        .annotate(n=Sum("pending"))
        .order_by()
        .values_list("category", "n")
    )
    return [
        {"value": value, "label": label, "count": counts.get(value, 0)}
        for value, label in CustomerWarning.Category.choices
    ]


def pending_requests(partner_ids: list[int]) -> list[dict]:
    """Association requests waiting for the customer or for the partner (few rows: requests are rare)."""
    from customers.models import AssociationRequest

    waiting = [AssociationRequest.Status.PENDING_CUSTOMER, AssociationRequest.Status.PENDING_PARTNER]
    counts = dict(
        AssociationRequest.objects.filter(partner_id__in=partner_ids, status__in=waiting)
        .values("status")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("status", "n")
    )
    return [
        {"value": status.value, "label": status.label, "count": counts.get(status, 0)} for status in waiting
    ]


def orders_awaiting_payment(partner_ids: list[int]) -> dict:
    """Orders the customers routed to the partner, awaiting its payment: how many and how much (a partial
    index of few rows, customers migration 0011)."""
    from django.db.models import Sum

    from customers.models import Order

    totals = (
        Order.objects.heads()
        .awaiting_partner_payment()
        .filter(partner_id__in=partner_ids)
        .aggregate(n=Count("pk"), amount=Sum("amount_after_discount"))
    )
    return {"count": totals["n"], "amount": totals["amount"] or 0}


def customers_in_debt(partner_ids: list[int]) -> int:
    """Resale customers whose account is in debt."""
    from billing.models import CustomerAccount

    return CustomerAccount.objects.filter(
        partner_id__in=partner_ids, debt_amount__gt=0, customer__disassociated_at__isnull=True
    ).count()


def expiring_soon(partner_ids: list[int], now=None) -> dict:
    """Discounts and dedicated offers in force that expire within EXPIRY_DAYS (three small counts)."""
    from billing.models import CommercialDiscount, DedicatedOffer, PartnerDiscount

    now = now or timezone.now()
    until = now + timedelta(days=EXPIRY_DAYS)
    partner = PartnerDiscount.objects.filter(partner_id__in=partner_ids).expiring_within(EXPIRY_DAYS, now)
    commercial = CommercialDiscount.objects.filter(
        partner_id__in=partner_ids,
        status=CommercialDiscount.Status.EFFECTIVE,
        expire_time__gte=now,
        expire_time__lte=until,
    )
    offers = DedicatedOffer.objects.filter(
        partner_id__in=partner_ids,
        status=DedicatedOffer.Status.ACTIVE,
        expire_time__gte=now,
        expire_time__lte=until,
    )
    counts = {
        "partner": partner.count(),
        "commercial": commercial.count(),
        "offers": offers.count(),
    }
    return {**counts, "days": EXPIRY_DAYS}


# --- sync health --------------------------------------------------------------------------------------------

# Which datasets each part of the page depends on: its data is as old as the oldest of them.
DEPENDS = {
    "associations": ("association_records",),
    "customers": ("customers",),
    "balance": ("partner_balances",),
    "funds": ("adjust_records",),
    "warnings": ("warnings",),
    "debt": ("customer_balances",),
    "expiring": ("commercial_discounts", "dedicated_offers"),
    "orders": ("orders",),
}


def freshness(rows: list[dict], now=None) -> dict[str, dict]:
    """Per part of the page: when its data was last synced well and whether that is stale (older than twice
    the dataset's schedule, or never)."""
    now = now or timezone.now()
    by_name = {row["name"]: row for row in rows}
    result = {}
    for part, names in DEPENDS.items():
        oldest, stale = None, False
        for name in names:
            good = by_name.get(name, {}).get("good")
            when = (good.finished_at or good.started_at) if good else None
            limit = timedelta(seconds=2 * settings.SYNC_SCHEDULE.get(name, 0))
            if when is None or now - when > limit:
                stale = True
            if when is not None and (oldest is None or when < oldest):
                oldest = when
        result[part] = {"as_of": oldest, "stale": stale, "age": (now - oldest) if oldest else None}
    return result
