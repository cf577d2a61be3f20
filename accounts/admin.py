from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.utils.translation import gettext_lazy as _

from accounts.models import AuditEvent, Message, MessageCodeDevice, Partner, User
from portal.lib.admin import MaskedAdminMixin, ReadOnlyAdmin

# The fields the sync writes for a reseller (accounts/sync.py): an edit here would be overwritten.
PARTNER_UPSTREAM_FIELDS = ("upstream_id", "name", "account_name", "email", "tier", "parent")


@admin.register(Partner)
class PartnerAdmin(MaskedAdminMixin, admin.ModelAdmin):
    """Partners: resellers are mirrored, so their upstream fields are view only; the portal's own settings
    (step-up) stay editable. The distributor itself is set up here by an operator."""

    list_display = ["name", "tier", "parent", "upstream_id", "account_name", "require_step_up", "created_at"]
    list_filter = ["tier", "require_step_up"]
    list_select_related = ["parent"]
    search_fields = ["name", "=upstream_id", "=account_name"]
    autocomplete_fields = ["parent"]
    masked_fields = {"account_name": "account_name", "email": "email"}

    def masks(self, obj) -> bool:
        return obj is not None and obj.tier != Partner.Tier.DISTRIBUTOR

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        return self._masking([*fields, *PARTNER_UPSTREAM_FIELDS]) if self.masks(obj) else fields

    def has_delete_permission(self, request, obj=None):
        return False  # users, customers and the audit log hang on a partner


@admin.register(User)
class StaffUserAdmin(UserAdmin):
    list_display = ["username", "email", "partner", "role_label", "is_active", "last_login"]
    list_filter = ["partner", "groups", "is_active", "is_staff", "is_superuser"]
    search_fields = ["username", "email", "first_name", "last_name", "phone"]
    list_select_related = ["partner"]
    fieldsets = (
        *UserAdmin.fieldsets,
        (
            _("Partner portal"),
            {"fields": ("partner", "phone", "time_zone", "notify_warning_digest", "notify_arrears")},
        ),
    )
    add_fieldsets = (
        *UserAdmin.add_fieldsets,
        (_("Partner portal"), {"fields": ("partner", "email", "phone", "groups")}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description=_("role"))
    def role_label(self, obj):
        return obj.role_label


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "partner",
        "actor_label",
        "action",
        "target_type",
        "target_id",
        "summary",
        "ip_address",
    ]
    list_filter = ["action", "partner", "created_at"]
    search_fields = ["actor_label", "summary", "target_id", "action"]
    date_hierarchy = "created_at"
    list_select_related = ["partner"]


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "channel", "recipient", "subject", "tag", "partner"]
    list_filter = ["channel", "tag", "partner"]
    search_fields = ["recipient", "subject", "body"]
    date_hierarchy = "created_at"
    list_select_related = ["partner"]


@admin.register(MessageCodeDevice)
class MessageCodeDeviceAdmin(admin.ModelAdmin):
    list_display = ["user", "channel", "valid_until", "failed_attempts", "last_generated_timestamp"]
    list_filter = ["channel"]
    search_fields = ["user__username"]
    readonly_fields = ["code_hash", "valid_until", "failed_attempts", "last_generated_timestamp"]
