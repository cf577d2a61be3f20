"""Rendering helpers for pages whose parts htmx swaps ({% partialdef %} blocks)."""

from __future__ import annotations

from django.shortcuts import render


def render_page(request, template: str, context: dict, *, partial: str | None = None, status: int = 200):
    """The whole page, or only `template#partial` for an htmx request that is not a boosted navigation."""
    htmx = getattr(request, "htmx", None)
    if partial and htmx and not htmx.boosted:
        template = f"{template}#{partial}"
    return render(request, template, context, status=status)
