from django.contrib import admin

from billing.models import (
    Adjustment,
    AdjustmentBatch,
    AdjustRecord,
    ApprovalPolicy,
    CommercialDiscount,
    CustomerAccount,
    DedicatedOffer,
    PartnerAccount,
    PartnerDiscount,
    ReconciliationNote,
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
    masked_fields = {"customer_account_name": "account_name", "customer": CUSTOMER}


@admin.register(PartnerDiscount)
class PartnerDiscountAdmin(MaskedAdminMixin, ReadOnlyAdmin):
    """Partner-granted discounts set in the portal; changes go through the portal and the outbox."""

    list_display = [
        "customer",
        "partner",
        "rate",
        "effective_time",
        "expire_time",
        "push_status",
        "updated_at",
    ]
    list_filter = ["push_status", "partner"]
    search_fields = ["=customer__customer_id"]
    list_select_related = ["partner", "customer"]
    masked_fields = {"customer": CUSTOMER}


@admin.register(AdjustmentBatch)
class AdjustmentBatchAdmin(ReadOnlyAdmin):
    """Batch allocations and reclaims; each row's adjustment is in the ledger above. Rows name customers by
    their upstream id only (no personal data)."""

    list_display = ["created_at", "partner", "kind", "status", "requested_by", "finished_at"]
    list_filter = ["status", "kind", "partner"]
    list_select_related = ["partner", "requested_by"]


@admin.register(ReconciliationNote)
class ReconciliationNoteAdmin(ReadOnlyAdmin):
    """Explanations of reconciliation differences, written by partner admins (and audited)."""

    list_display = ["explained_at", "partner", "trans_id", "explained_by"]
    list_filter = ["partner"]
    search_fields = ["=trans_id"]
    list_select_related = ["partner", "explained_by"]


@admin.register(ApprovalPolicy)
class ApprovalPolicyAdmin(ReadOnlyAdmin):
    """Each partner's maker-checker threshold, set on the portal's billing settings page."""

    list_display = ["partner", "approval_threshold", "updated_at"]
    list_select_related = ["partner"]
