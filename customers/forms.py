"""Forms of the customer pages: handling warnings (one or many) and assigning an account manager."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.stepup import StepUpFormMixin
from customers.models import Customer, CustomerCode, CustomerWarning
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


# --- association requests -----------------------------------------------------------------------------------


def _reason_field(required: bool = True, label=None) -> forms.CharField:
    return forms.CharField(
        label=label or _("Reason"),
        required=required,
        max_length=1000,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("Give a reason.")},
    )


def _clean_reason(value: str) -> str:
    value = " ".join((value or "").split())
    if not value:
        raise forms.ValidationError(_("Give a reason."))
    return value


class AssociationRequestForm(StepUpFormMixin, forms.Form):
    """A partner admin files a switch or disassociation after the dry run (code when step-up is on)."""

    acknowledged = forms.BooleanField(
        label=_("I have read the above and agree to this operation."),
        error_messages={"required": _("Tick the box to confirm you read the effects.")},
    )
    reason = _reason_field()

    def clean_reason(self):
        return _clean_reason(self.cleaned_data.get("reason"))


class PartnerDecisionForm(StepUpFormMixin, forms.Form):
    """A partner admin approves or rejects a customer's disassociation request, with a reason."""

    decision = forms.ChoiceField(
        choices=[("approve", _("Approve")), ("reject", _("Reject"))], widget=forms.HiddenInput
    )
    reason = _reason_field()

    def clean_reason(self):
        return _clean_reason(self.cleaned_data.get("reason"))


CODE = forms.CharField(
    label=_("Verification code"),
    min_length=6,
    max_length=6,
    widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    error_messages={"required": _("Enter the 6-digit code.")},
)


class NoticesForm(forms.Form):
    """The two notices a customer accepts before agreeing (关联关系切换须知, 客户关联合作伙伴须知)."""

    notice_switch = forms.BooleanField(label=_("I have read the association change notice."), required=False)
    notice_partner = forms.BooleanField(
        label=_("I have read the notice on customers associated with partners."), required=False
    )
    code = CODE

    def require_notices(self, cleaned):
        for name in ("notice_switch", "notice_partner"):
            if not cleaned.get(name):
                self.add_error(name, _("Tick both notices to agree."))


class CustomerDecisionForm(NoticesForm):
    decision = forms.ChoiceField(choices=[("agree", _("Agree")), ("reject", _("Reject"))])
    reason = _reason_field(required=False, label=_("Reason (optional)"))

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("decision") == "agree":
            self.require_notices(cleaned)
        return cleaned


class CustomerUnbindForm(NoticesForm):
    reason = _reason_field()

    def clean_reason(self):
        return _clean_reason(self.cleaned_data.get("reason"))

    def clean(self):
        cleaned = super().clean()
        self.require_notices(cleaned)
        return cleaned


class CodeChannelForm(forms.Form):
    channel = forms.ChoiceField(choices=CustomerCode.Channel.choices)


class MySignInForm(forms.Form):
    contact = forms.CharField(
        label=_("Registered email or mobile phone"),
        max_length=254,
        error_messages={"required": _("Enter your registered email or mobile phone.")},
    )


class MyCodeForm(forms.Form):
    code = CODE
