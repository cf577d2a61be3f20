"""Filters of the customer list and the warning inbox (django-filter)."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from customers.models import AssociationType, Customer, CustomerWarning

DATE = forms.DateInput(attrs={"type": "date"})


def staff_of(user: User):
    """Staff users of the partners the user may see (the account manager choices of a filter)."""
    partner = user.partner
    if partner is None:
        return User.objects.none()
    return User.objects.filter(partner_id__in=partner.visible_partner_ids(), is_active=True).order_by(
        "username"
    )


class CustomerFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(label=_("Customer name"), lookup_expr="icontains")
    account_name = django_filters.CharFilter(label=_("Account name"), lookup_expr="icontains")
    customer_id = django_filters.CharFilter(label=_("Customer ID"), lookup_expr="icontains")
    association_type = django_filters.ChoiceFilter(
        label=_("Association type"), choices=AssociationType.choices
    )
    associated_from = django_filters.DateFilter(
        label=_("Associated from"), field_name="associated_on", lookup_expr="date__gte", widget=DATE
    )
    associated_to = django_filters.DateFilter(
        label=_("Associated to"), field_name="associated_on", lookup_expr="date__lte", widget=DATE
    )
    account_manager = django_filters.ModelChoiceFilter(
        label=_("Account manager"), queryset=User.objects.none()
    )
    label = django_filters.CharFilter(label=_("Label"), lookup_expr="icontains")
    frozen = django_filters.ChoiceFilter(
        label=_("Frozen status"), field_name="frozen_status", choices=Customer.Frozen.choices
    )
    sort = django_filters.OrderingFilter(
        label=_("Sort by"),
        fields=(
            ("associated_on", "associated_on"),
            ("name", "name"),
            ("account_name", "account_name"),
            ("balance", "balance"),
            ("open_warnings", "open_warnings"),
        ),
        field_labels={
            "associated_on": _("Associated on"),
            "name": _("Customer name"),
            "account_name": _("Account name"),
            "balance": _("Balance"),
            "open_warnings": _("Open warnings"),
        },
    )

    class Meta:
        model = Customer
        fields: list[str] = []

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["account_manager"].queryset = staff_of(user)


class WarningFilter(django_filters.FilterSet):
    scene = django_filters.CharFilter(label=_("Scene name"), field_name="scene_name", lookup_expr="icontains")
    category = django_filters.ChoiceFilter(label=_("Category"), choices=CustomerWarning.Category.choices)
    status = django_filters.ChoiceFilter(label=_("Status"), choices=CustomerWarning.Status.choices)
    sent_from = django_filters.DateFilter(
        label=_("Sent from"), field_name="send_time", lookup_expr="date__gte", widget=DATE
    )
    sent_to = django_filters.DateFilter(
        label=_("Sent to"), field_name="send_time", lookup_expr="date__lte", widget=DATE
    )
    customer = django_filters.CharFilter(label=_("Customer"), method="filter_customer")
    account_manager = django_filters.ModelChoiceFilter(
        label=_("Account manager"), field_name="customer__account_manager", queryset=User.objects.none()
    )
    sort = django_filters.OrderingFilter(
        label=_("Sort by"),
        fields=(("send_time", "send_time"), ("category", "category"), ("status", "status")),
        field_labels={"send_time": _("Send time"), "category": _("Category"), "status": _("Status")},
    )

    class Meta:
        model = CustomerWarning
        fields: list[str] = []

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["account_manager"].queryset = staff_of(user)

    def filter_customer(self, queryset, _name, value):
        """Customer name, account name or customer ID (the full values are searched; only masks are shown)."""
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(customer__name__icontains=value)
            | Q(customer__account_name__icontains=value)
            | Q(customer_upstream_id__icontains=value)
        )
