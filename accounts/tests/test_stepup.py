import re
from datetime import timedelta

import pytest
from django import forms
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import stepup
from accounts.models import AuditEvent, Message, MessageCodeDevice

pytestmark = pytest.mark.django_db


class SensitiveForm(stepup.StepUpFormMixin, forms.Form):
    amount = forms.DecimalField()


def _last_code(recipient: str) -> str:
    message = Message.objects.filter(recipient=recipient).latest("created_at")
    return re.search(r"\b(\d{6})\b", message.body).group(1)


@pytest.fixture
def requiring(partners):
    partners["ra"].require_step_up = True
    partners["ra"].save()
    return partners["ra"]


class TestStepUp:
    def test_no_code_is_asked_when_the_partner_has_not_switched_it_on(self, ra_finance):
        form = SensitiveForm({"amount": "10"}, user=ra_finance)
        assert "code" not in form.fields and form.is_valid()

    def test_a_code_is_required_when_switched_on(self, ra_finance, requiring):
        form = SensitiveForm({"amount": "10"}, user=ra_finance)
        assert not form.is_valid() and "code" in form.errors

    def test_an_emailed_code_works_once_and_is_stored_hashed(self, ra_finance, requiring):
        device = stepup.send_code(ra_finance, "email")
        code = _last_code(ra_finance.email)
        device.refresh_from_db()
        assert code not in device.code_hash and len(device.code_hash) == 64
        assert SensitiveForm({"amount": "10", "code": code}, user=ra_finance).is_valid()
        # Used once: the same code is refused the second time.
        assert not SensitiveForm({"amount": "10", "code": code}, user=ra_finance).is_valid()

    def test_an_sms_code_goes_to_the_phone(self, ra_finance, requiring):
        stepup.send_code(ra_finance, "sms")
        message = Message.objects.get(recipient=ra_finance.phone)
        assert message.channel == "sms" and message.partner_id == requiring.pk

    def test_a_code_expires_after_five_minutes(self, ra_finance, requiring):
        device = stepup.send_code(ra_finance, "email")
        code = _last_code(ra_finance.email)
        MessageCodeDevice.objects.filter(pk=device.pk).update(
            valid_until=timezone.now() - timedelta(seconds=1)
        )
        assert not stepup.verify(ra_finance, code)

    def test_five_wrong_codes_burn_the_code(self, ra_finance, requiring):
        stepup.send_code(ra_finance, "email")
        code = _last_code(ra_finance.email)
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        for _ in range(5):
            assert not stepup.verify(ra_finance, wrong)
        assert not stepup.verify(ra_finance, code)
        assert AuditEvent.objects.filter(action="step_up_failed", actor=ra_finance).count() == 6

    def test_a_new_code_only_after_sixty_seconds(self, ra_finance, requiring):
        device = stepup.send_code(ra_finance, "email")
        with pytest.raises(stepup.CodeNotSent):
            stepup.send_code(ra_finance, "email")
        MessageCodeDevice.objects.filter(pk=device.pk).update(
            last_generated_timestamp=timezone.now() - timedelta(seconds=61)
        )
        stepup.send_code(ra_finance, "email")
        assert Message.objects.filter(recipient=ra_finance.email).count() == 2

    def test_no_sms_without_a_phone_number(self, make_staff, requiring):
        user = make_staff("ra", "finance", username="no-phone", phone="")
        with pytest.raises(stepup.CodeNotSent):
            stepup.send_code(user, "sms")

    def test_an_authenticator_app_code_works(self, ra_finance, requiring):
        device = TOTPDevice.objects.create(user=ra_finance, name="app", confirmed=True)
        code = f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"
        assert SensitiveForm({"amount": "1", "code": code}, user=ra_finance).is_valid()

    def test_the_send_button_answers_a_status_part(self, client_for, ra_finance, requiring):
        client = client_for(ra_finance)
        response = client.post(
            reverse("accounts:step-up-send"), {"channel": "email"}, headers={"HX-Request": "true"}
        )
        assert response.status_code == 200 and b"step-up-status ok" in response.content
        again = client.post(
            reverse("accounts:step-up-send"), {"channel": "email"}, headers={"HX-Request": "true"}
        )
        assert b"step-up-status error" in again.content
        assert client.get(reverse("accounts:step-up-send")).status_code == 405


class TestProfile:
    def test_staff_set_their_notifications_and_time_zone(self, client_for, ra_sales):
        client = client_for(ra_sales)
        response = client.post(
            reverse("accounts:profile"),
            {"email": "s@example.com", "phone": "13900001111", "time_zone": "Europe/Berlin"},
        )
        assert response.status_code == 302
        ra_sales.refresh_from_db()
        assert ra_sales.time_zone == "Europe/Berlin" and not ra_sales.notify_warning_digest

    def test_a_bad_phone_number_is_refused_and_nothing_changes(self, client_for, ra_sales):
        response = client_for(ra_sales).post(
            reverse("accounts:profile"),
            {"email": "s@example.com", "phone": "call me", "time_zone": "Asia/Shanghai"},
        )
        assert response.status_code == 200 and b"has-error" in response.content
        ra_sales.refresh_from_db()
        assert ra_sales.phone == "13800138000"

    def test_setting_up_an_authenticator_app_needs_a_valid_code(self, client_for, ra_sales):
        client = client_for(ra_sales)
        page = client.get(reverse("accounts:totp-setup"))
        assert page.status_code == 200 and b"<svg" in page.content
        device = TOTPDevice.objects.get(user=ra_sales)
        assert client.post(reverse("accounts:totp-setup"), {"token": "000000"}).status_code == 200
        # A wrong code throttles the device for a moment (django-otp); wait that out.
        TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_timestamp=None)
        code = f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"
        assert client.post(reverse("accounts:totp-setup"), {"token": code}).status_code == 302
        device.refresh_from_db()
        assert device.confirmed
