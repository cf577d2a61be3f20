from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from customers.tasks import notify_arrears_warnings, send_warning_digests

pytestmark = pytest.mark.django_db


def test_an_arrears_warning_emails_its_account_manager_once(ra_sales, make_customer, make_warning):
    warning = make_warning(make_customer("ra", name="张伟伟", account_manager=ra_sales), category="ARREARS")
    assert notify_arrears_warnings() == 1
    assert notify_arrears_warnings() == 0
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [ra_sales.email] and warning.title in message.subject
    assert "张伟伟" not in message.body and "张**" in message.body


def test_arrears_without_a_manager_go_to_the_partner_admins(ra_admin, ra_sales, make_customer, make_warning):
    make_warning(make_customer("ra"), category="ARREARS")
    notify_arrears_warnings()
    assert [m.to for m in mail.outbox] == [[ra_admin.email]]


def test_recipients_can_turn_arrears_emails_off(ra_sales, make_customer, make_warning):
    ra_sales.notify_arrears = False
    ra_sales.save()
    make_warning(make_customer("ra", account_manager=ra_sales), category="ARREARS")
    notify_arrears_warnings()
    assert mail.outbox == []


def test_old_arrears_warnings_are_not_announced(ra_sales, make_customer, make_warning):
    make_warning(
        make_customer("ra", account_manager=ra_sales),
        category="ARREARS",
        send_time=timezone.now() - timedelta(days=5),
    )
    assert notify_arrears_warnings() == 0 and mail.outbox == []


def test_other_categories_get_no_immediate_email(ra_sales, make_customer, make_warning):
    make_warning(make_customer("ra", account_manager=ra_sales), category="CHURN")
    notify_arrears_warnings()
    assert mail.outbox == []


def test_the_daily_digest_lists_each_managers_new_warnings_once(
    ra_sales, make_staff, make_customer, make_warning
):
    other = make_staff("ra", "sales", username="ra-sales-2")
    mine = make_warning(make_customer("ra", account_manager=ra_sales), title="Mine A")
    make_warning(make_customer("ra", account_manager=ra_sales), title="Mine B")
    make_warning(make_customer("ra", account_manager=other), title="Theirs")
    make_warning(make_customer("ra"), title="Unmanaged")
    assert send_warning_digests() == 2
    by_recipient = {m.to[0]: m for m in mail.outbox}
    assert "Mine A" in by_recipient[ra_sales.email].body and "Mine B" in by_recipient[ra_sales.email].body
    assert "Theirs" not in by_recipient[ra_sales.email].body
    assert "Theirs" in by_recipient[other.email].body
    mine.refresh_from_db()
    assert mine.digest_sent_at is not None
    assert send_warning_digests() == 0 and len(mail.outbox) == 2


def test_recipients_can_turn_the_digest_off(ra_sales, make_customer, make_warning):
    ra_sales.notify_warning_digest = False
    ra_sales.save()
    make_warning(make_customer("ra", account_manager=ra_sales))
    assert send_warning_digests() == 0 and mail.outbox == []


def test_the_beat_schedule_runs_both_tasks_with_an_expiry(settings):
    tasks = {entry["task"]: entry for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    for name in ("customers.notify_arrears_warnings", "customers.send_warning_digests"):
        assert tasks[name]["options"]["expires"] > 0
