"""The one htmx idiom: full page or `template#partial`, `Vary: HX-Request`, messages out of band.

Every view that htmx may call renders through `render_page`, and every successful POST answers with `done`:

- a normal request gets the whole page;
- an htmx request that is not a boosted navigation gets only the `{% partialdef %}` block named by
  `partial`, followed by the `#messages` block marked `hx-swap-oob` so flash messages show without a reload;
- every response varies on `HX-Request`, so a browser's history cache (Back after filtering) never serves a
  fragment as a page, nor a page as a fragment.
"""

from __future__ import annotations

from django.contrib.messages import get_messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.utils.cache import patch_vary_headers
from django_htmx.http import HttpResponseClientRedirect

from portal.lib import fragments


def is_partial(request) -> bool:
    """Whether the request wants a fragment: an htmx request that is not a boosted navigation."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted


def vary_on_htmx(response: HttpResponse) -> HttpResponse:
    patch_vary_headers(response, ("HX-Request",))
    return response


def render_page(
    request,
    template: str,
    context: dict,
    *,
    partial: str | None = None,
    cached: bool = False,
    status: int = 200,
) -> HttpResponse:
    """The whole page, or `template#partial` plus the out-of-band messages for an htmx request.

    `cached`: the partial comes from the fragment cache (portal/lib/fragments.py; never stale) and the page
    template shows it with `{{ <partial>_html }}`, where the partial, not inline, belongs.
    """
    fragment = None
    if partial and cached:
        fragment = fragments.render_cached(request, f"{template}#{partial}", context)
        context = {**context, f"{partial}_html": fragment}
    if partial and is_partial(request):
        body = fragment or render_to_string(f"{template}#{partial}", context, request=request)
        body += render_to_string(
            "includes/messages.html", {"messages": get_messages(request), "oob": True}, request=request
        )
        response = HttpResponse(body, status=status)
    else:
        response = HttpResponse(render_to_string(template, context, request=request), status=status)
    return vary_on_htmx(response)


def done(request, url: str) -> HttpResponse:
    """After a successful POST: a client-side redirect for htmx, an ordinary redirect otherwise."""
    if getattr(request, "htmx", None):
        return HttpResponseClientRedirect(url)
    return redirect(url)
