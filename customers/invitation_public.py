"""Inviting an existing customer (issue 14), the customer's side: `/invite/<token>/`, next to the
confirmation pages of association requests (customers/public.py), outside the staff area.

The link works while the invitation is open (sent, not expired nor revoked): the page shows the partner,
the association type and what it means, asks for the customer's account name and the two notices, and a
code sent to the invitation's email. Agreeing uses the link up; `/invite/<token>/status/` then shows how the
association goes. Anything else (tampered, expired, used, revoked) is one clear page that changes nothing.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from customers import invitations, services
from customers.invitation_forms import AcceptInvitationForm
from customers.models import AssociationType
from portal.lib.htmx import render_page


def _invalid(request, bad: invitations.BadInvitation):
    context = {"reason": bad.reason, "invitation": bad.invitation}
    return render(request, "customers/invitation_invalid.html", context, status=410)


def effects(association_type: str) -> dict:
    """What the association means for the customer (the texts of the confirmation page, and who pays)."""
    if association_type == AssociationType.RESALE:
        pays = _("The partner pays for your use and allocates funds to your account; it sees your bills.")
    else:
        pays = _("You pay for your use yourself; the partner sees your consumption.")
    return {
        "pays": pays,
        "billing": services._billing(association_type),
        "refunds": services._refunds(association_type),
    }


@require_http_methods(["GET", "POST"])
@never_cache
def invite(request, token: str):
    try:
        invitation = invitations.invitation_for_token(token)
    except invitations.BadInvitation as bad:
        if bad.reason == "used":
            return redirect("confirm:invite-status", token=token)
        return _invalid(request, bad)
    initial = {"account_name": invitation.account_name_hint}
    form = AcceptInvitationForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            invitations.accept(
                invitation, account_name=form.cleaned_data["account_name"], code=form.cleaned_data["code"]
            )
        except invitations.InvitationError as error:
            form.add_error(None, error.message)
        else:
            return redirect("confirm:invite-status", token=token)
    context = {
        "invitation": invitation,
        "token": token,
        "form": form,
        "effects": effects(invitation.association_type),
    }
    return render(request, "customers/invitation_accept.html", context)


@require_POST
@never_cache
def invite_code(request, token: str):
    """Send the code to the invitation's email (htmx: the status line; else back to the page)."""
    try:
        invitation = invitations.invitation_for_token(token)
    except invitations.BadInvitation as bad:
        return _invalid(request, bad)
    try:
        invitations.send_code(invitation)
    except invitations.InvitationError as error:
        status = error.message
    else:
        status = _("A code was sent to %(address)s.") % {"address": invitation.masked_email}
    if request.htmx:
        return HttpResponse(render_to_string("customers/confirm.html#code_status", {"status": status}))
    messages.info(request, status)
    return redirect("confirm:invite", token=token)


@require_GET
@never_cache
def invite_status(request, token: str):
    """Where an accepted invitation stands; polls (htmx) while the platform associates the account."""
    try:
        invitation = invitations.invitation_for_token(token, usable=False)
    except invitations.BadInvitation as bad:
        return _invalid(request, bad)
    if invitation.status == invitations.Invitation.Status.SENT and not invitation.is_expired():
        return redirect("confirm:invite", token=token)
    context = {"invitation": invitation, "token": token}
    return render_page(request, "customers/invitation_status.html", context, partial="progress")
