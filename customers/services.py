"""Operations on customers and warnings: handling, bulk handling, account manager assignment, reveals.

Each function takes and returns model instances, runs in one transaction and locks the rows whose state
races (a warning handled twice at once is handled once).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from redis.exceptions import RedisError

from accounts import audit
from accounts.models import ROLE_ADMIN, ROLE_SALES, User
from customers.models import Customer, CustomerWarning
from portal.lib.masking import mask
from portal.lib.text import db_text
from upstream.outbox import enqueue

HANDLE_WARNING = "customers.handle_warning"
REVEALABLE_FIELDS = ("name", "account_name", "phone", "email")


class ServiceError(Exception):
    """A refused operation; the message is for the user."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# --- ownership ----------------------------------------------------------------------------------------------


def owned_warnings_q(user: User) -> Q:
    """Warnings of customers the user owns: its account manager, else (no manager) the partner admins."""
    q = Q(customer__account_manager_id=user.pk)
    if user.is_partner_admin:
        q |= Q(customer__account_manager__isnull=True)
    return q


def owns(user: User, warning: CustomerWarning) -> bool:
    """Whether the user owns the warning's customer (the warning is already scoped to the user's partner)."""
    manager_id = warning.customer.account_manager_id if warning.customer_id else None
    if manager_id is not None:
        return manager_id == user.pk
    return user.is_partner_admin


def can_handle(user: User, warning: CustomerWarning) -> bool:
    return warning.is_pending and user.has_perm("customers.handle_warning") and owns(user, warning)


def pending_count(user: User) -> int:
    """The number of pending warnings the user is to handle (the navigation badge)."""
    if not user.has_perm("customers.handle_warning"):
        return 0
    return (
        CustomerWarning.objects.for_user(user)
        .filter(owned_warnings_q(user), status=CustomerWarning.Status.PENDING)
        .count()
    )


# --- handling -----------------------------------------------------------------------------------------------


def _check_and_handle(user: User, warning: CustomerWarning, result: str, remark: str) -> CustomerWarning:
    if not warning.is_pending or warning.push_pending:
        raise ServiceError(_("This warning is already handled."))
    if not owns(user, warning):
        raise ServiceError(
            _("Only the customer's account manager (or, without one, a partner admin) handles it.")
        )
    if result not in {value for value, _label in warning.results()}:
        raise ServiceError(_("That result does not fit a warning of this category."))
    now = timezone.now()
    warning.status = CustomerWarning.Status.HANDLED
    warning.handle_result = result
    warning.handler = user
    warning.handled_at = now
    warning.handled_in_portal_at = now
    warning.remark = remark
    warning.push_pending = True
    warning.push_error = ""
    warning.updated_at = now
    warning.save(
        update_fields=[
            "status",
            "handle_result",
            "handler",
            "handled_at",
            "handled_in_portal_at",
            "remark",
            "push_pending",
            "push_error",
            "updated_at",
        ]
    )
    partner = warning.partner
    enqueue(
        HANDLE_WARNING,
        {
            "warning_id": warning.warning_id,
            "result": result,
            "remark": remark,
            "indirect_partner_id": partner.indirect_partner_id,
        },
        partner_key=partner.upstream_id,
        obj=warning,
    )
    audit.record(
        "warning_handled",
        actor=user,
        partner=partner,
        target=warning,
        summary=f"{warning.get_category_display()}: {warning.get_handle_result_display()}",
        data={"result": result, "remark": remark},
    )
    return warning


def _locked(user: User):
    return (
        CustomerWarning.objects.for_user(user)
        .select_related("customer", "partner")
        .select_for_update(of=("self",))
    )


def handle_warning(user: User, warning: CustomerWarning, result: str, remark: str = "") -> CustomerWarning:
    """Handle one warning: mark it handled here and queue the result for the upstream (one outbox command)."""
    with transaction.atomic():
        try:
            locked = _locked(user).get(pk=warning.pk)
        except CustomerWarning.DoesNotExist:
            raise ServiceError(_("This warning does not exist.")) from None
        return _check_and_handle(user, locked, result, remark.strip())


@dataclass
class BulkOutcome:
    handled: list[CustomerWarning] = field(default_factory=list)
    refused: list[tuple[CustomerWarning, str]] = field(default_factory=list)


def bulk_handle_warnings(user: User, warning_ids, result: str, remark: str = "") -> BulkOutcome:
    """Handle several warnings with one result; warnings that cannot take it are refused, one by one.

    A churn warning takes `result` only when it is lost / not lost; the other categories take "handled".
    """
    outcome = BulkOutcome()
    with transaction.atomic():
        for warning in _locked(user).filter(pk__in=list(warning_ids)).order_by("pk"):
            own_result = (
                result
                if warning.category == CustomerWarning.Category.CHURN
                else CustomerWarning.Result.HANDLED
            )
            try:
                with transaction.atomic():
                    _check_and_handle(user, warning, own_result, remark.strip())
            except ServiceError as error:
                outcome.refused.append((warning, error.message))
            else:
                outcome.handled.append(warning)
    return outcome


def apply_push_success(warning_pk: int) -> None:
    """The upstream took the result: the sync may now mirror the warning again."""
    CustomerWarning.objects.filter(pk=warning_pk).update(
        push_pending=False, push_error="", updated_at=timezone.now()
    )


def apply_push_failure(warning_pk: int, error: str) -> None:
    """The upstream refused the result: the warning is pending again, with the reason shown."""
    with transaction.atomic():
        warning = CustomerWarning.objects.select_for_update().filter(pk=warning_pk, push_pending=True).first()
        if warning is None:
            return
        warning.status = CustomerWarning.Status.PENDING
        warning.handle_result = ""
        warning.handled_at = None
        warning.push_pending = False
        warning.push_error = db_text(error)[:2000]
        warning.updated_at = timezone.now()
        warning.save(
            update_fields=[
                "status",
                "handle_result",
                "handled_at",
                "push_pending",
                "push_error",
                "updated_at",
            ]
        )
        audit.record(
            "warning_push_failed",
            partner=warning.partner,
            target=warning,
            summary=error[:300],
            data={"error": error[:2000]},
        )


# --- account managers ---------------------------------------------------------------------------------------


def account_manager_choices(customer: Customer):
    """Active staff of the customer's partner who may manage customers (sales and admins)."""
    return (
        User.objects.filter(
            partner_id=customer.partner_id, is_active=True, groups__name__in=[ROLE_SALES, ROLE_ADMIN]
        )
        .distinct()
        .order_by("username")
    )


def assign_account_manager(user: User, customer: Customer, manager: User | None) -> Customer:
    """Make `manager` (staff of the customer's partner, sales or admin) the customer's account manager."""
    with transaction.atomic():
        locked = Customer.objects.for_user(user).select_for_update().get(pk=customer.pk)
        if manager is not None and not account_manager_choices(locked).filter(pk=manager.pk).exists():
            raise ServiceError(
                _("The account manager must be a sales or admin user of the customer's partner.")
            )
        previous = locked.account_manager_id
        locked.account_manager = manager
        locked.updated_at = timezone.now()
        locked.save(update_fields=["account_manager", "updated_at"])
        audit.record(
            "customer_account_manager_assigned",
            actor=user,
            partner=user.partner,
            target=locked,
            summary=f"{locked.customer_id}: {manager.username if manager else '-'}",
            data={"previous": previous, "account_manager": manager.pk if manager else None},
        )
    return locked


# --- reveal -------------------------------------------------------------------------------------------------

# Sliding window in a Redis sorted set: drop entries older than the window, refuse at the limit, else add.
_REVEAL_SCRIPT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""


def _take_reveal_slot(user: User) -> bool:
    key = cache.make_key(f"customers:reveal:{user.pk}")
    client = cache._cache.get_client(key, write=True)
    allowed = client.eval(
        _REVEAL_SCRIPT,
        1,
        key,
        f"{time.time():.6f}",
        settings.REVEAL_WINDOW_SECONDS,
        settings.REVEAL_LIMIT,
        uuid.uuid4().hex,
    )
    return bool(allowed)


def reveal(user: User, customer: Customer, field_name: str) -> str:
    """The full value of one personal field, within the user's reveal rate limit (the caller audits it)."""
    if field_name not in REVEALABLE_FIELDS:
        raise ServiceError(_("That field cannot be revealed."))
    try:
        allowed = _take_reveal_slot(user)
    except RedisError:
        # Without the counter the limit cannot hold: refuse rather than reveal unmetered.
        raise ServiceError(_("Revealing is not available right now. Try again in a moment.")) from None
    if not allowed:
        raise ServiceError(
            _("You revealed too many values in the last %(minutes)d minutes. Try again later.")
            % {"minutes": max(1, settings.REVEAL_WINDOW_SECONDS // 60)}
        )
    return getattr(customer, field_name)


def masked_value(customer: Customer, field_name: str) -> str:
    return mask(field_name, getattr(customer, field_name))
