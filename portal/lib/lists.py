"""What every list page shares: page size, pagination, bad-filter handling and the post-success target.

A list view reads:

    filterset = CustomerFilter(request.GET or None, queryset=rows, user=request.user)
    page = lists.paginate(request, lists.filtered(request, filterset))
    context = {"filter": filterset, **lists.page_context(request, page)}
"""

from __future__ import annotations

import copy

import django_filters
from django.contrib import messages
from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.db.models import QuerySet
from django.http import QueryDict
from django.utils.functional import cached_property
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


class FilterSet(django_filters.FilterSet):
    """django-filter's FilterSet, with each request's filters copied shallowly instead of deeply.

    django-filter deep-copies every declared filter for each request (their widgets, lazy labels, choices):
    ~1 ms of a list request's ~10 at 100,000 customers. Here each request still gets its own filter objects,
    so what a request sets on them (`parent`, `model`, a per-user `queryset`, the bound `method`) stays its
    own; they share only
    `extra`'s contents, which no request changes (a filter builds its form field from a copy of `extra`, and
    a form field deep-copies its widget).
    """

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        if queryset is None:
            queryset = self._meta.model._default_manager.all()
        self.is_bound = data is not None
        self.data = data or QueryDict()
        self.queryset = queryset
        self.request = request
        self.form_prefix = prefix
        self.filters = {}
        for name, declared in self.base_filters.items():
            filter_ = copy.copy(declared)
            filter_.extra = dict(declared.extra)
            filter_.__dict__.pop("_field", None)  # built per request from this copy
            filter_.method = declared.method  # a method filter's callable is bound to its own filter
            filter_.model = queryset.model
            filter_.parent = self
            self.filters[name] = filter_


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


# Counting every row of a large list on each request was a good part of its time (issue 13): a list counts
# at most COUNT_CAP rows (a COUNT over a LIMITed subquery) and says "more than 10000" beyond. Every page stays
# reachable: Previous and Next always (a page fetches one row more than it shows to know whether there is a
# next one), and "Last page", which counts exactly only when asked for.
COUNT_CAP = 10_000
LAST = "last"


# Deep in a list, OFFSET walks every earlier row through the page's joins (partner, manager, balance): past
# this offset the page's keys are found first, on the list's own table, and only those rows are joined — in
# the same one query (`pk IN (SELECT pk … LIMIT … OFFSET …)`).
DEFERRED_JOIN_OFFSET = 200


def window(rows, start: int, stop: int, decorate=None) -> list:
    """`rows[start:stop]` as a list, in one query that walks only keys up to a deep offset.

    `decorate(queryset)` adds what only the shown rows need (an annotation over a join): it is applied to the
    rows fetched, never to the key scan, which then reads the list's index alone (an Index Only Scan: a
    join, even one PostgreSQL removes, rules that out; 4.3 -> 1.7 ms for 10,000 of 1M warnings).
    """
    decorate = decorate or (lambda queryset: queryset)
    if (
        start < DEFERRED_JOIN_OFFSET
        or not isinstance(rows, QuerySet)
        or rows.query.distinct
        or rows.query.combinator
    ):
        return list((decorate(rows) if isinstance(rows, QuerySet) else rows)[start:stop])
    return list(decorate(rows).filter(pk__in=rows.values("pk")[start:stop]))


class BoundedPage(Page):
    more = False

    def has_next(self) -> bool:
        return self.more if self.paginator.capped else super().has_next()


class BoundedPaginator(Paginator):
    """A Paginator that counts at most `cap` rows; past the cap, pages are numbered but not totalled."""

    cap = COUNT_CAP
    capped = False
    decorate = None  # see window()

    @cached_property
    def count(self) -> int:
        rows = self.object_list
        if isinstance(rows, QuerySet):
            # Only the keys: the page's joins and computed columns are not needed to count.
            counted = rows.order_by().values("pk")[: self.cap + 1].count()
        else:
            counted = len(rows)
        self.capped = counted > self.cap
        return min(counted, self.cap)

    def validate_number(self, number) -> int:
        if not (self.count and self.capped):
            return super().validate_number(number)
        try:
            number = int(number)
        except (TypeError, ValueError):
            raise PageNotAnInteger(self.error_messages["invalid_page"]) from None
        if number < 1:
            raise EmptyPage(self.error_messages["min_page"])
        return number

    def page(self, number) -> Page:
        number = self.validate_number(number)
        if not self.capped:
            return self._counted_page(number)
        bottom = (number - 1) * self.per_page
        rows = window(self.object_list, bottom, bottom + self.per_page + 1, self.decorate)
        if not rows:
            raise EmptyPage(self.error_messages["no_results"])
        page = self._get_page(rows[: self.per_page], number, self)
        page.more = len(rows) > self.per_page
        return page

    def _counted_page(self, number: int) -> Page:
        """A page of a counted list; one in its back half is read from the end, in the reverse order.

        OFFSET walks every row before the page: the last page of 60,000 rows read 60,000 index entries. Read
        backwards (the same index, scanned the other way) it reads only the rows after it.
        """
        rows = self.object_list
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        if not getattr(rows, "ordered", False) or bottom <= self.count // 2:
            return self._get_page(window(rows, bottom, top, self.decorate), number, self)
        tail = window(rows.reverse(), self.count - top, self.count - bottom, self.decorate)
        tail.reverse()
        return self._get_page(tail, number, self)

    def _get_page(self, *args, **kwargs) -> Page:
        return BoundedPage(*args, **kwargs)


def paginate(
    request,
    rows,
    *,
    size: int | None = None,
    count: int | None = None,
    cap: int | None = None,
    decorate=None,
) -> Page:
    """One page of rows; a page number that is not a number or out of range gives the nearest page.

    The rows are counted up to COUNT_CAP, or `cap` (see BoundedPaginator); `?page=last` counts them exactly
    and gives the last page. `count`, when the caller already knows how many rows there are (a maintained
    counter), spares the paginator its COUNT altogether. `decorate(queryset)`: annotations only the page's
    rows need, left out of the counts and the key scans (see window()).
    """
    paginator = BoundedPaginator(rows, size or per_page(request))
    paginator.decorate = decorate
    if cap is not None:
        paginator.cap = cap
    number = request.GET.get("page")
    if count is not None:
        paginator.count = count  # a cached_property: set, it is not computed
    elif number == LAST:
        if isinstance(rows, QuerySet):
            paginator.count = rows.count()
        else:  # a sequence of rows; one that counts capped (len) can also count exactly
            paginator.count = rows.exact_count() if hasattr(rows, "exact_count") else len(rows)
    if number == LAST:
        number = paginator.num_pages
    return paginator.get_page(number)


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
