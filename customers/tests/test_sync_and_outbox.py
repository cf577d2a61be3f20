"""The warnings sync keeps portal handling until the push lands; the outbox handler applies the outcome."""

from types import SimpleNamespace

import pytest
from django.utils import timezone

from accounts.models import AuditEvent
from customers import outbox, services
from customers.models import CustomerWarning
from customers.sync import apply_warnings
from upstream.models import OutboxCommand, SyncRun
from upstream.outbox import HANDLERS
from upstream.sync import SyncContext
from upstream.types import CustomerWarning as UpstreamWarning

pytestmark = pytest.mark.django_db


def upstream_row(warning, **changes):
    values = {
        "warning_id": warning.warning_id,
        "scene_name": warning.scene_name,
        "category": warning.category,
        "title": warning.title,
        "content": warning.content,
        "customer_id": warning.customer_upstream_id,
        "send_time": warning.send_time,
        "status": "PENDING",
        "handle_result": None,
        "handled_at": None,
    }
    values.update(changes)
    return UpstreamWarning(**values)


def sync(partner, rows):
    ctx = SyncContext(run=SyncRun(dataset="warnings"), client=None, scope=None, full=True)
    ctx.cache["partner_id"] = partner.pk
    return apply_warnings(ctx, rows)


def test_a_sync_before_the_push_lands_does_not_undo_the_handling(
    ra_admin, make_customer, make_warning, partners
):
    warning = make_warning(make_customer("ra"))
    services.handle_warning(ra_admin, warning, "LOST", "gone")
    sync(partners["ra"], [upstream_row(warning, title="New title")])
    warning.refresh_from_db()
    assert (warning.status, warning.handle_result, warning.title) == ("HANDLED", "LOST", "New title")
    assert warning.remark == "gone" and warning.handler == ra_admin


def test_after_the_push_the_sync_mirrors_the_upstream_again(ra_admin, make_customer, make_warning, partners):
    warning = make_warning(make_customer("ra"))
    services.handle_warning(ra_admin, warning, "LOST")
    command = OutboxCommand.objects.get()
    HANDLERS["customers.handle_warning"].on_success(command, {})
    sync(
        partners["ra"],
        [upstream_row(warning, status="HANDLED", handle_result="LOST", handled_at=timezone.now())],
    )
    warning.refresh_from_db()
    assert not warning.push_pending and warning.status == "HANDLED"


def test_a_refused_push_makes_the_warning_pending_again_with_the_reason(
    ra_admin, make_customer, make_warning
):
    warning = make_warning(make_customer("ra"))
    services.handle_warning(ra_admin, warning, "NOT_LOST")
    command = OutboxCommand.objects.get()
    outbox.on_failure(command, RuntimeError("CBC.0100 warning closed"))
    warning.refresh_from_db()
    assert warning.status == "PENDING" and not warning.push_pending and "CBC.0100" in warning.push_error
    assert AuditEvent.objects.filter(action="warning_push_failed", target_id=str(warning.pk)).exists()


def test_the_handler_calls_the_upstream_with_the_payload(ra_admin, make_customer, make_warning, partners):
    warning = make_warning(make_customer("ra"))
    services.handle_warning(ra_admin, warning, "NOT_LOST", "fine")
    calls = []
    client = SimpleNamespace(handle_customer_warning=lambda *a, **kw: calls.append((a, kw)))
    outbox.send_handle_warning(client, OutboxCommand.objects.get())
    assert calls == [
        (
            (warning.warning_id, "NOT_LOST"),
            {"remark": "fine", "indirect_partner_id": partners["ra"].upstream_id},
        )
    ]


def test_new_warnings_are_still_created_by_the_sync(make_customer, make_warning, partners):
    template = make_warning(make_customer("ra"))
    fresh = upstream_row(template, warning_id="brand-new")
    created, _updated = sync(partners["ra"], [fresh])
    assert created == 1 and CustomerWarning.objects.filter(warning_id="brand-new", status="PENDING").exists()
