import pytest
from django.urls import reverse

from accounts.models import AuditEvent

pytestmark = pytest.mark.django_db


def reveal_url(customer, field="name"):
    return reverse("customers:reveal", args=[customer.pk, field])


def test_the_eye_reveals_the_full_value_and_writes_an_audit_event(client_for, ra_sales, make_customer):
    customer = make_customer("ra", name="张伟伟")
    response = client_for(ra_sales).post(reveal_url(customer), headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "张伟伟" in response.content.decode()
    assert reverse("customers:hide", args=[customer.pk, "name"]) in response.content.decode()
    event = AuditEvent.objects.get(action="customer_reveal")
    assert event.actor == ra_sales and event.data["field"] == "name" and event.target_id == str(customer.pk)


def test_hiding_shows_the_mask_again_without_an_audit_event(client_for, ra_sales, make_customer):
    customer = make_customer("ra", phone="13812345678")
    response = client_for(ra_sales).get(reverse("customers:hide", args=[customer.pk, "phone"]))
    assert "138****5678" in response.content.decode() and "13812345678" not in response.content.decode()
    assert not AuditEvent.objects.filter(action="customer_reveal").exists()


def test_reveal_is_post_only(client_for, ra_sales, make_customer):
    assert client_for(ra_sales).get(reveal_url(make_customer("ra"))).status_code == 405


def test_anonymous_reveal_is_sent_to_sign_in(client, make_customer):
    response = client.post(reveal_url(make_customer("ra")))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_an_outsider_cannot_reveal_another_tenants_customer(client_for, rb_admin, make_customer):
    customer = make_customer("ra")
    assert client_for(rb_admin).post(reveal_url(customer)).status_code == 404
    assert not AuditEvent.objects.filter(action="customer_reveal").exists()


def test_a_viewer_may_not_reveal(client_for, ra_viewer, make_customer):
    assert client_for(ra_viewer).post(reveal_url(make_customer("ra"))).status_code == 403


def test_only_personal_fields_can_be_revealed(client_for, ra_sales, make_customer):
    assert client_for(ra_sales).post(reveal_url(make_customer("ra"), "customer_id")).status_code == 404


def test_the_31st_reveal_in_ten_minutes_is_refused(client_for, ra_sales, make_customer, settings):
    customer = make_customer("ra", email="alice@example.com")
    client = client_for(ra_sales)
    for _ in range(settings.REVEAL_LIMIT):
        assert "alice@example.com" in client.post(reveal_url(customer, "email")).content.decode()
    refused = client.post(reveal_url(customer, "email")).content.decode()
    assert "alice@example.com" not in refused
    assert "a***@example.com" in refused and 'role="alert"' in refused
    assert AuditEvent.objects.filter(action="customer_reveal").count() == settings.REVEAL_LIMIT


def test_the_limit_is_per_user(client_for, ra_sales, ra_admin, make_customer, settings):
    settings.REVEAL_LIMIT = 2
    customer = make_customer("ra", name="张伟伟")
    client = client_for(ra_sales)
    for _ in range(2):
        client.post(reveal_url(customer))
    assert "张伟伟" not in client.post(reveal_url(customer)).content.decode()
    assert "张伟伟" in client_for(ra_admin).post(reveal_url(customer)).content.decode()


def test_reveals_older_than_the_window_no_longer_count(client_for, ra_sales, make_customer, settings):
    settings.REVEAL_LIMIT = 1
    settings.REVEAL_WINDOW_SECONDS = 1
    customer = make_customer("ra", name="张伟伟")
    client = client_for(ra_sales)
    assert "张伟伟" in client.post(reveal_url(customer)).content.decode()
    assert "张伟伟" not in client.post(reveal_url(customer)).content.decode()
    import time

    time.sleep(1.1)
    assert "张伟伟" in client.post(reveal_url(customer)).content.decode()


def test_without_redis_reveals_are_refused_not_unmetered(client_for, ra_sales, make_customer, monkeypatch):
    from redis.exceptions import ConnectionError as RedisConnectionError

    from customers import services

    def down(_user):
        raise RedisConnectionError("down")

    monkeypatch.setattr(services, "_take_reveal_slot", down)
    customer = make_customer("ra", name="张伟伟")
    response = client_for(ra_sales).post(reveal_url(customer))
    assert response.status_code == 200 and "张伟伟" not in response.content.decode()
    assert not AuditEvent.objects.filter(action="customer_reveal").exists()
