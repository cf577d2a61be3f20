"""Password changes are audited and wrong current passwords count toward the sign-in lockout; hostile login
input gets the form again, never a 500."""

from __future__ import annotations

import pytest
from django.conf import settings

from accounts.models import AuditEvent
from conftest import PASSWORD

pytestmark = pytest.mark.django_db

CHANGE = "/accounts/password/"
NEW = "a-Much-better-pw-42"


def _change(client, old: str):
    return client.post(CHANGE, {"old_password": old, "new_password1": NEW, "new_password2": NEW})


class TestPasswordChange:
    def test_a_change_is_audited(self, client_for, ra_admin):
        assert _change(client_for(ra_admin), PASSWORD).status_code == 302
        event = AuditEvent.objects.get(action="password_changed")
        assert event.actor == ra_admin and event.partner == ra_admin.partner

    def test_a_wrong_current_password_is_audited(self, client_for, ra_admin):
        assert _change(client_for(ra_admin), "wrong").status_code == 200
        assert AuditEvent.objects.filter(action="password_change_failed", actor=ra_admin).count() == 1

    def test_wrong_current_passwords_count_toward_the_lockout(self, client, client_for, ra_admin):
        session = client_for(ra_admin)
        for _ in range(settings.AXES_FAILURE_LIMIT - 1):
            assert _change(session, "wrong").status_code == 200
        locked = _change(session, "wrong")
        assert locked.status_code in (403, 429)
        assert AuditEvent.objects.filter(action="locked_out", actor=ra_admin).exists()
        # Locked: the right password does not change it either, and signing in is refused.
        assert _change(session, PASSWORD).status_code in (403, 429)
        ra_admin.refresh_from_db()
        assert ra_admin.check_password(PASSWORD)
        session.logout()
        response = client.post("/accounts/login/", {"username": "ra-admin", "password": PASSWORD})
        assert response.status_code != 302

    def test_fewer_failures_do_not_lock(self, client_for, ra_admin):
        session = client_for(ra_admin)
        for _ in range(settings.AXES_FAILURE_LIMIT - 2):
            _change(session, "wrong")
        assert _change(session, PASSWORD).status_code == 302


class TestLoginInput:
    @pytest.mark.parametrize("username", ["a" * 256, "b" * 10_000, "ra-admin" + "x" * 300])
    def test_an_over_long_username_is_a_wrong_login(self, client, ra_admin, username):
        response = client.post("/accounts/login/", {"username": username, "password": "whatever"})
        assert response.status_code == 200
        text = response.content.decode()
        assert "username or password is not right" in text or "用户名或密码不正确" in text


def test_the_lockout_page_states_the_configured_cool_off(client, ra_admin, settings):
    from datetime import timedelta

    settings.AXES_COOLOFF_TIME = timedelta(minutes=30)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = client.post("/accounts/login/", {"username": "ra-admin", "password": "wrong"})
    assert "locked for 30 minutes" in response.content.decode()
