"""Template tags of the customers app (a builtin: no {% load %} needed)."""

from __future__ import annotations

from django import template
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from portal.lib.masking import mask

register = template.Library()

# Inline SVG (no icon font or emoji that the system may lack), drawn with the text colour.
_ICON = (
    '<svg aria-hidden="true" focusable="false" width="16" height="16" viewBox="0 0 24 24" fill="none" '
    'stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">{}</svg>'
)
EYE_ICON = mark_safe(  # noqa: S308  (constants)
    _ICON.format('<path d="M1 12s4-8 11-8 11 8 11 8-4 8-11 8-11-8-11-8z"/><circle cx="12" cy="12" r="3"/>')
)
EYE_OFF_ICON = mark_safe(  # noqa: S308
    _ICON.format(
        '<path d="M17.94 17.94A10.07 10.07 0 0 1 12 20c-7 0-11-8-11-8a18.45 18.45 0 0 1 5.06-5.94"/>'
        '<path d="M9.9 4.24A9.12 9.12 0 0 1 12 4c7 0 11 8 11 8a18.5 18.5 0 0 1-2.16 3.19"/>'
        '<path d="M14.12 14.12a3 3 0 1 1-4.24-4.24"/><path d="M1 1l22 22"/>'
    )
)


_SHARED = "customers.reveal"


@register.simple_tag(takes_context=True)
def reveal(context, customer, field: str, revealed: bool = False, value=None, refusal=None) -> str:
    """{% reveal customer "phone" %}: one personal value of a customer, masked, with an eye button that swaps
    in the full value (customers.views.customer_reveal, audited) for those allowed to; after a reveal
    (`revealed=True value=…`) the value with a button that hides it again; after a refusal, its reason.

    A tag rather than an included template: the lists show two per row (an include costs ~30 µs each).
    """
    if revealed:
        return format_html(
            '<span class="reveal" data-field="{field}">'
            '<span class="revealed-value" data-testid="revealed-{field}">{value}</span> '
            '<button type="button" class="eye" hx-get="{url}" hx-target="closest .reveal" '
            'hx-swap="outerHTML" title="{label}" aria-label="{label}">{icon}</button></span>',
            field=field,
            value=value,
            url=reverse("customers:hide", args=[customer.pk, field]),
            label=_("Hide"),
            icon=EYE_OFF_ICON,
        )
    masked_value = mask(field, getattr(customer, field))
    # Asked once per rendering, not per row: a list shows up to 200 of these.
    shared = context.render_context.get(_SHARED)
    if shared is None:
        shared = context.render_context[_SHARED] = {
            "may_reveal": context["user"].has_perm("customers.reveal_customer"),
            "label": _("Show"),
        }
    button = ""
    if masked_value and shared["may_reveal"]:
        button = format_html(
            ' <button type="button" class="eye" hx-post="{url}" hx-target="closest .reveal" '
            'hx-swap="outerHTML" title="{label}" aria-label="{label}" data-testid="reveal-{field}">'
            "{icon}</button>",
            url=reverse("customers:reveal", args=[customer.pk, field]),
            label=shared["label"],
            field=field,
            icon=EYE_ICON,
        )
    error = format_html(' <span class="error" role="alert">{}</span>', refusal) if refusal else ""
    return format_html(
        '<span class="reveal" data-field="{}"><span class="masked-value">{}</span>{}{}</span>',
        field,
        masked_value or "—",
        button,
        error,
    )
