"""The adjustment records page (调账记录): the portal's ledger and the upstream's records as one list.

Every allocation or reclaim the portal asked for is an Adjustment. The upstream also records moves the portal
did not make (in the platform's console, or the reclaim on a disassociation): those AdjustRecords whose
transaction id no Adjustment carries are shown in the same list, marked "outside the portal". One list, two
tables: each side is filtered on its own, then they are joined with UNION ALL in time order, so a page reads
the newest rows of each side's index and nothing else.
"""

from __future__ import annotations

import datetime

from django import forms
from django.db.models import (
    Case,
    CharField,
    DecimalField,
    Exists,
    F,
    OuterRef,
    Q,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Partner, User
from billing.models import Adjustment, AdjustRecord

DATE = forms.DateInput(attrs={"type": "date"})

# The kinds of the list, and what each is called on either side.
ALLOCATE, RECLAIM, UNBIND = "allocate", "reclaim", "unbind"
KIND_CHOICES = [
    (ALLOCATE, _("Allocate")),
    (RECLAIM, _("Reclaim")),
    (UNBIND, _("Reclaim on disassociation")),
]
UPSTREAM_KINDS = {
    ALLOCATE: AdjustRecord.OperationType.ALLOCATE,
    RECLAIM: AdjustRecord.OperationType.RECLAIM,
    UNBIND: AdjustRecord.OperationType.UNBIND,
}
PORTAL, OUTSIDE = "portal", "outside"
ORIGIN_CHOICES = [(PORTAL, _("Requested in the portal")), (OUTSIDE, _("Outside the portal"))]

# The columns of a row, in the order both sides select them (a UNION matches columns by position).
COLUMNS = (
    "origin",
    "row_pk",
    "at",
    "row_kind",
    "row_status",
    "row_amount",
    "row_customer",
    "customer_code",
    "customer_label",
    "reseller_name",
    "requested_by_name",
    "row_trans_id",
    "row_memo",
    "row_error",
)


class AdjustmentFilterForm(forms.Form):
    """What the records page can be narrowed to; every field optional, the state lives in the URL."""

    customer = forms.CharField(
        label=_("Customer ID"),
        required=False,
        max_length=64,
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    reseller = forms.ModelChoiceField(
        label=_("Reseller"), queryset=Partner.objects.none(), required=False, empty_label=_("All")
    )
    kind = forms.ChoiceField(label=_("Type"), choices=[("", _("All")), *KIND_CHOICES], required=False)
    status = forms.ChoiceField(
        label=_("Status"), choices=[("", _("All")), *Adjustment.Status.choices], required=False
    )
    origin = forms.ChoiceField(label=_("Origin"), choices=[("", _("All")), *ORIGIN_CHOICES], required=False)
    date_from = forms.DateField(label=_("From date"), required=False, widget=DATE)
    date_to = forms.DateField(label=_("To date"), required=False, widget=DATE)
    requested_by = forms.ModelChoiceField(
        label=_("Requested by"), queryset=User.objects.none(), required=False, empty_label=_("All")
    )

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        partner = user.partner
        ids = partner.visible_partner_ids() if partner else []
        if partner is not None and partner.is_distributor:
            self.fields["reseller"].queryset = Partner.objects.filter(parent=partner).order_by("name")
        else:
            del self.fields["reseller"]
        self.fields["requested_by"].queryset = User.objects.filter(partner_id__in=ids).order_by("username")
        self.fields["requested_by"].label_from_instance = lambda staff: staff.get_username()

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            self.add_error(
                "date_to",
                forms.ValidationError(_("The end date is before the start date."), code="dates_reversed"),
            )
        return data


def _day_start(day: datetime.date) -> datetime.datetime:
    """Midnight of a day in the user's time zone (activated per request)."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def _portal_side(user: User, data: dict):
    rows = Adjustment.objects.for_user(user)
    if data.get("origin") == OUTSIDE or data.get("kind") == UNBIND:
        return rows.none()
    if data.get("customer"):
        rows = rows.filter(customer__customer_id=data["customer"].strip())
    if data.get("reseller"):
        rows = rows.filter(Q(partner=data["reseller"]) | Q(reseller=data["reseller"]))
    if data.get("kind"):
        rows = rows.filter(kind=data["kind"])
    if data.get("status"):
        rows = rows.filter(status=data["status"])
    if data.get("date_from"):
        rows = rows.filter(created_at__gte=_day_start(data["date_from"]))
    if data.get("date_to"):
        rows = rows.filter(created_at__lt=_day_start(data["date_to"] + datetime.timedelta(days=1)))
    if data.get("requested_by"):
        rows = rows.filter(requested_by=data["requested_by"])
    return rows


def _upstream_side(user: User, data: dict):
    """The upstream records the portal did not make, filtered."""
    made_here = Adjustment.objects.filter(upstream_transaction_id=OuterRef("trans_id"))
    return _upstream_records(user, data).filter(~Exists(made_here))


def _upstream_records(user: User, data: dict):
    """The user's upstream records as filtered (those the portal made included)."""
    rows = AdjustRecord.objects.for_user(user)
    # What only the portal knows (who asked, a status other than done) matches no upstream record.
    if data.get("origin") == PORTAL or data.get("requested_by"):
        return rows.none()
    if data.get("status") and data["status"] != Adjustment.Status.SUCCEEDED:
        return rows.none()
    if data.get("customer"):
        rows = rows.filter(customer_upstream_id=data["customer"].strip())
    if data.get("reseller"):
        rows = rows.filter(partner=data["reseller"])
    if data.get("kind"):
        rows = rows.filter(operation_type=UPSTREAM_KINDS[data["kind"]])
    if data.get("date_from"):
        rows = rows.filter(operation_time__gte=_day_start(data["date_from"]))
    if data.get("date_to"):
        rows = rows.filter(operation_time__lt=_day_start(data["date_to"] + datetime.timedelta(days=1)))
    return rows


def _text(value) -> Value:
    return Value(value, output_field=CharField())


def _portal_rows(rows):
    return rows.annotate(
        origin=_text(PORTAL),
        row_pk=F("pk"),
        at=F("created_at"),
        row_kind=F("kind"),
        row_status=F("status"),
        row_amount=F("amount"),
        row_customer=F("customer_id"),
        customer_code=F("customer__customer_id"),
        customer_label=F("customer__name"),
        reseller_name=F("reseller__name"),
        requested_by_name=F("requested_by__username"),
        row_trans_id=F("upstream_transaction_id"),
        row_memo=F("memo"),
        row_error=F("error_message"),
    ).values(*COLUMNS)


def _upstream_rows(rows):
    kind = Case(
        *[When(operation_type=value, then=_text(key)) for key, value in UPSTREAM_KINDS.items()],
        default=_text(""),
    )
    return rows.annotate(
        origin=_text(OUTSIDE),
        row_pk=F("pk"),
        at=F("operation_time"),
        row_kind=kind,
        row_status=_text(Adjustment.Status.SUCCEEDED),
        row_amount=F("amount"),
        row_customer=F("customer_id"),
        customer_code=F("customer_upstream_id"),
        # The mirrored customer's name when there is one, else the name the upstream recorded.
        customer_label=Coalesce(F("customer__name"), F("customer_name")),
        reseller_name=Value(None, output_field=CharField()),
        requested_by_name=Value(None, output_field=CharField()),
        row_trans_id=F("trans_id"),
        row_memo=F("memo"),
        row_error=_text(""),
    ).values(*COLUMNS)


ORDER = ("-at", "-row_pk")


class Ledger:
    """The filtered records of a user's partner: `rows` (newest first) and the `totals` of the whole set."""

    def __init__(self, user: User, data: dict):
        self.user, self.data = user, data
        self.portal = _portal_side(user, data)
        self.upstream = _upstream_side(user, data)

    @property
    def rows(self):
        """Every row, newest first (the CSV export streams these)."""
        return _portal_rows(self.portal).union(_upstream_rows(self.upstream), all=True).order_by(*ORDER)

    @property
    def page_rows(self) -> LedgerRows:
        """The rows as the paginator reads them: a window is one query that takes, from each side's index,
        only the newest rows up to the window's end (see LedgerRows)."""
        return LedgerRows(self)

    def cached(self, name: str, compute):
        """`compute()` for this user and these filters, cached while the database is unchanged
        (portal/lib/unchanged.py). The inputs are the user, the token of their access (accounts.backends),
        every field of the filters and the time zone their dates are days of; without an access token
        nothing is cached."""
        from portal.lib.fragments import fingerprint
        from portal.lib.unchanged import cached

        access = getattr(self.user, "_access_version", None)
        if access is None:
            return compute()
        zone = timezone.get_current_timezone_name()
        return cached(f"ledger-{name}", (self.user.pk, access, zone, fingerprint(self.data)), compute)

    def totals(self) -> dict:
        """Succeeded allocations and reclaims (reclaims on disassociation included) over the filtered set."""
        return self.cached("totals", self._totals)

    def _totals(self) -> dict:
        money = DecimalField(max_digits=18, decimal_places=2)
        done = Q(status=Adjustment.Status.SUCCEEDED)
        portal = self.portal.order_by().aggregate(
            allocated=Sum("amount", filter=done & Q(kind=Adjustment.Kind.ALLOCATE), output_field=money),
            reclaimed=Sum("amount", filter=done & Q(kind=Adjustment.Kind.RECLAIM), output_field=money),
        )
        upstream = self._rolled_up_totals()
        if upstream is None:
            upstream = _sums(self.upstream)
        return {key: (portal[key] or 0) + (upstream[key] or 0) for key in ("allocated", "reclaimed")}

    def _rolled_up_totals(self) -> dict | None:
        """The upstream side's totals from the maintained FundsDay rows (billing 0008), when the filters
        allow: by partner, allocate or every kind, and dates whose days are the rollup's. Every record of
        those days, less those the portal made (shown on the portal's side): the latter are at most the
        portal's own adjustments, read by transaction id. None when the filters need the records themselves.
        """
        import zoneinfo

        from billing.models import FundsDay
        from customers.models import ROLLUP_ZONE

        data = self.data
        if data.get("customer") or data.get("kind") in (RECLAIM, UNBIND):
            return None
        records = _upstream_records(self.user, data)
        if records.query.is_empty():
            return {"allocated": 0, "reclaimed": 0}
        rollup = zoneinfo.ZoneInfo(ROLLUP_ZONE)
        days = {}
        for name, bound in (("date_from", "day__gte"), ("date_to", "day__lte")):
            if data.get(name):
                if _day_start(data[name]).astimezone(rollup).time() != datetime.time.min:
                    return None  # the user's days are not the rollup's: count the records
                days[bound] = data[name]
        partners = [data["reseller"].pk] if data.get("reseller") else self.user.partner.visible_partner_ids()
        rolled = FundsDay.objects.filter(partner_id__in=partners, **days).aggregate(
            allocated=Sum("allocated"), reclaimed=Sum("reclaimed")
        )
        made_here = Adjustment.objects.exclude(upstream_transaction_id="").values("upstream_transaction_id")
        ours = _sums(records.filter(trans_id__in=made_here))
        totals = {key: (rolled[key] or 0) - (ours[key] or 0) for key in ("allocated", "reclaimed")}
        if data.get("kind") == ALLOCATE:
            totals["reclaimed"] = 0
        return totals


class LedgerRows:
    """The ledger's rows for lists.paginate: `rows[start:stop]` and a count capped like every list's.

    Ordering the UNION of both sides and then taking a window sorted every row of both (200,000 upstream
    records at 100,000 customers: 0.6–0.8 s a page). Here each side is ordered and cut at `stop` first
    (on its own time index), and only those rows are merged: a page reads `stop` rows of each side.
    """

    ordered = True  # the paginator reads a page in the back half from the end (lists._counted_page)

    def __init__(self, ledger: Ledger, order: tuple[str, ...] = ORDER):
        self.ledger, self.order = ledger, order

    def reverse(self) -> LedgerRows:
        """The same rows, oldest first."""
        return LedgerRows(self.ledger, tuple(key.removeprefix("-") for key in ORDER))

    def __getitem__(self, window: slice) -> list[dict]:
        start, stop = window.start or 0, window.stop
        if stop is not None and stop <= start:  # an empty window (the one page of an empty list)
            return []
        sides = [
            rows(side).order_by(*self.order)
            for rows, side in ((_portal_rows, self.ledger.portal), (_upstream_rows, self.ledger.upstream))
            if not side.query.is_empty()
        ]
        if len(sides) < 2:  # one side or none: no merge
            return list(sides[0][start:stop]) if sides else []
        portal, upstream = (side[:stop] for side in sides) if stop is not None else sides
        return list(portal.union(upstream, all=True).order_by(*self.order)[start:stop])

    def __len__(self) -> int:
        """Both sides counted, each up to the lists' cap (so a count past it reads as "more than")."""
        from portal.lib.lists import COUNT_CAP

        return self.ledger.cached(
            "count",
            lambda: sum(
                side.order_by().values("pk")[: COUNT_CAP + 1].count()
                for side in (self.ledger.portal, self.ledger.upstream)
            ),
        )

    def exact_count(self) -> int:
        return self.ledger.portal.count() + self.ledger.upstream.count()


def _sums(records) -> dict:
    money = DecimalField(max_digits=18, decimal_places=2)
    allocate = Q(operation_type=AdjustRecord.OperationType.ALLOCATE)
    return records.order_by().aggregate(
        allocated=Sum("amount", filter=allocate, output_field=money),
        reclaimed=Sum("amount", filter=~allocate, output_field=money),
    )
