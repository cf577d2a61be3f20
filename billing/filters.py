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
    made_here = Adjustment.objects.filter(upstream_transaction_id=OuterRef("trans_id"))
    rows = AdjustRecord.objects.for_user(user).filter(~Exists(made_here))
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


class Ledger:
    """The filtered records of a user's partner: `rows` (newest first) and the `totals` of the whole set."""

    def __init__(self, user: User, data: dict):
        self.portal = _portal_side(user, data)
        self.upstream = _upstream_side(user, data)

    @property
    def rows(self):
        return (
            _portal_rows(self.portal)
            .union(_upstream_rows(self.upstream), all=True)
            .order_by("-at", "-row_pk")
        )

    def totals(self) -> dict:
        """Succeeded allocations and reclaims (reclaims on disassociation included) over the filtered set."""
        money = DecimalField(max_digits=18, decimal_places=2)
        done = Q(status=Adjustment.Status.SUCCEEDED)
        portal = self.portal.order_by().aggregate(
            allocated=Sum("amount", filter=done & Q(kind=Adjustment.Kind.ALLOCATE), output_field=money),
            reclaimed=Sum("amount", filter=done & Q(kind=Adjustment.Kind.RECLAIM), output_field=money),
        )
        upstream = self.upstream.order_by().aggregate(
            allocated=Sum(
                "amount", filter=Q(operation_type=AdjustRecord.OperationType.ALLOCATE), output_field=money
            ),
            reclaimed=Sum(
                "amount", filter=~Q(operation_type=AdjustRecord.OperationType.ALLOCATE), output_field=money
            ),
        )
        return {key: (portal[key] or 0) + (upstream[key] or 0) for key in ("allocated", "reclaimed")}
