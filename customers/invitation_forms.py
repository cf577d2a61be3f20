"""The forms of invitations (issue 14): the partner's invitation, and the customer's agreement."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from customers.forms import NoticesForm
from customers.invitations import ACCOUNT_NAME_RE
from customers.models import AssociationType

ACCOUNT_NAME_RULE = _("5 to 32 letters, digits, “_” or “-”, starting with a letter, “_” or “-”.")


def _account_name(value: str) -> str:
    value = (value or "").strip()
    if value and not ACCOUNT_NAME_RE.match(value):
        raise forms.ValidationError(ACCOUNT_NAME_RULE)
    return value


class InvitationForm(forms.Form):
    email = forms.EmailField(
        label=_("Customer's email"),
        max_length=254,
        help_text=_("The invitation link is sent there; the customer's code too."),
    )
    association_type = forms.ChoiceField(label=_("Association type"), initial=AssociationType.RESALE)
    language = forms.ChoiceField(
        label=_("Language of the email"), choices=settings.LANGUAGES, initial=settings.LANGUAGE_CODE
    )
    account_name_hint = forms.CharField(
        label=_("Account name (if known)"),
        max_length=32,
        required=False,
        help_text=_("Filled in for the customer, who may change it."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["association_type"].choices = [
            (AssociationType.RESALE, AssociationType.RESALE.label),
            (AssociationType.REFERRAL, AssociationType.REFERRAL.label),
        ]

    def clean_account_name_hint(self) -> str:
        return _account_name(self.cleaned_data.get("account_name_hint"))


class AcceptInvitationForm(NoticesForm):
    """The customer's account name, the two notices and the code sent to the invitation's email."""

    account_name = forms.CharField(
        label=_("Your account name"),
        max_length=32,
        help_text=_("The name you sign in to the cloud platform with."),
        widget=forms.TextInput(attrs={"autocomplete": "username", "spellcheck": "false"}),
    )

    def clean_account_name(self) -> str:
        value = _account_name(self.cleaned_data.get("account_name"))
        if not value:
            raise forms.ValidationError(ACCOUNT_NAME_RULE)
        return value

    def clean(self):
        cleaned = super().clean()
        self.require_notices(cleaned)
        return cleaned
