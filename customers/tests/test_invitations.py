"""Inviting an existing customer (issue 14): the signed single-use link (expiry, tampering, revocation), the
customer's agreement with a code, the association through the outbox with reconciliation (an
apply-then-time-out makes one association), bad input that changes nothing, roles and tenancy."""

from __future__ import annotations

import itertools
import re
import time
from datetime import timedelta

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent, Message
from customers import invitations
from customers.invitations import BadInvitation, Invitation, invitation_for_token, invitation_token, invite
from customers.models import Customer
from upstream import outbox
from upstream.client import UpstreamClient
from upstream.models import OutboxCommand

_seq = itertools.count(1)
POOL = "/_sim/onboarding/independent-accounts"


@pytest.fixture(autouse=True)
def _english(settings):
    """Messages are matched in English (the site default is Chinese)."""
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def no_broker(monkeypatch):
    monkeypatch.setattr(outbox, "schedule_drain", lambda key=None, *, countdown=None: None)


@pytest.fixture
def sends(django_capture_on_commit_callbacks):
    """`with sends():` runs what a step leaves for after its commit (the emails), as a real commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def independent(sim, **extra) -> str:
    """A fresh platform account associated with no partner (each test its own)."""
    name = f"indie-t{next(_seq):03d}{int(time.time() * 1000) % 100000:05d}"
    sim.admin("POST", POOL, {"account_name": name, **extra})
    return name


def drain():
    with UpstreamClient.from_settings(rate_limit=0) as client:
        return outbox.drain(client=client)


def link_in(mail) -> str:
    return re.search(r"(/invite/[^/\s]+/)", mail.body).group(1)


def code_in(mail) -> str:
    return re.search(r"\b(\d{6})\b", mail.body).group(1)


def agree(customer: Client, path: str, account_name: str, code: str, **extra):
    data = {"account_name": account_name, "notice_switch": "on", "notice_partner": "on", "code": code}
    return customer.post(path, {**data, **extra})


def new_invitation(user, **fields) -> Invitation:
    values = {"email": f"owner{next(_seq)}@customer.example.cn", "association_type": "2", "language": "en"}
    return invite(user, **{**values, **fields})


def send_code(sends, customer: Client, path: str, mailoutbox) -> str:
    with sends():
        customer.post(f"{path}code/")
    return code_in(mailoutbox[-1])


@pytest.mark.django_db
def test_sales_invites_and_the_customer_agrees_and_is_associated_at_once(
    upstream_settings, upstream_sim, ra_sales, client_for, no_broker, mailoutbox, sends
):
    staff = client_for(ra_sales)
    assert reverse("customers:invitations") in staff.get(reverse("customers:list")).content.decode()
    with sends():
        response = staff.post(
            reverse("customers:invitation-new"),
            {"email": "Owner@Customer.example.cn", "association_type": "2", "language": "en"},
        )
    assert response.status_code == 302 and response.url == reverse("customers:invitations")
    invitation = Invitation.objects.get()
    assert (invitation.partner.upstream_id, invitation.status, invitation.created_by) == (
        "ip-reseller-a",
        "sent",
        ra_sales,
    )
    assert invitation.expires_at - invitation.created_at == timedelta(days=7)
    [mail] = mailoutbox
    assert mail.to == ["Owner@Customer.example.cn"] and "Reseller A" in mail.subject
    path = link_in(mail)
    # The list shows it, the email masked; the demo outbox gives it to the partner's admins.
    listing = staff.get(reverse("customers:invitations")).content.decode()
    assert "O***@Customer.example.cn" in listing and "Owner@" not in listing
    assert Message.objects.filter(tag="invitation", partner_id=invitation.partner_id).count() == 1

    customer = Client()
    page = customer.get(path)
    assert page.status_code == 200
    body = page.content.decode()
    assert "Reseller A" in body and "Resale" in body
    assert "The partner pays for your use and allocates funds to your account" in body
    code = send_code(sends, customer, path, mailoutbox)
    assert mailoutbox[1].to == ["Owner@Customer.example.cn"]
    name = independent(upstream_sim)
    response = agree(customer, path, name, code)
    assert response.status_code == 302 and response.url == f"{path}status/"
    invitation.refresh_from_db()
    assert (invitation.status, invitation.account_name) == ("accepted", name)
    assert customer.get(response.url).context["invitation"].status == "accepted"

    assert drain().succeeded == 1
    invitation.refresh_from_db()
    assert invitation.status == "associated"
    created = invitation.customer
    assert (created.account_name, created.partner.upstream_id, created.association_type) == (
        name,
        "ip-reseller-a",
        "2",
    )
    with UpstreamClient.from_settings(rate_limit=0) as client:
        upstream = client.find_customer_by_account_name(name, indirect_partner_id="ip-reseller-a")
    assert upstream.customer_id == created.customer_id
    # The customer shows in the list at once, and the status page says so.
    assert (
        reverse("customers:detail", args=[created.pk])
        in staff.get(reverse("customers:list")).content.decode()
    )
    assert customer.get(f"{path}status/").context["invitation"].status == "associated"
    events = AuditEvent.objects.filter(target_type="customers.invitation", target_id=str(invitation.pk))
    actions = set(events.values_list("action", flat=True))
    assert actions == {"invitation_sent", "invitation_accepted", "invitation_associated"}
    # Used once: the link now shows the status; agreeing again changes nothing.
    assert customer.get(path).url == f"{path}status/"
    agree(customer, path, name, code)
    assert OutboxCommand.objects.filter(kind=invitations.ACCEPT_INVITATION).count() == 1


@pytest.mark.django_db
def test_a_referral_invitation_explains_that_the_customer_pays(upstream_settings, ra_admin, no_broker):
    invitation = new_invitation(ra_admin, association_type="1", account_name_hint="indie-001")
    page = Client().get(reverse("confirm:invite", args=[invitation_token(invitation)]))
    body = page.content.decode()
    assert "You pay for your use yourself" in body and "Referral" in body
    assert page.context["form"]["account_name"].value() == "indie-001"


@pytest.mark.django_db
def test_bad_input_is_refused_with_a_clear_message_and_nothing_changes(
    upstream_settings, upstream_sim, ra_sales, make_customer, no_broker, mailoutbox, sends
):
    invitation = new_invitation(ra_sales)
    path = reverse("confirm:invite", args=[invitation_token(invitation)])
    customer = Client()
    code = send_code(sends, customer, path, mailoutbox)
    name = independent(upstream_sim)
    wrong = "000000" if code != "000000" else "111111"
    taken = make_customer("rb").account_name
    cases = [
        ({"account_name": name, "code": wrong}, "That code is wrong or has expired."),
        # Without the code, nothing is said about an account name (the link alone cannot probe them).
        ({"account_name": taken, "code": wrong}, "That code is wrong or has expired."),
        ({"account_name": "bad name!", "code": code}, "5 to 32 letters, digits"),
        ({"account_name": "nobody-" + name, "code": code}, "No cloud account has this account name."),
        ({"account_name": taken, "code": code}, "This account is already associated with a partner."),
        ({"account_name": name, "code": code, "notice_partner": ""}, "Tick both notices to agree."),
    ]
    for data, message in cases:
        response = agree(customer, path, data.pop("account_name"), data.pop("code"), **data)
        assert response.status_code == 200, data
        assert message in response.content.decode()
        if message.startswith("That code"):
            assert "already associated" not in response.content.decode()
    invitation.refresh_from_db()
    assert (invitation.status, invitation.code_failures) == ("sent", 2)
    assert not OutboxCommand.objects.filter(kind=invitations.ACCEPT_INVITATION).exists()
    # A code asked for again too soon is refused; the one sent still works.
    response = customer.post(f"{path}code/", HTTP_HX_REQUEST="true")
    assert "A code was sent just now" in response.content.decode()
    assert agree(customer, path, name, code).status_code == 302


@pytest.mark.django_db
def test_too_many_wrong_codes_burn_the_code(
    upstream_settings, upstream_sim, ra_sales, no_broker, mailoutbox, settings, sends
):
    settings.STEP_UP_MAX_ATTEMPTS = 2
    invitation = new_invitation(ra_sales)
    path = reverse("confirm:invite", args=[invitation_token(invitation)])
    customer = Client()
    code = send_code(sends, customer, path, mailoutbox)
    name = independent(upstream_sim)
    wrong = "000000" if code != "000000" else "111111"
    agree(customer, path, name, wrong)
    agree(customer, path, name, wrong)
    response = agree(customer, path, name, code)  # burnt: the right code no longer works
    assert "That code is wrong or has expired." in response.content.decode()
    assert Invitation.objects.get(pk=invitation.pk).status == "sent"


@pytest.mark.django_db
def test_expired_tampered_and_revoked_links_show_a_clear_page(ra_admin, client_for, settings):
    customer = Client()
    expired = new_invitation(ra_admin)
    Invitation.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = customer.get(reverse("confirm:invite", args=[invitation_token(expired)]))
    assert response.status_code == 410 and response.context["reason"] == "expired"
    assert "This invitation has expired." in response.content.decode()
    assert Invitation.objects.get(pk=expired.pk).status == "expired"  # marked on sight, and audited
    assert AuditEvent.objects.filter(action="invitation_expired", target_id=str(expired.pk)).exists()

    good = new_invitation(ra_admin)
    token = invitation_token(good)
    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "x", token + "x"):
        response = customer.get(reverse("confirm:invite", args=[bad]))
        assert response.status_code == 410 and response.context["reason"] == "invalid"
    other_salt = signing.dumps({"i": good.pk, "n": good.token_nonce}, salt="customers.association-confirm")
    assert customer.get(reverse("confirm:invite", args=[other_salt])).status_code == 410
    wrong_nonce = signing.dumps({"i": good.pk, "n": "0" * 32}, salt=invitations.INVITE_SALT)
    with pytest.raises(BadInvitation):
        invitation_for_token(wrong_nonce)
    assert invitation_for_token(token).pk == good.pk

    staff = client_for(ra_admin)
    response = staff.post(reverse("customers:invitation-revoke", args=[good.pk]))
    assert response.status_code == 302
    assert Invitation.objects.get(pk=good.pk).status == "revoked"
    response = customer.get(reverse("confirm:invite", args=[token]))
    assert response.status_code == 410 and response.context["reason"] == "revoked"
    assert customer.post(reverse("confirm:invite-code", args=[token])).status_code == 410
    # Revoked twice, or an expired one: refused with a message, nothing changes.
    staff.post(reverse("customers:invitation-revoke", args=[good.pk]))
    assert Invitation.objects.get(pk=good.pk).status == "revoked"
    assert AuditEvent.objects.filter(action="invitation_revoked").count() == 1


@pytest.mark.django_db
def test_the_beat_task_marks_unanswered_invitations_expired_and_no_others(ra_admin, settings):
    from customers.tasks import expire_invitations

    due, fresh, revoked = new_invitation(ra_admin), new_invitation(ra_admin), new_invitation(ra_admin)
    past = timezone.now() - timedelta(seconds=1)
    Invitation.objects.filter(pk__in=[due.pk, revoked.pk]).update(expires_at=past)
    Invitation.objects.filter(pk=revoked.pk).update(status=Invitation.Status.REVOKED)
    assert expire_invitations() == 1
    statuses = dict(Invitation.objects.values_list("pk", "status"))
    assert statuses == {due.pk: "expired", fresh.pk: "sent", revoked.pk: "revoked"}
    assert expire_invitations() == 0  # nothing left to mark
    assert (
        settings.CELERY_BEAT_SCHEDULE["customers-expire-invitations"]["task"]
        == "customers.expire_invitations"
    )


@pytest.mark.django_db
def test_a_refusal_upstream_fails_the_invitation_with_the_reason_and_creates_nothing(
    upstream_settings, upstream_sim, ra_sales, no_broker, mailoutbox, sends
):
    # The account left a partner of its own accord 30 days ago: the platform's cooldown holds it back.
    name = independent(upstream_sim, left_days_ago=30)
    invitation = new_invitation(ra_sales)
    with sends():
        invitations.send_code(invitation)
    invitations.accept(invitation, account_name=name, code=code_in(mailoutbox[-1]))
    assert drain().failed == 1
    invitation.refresh_from_db()
    assert (invitation.status, invitation.error_code) == ("failed", "CBC.99000042")
    assert invitation.failure_message.startswith("This account left its partner of its own accord")
    assert not Customer.objects.filter(account_name=name).exists()
    page = Client().get(reverse("confirm:invite-status", args=[invitation_token(invitation)]))
    assert "This account left its partner of its own accord" in page.content.decode()
    assert "CBC." not in page.content.decode()  # no raw codes in the UI
    assert AuditEvent.objects.filter(action="invitation_failed", target_id=str(invitation.pk)).exists()


@pytest.mark.django_db
def test_an_acceptance_applied_then_timed_out_is_found_and_not_associated_again(
    private_upstream, ra_sales, no_broker, settings, mailoutbox, sends
):
    settings.UPSTREAM_READ_TIMEOUT = 0.5
    settings.OUTBOX_RECONCILE_GRACE_SECONDS = 0
    name = independent(private_upstream)
    invitation = new_invitation(ra_sales, association_type="1")
    with sends():
        invitations.send_code(invitation)
    invitations.accept(invitation, account_name=name, code=code_in(mailoutbox[-1]))
    private_upstream.set_faults(
        apply_then_timeout={"operations": ["AcceptPartnerInvitation"], "rate": 1.0, "hang_seconds": 1}
    )
    first = drain()
    private_upstream.clear_faults()
    command = OutboxCommand.objects.get(object_id=str(invitation.pk), kind=invitations.ACCEPT_INVITATION)
    assert (first.unknown, command.status) == (1, "unknown")
    assert Invitation.objects.get(pk=invitation.pk).status == "accepted"
    time.sleep(0.6)
    again = drain()
    assert (again.reconciled_found, again.sent) == (1, 0)
    command.refresh_from_db()
    assert command.status == "succeeded" and command.result["reconciled"] is True
    with UpstreamClient.from_settings(rate_limit=0) as client:
        upstream = client.find_customer_by_account_name(name, indirect_partner_id="ip-reseller-a")
        records = client.list_association_records(
            customer_id=upstream.customer_id, indirect_partner_id="ip-reseller-a"
        ).items
    assert [(r.operation_type, r.initiator) for r in records] == [("ASSOCIATE", "CUSTOMER")]  # one
    invitation.refresh_from_db()
    assert invitation.status == "associated" and invitation.customer.customer_id == upstream.customer_id
    assert invitation.customer.association_type == "1"


@pytest.mark.django_db
def test_roles_and_tenancy(ra_finance, ra_viewer, rb_admin, ra_sales, dist_admin, client_for, client):
    new, listing = reverse("customers:invitation-new"), reverse("customers:invitations")
    assert client.get(new).status_code == 302  # anonymous: to the sign-in page
    for user in (ra_finance, ra_viewer):
        assert client_for(user).get(new).status_code == 403
        assert client_for(user).get(listing).status_code == 403
    invitation = new_invitation(ra_sales)
    revoke = reverse("customers:invitation-revoke", args=[invitation.pk])
    assert client_for(rb_admin).post(revoke).status_code == 404  # another partner's does not exist
    assert f'data-invitation="{invitation.pk}"' not in client_for(rb_admin).get(listing).content.decode()
    assert f'data-invitation="{invitation.pk}"' in client_for(dist_admin).get(listing).content.decode()
    assert Invitation.objects.get(pk=invitation.pk).status == "sent"
    # Bad input on the form: nothing is written, nothing is sent.
    response = client_for(ra_sales).post(
        new, {"email": "not-an-email", "association_type": "9", "language": "fr"}
    )
    assert set(response.context["form"].errors) == {"email", "association_type", "language"}
    response = client_for(ra_sales).post(
        new,
        {"email": "a@b.example.cn", "association_type": "2", "language": "en", "account_name_hint": "../x"},
    )
    assert "account_name_hint" in response.context["form"].errors
    assert Invitation.objects.count() == 1


@pytest.mark.django_db
def test_the_customer_page_speaks_chinese_by_default(ra_admin, settings, no_broker):
    settings.LANGUAGE_CODE = "zh-hans"
    invitation = new_invitation(ra_admin)
    body = Client().get(reverse("confirm:invite", args=[invitation_token(invitation)])).content.decode()
    assert "关联" in body
    for english in ("Associate your account", "Your agreement", "The partner pays", "Send a code to"):
        assert english not in body
