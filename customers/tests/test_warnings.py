from decimal import Decimal  # noqa: F401

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import AuditEvent
from customers import services
from portal.lib.masking import mask_name
from upstream.models import OutboxCommand

pytestmark = pytest.mark.django_db

INBOX = reverse("customers:warnings")
BULK = reverse("customers:warning-bulk-handle")
COUNT = reverse("customers:warning-count")


def handle_url(warning):
    return reverse("customers:warning-handle", args=[warning.pk])


@pytest.fixture
def sales_customer(make_customer, ra_sales):
    return make_customer("ra", name="张伟伟", account_name="hwc-secret", account_manager=ra_sales)


# --- the inbox ---------------------------------------------------------------------------------------------


def test_sales_see_the_warnings_of_their_own_customers(
    client_for, ra_sales, sales_customer, make_warning, make_customer
):
    mine = make_warning(sales_customer, title="Mine to handle")
    other = make_warning(make_customer("ra"), title="Admins to handle")
    page = client_for(ra_sales).get(INBOX).content.decode()
    assert mine.title in page and other.title not in page
    assert "张**" in page and "张伟伟" not in page and "hwc-secret" not in page
    assert "?tab=all" not in page  # no "All warnings" tab for sales


def test_admins_handle_unowned_customers_and_see_all_warnings(
    client_for, ra_admin, sales_customer, make_warning, make_customer
):
    owned = make_warning(sales_customer, title="Owned by sales")
    unowned = make_warning(make_customer("ra"), title="Nobody manages this")
    client = client_for(ra_admin)
    handle = client.get(INBOX).content.decode()
    assert unowned.title in handle and owned.title not in handle
    everything = client.get(INBOX, {"tab": "all"}).content.decode()
    assert unowned.title in everything and owned.title in everything


def test_a_distributor_admin_sees_its_resellers_warnings(client_for, dist_admin, make_warning, make_customer):
    reseller_warning = make_warning(make_customer("rb"), title="Reseller B churn")
    assert reseller_warning.title in client_for(dist_admin).get(INBOX, {"tab": "all"}).content.decode()


def test_the_inbox_never_shows_another_tenants_warnings(client_for, rb_admin, make_warning, make_customer):
    theirs = make_warning(make_customer("ra"), title="Not for Reseller B")
    client = client_for(rb_admin)
    assert theirs.title not in client.get(INBOX, {"tab": "all"}).content.decode()
    assert client.get(reverse("customers:warning-detail", args=[theirs.pk])).status_code == 404
    assert client.post(handle_url(theirs), {"result": "LOST"}).status_code == 404


def test_anonymous_users_are_sent_to_sign_in(client):
    assert client.get(INBOX)["Location"].startswith("/accounts/login/")


def test_roles_without_warnings_get_403(client_for, ra_finance, ra_viewer):
    assert client_for(ra_finance).get(INBOX).status_code == 403
    assert client_for(ra_viewer).get(INBOX).status_code == 403


def test_htmx_requests_get_only_the_table(client_for, ra_sales, sales_customer, make_warning):
    make_warning(sales_customer)
    response = client_for(ra_sales).get(INBOX, {"category": "CHURN"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert b'id="warning-table"' in response.content and b"<html" not in response.content


@pytest.mark.parametrize(
    "params",
    [{"status": "SOMETIMES"}, {"sent_from": "yesterday"}, {"sent_to": "2024-02-31"}, {"category": "x"}],
)
def test_nonsense_filters_show_the_unfiltered_inbox_with_a_message(
    client_for, ra_sales, sales_customer, make_warning, params
):
    warning = make_warning(sales_customer, title="Still listed")
    response = client_for(ra_sales).get(INBOX, params)
    assert response.status_code == 200
    page = response.content.decode()
    assert warning.title in page
    assert "not understood" in page or "无法识别" in page


def test_filters_narrow_the_inbox(client_for, ra_admin, make_customer, make_warning):
    churn = make_warning(make_customer("ra"), title="Churny", category="CHURN")
    arrears = make_warning(make_customer("ra"), title="Owing", category="ARREARS")
    page = client_for(ra_admin).get(INBOX, {"tab": "all", "category": "ARREARS"}).content.decode()
    assert arrears.title in page and churn.title not in page


def test_filtering_by_customer_matches_the_hidden_full_name(
    client_for, ra_sales, sales_customer, make_warning, make_customer
):
    make_warning(sales_customer, title="Found by name")
    make_warning(
        make_customer("ra", account_manager=sales_customer.account_manager, name="李四"), title="Other"
    )
    page = client_for(ra_sales).get(INBOX, {"customer": "张伟伟"}).content.decode()
    assert "Found by name" in page and "Other" not in page


def test_the_warning_detail_shows_content_and_the_handling_form(
    client_for, ra_sales, sales_customer, make_warning
):
    warning = make_warning(sales_customer, content="Spending fell sharply.")
    page = client_for(ra_sales).get(reverse("customers:warning-detail", args=[warning.pk])).content.decode()
    assert "Spending fell sharply." in page
    assert 'value="NOT_LOST"' in page and 'value="LOST"' in page and 'value="HANDLED"' not in page


# --- handling ----------------------------------------------------------------------------------------------


def test_handling_a_churn_warning_pushes_exactly_one_outbox_command(
    client_for, ra_sales, sales_customer, make_warning, partners
):
    warning = make_warning(sales_customer, category="CHURN")
    response = client_for(ra_sales).post(handle_url(warning), {"result": "NOT_LOST", "remark": "called them"})
    assert response.status_code == 302
    warning.refresh_from_db()
    assert warning.status == "HANDLED" and warning.handle_result == "NOT_LOST" and warning.handler == ra_sales
    assert warning.push_pending and warning.remark == "called them"
    command = OutboxCommand.objects.get(kind="customers.handle_warning")
    assert command.payload == {
        "warning_id": warning.warning_id,
        "result": "NOT_LOST",
        "remark": "called them",
        "indirect_partner_id": partners["ra"].upstream_id,
    }
    assert command.partner_key == partners["ra"].upstream_id
    assert (command.object_type, command.object_id) == ("customers.customerwarning", str(warning.pk))
    assert AuditEvent.objects.filter(action="warning_handled", target_id=str(warning.pk)).count() == 1


def test_an_htmx_handling_answers_the_handling_part_and_refreshes_the_count(
    client_for, ra_sales, sales_customer, make_warning
):
    warning = make_warning(sales_customer, category="RESOURCE")
    response = client_for(ra_sales).post(
        handle_url(warning), {"result": "HANDLED"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert b'id="warning-handling"' in response.content and b"<html" not in response.content
    assert response["HX-Trigger"] == "warnings-changed"
    assert b'hx-swap-oob="true"' in response.content


def test_handling_an_already_handled_warning_is_refused_and_changes_nothing(
    client_for, ra_sales, sales_customer, make_warning
):
    warning = make_warning(sales_customer, status="HANDLED", handle_result="LOST")
    response = client_for(ra_sales).post(handle_url(warning), {"result": "NOT_LOST"}, follow=True)
    assert "already handled" in response.content.decode() or "已处理" in response.content.decode()
    warning.refresh_from_db()
    assert warning.handle_result == "LOST"
    assert not OutboxCommand.objects.exists()


def test_handling_twice_sends_once(ra_sales, sales_customer, make_warning):
    warning = make_warning(sales_customer)
    services.handle_warning(ra_sales, warning, "LOST")
    with pytest.raises(services.ServiceError):
        services.handle_warning(ra_sales, warning, "NOT_LOST")
    assert OutboxCommand.objects.count() == 1


def test_an_admin_may_not_handle_a_warning_of_a_customer_with_an_account_manager(
    client_for, ra_admin, sales_customer, make_warning
):
    warning = make_warning(sales_customer)
    response = client_for(ra_admin).post(handle_url(warning), {"result": "LOST"}, follow=True)
    assert response.status_code == 200
    assert "account manager" in response.content.decode() or "客户经理" in response.content.decode()
    warning.refresh_from_db()
    assert warning.status == "PENDING" and not OutboxCommand.objects.exists()


def test_sales_cannot_open_a_colleagues_warning(client_for, make_staff, sales_customer, make_warning):
    colleague = make_staff("ra", "sales", username="ra-sales-2")
    warning = make_warning(sales_customer)
    client = client_for(colleague)
    assert client.post(handle_url(warning), {"result": "LOST"}).status_code == 404
    assert not OutboxCommand.objects.exists()


def test_a_result_that_does_not_fit_the_category_is_refused(
    client_for, ra_sales, sales_customer, make_warning
):
    warning = make_warning(sales_customer, category="CHURN")
    response = client_for(ra_sales).post(handle_url(warning), {"result": "HANDLED"})
    assert response.status_code == 200  # the form again, with its error
    warning.refresh_from_db()
    assert warning.status == "PENDING" and not OutboxCommand.objects.exists()


def test_viewers_cannot_handle(client_for, ra_viewer, sales_customer, make_warning):
    assert (
        client_for(ra_viewer).post(handle_url(make_warning(sales_customer)), {"result": "LOST"}).status_code
        == 403
    )


def test_handling_is_post_only(client_for, ra_sales, sales_customer, make_warning):
    assert client_for(ra_sales).get(handle_url(make_warning(sales_customer))).status_code == 405


def test_a_distributor_admin_handles_an_unowned_reseller_customer_on_its_behalf(
    dist_admin, make_customer, make_warning, partners
):
    warning = make_warning(make_customer("rb"))
    services.handle_warning(dist_admin, warning, "LOST")
    command = OutboxCommand.objects.get()
    assert command.partner_key == partners["rb"].upstream_id
    assert command.payload["indirect_partner_id"] == partners["rb"].upstream_id


# --- bulk --------------------------------------------------------------------------------------------------


def test_bulk_handling_handles_the_selected_warnings_and_refuses_the_rest(
    client_for, ra_sales, sales_customer, make_warning, make_customer
):
    churn = make_warning(sales_customer, category="CHURN")
    resource = make_warning(sales_customer, category="RESOURCE")
    done = make_warning(sales_customer, status="HANDLED")
    not_mine = make_warning(make_customer("ra"))
    response = client_for(ra_sales).post(
        BULK,
        {
            "warnings": [churn.pk, resource.pk, done.pk, not_mine.pk],
            "result": "LOST",
            "remark": "bulk",
            "next": INBOX,
            "confirmed": "1",
        },
        follow=True,
    )
    assert response.status_code == 200
    churn.refresh_from_db()
    resource.refresh_from_db()
    not_mine.refresh_from_db()
    assert (churn.status, churn.handle_result) == ("HANDLED", "LOST")
    assert (resource.status, resource.handle_result) == ("HANDLED", "HANDLED")
    assert not_mine.status == "PENDING"
    assert OutboxCommand.objects.filter(kind="customers.handle_warning").count() == 2
    page = response.content.decode()
    assert "2" in page and done.title in page


def test_bulk_handling_without_a_selection_says_so(client_for, ra_sales):
    response = client_for(ra_sales).post(BULK, {"result": "LOST"}, follow=True)
    assert (
        "Select at least one warning" in response.content.decode()
        or "请至少选择" in response.content.decode()
    )
    assert not OutboxCommand.objects.exists()


def test_bulk_handling_ignores_a_foreign_next_url(client_for, ra_sales, sales_customer, make_warning):
    warning = make_warning(sales_customer)
    response = client_for(ra_sales).post(
        BULK, {"warnings": [warning.pk], "result": "LOST", "next": "https://evil.example/", "confirmed": "1"}
    )
    assert response["Location"] == INBOX


def test_bulk_handling_of_another_tenants_warnings_does_nothing(
    client_for, rb_admin, make_customer, make_warning
):
    warning = make_warning(make_customer("ra"))
    client_for(rb_admin).post(BULK, {"warnings": [warning.pk], "result": "LOST"})
    warning.refresh_from_db()
    assert warning.status == "PENDING" and not OutboxCommand.objects.exists()


# --- the count in the navigation ---------------------------------------------------------------------------


def test_the_navigation_count_is_the_users_pending_warnings(
    client_for, ra_sales, sales_customer, make_warning
):
    make_warning(sales_customer)
    make_warning(sales_customer)
    make_warning(sales_customer, status="HANDLED")
    client = client_for(ra_sales)
    assert b">2</span>" in client.get(COUNT).content
    assert COUNT.encode() in client.get(INBOX).content  # the shell loads it


def test_the_count_drops_after_handling(client_for, ra_sales, sales_customer, make_warning):
    warning = make_warning(sales_customer)
    client = client_for(ra_sales)
    assert b">1</span>" in client.get(COUNT).content
    client.post(handle_url(warning), {"result": "LOST"})
    assert b" hidden>" in client.get(COUNT).content


def test_users_who_do_not_handle_warnings_get_no_count(client_for, ra_viewer):
    client = client_for(ra_viewer)
    assert COUNT.encode() not in client.get("/").content
    assert b" hidden>" in client.get(COUNT).content


# --- assignment from the warning ---------------------------------------------------------------------------


def test_an_admin_assigns_the_account_manager_from_the_warning(
    client_for, ra_admin, ra_sales, make_customer, make_warning
):
    customer = make_customer("ra")
    warning = make_warning(customer)
    detail = reverse("customers:warning-detail", args=[warning.pk])
    client = client_for(ra_admin)
    assert reverse("customers:assign", args=[customer.pk]) in client.get(detail).content.decode()
    response = client.post(
        reverse("customers:assign", args=[customer.pk]), {"account_manager": ra_sales.pk, "next": detail}
    )
    assert response["Location"] == detail
    customer.refresh_from_db()
    assert customer.account_manager == ra_sales
    assert services.pending_count(ra_sales) == 1


# --- query counts ------------------------------------------------------------------------------------------


def test_the_inbox_query_count_does_not_grow_with_the_rows(
    client_for, ra_admin, ra_sales, make_customer, make_warning
):
    client = client_for(ra_admin)

    def add(n):
        for i in range(n):
            make_warning(make_customer("ra", account_manager=ra_sales if i % 2 else None))

    def measure():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(INBOX, {"tab": "all", "per_page": 100}).status_code == 200
        return len(queries)

    add(10)
    client.get(INBOX)
    at_10 = measure()
    add(90)
    at_100 = measure()
    assert at_10 == at_100, (at_10, at_100)
    print(f"warning inbox queries: {at_10} at 10 rows, {at_100} at 100 rows")


def test_a_title_quoting_the_customer_shows_the_customer_masked(
    client_for, ra_sales, sales_customer, make_warning
):
    sales_customer.name = "北京星河科技有限公司"
    sales_customer.save()
    warning = make_warning(
        sales_customer,
        title=f"客户{sales_customer.name}已欠费",
        content=f"客户{sales_customer.name}（{sales_customer.account_name}）已欠费，请尽快处理。",
    )
    client = client_for(ra_sales)
    inbox = client.get(INBOX).content.decode()
    detail = client.get(reverse("customers:warning-detail", args=[warning.pk])).content.decode()
    for page in (inbox, detail):
        assert "北京星河科技有限公司" not in page
        assert sales_customer.account_name not in page
        assert f"客户{mask_name(sales_customer.name)}已欠费" in page
