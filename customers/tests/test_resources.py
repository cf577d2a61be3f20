"""Resources and resource packages (issue 12): the per-customer sync, "expiring within N days", the customer
panels with their filters, and the views' standard cases."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from customers.models import Customer, Resource, ResourcePackage
from upstream.client import UpstreamClient
from upstream.sync import run_dataset

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(settings):
    settings.LANGUAGE_CODE = "en"


def test_the_sync_mirrors_each_customers_resources_and_packages(upstream_settings, partners):
    with UpstreamClient.from_settings(rate_limit=0) as client:
        for name in ("indirect_partners", "customers"):
            assert run_dataset(name, client=client, mode="full").status == "succeeded"
        resources = run_dataset("resources", client=client)
        packages = run_dataset("resource_packages", client=client)
        assert resources.status == packages.status == "succeeded", resources.errors + packages.errors
        customer = Customer.objects.filter(partner=partners["ra"]).order_by("customer_id").first()
        period = list(
            client.iter_all(
                client.list_period_resources,
                customer_id=customer.customer_id,
                indirect_partner_id="ip-reseller-a",
            )
        )
        upstream_packages = list(
            client.iter_all(
                client.list_resource_packages,
                customer_id=customer.customer_id,
                indirect_partner_id="ip-reseller-a",
            )
        )
    assert resources.rows_created == Resource.objects.count() > 0
    assert packages.rows_created == ResourcePackage.objects.count() > 0
    mine = customer.resources.filter(charging="period")
    assert set(mine.values_list("resource_id", flat=True)) == {r.resource_id for r in period}
    assert customer.packages.count() == len(upstream_packages)
    if upstream_packages:
        package = ResourcePackage.objects.get(package_id=upstream_packages[0].order_instance_id)
        item = upstream_packages[0].free_resources[0]
        assert Decimal(package.items[0]["used"]) == item.used
    # Again: nothing new; a resource and a package the platform no longer lists are removed.
    stale = Resource.objects.create(
        partner=customer.partner, customer=customer, charging="period", resource_id="released-long-ago"
    )
    old = ResourcePackage.objects.create(partner=customer.partner, customer=customer, package_id="gone-pkg")
    with UpstreamClient.from_settings(rate_limit=0) as client:
        again = run_dataset("resources", client=client)
        packages_again = run_dataset("resource_packages", client=client)
    assert (again.rows_created, again.rows_updated, again.rows_vanished) == (0, 0, 1)
    assert packages_again.rows_vanished == 1
    assert not Resource.objects.filter(pk=stale.pk).exists()
    assert not ResourcePackage.objects.filter(pk=old.pk).exists()


@pytest.fixture
def customer(partners):
    return Customer.objects.create(
        partner=partners["ra"], customer_id="c-res", name="李四", association_type="2"
    )


def resource(customer, resource_id, days, charging="period"):
    return Resource.objects.create(
        partner=customer.partner,
        customer=customer,
        charging=charging,
        resource_id=resource_id,
        resource_name=resource_id,
        region_code="cn-north-4",
        status=2,
        expire_time=timezone.now() + timedelta(days=days),
    )


def package(customer, package_id, used, total, days):
    return ResourcePackage.objects.create(
        partner=customer.partner,
        customer=customer,
        package_id=package_id,
        product_name=package_id,
        status=1,
        expire_time=timezone.now() + timedelta(days=days),
        items=[{"name": "流量", "used": str(used), "total": str(total), "measure_id": 17}],
        used_share=Decimal(used) / Decimal(total),
    )


def test_expiring_resources_lists_those_within_the_days_asked(customer, client_for, ra_viewer, rb_admin):
    resource(customer, "soon", 5)
    resource(customer, "later", 45)
    resource(customer, "gone", -1)
    resource(customer, "on-demand", 3, charging="on_demand")
    client = client_for(ra_viewer)
    body = client.get(reverse("customers:resources")).content.decode()
    assert 'data-resource="soon"' in body and 'data-resource="later"' not in body
    assert 'data-resource="gone"' not in body and 'data-resource="on-demand"' not in body
    assert "李四" not in body  # masked
    wider = client.get(reverse("customers:resources"), {"days": "60"}).content.decode()
    assert 'data-resource="later"' in wider
    odd = client.get(reverse("customers:resources"), {"days": "abc"})
    assert odd.status_code == 200 and 'data-resource="soon"' in odd.content.decode()
    assert (
        'data-resource="soon"'
        not in client_for(rb_admin).get(reverse("customers:resources")).content.decode()
    )
    assert client.get(reverse("customers:resources")).status_code == 200


def test_the_panels_show_resources_and_packages_with_their_filters(customer, client_for, ra_viewer, rb_admin):
    resource(customer, "disk-1", 20)
    resource(customer, "vm-od", 0, charging="on_demand")
    package(customer, "nearly", 90, 100, 200)
    package(customer, "expiring", 10, 100, 10)
    client = client_for(ra_viewer)
    panel = client.get(reverse("customers:customer-resources", args=[customer.pk])).content.decode()
    assert 'data-resource="disk-1"' in panel and 'data-resource="vm-od"' in panel
    url = reverse("customers:customer-packages", args=[customer.pk])
    every = client.get(url).content.decode()
    assert 'data-package="nearly"' in every and 'value="90"' in every and "90 / 100 GB" in every
    nearly = client.get(url, {"show": "nearly_used_up"}).content.decode()
    assert 'data-package="nearly"' in nearly and 'data-package="expiring"' not in nearly
    expiring = client.get(url, {"show": "expiring"}).content.decode()
    assert 'data-package="expiring"' in expiring and 'data-package="nearly"' not in expiring
    assert client_for(rb_admin).get(url).status_code == 404
    assert client.post(url).status_code == 405


def test_a_resource_warning_links_to_the_expiring_resources(customer, client_for, ra_admin, partners):
    from customers.models import CustomerWarning

    warning = CustomerWarning.objects.create(
        partner=partners["ra"],
        customer=customer,
        customer_upstream_id=customer.customer_id,
        warning_id="w-res",
        category="RESOURCE",
        send_time=timezone.now(),
        status="PENDING",
    )
    page = client_for(ra_admin).get(reverse("customers:warning-detail", args=[warning.pk])).content.decode()
    assert 'href="/customers/resources/?customer=c-res" data-testid="warning-resources"' in page
