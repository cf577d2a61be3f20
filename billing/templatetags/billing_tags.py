"""Template tags of the billing pages."""

from __future__ import annotations

from django import template

from billing import quote, services

register = template.Library()


@register.simple_tag
def price_effect(rate) -> dict | None:
    """{% price_effect rate as effect %}: the example list price and what it costs at `rate`."""
    if rate is None:
        return None
    return {"list_price": services.EXAMPLE_LIST_PRICE, "price": services.price_after(rate)}


@register.filter
def price(amount) -> str:
    """{{ amount|price }}: a price inquiry amount with up to 6 places, "¥1,234.5678"."""
    return quote.format_price(amount)


@register.simple_tag
def quote_discount(result) -> str:
    """{% quote_discount quote %}: which discount a customer's quote uses, in words."""
    return quote.discount_label(result)
