"""A page's fragment cached under a key made of everything it shows, so that it is never stale.

Rendering a list's table (its filter form, the rows, the pager) is most of the list's time: Django's template
engine spends ~10 µs a node, and the customer list's table has ~1,500 of them (13 of its 22 ms, measured at
100,000 customers). Yet what a table shows is a function of a few inputs, which the view has in hand before
rendering: the rows of the page (already read), the filters' data, the user and their access, the language and
the time zone. `render_cached` digests all of them into the cache key, so that:

- a fragment is rendered once per distinct content and served from the cache while nothing it shows changes;
- any change to what it shows (a field of any row or of an object joined to it, the count, the filters, the
  user's role, permissions or name, a translation) makes a new key: nothing is ever invalidated, nothing can
  be stale, and entries simply expire after FRAGMENT_CACHE_SECONDS (0 turns the cache off);
- `fingerprint` refuses (TypeError) a context value it does not know how to digest, rather than leaving it out
  of the key: a new kind of value must be taught here, not silently ignored.

What the key covers, besides the context: the template and partial, the language, the time zone, the path and
query, the user (every loaded field, its partner) and the token under which their access was read
(accounts.backends, renewed by any change to roles, groups, permissions or users), and the CSRF secret when
the fragment holds a form (a token rendered for one browser's cookie does not pass with another's; without a
cookie yet the fragment is not kept). A fragment carrying a CSP nonce is never kept (a nonce is per response).

Only masked values are ever rendered in these fragments (docs/privacy.md), so the cache holds no personal data
that the page itself does not show; keys are digests.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import hashlib
import logging
import types
import uuid

from django.conf import settings
from django.core.cache import cache
from django.core.paginator import Page
from django.db.models import Model
from django.forms import BaseForm
from django.http import QueryDict
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.functional import LazyObject, Promise, empty
from django_filters.filterset import BaseFilterSet

logger = logging.getLogger(__name__)

_SCALARS = (
    str,
    int,
    float,
    bool,
    decimal.Decimal,
    datetime.date,  # and datetime.datetime
    datetime.time,
    datetime.timedelta,
    uuid.UUID,
    type(None),
)


class Derived:
    """A value a template reads, computed from `inputs` by `fn` when first read (then kept): in a cached
    fragment's key it stands for its inputs, so a large derived structure (a chart's geometry from twelve
    monthly counts) costs nothing to key and is only built when the fragment is rendered. `fn` must be a
    pure function of `inputs`: its name is in the key, the inputs are fingerprinted."""

    def __init__(self, fn, *inputs):
        self.fn, self.inputs = fn, inputs
        self._value = self._unset = object()

    def __call__(self):  # templates call callables: `{{ chart.width }}` reads fn(*inputs)["width"]
        if self._value is self._unset:
            self._value = self.fn(*self.inputs)
        return self._value


def fingerprint(value):
    """A plain, deterministic structure that changes whenever anything a template could show of it does."""
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, LazyObject):  # request.user: the object it stands for, not the wrapper
        if value._wrapped is empty:
            value._setup()
        return fingerprint(value._wrapped)
    if isinstance(value, Promise):  # a lazy translation, as the active language says it
        return str(value)
    if isinstance(value, Model):
        return _model(value)
    if isinstance(value, Page):
        paginator = value.paginator
        return (
            "page",
            value.number,
            paginator.count,
            paginator.per_page,
            getattr(paginator, "capped", False),
            value.has_next(),
            tuple(fingerprint(row) for row in value.object_list),
        )
    if isinstance(value, QueryDict):
        return ("query", tuple(sorted(value.lists())))
    if isinstance(value, BaseFilterSet):
        # Its form follows from its class, its data and the user (whose staff the choices list; in the key).
        return ("filterset", type(value).__qualname__, fingerprint(value.data))
    if isinstance(value, BaseForm):
        # Its rendering follows from its class, its data and its initial values (choices that come from the
        # database are the staff users, covered by the access token of the key).
        data, initial = fingerprint(value.data), fingerprint(value.initial)
        return ("form", type(value).__qualname__, value.prefix, data, initial)
    if isinstance(value, Derived):
        return ("derived", value.fn.__module__, value.fn.__qualname__, fingerprint(value.inputs))
    if isinstance(value, types.SimpleNamespace):  # a row of values (billing's records page)
        return ("namespace", type(value).__qualname__, fingerprint(vars(value)))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # What a template can show of it is its fields (and properties computed from them).
        return (
            "dataclass",
            type(value).__qualname__,
            tuple((f.name, fingerprint(getattr(value, f.name))) for f in dataclasses.fields(value)),
        )
    if isinstance(value, dict):
        return tuple(sorted((str(key), fingerprint(item)) for key, item in value.items()))
    if isinstance(value, (list, tuple, set, frozenset)):
        items = tuple(fingerprint(item) for item in value)
        return tuple(sorted(items, key=repr)) if isinstance(value, (set, frozenset)) else items
    raise TypeError(
        f"Cannot fingerprint a {type(value).__qualname__} for a cached fragment: teach "
        "portal.lib.fragments.fingerprint what of it a template can show."
    )


_PLAIN = frozenset(_SCALARS)


def _model(obj: Model):
    """Every loaded field and annotation of a row, and of each row joined to it (select_related).

    In the order the query loaded them (the same query loads them in the same order): a different order
    could only make a different key, never a stale entry. Plain values are taken as they are (hot: a list's
    key covers ~1,500 of them).
    """
    fields = tuple(
        (name, value if type(value) in _PLAIN else fingerprint(value))
        for name, value in obj.__dict__.items()
        if name[0] != "_" and not callable(value)  # not data: django_otp's user.is_verified, say
    )
    related = tuple(
        (name, None if rel is None else _model(rel)) for name, rel in obj._state.fields_cache.items()
    )
    return (obj._meta.label_lower, fields, related)


def _key(request, template: str, context: dict) -> str | None:
    user = request.user
    access = getattr(user, "_access_version", None)
    if access is None:  # the access token is unknown (no cache): nothing would vouch for the user's access
        return None
    parts = (
        template,
        translation.get_language(),
        timezone.get_current_timezone_name(),
        request.path,
        fingerprint(request.GET),
        fingerprint(user),
        access,
        request.META.get("CSRF_COOKIE", ""),
        fingerprint(context),
    )
    return "fragment:" + hashlib.sha256(repr(parts).encode()).hexdigest()


def render_cached(request, template: str, context: dict, *, key_context: dict | None = None) -> str:
    """`render_to_string(template, context)`, from the cache when the same content was rendered before.

    `key_context` (default: the context) is what the key digests besides the request's parts listed above:
    a caller passes less only for values that are a function of those parts (the header's navigation).
    A context value fingerprint() does not know is a programming error: it is logged (with the type to teach
    it), and the fragment is rendered without the cache rather than failing the page.
    """
    seconds = settings.FRAGMENT_CACHE_SECONDS
    key = None
    if seconds:
        try:
            key = _key(request, template, context if key_context is None else key_context)
        except TypeError:
            logger.exception("Fragment %s rendered without the cache", template)
    if key is not None:
        html = cache.get(key)
        if html is not None:
            return html
    html = render_to_string(template, context, request=request)
    if key is not None and _cacheable(request, html):
        cache.set(key, html, seconds)
    return html


def _cacheable(request, html: str) -> bool:
    if 'nonce="' in html:  # a CSP nonce is good for one response only
        return False
    # A form's CSRF token is good with the cookie it was made for; without one yet, this response sets it.
    return 'name="csrfmiddlewaretoken"' not in html or bool(request.META.get("CSRF_COOKIE"))
