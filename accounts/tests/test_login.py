import pytest
from django.urls import reverse

from accounts.models import AuditEvent
from conftest import PASSWORD

LOGIN = "/accounts/login/"


def _login(client, username, password):
    return client.post(LOGIN, {"username": username, "password": password})


@pytest.mark.django_db
class TestSignIn:
    def test_the_login_page_is_at_the_contract_url(self, client):
        response = client.get(LOGIN)
        assert response.status_code == 200
        assert b'name="username"' in response.content and b'name="password"' in response.content

    def test_signing_in_lands_on_the_dashboard_and_is_audited(self, client, ra_admin):
        response = _login(client, "ra-admin", PASSWORD)
        assert response.status_code == 302 and response["Location"] == reverse("portal:dashboard")
        assert client.get("/").status_code == 200
        assert AuditEvent.objects.filter(action="login", actor=ra_admin).count() == 1

    def test_a_wrong_password_gets_a_generic_message(self, client, ra_admin):
        response = _login(client, "ra-admin", "not-the-password")
        assert response.status_code == 200
        text = response.content.decode()
        assert "username or password is not right" in text or "用户名或密码不正确" in text
        # Same message for a username that does not exist: nothing to probe.
        other = _login(client, "nobody-here", "whatever").content.decode()
        assert ("username or password is not right" in other) or ("用户名或密码不正确" in other)
        assert "_auth_user_id" not in client.session

    def test_the_sixth_failure_locks_the_account_for_fifteen_minutes(self, client, ra_admin):
        for _ in range(5):
            assert _login(client, "ra-admin", "wrong").status_code == 200
        locked = _login(client, "ra-admin", "wrong")
        assert locked.status_code == 429
        # Even the right password is refused while locked.
        again = _login(client, "ra-admin", PASSWORD)
        assert again.status_code == 429
        assert "_auth_user_id" not in client.session
        assert AuditEvent.objects.filter(action="locked_out", actor=ra_admin).exists()
        assert AuditEvent.objects.filter(action="login_failed", actor=ra_admin).count() >= 6

    def test_the_lock_lifts_after_the_cool_off(self, client, ra_admin, settings):
        from datetime import timedelta

        from axes.models import AccessAttempt
        from django.utils import timezone

        for _ in range(6):
            _login(client, "ra-admin", "wrong")
        assert _login(client, "ra-admin", PASSWORD).status_code == 429
        AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
        assert _login(client, "ra-admin", PASSWORD).status_code == 302

    def test_five_failures_do_not_lock(self, client, ra_admin):
        for _ in range(5):
            _login(client, "ra-admin", "wrong")
        assert _login(client, "ra-admin", PASSWORD).status_code == 302

    def test_logout_is_a_post_and_ends_the_session(self, client_for, ra_admin):
        client = client_for(ra_admin)
        assert client.get("/accounts/logout/").status_code == 405
        response = client.post("/accounts/logout/")
        assert response.status_code == 302
        assert client.get("/").status_code == 302

    def test_password_change_needs_the_old_password(self, client_for, ra_admin):
        client = client_for(ra_admin)
        response = client.post(
            "/accounts/password/",
            {
                "old_password": "wrong",
                "new_password1": "a-Much-better-pw-42",
                "new_password2": "a-Much-better-pw-42",
            },
        )
        assert response.status_code == 200
        ra_admin.refresh_from_db()
        assert ra_admin.check_password(PASSWORD)
        response = client.post(
            "/accounts/password/",
            {
                "old_password": PASSWORD,
                "new_password1": "a-Much-better-pw-42",
                "new_password2": "a-Much-better-pw-42",
            },
        )
        assert response.status_code == 302
        ra_admin.refresh_from_db()
        assert ra_admin.check_password("a-Much-better-pw-42")

    def test_session_cookie_is_http_only_and_lax(self, client, ra_admin):
        response = _login(client, "ra-admin", PASSWORD)
        cookie = response.cookies["sessionid"]
        assert cookie["httponly"] and cookie["samesite"] == "Lax"
