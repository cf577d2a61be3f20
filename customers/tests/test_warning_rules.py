"""The warning rules (issue 7, points 5b, 10, 12, 17, 18 and 22 for the inbox).

Ownership and "may handle" live on CustomerWarning and its queryset; state changes are model methods with a
transition table; the inbox's tabs, badge and bulk handling follow from them.
"""

from __future__ import annotations

import html
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import AuditEvent
from customers import services
from customers.models import CustomerWarning, WarningStateError
from customers.tasks import _arrears_recipients
from upstream.models import OutboxCommand

pytestmark = pytest.mark.django_db

INBOX = reverse("customers:warnings")
BULK = reverse("customers:warning-bulk-handle")
COUNT = reverse("customers:warning-count")

State = CustomerWarning.State


# --- point 18: the state machine, one test per edge --------------------------------------------------------


@pytest.fixture
def warning(make_customer, make_warning, ra_sales):
    return make_warning(make_customer("ra", account_manager=ra_sales), category="CHURN")


def fresh(warning):
    return CustomerWarning.objects.get(pk=warning.pk)


def test_pending_to_sending_when_handled_in_the_portal(warning, ra_sales):
    warning.mark_handled(ra_sales, "LOST", "gone")
    stored = fresh(warning)
    assert stored.state == State.SENDING
    assert (stored.status, stored.handle_result, stored.handler, stored.remark) == (
        "HANDLED",
        "LOST",
        ra_sales,
        "gone",
    )
    assert stored.push_pending and stored.handled_at and stored.handled_in_portal_at


def test_sending_to_handled_when_the_upstream_takes_it(warning, ra_sales):
    warning.mark_handled(ra_sales, "LOST")
    warning.mark_push_succeeded()
    stored = fresh(warning)
    assert stored.state == State.HANDLED and not stored.push_pending and stored.handle_result == "LOST"


def test_sending_to_pending_when_the_upstream_refuses(warning, ra_sales):
    warning.mark_handled(ra_sales, "LOST", "gone")
    warning.mark_push_failed("CBC.0100 closed\x00")
    stored = fresh(warning)
    assert stored.state == State.PENDING
    assert stored.handle_result == "" and stored.handled_at is None and not stored.push_pending
    assert stored.push_error == "CBC.0100 closed"  # NUL removed: PostgreSQL refuses it
    assert stored.remark == "gone" and stored.handler == ra_sales  # kept, shown with the failure


@pytest.mark.parametrize(
    ("setup", "move"),
    [
        ("sending", lambda w, u: w.mark_handled(u, "LOST")),
        ("handled", lambda w, u: w.mark_handled(u, "LOST")),
        ("pending", lambda w, u: w.mark_push_succeeded()),
        ("pending", lambda w, u: w.mark_push_failed("x")),
        ("handled", lambda w, u: w.mark_push_succeeded()),
        ("handled", lambda w, u: w.mark_push_failed("x")),
    ],
    ids=[
        "sending-handled-again",
        "handled-handled-again",
        "pending-push-succeeded",
        "pending-push-failed",
        "handled-push-succeeded",
        "handled-push-failed",
    ],
)
def test_illegal_transitions_are_refused_and_change_nothing(warning, ra_sales, setup, move):
    if setup in ("sending", "handled"):
        warning.mark_handled(ra_sales, "NOT_LOST")
    if setup == "handled":
        warning.mark_push_succeeded()
    before = fresh(warning)
    with pytest.raises(WarningStateError, match="cannot go from"):
        move(warning, ra_sales)
    after = fresh(warning)
    assert (after.state, after.handle_result, after.updated_at) == (
        before.state,
        before.handle_result,
        before.updated_at,
    )


def test_a_result_the_category_does_not_take_is_refused(warning, ra_sales):
    with pytest.raises(WarningStateError, match="cannot take the result"):
        warning.mark_handled(ra_sales, "HANDLED")
    assert fresh(warning).state == State.PENDING


def test_the_transition_table_matches_the_diagram():
    assert {
        State.PENDING: {State.SENDING},
        State.SENDING: {State.HANDLED, State.PENDING},
        State.HANDLED: set(),
    } == CustomerWarning.TRANSITIONS


def test_the_outbox_callbacks_apply_each_answer_once(warning, ra_sales):
    services.handle_warning(ra_sales, warning, "LOST")
    services.apply_push_success(warning.pk)
    services.apply_push_success(warning.pk)  # delivered twice: nothing more happens
    services.apply_push_failure(warning.pk, "late refusal")  # not sending any more: ignored
    stored = fresh(warning)
    assert stored.state == State.HANDLED and stored.push_error == ""
    assert not AuditEvent.objects.filter(action="warning_push_failed").exists()


# --- point 17: one home for ownership ----------------------------------------------------------------------


@pytest.fixture
def cast(partners, make_customer, make_warning, ra_sales, make_staff):
    """Warnings of every kind of owner: a sales user's customer, unmanaged customers of each partner, and a
    customer not mirrored yet."""
    from django.utils import timezone

    return {
        "ra_managed": make_warning(make_customer("ra", account_manager=ra_sales)),
        "ra_unmanaged": make_warning(make_customer("ra")),
        "rb_unmanaged": make_warning(make_customer("rb")),
        "dist_unmanaged": make_warning(make_customer("dist")),
        "ra_unknown": CustomerWarning.objects.create(
            partner=partners["ra"],
            customer_upstream_id="cust-unknown",
            warning_id="warn-unknown-rules",
            scene_name="欠费预警",
            category="ARREARS",
            title="t",
            send_time=timezone.now(),
        ),
    }


def test_owners_and_owned_by_state_the_same_rule(cast, dist_admin, ra_admin, ra_sales, rb_admin, ra_viewer):
    users = (dist_admin, ra_admin, ra_sales, rb_admin, ra_viewer)
    for name, warning in cast.items():
        for user in users:
            owned = CustomerWarning.objects.owned_by(user).filter(pk=warning.pk).exists()
            assert owned == (user in warning.owners()), (name, user.username)


def test_who_owns_what(cast, dist_admin, ra_admin, ra_sales, rb_admin):
    def owned(user):
        return {n for n, w in cast.items() if CustomerWarning.objects.owned_by(user).filter(pk=w.pk).exists()}

    assert owned(ra_sales) == {"ra_managed"}
    assert owned(ra_admin) == {"ra_unmanaged", "ra_unknown"}
    assert owned(rb_admin) == {"rb_unmanaged"}
    # Point 5b: a distributor's admins own their own customers' warnings, not their resellers'.
    assert owned(dist_admin) == {"dist_unmanaged"}


def test_the_distributor_may_still_handle_an_unmanaged_reseller_warning_on_its_behalf(cast, dist_admin):
    assert cast["rb_unmanaged"].can_be_handled_by(dist_admin)
    assert not cast["ra_managed"].can_be_handled_by(dist_admin)  # the reseller's sales user owns that one


def test_arrears_emails_go_to_the_owners(cast, ra_admin, ra_sales):
    assert _arrears_recipients(cast["ra_managed"]) == [ra_sales]
    assert _arrears_recipients(cast["ra_unknown"]) == [ra_admin]


# --- point 5b and 12: tabs, badge and count -----------------------------------------------------------------


def badge(client) -> str:
    return client.get(COUNT).content.decode().split(">", 1)[1].split("<", 1)[0]


def test_a_distributors_handle_tab_and_badge_count_only_its_own_customers(client_for, cast, dist_admin):
    client = client_for(dist_admin)
    handle = client.get(INBOX).content.decode()
    assert cast["dist_unmanaged"].title in handle
    assert cast["rb_unmanaged"].title not in handle and cast["ra_unmanaged"].title not in handle
    assert badge(client) == "1"
    everything = client.get(INBOX, {"tab": "all"}).content.decode()
    assert cast["rb_unmanaged"].title in everything  # still visible, and handleable, on "All warnings"


def test_the_handle_tab_lists_pending_warnings_and_its_count_is_the_badge(
    client_for, ra_sales, make_customer, make_warning
):
    customer = make_customer("ra", account_manager=ra_sales)
    pending = [make_warning(customer, title=f"Pending {i}") for i in range(3)]
    handled = make_warning(customer, title="Already handled", status="HANDLED", handle_result="LOST")
    client = client_for(ra_sales)
    page = client.get(INBOX).content.decode()
    assert all(w.title in page for w in pending) and handled.title not in page
    assert "3 条预警" in page or "3 warnings" in page
    assert badge(client) == "3" == str(services.pending_count(ra_sales))
    # Choosing a status, even "all", is honoured.
    assert handled.title in client.get(INBOX, {"status": "HANDLED"}).content.decode()
    assert handled.title in client.get(INBOX, {"status": ""}).content.decode()


def test_the_tabs_are_named_as_on_the_platform(client_for, ra_admin):
    page = client_for(ra_admin).get(INBOX).content.decode()
    assert "处理预警" in page and "全部预警" in page


def test_the_customer_warnings_menu_entry_carries_the_badge(
    client_for, ra_sales, make_customer, make_warning
):
    make_warning(make_customer("ra", account_manager=ra_sales))
    client = client_for(ra_sales)
    page = client.get(INBOX).content.decode()
    entry = page.split(f'href="{INBOX}"', 1)[1].split("</a>", 1)[0]
    assert 'id="warning-count-menu"' in entry
    # The badge's poll updates it out of band.
    answer = client.get(COUNT).content.decode()
    assert 'id="warning-count-menu"' in answer and 'hx-swap-oob="true"' in answer and ">1</span>" in answer


# --- point 12: bulk handling --------------------------------------------------------------------------------


@pytest.fixture
def mine(make_customer, make_warning, ra_sales):
    customer = make_customer("ra", account_manager=ra_sales)
    return [make_warning(customer, category="CHURN" if i % 2 else "RESOURCE") for i in range(15)]


def test_a_bulk_handling_without_a_result_is_refused(client_for, ra_sales, mine):
    response = client_for(ra_sales).post(BULK, {"warnings": [mine[0].pk], "next": INBOX}, follow=True)
    page = response.content.decode()
    assert "Choose the result" in page or "请选择流失预警的处理结果" in page
    assert not OutboxCommand.objects.exists()
    assert CustomerWarning.objects.filter(status="PENDING").count() == 15


def test_the_bulk_form_offers_no_default_result(client_for, ra_sales, mine):
    page = client_for(ra_sales).get(INBOX).content.decode()
    form = page.split('id="bulk-form"', 1)[1]
    select = form.split('name="result"', 1)[1].split("</select>", 1)[0]
    assert '<option value="" selected>' in select  # "Choose…", not a result
    assert select.count("selected") == 1


def test_a_bulk_handling_is_confirmed_with_its_count_first(client_for, ra_sales, mine):
    client = client_for(ra_sales)
    ids = [w.pk for w in mine[:12]]
    response = client.post(BULK, {"warnings": ids, "result": "LOST", "next": INBOX})
    page = response.content.decode()
    assert response.status_code == 200
    assert "确定处理 12 条预警？" in page or "Handle 12 warnings?" in page
    assert not OutboxCommand.objects.exists()  # nothing handled before the confirmation
    confirm = client.post(BULK, {"warnings": ids, "result": "LOST", "next": INBOX, "confirmed": "1"})
    assert confirm["Location"] == INBOX
    assert OutboxCommand.objects.count() == 12


def select_matching(client, params) -> str:
    """The inbox with `params`, then what its bulk form loads when it comes into view (its own hx-get)."""
    listing = client.get(INBOX, params).content.decode()
    url = re.search(r'hx-get="([^"]+)" hx-trigger="intersect once"', listing)
    assert url, "the bulk form counts the matching warnings when it comes into view"
    return client.get(html.unescape(url.group(1))).content.decode()


def test_select_all_is_offered_only_within_what_one_request_may_handle(
    client_for, ra_sales, mine, monkeypatch
):
    """The matching count is bounded at the bulk limit: beyond it the page says to narrow the filters."""
    client = client_for(ra_sales)
    monkeypatch.setattr(services, "BULK_HANDLE_MAX", 7)
    too_many = select_matching(client, {"category": "RESOURCE"})  # 8 match
    assert "select-all-matching" not in too_many and "select-all-too-many" in too_many
    monkeypatch.setattr(services, "BULK_HANDLE_MAX", 8)
    just_enough = select_matching(client, {"category": "RESOURCE"})
    assert "select-all-matching" in just_enough and "select-all-too-many" not in just_enough


def test_the_list_itself_does_not_count_what_the_user_may_handle(client_for, ra_sales, mine):
    client = client_for(ra_sales)
    with CaptureQueriesContext(connection) as queries:
        client.get(INBOX, {"category": "RESOURCE"})
    assert not [q for q in queries if "COUNT(" in q["sql"] and "push_pending" in q["sql"]]


def test_select_all_matching_handles_every_page_within_the_filters(client_for, ra_sales, mine, make_warning):
    client = client_for(ra_sales)
    listing = select_matching(client, {"category": "RESOURCE", "per_page": 10})
    resource = [w for w in mine if w.category == "RESOURCE"]
    assert len(resource) == 8
    assert "select-all-matching" in listing and ("全部 8 条" in listing or "Select all 8 matching" in listing)
    query = "tab=handle&category=RESOURCE&per_page=10&page=2"
    response = client.post(BULK, {"select_all": "1", "query": query, "result": "NOT_LOST", "next": INBOX})
    page = response.content.decode()
    assert "确定处理 8 条预警？" in page or "Handle 8 warnings?" in page
    ids = [int(v) for v in page.split('name="warnings" value="')[1:] for v in [v.split('"', 1)[0]]]
    assert sorted(ids) == sorted(w.pk for w in resource)
    client.post(BULK, {"warnings": ids, "result": "NOT_LOST", "next": INBOX, "confirmed": "1"})
    assert set(CustomerWarning.objects.filter(status="HANDLED").values_list("pk", flat=True)) == set(ids)
    assert CustomerWarning.objects.filter(category="CHURN", status="PENDING").count() == 7


def test_select_all_matching_skips_warnings_the_user_may_not_handle(
    client_for, ra_admin, ra_sales, mine, make_customer, make_warning
):
    unmanaged = make_warning(make_customer("ra"), category="RESOURCE")
    response = client_for(ra_admin).post(
        BULK, {"select_all": "1", "query": "tab=all&category=RESOURCE", "result": "LOST", "next": INBOX}
    )
    page = response.content.decode()
    # Of 9 resource warnings the admin may handle only the unmanaged one; the sales user's are not its own.
    assert "确定处理 1 条预警？" in page or "Handle 1 warning?" in page
    assert f'name="warnings" value="{unmanaged.pk}"' in page and page.count('name="warnings"') == 1


@pytest.mark.parametrize("next_value", ["abc", "customers:list", "//evil.example/", "javascript:alert(1)"])
def test_a_nonsense_next_on_bulk_handling_and_assign_is_not_a_500(
    client_for, ra_admin, make_customer, make_warning, next_value
):
    """Point 10: `next=abc` used to be read by redirect() as a URL name and answer 500."""
    customer = make_customer("ra")
    warning = make_warning(customer)
    client = client_for(ra_admin)
    bulk = client.post(
        BULK, {"warnings": [warning.pk], "result": "LOST", "next": next_value, "confirmed": "1"}
    )
    assert bulk.status_code == 302 and bulk["Location"] == INBOX
    assign = client.post(
        reverse("customers:assign", args=[customer.pk]), {"account_manager": "", "next": next_value}
    )
    assert assign.status_code == 302
    assert assign["Location"] == reverse("customers:detail", args=[customer.pk])


# --- point 22: the inbox's exact query count ----------------------------------------------------------------

# The whole page, the shell included (the user with its partner; session, permissions and role come from the
# cache), the row count, the rows and the filter's choices ("select all N" is counted when
# the bulk form comes into view: warning_handleable). If this changes, say why in the commit.
INBOX_QUERIES = 4


def test_the_inbox_keeps_an_exact_query_count_at_10_and_100_rows(
    client_for, ra_admin, ra_sales, make_customer, make_warning
):
    client = client_for(ra_admin)

    def add(n):
        for i in range(n):
            customer = make_customer("ra", account_manager=ra_sales if i % 2 else None)
            make_warning(customer)

    def measure():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(INBOX, {"tab": "all", "per_page": 100}).status_code == 200
        return len(queries)

    add(10)
    client.get(INBOX)
    at_10 = measure()
    add(90)
    at_100 = measure()
    assert (at_10, at_100) == (INBOX_QUERIES, INBOX_QUERIES)


def test_a_confirmed_select_all_beyond_the_bound_handles_nothing(client_for, ra_sales, mine, monkeypatch):
    """Even posted straight to the confirmation step, more than one request may handle changes nothing."""
    client = client_for(ra_sales)
    monkeypatch.setattr(services, "BULK_HANDLE_MAX", 7)  # 8 RESOURCE warnings match
    query = "tab=handle&category=RESOURCE"
    data = {"select_all": "1", "query": query, "result": "LOST", "next": INBOX, "confirmed": "1"}
    assert client.post(BULK, data).status_code == 302
    assert not CustomerWarning.objects.filter(status="HANDLED").exists()
    assert not OutboxCommand.objects.exists()
