"""Inviting an existing customer (issue 14): the **ext** AcceptPartnerInvitation on the simulator, through the
portal's client over signed HTTP — the pool of accounts associated with no partner, the association with its
record, the same invitation sent again, the refusals, and the lookup that reconciles a lost answer."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime

import httpx
import pytest

from upstream.client import RetryPolicy, UpstreamClient
from upstream.errors import (
    AlreadyAssociated,
    AssociationCooldown,
    InvitedAccountNotFound,
    OutcomeUnknown,
    UnsupportedOperation,
    ValidationRejected,
)
from upstream.simulator.testing import SimulatorProcess
from upstream.types import AcceptedInvitation

RA, RB = "ip-reseller-a", "ip-reseller-b"
FAST = RetryPolicy(attempts=2, backoff_initial=0.01, backoff_max=0.02, rate_limited_wait=(0.05, 0.1))
POOL = "/_sim/onboarding/independent-accounts"
_numbers = itertools.count(1)


def unique(prefix: str = "inv") -> str:
    return f"{prefix}-{next(_numbers):04d}{int(time.time() * 1000) % 100000:05d}"


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    with SimulatorProcess(
        customers=40, seed=43, data_dir=tmp_path_factory.mktemp("invitations-sim"), rate_limit=0
    ) as process:
        yield process


@pytest.fixture
def client(sim):
    sim.clear_faults()
    with UpstreamClient(
        sim.url, "demo-ak", "demo-sk", "demo-distributor", is_simulator=True, retry=FAST, rate_limit=0
    ) as upstream:
        yield upstream
    sim.clear_faults()


def independent(sim, **extra) -> str:
    """A fresh account associated with no partner (the test's own), its account name."""
    name = unique("indie")
    sim.admin("POST", POOL, {"account_name": name, **extra})
    return name


def accept(client, account_name, *, invitation_id=None, association_type="2", scope=RA):
    return client.accept_partner_invitation(
        invitation_id=invitation_id or unique("portal-invitation"),
        account_name=account_name,
        association_type=association_type,
        customer_confirmed_at=datetime.now(UTC),
        indirect_partner_id=scope,
    )


def test_the_world_has_a_pool_of_unassociated_accounts_that_exist_on_the_platform(sim, client):
    pool = {a["account_name"]: a for a in sim.admin("GET", POOL)["accounts"]}
    assert {"indie-001", "indie-002", "indie-019", "indie-020"} <= set(pool)  # (others get associated)
    first = pool["indie-001"]
    assert first["email"].endswith(".example.cn") and len(first["telephone"]) == 11
    assert (pool["indie-019"]["left_at"], pool["indie-020"]["left_at"]) != (None, None)
    # They exist on the platform (the name is not free) but are nobody's customers.
    assert client.check_user_identity("name", "indie-001").available is False
    assert client.find_customer_by_account_name("indie-001") is None
    assert client.find_customer_by_account_name("indie-001", indirect_partner_id=RA) is None


def test_the_pool_is_drawn_from_the_seed_and_is_nobodys_customer(tmp_path):
    def snapshot(data_dir):
        with SimulatorProcess(customers=20, seed=5, data_dir=data_dir, rate_limit=0) as process:
            pool = process.admin("GET", POOL)["accounts"]
            state = process.admin("GET", "/_sim/state")
        return [(a["account_name"], a["customer_id"], a["email"], a["telephone"]) for a in pool], state

    (first, state), (second, second_state) = snapshot(tmp_path / "a"), snapshot(tmp_path / "b")
    assert first == second and len(first) == 20
    # The generated customers (20 with one gone) and their records are all there is: the pool adds none.
    assert (state["customers"]["active"], state["customers"]["gone"]) == (20, 1)
    assert state["association_records"] == second_state["association_records"]


def test_accepting_associates_the_account_with_a_customer_initiated_record(client):
    name = "indie-003"
    accepted = accept(client, name, association_type="2")
    assert isinstance(accepted, AcceptedInvitation)
    assert (accepted.account_name, accepted.association_type) == (name, "2")
    found = client.find_customer_by_account_name(name, indirect_partner_id=RA)
    assert found is not None and found.customer_id == accepted.customer_id
    assert found.association_type == "2"
    assert client.find_customer_by_account_name(name) is None  # the reseller's, not the distributor's own
    records = client.list_association_records(customer_id=accepted.customer_id, indirect_partner_id=RA).items
    assert [(r.record_id, r.operation_type, r.initiator, r.association_type) for r in records] == [
        (accepted.record_id, "ASSOCIATE", "CUSTOMER", "2")
    ]


def test_the_same_invitation_sent_again_gives_the_same_result_and_no_second_association(sim, client):
    name = independent(sim)
    invitation_id = unique("portal-invitation")
    first = accept(client, name, invitation_id=invitation_id, association_type="1")
    again = accept(client, name, invitation_id=invitation_id, association_type="1")
    assert (again.customer_id, again.record_id) == (first.customer_id, first.record_id)
    records = client.list_association_records(customer_id=first.customer_id, indirect_partner_id=RA).items
    assert len(records) == 1
    # The same invitation id for another account is refused, and associates nothing.
    other = independent(sim)
    with pytest.raises(ValidationRejected):
        accept(client, other, invitation_id=invitation_id)
    assert client.find_customer_by_account_name(other, indirect_partner_id=RA) is None


def test_refusals_change_nothing(sim, client):
    with pytest.raises(InvitedAccountNotFound) as unknown:
        accept(client, unique("nobody"))
    assert unknown.value.error_code == "CBC.99000040"
    # Already associated: a generated customer, and a pool account another partner got first.
    generated = client.list_sub_customers(limit=1).items[0]
    with pytest.raises(AlreadyAssociated):
        accept(client, generated.account_name)
    taken = independent(sim)
    accept(client, taken, scope=RB)
    with pytest.raises(AlreadyAssociated) as associated:
        accept(client, taken, scope=RA)
    assert associated.value.error_code == "CBC.99000041"
    assert client.find_customer_by_account_name(taken, indirect_partner_id=RA) is None
    assert client.find_customer_by_account_name(taken, indirect_partner_id=RB) is not None
    # Cooldown: the account left a partner of its own accord 30 days ago (90 days hold it back).
    with pytest.raises(AssociationCooldown) as cooling:
        accept(client, "indie-020")
    assert cooling.value.error_code == "CBC.99000042" and "associate again from" in cooling.value.error_msg
    assert client.find_customer_by_account_name("indie-020", indirect_partner_id=RA) is None
    left_long_ago = independent(sim, left_days_ago=120)
    assert accept(client, left_long_ago).customer_id
    # Malformed input.
    with pytest.raises(ValidationRejected):
        accept(client, independent(sim), association_type="3")
    with pytest.raises(ValidationRejected):
        accept(client, independent(sim), invitation_id="bad id!")


def test_a_disassociated_customer_can_be_invited_again(sim, client):
    name = independent(sim)
    first = accept(client, name, scope=RB)
    sim.admin("POST", f"/_sim/customers/{first.customer_id}/remove")  # disassociated by the platform
    assert client.find_customer_by_account_name(name, indirect_partner_id=RB) is None
    again = accept(client, name, scope=RA, association_type="1")
    assert again.customer_id == first.customer_id
    found = client.find_customer_by_account_name(name, indirect_partner_id=RA)
    assert found is not None and found.association_type == "1"


def test_an_answer_lost_after_the_association_is_found_by_the_account_name(sim, client):
    name = independent(sim)
    sim.set_faults(
        apply_then_timeout={"operations": ["AcceptPartnerInvitation"], "rate": 1.0, "hang_seconds": 1}
    )
    with (
        UpstreamClient(
            sim.url,
            "demo-ak",
            "demo-sk",
            "demo-distributor",
            is_simulator=True,
            retry=FAST,
            rate_limit=0,
            read_timeout=0.5,
        ) as impatient,
        pytest.raises(OutcomeUnknown),
    ):
        accept(impatient, name, invitation_id="portal-invitation-lost")
    sim.clear_faults()
    found = client.find_customer_by_account_name(name, indirect_partner_id=RA)
    assert found is not None  # applied: the outbox's lookup finds it before any resend
    again = accept(client, name, invitation_id="portal-invitation-lost")
    assert again.customer_id == found.customer_id


def test_against_the_real_platform_it_fails_clearly_before_any_request():
    def refuse(request):
        raise AssertionError(f"no request should be made, got {request.method} {request.url}")

    real = UpstreamClient(
        "https://bss.myhuaweicloud.com",
        "AK",
        "SK",
        "domain",
        is_simulator=False,
        transport=httpx.MockTransport(refuse),
    )
    with pytest.raises(UnsupportedOperation) as caught:
        accept(real, "indie-001")
    assert "AcceptPartnerInvitation" in str(caught.value)
    real.close()
