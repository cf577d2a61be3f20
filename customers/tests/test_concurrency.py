"""Two people handling the same warning at the same moment: one wins, one outbox command."""

import threading

import pytest
from django.db import connection

from customers import services
from upstream.models import OutboxCommand

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_warning_handled_twice_at_once_is_handled_once(ra_sales, make_customer, make_warning):
    warning = make_warning(make_customer("ra", account_manager=ra_sales))
    barrier = threading.Barrier(4)
    outcomes = []

    def handle(result):
        try:
            barrier.wait()
            services.handle_warning(ra_sales, warning, result)
            outcomes.append("handled")
        except services.ServiceError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=handle, args=(r,)) for r in ("LOST", "NOT_LOST", "LOST", "NOT_LOST")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["handled", "refused", "refused", "refused"]
    assert OutboxCommand.objects.filter(kind="customers.handle_warning").count() == 1
