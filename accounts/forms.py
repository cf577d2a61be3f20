from __future__ import annotations

import zoneinfo

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from accounts.models import Partner, User

COMMON_TIME_ZONES = [
    *sorted(
        z
        for z in zoneinfo.available_timezones()
        if z.startswith(("Asia/", "Europe/", "America/", "Australia/"))
    ),
    "UTC",
]


class LoginForm(AuthenticationForm):
    """Username and password; one generic message for any failure, so usernames cannot be probed."""

    error_messages = {
        "invalid_login": _("The username or password is not right. Check both and try again."),
        "inactive": _("The username or password is not right. Check both and try again."),
    }


class ProfileForm(forms.ModelForm):
    time_zone = forms.ChoiceField(label=_("Time zone"), choices=[(z, z) for z in COMMON_TIME_ZONES])

    class Meta:
        model = User
        fields = ["email", "phone", "time_zone", "notify_warning_digest", "notify_arrears"]

    def clean_phone(self):
        phone = self.cleaned_data["phone"].strip().replace(" ", "")
        if phone and not (phone.lstrip("+").isdigit() and 6 <= len(phone) <= 20):
            raise forms.ValidationError(_("Enter a mobile number of digits only, e.g. 13812345678."))
        return phone


class PartnerSettingsForm(forms.ModelForm):
    class Meta:
        model = Partner
        fields = ["require_step_up"]


class TotpConfirmForm(forms.Form):
    code = forms.CharField(
        label=_("Code from your authenticator app"),
        min_length=6,
        max_length=6,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class StepUpSendForm(forms.Form):
    channel = forms.ChoiceField(choices=[("email", _("Email")), ("sms", _("SMS"))])
