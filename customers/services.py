"""Operations on customers and warnings: handling, bulk handling, account manager assignment, reveals.

Each function takes and returns model instances, runs in one transaction and locks the rows whose state
races (a warning handled twice at once is handled once).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from redis.exceptions import RedisError

from accounts import audit
from accounts.models import ROLE_ADMIN, ROLE_SALES, User
from customers.models import Customer, CustomerWarning
from portal.lib.masking import mask
from upstream.outbox import enqueue

HANDLE_WARNING = "customers.handle_warning"
REVEALABLE_FIELDS = ("name", "account_name", "phone", "email")


class ServiceError(Exception):
    """A refused operation; the message is for the user."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# --- ownership ----------------------------------------------------------------------------------------------
# The rules live on CustomerWarning and its queryset (owned_by, handleable_by, owners); these ask them.


def pending_count(user: User) -> int:
    """The number of pending warnings the user is to handle: the navigation badge and the "Handle" tab."""
    if not user.has_perm(HANDLE_WARNING):
        return 0
    # From the maintained counters, not a count over the warnings (polled by every open page).
    return CustomerWarning.objects.owned_pending_count(user)


# --- handling -----------------------------------------------------------------------------------------------


def recount_open_warnings(customer_ids) -> None:
    """Keep the customers' open-warning counters exact after their warnings changed state."""
    ids = {pk for pk in customer_ids if pk is not None}
    if ids:
        Customer.objects.filter(pk__in=ids).recount_open_warnings()


def _check_and_handle(user: User, warning: CustomerWarning, result: str, remark: str) -> CustomerWarning:
    if warning.state != CustomerWarning.State.PENDING:
        raise ServiceError(_("This warning is already handled."))
    if not warning.can_be_handled_by(user):
        raise ServiceError(
            _("Only the customer's account manager (or, without one, a partner admin) handles it.")
        )
    if result not in {value for value, _label in warning.results()}:
        raise ServiceError(_("That result does not fit a warning of this category."))
    warning.mark_handled(user, result, remark)
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
        target=warning,
        target_label=warning.masked_title,
        summary=f"{warning.get_category_display()}: {warning.get_handle_result_display()}",
        data={"result": result, "result_label": CustomerWarning.Result(result).label, "remark": remark},
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
        handled = _check_and_handle(user, locked, result, remark.strip())
        recount_open_warnings([handled.customer_id])
        return handled


@dataclass
class BulkOutcome:
    handled: list[CustomerWarning] = field(default_factory=list)
    refused: list[tuple[CustomerWarning, str]] = field(default_factory=list)


# One bulk handling writes an outbox command and an audit event per warning: keep a request's work bounded.
BULK_HANDLE_MAX = 500


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
        # Once for all, after the warnings: the customers are locked in one go, in primary-key order.
        recount_open_warnings(w.customer_id for w in outcome.handled)
    return outcome


def _locked_warning(warning_pk: int) -> CustomerWarning | None:
    return CustomerWarning.objects.select_for_update().select_related("partner").filter(pk=warning_pk).first()


def apply_push_success(warning_pk: int) -> None:
    """The upstream took the result: the sync may now mirror the warning again.

    A warning no longer sending (an answer delivered twice) is left as it is.
    """
    with transaction.atomic():
        warning = _locked_warning(warning_pk)
        if warning is None or warning.state != CustomerWarning.State.SENDING:
            return
        warning.mark_push_succeeded()


def apply_push_failure(warning_pk: int, error: str) -> None:
    """The upstream refused the result: the warning is pending again, with the reason shown."""
    with transaction.atomic():
        warning = _locked_warning(warning_pk)
        if warning is None or warning.state != CustomerWarning.State.SENDING:
            return
        warning.mark_push_failed(error)
        recount_open_warnings([warning.customer_id])
        audit.record(
            "warning_push_failed",
            partner=warning.partner,
            target=warning,
            target_label=warning.masked_title,
            summary=error[:300],
            data={"error": error[:2000]},
        )


# --- account managers ---------------------------------------------------------------------------------------


def eligible_account_managers(partner_ids):
    """Active staff of these partners who may manage customers (sales and admins)."""
    return (
        User.objects.filter(
            partner_id__in=partner_ids, is_active=True, groups__name__in=[ROLE_SALES, ROLE_ADMIN]
        )
        .distinct()
        .order_by("username")
    )


def account_manager_choices(customer: Customer):
    """Who may become the customer's account manager: sales and admins of the customer's partner."""
    return eligible_account_managers([customer.partner_id])


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
            target_label=mask("name", locked.name),
            summary=f"{locked.customer_id}: {manager.username if manager else '-'}",
            data={
                "previous": previous,
                "account_manager": manager.pk if manager else None,
                "manager": manager.username if manager else "",
            },
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


# --- searching by personal data -----------------------------------------------------------------------------
# A search by a personal field tells whether a value is a customer's: it must not tell more than the eye
# button does (docs/privacy.md). So it matches whole values only (no "contains", which spells a masked value
# out one character at a time), needs the reveal permission, is audited, and takes a slot of the same
# per-user reveal limit. The same search repeated within the window (paging, sorting, another filter) is
# the same disclosure and is not counted again.

SEARCH_MIN_LENGTH = 2


def normalize_search(value: str) -> str:
    """How personal search values compare: trimmed, inner whitespace collapsed (case is ignored by iexact)."""
    return " ".join((value or "").split())


def allow_personal_search(user: User, fields: tuple[str, ...], value: str, *, request=None) -> None:
    """Let `user` search `fields` for the whole value `value`, or raise ServiceError saying why not.

    The caller matches whole values only. Audited as `customer_search` (allowed) or `customer_search_refused`.
    """
    value = normalize_search(value)
    shown = mask(fields[0], value)
    if not user.has_perm("customers.reveal_customer"):
        raise ServiceError(_("Searching by personal data needs the permission to reveal it."))
    if len(value) < SEARCH_MIN_LENGTH:
        raise ServiceError(
            _("Type the whole value (at least %(count)d characters) to search by personal data.")
            % {"count": SEARCH_MIN_LENGTH}
        )
    digest = hashlib.sha256(f"{','.join(fields)}\x00{value.casefold()}".encode()).hexdigest()
    seen_key = cache.make_key(f"customers:search:{user.pk}:{digest}")
    try:
        client = cache._cache.get_client(seen_key, write=True)
        fresh = client.set(seen_key, 1, nx=True, ex=settings.REVEAL_WINDOW_SECONDS)
        allowed = _take_reveal_slot(user) if fresh else True
        if not allowed:
            client.delete(seen_key)
    except RedisError:
        # Without the counter the limit cannot hold: refuse rather than search unmetered.
        raise ServiceError(
            _("Searching by personal data is not available right now. Try again in a moment.")
        ) from None
    if not fresh:
        return
    data = {"fields": list(fields), "query": shown, "length": len(value)}
    if not allowed:
        audit.record(
            "customer_search_refused",
            actor=user,
            request=request,
            summary=f"{', '.join(fields)}: {shown} (limit)",
            data={
                **data,
                "reason": "limit",
                "field_labels": [Customer._meta.get_field(f).verbose_name for f in fields],
            },
        )
        raise ServiceError(
            _(
                "You revealed or searched personal data too often in the last %(minutes)d minutes. "
                "Try again later."
            )
            % {"minutes": max(1, settings.REVEAL_WINDOW_SECONDS // 60)}
        )
    audit.record(
        "customer_search",
        actor=user,
        request=request,
        summary=f"{', '.join(fields)}: {shown}",
        data={**data, "field_labels": [Customer._meta.get_field(f).verbose_name for f in fields]},
    )
