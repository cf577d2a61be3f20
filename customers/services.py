"""Operations on customers and warnings: handling, bulk handling, account manager assignment, reveals.

Each function takes and returns model instances, runs in one transaction and locks the rows whose state
races (a warning handled twice at once is handled once).
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from redis.exceptions import RedisError

from accounts import audit
from accounts.models import ROLE_ADMIN, ROLE_SALES, User
from customers.models import (
    AssociationEvent,
    AssociationRequest,
    AssociationType,
    Customer,
    CustomerCode,
    CustomerWarning,
)
from portal.lib import codes
from portal.lib.masking import mask
from portal.lib.notifications import send_email, send_sms
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
    """How search values compare: trimmed, inner whitespace collapsed (case is ignored by iexact), and NUL
    characters (which PostgreSQL refuses in text) dropped."""
    return " ".join((value or "").replace("\x00", "").split())


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


# --- association requests (switch / disassociation) ---------------------------------------------------------
# The state machine is AssociationRequest's (its docstring draws it); these functions are the operations
# around it: the account check and the effects (the dry run), filing, deciding, withdrawing, reminding,
# expiring, and applying the upstream's answer. Each locks the request row, so that two decisions at once
# (a double click on Agree) make one.

APPLY_ASSOCIATION_CHANGE = "customers.apply_association_change"
CONFIRM_SALT = "customers.association-confirm"

# What to do about each blocker of the account check (the platform's rules for switching and disassociating).
BLOCKER_ADVICE = {
    "ARREARS": gettext_lazy("Allocate funds to the customer to write off the arrears, then check again."),
    "UNEXPIRED_RI": gettext_lazy("Ask the customer to unsubscribe its unexpired reserved instances."),
    "PENDING_PARTNER_PAY_ORDERS": gettext_lazy("Pay or cancel the orders awaiting partner payment."),
    "FROZEN": gettext_lazy("Have the customer's account unfrozen first."),
    "SUB_ACCOUNT": gettext_lazy("Unbind the sub-accounts (or the account from its master) first."),
    "SPECIAL_CONTRACT": gettext_lazy("Contact your ecosystem manager about the special contract."),
    "COOLDOWN": gettext_lazy("Wait until the cooldown ends; the customer can still ask to leave."),
}
BLOCKER_LABELS = {
    "ARREARS": gettext_lazy("Arrears"),
    "UNEXPIRED_RI": gettext_lazy("Unexpired reserved instances"),
    "PENDING_PARTNER_PAY_ORDERS": gettext_lazy("Orders awaiting partner payment"),
    "FROZEN": gettext_lazy("Frozen account"),
    "SUB_ACCOUNT": gettext_lazy("Enterprise sub-account"),
    "SPECIAL_CONTRACT": gettext_lazy("Special contract"),
    "COOLDOWN": gettext_lazy("The customer left of its own accord in the last 3 months"),
}


@dataclass
class Blocker:
    code: str
    label: str
    message: str
    advice: str


@dataclass
class AccountCheck:
    """The upstream's account check for one change: passed, or the blockers; `error` when it could not run."""

    passed: bool
    blockers: list[Blocker] = field(default_factory=list)
    error: str = ""


def _blocker_advice(item) -> str:
    if item.code == "COOLDOWN" and item.until is not None:
        day = date_format(timezone.localtime(item.until), "Y-m-d")
        return _("You can file a request from %(date)s.") % {"date": day}
    return str(BLOCKER_ADVICE.get(item.code, ""))


def run_account_check(customer: Customer, kind: str) -> AccountCheck:
    """CheckAssociationChange for this customer and change (a short read the user started)."""
    from upstream.client import RetryPolicy, UpstreamClient
    from upstream.errors import UpstreamError

    try:
        with UpstreamClient.from_settings(retry=RetryPolicy(attempts=2, backoff_initial=0.2)) as client:
            result = client.check_association_change(
                customer.customer_id, kind, indirect_partner_id=customer.partner.indirect_partner_id
            )
    except UpstreamError as error:
        return AccountCheck(passed=False, error=str(error.message))
    blockers = [
        Blocker(
            code=item.code,
            label=str(BLOCKER_LABELS.get(item.code, item.code)),
            message=item.message,
            advice=_blocker_advice(item),
        )
        for item in result.items
    ]
    return AccountCheck(passed=result.passed and not blockers, blockers=blockers)


def request_kinds(customer: Customer) -> list[str]:
    """The changes a customer can be asked for: the other association type, or ending the association."""
    kinds = [
        AssociationRequest.Kind.SWITCH_TO_REFERRAL
        if customer.is_resale
        else AssociationRequest.Kind.SWITCH_TO_RESALE,
        AssociationRequest.Kind.DISASSOCIATE,
    ]
    return [str(k) for k in kinds]


def cooldown_until(customer: Customer):
    """Until when the partner may not file (a customer-initiated disassociation in 3 months), or None.

    Counted from the customer's last disassociation request (not withdrawn) or customer-initiated
    disassociation the platform recorded, whichever is later.
    """
    since = timezone.now() - settings.ASSOCIATION_COOLDOWN
    filed = (
        AssociationRequest.objects.filter(
            customer=customer,
            direction=AssociationRequest.Direction.CUSTOMER,
            kind=AssociationRequest.Kind.DISASSOCIATE,
            created_at__gt=since,
        )
        .exclude(status=AssociationRequest.Status.WITHDRAWN)
        .aggregate(last=Max("created_at"))["last"]
    )
    recorded = AssociationEvent.objects.filter(
        customer=customer,
        operation=AssociationEvent.Operation.DISASSOCIATE,
        initiator=AssociationEvent.Initiator.CUSTOMER,
        occurred_at__gt=since,
    ).aggregate(last=Max("occurred_at"))["last"]
    last = max((t for t in (filed, recorded) if t is not None), default=None)
    return last + settings.ASSOCIATION_COOLDOWN if last else None


@dataclass
class Effects:
    """What a change does to this customer (shown before filing and on the confirmation page)."""

    balance_reclaimed: Decimal | None
    refunds_before: str
    refunds_after: str
    billing_before: str
    billing_after: str


def _refunds(association_type: str | None) -> str:
    # The platform's refund rules: referral customers are refunded to their own account; a resale
    # customer's refunds go to the cash account the partner allocates to (orders the partner paid: back to
    # the partner's account).
    if association_type == AssociationType.RESALE:
        return _(
            "To the customer's account held with the partner (the partner may reclaim it); orders the "
            "partner paid are refunded to the partner's paying account."
        )
    if association_type == AssociationType.REFERRAL:
        return _("To the customer's own account, withdrawable by the customer.")
    return _("To the customer's own account (about one working day after the disassociation).")


def _billing(association_type: str | None) -> str:
    if association_type == AssociationType.RESALE:
        return _("The partner invoices the customer and recharges its account (allocations).")
    if association_type == AssociationType.REFERRAL:
        return _("The customer pays and recharges itself; the cloud platform invoices it.")
    return _("The customer deals with the cloud platform directly; no partner.")


def effects(customer: Customer, kind: str) -> Effects:
    before = customer.association_type
    after = {
        AssociationRequest.Kind.SWITCH_TO_REFERRAL: AssociationType.REFERRAL,
        AssociationRequest.Kind.SWITCH_TO_RESALE: AssociationType.RESALE,
    }.get(kind)
    reclaimed = None
    if kind == AssociationRequest.Kind.DISASSOCIATE and customer.is_resale:
        reclaimed = customer.balance if customer.balance is not None else Decimal("0.00")
    return Effects(
        balance_reclaimed=reclaimed,
        refunds_before=_refunds(before),
        refunds_after=_refunds(after),
        billing_before=_billing(before),
        billing_after=_billing(after),
    )


def clean_reason(reason: str | None) -> str:
    reason = " ".join((reason or "").split())
    if not reason:
        raise ServiceError(_("Give a reason."))
    return reason


def _partner_admins(partner) -> list[User]:
    return list(
        User.objects.filter(partner=partner, groups__name=ROLE_ADMIN, is_active=True)
        .exclude(email="")
        .distinct()
        .order_by("pk")
    )


def confirm_token(request: AssociationRequest) -> str:
    return signing.dumps({"r": request.pk, "n": request.token_nonce}, salt=CONFIRM_SALT, compress=True)


def confirm_link(request: AssociationRequest) -> str:
    return f"{settings.SITE_URL}{reverse('confirm:confirm', args=[confirm_token(request)])}"


class BadToken(Exception):
    """A confirmation token that is tampered with, used, expired or no longer pending (the page says so)."""


def request_for_token(token: str) -> AssociationRequest:
    """The pending request a confirmation link names, or BadToken."""
    try:
        data = signing.loads(
            token, salt=CONFIRM_SALT, max_age=settings.ASSOCIATION_REQUEST_TTL + timedelta(days=1)
        )
        pk, nonce = int(data["r"]), str(data["n"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise BadToken from None
    request = AssociationRequest.objects.select_related("customer", "partner").filter(pk=pk).first()
    if (
        request is None
        or not nonce
        or request.token_nonce != nonce
        or request.status != AssociationRequest.Status.PENDING_CUSTOMER
        or request.is_expired()
    ):
        raise BadToken
    return request


def _customer_context(request: AssociationRequest, **extra) -> dict:
    customer = request.customer
    return {
        "request": request,
        "partner_name": request.partner.name,
        "account": mask("account_name", customer.account_name),
        "partner_id": request.partner_id,
        **extra,
    }


def _notify_customer(request: AssociationRequest, template: str, tag: str, **extra) -> None:
    """Email (and SMS) the customer's registered contact; texts name the account masked."""
    customer = request.customer
    context = _customer_context(request, **extra)
    if customer.email:
        send_email(customer.email, f"emails/{template}", context, tag=tag)
    if customer.phone:
        send_sms(customer.phone, f"emails/{template}_sms", context, tag=tag)


def _notify_partner(request: AssociationRequest, template: str, tag: str) -> None:
    link = f"{settings.SITE_URL}{reverse('customers:request-detail', args=[request.pk])}"
    for admin in _partner_admins(request.partner):
        send_email(
            admin.email,
            f"emails/{template}",
            {**_customer_context(request), "user": admin, "link": link},
            tag=tag,
        )


def _audit(action: str, request: AssociationRequest, *, actor=None, summary: str = "", **data) -> None:
    audit.record(
        action,
        actor=actor,
        partner=getattr(actor, "partner", None) or request.partner,
        target=request,
        target_label=f"{request.get_kind_display()} #{request.pk} {mask('name', request.customer.name)}",
        summary=summary or f"{request.kind} {request.customer.customer_id}",
        data={"kind_label": request.Kind(request.kind).label, **data},
    )


def _lock_customer(customer_pk: int) -> Customer:
    return Customer.objects.select_for_update().select_related("partner").get(pk=customer_pk)


def _new_request(customer: Customer, kind: str, direction: str, reason: str, **fields) -> AssociationRequest:
    if AssociationRequest.objects.filter(customer=customer).open().exists():
        raise ServiceError(_("This customer already has an open request."))
    now = timezone.now()
    try:
        with transaction.atomic():
            return AssociationRequest.objects.create(
                partner=customer.partner,
                customer=customer,
                kind=kind,
                direction=direction,
                from_association_type=customer.association_type,
                reason=reason,
                created_at=now,
                updated_at=now,
                expires_at=now + settings.ASSOCIATION_REQUEST_TTL,
                **{"token_nonce": secrets.token_hex(16), **fields},
            )
    except IntegrityError:  # a concurrent filing got there first (one_open_association_request)
        raise ServiceError(_("This customer already has an open request.")) from None


def file_request(
    user: User, customer: Customer, kind: str, reason: str, *, check: AccountCheck | None = None
) -> AssociationRequest:
    """A partner admin asks the customer for a switch or disassociation: pending_customer, customer notified.

    Refused (nothing written) for a non-admin, a disassociated customer, a change that does not fit, during
    the cooldown, with an open request, a blank reason, or when the account check does not pass.
    """
    reason = clean_reason(reason)
    if not user.is_partner_admin:
        raise ServiceError(_("Only partner administrators may switch or disassociate customers."))
    with transaction.atomic():
        locked = _lock_customer(customer.pk)
        if locked.partner_id not in user.partner.visible_partner_ids():
            raise ServiceError(_("This customer does not exist."))
        if not locked.is_associated:
            raise ServiceError(_("This customer is no longer associated."))
        if kind not in request_kinds(locked):
            raise ServiceError(_("That change does not fit this customer."))
        until = cooldown_until(locked)
        if until is not None:
            raise ServiceError(
                _("The customer asked to disassociate recently: you can file a request from %(date)s.")
                % {"date": date_format(timezone.localtime(until), "Y-m-d")}
            )
        check = check or run_account_check(locked, kind)
        if not check.passed:
            raise ServiceError(_("The account check did not pass; fix the listed items and check again."))
        request = _new_request(
            locked,
            kind,
            AssociationRequest.Direction.PARTNER,
            reason,
            status=AssociationRequest.Status.PENDING_CUSTOMER,
            requested_by=user,
            balance_at_filing=effects(locked, kind).balance_reclaimed,
        )
        _audit("association_request_filed", request, actor=user, reason=reason)
        transaction.on_commit(
            partial(_notify_customer_now, request.pk, "association_request", "association-request")
        )
    return request


def _notify_customer_now(request_pk: int, template: str, tag: str) -> None:
    request = AssociationRequest.objects.select_related("customer", "partner").get(pk=request_pk)
    _notify_customer(request, template, tag, link=confirm_link(request))


def customer_file_unbind(customer: Customer, reason: str) -> AssociationRequest:
    """The customer asks to end the association (from /my/): pending_partner, the partner admins notified."""
    reason = clean_reason(reason)
    with transaction.atomic():
        locked = _lock_customer(customer.pk)
        if not locked.is_associated:
            raise ServiceError(_("You are no longer associated with this partner."))
        until = cooldown_until(locked)
        if until is not None:
            raise ServiceError(
                _("You asked to disassociate recently: you can ask again from %(date)s.")
                % {"date": date_format(timezone.localtime(until), "Y-m-d")}
            )
        request = _new_request(
            locked,
            AssociationRequest.Kind.DISASSOCIATE,
            AssociationRequest.Direction.CUSTOMER,
            reason,
            status=AssociationRequest.Status.PENDING_PARTNER,
            balance_at_filing=effects(locked, AssociationRequest.Kind.DISASSOCIATE).balance_reclaimed,
            token_nonce="",
        )
        _audit("association_request_filed_by_customer", request, reason=reason)
        transaction.on_commit(
            partial(_notify_partner_now, request.pk, "association_unbind_requested", "association-request")
        )
    return request


def _notify_partner_now(request_pk: int, template: str, tag: str) -> None:
    request = AssociationRequest.objects.select_related("customer", "partner").get(pk=request_pk)
    _notify_partner(request, template, tag)


def _locked_request(request_pk: int) -> AssociationRequest:
    try:
        return (
            AssociationRequest.objects.select_for_update(of=("self",))
            .select_related("customer", "partner")
            .get(pk=request_pk)
        )
    except AssociationRequest.DoesNotExist:
        raise ServiceError(_("This request does not exist.")) from None


def _refuse_unless(request: AssociationRequest, status: str) -> None:
    if request.is_expired():
        raise ServiceError(_("This request has expired."))
    if request.status != status:
        raise ServiceError(
            _("This request is already %(status)s.") % {"status": request.get_status_display()}
        )


def _enqueue_apply(request: AssociationRequest) -> None:
    enqueue(
        APPLY_ASSOCIATION_CHANGE,
        {
            "request_id": request.pk,
            "customer_id": request.customer.customer_id,
            "change": request.kind,
            "reason": request.reason,
            # The contract's UTC form (YYYY-MM-DDTHH:MM:SSZ).
            "customer_confirmed_at": (request.customer_confirmed_at or request.decided_at)
            .astimezone(UTC)
            .strftime("%Y-%m-%dT%H:%M:%SZ"),
            "indirect_partner_id": request.partner.indirect_partner_id,
        },
        partner_key=request.partner.upstream_id,
        obj=request,
    )


def customer_decide(
    request_pk: int, nonce: str, *, agree: bool, code: str, reason: str = "", channel: str = ""
) -> AssociationRequest:
    """The customer agrees (the change goes upstream through the outbox) or rejects, with a code sent to
    its registered contact. Once: a second decision (a double click, a reused link) is refused."""
    customer = Customer.objects.filter(association_requests__pk=request_pk).first()
    # Checked (and its failures counted) in a transaction of its own, before the decision's: a wrong code
    # must count even though the decision is refused. A right code is used up: a second decision with it
    # (a double click) is refused here or, at the latest, by the state check under the row lock below.
    if customer is None or not verify_customer_code(customer, CustomerCode.Purpose.CONFIRM, code):
        raise ServiceError(_("That code is wrong or has expired. Ask for a new one."))
    with transaction.atomic():
        request = _locked_request(request_pk)
        if not nonce or request.token_nonce != nonce:
            raise ServiceError(_("This link is no longer valid."))
        _refuse_unless(request, AssociationRequest.Status.PENDING_CUSTOMER)
        if agree:
            request.start_applying(channel=channel, notices_version=AssociationRequest.NOTICES_VERSION)
            _enqueue_apply(request)
            _audit("association_request_agreed", request, notices_version=request.notices_version)
        else:
            request.reject(reason=" ".join((reason or "").split()))
            _audit("association_request_rejected_by_customer", request, reason=request.decision_reason)
            transaction.on_commit(
                partial(_notify_partner_now, request.pk, "association_request_decided", "association-request")
            )
    return request


def partner_decide(
    user: User, request: AssociationRequest, *, approve: bool, reason: str
) -> AssociationRequest:
    """A partner admin approves (the change goes upstream) or rejects a customer's disassociation request."""
    reason = clean_reason(reason)
    if not user.is_partner_admin:
        raise ServiceError(_("Only partner administrators may decide disassociation requests."))
    with transaction.atomic():
        locked = _locked_request(request.pk)
        if locked.partner_id not in user.partner.visible_partner_ids():
            raise ServiceError(_("This request does not exist."))
        _refuse_unless(locked, AssociationRequest.Status.PENDING_PARTNER)
        if approve:
            locked.start_applying(decided_by=user)
            locked.decision_reason = reason
            locked.save(update_fields=["decision_reason"])
            _enqueue_apply(locked)
            _audit("association_request_approved", locked, actor=user, reason=reason)
        else:
            locked.reject(reason=reason, decided_by=user)
            _audit("association_request_rejected", locked, actor=user, reason=reason)
            transaction.on_commit(
                partial(_notify_customer_now_plain, locked.pk, "association_request_decided")
            )
    return locked


def _notify_customer_now_plain(request_pk: int, template: str) -> None:
    request = AssociationRequest.objects.select_related("customer", "partner").get(pk=request_pk)
    _notify_customer(request, template, "association-request", link=my_link())


def my_link() -> str:
    return f"{settings.SITE_URL}{reverse('confirm:my')}"


def withdraw_request(
    request: AssociationRequest, *, user: User | None = None, customer=None
) -> AssociationRequest:
    """The side that filed takes a waiting request back: a partner admin its own, a customer its own."""
    with transaction.atomic():
        locked = _locked_request(request.pk)
        if user is not None:
            if not user.is_partner_admin or locked.partner_id not in user.partner.visible_partner_ids():
                raise ServiceError(_("Only partner administrators may withdraw requests."))
            status = AssociationRequest.Status.PENDING_CUSTOMER
        else:
            if customer is None or locked.customer_id != customer.pk:
                raise ServiceError(_("This request does not exist."))
            status = AssociationRequest.Status.PENDING_PARTNER
        _refuse_unless(locked, status)
        locked.withdraw()
        _audit("association_request_withdrawn", locked, actor=user)
    return locked


REMINDER_INTERVAL = timedelta(days=1)


def remind_customer(user: User, request: AssociationRequest) -> AssociationRequest:
    """Send the customer its link again: at most once a day (counting the first notification)."""
    with transaction.atomic():
        locked = _locked_request(request.pk)
        if not user.is_partner_admin or locked.partner_id not in user.partner.visible_partner_ids():
            raise ServiceError(_("Only partner administrators may send reminders."))
        _refuse_unless(locked, AssociationRequest.Status.PENDING_CUSTOMER)
        last = locked.reminded_at or locked.created_at
        if timezone.now() - last < REMINDER_INTERVAL:
            raise ServiceError(
                _("The customer was notified less than a day ago; you can remind it from %(time)s.")
                % {"time": date_format(timezone.localtime(last + REMINDER_INTERVAL), "Y-m-d H:i")}
            )
        locked.reminded_at = timezone.now()
        locked.save(update_fields=["reminded_at"])
        _audit("association_request_reminded", locked, actor=user)
        transaction.on_commit(
            partial(_notify_customer_now, locked.pk, "association_request", "association-reminder")
        )
    return locked


def expire_requests(now=None) -> int:
    """Expire every waiting request whose time is up, and tell both sides; returns how many."""
    expired = 0
    for pk in AssociationRequest.objects.due_to_expire(now).values_list("pk", flat=True)[:500]:
        with transaction.atomic():
            request = _locked_request(pk)
            if not request.is_expired(now):
                continue
            request.expire()
            _audit("association_request_expired", request)
            transaction.on_commit(partial(_notify_both, request.pk, "association_request_expired"))
        expired += 1
    return expired


def _notify_both(request_pk: int, template: str) -> None:
    request = AssociationRequest.objects.select_related("customer", "partner").get(pk=request_pk)
    _notify_customer(request, template, "association-request", link=my_link())
    _notify_partner(request, template, "association-request")


def apply_change_succeeded(request_pk: int, record_id: str = "") -> None:
    """The upstream applied the change: the customer's type changes (or the association ends), one
    AssociationEvent (source portal) is written, both sides are told. Delivered twice: applied once."""
    with transaction.atomic():
        request = AssociationRequest.objects.select_for_update().filter(pk=request_pk).first()
        if request is None or request.status != AssociationRequest.Status.APPLYING:
            return
        request.mark_applied(record_id)
        customer = _lock_customer(request.customer_id)
        now = timezone.now()
        if request.is_disassociation:
            customer.disassociated_at = now
            after = customer.association_type
        else:
            customer.association_type = after = request.to_association_type
        customer.updated_at = now
        customer.save(update_fields=["association_type", "disassociated_at", "updated_at"])
        Customer.objects.filter(pk=customer.pk).refresh_balances()
        event_fields = {
            "partner": request.partner,
            "customer": customer,
            "customer_upstream_id": customer.customer_id,
            "operation": AssociationEvent.Operation.DISASSOCIATE
            if request.is_disassociation
            else AssociationEvent.Operation.SWITCH,
            "association_type": after,
            "from_association_type": request.from_association_type,
            "occurred_at": now,
            "source": AssociationEvent.Source.PORTAL,
            "initiator": AssociationEvent.Initiator.PARTNER
            if request.direction == AssociationRequest.Direction.PARTNER
            else AssociationEvent.Initiator.CUSTOMER,
            "initiated_by": request.requested_by,
        }
        if record_id:
            # The sync may have brought the platform's record already: it becomes the portal's event.
            AssociationEvent.objects.update_or_create(record_id=record_id, defaults=event_fields)
        else:
            AssociationEvent.objects.create(**event_fields)
        _audit("association_request_applied", request, record_id=record_id)
        transaction.on_commit(partial(_notify_both, request.pk, "association_request_applied"))


def apply_change_failed(request_pk: int, error: str) -> None:
    """The upstream refused the change (e.g. arrears appeared meanwhile): failed, reason kept, both told."""
    with transaction.atomic():
        request = AssociationRequest.objects.select_for_update().filter(pk=request_pk).first()
        if request is None or request.status != AssociationRequest.Status.APPLYING:
            return
        request.mark_failed(error)
        _audit("association_request_failed", request, error=request.failure_reason[:300])
        transaction.on_commit(partial(_notify_both, request.pk, "association_request_failed"))


# --- customers' one-time codes (confirmation and /my/ sign-in) ----------------------------------------------


def customer_channels(customer: Customer) -> list[str]:
    return [
        channel
        for channel, address in (
            (CustomerCode.Channel.EMAIL, customer.email),
            (CustomerCode.Channel.SMS, customer.phone),
        )
        if address
    ]


def send_customer_code(customer: Customer, purpose: str, channel: str, *, partner_id=None) -> None:
    """A fresh 6-digit code to the customer's registered email or phone; refused within the resend wait."""
    if channel not in customer_channels(customer):
        raise ServiceError(_("There is no registered contact for that channel."))
    with transaction.atomic():
        row, _created = CustomerCode.objects.select_for_update().get_or_create(
            customer=customer, purpose=purpose, defaults={"channel": channel, "sent_at": timezone.now()}
        )
        wait = settings.STEP_UP_RESEND_SECONDS - (timezone.now() - row.sent_at).total_seconds()
        if not _created and row.code_hash and wait > 0:
            raise ServiceError(
                _("A code was sent just now. You can ask again in %(s)d s.") % {"s": int(wait) + 1}
            )
        code = codes.new_code()
        row.channel = channel
        row.code_hash = codes.code_digest("customer-code", row.pk, code)
        row.sent_at = timezone.now()
        row.valid_until = row.sent_at + settings.STEP_UP_CODE_TTL
        row.failed_attempts = 0
        row.save()
    context = {
        "code": code,
        "minutes": max(1, int(settings.STEP_UP_CODE_TTL.total_seconds() // 60)),
        "partner_id": partner_id or customer.partner_id,
    }
    if channel == CustomerCode.Channel.EMAIL:
        send_email(customer.email, "emails/association_code", context, tag="customer-code")
    else:
        send_sms(customer.phone, "emails/association_code_sms", context, tag="customer-code")


def verify_customer_code(customer: Customer, purpose: str, code: str) -> bool:
    """True (and the code is used up) when it matches; STEP_UP_MAX_ATTEMPTS wrong tries invalidate it."""
    code = (code or "").strip()
    with transaction.atomic():
        row = CustomerCode.objects.select_for_update().filter(customer=customer, purpose=purpose).first()
        if row is None or not row.code_hash or row.valid_until is None or row.valid_until <= timezone.now():
            return False
        if codes.code_matches(row.code_hash, "customer-code", row.pk, code):
            row.code_hash = ""
            row.valid_until = None
            row.save(update_fields=["code_hash", "valid_until"])
            return True
        row.failed_attempts += 1
        if row.failed_attempts >= settings.STEP_UP_MAX_ATTEMPTS:
            row.code_hash = ""  # invalidated: a new code must be asked for
            row.valid_until = None
        row.save(update_fields=["failed_attempts", "code_hash", "valid_until"])
    return False


def find_customer_by_contact(contact: str) -> Customer | None:
    """The customer whose registered email or phone is exactly `contact` (for /my/ sign-in): an associated
    one first; a disassociated customer may still sign in to read its past decisions and receipts."""
    contact = (contact or "").strip()
    if len(contact) < 5:
        return None
    field_name = "email__iexact" if "@" in contact else "phone"
    return (
        Customer.objects.filter(**{field_name: contact})
        .select_related("partner")
        .order_by(F("disassociated_at").asc(nulls_first=True), "pk")
        .first()
    )
