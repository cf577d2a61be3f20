"""With step-up on, changing where codes go (email, phone, authenticator app) or switching codes off needs a
code; harmless profile changes do not. Texts state the code lifetime from its setting."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import stepup
from accounts.models import AuditEvent, Message

pytestmark = pytest.mark.django_db

PROFILE = reverse("accounts:profile")


@pytest.fixture
def requiring(partners):
    partners["ra"].require_step_up = True
    partners["ra"].save()
    return partners["ra"]


def _code_for(user) -> str:
    stepup.send_code(user, "email")
    body = Message.objects.filter(recipient=user.email).latest("created_at").body
    return re.search(r"\b(\d{6})\b", body).group(1)


def _profile(user, **changes) -> dict:
    values = {
        "email": user.email,
        "phone": user.phone,
        "time_zone": user.time_zone,
        "language": user.language,
    }
    values.update(changes)
    return values


class TestProfile:
    @pytest.mark.parametrize("field,value", [("email", "new@example.com"), ("phone", "13911112222")])
    def test_changing_email_or_phone_needs_a_code(self, client_for, ra_sales, requiring, field, value):
        client = client_for(ra_sales)
        old = getattr(ra_sales, field)
        response = client.post(PROFILE, _profile(ra_sales, **{field: value}))
        assert response.status_code == 200 and 'name="code"' in response.content.decode()
        ra_sales.refresh_from_db()
        assert getattr(ra_sales, field) == old
        # The code goes to the address on file, not to the new one.
        code = _code_for(ra_sales)
        response = client.post(PROFILE, _profile(ra_sales, **{field: value}, code=code))
        assert response.status_code == 302
        ra_sales.refresh_from_db()
        assert getattr(ra_sales, field) == value
        assert AuditEvent.objects.filter(action="profile_changed", actor=ra_sales).exists()

    def test_a_wrong_code_changes_nothing(self, client_for, ra_sales, requiring):
        response = client_for(ra_sales).post(
            PROFILE, _profile(ra_sales, email="x@example.com", code="000000")
        )
        assert response.status_code == 200
        ra_sales.refresh_from_db()
        assert ra_sales.email != "x@example.com"

    def test_other_changes_need_no_code(self, client_for, ra_sales, requiring):
        response = client_for(ra_sales).post(
            PROFILE, _profile(ra_sales, time_zone="Europe/Berlin", language="en")
        )
        assert response.status_code == 302
        ra_sales.refresh_from_db()
        assert ra_sales.time_zone == "Europe/Berlin" and ra_sales.language == "en"

    def test_without_step_up_no_code_is_asked(self, client_for, ra_sales):
        response = client_for(ra_sales).post(PROFILE, _profile(ra_sales, email="new@example.com"))
        assert response.status_code == 302


class TestAuthenticatorApp:
    def _token(self, device) -> str:
        return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"

    def test_adding_an_app_needs_a_code(self, client_for, ra_sales, requiring):
        client = client_for(ra_sales)
        assert 'name="code"' in client.get(reverse("accounts:totp-setup")).content.decode()
        device = TOTPDevice.objects.get(user=ra_sales)
        response = client.post(reverse("accounts:totp-setup"), {"token": self._token(device)})
        assert response.status_code == 200
        device.refresh_from_db()
        assert not device.confirmed
        code = _code_for(ra_sales)
        response = client.post(reverse("accounts:totp-setup"), {"token": self._token(device), "code": code})
        assert response.status_code == 302
        device.refresh_from_db()
        assert device.confirmed

    def test_removing_the_app_needs_a_code(self, client_for, ra_sales, requiring):
        TOTPDevice.objects.create(user=ra_sales, name="phone", confirmed=True)
        client = client_for(ra_sales)
        response = client.post(reverse("accounts:totp-remove"))
        assert response.status_code == 400
        assert TOTPDevice.objects.filter(user=ra_sales).exists()
        response = client.post(reverse("accounts:totp-remove"), {"code": _code_for(ra_sales)})
        assert response.status_code == 302
        assert not TOTPDevice.objects.filter(user=ra_sales).exists()
        assert AuditEvent.objects.filter(action="totp_removed", actor=ra_sales).exists()


class TestPartnerSwitch:
    def test_switching_codes_off_needs_a_code(self, client_for, ra_admin, requiring):
        client = client_for(ra_admin)
        response = client.post(reverse("accounts:partner-settings"), {})
        assert response.status_code == 200
        requiring.refresh_from_db()
        assert requiring.require_step_up
        response = client.post(reverse("accounts:partner-settings"), {"code": _code_for(ra_admin)})
        assert response.status_code == 302
        requiring.refresh_from_db()
        assert not requiring.require_step_up

    def test_switching_codes_on_needs_none(self, client_for, ra_admin, partners):
        response = client_for(ra_admin).post(reverse("accounts:partner-settings"), {"require_step_up": "on"})
        assert response.status_code == 302
        partners["ra"].refresh_from_db()
        assert partners["ra"].require_step_up


class TestCodeLifetime:
    def test_texts_state_the_configured_lifetime(self, client_for, ra_finance, requiring, settings):
        settings.STEP_UP_CODE_TTL = timedelta(minutes=10)
        client = client_for(ra_finance)
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        response = client.post(reverse("accounts:step-up-send"), {"channel": "email"})
        assert "valid for 10 minutes" in response.content.decode()
        body = Message.objects.get(recipient=ra_finance.email).body
        assert "10" in body and "5 分钟" not in body and "5 minutes" not in body

    def test_one_minute_reads_singular(self, ra_finance, requiring, settings):
        settings.STEP_UP_CODE_TTL = timedelta(seconds=60)
        ra_finance.language = "en"
        ra_finance.save()
        stepup.send_code(ra_finance, "email")
        assert "valid for 1 minute." in Message.objects.get(recipient=ra_finance.email).body
