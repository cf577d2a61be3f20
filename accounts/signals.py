"""Receivers: audit sign-ins, failures and lockouts; record every message sent; keep role groups in sync."""

from __future__ import annotations

from axes.signals import user_locked_out
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from accounts import audit
from accounts.models import Message
from portal.lib.notifications import message_sent


@receiver(user_logged_in)
def audit_login(sender, request, user, **kwargs):
    audit.record("login", actor=user, request=request, summary="Signed in")


@receiver(user_logged_out)
def audit_logout(sender, request, user, **kwargs):
    if user is not None:
        audit.record("logout", actor=user, request=request, summary="Signed out")


def _user_named(username: str | None):
    if not username:
        return None
    return get_user_model().objects.filter(username=username).select_related("partner").first()


@receiver(user_login_failed)
def audit_login_failed(sender, credentials, request=None, **kwargs):
    username = (credentials or {}).get("username", "")
    user = _user_named(username)
    audit.record(
        "login_failed",
        actor=user,
        partner=getattr(user, "partner", None),
        request=request,
        summary="Failed sign-in",
        data={"username": username[:150]},
    )


@receiver(user_locked_out)
def audit_locked_out(sender, request, username=None, ip_address=None, **kwargs):
    user = _user_named(username)
    audit.record(
        "locked_out",
        actor=user,
        partner=getattr(user, "partner", None),
        request=request,
        summary="Account locked after repeated failed sign-ins",
        data={"username": (username or "")[:150]},
    )


def _recipient_user(context: dict, recipient: str):
    """The staff user the message went to: the context's `user` when the address is theirs."""
    user = context.get("user")
    if isinstance(user, get_user_model()) and recipient in {user.email, user.phone}:
        return user
    # A code sent to a new customer's contact at a staff member's request (issue 14): theirs to type in.
    requester = context.get("requested_by")
    if isinstance(requester, get_user_model()):
        return requester
    return None


@receiver(message_sent)
def record_message(sender, channel, recipient, subject, body, context=None, tag="", **kwargs):
    context = context or {}
    Message.objects.create(
        partner_id=context.get("partner_id"),
        user=_recipient_user(context, recipient),
        channel=channel,
        recipient=recipient,
        subject=subject[:300],
        body=body,
        tag=tag,
    )
