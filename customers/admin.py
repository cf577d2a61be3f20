from django.contrib import admin

from customers.models import AssociationEvent, Customer, CustomerWarning


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = (
        "customer_id",
        "account_name",
        "partner",
        "association_type",
        "account_manager",
        "frozen_status",
    )
    list_filter = ("partner", "association_type", "frozen_status")
    search_fields = ("customer_id", "account_name", "name")
    raw_id_fields = ("account_manager",)
    readonly_fields = ("created_at", "updated_at")


@admin.register(AssociationEvent)
class AssociationEventAdmin(admin.ModelAdmin):
    list_display = ("occurred_at", "operation", "customer_upstream_id", "partner", "source")
    list_filter = ("operation", "source", "partner")
    search_fields = ("customer_upstream_id", "record_id")
    raw_id_fields = ("customer", "initiated_by")


@admin.register(CustomerWarning)
class WarningAdmin(admin.ModelAdmin):
    list_display = (
        "send_time",
        "category",
        "title",
        "customer_upstream_id",
        "partner",
        "status",
        "push_pending",
    )
    list_filter = ("category", "status", "push_pending", "partner")
    search_fields = ("warning_id", "title", "customer_upstream_id")
    raw_id_fields = ("customer", "handler")
    readonly_fields = (
        "handled_in_portal_at",
        "push_error",
        "arrears_notified_at",
        "digest_sent_at",
        "created_at",
    )
