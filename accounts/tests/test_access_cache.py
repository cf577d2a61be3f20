"""The user's permissions and role come from the cache, and every change to them shows on the next request
(accounts/backends.py): the cache must save queries without ever answering with yesterday's access."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.backends import VERSION_KEY, PortalBackend
from accounts.models import ROLE_ADMIN, ROLE_VIEWER

pytestmark = pytest.mark.django_db

AUDIT = reverse("accounts:audit")
LIST = reverse("customers:list")


def _sql(client, url) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        status = client.get(url).status_code
    return status, [q["sql"] for q in captured]


def test_a_second_request_reads_neither_permissions_nor_groups_nor_the_session(client_for, ra_admin):
    client = client_for(ra_admin)
    client.get(AUDIT)
    status, queries = _sql(client, AUDIT)
    assert status == 200
    assert not [q for q in queries if "auth_permission" in q or "auth_group" in q or "django_session" in q]


def test_leaving_the_admin_group_takes_effect_on_the_next_request(client_for, ra_admin):
    client = client_for(ra_admin)
    assert client.get(AUDIT).status_code == 200
    ra_admin.groups.set([Group.objects.get(name=ROLE_VIEWER)])
    assert client.get(AUDIT).status_code == 403
    ra_admin.groups.set([Group.objects.get(name=ROLE_ADMIN)])
    assert client.get(AUDIT).status_code == 200


def test_a_permission_taken_from_a_role_takes_effect_on_the_next_request(client_for, ra_admin):
    client = client_for(ra_admin)
    assert client.get(AUDIT).status_code == 200
    admin = Group.objects.get(name=ROLE_ADMIN)
    admin.permissions.remove(Permission.objects.get(codename="view_auditevent"))
    assert client.get(AUDIT).status_code == 403


def test_a_deactivated_user_is_signed_out_at_once(client_for, ra_admin):
    client = client_for(ra_admin)
    assert client.get(AUDIT).status_code == 200
    ra_admin.is_active = False
    ra_admin.save()
    assert client.get(AUDIT).status_code == 302  # to the login page


def test_an_entry_read_under_an_older_token_is_recomputed(ra_admin):
    backend = PortalBackend()
    user = backend.get_user(ra_admin.pk)
    assert user.role == ROLE_ADMIN and user.has_perm("accounts.view_auditevent")
    # Someone changed access meanwhile (the token renewed) while the stored entry still says admin.
    cache.set(VERSION_KEY, "a-newer-token", None)
    ra_admin.groups.set([Group.objects.get(name=ROLE_VIEWER)])
    cache.set(VERSION_KEY, "the-newest-token", None)
    again = backend.get_user(ra_admin.pk)
    assert again.role == ROLE_VIEWER and not again.has_perm("accounts.view_auditevent")


def test_without_the_cache_permissions_come_from_the_database(ra_admin, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    user = PortalBackend().get_user(ra_admin.pk)
    assert user.role == ROLE_ADMIN and user.has_perm("customers.assign_account_manager")


def test_the_cached_header_follows_the_role_and_the_page(client_for, ra_admin):
    client = client_for(ra_admin)
    dashboard = reverse("portal:dashboard")
    assert AUDIT in client.get(dashboard).content.decode()  # the user menu offers the audit log
    assert 'aria-current="page"' in client.get(LIST).content.decode()  # the active entry follows the page
    ra_admin.groups.set([Group.objects.get(name=ROLE_VIEWER)])
    page = client.get(dashboard, headers={"Accept-Language": "en"}).content.decode()
    assert AUDIT not in page and '<span class="role badge">Viewer</span>' in page
