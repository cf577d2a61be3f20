"""Access control for staff pages: sign-in, a partner, and optionally a role or a permission."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied


def staff_required(view=None, *, roles: tuple[str, ...] | None = None, perm: str | None = None):
    """Anonymous → login redirect; no partner, wrong role or missing permission → 403.

    Use bare (`@staff_required`) or with `roles=("admin", "finance")` / `perm="app.codename"`.
    """

    def decorator(func):
        @wraps(func)
        def wrapped(request, *args, **kwargs):
            user = request.user
            if user.partner_id is None:
                raise PermissionDenied
            if roles is not None and not user.has_role(*roles):
                raise PermissionDenied
            if perm is not None and not user.has_perm(perm):
                raise PermissionDenied
            return func(request, *args, **kwargs)

        return login_required(wrapped)

    if view is not None:
        return decorator(view)
    return decorator
