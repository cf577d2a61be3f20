"""Price inquiry for quotes (/billing/quote/): the platform's on-demand price, and the customer's price.

The platform prices a product by the hour at the official price (ListOnDemandResourceRatings; a partner's
inquiry carries no customer discount), so the portal applies the customer's discount itself, with the same
rule as the customer page (`services.effective_rate`: discounts do not stack, the lowest rate in force
applies) and the platform's rounding of inquiry amounts (6 places, half up).

The catalogue (service types, resource types, specs) changes rarely: its answers are kept in Django's cache
for `CATALOGUE_SECONDS`, per language. Nothing here is saved: a quote is a read, made again for each export.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

from billing.models import CommercialDiscount, PartnerDiscount
from billing.services import effective_rate
from customers.models import Customer
from portal.lib.money import price_str, to_price

CATALOGUE_SECONDS = 6 * 3600

# The regions the platform's price inquiry accepts (docs/upstream.md: the simulator's regions); the platform
# offers no operation that lists them, so they are named here.
REGIONS = {
    "cn-north-4": _("CN North-Beijing4"),
    "cn-east-3": _("CN East-Shanghai1"),
    "cn-south-1": _("CN South-Guangzhou"),
}

# Linear products are priced per unit of size (ListOnDemandResourceRatings: resource_size with
# size_measure_id 17 GB or 15 Mbit/s); the platform's catalogue does not say which, so the resource types are
# named here with their unit.
MEASURE_GB, MEASURE_MBPS = 17, 15
LINEAR_RESOURCE_TYPES = {
    "hws.resource.type.volume": MEASURE_GB,
    "hws.resource.type.bandwidth": MEASURE_MBPS,
}
SIZE_UNITS = {MEASURE_GB: _("GB"), MEASURE_MBPS: _("Mbit/s")}

# The platform's limits of one inquiry item (docs/upstream.md, the simulator's validation).
MAX_HOURS = Decimal(1_000_000)
MAX_QUANTITY = 10_000
MAX_SIZE = 1_000_000
MAX_AMOUNT = Decimal(1_000_000_000)  # a larger result is refused (CBC.99006055)


def _language() -> str:
    return "en_US" if (get_language() or "").startswith("en") else "zh_CN"


def _client():
    from upstream.client import RetryPolicy, UpstreamClient

    # A short read the user is waiting for: two tries, not the sync's patience.
    return UpstreamClient.from_settings(retry=RetryPolicy(attempts=2, backoff_initial=0.2))


def _cached(key: str, fetch):
    value = cache.get(key)
    if value is None:
        value = fetch()
        cache.set(key, value, CATALOGUE_SECONDS)
    return value


def service_types() -> list[tuple[str, str]]:
    """(code, name) of every cloud service type, in the reader's language (cached)."""
    language = _language()

    def fetch():
        with _client() as client:
            return [
                (t.service_type_code, t.service_type_name or t.service_type_code)
                for t in client.iter_all(client.list_service_types, language=language)
            ]

    return _cached(f"quote:service-types:{language}", fetch)


def resource_types(service_type: str) -> list[tuple[str, str]]:
    """(code, name) of the resource types of one service type (the whole list is cached)."""
    language = _language()

    def fetch():
        with _client() as client:
            return [
                (t.service_type_code, t.resource_type_code, t.resource_type_name or t.resource_type_code)
                for t in client.iter_all(client.list_resource_types, language=language)
            ]

    rows = _cached(f"quote:resource-types:{language}", fetch)
    return [(code, name) for service, code, name in rows if service == service_type]


def specs(service_type: str, resource_type: str, region: str) -> list[tuple[str, str]]:
    """(code, name) of the on-demand specs of a resource type in a region (cached)."""
    language = _language()

    def fetch():
        with _client() as client:
            return [
                # The platform names specs in Chinese only: the code comes first, readable in both languages.
                (s.resource_spec, " · ".join(filter(None, (s.resource_spec, s.resource_spec_name))))
                for s in client.list_resource_specs(
                    cloud_service_type=service_type,
                    resource_type=resource_type,
                    region_code=region,
                    language=language,
                )
            ]

    return _cached(f"quote:specs:{language}:{service_type}:{resource_type}:{region}", fetch)


@dataclass(frozen=True)
class AppliedDiscount:
    """The discount a customer's quote uses: its rate and where it comes from."""

    rate: Decimal
    source: PartnerDiscount | CommercialDiscount

    @property
    def is_partner_discount(self) -> bool:
        return isinstance(self.source, PartnerDiscount)


def discount_for(customer: Customer) -> AppliedDiscount | None:
    """The discount in force for the customer (the customer page's rule), or None: the list price applies.

    The partner discount counts once the platform has taken it and while it is effective; commercial
    discounts count while the platform reports them effective. The platform's discounts are per customer,
    not per service type, so one rate prices every product.
    """
    partner = PartnerDiscount.objects.filter(customer=customer).first()
    commercial = list(
        CommercialDiscount.objects.filter(
            customer=customer, status=CommercialDiscount.Status.EFFECTIVE, discount_rate__isnull=False
        ).order_by("discount_rate", "pk")[:1]
    )
    partner_rate = partner.rate if partner is not None and partner.is_in_force else None
    rate = effective_rate(partner_rate, [d.discount_rate for d in commercial])
    if rate is None:
        return None
    # The partner discount wins a tie: it is the one the partner set for this customer.
    source = partner if partner_rate == rate else commercial[0]
    return AppliedDiscount(rate=rate, source=source)


def exact(amount: Decimal) -> str:
    """An inquiry amount as a quote writes it: 2 places at least, the platform's 6 at most ("0.504")."""
    return price_str(amount)


def format_price(amount: Decimal | None) -> str:
    """¥1,234.5678 (see `exact`); an empty string for None."""
    if amount is None:
        return ""
    text = exact(amount)
    whole, _sep, fraction = text.partition(".")
    return f"¥{int(whole):,}.{fraction}"


def discounted(amount: Decimal, rate: Decimal) -> Decimal:
    """An inquiry amount at a discount rate, rounded as the platform rounds inquiry amounts."""
    return to_price(amount * rate)


@dataclass(frozen=True)
class QuoteLine:
    """The inputs of one quote, as the form cleaned them."""

    region: str
    service_type: str
    resource_type: str
    spec: str
    hours: Decimal
    quantity: int
    size: int | None = None

    @property
    def size_measure_id(self) -> int | None:
        return LINEAR_RESOURCE_TYPES.get(self.resource_type)


@dataclass(frozen=True)
class Quote:
    """The official on-demand price of a line and, for a customer, the price after its discount."""

    line: QuoteLine
    amount: Decimal
    currency: str
    product_id: str
    customer: Customer | None = None
    discount: AppliedDiscount | None = None

    @property
    def customer_amount(self) -> Decimal | None:
        if self.customer is None:
            return None
        return discounted(self.amount, self.discount.rate) if self.discount else self.amount


def price(line: QuoteLine, *, customer: Customer | None = None) -> Quote:
    """Ask the platform for the line's on-demand price (raises UpstreamError), then apply the discount."""
    from django.conf import settings

    from upstream.types import RatingProduct

    product = RatingProduct(
        id="1",
        cloud_service_type=line.service_type,
        resource_type=line.resource_type,
        resource_spec=line.spec,
        region=line.region,
        usage_value=line.hours,
        subscription_num=line.quantity,
        resource_size=line.size if line.size_measure_id else None,
        size_measure_id=line.size_measure_id,
    )
    with _client() as client:
        rating = client.rate_on_demand([product], project_id=settings.UPSTREAM_PROJECT_ID)
    item = rating.products[0] if rating.products else None
    return Quote(
        line=line,
        amount=to_price(item.official_website_amount if item else rating.official_website_amount),
        currency=rating.currency,
        product_id=item.product_id if item else "",
        customer=customer,
        discount=discount_for(customer) if customer is not None else None,
    )


def discount_label(result: Quote) -> str:
    """Which discount the customer's price uses, in words."""
    applied = result.discount
    if applied is None:
        return gettext("None: the list price applies")
    if applied.is_partner_discount:
        return gettext("Partner discount %(rate)s, until %(until)s") % {
            "rate": applied.rate,
            "until": timezone.localtime(applied.source.expire_time).strftime("%Y-%m-%d %H:%M"),
        }
    return gettext("Commercial discount “%(name)s” %(rate)s") % {
        "name": applied.source.business_name,
        "rate": applied.rate,
    }
