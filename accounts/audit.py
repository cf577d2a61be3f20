"""The audit log: one call per sensitive action, rendered in the reader's language.

An event stores an action code and its parameters (`data`); `ACTIONS` below is the one registry of what
each code is called and how its message reads. Messages are rendered when read, so the same event reads
"handled the warning: Lost" in English and "处理了预警：流失" in Chinese. A parameter that is itself
translatable (a lazy text such as a choice label) is stored as its msgid and translated when read.
Objects are stored by type and id plus a label safe to show (a masked name, never a full personal value).

Other apps reach events through functions here (`history_for(obj)`), never by label strings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.apps import apps
from django.db.models import QuerySet
from django.utils import translation
from django.utils.functional import Promise
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import AuditEvent

# The data key listing which parameters are msgids to translate when the event is read.
I18N_KEY = "_i18n"
TARGET_LABEL_KEY = "target_label"


@dataclass(frozen=True)
class Action:
    """What an action code is called, and its message: a template with %(name)s parameters from the
    event's data (plus %(object)s, the object's label), or a function of those parameters."""

    label: Promise
    message: Promise | Callable[[dict], Promise]


def _partner_settings_message(params: dict):
    if params.get("require_step_up"):
        return _("required a verification code for sensitive operations")
    return _("stopped requiring a verification code for sensitive operations")


def _account_manager_message(params: dict):
    if params.get("manager"):
        return _("made %(manager)s the account manager of %(object)s")
    return _("removed the account manager of %(object)s")


ACTIONS: dict[str, Action] = {
    "login": Action(_("Sign-in"), _("signed in")),
    "logout": Action(_("Sign-out"), _("signed out")),
    "login_failed": Action(_("Failed sign-in"), _("failed to sign in as %(username)s")),
    "locked_out": Action(
        _("Account locked"), _("account %(username)s locked after repeated failed attempts")
    ),
    "password_changed": Action(_("Password changed"), _("changed the password")),
    "password_change_failed": Action(
        _("Wrong current password"), _("entered a wrong current password when changing the password")
    ),
    "profile_changed": Action(_("Contact details changed"), _("changed the email or mobile phone")),
    "step_up_failed": Action(_("Wrong verification code"), _("entered a wrong or expired verification code")),
    "totp_added": Action(_("Authenticator app added"), _("added an authenticator app")),
    "totp_removed": Action(_("Authenticator app removed"), _("removed the authenticator app")),
    "partner_settings_changed": Action(_("Partner settings changed"), _partner_settings_message),
    "customer_reveal": Action(_("Personal data revealed"), _("revealed the %(field_label)s of %(object)s")),
    "customer_reveal_refused": Action(
        _("Reveal refused"), _("was refused the %(field_label)s of %(object)s: %(reason)s")
    ),
    "customer_search": Action(
        _("Search by personal data"), _("searched customers by %(field_labels)s for %(query)s")
    ),
    "customer_search_refused": Action(
        _("Search refused"),
        _("was refused a search of customers by %(field_labels)s for %(query)s (too many in a short time)"),
    ),
    "customer_export": Action(_("Customer list exported"), _("exported %(rows)s customers (masked)")),
    "association_export": Action(
        _("Association records exported"), _("exported %(rows)s association records (masked)")
    ),
    "customer_account_manager_assigned": Action(_("Account manager assigned"), _account_manager_message),
    "warning_handled": Action(_("Warning handled"), _("handled the warning: %(result_label)s")),
    "warning_push_failed": Action(_("Handling not accepted"), _("did not accept the handling: %(error)s")),
    "reconciliation_explained": Action(
        _("Reconciliation difference explained"), _("explained the difference of %(trans_id)s: %(note)s")
    ),
    "adjustment_approved": Action(_("Adjustment approved"), _("approved %(object)s (¥%(amount)s)")),
    "adjustment_rejected": Action(
        _("Adjustment rejected"), _("rejected %(object)s (¥%(amount)s): %(reason)s")
    ),
    "approval_threshold_changed": Action(
        _("Approval threshold changed"), _("set the approval threshold of adjustments to %(threshold)s")
    ),
    "adjustment_requested": Action(
        _("Adjustment requested"), _("asked to %(kind_label)s ¥%(amount)s for %(object)s")
    ),
    # partner payment of customers' orders (issue 12)
    "order_payment_requested": Action(
        _("Order payment requested"), _("asked to pay %(object)s (¥%(amount)s)")
    ),
    "order_payment_rejected": Action(
        _("Order payment rejected"), _("declined to pay %(object)s (¥%(amount)s): the customer pays it")
    ),
    "order_export": Action(_("Orders exported"), _("exported %(rows)s orders (masked)")),
    # discounts and dedicated offers (issue 10)
    "partner_discount_set": Action(
        _("Discount set"),
        _("set the discount of %(object)s to %(rate)s (%(effective_time)s to %(expire_time)s)"),
    ),
    "partner_discount_refused": Action(
        _("Discount not accepted"), _("did not accept the discount of %(object)s: %(error)s")
    ),
    "partner_discount_export": Action(
        _("Partner discounts exported"), _("exported %(rows)s partner discounts (masked)")
    ),
    "dedicated_offer_created": Action(
        _("Dedicated offer created"), _("created the dedicated offer %(name)s")
    ),
    "dedicated_offer_invalidated": Action(
        _("Dedicated offer invalidated"),
        _("asked to invalidate the dedicated offer %(object)s: %(reason)s"),
    ),
    "dedicated_offer_push_failed": Action(
        _("Dedicated offer change not accepted"), _("did not accept the change of %(object)s: %(error)s")
    ),
    # customer onboarding (issue 14)
    "customer_application_filed": Action(
        _("Customer creation requested"), _("asked the cloud platform to create the account %(object)s")
    ),
    "customer_application_created": Action(
        _("Customer created"), _("the cloud platform created the account %(object)s")
    ),
    "realname_submitted": Action(_("Verification submitted"), _("submitted %(object)s for real-name review")),
    "realname_documents_viewed": Action(_("Verification viewed"), _("viewed %(object)s and its documents")),
    "realname_document_downloaded": Action(
        _("Verification document downloaded"), _("downloaded the %(document)s of %(object)s")
    ),
    "realname_document_uploaded": Action(
        _("Verification document uploaded"), _("uploaded the %(document)s for %(object)s")
    ),
    "onboarding_contact_code_sent": Action(
        _("Contact code sent"), _("sent a verification code to %(contact)s for a new customer")
    ),
    "customer_application_failed": Action(
        _("Customer not created"), _("the cloud platform did not create %(object)s: %(error)s")
    ),
    # inviting existing customers (issue 14)
    "invitation_sent": Action(_("Customer invited"), _("invited %(object)s to associate")),
    "invitation_revoked": Action(_("Invitation revoked"), _("revoked the invitation %(object)s")),
    "invitation_expired": Action(_("Invitation expired"), _("the invitation %(object)s expired unused")),
    "invitation_accepted": Action(
        _("Invitation accepted"),
        _("the customer accepted the invitation %(object)s with the account %(account)s"),
    ),
    "invitation_associated": Action(
        _("Invited customer associated"), _("the cloud platform associated the account of %(object)s")
    ),
    "invitation_failed": Action(
        _("Invited customer not associated"),
        _("the cloud platform did not associate the account of %(object)s"),
    ),
    # association requests (issue 8)
    "association_request_filed": Action(
        _("Association request filed"), _("asked the customer to confirm: %(kind_label)s (%(object)s)")
    ),
    "association_request_filed_by_customer": Action(
        _("Disassociation requested by the customer"), _("the customer asked to disassociate (%(object)s)")
    ),
    "association_request_agreed": Action(
        _("Customer agreed"), _("the customer agreed: %(kind_label)s (%(object)s)")
    ),
    "association_request_rejected_by_customer": Action(
        _("Customer rejected"), _("the customer rejected: %(kind_label)s (%(object)s)")
    ),
    "association_request_approved": Action(
        _("Disassociation approved"), _("approved the customer's disassociation request (%(object)s)")
    ),
    "association_request_rejected": Action(
        _("Disassociation rejected"), _("rejected the customer's disassociation request (%(object)s)")
    ),
    "association_request_withdrawn": Action(_("Request withdrawn"), _("withdrew %(object)s")),
    "association_request_reminded": Action(_("Reminder sent"), _("reminded the customer of %(object)s")),
    "association_request_expired": Action(_("Request expired"), _("%(object)s expired undecided")),
    "association_request_applied": Action(
        _("Association change applied"), _("the cloud platform applied %(object)s")
    ),
    "association_request_failed": Action(
        _("Association change refused"), _("the cloud platform refused %(object)s: %(error)s")
    ),
}


def msgid(text) -> str:
    """The untranslated source of a lazy text (what gettext looks up later)."""
    with translation.override(None):
        return str(text)


def _stored_data(data: dict | None, target_label: str) -> dict:
    stored, translatable = {}, []
    for key, value in (data or {}).items():
        if isinstance(value, Promise):
            stored[key] = msgid(value)
            translatable.append(key)
        elif isinstance(value, list | tuple) and value and all(isinstance(v, Promise) for v in value):
            stored[key] = [msgid(v) for v in value]
            translatable.append(key)
        else:
            stored[key] = value
    if target_label:
        stored[TARGET_LABEL_KEY] = str(target_label)[:200]
    if translatable:
        stored[I18N_KEY] = translatable
    return stored


def record(
    action: str,
    *,
    actor=None,
    partner=None,
    owner_partner=None,
    target=None,
    target_label: str = "",
    summary: str = "",
    data: dict | None = None,
    request=None,
) -> AuditEvent:
    """Write one immutable audit event.

    actor and partner default to the request's user and its partner; owner_partner (whose object it
    is) defaults to the target's partner, so that a reseller sees what its distributor did to its
    customers. `data` holds the parameters of the action's message (lazy texts are translated when
    read); target_label names the target for people and must be safe to show (masked), defaulting to
    the target's `audit_label`.
    """
    if actor is None and request is not None and getattr(request, "user", None) is not None:
        actor = request.user if request.user.is_authenticated else None
    if partner is None and actor is not None:
        partner = getattr(actor, "partner", None)
    target_type = target_id = ""
    if target is not None:
        target_type = target._meta.label_lower
        target_id = str(target.pk)
        if owner_partner is None:
            owner_partner = _owner_of(target)
        if not target_label:
            target_label = getattr(target, "audit_label", "") or ""
    return AuditEvent.objects.create(
        partner=partner,
        owner_partner=owner_partner,
        actor=actor,
        actor_label=getattr(actor, "username", "") if actor is not None else "",
        action=action,
        target_type=target_type,
        target_id=target_id,
        summary=summary[:300],
        data=_stored_data(data, target_label),
        ip_address=client_ip(request),
    )


def _owner_of(target):
    from accounts.models import Partner

    if isinstance(target, Partner):
        return target
    if any(f.name == "partner" for f in target._meta.concrete_fields):
        return target.partner
    return None


def client_ip(request) -> str | None:
    """The client's address as the web server saw it (REMOTE_ADDR; a proxy must set it correctly)."""
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


# --- reading ------------------------------------------------------------------------------------------------


def action_label(code: str) -> str:
    """The action's name in the active language; an unknown code is shown as it is."""
    action = ACTIONS.get(code)
    return str(action.label) if action else code


def action_choices() -> list[tuple[str, str]]:
    """(code, label) of every known action, sorted by label in the active language (a filter's choices)."""
    return sorted(((code, str(a.label)) for code, a in ACTIONS.items()), key=lambda c: c[1])


def object_label(event: AuditEvent) -> str:
    """The event's object as a person reads it: its kind in the active language and its stored label."""
    if not event.target_type:
        return ""
    try:
        kind = capfirst(apps.get_model(event.target_type)._meta.verbose_name)
    except (LookupError, ValueError):
        kind = event.target_type
    label = (event.data or {}).get(TARGET_LABEL_KEY) or f"#{event.target_id}"
    return f"{kind} {label}"


def _params(event: AuditEvent) -> dict:
    data = event.data if isinstance(event.data, dict) else {}
    params = dict(data)
    for key in data.get(I18N_KEY) or ():
        value = params.get(key)
        if isinstance(value, str):
            params[key] = gettext(value)
        elif isinstance(value, list):
            params[key] = gettext(", ").join(gettext(v) for v in value if isinstance(v, str))
    params["object"] = object_label(event)
    return params


def describe(event: AuditEvent) -> str:
    """The event's message in the active language; events of unknown actions show their summary."""
    action = ACTIONS.get(event.action)
    if action is None:
        return event.summary
    params = _params(event)
    template = action.message(params) if callable(action.message) else action.message
    try:
        return str(template) % params
    except (KeyError, TypeError, ValueError):
        # An event written before its message had these parameters.
        return event.summary or str(action.label)


def history_for(obj) -> QuerySet[AuditEvent]:
    """The events whose target is obj, oldest first (e.g. a warning's handling history)."""
    return AuditEvent.objects.filter(target_type=obj._meta.label_lower, target_id=str(obj.pk)).order_by(
        "created_at", "id"
    )
