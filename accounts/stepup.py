"""Step-up verification: a fresh one-time code before a sensitive operation.

When the user's partner has `require_step_up` on, a sensitive form (allocate, reclaim, switch,
disassociate, approve unbind, invalidate an offer) mixes in StepUpFormMixin. It adds a `code` field and
accepts the form only with a valid code from one of the user's devices: an authenticator app
(django-otp TOTP) or a 6-digit code sent by email or SMS (MessageCodeDevice). The page includes
`includes/step_up_field.html`, whose buttons post to `accounts:step-up-send`.

A form that changes sensitive fields among harmless ones (the profile's email and phone next to its time
zone) names them in `step_up_fields`: the code is then asked only when one of them changes.
"""

from __future__ import annotations

import math

from django import forms
from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import audit
from accounts.models import MessageCodeDevice, User
from portal.lib.notifications import send_email, send_sms


def is_required(user: User) -> bool:
    """Whether sensitive operations of this user need a code."""
    partner = getattr(user, "partner", None)
    return bool(partner and partner.require_step_up)


def available_channels(user: User) -> list[str]:
    """The channels a code can be sent through: email and/or SMS, where the user has an address."""
    channels = []
    if user.email:
        channels.append(MessageCodeDevice.Channel.EMAIL)
    if user.phone:
        channels.append(MessageCodeDevice.Channel.SMS)
    return channels


def has_authenticator(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def code_lifetime_minutes() -> int:
    """How long a sent code is valid, in whole minutes (STEP_UP_CODE_TTL, rounded up), for texts."""
    return max(1, math.ceil(settings.STEP_UP_CODE_TTL.total_seconds() / 60))


class CodeNotSent(Exception):
    """A code could not be sent now (no address, or asked again too soon)."""


def send_code(user: User, channel: str) -> MessageCodeDevice:
    """Send a fresh code through the channel; refuses inside the resend interval."""
    if channel not in available_channels(user):
        raise CodeNotSent(_("No address on your profile for that channel."))
    with transaction.atomic():
        device, _created = MessageCodeDevice.objects.select_for_update().get_or_create(
            user=user, channel=channel, defaults={"name": channel}
        )
        wait = device.seconds_until_resend()
        if wait:
            raise CodeNotSent(_("A code was sent just now. You can ask again in %(s)d s.") % {"s": wait})
        code = device.new_code()
    context = {"code": code, "user": user, "minutes": code_lifetime_minutes(), "partner_id": user.partner_id}
    if channel == MessageCodeDevice.Channel.EMAIL:
        send_email(user.email, "emails/step_up_code", context, tag="step-up-code")
    else:
        send_sms(user.phone, "emails/step_up_code_sms", context, tag="step-up-code")
    return device


def verify(user: User, code: str, *, request=None) -> bool:
    """True if the code matches one of the user's devices (and consumes it); failures are audited."""
    code = (code or "").strip()
    if code.isdigit() and len(code) == 6:
        with transaction.atomic():
            for device in TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True):
                if device.verify_token(code):
                    return True
            for device in MessageCodeDevice.objects.select_for_update().filter(user=user):
                if device.has_live_code() and device.verify_token(code):
                    return True
    audit.record("step_up_failed", actor=user, request=request, summary="Wrong or expired verification code")
    return False


class StepUpFormMixin(forms.Form):
    """Adds a required `code` field when the user's partner asks for codes; pass `user=` to the form.

    With `step_up_fields` set, the code is required only when one of those fields changes.
    """

    step_up_fields: tuple[str, ...] | None = None

    code = forms.CharField(
        label=_("Verification code"),
        required=False,
        max_length=6,
        min_length=6,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def __init__(self, *args, user: User, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.request = request
        self.step_up_required = is_required(user)
        if not self.step_up_required:
            del self.fields["code"]
        else:
            self.fields["code"].required = self.step_up_fields is None

    def step_up_needed(self) -> bool:
        """Whether this submission needs a code (for step_up_fields: one of them changed)."""
        if not self.step_up_required:
            return False
        if self.step_up_fields is None:
            return True
        return any(name in self.changed_data for name in self.step_up_fields)

    def clean_code(self):
        code = self.cleaned_data.get("code", "")
        if not code and not self.fields["code"].required:
            return code
        if not code.isdigit():
            raise forms.ValidationError(_("Enter the 6-digit code."))
        if not verify(self.user, code, request=self.request):
            raise forms.ValidationError(_("That code is wrong or has expired. Ask for a new one."))
        return code

    def clean(self):
        cleaned = super().clean()
        if self.step_up_needed() and not cleaned.get("code") and "code" not in self.errors:
            self.add_error("code", _("Enter the verification code to change this."))
        return cleaned
