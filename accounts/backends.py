"""Who the signed-in user is, at the cost of one query and one cache read per request.

Django's ModelBackend reads the user on every request, then its partner, its groups (the role) and its
permissions (two more queries: its own and its groups'). Those five queries were a third of a small page's
time, and every page and the badge that every open page polls paid them. Here the user is read with its
partner in one query, and its permissions and role come from the cache, where they are kept exact:

- an entry per user (`access:user:<pk>`) holds the permission names and the role, stamped with the token of
  `access:version` it was computed under; a request reads both keys in one round trip, and an entry whose
  stamp is not the current token is recomputed from the database;
- every change that can alter a user's permissions or role (group membership, a user's or a group's
  permissions, a group, permission or user saved or deleted; not a sign-in's last_login) replaces the token,
  at once and again after the transaction commits, so that a request which read the database before the
  commit cannot keep what it read;
- entries also expire after ACCESS_TTL, and without the cache every request reads the database as before.

The token is read before the database, and replaced after the commit: whatever a request computes from
data older than a change is stamped with a token older than the one that change set.
"""

from __future__ import annotations

import logging
import uuid

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

logger = logging.getLogger(__name__)

VERSION_KEY = "access:version"
ACCESS_TTL = 600


def _entry_key(user_pk) -> str:
    return f"access:user:{user_pk}"


def _now_and_on_commit(func) -> None:
    func()
    transaction.on_commit(func)


def _cache_call(func, *args, **kwargs):
    """A cache operation that never fails the request: without the cache the database answers."""
    try:
        return func(*args, **kwargs)
    except Exception:  # Redis down or unreachable: fall back, and say so
        logger.warning("The access cache is unavailable; permissions read from the database.", exc_info=True)
        return None


def _renew_version() -> None:
    _cache_call(cache.set, VERSION_KEY, uuid.uuid4().hex, None)


def _current_version(found: dict) -> str | None:
    version = found.get(VERSION_KEY)
    if version is None:
        _cache_call(cache.add, VERSION_KEY, uuid.uuid4().hex, None)
        version = _cache_call(cache.get, VERSION_KEY)
    return version


class PortalBackend(ModelBackend):
    """ModelBackend with the user read together with its partner and its access from the cache."""

    def get_user(self, user_id):
        model = get_user_model()
        try:
            user = model._default_manager.select_related("partner").get(pk=user_id)
        except model.DoesNotExist:
            return None
        if not self.user_can_authenticate(user):
            return None
        self._load_access(user)  # every page asks (the navigation); the role comes with it
        return user

    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            self._load_access(user_obj)
        return user_obj._perm_cache

    def _load_access(self, user) -> None:
        key = _entry_key(user.pk)
        found = _cache_call(cache.get_many, [VERSION_KEY, key]) or {}
        version = _current_version(found)
        entry = found.get(key)
        # What a cached fragment rendered for this user is keyed on (portal/lib/fragments.py).
        user._access_version = version
        if version is not None and entry is not None and entry.get("version") == version:
            user._perm_cache = set(entry["perms"])
            user._role_cache = entry["role"]
            return
        user._perm_cache = super().get_all_permissions(user)
        if version is not None:
            entry = {"version": version, "perms": sorted(user._perm_cache), "role": user.role}
            _cache_call(cache.set, key, entry, ACCESS_TTL)


# --- invalidation -------------------------------------------------------------------------------------------

_User = get_user_model()


@receiver(m2m_changed, sender=_User.groups.through, dispatch_uid="access.groups")
@receiver(m2m_changed, sender=_User.user_permissions.through, dispatch_uid="access.user_permissions")
@receiver(m2m_changed, sender=Group.permissions.through, dispatch_uid="access.group_permissions")
def _membership_or_permissions_changed(sender, action, **kwargs):
    if action in {"post_add", "post_remove", "post_clear"}:
        _now_and_on_commit(_renew_version)


@receiver(post_save, sender=Group, dispatch_uid="access.group_saved")
@receiver(post_delete, sender=Group, dispatch_uid="access.group_deleted")
@receiver(post_save, sender=Permission, dispatch_uid="access.permission_saved")
@receiver(post_delete, sender=Permission, dispatch_uid="access.permission_deleted")
def _group_or_permission_changed(sender, **kwargs):
    _now_and_on_commit(_renew_version)


@receiver(post_save, sender=_User, dispatch_uid="access.user_saved")
@receiver(post_delete, sender=_User, dispatch_uid="access.user_deleted")
def _user_changed(sender, update_fields=None, **kwargs):
    # A sign-in saves last_login only, which changes no one's access.
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return
    _now_and_on_commit(_renew_version)
