"""What every list page shares: page size, pagination, bad-filter handling and the post-success target.

A list view reads:

    filterset = CustomerFilter(request.GET or None, queryset=rows, user=request.user)
    page = lists.paginate(request, lists.filtered(request, filterset))
    context = {"filter": filterset, **lists.page_context(request, page)}
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Page, Paginator
from django.utils.translation import gettext as _

PER_PAGE_CHOICES = (10, 20, 50, 100)
DEFAULT_PER_PAGE = 20


def per_page(request, default: int = DEFAULT_PER_PAGE) -> int:
    """The page size the user asked for, if it is one of the choices; else the default."""
    try:
        value = int(request.GET.get("per_page", default))
    except (TypeError, ValueError):
        return default
    return value if value in PER_PAGE_CHOICES else default


def filtered(request, filterset):
    """The filtered rows, or all rows with a message when a filter value makes no sense (never a 500)."""
    if filterset.is_bound and not filterset.is_valid():
        fields = filterset.form.fields
        names = ", ".join(str(fields[name].label) for name in filterset.form.errors if name in fields)
        messages.warning(
            request,
            _("Some filters were not understood (%(names)s), so the list is not filtered.")
            % {"names": names},
        )
        return filterset.queryset
    return filterset.qs


def paginate(request, rows, *, size: int | None = None) -> Page:
    """One page of rows; a page number that is not a number or out of range gives the nearest page."""
    return Paginator(rows, size or per_page(request)).get_page(request.GET.get("page"))


def page_context(request, page: Page) -> dict:
    """The context every list template's table and pager read."""
    return {"page": page, "per_page": per_page(request), "per_page_choices": PER_PAGE_CHOICES}


def safe_next(request, default: str) -> str:
    """The POSTed `next` when it is a path on this site ("/…"), else the default.

    Only absolute paths are taken: a bare word such as `abc` would be read by `redirect()` as a URL name.
    """
    target = (request.POST.get("next") or "").strip()
    if (
        target.startswith("/")
        and not target.startswith(("//", "/\\"))
        and "\x00" not in target
        and len(target) <= 2000
    ):
        return target
    return default
