"""Warning notifications: a daily digest to each account manager and an immediate email for arrears."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from customers.models import CustomerWarning
from portal.lib.notifications import send_email

log = logging.getLogger(__name__)

# Warnings older than this when first seen are not announced (e.g. the first sync of a new deployment).
ARREARS_NOTICE_MAX_AGE = timedelta(days=1)
DIGEST_MAX_AGE = timedelta(days=3)


def _link(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def _arrears_recipients(warning: CustomerWarning) -> list[User]:
    """The warning's owners (CustomerWarning.owners) who have an email address and want these emails."""
    return [u for u in warning.owners() if u.email and u.notify_arrears]


@shared_task(name="customers.notify_arrears_warnings")
def notify_arrears_warnings() -> int:
    """Email the owner of each newly synced arrears warning once; returns how many warnings were announced."""
    now = timezone.now()
    # Too old to be news: marked without an email.
    CustomerWarning.objects.filter(
        category=CustomerWarning.Category.ARREARS,
        arrears_notified_at__isnull=True,
        send_time__lt=now - ARREARS_NOTICE_MAX_AGE,
    ).update(arrears_notified_at=now)
    announced = 0
    candidates = CustomerWarning.objects.filter(
        category=CustomerWarning.Category.ARREARS,
        arrears_notified_at__isnull=True,
        status=CustomerWarning.Status.PENDING,
    ).select_related("customer", "customer__account_manager", "partner")
    for warning in candidates[:200]:
        # Claim it first (a conditional UPDATE): two workers never announce the same warning.
        if not CustomerWarning.objects.filter(pk=warning.pk, arrears_notified_at__isnull=True).update(
            arrears_notified_at=now
        ):
            continue
        for user in _arrears_recipients(warning):
            send_email(
                user.email,
                "emails/warning_arrears",
                {
                    "user": user,
                    "warning": warning,
                    "customer": warning.customer,
                    "link": _link(reverse("customers:warning-detail", args=[warning.pk])),
                    "partner_id": warning.partner_id,
                },
                tag="warning_arrears",
            )
        announced += 1
    return announced


@shared_task(name="customers.send_warning_digests")
def send_warning_digests() -> int:
    """Email each account manager who wants it a digest of the new warnings of their customers."""
    now = timezone.now()
    sent = 0
    fresh = CustomerWarning.objects.filter(
        digest_sent_at__isnull=True,
        status=CustomerWarning.Status.PENDING,
        created_at__gte=now - DIGEST_MAX_AGE,
    )
    managers = User.objects.filter(
        pk__in=fresh.filter(customer__account_manager__isnull=False).values("customer__account_manager"),
        is_active=True,
        notify_warning_digest=True,
        partner__isnull=False,
    ).exclude(email="")
    for user in managers:
        warnings = list(fresh.filter(customer__account_manager=user).select_related("customer")[:100])
        if not warnings:
            continue
        # Claim them before sending: a retried run does not send the same warnings again.
        claimed = CustomerWarning.objects.filter(
            pk__in=[w.pk for w in warnings], digest_sent_at__isnull=True
        ).update(digest_sent_at=now)
        if not claimed:
            continue
        send_email(
            user.email,
            "emails/warning_digest",
            {
                "user": user,
                "warnings": warnings,
                "count": len(warnings),
                "link": _link(reverse("customers:warnings")),
                "partner_id": user.partner_id,
            },
            tag="warning_digest",
        )
        sent += 1
    log.info("Sent %d warning digests", sent)
    return sent


@shared_task(name="customers.expire_association_requests")
def expire_association_requests() -> int:
    """Expire the association requests nobody decided in time (ASSOCIATION_REQUEST_TTL); both sides told."""
    from customers.services import expire_requests

    expired = expire_requests()
    if expired:
        log.info("Expired %d association requests", expired)
    return expired


@shared_task(name="customers.expire_invitations")
def expire_invitations() -> int:
    """Mark the invitations nobody accepted in time (INVITATION_TTL_DAYS) expired; their links already
    refuse them, and the invitation list then says so without waiting for someone to open one."""
    from customers.invitations import expire_invitations as expire

    expired = expire()
    if expired:
        log.info("Expired %d invitations", expired)
    return expired


@shared_task(name="customers.purge_realname_documents")
def purge_realname_documents() -> int:
    """Delete real-name documents once their retention period after approval has passed, and documents
    uploaded ahead of an application that none took (issue 14)."""
    from customers.realname import purge_expired_documents, purge_expired_uploads

    return purge_expired_documents() + purge_expired_uploads()


@shared_task(name="customers.refresh_realname_reviews")
def refresh_realname_reviews() -> dict:
    """The real-name verifications under review, refreshed from the platform (issue 14): a bounded batch,
    the longest unchecked first; a decision moves the application and the customer's verified status."""
    from customers.realname import refresh_open_reviews

    counts = refresh_open_reviews()
    if counts["checked"]:
        log.info("Real-name reviews refreshed: %s", counts)
    return counts
