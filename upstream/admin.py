"""Admin site for the upstream link: sync runs and outbox commands, read-only, plus operator actions."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
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
        "rows_refused",
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
    actions = ["retry_now", "resend_checked", "mark_applied"]

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

    @admin.action(
        description=_("Mark applied: I checked upstream that this unknown command WAS applied"),
        permissions=["retry"],
    )
    def mark_applied(self, request, queryset):
        """Close unknown commands an operator found applied upstream (asks for the ids the domain needs).

        A reseller transfer whose outcome cannot be checked automatically otherwise holds back its
        partner's money commands until a person decides.
        """
        commands = list(queryset.order_by("id"))
        rows = [
            {
                "command": c,
                "fields": [
                    (key, f"result-{c.pk}-{key}", request.POST.get(f"result-{c.pk}-{key}", "").strip())
                    for key in (outbox.HANDLERS[c.kind].operator_result if c.kind in outbox.HANDLERS else ())
                ],
                "eligible": c.status == OutboxCommand.Status.UNKNOWN and c.kind in outbox.HANDLERS,
            }
            for c in commands
        ]
        if request.POST.get("confirm") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "title": _("Mark applied"),
                "opts": self.model._meta,
                "rows": rows,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "admin/upstream/outboxcommand/mark_applied.html", context)
        applied = 0
        for row in rows:
            if not row["eligible"]:
                continue
            result = {key: value for key, _name, value in row["fields"]}
            try:
                applied += outbox.mark_applied(row["command"], result)
            except ValueError:
                self.message_user(
                    request,
                    _("Command #%(id)d was not marked applied: give %(keys)s.")
                    % {"id": row["command"].pk, "keys": ", ".join(k for k, _n, _v in row["fields"])},
                    messages.ERROR,
                )
            except Exception as exc:  # the domain refused the result (e.g. a transaction id already used)
                self.message_user(
                    request,
                    _("Command #%(id)d could not be marked applied: %(error)s")
                    % {"id": row["command"].pk, "error": exc},
                    messages.ERROR,
                )
        if applied:
            self.message_user(
                request,
                ngettext("%(n)d command was marked applied.", "%(n)d commands were marked applied.", applied)
                % {"n": applied},
                messages.SUCCESS,
            )
        skipped = sum(1 for row in rows if not row["eligible"])
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(n)d command was left alone: only an unknown outcome can be marked applied.",
                    "%(n)d commands were left alone: only an unknown outcome can be marked applied.",
                    skipped,
                )
                % {"n": skipped},
                messages.WARNING,
            )
        return None
