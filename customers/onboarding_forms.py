"""The form that creates a customer account (issue 14)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from customers.models import AssociationType
from customers.onboarding import account_name_problem, regions
from customers.services import eligible_account_managers


class NewCustomerForm(forms.Form):
    account_name = forms.CharField(
        label=_("Account name"),
        max_length=32,
        help_text=_("The customer signs in with it; it cannot be changed later."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    display_name = forms.CharField(label=_("Display name"), max_length=200, required=False)
    association_type = forms.ChoiceField(
        label=_("Association type"), choices=AssociationType.choices, initial=AssociationType.RESALE
    )
    label = forms.CharField(label=_("Label"), max_length=200, required=False)
    province = forms.ChoiceField(label=_("Province"), required=False)
    city = forms.ChoiceField(label=_("City"), required=False)
    county = forms.ChoiceField(label=_("County or district"), required=False)
    address = forms.CharField(label=_("Street address"), max_length=200, required=False)
    account_manager = forms.ModelChoiceField(
        label=_("Account manager"), queryset=None, required=False, empty_label=_("— none (partner admins) —")
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["association_type"].choices = [
            (AssociationType.RESALE, AssociationType.RESALE.label),
            (AssociationType.REFERRAL, AssociationType.REFERRAL.label),
        ]
        self.fields["account_manager"].queryset = eligible_account_managers([user.partner_id])
        # Each picker offers the regions under the one chosen above it (from the platform, cached).
        province = self.data.get("province") or ""
        city = self.data.get("city") or ""
        self.fields["province"].choices = [("", _("— choose —")), *regions()]
        self.fields["city"].choices = [("", _("— choose —")), *(regions(province) if province else [])]
        self.fields["county"].choices = [
            ("", _("— choose —")),
            *(regions(city) if city.startswith(f"{province}-") else []),
        ]

    def clean(self):
        data = super().clean()
        picked = [bool(data.get(name)) for name in ("province", "city", "county")]
        if any(picked) and not all(picked):
            raise forms.ValidationError(_("Choose the province, the city and the county, or none of them."))
        return data

    def clean_account_name(self) -> str:
        name = self.cleaned_data["account_name"].strip()
        problem = account_name_problem(name)
        if problem:
            raise forms.ValidationError(problem)
        return name


class EnterpriseVerificationForm(forms.Form):
    """An enterprise's real-name verification: the company, its licence, its representative's ID card."""

    corp_name = forms.CharField(label=_("Company name"), max_length=200)
    certificate_number = forms.RegexField(
        label=_("Certificate number"),
        regex=r"^[0-9A-Z]{15,20}$",
        max_length=20,
        help_text=_("The unified social credit code on the licence (18 characters)."),
        error_messages={"invalid": _("15 to 20 digits or capital letters.")},
    )
    representative = forms.CharField(label=_("Legal representative"), max_length=100)
    representative_id = forms.RegexField(
        label=_("Representative's ID number"),
        regex=r"^[0-9]{17}[0-9X]$",
        error_messages={"invalid": _("18 characters: 17 digits, then a digit or X.")},
    )
    licence = forms.FileField(
        label=_("Business licence"), help_text=_("JPG, PNG, GIF, BMP or PDF, at most 10 MB.")
    )
    id_front = forms.FileField(label=_("ID card, portrait side"))
    id_back = forms.FileField(label=_("ID card, emblem side"))

    def clean_certificate_number(self):
        return self.cleaned_data["certificate_number"].upper()
