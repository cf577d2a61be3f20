"""Staff self-service (profile, authenticator app), partner settings, audit log, step-up codes, outbox."""

from __future__ import annotations

from base64 import b32encode

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import audit, stepup
from accounts.decorators import staff_required
from accounts.forms import PartnerSettingsForm, ProfileForm, StepUpSendForm, TotpConfirmForm
from accounts.http import StaffRequest
from accounts.models import AuditEvent, Message, MessageCodeDevice
from portal.lib import lists
from portal.lib.htmx import render_page


@require_http_methods(["GET", "POST"])
@staff_required
def profile(request: StaffRequest):
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Your profile is saved."))
        return redirect("accounts:profile")
    context = {
        "form": form,
        "totp_devices": TOTPDevice.objects.filter(user=request.user, confirmed=True),
        "step_up_required": stepup.is_required(request.user),
    }
    return render(request, "accounts/profile.html", context)


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
    form = TotpConfirmForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["code"]):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            audit.record("totp_added", request=request, target=device, summary="Authenticator app added")
            messages.success(request, _("Your authenticator app is set up."))
            return redirect("accounts:profile")
        form.add_error("code", _("That code is not right. Check the time on your phone and try again."))
    context = {
        "form": form,
        "qr_svg": _totp_qr_svg(device),
        "secret": b32encode(device.bin_key).decode(),
    }
    return render(request, "accounts/totp_setup.html", context)


@require_POST
@staff_required
def totp_remove(request: StaffRequest):
    deleted, _detail = TOTPDevice.objects.filter(user=request.user).delete()
    if deleted:
        audit.record("totp_removed", request=request, summary="Authenticator app removed")
        messages.success(request, _("Your authenticator app is removed."))
    return redirect("accounts:profile")


@require_http_methods(["GET", "POST"])
@staff_required(perm="accounts.manage_partner")
def partner_settings(request: StaffRequest):
    partner = request.user.partner
    form = PartnerSettingsForm(request.POST or None, instance=partner)
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
    events = AuditEvent.objects.for_partner(request.user.partner).select_related("partner")
    action = request.GET.get("action", "").strip()
    if action:
        events = events.filter(action=action)
    page = lists.paginate(request, events, size=50)
    return render_page(request, "accounts/audit_log.html", {"page": page, "action": action}, partial="table")


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
            if form.cleaned_data["channel"] == MessageCodeDevice.Channel.EMAIL:
                status = _("A code was sent to your email. It is valid for 5 minutes.")
            else:
                status = _("A code was sent to your phone. It is valid for 5 minutes.")
            ok = True
    return render(request, "includes/step_up_status.html", {"status": status, "ok": ok})


@require_GET
@staff_required(perm="accounts.view_outbox")
def outbox(request: StaffRequest):
    """Demo mode only: the messages the portal sent, so a person can read codes and follow links."""
    if not settings.PORTAL_DEMO:
        raise Http404
    rows = Message.objects.all()
    if not request.user.is_superuser:
        rows = rows.filter(partner_id__in=request.user.partner.visible_partner_ids())
    page = lists.paginate(request, rows.order_by("-created_at", "-id"), size=30)
    return render_page(request, "accounts/outbox.html", {"page": page}, partial="table")
