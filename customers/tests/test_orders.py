"""Orders and partner payment (issue 12): paying through the outbox exactly once (timeouts, concurrency),
the refusals that change nothing, and the views' standard cases."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse

from billing.models import PartnerAccount
from customers.models import Customer, Order, PartnerPayment
from customers.payments import request_partner_payment
from customers.services import ServiceError
from upstream import outbox
from upstream.client import UpstreamClient
from upstream.models import OutboxCommand
from upstream.sync import run_dataset


@pytest.fixture(autouse=True)
def _english(settings):
    """Messages are matched in English (the site default is Chinese)."""
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def no_broker(monkeypatch):
    monkeypatch.setattr(outbox, "schedule_drain", lambda key=None, *, countdown=None: None)


def sync_all():
    with UpstreamClient.from_settings(rate_limit=0) as client:
        for name in ("indirect_partners", "customers", "partner_balances", "orders"):
            run = run_dataset(name, client=client, mode="full")
            assert run.status == "succeeded", run.errors


def combined_awaiting(partner) -> Order:
    return Order.objects.heads().awaiting_partner_payment().filter(partner=partner, is_combined=True).first()


def upstream_order(order_id, indirect=None):
    with UpstreamClient.from_settings(rate_limit=0) as client:
        [found] = client.list_customer_orders(order_id=order_id, indirect_partner_id=indirect).items
    return found


def upstream_balance(indirect=None) -> Decimal:
    with UpstreamClient.from_settings(rate_limit=0) as client:
        accounts = client.list_partner_balances(indirect_partner_id=indirect).items
    return next(a.amount for a in accounts if a.account_type == 1)


def drain():
    with UpstreamClient.from_settings(rate_limit=0) as client:
        return outbox.drain(client=client)


def refused(action):
    """Run a refused request; prove nothing was written (no payment, no command) and return its message."""
    before = (PartnerPayment.objects.count(), OutboxCommand.objects.count())
    with pytest.raises(ServiceError) as error:
        action()
    assert (PartnerPayment.objects.count(), OutboxCommand.objects.count()) == before
    return error.value.message


@pytest.fixture
def dist_finance(make_staff):
    return make_staff("dist", "finance")


# --- paying -------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_paying_a_combined_order_pays_it_and_every_order_in_it_once(
    private_upstream, partners, dist_finance, no_broker
):
    sync_all()
    head = combined_awaiting(partners["dist"])
    before = upstream_balance()
    payment = request_partner_payment(dist_finance, head, "pay")
    assert (payment.status, payment.amount) == ("pending", head.amount_after_discount)
    report = drain()
    assert (report.sent, report.succeeded) == (1, 1)
    payment.refresh_from_db()
    assert payment.status == "succeeded"
    assert set(Order.objects.filter(pk=head.pk).values_list("status", flat=True)) == {5}
    assert set(head.children.values_list("status", flat=True)) == {5}
    assert upstream_order(head.order_id).status == 5
    assert upstream_balance() == before - head.amount_after_discount
    mirrored = PartnerAccount.objects.get(partner=partners["dist"], account_type=1).amount
    assert mirrored == before - head.amount_after_discount  # the mirror follows before the next sync
    # Paid now: a second request is refused before anything is written.
    head.refresh_from_db()
    message = refused(lambda: request_partner_payment(dist_finance, head, "pay"))
    assert message == "This order is not awaiting the partner's payment."


@pytest.mark.django_db
def test_a_payment_applied_upstream_then_timed_out_is_found_and_not_paid_again(
    private_upstream, partners, dist_finance, no_broker, settings
):
    settings.UPSTREAM_READ_TIMEOUT = 0.5
    settings.OUTBOX_RECONCILE_GRACE_SECONDS = 0
    sync_all()
    head = combined_awaiting(partners["dist"])
    before = upstream_balance()
    payment = request_partner_payment(dist_finance, head, "pay")
    private_upstream.set_faults(
        apply_then_timeout={"operations": ["PayOrders"], "rate": 1.0, "hang_seconds": 1}
    )
    first = drain()
    private_upstream.clear_faults()
    command = OutboxCommand.objects.get(object_id=str(payment.pk))
    assert (first.unknown, command.status) == (1, "unknown")
    assert PartnerPayment.objects.get(pk=payment.pk).status == "pending"
    time.sleep(0.6)
    again = drain()
    assert (again.reconciled_found, again.sent) == (1, 0)
    command.refresh_from_db()
    assert command.status == "succeeded" and command.result["reconciled"] is True
    assert PartnerPayment.objects.get(pk=payment.pk).status == "succeeded"
    assert set(head.children.values_list("status", flat=True)) == {5}
    assert upstream_balance() == before - head.amount_after_discount  # paid exactly once


@pytest.mark.django_db
def test_rejecting_hands_the_order_back_to_the_customer(private_upstream, partners, dist_finance, no_broker):
    sync_all()
    head = combined_awaiting(partners["dist"])
    request_partner_payment(dist_finance, head, "reject", reason="not agreed")
    assert drain().succeeded == 1
    head.refresh_from_db()
    assert (head.status, head.is_agent_pay) == (6, False)
    found = upstream_order(head.order_id)
    assert (found.status, found.is_agent_pay) == (6, False)


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_pays_of_one_order_make_one_payment(private_upstream, partners, make_staff, no_broker):
    sync_all()
    first, second = make_staff("dist", "finance"), make_staff("dist", "admin")
    head = combined_awaiting(partners["dist"])
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def pay(user):
        try:
            barrier.wait()
            request_partner_payment(user, head, "pay")
            outcomes.append("paid")
        except ServiceError as error:
            outcomes.append(error.message)
        finally:
            connection.close()

    threads = [threading.Thread(target=pay, args=(user,)) for user in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["A payment or rejection of this order is already being sent.", "paid"]
    assert PartnerPayment.objects.filter(order=head).count() == 1
    assert OutboxCommand.objects.filter(kind="customers.pay_order").count() == 1


# --- refusals that change nothing ---------------------------------------------------------------------------


@pytest.fixture
def awaiting(partners):
    customer = Customer.objects.create(partner=partners["ra"], customer_id="c-orders", association_type="2")

    def make(order_id, **values):
        defaults = {
            "partner": partners["ra"],
            "customer": customer,
            "customer_upstream_id": customer.customer_id,
            "status": 6,
            "is_agent_pay": True,
            "official_amount": Decimal("120.00"),
            "amount_after_discount": Decimal("100.00"),
        }
        return Order.objects.create(order_id=order_id, **{**defaults, **values})

    PartnerAccount.objects.create(
        partner=partners["ra"], account_id="acc-ra", account_type=1, amount=Decimal("150.00")
    )
    return make


@pytest.mark.django_db
def test_refusals_write_nothing(awaiting, ra_finance, rb_admin):
    head = awaiting("HEAD-1", is_combined=True)
    child = awaiting("CHILD-1", parent=head)
    assert "part of combined order HEAD-1" in refused(
        lambda: request_partner_payment(ra_finance, child, "pay")
    )
    paid = awaiting("PAID-1", status=5)
    assert "not awaiting" in refused(lambda: request_partner_payment(ra_finance, paid, "pay"))
    customer_pays = awaiting("SELF-1", is_agent_pay=False)
    assert "not awaiting" in refused(lambda: request_partner_payment(ra_finance, customer_pays, "pay"))
    assert "not one of your customers" in refused(lambda: request_partner_payment(rb_admin, head, "pay"))
    costly = awaiting("BIG-1", amount_after_discount=Decimal("150.01"))
    message = refused(lambda: request_partner_payment(ra_finance, costly, "pay"))
    assert message.startswith("Not enough balance: this order costs ¥150.01 and Reseller A can pay ¥150.00.")


@pytest.mark.django_db
def test_a_pending_payment_counts_against_the_balance(awaiting, ra_finance, no_broker):
    request_partner_payment(ra_finance, awaiting("A-1"), "pay")  # 100 of 150
    assert "Not enough balance" in refused(
        lambda: request_partner_payment(ra_finance, awaiting("A-2"), "pay")
    )
    # A rejection moves no money: no balance needed.
    request_partner_payment(ra_finance, awaiting("A-3"), "reject")


# --- views --------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_list_shows_a_combination_as_one_row_with_its_orders(awaiting, client_for, ra_viewer):
    head = awaiting("HEAD-1", is_combined=True, service_type_name="组合交易单：弹性云服务器、云硬盘")
    awaiting(
        "CHILD-1", parent=head, service_type_name="弹性云服务器", service_type_code="hws.service.type.ec2"
    )
    awaiting("CHILD-2", parent=head, service_type_name="云硬盘", service_type_code="hws.service.type.ebs")
    awaiting("OTHER-1", status=5, is_agent_pay=False)
    client = client_for(ra_viewer)
    body = client.get(reverse("customers:orders")).content.decode()
    assert body.count('data-order="') == 2 and 'data-child="CHILD-2"' in body
    waiting = client.get(reverse("customers:orders"), {"status": "partner"}).content.decode()
    assert 'data-order="HEAD-1"' in waiting and 'data-order="OTHER-1"' not in waiting
    by_service = client.get(reverse("customers:orders"), {"service": "hws.service.type.ebs"}).content.decode()
    assert 'data-order="HEAD-1"' in by_service and 'data-order="OTHER-1"' not in by_service
    bad = client.get(reverse("customers:orders"), {"created_from": "not-a-day"})
    assert bad.status_code == 200 and "Some filters were not understood" in bad.content.decode()
    partial = client.get(reverse("customers:orders"), headers={"HX-Request": "true"}).content.decode()
    assert partial.strip().startswith('<div id="order-list">')


@pytest.mark.django_db
def test_an_account_manager_sees_only_its_customers_orders(awaiting, client_for, ra_sales, partners):
    mine = Customer.objects.create(
        partner=partners["ra"], customer_id="c-mine", association_type="2", account_manager=ra_sales
    )
    awaiting("MINE-1", customer=mine, customer_upstream_id=mine.customer_id)
    other = awaiting("OTHER-1")
    client = client_for(ra_sales)
    body = client.get(reverse("customers:orders")).content.decode()
    assert 'data-order="MINE-1"' in body and 'data-order="OTHER-1"' not in body
    assert client.get(reverse("customers:order-detail", args=[other.pk])).status_code == 404


@pytest.mark.django_db
def test_the_order_views_standard_cases(
    awaiting, client, client_for, ra_viewer, ra_finance, rb_admin, no_broker
):
    head = awaiting("HEAD-1")
    detail = reverse("customers:order-detail", args=[head.pk])
    pay = reverse("customers:order-pay", args=[head.pk])
    assert client.get(detail)["Location"].startswith("/accounts/login/")
    assert client_for(rb_admin).get(detail).status_code == 404  # another tenant's order
    assert client_for(rb_admin).post(pay, {"action": "pay"}).status_code == 404
    viewer = client_for(ra_viewer)
    page = viewer.get(detail)
    assert page.status_code == 200 and 'data-testid="pay-form"' not in page.content.decode()
    assert viewer.post(pay, {"action": "pay"}).status_code == 403  # wrong role
    finance = client_for(ra_finance)
    assert finance.get(pay).status_code == 405
    assert 'data-testid="pay-form"' in finance.get(detail).content.decode()
    response = finance.post(pay, {"action": "sideways"})
    assert response.status_code == 200 and not PartnerPayment.objects.exists()
    response = finance.post(pay, {"action": "pay"}, headers={"HX-Request": "true"})
    assert response.status_code == 200 and response["HX-Redirect"] == detail
    assert PartnerPayment.objects.get().kind == "pay"
    again = finance.post(pay, {"action": "pay"}, follow=True).content.decode()
    assert "already being sent" in again and PartnerPayment.objects.count() == 1


@pytest.mark.django_db
def test_paying_asks_for_the_code_when_the_partner_wants_one(awaiting, client_for, ra_finance, partners):
    partners["ra"].require_step_up = True
    partners["ra"].save()
    head = awaiting("HEAD-1")
    response = client_for(ra_finance).post(reverse("customers:order-pay", args=[head.pk]), {"action": "pay"})
    body = response.content.decode()
    assert response.status_code == 200 and 'name="code"' in body and "This field is required." in body
    assert not PartnerPayment.objects.exists()


@pytest.mark.django_db
def test_the_csv_export_masks_customer_names(awaiting, client_for, ra_finance, partners):
    customer = Customer.objects.create(
        partner=partners["ra"], customer_id="c-named", name="张三丰", association_type="2"
    )
    awaiting("HEAD-1", customer=customer, customer_upstream_id=customer.customer_id)
    response = client_for(ra_finance).get(reverse("customers:orders-export"))
    body = b"".join(response.streaming_content if response.streaming else [response.content]).decode()
    assert "HEAD-1" in body and "张三丰" not in body and "张" in body


@pytest.mark.django_db
def test_the_customer_panel_lists_its_orders(awaiting, client_for, ra_viewer, rb_admin):
    head = awaiting("HEAD-1")
    url = reverse("customers:customer-orders", args=[head.customer.pk])
    assert 'data-order="HEAD-1"' in client_for(ra_viewer).get(url).content.decode()
    assert client_for(rb_admin).get(url).status_code == 404


@pytest.mark.django_db
def test_the_order_list_query_count_is_constant_in_its_rows(awaiting, client_for, ra_viewer):
    from django.test.utils import CaptureQueriesContext

    client = client_for(ra_viewer)
    url = reverse("customers:orders")

    def add(prefix, n):
        for i in range(n):
            head = awaiting(f"{prefix}-H{i}", is_combined=True)
            awaiting(f"{prefix}-C{i}a", parent=head)
            awaiting(f"{prefix}-C{i}b", parent=head)
            awaiting(f"{prefix}-S{i}", status=5)

    def queries():
        client.get(url)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    add("A", 2)
    few = queries()
    add("B", 6)
    # The user, the count, the page, the page's combinations' orders.
    assert (few, queries()) == (4, 4)


@pytest.mark.django_db
def test_the_dashboard_tile_counts_orders_awaiting_payment_for_those_who_pay(
    awaiting, client_for, ra_finance, ra_sales
):
    awaiting("HEAD-1", amount_after_discount=Decimal("10.00"))
    awaiting("HEAD-2", amount_after_discount=Decimal("5.50"))
    awaiting("SELF-1", is_agent_pay=False)
    page = client_for(ra_finance).get("/").content.decode()
    assert 'data-testid="tile-orders-awaiting"' in page
    assert 'href="/customers/orders/?status=partner" data-testid="orders-awaiting-link">2</a>' in page
    assert "¥15.50" in page
    assert 'data-testid="tile-orders-awaiting"' not in client_for(ra_sales).get("/").content.decode()


@pytest.mark.django_db
def test_the_dry_run_links_its_pending_payment_blocker_to_the_orders(
    client_for, ra_admin, awaiting, monkeypatch
):
    from customers import services

    order = awaiting("HEAD-1")
    blocker = services.Blocker(
        "PENDING_PARTNER_PAY_ORDERS", "Orders awaiting partner payment", "有待伙伴支付的订单", "Pay them"
    )
    monkeypatch.setattr(services, "run_account_check", lambda c, k: services.AccountCheck(False, [blocker]))
    page = client_for(ra_admin).get(f"/customers/{order.customer.pk}/requests/new/").content.decode()
    link = '/customers/orders/?status=partner&amp;customer=c-orders" data-testid="blocker-orders"'
    assert link in page
