from __future__ import annotations

import zoneinfo

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from accounts.models import Partner, User
from accounts.stepup import StepUpFormMixin

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

    def clean(self):
        # AuthenticationForm sets the field's max_length without a validator, so an over-long name would
        # reach the lockout log (255 characters) and fail there. No such user exists: refuse it plainly.
        username = self.cleaned_data.get("username") or ""
        if len(username) > self.fields["username"].max_length:
            raise self.get_invalid_login_error()
        return super().clean()


class ProfileForm(StepUpFormMixin, forms.ModelForm):
    """The user's own settings; changing the email or phone (where codes are sent) needs a code."""

    step_up_fields = ("email", "phone")
    time_zone = forms.ChoiceField(label=_("Time zone"), choices=[(z, z) for z in COMMON_TIME_ZONES])

    class Meta:
        model = User
        fields = ["email", "phone", "language", "time_zone", "notify_warning_digest", "notify_arrears"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Left out of a submission, the language stays as it is.
        self.fields["language"].required = False

    def clean_language(self):
        return self.cleaned_data.get("language") or self.instance.language

    def clean_phone(self):
        phone = self.cleaned_data["phone"].strip().replace(" ", "")
        if phone and not (phone.lstrip("+").isdigit() and 6 <= len(phone) <= 20):
            raise forms.ValidationError(_("Enter a mobile number of digits only, e.g. 13812345678."))
        return phone


class PartnerSettingsForm(StepUpFormMixin, forms.ModelForm):
    """Switching codes off needs a code (while they are on)."""

    step_up_fields = ("require_step_up",)

    class Meta:
        model = Partner
        fields = ["require_step_up"]


class TotpConfirmForm(StepUpFormMixin, forms.Form):
    """Confirm a new authenticator app with its first code (and a step-up code when the partner asks)."""

    token = forms.CharField(
        label=_("Code from your authenticator app"),
        min_length=6,
        max_length=6,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class TotpRemoveForm(StepUpFormMixin, forms.Form):
    """Remove the authenticator app (with a code, when the partner asks for codes)."""


class StepUpSendForm(forms.Form):
    channel = forms.ChoiceField(choices=[("email", _("Email")), ("sms", _("SMS"))])
