"""Template filters and tags for the whole portal: money, masked personal data, copyable ids."""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from portal.lib import fragments
from portal.lib.masking import mask
from portal.lib.money import format_money

register = template.Library()


@register.filter
def money(value) -> str:
    """{{ amount|money }} → ¥1,234.56"""
    return format_money(value)


@register.filter
def masked(value, kind: str = "name") -> str:
    """{{ customer.phone|masked:"phone" }} → 138****5678"""
    return mask(kind, value)


# Inline SVG (no icon font or emoji that the system may lack), drawn with the text colour.
COPY_ICON = mark_safe(
    '<svg aria-hidden="true" focusable="false" width="14" height="14" viewBox="0 0 24 24" fill="none" '
    'stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">'
    '<rect x="9" y="9" width="13" height="13" rx="2"/>'
    '<path d="M5 15H4a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2h9a2 2 0 0 1 2 2v1"/></svg>'
)


@register.simple_tag
def copy_id(value, label) -> str:
    """{% copy_id customer.customer_id label %}: a value shown short (its first 8 characters) with a button
    that copies it whole (static/js/portal.js); `label` names what it copies, for screen readers and tooltip.

    A tag rather than an included template: lists show one per row, and an include costs ~30 µs each.
    """
    value = "" if value is None else str(value)
    short = f"{value[:8]}…" if len(value) > 8 else value
    return format_html(
        '<span class="short-id"><code title="{}">{}</code><button type="button" class="icon-button" '
        'data-copy="{}" data-copied="{}" title="{}" aria-label="{}">{}</button></span>',
        value,
        short,
        value,
        _("Copied"),
        label,
        label,
        COPY_ICON,
    )


@register.simple_tag(takes_context=True)
def page_header(context) -> str:
    """{% page_header %}: the signed-in header (includes/header.html) from the fragment cache.

    Every page draws it, and it is the same for a user on a page until their access, name, language or the
    page's URL changes (all in the fragment's key): rendered, it cost every page ~1.5 ms. The navigation is
    a function of exactly those (portal.context_processors.navigation), so the key names the flags beside it
    and the navigation itself is only built when the header is rendered.
    """
    flags = {name: context.get(name) for name in ("show_admin_link", "show_outbox_link")}
    return fragments.render_cached(
        context["request"], "includes/header.html", {**flags, "nav": context.get("nav")}, key_context=flags
    )
