"""The audit log: owners see actions on their objects, events render translated, the filter is safe."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation

from accounts import audit
from accounts.models import AuditEvent
from customers import services
from customers.models import AssociationType, Customer, CustomerWarning

pytestmark = pytest.mark.django_db

AUDIT = reverse("accounts:audit")


def _customer(partner, n: int = 1, **fields) -> Customer:
    values = {
        "partner": partner,
        "customer_id": f"cust-audit-{n:04d}",
        "name": f"张伟明{n}",
        "account_name": f"acct-audit-{n:04d}",
        "phone": f"1391234{n:04d}",
        "email": f"audit{n}@example.com",
        "association_type": AssociationType.RESALE,
        "associated_on": timezone.now() - timedelta(days=1),
    }
    values.update(fields)
    return Customer.objects.create(**values)


def _warning(customer, n: int = 1, **fields) -> CustomerWarning:
    values = {
        "partner": customer.partner,
        "customer": customer,
        "customer_upstream_id": customer.customer_id,
        "warning_id": f"warn-audit-{n:04d}",
        "scene_name": "流失预警",
        "category": CustomerWarning.Category.CHURN,
        "title": f"客户{customer.name}可能流失",
        "content": "",
        "send_time": timezone.now() - timedelta(hours=1),
    }
    values.update(fields)
    return CustomerWarning.objects.create(**values)


def _in(language: str, client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


class TestOwnerPartner:
    def test_the_reseller_sees_what_its_distributor_did_to_its_customers(
        self, client, client_for, dist_admin, ra_admin, ra_sales, rb_admin, partners
    ):
        customer = _customer(partners["ra"])
        dist = client_for(dist_admin)
        assert dist.post(reverse("customers:reveal", args=[customer.pk, "phone"])).status_code == 200
        response = dist.post(
            reverse("customers:assign", args=[customer.pk]), {"account_manager": ra_sales.pk}
        )
        assert response.status_code in (200, 302)
        events = AuditEvent.objects.filter(actor=dist_admin, target_id=str(customer.pk))
        assert {e.action for e in events} == {"customer_reveal", "customer_account_manager_assigned"}
        assert all(e.partner == partners["dist"] and e.owner_partner == partners["ra"] for e in events)

        client.logout()
        page = _in("en", client_for(ra_admin)).get(AUDIT).content.decode()
        assert "revealed the mobile phone of Customer 张*" in page
        assert f"made {ra_sales.username} the account manager of Customer 张*" in page
        assert page.count(dist_admin.username) >= 2
        # Another reseller does not see it.
        client.logout()
        other = _in("en", client_for(rb_admin)).get(AUDIT).content.decode()
        assert "revealed the mobile phone" not in other

    def test_record_takes_the_owner_from_the_target_or_an_argument(self, dist_admin, partners):
        customer = _customer(partners["rb"])
        assert (
            audit.record("customer_reveal", actor=dist_admin, target=customer).owner_partner == partners["rb"]
        )
        explicit = audit.record("login", actor=dist_admin, owner_partner=partners["ra"])
        assert explicit.partner == partners["dist"] and explicit.owner_partner == partners["ra"]
        assert AuditEvent.objects.for_partner(partners["ra"]).filter(pk=explicit.pk).exists()


class TestTranslatedMessages:
    def test_events_render_in_the_readers_language_with_masked_objects(self, client_for, ra_admin, partners):
        customer = _customer(partners["ra"], name="张伟明")
        warning = _warning(customer)
        services.handle_warning(ra_admin, warning, CustomerWarning.Result.LOST)
        event = AuditEvent.objects.get(action="warning_handled")
        with translation.override("en"):
            assert event.message == "handled the warning: Lost"
            assert event.action_label == "Warning handled"
            assert event.object_label.startswith("Customer warning 客户张*")
        with translation.override("zh-hans"):
            assert event.message == "处理了预警：已流失"
            assert event.action_label == "处理预警"
        # Nothing personal is stored in clear.
        assert "张伟明" not in str(event.data) and "张伟明" not in event.summary

        client = client_for(ra_admin)
        zh = _in("zh-hans", client).get(AUDIT).content.decode()
        assert "处理了预警：已流失" in zh and ">warning_handled<" not in zh
        assert "customers.customerwarning" not in zh and "客户预警 客户张*" in zh
        en = _in("en", client).get(AUDIT).content.decode()
        assert "handled the warning: Lost" in en and "Warning handled" in en

    def test_the_warning_history_reads_as_a_sentence(self, client_for, ra_admin, partners):
        customer = _customer(partners["ra"])
        warning = _warning(customer)
        services.handle_warning(ra_admin, warning, CustomerWarning.Result.LOST)
        history = list(audit.history_for(warning))
        assert [e.action for e in history] == ["warning_handled"]
        page = _in("zh-hans", client_for(ra_admin)).get(
            reverse("customers:warning-detail", args=[warning.pk])
        )
        text = page.content.decode()
        assert f"{ra_admin.username} 处理了预警：已流失" in text
        assert "warning_handled" not in text and "Churn: Lost" not in text

    def test_history_for_is_oldest_first_and_only_that_object(self, ra_admin, partners):
        one, two = _customer(partners["ra"], 1), _customer(partners["ra"], 2)
        first = audit.record("customer_reveal", actor=ra_admin, target=one, data={"field_label": "x"})
        audit.record("customer_reveal", actor=ra_admin, target=two)
        second = audit.record("customer_reveal", actor=ra_admin, target=one)
        assert list(audit.history_for(one)) == [first, second]

    def test_an_unknown_action_shows_its_summary(self, ra_admin):
        event = audit.record("something_new", actor=ra_admin, summary="A new thing")
        assert event.message == "A new thing" and event.action_label == "something_new"


class TestAuditFilter:
    def test_the_action_filter_is_a_choice_of_known_actions(self, client_for, ra_admin):
        audit.record("login", actor=ra_admin)
        audit.record("logout", actor=ra_admin)
        client = _in("en", client_for(ra_admin))
        page = client.get(AUDIT).content.decode()
        assert '<select name="action"' in page and ">All</option>" in page and ">Sign-in</option>" in page
        only = client.get(AUDIT, {"action": "login"}).content.decode()
        assert "signed in" in only and "signed out" not in only

    @pytest.mark.parametrize("value", ["\x00", "x" * 10_000, "login' OR 1=1", "١٢٣"])
    def test_a_hostile_action_gets_a_message_not_a_500(self, client_for, ra_admin, value):
        audit.record("login", actor=ra_admin)
        response = client_for(ra_admin).get(AUDIT, {"action": value})
        assert response.status_code == 200
        assert "signed in" in response.content.decode() or "登录了系统" in response.content.decode()
