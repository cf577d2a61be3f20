"""Admin site for the upstream link: sync runs and outbox commands, read-only, plus operator actions."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from portal.lib.admin import ReadOnlyAdmin
from upstream import outbox
from upstream.models import OutboxCommand, SyncRun


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = [
        "dataset",
        "mode",
        "status",
        "progress_column",
        "started_at",
        "finished_at",
        "rows_seen",
        "rows_created",
        "rows_updated",
        "rows_vanished",
        "short_errors",
    ]
    list_filter = ["dataset", "status", "mode"]
    date_hierarchy = "started_at"
    search_fields = ["dataset", "errors"]

    @admin.display(description=_("progress"))
    def progress_column(self, run: SyncRun) -> str:
        if run.progress is None:
            return "—"
        return format_html('<progress max="100" value="{}"></progress> {}%', run.progress, run.progress)

    @admin.display(description=_("errors"))
    def short_errors(self, run: SyncRun) -> str:
        return Truncator(run.errors).chars(80)


@admin.register(OutboxCommand)
class OutboxCommandAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "kind",
        "partner_key",
        "status",
        "attempts",
        "serial",
        "object_link",
        "created_at",
        "sent_at",
        "next_attempt_at",
        "finished_at",
        "short_error",
    ]
    list_filter = ["status", "kind", "serial", "partner_key"]
    search_fields = ["kind", "partner_key", "object_type", "object_id", "last_error"]
    date_hierarchy = "created_at"
    actions = ["retry_now", "resend_checked"]

    @admin.display(description=_("object"))
    def object_link(self, command: OutboxCommand) -> str:
        return f"{command.object_type} #{command.object_id}" if command.object_type else "—"

    @admin.display(description=_("last error"))
    def short_error(self, command: OutboxCommand) -> str:
        return Truncator(command.last_error).chars(80)

    def has_retry_permission(self, request) -> bool:
        return request.user.has_perm("upstream.change_outboxcommand")

    @admin.action(description=_("Retry now (failed or stuck commands)"), permissions=["retry"])
    def retry_now(self, request, queryset):
        done = {"retried": 0, "reconciling": 0, "skipped": 0}
        for command in queryset:
            done[outbox.retry_now(command)] += 1
        if done["retried"]:
            self.message_user(
                request,
                ngettext(
                    "%(n)d command will be sent again.", "%(n)d commands will be sent again.", done["retried"]
                )
                % {"n": done["retried"]},
                messages.SUCCESS,
            )
        if done["reconciling"]:
            self.message_user(
                request,
                ngettext(
                    "%(n)d command's outcome will be checked upstream before anything is resent.",
                    "%(n)d commands' outcomes will be checked upstream before anything is resent.",
                    done["reconciling"],
                )
                % {"n": done["reconciling"]},
                messages.SUCCESS,
            )
        if done["skipped"]:
            self.message_user(
                request,
                ngettext(
                    "%(n)d command was left alone: it succeeded, is being sent, or its unknown outcome "
                    "needs a person (see “Resend”).",
                    "%(n)d commands were left alone: they succeeded, are being sent, or their unknown "
                    "outcome needs a person (see “Resend”).",
                    done["skipped"],
                )
                % {"n": done["skipped"]},
                messages.WARNING,
            )

    @admin.action(
        description=_("Resend: I checked upstream that this unknown command was NOT applied"),
        permissions=["retry"],
    )
    def resend_checked(self, request, queryset):
        resent = sum(outbox.resend_unknown(command) for command in queryset)
        self.message_user(
            request,
            ngettext("%(n)d command will be sent again.", "%(n)d commands will be sent again.", resent)
            % {"n": resent},
            messages.SUCCESS if resent else messages.WARNING,
        )
