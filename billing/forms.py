"""Forms of the billing pages.

Discounts and dedicated offers: the forms read the input; the rules (range, places, times, names) are the
services' (billing/services.py), whose ValidationError codes say which field a refusal belongs to.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from accounts.stepup import StepUpFormMixin
from billing import services
from billing.models import Adjustment

DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")

# Which field a service refusal belongs to (by its code); others are shown above the form.
ERROR_FIELDS = {
    "invalid_rate": "rate",
    "rate_too_precise": "rate",
    "rate_out_of_range": "rate",
    "effective_in_past": "effective_time",
    "expiry_before": "expire_time",
    "expiry_in_past": "expire_time",
    "no_name": "name",
    "name_too_long": "name",
    "name_taken": "name",
    "no_products": "product_ids",
    "too_many_products": "product_ids",
    "product_too_long": "product_ids",
    "no_reason": "reason",
    "reason_too_long": "reason",
}


def add_service_error(form: forms.Form, error: ValidationError) -> None:
    """Put a service's refusal on the field it is about (or above the form)."""
    field = ERROR_FIELDS.get(getattr(error, "code", None) or "")
    form.add_error(field if field in form.fields else None, error)


class DiscountForm(forms.Form):
    """A partner-granted discount: the rate (0.85 = 15% off) and when it is in force."""

    rate = forms.CharField(
        label=_("Discount rate"),
        max_length=12,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "0.85", "autocomplete": "off"}),
    )
    effective_time = forms.DateTimeField(label=_("Effective time"), widget=DATETIME)
    expire_time = forms.DateTimeField(label=_("Expiry time"), widget=DATETIME)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        low, high = services.rate_range()
        self.fields["rate"].help_text = _(
            "Between %(low)s and %(high)s, at most 4 decimal places: 0.85 means 15%% off."
        ) % {"low": low, "high": high}

    def clean_rate(self):
        return services.clean_rate(self.cleaned_data["rate"])

    def clean(self):
        cleaned = super().clean()
        effective, expire = cleaned.get("effective_time"), cleaned.get("expire_time")
        if effective and expire and expire <= effective:
            self.add_error("expire_time", _("The expiry time must be after the effective time."))
        return cleaned


class BulkDiscountForm(DiscountForm):
    """The same discount for several customers, named by their customer IDs (one a line, or ticked)."""

    customer_ids = forms.CharField(
        label=_("Customer IDs"),
        widget=forms.Textarea(attrs={"rows": 5}),
    )

    field_order = ["customer_ids", "rate", "effective_time", "expire_time"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["customer_ids"].help_text = _(
            "One customer ID a line (or separated by commas), at most %(max)d."
        ) % {"max": services.BULK_DISCOUNT_MAX}

    def clean_customer_ids(self):
        text = self.cleaned_data["customer_ids"]
        ids = list(dict.fromkeys(p.strip() for p in text.replace(",", "\n").split() if p.strip()))
        if not ids:
            raise ValidationError(_("Enter at least one customer ID."))
        if len(ids) > services.BULK_DISCOUNT_MAX:
            raise ValidationError(
                _("At most %(max)d customers at once."), params={"max": services.BULK_DISCOUNT_MAX}
            )
        return ids


class OfferForm(forms.Form):
    """A new dedicated offer: its name, the customer account it is bound to, its products and validity."""

    customer = forms.CharField(
        label=_("Customer ID"),
        max_length=64,
        help_text=_("The offer is bound to this customer's account."),
    )
    name = forms.CharField(
        label=_("Offer name"),
        max_length=services.OFFER_NAME_MAX,
        help_text=_("Unique among your offers; the customer sees it."),
    )
    product_ids = forms.CharField(
        label=_("Product IDs"),
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    effective_time = forms.DateTimeField(label=_("Effective time"), widget=DATETIME)
    expire_time = forms.DateTimeField(label=_("Expiry time"), widget=DATETIME)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product_ids"].help_text = _(
            "1 to %(max)d product IDs, separated by commas or new lines."
        ) % {"max": services.OFFER_PRODUCTS_MAX}

    def clean_product_ids(self):
        return services.parse_product_ids(self.cleaned_data["product_ids"])

    def clean(self):
        cleaned = super().clean()
        effective, expire = cleaned.get("effective_time"), cleaned.get("expire_time")
        if effective and expire and expire <= effective:
            self.add_error("expire_time", _("The expiry time must be after the effective time."))
        return cleaned


class InvalidateOfferForm(StepUpFormMixin, forms.Form):
    """Invalidate a dedicated offer (使该专属优惠失效): a reason, and the verification code when required."""

    reason = forms.CharField(
        label=_("Reason"),
        max_length=services.REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    field_order = ["reason", "code"]


# --- fund adjustment (拨款 / 回收) -----------------------------------------------------------------------

# Which field an adjustment refusal belongs to (by its ValidationError code); others go above the form.
ADJUSTMENT_ERROR_FIELDS = {
    "invalid_amount": "amount",
    "amount_too_precise": "amount",
    "amount_not_positive": "amount",
    "amount_too_large": "amount",
    "insufficient_balance": "amount",
    "memo_too_long": "memo",
}


class AdjustmentForm(StepUpFormMixin, forms.Form):
    """Allocate to or reclaim from one resale customer: type, amount, memo and the verification code.

    `form_token` is issued with the empty form: the same token submitted twice makes one adjustment. The
    amount is read by the one money parser (services.clean_amount): no floats, at most 2 places, > 0.
    """

    kind = forms.ChoiceField(
        label=_("Type"),
        choices=Adjustment.Kind.choices,
        widget=forms.RadioSelect,
    )
    amount = forms.CharField(
        label=_("Amount (CNY)"),
        max_length=32,
        widget=forms.TextInput(
            attrs={"inputmode": "decimal", "autocomplete": "off", "placeholder": "100.00"}
        ),
    )
    memo = forms.CharField(
        label=_("Memo"),
        required=False,
        max_length=services.MEMO_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    form_token = forms.CharField(widget=forms.HiddenInput, max_length=64)
    field_order = ["kind", "amount", "memo", "code", "form_token"]

    def clean_amount(self):
        return services.clean_amount(self.cleaned_data["amount"])

    def add_refusal(self, error: ValidationError) -> None:
        """A service's refusal, on the field it concerns."""
        self.add_error(ADJUSTMENT_ERROR_FIELDS.get(error.code), error)


class AdjustmentBatchForm(forms.Form):
    """批量拨款 / 批量回收: a CSV of customer_id, amount, memo, uploaded or pasted, to preview."""

    kind = forms.ChoiceField(label=_("Type"), choices=Adjustment.Kind.choices, widget=forms.RadioSelect)
    csv_file = forms.FileField(label=_("CSV file"), required=False)
    text = forms.CharField(
        label=_("Or paste the rows"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "placeholder": "customer_id,amount,memo"}),
    )
    MAX_BYTES = 1_000_000

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("csv_file")
        if upload:
            if upload.size > self.MAX_BYTES:
                raise ValidationError(_("The file is larger than 1 MB."), code="file_too_large")
            try:
                cleaned["text"] = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                raise ValidationError(
                    _("The file is not UTF-8 text: save it as CSV UTF-8."), code="not_utf8"
                ) from None
        if not (cleaned.get("text") or "").strip():
            raise ValidationError(_("Upload a CSV file or paste its rows."), code="no_rows")
        return cleaned


class AdjustmentBatchSubmitForm(StepUpFormMixin, forms.Form):
    """The previewed batch, submitted: its rows travel signed, with the type and the user (the preview cannot
    be altered or replayed by someone else), and are checked again; the verification code is asked here."""

    rows = forms.CharField(widget=forms.HiddenInput)
    field_order = ["rows", "code"]
    SALT = "billing.adjustment-batch"

    def clean_rows(self):
        from django.core import signing

        try:
            return signing.loads(self.cleaned_data["rows"], salt=self.SALT, max_age=3600)
        except signing.BadSignature:
            raise ValidationError(
                _("The preview has expired or was altered: preview the batch again.")
            ) from None


class AdjustmentDecisionForm(StepUpFormMixin, forms.Form):
    """Maker-checker: approve or reject an adjustment waiting for approval (a reason to reject)."""

    decision = forms.ChoiceField(
        choices=[("approve", _("Approve")), ("reject", _("Reject"))], widget=forms.HiddenInput
    )
    reason = forms.CharField(
        label=_("Reason (to reject)"), required=False, max_length=500, widget=forms.TextInput()
    )
    field_order = ["reason", "code", "decision"]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("decision") == "reject" and not (cleaned.get("reason") or "").strip():
            self.add_error("reason", _("Say why the adjustment is rejected."))
        return cleaned


class ApprovalPolicyForm(forms.Form):
    """The partner's maker-checker threshold (empty: off)."""

    approval_threshold = forms.CharField(
        label=_("Approval threshold (CNY)"),
        required=False,
        max_length=32,
        help_text=_("Adjustments above this amount wait for a second finance user or admin. Empty: off."),
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )

    def clean_approval_threshold(self):
        value = self.cleaned_data["approval_threshold"].strip()
        return services.clean_amount(value) if value else None
