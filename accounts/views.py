"""Staff self-service (profile, authenticator app), partner settings, audit log, step-up codes, outbox."""

from __future__ import annotations

from base64 import b32encode

import qrcode
import qrcode.image.svg
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_lockout_response
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import audit, stepup
from accounts.decorators import staff_required
from accounts.filters import AuditEventFilter
from accounts.forms import (
    PartnerSettingsForm,
    ProfileForm,
    StepUpSendForm,
    TotpConfirmForm,
    TotpRemoveForm,
)
from accounts.http import StaffRequest
from accounts.models import AuditEvent, Message, MessageCodeDevice
from portal.lib import lists
from portal.lib.htmx import render_page


@require_http_methods(["GET", "POST"])
@staff_required
def profile(request: StaffRequest):
    form = ProfileForm(request.POST or None, instance=request.user, user=request.user, request=request)
    if request.method == "POST" and form.is_valid():
        contact_changed = {"email", "phone"} & set(form.changed_data)
        form.save()
        if contact_changed:
            audit.record("profile_changed", request=request, data={"fields": sorted(contact_changed)})
        messages.success(request, _("Your profile is saved."))
        return redirect("accounts:profile")
    return _render_profile(request, form=form)


def _render_profile(request: StaffRequest, *, form=None, remove_form=None, status: int = 200):
    context = {
        "form": form or ProfileForm(instance=request.user, user=request.user),
        "remove_form": remove_form or TotpRemoveForm(user=request.user),
        "totp_devices": TOTPDevice.objects.filter(user=request.user, confirmed=True),
        "step_up_required": stepup.is_required(request.user),
    }
    return render(request, "accounts/profile.html", context, status=status)


def _totp_qr_svg(device: TOTPDevice) -> str:
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    return image.to_string(encoding="unicode")


@require_http_methods(["GET", "POST"])
@staff_required
def totp_setup(request: StaffRequest):
    """Add an authenticator app: show a QR code for an unconfirmed device, confirm it with a code."""
    device = TOTPDevice.objects.filter(user=request.user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=request.user, name=_("Authenticator app"), confirmed=False)
    form = TotpConfirmForm(request.POST or None, user=request.user, request=request)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["token"]):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            audit.record("totp_added", request=request, target=device, summary="Authenticator app added")
            messages.success(request, _("Your authenticator app is set up."))
            return redirect("accounts:profile")
        form.add_error("token", _("That code is not right. Check the time on your phone and try again."))
    context = {
        "form": form,
        "qr_svg": _totp_qr_svg(device),
        "secret": b32encode(device.bin_key).decode(),
    }
    return render(request, "accounts/totp_setup.html", context)


@require_POST
@staff_required
def totp_remove(request: StaffRequest):
    form = TotpRemoveForm(request.POST, user=request.user, request=request)
    if not form.is_valid():
        return _render_profile(request, remove_form=form, status=400)
    deleted, _detail = TOTPDevice.objects.filter(user=request.user).delete()
    if deleted:
        audit.record("totp_removed", request=request, summary="Authenticator app removed")
        messages.success(request, _("Your authenticator app is removed."))
    return redirect("accounts:profile")


@require_http_methods(["GET", "POST"])
@staff_required(perm="accounts.manage_partner")
def partner_settings(request: StaffRequest):
    partner = request.user.partner
    form = PartnerSettingsForm(request.POST or None, instance=partner, user=request.user, request=request)
    if request.method == "POST" and form.is_valid():
        form.save()
        audit.record(
            "partner_settings_changed",
            request=request,
            target=partner,
            summary="Partner settings changed",
            data={"require_step_up": partner.require_step_up},
        )
        messages.success(request, _("The partner settings are saved."))
        return redirect("accounts:partner-settings")
    return render(request, "accounts/partner_settings.html", {"form": form, "partner": partner})


@require_GET
@staff_required(perm="accounts.view_auditevent")
def audit_log(request: StaffRequest):
    """The partner's events and events about its objects (e.g. its distributor's actions on its customers)."""
    events = AuditEvent.objects.for_partner(request.user.partner).select_related("partner", "owner_partner")
    filterset = AuditEventFilter(request.GET or None, queryset=events)
    page = lists.paginate(request, lists.filtered(request, filterset), size=50)
    context = {"filter": filterset, **lists.page_context(request, page)}
    return render_page(request, "accounts/audit_log.html", context, partial="table", cached=True)


@require_POST
@staff_required
def step_up_send(request: StaffRequest):
    """Send a verification code by email or SMS; answers the small status part for htmx."""
    form = StepUpSendForm(request.POST)
    if not form.is_valid():
        status, ok = _("Choose email or SMS."), False
    else:
        try:
            stepup.send_code(request.user, form.cleaned_data["channel"])
        except stepup.CodeNotSent as exc:
            status, ok = str(exc), False
        else:
            minutes = stepup.code_lifetime_minutes()
            if form.cleaned_data["channel"] == MessageCodeDevice.Channel.EMAIL:
                status = ngettext(
                    "A code was sent to your email. It is valid for %(minutes)d minute.",
                    "A code was sent to your email. It is valid for %(minutes)d minutes.",
                    minutes,
                ) % {"minutes": minutes}
            else:
                status = ngettext(
                    "A code was sent to your phone. It is valid for %(minutes)d minute.",
                    "A code was sent to your phone. It is valid for %(minutes)d minutes.",
                    minutes,
                ) % {"minutes": minutes}
            ok = True
    return render(request, "includes/step_up_status.html", {"status": status, "ok": ok})


@require_GET
@staff_required
def outbox(request: StaffRequest):
    """Demo mode only: the messages sent to the user (all messages for a superuser), and those sent to the
    customers of the partners it sees, for its admins (no staff user: a confirmation link, a customer's code),
    so a person can play the customer with no mail server. Never other staff members' messages: they hold
    their codes."""
    if not settings.PORTAL_DEMO:
        raise Http404
    rows = Message.objects.all()
    if not request.user.is_superuser:
        partner = request.user.partner
        mine = Q(user=request.user)
        if partner is not None and request.user.has_perm("accounts.view_outbox"):  # the partner's admins
            mine |= Q(user__isnull=True, partner_id__in=partner.visible_partner_ids())
        rows = rows.filter(mine)
    page = lists.paginate(request, rows.order_by("-created_at", "-id"), size=30)
    return render_page(request, "accounts/outbox.html", {"page": page}, partial="table")


class PasswordChangeView(auth_views.PasswordChangeView):
    """Change the password: audited, and a wrong current password counts toward the sign-in lockout.

    Otherwise a stolen session could guess the password here without limit. Failures go through
    django-axes' own handler (as a failed sign-in of this username), so the same limit and cool-off apply
    and the lockout page is shown when it is reached.
    """

    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:password-done")

    def _credentials(self) -> dict:
        return {settings.AXES_USERNAME_FORM_FIELD: self.request.user.get_username()}

    def post(self, request, *args, **kwargs):
        if AxesProxyHandler.is_locked(request, self._credentials()):
            return get_lockout_response(request, None, self._credentials())
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        response = super().form_valid(form)
        audit.record("password_changed", request=self.request, summary="Password changed")
        return response

    def form_invalid(self, form):
        if "old_password" in form.errors:
            audit.record("password_change_failed", request=self.request, summary="Wrong current password")
            AxesProxyHandler.user_login_failed(
                sender=PasswordChangeView, credentials=self._credentials(), request=self.request
            )
        return super().form_invalid(form)
