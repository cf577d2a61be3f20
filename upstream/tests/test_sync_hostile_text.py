"""Hostile upstream text in every dataset: NUL, bidi overrides and over-long values never stop a sync.

The values are planted in a private simulator (the session one stays clean for the other tests) through its
generic row-patching admin endpoint, then every dataset is synced and what the portal stored is checked.
"""

from __future__ import annotations

import logging

import pytest

from accounts.models import Partner
from billing.models import AdjustRecord, CommercialDiscount, CustomerAccount, DedicatedOffer, PartnerAccount
from customers.models import AssociationEvent, Customer, CustomerWarning, Order, Resource, ResourcePackage
from upstream.client import UpstreamClient
from upstream.models import SyncRun
from upstream.simulator.testing import SimulatorProcess
from upstream.sync import REGISTRY, datasets, run_dataset
from upstream.upsert import safe_text

HOSTILE = "Evil\x00\u202egnp.exe\u2066x\u2069\u202a\u202b\u202c\u202d\u2067\u2068"
SAFE = "Evilgnp.exex"
LONG = "LONG" + "x" * 996  # longer than any CharField it is planted in

# dataset → (table, where for the row made safe, {column: hostile value}, where for the refused row, column)
PLANTS = {
    "indirect_partners": (
        "partners",
        {"partner_id": "ip-reseller-a"},
        {"name": HOSTILE, "account_name": HOSTILE, "email": HOSTILE},
        {"partner_id": "ip-reseller-b"},
        "account_name",
    ),
    "customers": (
        "customers",
        {"seq": 1},
        {"customer": HOSTILE, "label": HOSTILE, "email": HOSTILE, "telephone": HOSTILE},
        {"seq": 2},
        "customer",
    ),
    "partner_balances": (
        "partner_accounts",
        {"partner_id": "demo-distributor", "account_type": 1},
        {"account_id": HOSTILE},
        {"partner_id": "ip-reseller-a", "account_type": 1},
        "account_id",
    ),
    "adjust_records": (
        "adjust_records",
        {"id": 1},
        {"customer_name": HOSTILE, "memo": HOSTILE},
        {"id": 2},
        "memo",
    ),
    "warnings": (
        "warnings",
        {"seq": 1},
        {"title": HOSTILE, "content": HOSTILE + LONG * 20, "scene_name": HOSTILE},
        {"seq": 2},
        "title",
    ),
    "association_records": (
        "association_records",
        {"seq": 1},
        {"initiator": "PARTNER\x00\u202e"},
        {"seq": 2},
        "initiator",
    ),
    "commercial_discounts": (
        "commercial_discounts",
        {"seq": 1},
        {"business_name": HOSTILE},
        {"seq": 2},
        "business_name",
    ),
    "dedicated_offers": (
        "dedicated_offers",
        {"seq": 1},
        {"name": HOSTILE, "product_ids": '["hw.ecs\\u0000\\u202e", "hw.obs"]'},
        {"seq": 2},
        "customer_account_name",
    ),
    # orders, resources and resource packages (issue 12)
    "orders": (
        "orders",
        {"seq": 1},
        {"service_type_name": HOSTILE, "user_name": HOSTILE},
        {"seq": 2},
        "service_type_name",
    ),
    "resources": (
        "resources",
        {"seq": 1},
        {"resource_name": HOSTILE, "product_spec_desc": HOSTILE},
        {"seq": 2},
        "resource_name",
    ),
    # Packages are read per mirrored customer: the first three belong to the customer refused above.
    "resource_packages": (
        "resource_packages",
        {"seq": 4},
        {"product_name": HOSTILE},
        {"seq": 5},
        "product_name",
    ),
}
# customer_balances carries no free text: only customer ids (keys, from the portal's own list) and a currency
# code the simulator fixes. It is synced below too, over the customers with hostile names.
NO_TEXT = {"customer_balances"}

# Every stored text column of every mirrored model, to look for anything unsafe or cut.
MODELS = [Partner, Customer, PartnerAccount, CustomerAccount, AdjustRecord, CustomerWarning, AssociationEvent]
MODELS += [CommercialDiscount, DedicatedOffer, Order, Resource, ResourcePackage]


@pytest.fixture(scope="module")
def hostile_sim(tmp_path_factory):
    sim = SimulatorProcess(
        customers=60, seed=7, resellers=2, data_dir=tmp_path_factory.mktemp("hostile-sim"), rate_limit=0
    )
    sim.start()
    for name, (table, where, values, refused_where, refused_column) in PLANTS.items():
        assert sim.patch_rows(table, where, **values) == 1, name
        assert sim.patch_rows(table, refused_where, **{refused_column: LONG}) == 1, name
    yield sim
    sim.stop()


def test_every_dataset_has_hostile_values_planted():
    assert set(PLANTS) | NO_TEXT == set(REGISTRY)


def test_the_simulator_refuses_a_patch_of_an_unknown_table_or_column(hostile_sim):
    from upstream.simulator.testing import SimulatorError

    with pytest.raises(SimulatorError, match="400"):
        hostile_sim.patch_rows("customers;DROP%20TABLE%20meta", {"seq": 1}, customer="x")
    with pytest.raises(SimulatorError, match="unknown: nope"):
        hostile_sim.patch_rows("customers", {"seq": 1}, nope="x")


@pytest.mark.django_db
def test_hostile_text_in_every_dataset_is_stored_safe_or_the_row_refused(
    hostile_sim, settings, partners, caplog
):
    settings.UPSTREAM_ENDPOINT = hostile_sim.url
    caplog.set_level(logging.WARNING, logger="upstream.upsert")
    with UpstreamClient.from_settings(rate_limit=0) as client:
        runs = {d.name: run_dataset(d.name, client=client, mode="full") for d in datasets()}
        # Run again: the cleaned values are stable (nothing "changes" on every run) and still refused.
        again = {d.name: run_dataset(d.name, client=client, mode="full") for d in datasets()}

    for name, run in runs.items():
        assert run.status == SyncRun.Status.SUCCEEDED, (name, run.errors)
        if name in PLANTS:
            assert run.rows_refused >= 1, name
    for name, run in again.items():
        assert run.status == SyncRun.Status.SUCCEEDED, (name, run.errors)
        assert (run.rows_created, run.rows_updated) == (0, 0), name
        assert run.rows_refused == runs[name].rows_refused, name
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert any("customers.Customer.name" in m for m in refusals)
    assert any("customers.CustomerWarning.title" in m for m in refusals)

    # Nothing unsafe anywhere, and no over-long value stored cut (a cut one would start with LONGxxx).
    for model in MODELS:
        text_fields = [
            f.attname
            for f in model._meta.concrete_fields
            if f.get_internal_type() in ("CharField", "TextField")
        ]
        for row in model.objects.values(*text_fields):
            for column, value in row.items():
                assert value == safe_text(value), (model, column, value)
                if column != "content":
                    assert not value.startswith("LONGxx"), (model, column)

    # The planted values arrived, cleaned.
    ra = Partner.objects.get(upstream_id="ip-reseller-a")
    assert (ra.name, ra.account_name, ra.email) == (SAFE, SAFE, SAFE)
    assert Partner.objects.get(upstream_id="ip-reseller-b").name == "Reseller B"  # refused: left as it was
    assert Customer.objects.filter(name=SAFE, label=SAFE, email=SAFE, phone=SAFE).count() == 1
    assert Order.objects.filter(service_type_name=SAFE).count() == 1
    assert Resource.objects.filter(resource_name=SAFE, spec=SAFE).count() == 1
    assert ResourcePackage.objects.filter(product_name=SAFE).count() == 1
    assert PartnerAccount.objects.filter(account_id=SAFE).count() == 1
    assert AdjustRecord.objects.filter(customer_name=SAFE, memo=SAFE).count() == 1
    warning = CustomerWarning.objects.get(title=SAFE)
    assert warning.scene_name == SAFE
    assert warning.content == SAFE + LONG * 20  # a long TextField is kept whole
    assert AssociationEvent.objects.filter(initiator="PARTNER").exists()
    assert CommercialDiscount.objects.filter(business_name=SAFE).count() == 1
    offer = DedicatedOffer.objects.get(name=SAFE)
    assert offer.product_ids == ["hw.ecs", "hw.obs"]
