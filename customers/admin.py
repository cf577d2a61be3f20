"""Admin site of the customers app: every row here is mirrored from the upstream, so it is view only,
and customers' personal data is masked as in the portal's lists (portal.lib.admin.MirroredAdmin)."""

from __future__ import annotations

from django.contrib import admin

from customers.invitations import Invitation
from customers.models import AssociationEvent, AssociationRequest, Customer, CustomerWarning
from portal.lib.admin import CUSTOMER, MaskedAdminMixin, MirroredAdmin, ReadOnlyAdmin, masked_customer


@admin.register(Customer)
class CustomerAdmin(MirroredAdmin):
    list_display = (
        "customer_id",
        "name",
        "account_name",
        "partner",
        "association_type",
        "account_manager",
        "frozen_status",
    )
    list_filter = ("partner", "association_type", "frozen_status")
    list_select_related = ("partner", "account_manager")
    search_fields = ("=customer_id", "=account_name", "=phone", "=email")
    masked_fields = {"name": "name", "account_name": "account_name", "phone": "phone", "email": "email"}

    def object_label(self, obj) -> str:
        return masked_customer(obj)


@admin.register(AssociationEvent)
class AssociationEventAdmin(MirroredAdmin):
    list_display = ("occurred_at", "operation", "customer_upstream_id", "customer", "partner", "source")
    list_filter = ("operation", "source", "partner")
    list_select_related = ("partner", "customer")
    search_fields = ("=customer_upstream_id", "=record_id")
    masked_fields = {"customer": CUSTOMER}


@admin.register(CustomerWarning)
class WarningAdmin(MirroredAdmin):
    list_display = (
        "send_time",
        "category",
        "title",
        "customer_upstream_id",
        "customer",
        "partner",
        "status",
        "push_pending",
    )
    list_filter = ("category", "status", "push_pending", "partner")
    list_select_related = ("partner", "customer")
    search_fields = ("=warning_id", "=customer_upstream_id")
    masked_fields = {"customer": CUSTOMER}
    shown_as = {"title": "masked_title", "content": "masked_content"}

    def object_label(self, obj) -> str:
        return obj.masked_title


@admin.register(AssociationRequest)
class AssociationRequestAdmin(MaskedAdminMixin, ReadOnlyAdmin):
    """Switch and disassociation requests: view only (their state changes through the portal's services)."""

    list_display = ("created_at", "kind", "direction", "status", "customer", "partner", "expires_at")
    list_filter = ("status", "kind", "direction", "partner")
    list_select_related = ("partner", "customer")
    search_fields = ("=customer__customer_id", "=record_id")
    exclude = ("token_nonce",)
    masked_fields = {"customer": CUSTOMER}


@admin.register(Invitation)
class InvitationAdmin(MaskedAdminMixin, ReadOnlyAdmin):
    """Invitations to associate: view only (sent, revoked and accepted through the portal's pages); the email
    masked, the link's nonce and the customer's code never shown."""

    list_display = ("created_at", "status", "email", "association_type", "partner", "expires_at", "customer")
    list_filter = ("status", "association_type", "partner")
    list_select_related = ("partner", "customer")
    search_fields = ("=email", "=account_name")
    exclude = ("token_nonce", "code_hash", "code_sent_at", "code_valid_until", "code_failures")
    masked_fields = {"email": "email", "customer": CUSTOMER}
