"""Inviting existing customers (issue 14), the partner's side: the invitation form, the partner's
invitations with their status, and revoking one. Admins and sales (customers.add_invitation)."""

from __future__ import annotations

from django.contrib import messages
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.decorators import staff_required
from accounts.http import StaffRequest
from accounts.tenancy import get_for_user_or_404
from customers.invitation_forms import InvitationForm
from customers.invitations import Invitation, InvitationError, invite, revoke
from portal.lib import lists
from portal.lib.htmx import done, render_page

INVITE = "customers.add_invitation"


@require_GET
@never_cache
@staff_required(perm=INVITE)
def invitation_list(request: StaffRequest):
    rows = Invitation.objects.for_user(request.user).select_related("partner", "customer", "created_by")
    page = lists.paginate(request, rows)
    return render_page(request, "customers/invitation_list.html", lists.page_context(request, page))


@require_http_methods(["GET", "POST"])
@never_cache
@staff_required(perm=INVITE)
def invitation_new(request: StaffRequest):
    form = InvitationForm(request.POST or None, initial={"language": request.LANGUAGE_CODE})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        invitation = invite(
            request.user,
            email=data["email"],
            association_type=data["association_type"],
            language=data["language"],
            account_name_hint=data["account_name_hint"],
        )
        messages.success(
            request, _("The invitation is sent to %(email)s.") % {"email": invitation.masked_email}
        )
        return done(request, reverse("customers:invitations"))
    return render_page(request, "customers/invitation_new.html", {"form": form})


@require_POST
@staff_required(perm=INVITE)
def invitation_revoke(request: StaffRequest, invitation_pk: int):
    invitation = get_for_user_or_404(Invitation, request.user, pk=invitation_pk)
    try:
        revoke(request.user, invitation)
    except InvitationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("The invitation is revoked; its link no longer works."))
    return done(request, reverse("customers:invitations"))
