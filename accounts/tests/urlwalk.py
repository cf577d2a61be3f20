"""Every URL pattern of the staff area, with arguments that name another tenant's objects.

Each feature that adds a URL with arguments registers here how to make an object of the *outsider's*
tenant for each argument name; the walk then proves anonymous users are sent to sign in and users of
another tenant get 404 (never 403, never the object).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from django.urls import URLPattern, URLResolver, get_resolver

# URL namespaces that make up the staff area.
STAFF_NAMESPACES = {"portal", "accounts", "customers", "billing", "dev"}
# Pages anyone may open.
PUBLIC_VIEWS = {"accounts:login", "portal:healthz", "accounts:logout"}

# argument name → function(partners) returning a value that belongs to the other tenant (Reseller B).
FOREIGN_ARGUMENTS: dict[str, Callable[[dict], object]] = {}


def register_foreign_argument(name: str):
    def decorator(func):
        FOREIGN_ARGUMENTS[name] = func
        return func

    return decorator


def staff_patterns() -> Iterator[tuple[str, URLPattern]]:
    """(view name, pattern) for every staff-area URL."""

    def walk(resolver: URLResolver, namespace: str | None):
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                yield from walk(entry, entry.namespace or namespace)
            elif namespace in STAFF_NAMESPACES and entry.name:
                yield f"{namespace}:{entry.name}", entry

    yield from walk(get_resolver(), None)
