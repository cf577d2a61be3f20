"""Template tags of the billing pages."""

from __future__ import annotations

from django import template

from billing import services

register = template.Library()


@register.simple_tag
def price_effect(rate) -> dict | None:
    """{% price_effect rate as effect %}: the example list price and what it costs at `rate`."""
    if rate is None:
        return None
    return {"list_price": services.EXAMPLE_LIST_PRICE, "price": services.price_after(rate)}
