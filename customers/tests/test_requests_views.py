"""The association request pages: staff (partner admins only) and the customer's own (/confirm/, /my/)."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from accounts import stepup
from accounts.models import Message
from customers import services
from customers.models import AssociationRequest, AssociationType, CustomerCode
from upstream.models import OutboxCommand

pytestmark = pytest.mark.django_db

Status = AssociationRequest.Status
Kind = AssociationRequest.Kind
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def _english(settings):
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def check(monkeypatch):
    """The upstream account check, as the test sets it (passing unless told otherwise)."""
    state = {"result": services.AccountCheck(True)}
    monkeypatch.setattr(services, "run_account_check", lambda customer, kind: state["result"])
    return state


@pytest.fixture
def filed(ra_admin, make_customer, check):
    def make(customer=None, kind=Kind.SWITCH_TO_REFERRAL):
        return services.file_request(ra_admin, customer or make_customer("ra"), kind, "Self-service")

    return make


def last_code(recipient: str) -> str:
    message = Message.objects.filter(recipient=recipient).latest("created_at", "id")
    return re.search(r"\b(\d{6})\b", message.body).group(1)


# --- the requests list --------------------------------------------------------------------------------------


def test_the_list_shows_both_directions_with_a_countdown(client_for, ra_admin, make_customer, filed):
    filed()
    services.customer_file_unbind(make_customer("ra"), "Leaving")
    page = client_for(ra_admin).get("/customers/requests/").content.decode()
    assert "Partner-initiated" in page and "Customer-initiated" in page
    assert page.count('data-testid="countdown"') == 2 and "6\xa0days" in page


def test_the_list_filters_by_status_and_direction(client_for, ra_admin, make_customer, filed):
    filed()
    services.customer_file_unbind(make_customer("ra"), "Leaving")
    client = client_for(ra_admin)
    page = client.get("/customers/requests/", {"direction": "customer"}).content.decode()
    assert page.count("data-request=") == 1 and "Customer-initiated" in page
    page = client.get("/customers/requests/", {"status": "approved"}).content.decode()
    assert "data-request=" not in page


def test_the_list_masks_personal_data(client_for, ra_admin, make_customer, filed):
    customer = make_customer("ra", name="王小明", account_name="wangxm-account")
    filed(customer)
    page = client_for(ra_admin).get("/customers/requests/").content.decode()
    assert "王小明" not in page and "wangxm-account" not in page and "王**" in page


def test_the_list_answers_htmx_with_the_table(client_for, ra_admin, filed):
    filed()
    response = client_for(ra_admin).get("/customers/requests/", **HTMX)
    body = response.content.decode()
    assert response.status_code == 200 and 'id="request-list"' in body and "<html" not in body


def test_the_list_is_for_admins_only(client, client_for, ra_sales, ra_finance):
    assert client.get("/customers/requests/").status_code == 302
    assert client_for(ra_sales).get("/customers/requests/").status_code == 403
    assert client_for(ra_finance).get("/customers/requests/").status_code == 403


def test_another_tenants_requests_are_not_listed(client_for, rb_admin, filed):
    filed()
    assert "data-request=" not in client_for(rb_admin).get("/customers/requests/").content.decode()


def test_the_list_keeps_its_query_count(client_for, ra_admin, make_customer, filed):
    client = client_for(ra_admin)
    filed()
    client.get("/customers/requests/")
    with CaptureQueriesContext(connection) as one:
        client.get("/customers/requests/")
    for _ in range(5):
        filed()
    with CaptureQueriesContext(connection) as six:
        client.get("/customers/requests/")
    assert len(six) == len(one)


# --- the dry run and filing ---------------------------------------------------------------------------------


def test_the_dry_run_lists_each_blocker_with_what_to_do(client_for, ra_admin, make_customer, check):
    check["result"] = services.AccountCheck(
        False,
        [
            services.Blocker(
                "ARREARS", "Arrears", "客户账户存在欠费", str(services.BLOCKER_ADVICE["ARREARS"])
            ),
            services.Blocker("FROZEN", "Frozen account", "已冻结", str(services.BLOCKER_ADVICE["FROZEN"])),
        ],
    )
    customer = make_customer("ra")
    page = client_for(ra_admin).get(f"/customers/{customer.pk}/requests/new/").content.decode()
    assert "客户账户存在欠费" in page and "Allocate funds" in page and "unfrozen" in page
    assert "Check again" in page and 'data-testid="submit-request"' not in page


def test_the_dry_run_shows_the_balance_reclaimed_on_a_resale_disassociation(
    client_for, ra_admin, make_customer, check
):
    customer = make_customer("ra", balance=Decimal("1234.50"))
    page = (
        client_for(ra_admin).get(f"/customers/{customer.pk}/requests/new/?kind=DISASSOCIATE").content.decode()
    )
    assert "1,234.50" in page or "1234.50" in page
    assert "Refunds before" in page and "Refunds after" in page and 'data-testid="submit-request"' in page


def test_the_dry_run_shows_the_cooldown_date(client_for, ra_admin, make_customer, check):
    customer = make_customer("ra")
    asked = services.customer_file_unbind(customer, "Leaving")
    AssociationRequest.objects.filter(pk=asked.pk).update(status=Status.REJECTED)
    until = timezone.localtime(asked.created_at + timedelta(days=90)).strftime("%Y-%m-%d")
    page = client_for(ra_admin).get(f"/customers/{customer.pk}/requests/new/").content.decode()
    assert 'data-testid="cooldown"' in page and until in page


def test_the_recheck_answers_htmx_with_the_dry_run(client_for, ra_admin, make_customer, check):
    customer = make_customer("ra")
    response = client_for(ra_admin).get(f"/customers/{customer.pk}/requests/new/", **HTMX)
    body = response.content.decode()
    assert 'id="dry-run"' in body and "<html" not in body


def test_filing_needs_the_box_and_a_reason(client_for, ra_admin, make_customer, check):
    customer = make_customer("ra")
    url = f"/customers/{customer.pk}/requests/new/"
    response = client_for(ra_admin).post(url, {"kind": "DISASSOCIATE", "reason": "   "})
    assert response.status_code == 200
    assert "Give a reason." in response.content.decode() and "Tick the box" in response.content.decode()
    assert not AssociationRequest.objects.exists()


def test_filing_submits_and_shows_waiting_for_the_customer(client_for, ra_admin, make_customer, check):
    customer = make_customer("ra")
    client = client_for(ra_admin)
    response = client.post(
        f"/customers/{customer.pk}/requests/new/",
        {"kind": "SWITCH_TO_REFERRAL", "acknowledged": "on", "reason": "Self-service"},
    )
    request = AssociationRequest.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/customers/requests/{request.pk}/"
    page = client.get(response["Location"]).content.decode()
    assert 'data-testid="waiting"' in page and "Waiting for the customer" in page


def test_filing_asks_for_the_code_when_step_up_is_on(client_for, ra_admin, make_customer, check, partners):
    partners["ra"].require_step_up = True
    partners["ra"].save()
    customer = make_customer("ra")
    data = {"kind": "DISASSOCIATE", "acknowledged": "on", "reason": "why"}
    client = client_for(ra_admin)
    response = client.post(f"/customers/{customer.pk}/requests/new/", data)
    assert response.status_code == 200 and not AssociationRequest.objects.exists()
    stepup.send_code(ra_admin, "email")
    data["code"] = last_code(ra_admin.email)
    assert client.post(f"/customers/{customer.pk}/requests/new/", data).status_code == 302
    assert AssociationRequest.objects.count() == 1


def test_filing_is_for_admins_and_own_customers(client_for, ra_sales, rb_admin, make_customer, check):
    customer = make_customer("ra")
    url = f"/customers/{customer.pk}/requests/new/"
    assert client_for(ra_sales).get(url).status_code == 403
    assert client_for(rb_admin).get(url).status_code == 404


def test_a_distributor_admin_files_for_its_resellers_customer(client_for, dist_admin, make_customer, check):
    customer = make_customer("ra")
    response = client_for(dist_admin).post(
        f"/customers/{customer.pk}/requests/new/",
        {"kind": "DISASSOCIATE", "acknowledged": "on", "reason": "On behalf"},
    )
    assert response.status_code == 302
    assert AssociationRequest.objects.get().partner.upstream_id == "ip-reseller-a"


def test_the_customer_list_and_page_offer_the_actions_to_admins_only(
    client_for, ra_admin, ra_sales, make_customer
):
    customer = make_customer("ra")
    link = f"/customers/{customer.pk}/requests/new/"
    assert link in client_for(ra_admin).get("/customers/").content.decode()
    assert link in client_for(ra_admin).get(f"/customers/{customer.pk}/").content.decode()
    assert link not in client_for(ra_sales).get("/customers/").content.decode()


# --- detail, withdraw, remind, decide -----------------------------------------------------------------------


def test_withdraw_and_remind_from_the_detail_page(client_for, ra_admin, filed):
    request = filed()
    client = client_for(ra_admin)
    response = client.post(f"/customers/requests/{request.pk}/remind/")
    assert response.status_code == 302
    assert "less than a day" in client.get(response["Location"]).content.decode()
    assert client.post(f"/customers/requests/{request.pk}/withdraw/", **HTMX).status_code == 200
    request.refresh_from_db()
    assert request.status == Status.WITHDRAWN


def test_the_detail_page_is_the_tenants_own(client_for, rb_admin, ra_sales, filed):
    request = filed()
    assert client_for(rb_admin).get(f"/customers/requests/{request.pk}/").status_code == 404
    assert client_for(ra_sales).get(f"/customers/requests/{request.pk}/").status_code == 403
    assert client_for(rb_admin).post(f"/customers/requests/{request.pk}/withdraw/").status_code == 404


def test_the_detail_answers_htmx(client_for, ra_admin, filed):
    request = filed()
    body = client_for(ra_admin).get(f"/customers/requests/{request.pk}/", **HTMX).content.decode()
    assert 'id="request-detail"' in body and "<html" not in body


def test_an_admin_approves_a_customers_request(client_for, ra_admin, make_customer):
    request = services.customer_file_unbind(make_customer("ra"), "Leaving")
    client = client_for(ra_admin)
    response = client.post(
        f"/customers/requests/{request.pk}/decide/", {"decision": "approve", "reason": " "}
    )
    assert response.status_code == 200 and "Give a reason." in response.content.decode()
    response = client.post(
        f"/customers/requests/{request.pk}/decide/", {"decision": "approve", "reason": "OK"}
    )
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.status == Status.APPLYING and OutboxCommand.objects.count() == 1


def test_an_admin_rejects_a_customers_request(client_for, ra_admin, make_customer):
    request = services.customer_file_unbind(make_customer("ra"), "Leaving")
    client_for(ra_admin).post(
        f"/customers/requests/{request.pk}/decide/", {"decision": "reject", "reason": "Contract"}
    )
    request.refresh_from_db()
    assert request.status == Status.REJECTED and request.decision_reason == "Contract"


# --- the confirmation page ----------------------------------------------------------------------------------


def test_the_confirmation_page_shows_the_change_masked(client, filed, make_customer):
    customer = make_customer("ra", account_name="wangxm-account")
    request = filed(customer)
    page = client.get(f"/confirm/{services.confirm_token(request)}/").content.decode()
    assert "Reseller A" in page and "wangxm-account" not in page and "wa***********t" in page
    assert "Resale → Referral" in page and 'data-testid="notice-switch"' in page


@pytest.mark.parametrize("spoil", ["tamper", "garbage", "withdrawn"])
def test_a_bad_link_shows_a_clear_page_and_changes_nothing(client, filed, ra_admin, spoil):
    request = filed()
    token = services.confirm_token(request)
    if spoil == "tamper":
        token = token[:-3] + "xyz"
    elif spoil == "garbage":
        token = "nonsense"
    else:
        services.withdraw_request(request, user=ra_admin)
    response = client.post(f"/confirm/{token}/", {"decision": "agree", "code": "123456"})
    assert response.status_code == 410 and 'data-testid="link-invalid"' in response.content.decode()
    assert not OutboxCommand.objects.exists()


def test_agreeing_needs_both_notices_and_the_code(client, filed):
    request = filed()
    url = f"/confirm/{services.confirm_token(request)}/"
    response = client.post(url, {"decision": "agree", "code": "123456"})
    assert "Tick both notices to agree." in response.content.decode()
    assert (
        client.post(f"{url}code/", {"channel": "email"}, **HTMX)
        .content.decode()
        .startswith("A code was sent")
    )
    code = last_code(request.customer.email)
    data = {"decision": "agree", "notice_switch": "on", "notice_partner": "on", "code": code}
    response = client.post(url, data)
    assert 'data-testid="decision-done"' in response.content.decode()
    request.refresh_from_db()
    assert request.status == Status.APPLYING and request.customer_channel == "email"
    assert client.get(url).status_code == 410  # used once


def test_rejecting_on_the_page_needs_no_notices(client, filed):
    request = filed()
    url = f"/confirm/{services.confirm_token(request)}/"
    client.post(f"{url}code/", {"channel": "sms"})
    code = last_code(request.customer.phone)
    client.post(url, {"decision": "reject", "code": code, "reason": "Not now"})
    request.refresh_from_db()
    assert request.status == Status.REJECTED and request.decision_reason == "Not now"


# --- the customer area --------------------------------------------------------------------------------------


def sign_in_as(client, customer):
    client.post("/my/sign-in/", {"contact": customer.email})
    code = last_code(customer.email)
    response = client.post("/my/verify/", {"code": code})
    assert response.status_code == 302
    return client


def test_a_customer_signs_in_with_a_code_and_sees_its_requests(client, filed, make_customer):
    customer, other = make_customer("ra"), make_customer("ra")
    mine, theirs = filed(customer), filed(other)
    sign_in_as(client, customer)
    page = client.get("/my/").content.decode()
    assert "Reseller A" in page and customer.account_name in page  # its own data, in full
    assert f'data-request="{mine.pk}"' in page and f'data-request="{theirs.pk}"' not in page


def test_an_unknown_contact_gets_the_same_answer(client, make_customer):
    make_customer("ra")
    response = client.post("/my/sign-in/", {"contact": "nobody@example.com"}, follow=True)
    assert "If this contact is registered" in response.content.decode()
    assert not Message.objects.filter(recipient="nobody@example.com").exists()
    assert client.post("/my/verify/", {"code": "123456"}).status_code == 200


def test_a_customer_starts_a_disassociation(client, make_customer, check):
    customer = make_customer("ra")
    sign_in_as(client, customer)
    assert client.get("/my/disassociate/").status_code == 200
    client.post("/my/code/", {"channel": "email"})
    code = last_code(customer.email)
    response = client.post(
        "/my/disassociate/",
        {"reason": "Leaving", "notice_switch": "on", "notice_partner": "on", "code": code},
    )
    assert response.status_code == 302
    request = AssociationRequest.objects.get()
    assert request.status == Status.PENDING_PARTNER and request.direction == "customer"


def test_another_customers_request_is_a_404(client, make_customer, filed):
    customer, other = make_customer("ra"), make_customer("ra")
    theirs = services.customer_file_unbind(other, "Leaving")
    sign_in_as(client, customer)
    assert client.post(f"/my/requests/{theirs.pk}/withdraw/").status_code == 404
    assert client.get(f"/my/requests/{theirs.pk}/receipt.txt").status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == Status.PENDING_PARTNER


def test_the_receipt_names_who_decided_what_and_when(client, make_customer, ra_admin):
    customer = make_customer("ra", association_type=AssociationType.RESALE)
    request = services.customer_file_unbind(customer, "Leaving")
    services.partner_decide(ra_admin, request, approve=False, reason="Contract runs")
    sign_in_as(client, customer)
    response = client.get(f"/my/requests/{request.pk}/receipt.txt")
    body = response.content.decode()
    assert response["Content-Disposition"].startswith("attachment")
    assert "ra-admin" in body and "Contract runs" in body and "Rejected" in body


def test_the_customer_area_needs_a_sign_in(client, make_customer):
    assert "Sign in with a code" in client.get("/my/").content.decode()
    assert client.get("/my/disassociate/").status_code == 302
    assert client.post("/my/code/", {"channel": "email"}).status_code == 302


def test_five_wrong_sign_in_codes_invalidate_the_code(client, make_customer, settings):
    customer = make_customer("ra")
    client.post("/my/sign-in/", {"contact": customer.email})
    code = last_code(customer.email)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(settings.STEP_UP_MAX_ATTEMPTS):
        client.post("/my/verify/", {"code": wrong})
    assert client.post("/my/verify/", {"code": code}).status_code == 200  # not signed in
    assert not CustomerCode.objects.get(customer=customer).code_hash


def test_the_admin_site_shows_requests_view_only_and_masked(admin_client, filed, make_customer):
    customer = make_customer("ra", name="王小明", account_name="wangxm-account")
    request = filed(customer)
    for url in (
        "/admin/customers/associationrequest/",
        f"/admin/customers/associationrequest/{request.pk}/change/",
    ):
        page = admin_client.get(url).content.decode()
        assert "王小明" not in page and "wangxm-account" not in page and request.token_nonce not in page
    assert admin_client.get("/admin/customers/associationrequest/add/").status_code == 403


def test_deciding_a_customers_request_asks_for_the_code_when_step_up_is_on(
    client_for, ra_admin, make_customer, partners
):
    partners["ra"].require_step_up = True
    partners["ra"].save()
    request = services.customer_file_unbind(make_customer("ra"), "Leaving")
    client = client_for(ra_admin)
    url = f"/customers/requests/{request.pk}/decide/"
    response = client.post(url, {"decision": "approve", "reason": "OK"})
    assert response.status_code == 200 and "verification code" in response.content.decode().lower()
    request.refresh_from_db()
    assert request.status == Status.PENDING_PARTNER
    stepup.send_code(ra_admin, "sms")
    client.post(url, {"decision": "approve", "reason": "OK", "code": last_code(ra_admin.phone)})
    request.refresh_from_db()
    assert request.status == Status.APPLYING


def test_a_disassociated_customer_still_reads_its_receipts_but_cannot_ask_again(
    client, make_customer, ra_admin
):
    customer = make_customer("ra")
    request = services.customer_file_unbind(customer, "Leaving")
    services.partner_decide(ra_admin, request, approve=True, reason="OK")
    services.apply_change_succeeded(request.pk, "rec-9")
    sign_in_as(client, customer)
    page = client.get("/my/").content.decode()
    assert f"/my/requests/{request.pk}/receipt.txt" in page and 'data-testid="start-unbind"' not in page
    assert client.get("/my/disassociate/").status_code == 302
    assert "rec-9" in client.get(f"/my/requests/{request.pk}/receipt.txt").content.decode()
