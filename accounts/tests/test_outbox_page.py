"""The demo outbox shows each user only the messages sent to them: others' codes are never readable."""

from __future__ import annotations

import pytest

from accounts import stepup
from accounts.models import Message

pytestmark = pytest.mark.django_db

OUTBOX = "/dev/outbox/"


@pytest.fixture
def requiring(partners):
    partners["ra"].require_step_up = True
    partners["ra"].save()
    return partners["ra"]


class TestOutbox:
    def test_each_user_sees_only_their_own_messages(self, client_for, ra_admin, ra_finance, requiring):
        stepup.send_code(ra_finance, "email")
        stepup.send_code(ra_admin, "email")
        assert Message.objects.get(recipient=ra_finance.email).user == ra_finance
        page = client_for(ra_admin).get(OUTBOX).content.decode()
        # The partner's admin no longer reads a colleague's verification code.
        assert ra_admin.email in page and ra_finance.email not in page

    def test_any_staff_user_reads_their_own_codes(self, client_for, ra_sales, requiring):
        stepup.send_code(ra_sales, "sms")
        page = client_for(ra_sales).get(OUTBOX)
        assert page.status_code == 200
        code = Message.objects.get(user=ra_sales).body
        assert code in page.content.decode()

    def test_a_superuser_sees_every_message(self, client_for, make_staff, ra_finance, rb_admin, requiring):
        root = make_staff("dist", "admin", username="root", superuser=True)
        stepup.send_code(ra_finance, "email")
        page = client_for(root).get(OUTBOX).content.decode()
        assert ra_finance.email in page

    def test_other_tenants_never_see_them(self, client_for, rb_admin, ra_finance, requiring):
        stepup.send_code(ra_finance, "email")
        assert ra_finance.email not in client_for(rb_admin).get(OUTBOX).content.decode()

    def test_the_outbox_is_closed_outside_demo_mode(self, client_for, ra_admin, settings):
        settings.PORTAL_DEMO = False
        assert client_for(ra_admin).get(OUTBOX).status_code == 404

    def test_a_partner_admin_reads_what_its_customers_were_sent_and_no_one_elses(
        self, client_for, ra_admin, ra_sales, rb_admin, partners
    ):
        from portal.lib.notifications import message_sent

        for partner, text in (
            (partners["ra"], "link-for-ra-customer"),
            (partners["rb"], "link-for-rb-customer"),
        ):
            message_sent.send(
                sender=None,
                channel="email",
                recipient=f"customer@{partner.pk}.example.com",
                subject="confirm",
                body=text,
                context={"partner_id": partner.pk},
                tag="association-request",
            )
        assert "link-for-ra-customer" in client_for(ra_admin).get(OUTBOX).content.decode()
        assert "link-for-rb-customer" not in client_for(ra_admin).get(OUTBOX).content.decode()
        assert "link-for-ra-customer" not in client_for(rb_admin).get(OUTBOX).content.decode()
        # Sales staff read their own messages only.
        assert "link-for-ra-customer" not in client_for(ra_sales).get(OUTBOX).content.decode()
