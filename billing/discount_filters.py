"""Filters of the discount tabs: partner-granted discounts, commercial discounts, dedicated offers."""

from __future__ import annotations

import django_filters
from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from billing.models import CommercialDiscount, DedicatedOffer, PartnerDiscount
from portal.lib import lists

DATE = forms.DateInput(attrs={"type": "date"})

# The validity a discount has now, plus the push states a person acts on.
SENDING = "sending"
DISCOUNT_STATUS_CHOICES = [
    *PartnerDiscount.Validity.choices,
    (SENDING, _("Sending…")),
    (PartnerDiscount.Push.REFUSED.value, _("Refused")),
]
DISCOUNT_TYPE_CHOICES = [(605, _("Platform (605)")), (606, _("Distributor (606)"))]
INVALIDATING = "INVALIDATING"
OFFER_STATUS_CHOICES = [
    (DedicatedOffer.Status.ACTIVE.value, DedicatedOffer.Status.ACTIVE.label),
    (INVALIDATING, _("Invalidating…")),
    (DedicatedOffer.Status.INVALIDATED.value, DedicatedOffer.Status.INVALIDATED.label),
    (DedicatedOffer.Status.EXPIRED.value, DedicatedOffer.Status.EXPIRED.label),
    (DedicatedOffer.Status.CREATING.value, DedicatedOffer.Status.CREATING.label),
    (DedicatedOffer.Status.CREATE_FAILED.value, DedicatedOffer.Status.CREATE_FAILED.label),
]


def customer_id_filter(field_name: str) -> django_filters.CharFilter:
    """A customer by its ID (not personal data: no metering needed)."""
    return django_filters.CharFilter(
        label=_("Customer ID"),
        field_name=field_name,
        lookup_expr="iexact",
        widget=forms.TextInput(attrs={"placeholder": _("Customer ID")}),
    )


class PartnerDiscountFilter(lists.FilterSet):
    customer = customer_id_filter("customer__customer_id")
    status = django_filters.ChoiceFilter(
        label=_("Status"), choices=DISCOUNT_STATUS_CHOICES, method="by_status"
    )
    expiring_within = django_filters.NumberFilter(
        label=_("Expiring within (days)"),
        method="by_expiry",
        min_value=0,
        max_value=3650,
        widget=forms.NumberInput(attrs={"min": 0, "max": 3650, "step": 1}),
    )

    class Meta:
        model = PartnerDiscount
        fields: list[str] = []

    def by_status(self, queryset, _name, value):
        now = timezone.now()
        if value == PartnerDiscount.Validity.PENDING:
            return queryset.not_yet_effective(now)
        if value == PartnerDiscount.Validity.EFFECTIVE:
            return queryset.effective(now)
        if value == PartnerDiscount.Validity.EXPIRED:
            return queryset.expired(now)
        if value == SENDING:
            return queryset.filter(push_status=PartnerDiscount.Push.PENDING)
        return queryset.filter(push_status=value)

    def by_expiry(self, queryset, _name, value):
        if value is None:
            return queryset
        return queryset.expiring_within(int(value))


class CommercialDiscountFilter(lists.FilterSet):
    customer = customer_id_filter("customer_upstream_id")
    status = django_filters.ChoiceFilter(label=_("Status"), choices=CommercialDiscount.Status.choices)
    discount_type = django_filters.TypedChoiceFilter(
        label=_("Discount type"), choices=DISCOUNT_TYPE_CHOICES, coerce=int
    )
    business_name = django_filters.CharFilter(label=_("Business name"), lookup_expr="icontains")
    effective_from = django_filters.DateFilter(
        label=_("Effective from"), field_name="effective_time", lookup_expr="date__gte", widget=DATE
    )
    effective_to = django_filters.DateFilter(
        label=_("Effective to"), field_name="effective_time", lookup_expr="date__lte", widget=DATE
    )
    expires_from = django_filters.DateFilter(
        label=_("Expires from"), field_name="expire_time", lookup_expr="date__gte", widget=DATE
    )
    expires_to = django_filters.DateFilter(
        label=_("Expires to"), field_name="expire_time", lookup_expr="date__lte", widget=DATE
    )

    class Meta:
        model = CommercialDiscount
        fields: list[str] = []


class OfferFilter(lists.FilterSet):
    name = django_filters.CharFilter(label=_("Offer name"), lookup_expr="icontains")
    customer = customer_id_filter("customer__customer_id")
    status = django_filters.ChoiceFilter(label=_("Status"), choices=OFFER_STATUS_CHOICES, method="by_status")
    expires_from = django_filters.DateFilter(
        label=_("Expires from"), field_name="expire_time", lookup_expr="date__gte", widget=DATE
    )
    expires_to = django_filters.DateFilter(
        label=_("Expires to"), field_name="expire_time", lookup_expr="date__lte", widget=DATE
    )

    class Meta:
        model = DedicatedOffer
        fields: list[str] = []

    def by_status(self, queryset, _name, value):
        if value == INVALIDATING:
            return queryset.filter(
                status=DedicatedOffer.Status.ACTIVE, invalidation_requested_at__isnull=False
            )
        if value == DedicatedOffer.Status.ACTIVE:
            return queryset.filter(status=value, invalidation_requested_at__isnull=True)
        return queryset.filter(status=value)
