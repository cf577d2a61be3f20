"""Forms of the customer pages: handling warnings (one or many) and assigning an account manager."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from customers.models import Customer, CustomerWarning
from customers.services import account_manager_choices

REMARK = forms.CharField(
    label=_("Remark"), required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 3})
)


class HandleWarningForm(forms.Form):
    """The handling of one warning: the results its category takes, and a remark."""

    result = forms.ChoiceField(label=_("Result"), widget=forms.RadioSelect)
    remark = REMARK

    def __init__(self, *args, warning: CustomerWarning, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["result"].choices = warning.results()
        if len(warning.results()) == 1:
            self.fields["result"].initial = warning.results()[0][0]


class IdListField(forms.Field):
    """Several ids (checkboxes with one name); which of them the user may act on is the service's business."""

    widget = forms.MultipleHiddenInput
    default_error_messages = {"invalid": _("The selection is not valid.")}

    def to_python(self, value):
        if not value:
            return []
        try:
            return sorted({int(v) for v in value})
        except (TypeError, ValueError, OverflowError):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None


class BulkHandleForm(forms.Form):
    """Several warnings at once: churn warnings take lost / not lost, the other categories "handled".

    The churn result has no default: a bulk handling states it. The ticked rows, or every warning the
    list's filters match (`select_all` with the list's `query`); `confirmed` once the count was confirmed.
    """

    warnings = IdListField(label=_("Warnings"), required=False)
    select_all = forms.BooleanField(required=False)
    query = forms.CharField(required=False, max_length=4000, widget=forms.HiddenInput)
    result = forms.ChoiceField(
        label=_("Result for churn warnings"),
        choices=[
            ("", _("Choose…")),
            *[(r.value, r.label) for r in (CustomerWarning.Result.NOT_LOST, CustomerWarning.Result.LOST)],
        ],
        help_text=_("Warnings of other categories are marked handled."),
        error_messages={"required": _("Choose the result for churn warnings.")},
    )
    remark = REMARK
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("select_all") and not cleaned.get("warnings") and "warnings" not in self.errors:
            raise forms.ValidationError(_("Select at least one warning."), code="required")
        return cleaned


class AssignAccountManagerForm(forms.Form):
    account_manager = forms.ModelChoiceField(
        label=_("Account manager"), queryset=None, required=False, empty_label=_("— none (partner admins) —")
    )
    next = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, customer: Customer, **kwargs):
        kwargs.setdefault("initial", {"account_manager": customer.account_manager_id})
        super().__init__(*args, **kwargs)
        self.fields["account_manager"].queryset = account_manager_choices(customer)
