from django.contrib import admin

from billing.models import (
    Adjustment,
    AdjustRecord,
    CommercialDiscount,
    CustomerAccount,
    DedicatedOffer,
    PartnerAccount,
)
from portal.lib.admin import ReadOnlyAdmin


@admin.register(Adjustment)
class AdjustmentAdmin(ReadOnlyAdmin):
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
    search_fields = ["customer__customer_id", "customer__account_name", "upstream_transaction_id", "memo"]
    date_hierarchy = "created_at"
    list_select_related = ["partner", "customer", "reseller"]


@admin.register(AdjustRecord)
class AdjustRecordAdmin(ReadOnlyAdmin):
    list_display = [
        "operation_time",
        "partner",
        "operation_type",
        "amount",
        "customer_upstream_id",
        "trans_id",
    ]
    list_filter = ["operation_type", "partner"]
    search_fields = ["trans_id", "customer_upstream_id", "customer_name"]
    date_hierarchy = "operation_time"
    list_select_related = ["partner"]


@admin.register(PartnerAccount)
class PartnerAccountAdmin(ReadOnlyAdmin):
    list_display = ["partner", "account_type", "amount", "designated_amount", "credit_amount", "updated_at"]
    list_filter = ["account_type"]
    list_select_related = ["partner"]


@admin.register(CustomerAccount)
class CustomerAccountAdmin(ReadOnlyAdmin):
    list_display = ["customer", "partner", "amount", "debt_amount", "updated_at"]
    search_fields = ["customer__customer_id", "customer__account_name"]
    list_select_related = ["customer", "partner"]


@admin.register(CommercialDiscount)
class CommercialDiscountAdmin(ReadOnlyAdmin):
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
    search_fields = ["business_name", "discount_id", "customer_upstream_id"]
    list_select_related = ["partner"]


@admin.register(DedicatedOffer)
class DedicatedOfferAdmin(ReadOnlyAdmin):
    list_display = ["name", "partner", "customer_account_name", "status", "effective_time", "expire_time"]
    list_filter = ["status", "partner"]
    search_fields = ["name", "offer_id", "customer_account_name"]
    list_select_related = ["partner"]
