from django.contrib import admin

from billing.models import (
    Adjustment,
    AdjustRecord,
    CommercialDiscount,
    CustomerAccount,
    DedicatedOffer,
    PartnerAccount,
)
from portal.lib.admin import CUSTOMER, MaskedAdminMixin, MirroredAdmin, ReadOnlyAdmin, masked_customer


@admin.register(Adjustment)
class AdjustmentAdmin(MaskedAdminMixin, ReadOnlyAdmin):
    """The portal's allocate/reclaim ledger; changes go through the outbox, not this page."""

    list_display = [
        "created_at",
        "partner",
        "kind",
        "amount",
        "customer",
        "reseller",
        "status",
        "upstream_transaction_id",
    ]
    list_filter = ["status", "kind", "partner"]
    search_fields = ["=customer__customer_id", "=upstream_transaction_id"]
    date_hierarchy = "created_at"
    list_select_related = ["partner", "customer", "reseller"]
    masked_fields = {"customer": CUSTOMER}

    def object_label(self, obj) -> str:
        counterparty = masked_customer(obj.customer) if obj.customer_id else obj.reseller
        return f"{obj.get_kind_display()} {obj.amount} → {counterparty} [{obj.get_status_display()}]"


@admin.register(AdjustRecord)
class AdjustRecordAdmin(MirroredAdmin):
    list_display = [
        "operation_time",
        "partner",
        "operation_type",
        "amount",
        "customer_upstream_id",
        "customer_name",
        "trans_id",
    ]
    list_filter = ["operation_type", "partner"]
    search_fields = ["=trans_id", "=customer_upstream_id"]
    masked_fields = {"customer_name": "name", "customer": CUSTOMER}
    date_hierarchy = "operation_time"
    list_select_related = ["partner"]


@admin.register(PartnerAccount)
class PartnerAccountAdmin(MirroredAdmin):
    list_display = ["partner", "account_type", "amount", "designated_amount", "credit_amount", "updated_at"]
    list_filter = ["account_type"]
    list_select_related = ["partner"]


@admin.register(CustomerAccount)
class CustomerAccountAdmin(MirroredAdmin):
    list_display = ["customer", "partner", "amount", "debt_amount", "updated_at"]
    search_fields = ["=customer__customer_id"]
    list_select_related = ["customer", "partner"]
    masked_fields = {"customer": CUSTOMER}


@admin.register(CommercialDiscount)
class CommercialDiscountAdmin(MirroredAdmin):
    list_display = [
        "business_name",
        "partner",
        "discount_type",
        "discount_rate",
        "status",
        "effective_time",
        "expire_time",
    ]
    list_filter = ["status", "discount_type", "partner"]
    search_fields = ["business_name", "=discount_id", "=customer_upstream_id"]
    list_select_related = ["partner"]
    masked_fields = {"customer": CUSTOMER}


@admin.register(DedicatedOffer)
class DedicatedOfferAdmin(MirroredAdmin):
    list_display = ["name", "partner", "customer_account_name", "status", "effective_time", "expire_time"]
    list_filter = ["status", "partner"]
    search_fields = ["name", "=offer_id", "=customer_account_name"]
    list_select_related = ["partner"]
    masked_fields = {"customer_account_name": "account_name"}
