"""Template filters for the whole portal: money and masked personal data."""

from __future__ import annotations

from django import template

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
