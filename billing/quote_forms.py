"""The price inquiry form (/billing/quote/): choosers that cascade, the amounts, and the customer.

The choices come from the platform's catalogue (billing/quote.py, cached); a value outside them, an amount
outside the platform's limits or a customer the user's partner does not have is a form error, and nothing is
priced.
"""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from billing import quote
from customers.models import Customer
from upstream.errors import UpstreamError


class QuoteForm(forms.Form):
    region = forms.ChoiceField(label=_("Region"))
    service_type = forms.ChoiceField(label=_("Service type"))
    resource_type = forms.ChoiceField(label=_("Resource type"))
    spec = forms.ChoiceField(label=_("Spec"))
    size = forms.IntegerField(label=_("Size"), required=False, min_value=1, max_value=quote.MAX_SIZE)
    quantity = forms.IntegerField(label=_("Quantity"), initial=1, min_value=1, max_value=quote.MAX_QUANTITY)
    hours = forms.DecimalField(
        label=_("Usage (hours)"),
        initial=720,
        min_value=Decimal("0.01"),
        max_value=quote.MAX_HOURS,
        decimal_places=2,
        max_digits=10,
        help_text=_("720 hours is about a month."),
    )
    customer = forms.CharField(
        label=_("Customer ID"),
        required=False,
        max_length=64,
        help_text=_("Optional: the quote then also shows the customer's price after its discount."),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.catalogue_error: str = ""
        # A change of these re-renders the choosers after them (quote.html#choosers).
        for name in ("region", "service_type", "resource_type"):
            self.fields[name].widget.attrs["data-cascade"] = ""
        self.fields["region"].choices = [("", _("Choose a region")), *quote.REGIONS.items()]
        data = self.data if self.is_bound else self.initial
        region = self._value(data, "region") or ""
        service_type = self._value(data, "service_type") or ""
        resource_type = self._value(data, "resource_type") or ""
        services, types, specs = [], [], []
        try:
            services = quote.service_types()
            if service_type in dict(services):
                types = quote.resource_types(service_type)
            if region in quote.REGIONS and resource_type in dict(types):
                specs = quote.specs(service_type, resource_type, region)
        except UpstreamError as error:
            self.catalogue_error = _catalogue_message(error)
        self.fields["service_type"].choices = [("", _("Choose a service type")), *services]
        self.fields["resource_type"].choices = [
            ("", _("Choose a resource type") if types else _("Choose a service type first")),
            *types,
        ]
        self.fields["spec"].choices = [
            ("", _("Choose a spec") if specs else _("Choose a region and a resource type first")),
            *specs,
        ]
        self.size_measure_id = quote.LINEAR_RESOURCE_TYPES.get(resource_type)
        if self.size_measure_id:
            unit = quote.SIZE_UNITS[self.size_measure_id]
            self.fields["size"].label = _("Size (%(unit)s)") % {"unit": unit}
            self.fields["size"].required = True
            self.fields["size"].help_text = _("This product is priced per %(unit)s.") % {"unit": unit}

    @staticmethod
    def _value(data, name):
        value = data.get(name)
        return value if isinstance(value, str) else None

    def clean_customer(self) -> Customer | None:
        value = " ".join(self.cleaned_data["customer"].split())
        if not value:
            return None
        customer = (
            Customer.objects.for_user(self.user).select_related("partner").filter(customer_id=value).first()
        )
        if customer is None:
            # The same answer whether the id is another partner's or nobody's.
            raise forms.ValidationError(gettext("No customer with this ID."), code="unknown_customer")
        return customer

    def clean(self):
        cleaned = super().clean()
        if self.catalogue_error:
            raise forms.ValidationError(self.catalogue_error, code="catalogue")
        if not self.size_measure_id:
            cleaned["size"] = None
        return cleaned

    def line(self) -> quote.QuoteLine:
        data = self.cleaned_data
        return quote.QuoteLine(
            region=data["region"],
            service_type=data["service_type"],
            resource_type=data["resource_type"],
            spec=data["spec"],
            hours=data["hours"],
            quantity=data["quantity"],
            size=data["size"],
        )


def _catalogue_message(error: UpstreamError) -> str:
    return gettext("The platform's product catalogue could not be read: %(reason)s") % {
        "reason": error.default_message
    }


def rating_message(error: UpstreamError) -> str:
    """What a refused or failed price inquiry tells the user, in their language."""
    if error.error_code == "CBC.99006055":
        return gettext(
            "The price is above the platform's limit for one inquiry (¥1,000,000,000): "
            "ask for fewer hours or a smaller quantity."
        )
    if error.error_code == "CBC.99006006":
        return gettext("The platform does not sell this spec in this region; choose another.")
    return gettext("The platform could not price this: %(reason)s") % {"reason": error.default_message}
