"""The admin site: mirrored rows are view only, customers' personal data is masked, search matches whole
values only, and the site speaks the user's language (issue 7, points 4 and 13)."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone

from accounts.models import Partner
from billing.models import AdjustRecord, CommercialDiscount, CustomerAccount, DedicatedOffer, PartnerAccount
from customers.models import AssociationEvent, AssociationType, Customer, CustomerWarning

NAME = "欧阳建国科技有限公司"
ACCOUNT = "hwc-secret-account-77"
PHONE = "13912345678"
EMAIL = "jianguo.ouyang@example.com"
PERSONAL = (NAME, ACCOUNT, PHONE, EMAIL)


@pytest.fixture
def mirrored(partners):
    """One row of every mirrored model about one customer whose personal data must not show."""
    ra = partners["ra"]
    now = timezone.now()
    customer = Customer.objects.create(
        partner=ra,
        customer_id="cust-admin-0001",
        name=NAME,
        account_name=ACCOUNT,
        phone=PHONE,
        email=EMAIL,
        association_type=AssociationType.RESALE,
        associated_on=now,
    )
    common = {"partner": ra, "customer": customer, "customer_upstream_id": customer.customer_id}
    rows = {
        "customer": customer,
        "warning": CustomerWarning.objects.create(
            **common,
            warning_id="warn-admin-1",
            scene_name="流失预警",
            category=CustomerWarning.Category.CHURN,
            title=f"客户 {NAME} 可能流失",
            content=f"{NAME} 的消费下降了 80%。",
            send_time=now,
        ),
        "event": AssociationEvent.objects.create(
            **common,
            record_id="rec-admin-1",
            operation=AssociationEvent.Operation.values[0],
            association_type=AssociationType.RESALE,
            occurred_at=now,
        ),
        "account": CustomerAccount.objects.create(customer=customer, partner=ra, amount=Decimal("12.50")),
        "record": AdjustRecord.objects.create(
            **common,
            customer_name=NAME,
            trans_id="trans-admin-1",
            operation_type=AdjustRecord.OperationType.values[0],
            amount=Decimal("5.00"),
            operation_time=now,
        ),
        "discount": CommercialDiscount.objects.create(
            **common, discount_id="disc-admin-1", business_name="云服务折扣", status="EFFECTIVE"
        ),
        "offer": DedicatedOffer.objects.create(
            partner=ra,
            offer_id="offer-admin-1",
            name="专属优惠一",
            customer_account_name=ACCOUNT,
            status="ACTIVE",
            effective_time=now - timedelta(days=1),
        ),
        "partner_account": PartnerAccount.objects.create(
            partner=ra,
            account_type=PartnerAccount.AccountType.values[0],
            account_id="acc-1",
            amount=Decimal("1"),
        ),
    }
    return rows


MIRRORED_MODELS = [
    Customer,
    CustomerWarning,
    AssociationEvent,
    CustomerAccount,
    PartnerAccount,
    AdjustRecord,
    CommercialDiscount,
    DedicatedOffer,
]


def _url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def _shows_none_of(response, values=PERSONAL):
    text = response.content.decode()
    leaked = [value for value in values if value in text]
    assert not leaked, f"personal data in clear: {leaked}"


@pytest.mark.parametrize("model", MIRRORED_MODELS, ids=lambda m: m._meta.model_name)
def test_mirrored_rows_are_view_only_in_the_admin(admin_client, mirrored, model):
    row = model.objects.get()
    model_admin = admin.site._registry[model]
    request = admin_client.get(_url(model, "changelist")).wsgi_request

    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, row)
    assert not model_admin.has_delete_permission(request, row)
    assert admin_client.get(_url(model, "add")).status_code == 403
    assert admin_client.post(_url(model, "delete", row.pk), {"post": "yes"}).status_code == 403
    assert model.objects.filter(pk=row.pk).exists()

    view = admin_client.get(_url(model, "change", row.pk))
    assert view.status_code == 200
    assert 'name="_save"' not in view.content.decode()
    _shows_none_of(view)
    _shows_none_of(admin_client.get(_url(model, "history", row.pk)))


def test_a_post_to_a_mirrored_row_changes_nothing(admin_client, mirrored):
    customer = mirrored["customer"]
    response = admin_client.post(
        _url(Customer, "change", customer.pk), {"name": "hijacked", "partner": customer.partner_id}
    )
    assert response.status_code == 403
    customer.refresh_from_db()
    assert customer.name == NAME


@pytest.mark.parametrize("model", MIRRORED_MODELS, ids=lambda m: m._meta.model_name)
def test_lists_mask_personal_data_also_of_the_related_customer(admin_client, mirrored, model):
    page = admin_client.get(_url(model, "changelist"))
    assert page.status_code == 200
    assert page.context["cl"].result_count == 1
    _shows_none_of(page)


def test_the_customer_list_and_page_show_masked_values(admin_client, mirrored):
    text = admin_client.get(_url(Customer, "changelist")).content.decode()
    assert "欧*" in text and "hw" + "*" * 18 + "7" in text
    page = admin_client.get(_url(Customer, "change", mirrored["customer"].pk)).content.decode()
    assert "139****5678" in page and "j***@example.com" in page
    title = re.search(r"<title>(.*?)</title>", page, re.S).group(1)
    assert "欧*" in title and NAME not in title


def test_a_warning_shows_its_customer_and_title_masked(admin_client, mirrored):
    text = admin_client.get(_url(CustomerWarning, "changelist")).content.decode()
    assert "客户 欧******** 可能流失" in text
    page = admin_client.get(_url(CustomerWarning, "change", mirrored["warning"].pk)).content.decode()
    assert "欧******** 的消费下降了 80%" in page


@pytest.mark.parametrize(
    ("model", "query", "found"),
    [
        (Customer, "cust-admin-0001", True),
        (Customer, ACCOUNT, True),
        (Customer, PHONE, True),
        (Customer, EMAIL.upper(), True),
        (Customer, "欧阳", False),  # a part of the name
        (Customer, NAME, False),  # names are not searchable at all
        (Customer, "hwc-secret", False),  # the start of the account name
        (Customer, "1391234", False),  # part of the phone
        (Customer, "example.com", False),  # part of the email
        (CustomerWarning, "cust-admin-0001", True),
        (CustomerWarning, "欧阳", False),
        (AdjustRecord, "欧阳", False),
        (CustomerAccount, "hwc", False),
        (CustomerAccount, "cust-admin-0001", True),
        (DedicatedOffer, "hwc", False),
        (DedicatedOffer, ACCOUNT, True),
    ],
)
def test_admin_search_matches_ids_and_whole_values_only(admin_client, mirrored, model, query, found):
    page = admin_client.get(_url(model, "changelist"), {"q": query})
    assert page.status_code == 200
    assert page.context["cl"].result_count == (1 if found else 0)
    _shows_none_of(page, [v for v in PERSONAL if v != query and v.lower() != query.lower()])


def test_a_reseller_s_upstream_fields_are_view_only_and_its_settings_stay_editable(admin_client, partners):
    ra = partners["ra"]
    Partner.objects.filter(pk=ra.pk).update(
        account_name="reseller-a-account", email="boss@reseller-a.example"
    )
    page = admin_client.get(_url(Partner, "change", ra.pk)).content.decode()
    assert 'name="require_step_up"' in page
    assert 'name="name"' not in page and 'name="upstream_id"' not in page and 'name="email"' not in page
    assert "boss@reseller-a.example" not in page and "b***@reseller-a.example" in page

    admin_client.post(
        _url(Partner, "change", ra.pk),
        {"name": "Renamed", "upstream_id": "other", "require_step_up": "on", "email": "x@y.z"},
    )
    ra.refresh_from_db()
    assert (ra.name, ra.upstream_id, ra.email, ra.require_step_up) == (
        "Reseller A",
        "ip-reseller-a",
        "boss@reseller-a.example",
        True,
    )
    listing = admin_client.get(_url(Partner, "changelist")).content.decode()
    assert "reseller-a-account" not in listing and "re" + "*" * 15 + "t" in listing


def _index_names(page: str) -> list[str]:
    """The app captions and model names of the admin index."""
    names = re.findall(r"<caption>\s*<a [^>]*>(.*?)</a>", page, re.S)
    names += re.findall(r'<th scope="row"[^>]*>\s*<a [^>]*>(.*?)</a>', page, re.S)
    return [re.sub(r"\s+", " ", name).strip() for name in names]


def test_the_chinese_admin_index_names_every_app_and_model_in_chinese(admin_client):
    page = admin_client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    names = _index_names(page)
    assert len(names) > 15
    # A name may keep a product name in brackets, "（TOTP）", but must say what it is in Chinese.
    untranslated = [name for name in names if not re.search(r"[\u4e00-\u9fff]", name)]
    assert not untranslated, untranslated
    assert "合作伙伴门户管理" in page and "Django" not in re.search(r"<title>(.*?)</title>", page).group(1)


def test_the_english_admin_index_reads_as_english(admin_client):
    admin_client.cookies["django_language"] = "en"
    page = admin_client.get(reverse("admin:index")).content.decode()
    names = _index_names(page)
    assert "Sign-in lockout (Axes)" in names and "Two-factor authentication (TOTP)" in names
    assert "Authenticator apps" in names
    assert "Partner Portal administration" in page


def test_an_admin_that_would_search_a_personal_field_by_substring_does_not_start():
    from django.core.exceptions import ImproperlyConfigured

    from portal.lib.admin import MirroredAdmin

    class LeakyAdmin(MirroredAdmin):
        search_fields = ["customer_id", "name"]
        masked_fields = {"name": "name"}

    with pytest.raises(ImproperlyConfigured, match="'name' searches a personal field by part of its value"):
        LeakyAdmin(Customer, admin.site)


def test_an_invitation_shows_its_email_masked_and_never_its_code_or_nonce(admin_client, partners):
    from customers.invitations import Invitation

    invitation = Invitation.objects.create(
        partner=partners["ra"],
        email=EMAIL,
        association_type=AssociationType.RESALE,
        language="zh-hans",
        expires_at=timezone.now() + timedelta(days=7),
        token_nonce="n0nce-secret",
        code_hash="c0de-hash-secret",
    )
    listing = admin_client.get(_url(Invitation, "changelist"))
    page = admin_client.get(_url(Invitation, "change", invitation.pk))
    for response in (listing, page):
        assert response.status_code == 200
        _shows_none_of(response, [EMAIL, "n0nce-secret", "c0de-hash-secret"])
    assert "j***@example.com" in listing.content.decode() and "j***@example.com" in page.content.decode()
    assert (
        admin_client.post(_url(Invitation, "change", invitation.pk), {"email": "x@example.com"}).status_code
        == 403
    )
    assert Invitation.objects.get().email == EMAIL
    assert admin_client.get(_url(Invitation, "changelist"), {"q": "jianguo"}).context["cl"].result_count == 0
