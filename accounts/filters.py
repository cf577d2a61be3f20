"""Filters of the accounts pages."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _

from accounts import audit
from accounts.models import AuditEvent


class AuditEventFilter(django_filters.FilterSet):
    """The audit log's filter: one of the known actions (labels in the reader's language), or all."""

    action = django_filters.ChoiceFilter(
        label=_("Action"), choices=audit.action_choices, empty_label=_("All")
    )

    class Meta:
        model = AuditEvent
        fields = ["action"]
