"""The customer's `balance` column (customers.models.CustomerQuerySet.refresh_balances) always equals a
recomputation from billing's accounts: after a real sync, after a succeeded allocation, after a switch of
association type, and for accounts saved one at a time. The list sorts on it, so a drift would misorder it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.models import CustomerAccount
from customers.models import AssociationType, Customer
from upstream.client import UpstreamClient
from upstream.outbox import drain
from upstream.tests.test_outbox import allocate, resale_customer, sync_from_upstream

pytestmark = pytest.mark.django_db


@pytest.fixture
def synced(upstream_settings, partners):
    sync_from_upstream()
    return partners


def recomputed() -> dict[int, Decimal | None]:
    amounts = dict(CustomerAccount.objects.values_list("customer_id", "amount"))
    return {
        pk: amounts.get(pk) if association == AssociationType.RESALE else None
        for pk, association in Customer.objects.values_list("pk", "association_type")
    }


def column() -> dict[int, Decimal | None]:
    return dict(Customer.objects.values_list("pk", "balance"))


def test_after_a_sync_every_balance_equals_its_account(synced):
    assert column() == recomputed()
    assert any(value is not None for value in column().values())  # resale customers with accounts were synced
    assert any(value is None for value in column().values())  # and referral customers hold none


def test_a_succeeded_allocation_moves_the_column_with_the_account(synced, scheduled, fast_outbox):
    customer = resale_customer(synced["ra"])
    before = Customer.objects.get(pk=customer.pk).balance
    allocate(customer, "12.34")
    with UpstreamClient.from_settings(rate_limit=0) as client:
        assert drain(client=client).succeeded == 1
    assert Customer.objects.get(pk=customer.pk).balance == before + Decimal("12.34")
    assert column() == recomputed()


def test_a_customer_switched_to_referral_loses_its_balance_and_back_gets_it(synced):
    customer = resale_customer(synced["ra"])
    Customer.objects.filter(pk=customer.pk).update(association_type=AssociationType.REFERRAL)
    Customer.objects.filter(pk=customer.pk).refresh_balances()
    assert Customer.objects.get(pk=customer.pk).balance is None
    Customer.objects.filter(pk=customer.pk).update(association_type=AssociationType.RESALE)
    assert Customer.objects.filter(pk=customer.pk).refresh_balances() == 1
    assert column() == recomputed()
    assert Customer.objects.filter(pk=customer.pk).refresh_balances() == 0  # nothing to write when in step


def test_an_account_saved_or_deleted_alone_updates_the_column(synced):
    customer = resale_customer(synced["ra"])
    account = CustomerAccount.objects.get(customer=customer)
    account.amount = Decimal("5.00")
    account.save()
    assert Customer.objects.get(pk=customer.pk).balance == Decimal("5.00")
    account.amount = Decimal("7.50")
    account.save()
    assert Customer.objects.get(pk=customer.pk).balance == Decimal("7.50")
    account.delete()
    assert Customer.objects.get(pk=customer.pk).balance is None
