"""Writing audit events: one call per sensitive action."""

from __future__ import annotations

from accounts.models import AuditEvent


def client_ip(request) -> str | None:
    """The client's address as the web server saw it (REMOTE_ADDR; a proxy must set it correctly)."""
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def record(
    action: str,
    *,
    actor=None,
    partner=None,
    target=None,
    summary: str = "",
    data: dict | None = None,
    request=None,
) -> AuditEvent:
    """Write one immutable audit event; actor and partner default to the request's user and its partner."""
    if actor is None and request is not None and getattr(request, "user", None) is not None:
        actor = request.user if request.user.is_authenticated else None
    if partner is None and actor is not None:
        partner = getattr(actor, "partner", None)
    target_type = target_id = ""
    if target is not None:
        target_type = target._meta.label_lower
        target_id = str(target.pk)
    return AuditEvent.objects.create(
        partner=partner,
        actor=actor,
        actor_label=getattr(actor, "username", "") if actor is not None else "",
        action=action,
        target_type=target_type,
        target_id=target_id,
        summary=summary[:300],
        data=data or {},
        ip_address=client_ip(request),
    )
