"""Small factories for customers and warnings, built directly with the ORM under the persona partners."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.utils import timezone

from customers.models import AssociationType, Customer, CustomerWarning

_seq = itertools.count(1)


@pytest.fixture
def make_customer(partners):
    """make_customer("ra", name=..., account_manager=...) → a resale customer of that partner."""

    def make(partner_key: str = "ra", **fields) -> Customer:
        n = next(_seq)
        values = {
            "partner": partners[partner_key],
            "customer_id": f"cust-{partner_key}-{n:05d}",
            "name": f"张伟{n}",
            "account_name": f"acct-{partner_key}-{n:05d}",
            "phone": f"1381234{n:04d}",
            "email": f"user{n}@example.com",
            "association_type": AssociationType.RESALE,
            "associated_on": timezone.now() - timedelta(minutes=n),
            "label": "vip",
            "customer_level": "V2",
        }
        values.update(fields)
        return Customer.objects.create(**values)

    return make


@pytest.fixture
def make_warning(make_customer):
    """make_warning(customer=..., category="CHURN") → a pending warning about that customer."""

    def make(customer: Customer | None = None, **fields) -> CustomerWarning:
        n = next(_seq)
        customer = customer or make_customer("ra")
        values = {
            "partner": customer.partner,
            "customer": customer,
            "customer_upstream_id": customer.customer_id,
            "warning_id": f"warn-{n:06d}",
            "scene_name": "流失预警",
            "category": CustomerWarning.Category.CHURN,
            "title": f"Customer may churn {n}",
            "content": "Spending dropped by 80%.",
            "send_time": timezone.now() - timedelta(seconds=n),
        }
        values.update(fields)
        warning = CustomerWarning.objects.create(**values)
        # As the warnings sync does after each page: the customer's maintained open-warning counter.
        if warning.customer_id:
            Customer.objects.filter(pk=warning.customer_id).recount_open_warnings()
        return warning

    return make


# --- real-name verification (test_onboarding_realname.py, test_onboarding_personal.py) ---------------------


@pytest.fixture
def docs(settings, tmp_path):
    """The documents storage on a directory of the test's own."""
    settings.STORAGES = {
        **settings.STORAGES,
        "documents": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "documents")},
        },
    }
    return tmp_path / "documents"


@pytest.fixture
def new_customer(private_upstream, ra_sales, monkeypatch):
    """A customer of Reseller A created upstream through the outbox (not verified)."""
    from customers.onboarding import apply_for_customer
    from customers.tests.test_onboarding import drain, fresh_name
    from upstream import outbox

    monkeypatch.setattr(outbox, "schedule_drain", lambda key=None, *, countdown=None: None)
    application = apply_for_customer(ra_sales, {"account_name": fresh_name()})
    drain()
    application.refresh_from_db()
    return application.customer
