"""Allocate / reclaim one customer from the web: the form with its preview, bad input that changes nothing,
one adjustment per form, step-up, roles and tenancy, and the status page that follows the outbox."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import translation

from billing.models import Adjustment, CustomerAccount, PartnerAccount
from customers.models import Customer
from upstream import outbox
from upstream.models import OutboxCommand

pytestmark = pytest.mark.django_db


@pytest.fixture
def books(partners, monkeypatch):
    """Reseller A holds 1000.00 (100.00 designated); its resale customer 50.00; a referral customer."""
    monkeypatch.setattr(outbox, "schedule_drain", lambda key=None, *, countdown=None: None)
    for key, amount, designated in (
        ("dist", "5000.00", "0"),
        ("ra", "1000.00", "100.00"),
        ("rb", "10.00", "0"),
    ):
        PartnerAccount.objects.create(
            partner=partners[key],
            account_id=f"acct-{key}",
            account_type=PartnerAccount.AccountType.BALANCE,
            amount=Decimal(amount),
            designated_amount=Decimal(designated),
        )
    resale = Customer.objects.create(
        partner=partners["ra"], customer_id="ra-resale", name="王小明", association_type="2"
    )
    CustomerAccount.objects.create(customer=resale, partner=partners["ra"], amount=Decimal("50.00"))
    referral = Customer.objects.create(
        partner=partners["ra"], customer_id="ra-referral", name="李雷", association_type="1"
    )
    return {"resale": resale, "referral": referral}


def _url(customer) -> str:
    return reverse("billing:adjustment-new", args=[customer.pk])


def _post(client, customer, **data):
    form = client.get(_url(customer)).context["form"]
    payload = {"kind": "allocate", "memo": "", "form_token": form.initial["form_token"], **data}
    return client.post(_url(customer), payload)


def _state():
    return (
        list(Adjustment.objects.values_list("pk", "status")),
        list(OutboxCommand.objects.values_list("pk")),
        list(PartnerAccount.objects.order_by("pk").values_list("amount")),
        list(CustomerAccount.objects.order_by("pk").values_list("amount")),
    )


def test_an_allocation_is_recorded_sent_through_the_outbox_and_followed_on_its_page(
    client_for, ra_finance, books
):
    client = client_for(ra_finance)
    response = _post(client, books["resale"], amount="100.00", memo="May top-up")
    adjustment = Adjustment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("billing:adjustment-detail", args=[adjustment.pk])
    assert (adjustment.kind, adjustment.amount, adjustment.memo) == (
        "allocate",
        Decimal("100.00"),
        "May top-up",
    )
    assert adjustment.requested_by == ra_finance and adjustment.status == "pending"
    assert OutboxCommand.objects.filter(kind="billing.allocate").count() == 1
    page = client.get(response["Location"])
    assert 'hx-trigger="every 2s"' in page.content.decode()  # refreshed while the outbox works
    adjustment.mark_sent()
    adjustment.mark_succeeded("TX-42")
    final = client.get(response["Location"], headers={"HX-Request": "true"}).content.decode()
    assert "TX-42" in final and "every 2s" not in final


@pytest.mark.parametrize(
    "amount",
    ["-1", "0", "1e9", "1.001", "１００", "NaN", "Infinity", "", "   ", "950.01", "1,000"],
)
def test_bad_amounts_get_a_message_on_the_form_and_change_nothing(client_for, ra_finance, books, amount):
    client = client_for(ra_finance)
    before = _state()
    response = _post(client, books["resale"], amount=amount)
    assert response.status_code == 200
    assert response.context["form"].errors.get("amount"), response.context["form"].errors
    assert _state() == before


def test_a_reclaim_above_the_customers_available_amount_is_refused(client_for, ra_finance, books):
    before = _state()
    response = _post(client_for(ra_finance), books["resale"], kind="reclaim", amount="50.01")
    assert "amount" in response.context["form"].errors and _state() == before
    assert _post(client_for(ra_finance), books["resale"], kind="reclaim", amount="50.00").status_code == 302


def test_the_same_form_submitted_twice_makes_one_adjustment(client_for, ra_finance, books):
    client = client_for(ra_finance)
    token = client.get(_url(books["resale"])).context["form"].initial["form_token"]
    data = {"kind": "allocate", "amount": "10.00", "memo": "", "form_token": token}
    first = client.post(_url(books["resale"]), data)
    second = client.post(_url(books["resale"]), data)
    assert first["Location"] == second["Location"]
    assert Adjustment.objects.count() == 1 and OutboxCommand.objects.count() == 1


def test_the_preview_shows_both_accounts_before_and_after(client_for, ra_finance, books):
    url = reverse("billing:adjustment-preview", args=[books["resale"].pk])
    tiers = client_for(ra_finance).get(url, {"kind": "allocate", "amount": "100.00"}).context["tiers"]
    # Reseller A: 1000 − 100 designated = 900 → 800; the customer 50 → 150.
    assert [(t.role, t.before, t.after) for t in tiers] == [
        ("partner", Decimal("900.00"), Decimal("800.00")),
        ("customer", Decimal("50.00"), Decimal("150.00")),
    ]
    fragment = client_for(ra_finance).get(
        url, {"kind": "allocate", "amount": "100.00"}, headers={"HX-Request": "true"}
    )
    body = fragment.content.decode()
    assert "<html" not in body and "王小明" not in body and "800.00" in body  # a fragment; name masked
    overdrawn = client_for(ra_finance).get(url, {"kind": "reclaim", "amount": "60.00"})
    assert [t.overdrawn for t in overdrawn.context["tiers"]] == [False, True]
    bad = client_for(ra_finance).get(url, {"kind": "allocate", "amount": "1.001"})
    assert bad.context["tiers"] is None and bad.context["preview_error"]
    assert Adjustment.objects.count() == 0


def test_a_distributor_acting_for_a_reseller_sees_three_tiers(client_for, dist_admin, books):
    url = reverse("billing:adjustment-preview", args=[books["resale"].pk])
    tiers = client_for(dist_admin).get(url, {"kind": "allocate", "amount": "1.00"}).context["tiers"]
    assert [(t.role, t.before, t.after) for t in tiers] == [
        ("acting", Decimal("5000.00"), Decimal("5000.00")),
        ("partner", Decimal("900.00"), Decimal("899.00")),
        ("customer", Decimal("50.00"), Decimal("51.00")),
    ]
    response = _post(client_for(dist_admin), books["resale"], amount="1.00")
    adjustment = Adjustment.objects.get()
    assert response.status_code == 302 and adjustment.partner == books["resale"].partner
    command = OutboxCommand.objects.get()
    assert command.payload["indirect_partner_id"] == books["resale"].partner.upstream_id


def test_a_referral_customer_is_offered_the_reason_instead_of_the_form(client_for, ra_finance, books):
    client = client_for(ra_finance)
    response = client.get(_url(books["referral"]))
    assert response.status_code == 200 and response.context["refusal"]
    assert 'data-testid="adjust-form"' not in response.content.decode()
    before = _state()
    _post(client, books["referral"], amount="1.00")
    assert _state() == before


def test_step_up_asks_for_a_code(client_for, ra_finance, books, partners):
    partners["ra"].require_step_up = True
    partners["ra"].save()
    before = _state()
    response = _post(client_for(ra_finance), books["resale"], amount="1.00")
    assert "code" in response.context["form"].errors and _state() == before


def test_roles_tenancy_and_methods(client, client_for, ra_sales, rb_admin, ra_finance, books):
    url = _url(books["resale"])
    assert client.get(url).status_code == 302
    assert client_for(ra_sales).get(url).status_code == 403
    assert client_for(rb_admin).get(url).status_code == 404
    assert client_for(rb_admin).post(url, {"amount": "1.00"}).status_code == 404
    assert client_for(ra_finance).put(url).status_code == 405
    _post(client_for(ra_finance), books["resale"], amount="1.00")
    detail = reverse("billing:adjustment-detail", args=[Adjustment.objects.get().pk])
    assert client_for(rb_admin).get(detail).status_code == 404
    assert client_for(ra_sales).get(detail).status_code == 403


def test_an_upstream_refusal_is_shown_in_the_readers_language(client_for, ra_finance, books):
    client = client_for(ra_finance)
    _post(client, books["resale"], amount="1.00")
    adjustment = Adjustment.objects.get()
    adjustment.mark_sent()
    adjustment.mark_failed("CBC.5003: Insufficient balance")
    url = reverse("billing:adjustment-detail", args=[adjustment.pk])
    with translation.override("en"):
        assert adjustment.error_display().startswith("The account does not have enough available balance")
    client.cookies["django_language"] = "zh-hans"
    assert "CBC.5003" in client.get(url).content.decode()


# --- two tiers: the distributor and its resellers --------------------------------------------------------


def test_the_distributor_allocates_to_a_reseller_with_both_accounts_previewed(
    client_for, dist_admin, partners, books
):
    client = client_for(dist_admin)
    ra = partners["ra"]
    preview = reverse("billing:reseller-adjust-preview", args=[ra.pk])
    tiers = client.get(preview, {"kind": "allocate", "amount": "10.00"}).context["tiers"]
    assert [(t.role, t.before, t.after) for t in tiers] == [
        ("partner", Decimal("5000.00"), Decimal("4990.00")),
        ("reseller", Decimal("1000.00"), Decimal("1010.00")),
    ]
    url = reverse("billing:reseller-adjust", args=[ra.pk])
    token = client.get(url).context["form"].initial["form_token"]
    response = client.post(url, {"kind": "allocate", "amount": "10.00", "memo": "", "form_token": token})
    adjustment = Adjustment.objects.get()
    assert response.status_code == 302
    assert (adjustment.partner, adjustment.reseller, adjustment.customer) == (partners["dist"], ra, None)
    assert OutboxCommand.objects.get().kind == "billing.allocate_reseller"


def test_a_reclaim_from_a_reseller_cannot_exceed_what_it_holds(client_for, dist_admin, partners, books):
    client = client_for(dist_admin)
    url = reverse("billing:reseller-adjust", args=[partners["rb"].pk])
    token = client.get(url).context["form"].initial["form_token"]
    before = _state()
    response = client.post(url, {"kind": "reclaim", "amount": "10.01", "memo": "", "form_token": token})
    assert "amount" in response.context["form"].errors and _state() == before


def test_only_a_distributor_acts_on_resellers_and_only_on_its_own(
    client_for, ra_admin, rb_admin, partners, books
):
    url = reverse("billing:reseller-adjust", args=[partners["rb"].pk])
    assert client_for(ra_admin).get(url).status_code == 404
    assert client_for(rb_admin).get(url).status_code == 404  # not even itself
    own = reverse("billing:reseller-adjust", args=[partners["dist"].pk])
    assert client_for(rb_admin).get(own).status_code == 404


def test_the_balances_page_shows_each_account_with_its_freshness(
    client_for, dist_admin, ra_finance, ra_sales, partners, books
):
    page = client_for(dist_admin).get(reverse("billing:resellers"))
    assert page.status_code == 200
    assert page.context["own_available"] == Decimal("5000.00")
    assert [reseller for reseller, _account in page.context["rows"]] == [partners["ra"], partners["rb"]]
    own = client_for(ra_finance).get(reverse("billing:resellers"))
    # A reseller sees its own balance only: 1000 − 100 designated.
    assert own.context["rows"] == [] and own.context["own_available"] == Decimal("900.00")
    assert "Reseller B" not in own.content.decode()
    assert client_for(ra_sales).get(reverse("billing:resellers")).status_code == 403


# --- maker-checker -----------------------------------------------------------------------------------------


@pytest.fixture
def threshold(partners):
    from billing.models import ApprovalPolicy

    ApprovalPolicy.objects.create(partner=partners["ra"], approval_threshold=Decimal("100.00"))


def _detail(adjustment) -> str:
    return reverse("billing:adjustment-detail", args=[adjustment.pk])


def _decide(client, adjustment, decision: str, reason: str = ""):
    url = reverse("billing:adjustment-decide", args=[adjustment.pk])
    return client.post(url, {"decision": decision, "reason": reason})


def test_above_the_threshold_an_adjustment_waits_for_a_second_person(
    client_for, ra_finance, ra_admin, books, threshold
):
    _post(client_for(ra_finance), books["resale"], amount="100.01")
    adjustment = Adjustment.objects.get()
    assert adjustment.status == "awaiting" and not OutboxCommand.objects.exists()
    # Its funds are held meanwhile: 900.00 − 100.01 left to allocate.
    from billing.services import available_to_allocate

    assert available_to_allocate(books["resale"].partner) == Decimal("799.99")
    # The requester cannot approve their own.
    _decide(client_for(ra_finance), adjustment, "approve")
    adjustment.refresh_from_db()
    assert adjustment.status == "awaiting"
    page = client_for(ra_admin).get(_detail(adjustment))
    assert page.context["may_decide"] and 'data-testid="decide-form"' in page.content.decode()
    response = _decide(client_for(ra_admin), adjustment, "approve")
    adjustment.refresh_from_db()
    assert response.status_code == 302 and adjustment.status == "pending"
    assert adjustment.decided_by == ra_admin
    assert OutboxCommand.objects.get().kind == "billing.allocate"


def test_a_rejection_needs_a_reason_and_releases_the_funds(
    client_for, ra_finance, ra_admin, books, threshold
):
    from billing.services import available_to_allocate

    _post(client_for(ra_finance), books["resale"], amount="500.00")
    adjustment = Adjustment.objects.get()
    _decide(client_for(ra_admin), adjustment, "reject")
    adjustment.refresh_from_db()
    assert adjustment.status == "awaiting"
    _decide(client_for(ra_admin), adjustment, "reject", "not agreed with the customer")
    adjustment.refresh_from_db()
    assert (adjustment.status, adjustment.error_message) == ("rejected", "not agreed with the customer")
    assert available_to_allocate(books["resale"].partner) == Decimal("900.00")
    assert not OutboxCommand.objects.exists()
    _decide(client_for(ra_admin), adjustment, "approve")  # decided once
    adjustment.refresh_from_db()
    assert adjustment.status == "rejected"


def test_at_or_below_the_threshold_it_is_sent_at_once(client_for, ra_finance, books, threshold):
    _post(client_for(ra_finance), books["resale"], amount="100.00")
    assert Adjustment.objects.get().status == "pending" and OutboxCommand.objects.count() == 1


def test_another_partners_staff_cannot_decide(client_for, ra_finance, dist_admin, rb_admin, books, threshold):
    _post(client_for(ra_finance), books["resale"], amount="200.00")
    adjustment = Adjustment.objects.get()
    assert _decide(client_for(rb_admin), adjustment, "approve").status_code == 404
    _decide(client_for(dist_admin), adjustment, "approve")  # sees it, but is not of the requester's partner
    adjustment.refresh_from_db()
    assert adjustment.status == "awaiting"


def test_the_threshold_is_set_by_admins_with_a_clear_message_for_bad_input(
    client_for, ra_admin, ra_finance, partners
):
    from billing.models import ApprovalPolicy

    url = reverse("billing:settings")
    assert client_for(ra_finance).get(url).status_code == 403
    bad = client_for(ra_admin).post(url, {"approval_threshold": "-5"})
    assert bad.status_code == 200 and bad.context["form"].errors
    assert not ApprovalPolicy.objects.exists()
    client_for(ra_admin).post(url, {"approval_threshold": "1000.00"})
    assert ApprovalPolicy.threshold_for(partners["ra"]) == Decimal("1000.00")
    client_for(ra_admin).post(url, {"approval_threshold": ""})
    assert ApprovalPolicy.threshold_for(partners["ra"]) is None
