"""Privacy of searches and of warnings (issue 7, points 1, 2 and 6-reveal).

Searching by a personal field tells no more than the eye button: whole values only, audited, metered by the
same per-user limit. A warning about a customer the portal does not know yet is never shown or sent unmasked,
and the warnings sync fetches such customers in the same run.
"""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from customers.models import Customer, CustomerWarning
from customers.tasks import notify_arrears_warnings
from portal.lib.masking import mask_contacts

pytestmark = pytest.mark.django_db

CUSTOMERS = reverse("customers:list")
INBOX = reverse("customers:warnings")


def reveal_url(customer, field="name"):
    return reverse("customers:reveal", args=[customer.pk, field])


def listed(response, customer) -> bool:
    return customer.customer_id in response.content.decode()


def searches(action="customer_search"):
    return AuditEvent.objects.filter(action=action)


# --- point 1: the character-by-character attack ------------------------------------------------------------


def test_a_masked_account_name_cannot_be_spelled_out_one_character_at_a_time(
    client_for, ra_sales, make_customer, settings
):
    settings.REVEAL_LIMIT = 100
    target = make_customer("ra", account_name="hwc-secret9")
    client = client_for(ra_sales)
    # The attack of the report: grow a prefix one character at a time and watch whether the row stays.
    # Every proper prefix (and every inner part) now matches nothing, so there is nothing to watch.
    for end in range(1, len(target.account_name)):
        for part in (target.account_name[:end], target.account_name[end:]):
            assert not listed(client.get(CUSTOMERS, {"account_name": part}), target), part
    assert listed(client.get(CUSTOMERS, {"account_name": "HWC-SECRET9"}), target)  # the whole value, any case


def test_a_masked_name_cannot_be_spelled_out_through_the_warning_filter(
    client_for, ra_sales, make_customer, make_warning, settings
):
    settings.REVEAL_LIMIT = 100
    customer = make_customer("ra", name="北京星河科技", account_manager=ra_sales)
    make_warning(customer, title="Found")
    client = client_for(ra_sales)
    for part in ("北京", "北京星", "星河科技", "北京星河科"):
        assert "Found" not in client.get(INBOX, {"customer": part}).content.decode(), part
    assert "Found" in client.get(INBOX, {"customer": "北京星河科技"}).content.decode()


def test_phone_and_email_match_whole_values_only(client_for, ra_sales, make_customer, settings):
    settings.REVEAL_LIMIT = 100
    customer = make_customer("ra", phone="13812345678", email="alice@example.com")
    client = client_for(ra_sales)
    for params in ({"phone": "1381234567"}, {"phone": "5678"}, {"email": "alice@"}, {"email": "example.com"}):
        assert not listed(client.get(CUSTOMERS, params), customer), params
    assert listed(client.get(CUSTOMERS, {"phone": "13812345678"}), customer)
    assert listed(client.get(CUSTOMERS, {"email": "Alice@Example.com"}), customer)


def test_a_one_character_search_is_refused_with_a_message(client_for, ra_sales, make_customer):
    customer = make_customer("ra", name="张伟伟")
    response = client_for(ra_sales).get(CUSTOMERS, {"name": "张"})
    assert not listed(response, customer)
    page = response.content.decode()
    assert "at least 2 characters" in page or "至少 2 个字符" in page
    assert not searches().exists()


def test_a_user_who_may_not_reveal_may_not_search_by_personal_data(client_for, ra_viewer, make_customer):
    customer = make_customer("ra", name="张伟伟")
    client = client_for(ra_viewer)
    response = client.get(CUSTOMERS, {"name": "张伟伟"})
    assert not listed(response, customer)
    assert (
        "permission to reveal" in response.content.decode() or "查看明文的权限" in response.content.decode()
    )
    assert listed(client.get(CUSTOMERS, {"customer_id": customer.customer_id[-5:]}), customer)


# --- point 1: audited and within the reveal limit ----------------------------------------------------------


def test_each_personal_search_is_audited_without_the_searched_value(client_for, ra_sales, make_customer):
    make_customer("ra", name="张伟伟")
    client_for(ra_sales).get(CUSTOMERS, {"name": "张伟伟"})
    event = searches().get()
    assert event.actor == ra_sales and event.partner == ra_sales.partner
    assert event.data["fields"] == ["name"] and event.data["query"] == "张**"
    assert "张伟伟" not in event.summary and "张伟伟" not in str(event.data)


def test_searches_and_reveals_share_one_limit_and_refusals_are_audited(
    client_for, ra_sales, make_customer, settings
):
    settings.REVEAL_LIMIT = 3
    customer = make_customer("ra", name="张伟伟", account_name="hwc-secret9")
    client = client_for(ra_sales)
    assert listed(client.get(CUSTOMERS, {"name": "张伟伟"}), customer)
    assert listed(client.get(CUSTOMERS, {"account_name": "hwc-secret9"}), customer)
    assert "张伟伟" in client.post(reveal_url(customer)).content.decode()  # the third slot
    # The limit is reached: a new search is refused with a message, lists nothing, and is audited.
    response = client.get(CUSTOMERS, {"phone": customer.phone})
    assert not listed(response, customer)
    assert "too often" in response.content.decode() or "次数过多" in response.content.decode()
    assert searches().count() == 2
    refused = searches("customer_search_refused").get()
    assert (
        refused.actor == ra_sales
        and refused.data["reason"] == "limit"
        and refused.data["fields"] == ["phone"]
    )
    # ...and so is the eye button (point 6: a refused reveal is audited).
    assert "hwc-secret9" not in client.post(reveal_url(customer, "account_name")).content.decode()
    event = AuditEvent.objects.get(action="customer_reveal_refused")
    assert event.actor == ra_sales and event.target_id == str(customer.pk)
    assert event.data["field"] == "account_name"


def test_the_inbox_customer_search_is_metered_too(
    client_for, ra_sales, make_customer, make_warning, settings
):
    settings.REVEAL_LIMIT = 1
    make_warning(make_customer("ra", name="张伟伟", account_manager=ra_sales), title="Found")
    client = client_for(ra_sales)
    assert "Found" in client.get(INBOX, {"customer": "张伟伟"}).content.decode()
    page = client.get(INBOX, {"customer": "李四四"}).content.decode()
    assert "too often" in page or "次数过多" in page
    assert searches().get().data["fields"] == ["name", "account_name"]
    assert searches("customer_search_refused").count() == 1


def test_paging_through_one_search_counts_it_once(client_for, ra_sales, make_customer, settings):
    settings.REVEAL_LIMIT = 1
    customer = make_customer("ra", name="张伟伟")
    client = client_for(ra_sales)
    for extra in ({}, {"page": 2}, {"sort": "-associated_on"}, {"per_page": 50}):
        assert listed(client.get(CUSTOMERS, {"name": " 张伟伟 ", **extra}), customer)
    assert searches().count() == 1
    assert not searches("customer_search_refused").exists()


def test_searching_by_customer_id_is_free(client_for, ra_sales, make_customer, make_warning, settings):
    settings.REVEAL_LIMIT = 1
    customer = make_customer("ra", account_manager=ra_sales)
    make_warning(customer, title="By id")
    client = client_for(ra_sales)
    client.post(reveal_url(customer))  # the only slot
    assert listed(client.get(CUSTOMERS, {"customer_id": customer.customer_id}), customer)
    assert "By id" in client.get(INBOX, {"customer": customer.customer_id}).content.decode()
    assert not searches().exists() and not searches("customer_search_refused").exists()


def test_the_export_applies_the_same_rules(client_for, ra_sales, make_customer):
    customer = make_customer("ra", name="张伟伟")
    response = client_for(ra_sales).get(reverse("customers:export"), {"name": "张伟"})
    assert customer.customer_id not in response.content.decode()


# --- point 6: reveal responses are never cached ------------------------------------------------------------


def test_reveal_and_hide_responses_are_not_cached(client_for, ra_sales, make_customer):
    customer = make_customer("ra")
    client = client_for(ra_sales)
    revealed = client.post(reveal_url(customer))
    hidden = client.get(reverse("customers:hide", args=[customer.pk, "name"]))
    for response in (revealed, hidden):
        assert response.status_code == 200
        assert "no-store" in response["Cache-Control"]


# --- point 2: warnings about customers the portal does not know yet ----------------------------------------

TITLE = "客户北京星河科技有限公司（13812345678）已欠费"
CONTENT = "北京星河科技有限公司已欠费 1234.50 元，请联系 138-1234-5678 或 boss@xinghe.example.cn。"
SECRETS = ("北京星河科技有限公司", "13812345678", "138-1234-5678", "boss@xinghe.example.cn")


@pytest.fixture
def unknown_warning(partners):
    return CustomerWarning.objects.create(
        partner=partners["ra"],
        customer=None,
        customer_upstream_id="cust-not-mirrored-yet",
        warning_id="warn-unknown-1",
        scene_name="欠费预警",
        category=CustomerWarning.Category.ARREARS,
        title=TITLE,
        content=CONTENT,
        send_time=timezone.now(),
    )


def assert_masked(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, secret


def test_an_unknown_customers_warning_is_masked_in_the_list(client_for, ra_admin, unknown_warning):
    page = client_for(ra_admin).get(INBOX).content.decode()
    assert "warn-unknown-1" in page  # it is listed ...
    assert_masked(page)  # ... without the customer's name, phone or email
    assert (
        "欠费预警（欠费）" in page or "欠费预警 (Arrears)" in page
    )  # scene and category instead of the title


def test_an_unknown_customers_warning_is_masked_on_its_page_and_in_its_title(
    client_for, ra_admin, unknown_warning
):
    page = client_for(ra_admin).get(reverse("customers:warning-detail", args=[unknown_warning.pk]))
    text = page.content.decode()
    assert_masked(text)
    title = text.split("<title>", 1)[1].split("</title>", 1)[0]
    assert "欠费预警" in title and "北京" not in title
    # A name has no shape to find it by: the content waits until the customer is synced.
    assert "once the customer is synced" in text or "同步客户后" in text


def test_an_unknown_customers_arrears_email_is_masked(ra_admin, unknown_warning):
    assert notify_arrears_warnings() == 1
    message = mail.outbox[0]
    assert message.to == [ra_admin.email]
    for text in (message.subject, message.body, message.alternatives[0][0]):
        assert_masked(text)
    assert "欠费预警" in message.subject


def test_a_known_customers_warning_masks_stray_contacts_too(
    client_for, ra_sales, make_customer, make_warning
):
    customer = make_customer("ra", account_manager=ra_sales, phone="13900001111")
    warning = make_warning(
        customer, title=f"{customer.name} 13812345678", content="mail boss@xinghe.example.cn"
    )
    text = client_for(ra_sales).get(reverse("customers:warning-detail", args=[warning.pk])).content.decode()
    assert "13812345678" not in text and "boss@xinghe.example.cn" not in text and customer.name not in text


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("客户13812345678已欠费", "客户138****5678已欠费"),
        ("call +86 138-1234-5678", "call +86****5678"),
        ("tel 010-12345678.", "tel 010****5678."),
        ("write to alice.b@example.com.cn now", "write to a***@example.com.cn now"),
        ("owes 1234567.89 yuan", "owes 1234567.89 yuan"),
        ("id cust-ra-00001 / a1234567b", "id cust-ra-00001 / a1234567b"),
        ("", ""),
    ],
)
def test_contacts_are_masked_by_their_shape(text, masked):
    assert mask_contacts(text) == masked


def test_the_warnings_sync_fetches_unknown_customers_in_the_same_run(
    upstream_settings, upstream_sim, partners
):
    from upstream.client import UpstreamClient
    from upstream.sync import run_dataset

    assert not Customer.objects.exists()
    with UpstreamClient.from_settings(rate_limit=0) as client:
        run = run_dataset("warnings", client=client, mode="full")
        # The customers the warnings name, as the upstream lists them for each scope.
        upstream_ids = {
            c.customer_id
            for scope in (None, "ip-reseller-a", "ip-reseller-b")
            for c in client.iter_all(client.list_sub_customers, indirect_partner_id=scope)
        }
    assert run.status == "succeeded", run.errors
    warnings = CustomerWarning.objects.all()
    assert warnings.exists()
    named = warnings.filter(customer_upstream_id__in=upstream_ids)
    assert named.exists()
    # Every warning about a customer the upstream still lists is linked (and so masked by its values) ...
    assert not named.filter(customer__isnull=True).exists()
    # ... to that customer, stored under the partner of the warning's scope.
    for warning in named.select_related("customer")[:50]:
        assert warning.customer.customer_id == warning.customer_upstream_id
        assert warning.customer.partner_id == warning.partner_id


def test_a_customer_synced_later_links_the_warnings_that_came_first(partners, unknown_warning):
    from customers.sync import _link_records

    customer = Customer.objects.create(
        partner=partners["ra"],
        customer_id="cust-not-mirrored-yet",
        name="北京星河科技有限公司",
        association_type="2",
    )
    _link_records([customer.customer_id])
    unknown_warning.refresh_from_db()
    assert unknown_warning.customer == customer
    assert "北京星河科技有限公司" not in unknown_warning.masked_title
