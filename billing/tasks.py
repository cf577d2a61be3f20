"""Billing tasks: dedicated offers that expire, and the emails to customers about their partner discount."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.db.models import F
from django.utils import timezone

from billing import services
from billing.models import PartnerDiscount

log = logging.getLogger(__name__)

REMINDER_BATCH = 500
# The open differences a reconciliation email lists; the subject counts them all, the page shows them all.
EMAILED_MISMATCHES = 100


def _discount_context(discount: PartnerDiscount) -> dict:
    rate = discount.rate
    return {
        "discount": discount,
        "customer": discount.customer,
        "partner": discount.partner,
        "rate": rate,
        "percent_off": (1 - rate) * 100,
        "list_price": services.EXAMPLE_LIST_PRICE,
        "price": services.price_after(rate),
        "partner_id": discount.partner_id,
    }


@shared_task(name="billing.expire_offers")
def expire_offers() -> int:
    """Scheduled by beat: active dedicated offers past their expiry time become expired."""
    count = services.expire_offers()
    if count:
        log.info("billing: %d dedicated offer(s) expired", count)
    return count


@shared_task(name="billing.notify_discount_set")
def notify_discount_set(discount_pk: int) -> bool:
    """Email the customer that the partner set their discount (once per change, claimed first)."""
    from portal.lib.notifications import send_email

    now = timezone.now()
    claimed = PartnerDiscount.objects.filter(
        pk=discount_pk, push_status=PartnerDiscount.Push.APPLIED, set_notified_at__isnull=True
    ).update(set_notified_at=now)
    if not claimed:
        return False
    discount = PartnerDiscount.objects.select_related("customer", "partner").get(pk=discount_pk)
    if not discount.customer.email:
        return False
    send_email(
        discount.customer.email, "emails/discount_set", _discount_context(discount), tag="discount_set"
    )
    return True


@shared_task(name="billing.remind_expiring_discounts")
def remind_expiring_discounts() -> int:
    """Scheduled by beat: email customers whose discount ends within PARTNER_DISCOUNT_REMINDER_DAYS, once."""
    from portal.lib.notifications import send_email

    now = timezone.now()
    due = (
        PartnerDiscount.objects.expiring_within(settings.PARTNER_DISCOUNT_REMINDER_DAYS, now)
        .filter(push_status=PartnerDiscount.Push.APPLIED, reminder_sent_at__isnull=True)
        .exclude(customer__email="")
        .select_related("customer", "partner")
        .order_by("expire_time", "pk")
    )
    sent = 0
    for discount in due[:REMINDER_BATCH]:
        # Claimed with a conditional update: two workers never remind the same customer twice.
        if not PartnerDiscount.objects.filter(
            pk=discount.pk, reminder_sent_at__isnull=True, expire_time=F("expire_time")
        ).update(reminder_sent_at=now):
            continue
        context = {**_discount_context(discount), "days_left": max(0, (discount.expire_time - now).days)}
        send_email(discount.customer.email, "emails/discount_expiring", context, tag="discount_expiring")
        sent += 1
    return sent


@shared_task(name="billing.create_batch_adjustments")
def create_batch_adjustments(batch_id: int) -> int:
    """Ask for one adjustment per row of a batch (billing.services.create_batch_adjustments_now)."""
    batch = services.create_batch_adjustments_now(batch_id)
    return sum(1 for row in batch.rows if row["adjustment"])


@shared_task(name="billing.reconcile_daily")
def reconcile_daily() -> int:
    """Scheduled by beat each morning: yesterday's reconciliation per partner; its admins are emailed the
    differences nobody has explained. Returns how many emails were sent. Running it twice sends twice,
    harmlessly (the same list)."""
    from datetime import timedelta

    from django.urls import reverse

    from accounts.models import ROLE_ADMIN, Partner, User
    from portal.lib.notifications import send_email

    day = timezone.localdate() - timedelta(days=1)
    sent = 0
    for partner in Partner.objects.all():
        admins = list(
            User.objects.filter(partner=partner, groups__name=ROLE_ADMIN, is_active=True).exclude(email="")
        )
        if not admins:
            continue
        partner_ids = partner.visible_partner_ids()
        (result,) = services.reconcile(partner_ids, day, day)
        open_ = [m for m in result.mismatches if not m.explained]
        if not open_:
            continue
        # The count is in the subject; the page lists them all (a large partner can have thousands a day).
        listed = services.hydrate(partner_ids, open_[:EMAILED_MISMATCHES])
        link = f"{settings.SITE_URL}{reverse('billing:reconciliation')}?start={day}&end={day}"
        for admin in admins:
            context = {"user": admin, "day": day, "mismatches": listed, "count": len(open_), "link": link}
            send_email(admin.email, "emails/reconciliation", context, tag="reconciliation")
            sent += 1
    if sent:
        log.info("billing: %d reconciliation email(s) sent for %s", sent, day)
    return sent
