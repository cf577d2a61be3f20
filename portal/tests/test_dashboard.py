"""The operations dashboard (运营看板): monthly association counts in the user's time zone, scopes, tiles,
stale flags, the chart and its table, links to the filtered records, and a constant query count."""

from __future__ import annotations

import itertools
import random
import re
import zoneinfo
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from customers.models import AssociationEvent, CustomerWarning
from portal import dashboard
from upstream.models import SyncRun

pytestmark = pytest.mark.django_db

DASHBOARD = reverse("portal:dashboard")
Op = AssociationEvent.Operation
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
_seq = itertools.count(1)


def event(partner, operation, at, **fields) -> AssociationEvent:
    n = next(_seq)
    return AssociationEvent.objects.create(
        partner=partner,
        customer_upstream_id=f"c-{n}",
        record_id=f"dash-{n}",
        operation=operation,
        occurred_at=at,
        **fields,
    )


def counts(months) -> dict[str, tuple[int, int, int]]:
    return {
        m.start.strftime("%Y-%m"): (m.associated, m.disassociated, m.switched)
        for m in months
        if (m.associated, m.disassociated, m.switched) != (0, 0, 0)
    }


@pytest.fixture
def make_customer(partners):
    """make_customer("ra", **fields) → an associated resale customer of that partner."""
    from customers.models import Customer

    def make(key: str, **fields) -> Customer:
        n = next(_seq)
        values = {
            "partner": partners[key],
            "customer_id": f"dc-{n}",
            "name": f"客户{n}",
            "association_type": "2",
        }
        return Customer.objects.create(**{**values, **fields})

    return make


# --- monthly counts, by hand ----------------------------------------------------------------------------


@pytest.fixture
def boundary_events(partners):
    ra = partners["ra"]
    return [
        event(ra, Op.ASSOCIATE, datetime(2026, 3, 31, 17, 0, tzinfo=UTC)),  # Apr 1 01:00 in Shanghai
        event(ra, Op.DISASSOCIATE, datetime(2026, 3, 31, 15, 0, tzinfo=UTC)),  # Mar 31 23:00 in Shanghai
        event(ra, Op.SWITCH, datetime(2025, 11, 30, 20, 0, tzinfo=UTC)),  # Dec 1 04:00 in Shanghai
        event(ra, Op.ASSOCIATE, datetime(2026, 11, 30, 17, 0, tzinfo=UTC)),  # Dec 1 01:00 in Shanghai
        event(ra, Op.ASSOCIATE, datetime(2025, 6, 1, tzinfo=UTC)),  # more than a year ago
    ]


def test_months_in_shanghai_put_late_utc_evenings_in_the_next_month(partners, boundary_events):
    months = dashboard.association_months([partners["ra"].pk], SHANGHAI, date(2026, 11, 26))
    assert months[0].start == date(2025, 12, 1) and months[-1].start == date(2026, 11, 1)
    assert counts(months) == {"2025-12": (0, 0, 1), "2026-03": (0, 1, 0), "2026-04": (1, 0, 0)}


def test_months_in_utc_keep_them_in_their_utc_month(partners, boundary_events):
    months = dashboard.association_months([partners["ra"].pk], UTC, date(2026, 11, 26))
    assert counts(months) == {"2026-03": (1, 1, 0), "2026-11": (1, 0, 0)}


def test_a_year_boundary_in_shanghai(partners):
    ra = partners["ra"]
    event(ra, Op.DISASSOCIATE, datetime(2025, 12, 31, 16, 0, tzinfo=UTC))  # 2026-01-01 00:00 in Shanghai
    event(ra, Op.DISASSOCIATE, datetime(2025, 12, 31, 15, 59, 59, tzinfo=UTC))  # 2025-12-31 23:59:59
    assert counts(dashboard.association_months([ra.pk], SHANGHAI, date(2026, 1, 5))) == {
        "2025-12": (0, 1, 0),
        "2026-01": (0, 1, 0),
    }
    assert counts(dashboard.association_months([ra.pk], UTC, date(2026, 1, 5))) == {"2025-12": (0, 2, 0)}


@pytest.mark.parametrize(
    "zone", ["Asia/Shanghai", "UTC", "America/New_York", "Asia/Kolkata", "Pacific/Auckland"]
)
def test_any_time_zone_equals_counting_the_events_one_by_one(partners, zone):
    """Random events around month boundaries: the rollup sums plus split days equal a plain recount."""
    tz = zoneinfo.ZoneInfo(zone)
    rng = random.Random(11)
    ids = [partners["ra"].pk, partners["rb"].pk]
    today = date(2026, 11, 26)
    made = []
    for _ in range(300):
        month = rng.randrange(0, 14)
        y, m = divmod(2025 * 12 + 10 + month, 12)
        at = datetime(y, m + 1, 1, tzinfo=UTC) + timedelta(hours=rng.uniform(-30, 30))
        made.append(event(partners[rng.choice(["ra", "rb"])], rng.choice(list(Op)), at))
    expected: dict[str, list[int]] = {}
    starts = dashboard.month_starts(today)
    for e in made:
        local = e.occurred_at.astimezone(tz).date()
        if not (starts[0] <= local < starts[-1]):
            continue
        key = local.strftime("%Y-%m")
        slot = expected.setdefault(key, [0, 0, 0])
        slot[[Op.ASSOCIATE, Op.DISASSOCIATE, Op.SWITCH].index(e.operation)] += 1
    got = counts(dashboard.association_months(ids, tz, today))
    assert got == {k: tuple(v) for k, v in expected.items()}


def test_all_resellers_is_the_sum_of_each_and_the_distributor_sees_its_own(partners):
    at = timezone.now() - timedelta(days=3)
    for key, n in (("ra", 3), ("rb", 2), ("dist", 4)):
        for _ in range(n):
            event(partners[key], Op.ASSOCIATE, at)

    def total(ids):
        return sum(m.associated for m in dashboard.association_months(ids, SHANGHAI))

    ra, rb, dist = (partners[k].pk for k in ("ra", "rb", "dist"))
    assert (total([ra]), total([rb]), total([dist]), total([ra, rb])) == (3, 2, 4, 5)


# --- the page -------------------------------------------------------------------------------------------


def test_a_reseller_sees_its_own_numbers_and_may_name_no_other(client_for, ra_admin, rb_admin, partners):
    event(partners["rb"], Op.DISASSOCIATE, timezone.now() - timedelta(days=1))
    client = client_for(ra_admin)
    page = client.get(DASHBOARD)
    assert page.status_code == 200
    assert 'data-testid="dashboard-scope"' not in page.content.decode()
    totals = re.findall(r'data-testid="total-\d">.*?<strong>(\d+)</strong>', page.content.decode(), re.S)
    assert totals == ["0", "0", "0"]
    assert client.get(DASHBOARD, {"partner": partners["rb"].pk}).status_code == 404
    assert client.get(DASHBOARD, {"partner": "resellers"}).status_code == 404
    assert client.get(DASHBOARD, {"partner": partners["ra"].pk}).status_code == 200
    assert client_for(rb_admin).get(DASHBOARD).status_code == 200


def test_a_distributor_switches_between_itself_one_reseller_and_all(client_for, dist_admin, partners):
    now = timezone.now() - timedelta(hours=1)
    event(partners["ra"], Op.DISASSOCIATE, now)
    event(partners["rb"], Op.DISASSOCIATE, now)
    event(partners["rb"], Op.DISASSOCIATE, now)
    client = client_for(dist_admin)

    def disassociations(**params) -> str:
        body = client.get(DASHBOARD, params).content.decode()
        return re.search(r'data-testid="total-2">.*?<strong>(\d+)</strong>', body, re.S).group(1)

    assert disassociations() == "0"
    assert disassociations(partner=partners["ra"].pk) == "1"
    assert disassociations(partner=partners["rb"].pk) == "2"
    assert disassociations(partner="resellers") == "3"
    assert client.get(DASHBOARD, {"partner": "999999"}).status_code == 404
    assert client.get(DASHBOARD, {"partner": "x"}).status_code == 404


def test_counts_link_to_the_records_filtered_the_same_way(client_for, dist_admin, partners):
    event(partners["ra"], Op.DISASSOCIATE, timezone.now() - timedelta(minutes=5))
    client = client_for(dist_admin)
    body = client.get(DASHBOARD, {"partner": partners["ra"].pk}).content.decode()
    link = re.search(r'<a href="([^"]+)" data-testid="total-2">', body).group(1).replace("&amp;", "&")
    assert "operation=DISASSOCIATE" in link and f"partner={partners['ra'].pk}" in link
    records = client.get(link).content.decode()
    assert len(re.findall(r"data-record=", records)) == 1
    # The month's cell links to that month alone.
    this_month = timezone.localdate().replace(day=1).isoformat()
    assert f"operation=DISASSOCIATE&amp;occurred_from={this_month}" in body


def test_a_reseller_scopes_warning_counts_link_to_that_resellers_warnings(
    client_for, dist_admin, partners, make_customer
):
    """The warnings tile of one reseller (or of all resellers) opens the inbox filtered to the same scope,
    where the count on the tile is the number of rows."""
    now = timezone.now()
    for key, n in (("ra", 2), ("rb", 3), ("dist", 1)):
        customer = make_customer(key)
        for _ in range(n):
            CustomerWarning.objects.create(
                partner=partners[key],
                customer=customer,
                customer_upstream_id=customer.customer_id,
                warning_id=f"w-{next(_seq)}",
                scene_name="s",
                category="CHURN",
                title="t",
                send_time=now,
            )
    client = client_for(dist_admin)
    for scope, expected in ((partners["rb"].pk, 3), ("resellers", 5), ("", 1)):
        body = client.get(DASHBOARD, {"partner": scope} if scope else {}).content.decode()
        link = re.search(r'<a href="([^"]+)" data-testid="warnings-CHURN">[^<]*<strong>(\d+)</strong>', body)
        assert int(link.group(2)) == expected, scope
        inbox = client.get(link.group(1).replace("&amp;", "&")).content.decode()
        assert len(re.findall(r"<tr[^>]*data-warning=", inbox)) == expected, scope
    # A partner the user may not see is refused with a message; the list stays the user's own, unfiltered.
    response = client.get(reverse("customers:warnings"), {"tab": "all", "partner": "999999"})
    with translation.override(response["Content-Language"]):
        refused = translation.gettext(
            "Some filters were not understood (%(names)s), so the list is not filtered."
        ) % {"names": translation.gettext("Partner")}
    assert refused in response.content.decode()
    assert len(re.findall(r"<tr[^>]*data-warning=", response.content.decode())) == 6


def test_the_chart_is_svg_with_a_table_and_follows_the_language(client_for, ra_admin, partners):
    event(partners["ra"], Op.SWITCH, timezone.now() - timedelta(hours=2))
    client = client_for(ra_admin)
    body = client.get(DASHBOARD).content.decode()
    assert "<svg" in body and 'data-testid="association-table"' in body and "<script>" not in body
    assert "切换" in body or "Switch" in body
    client.cookies["django_language"] = "en"
    english = client.get(DASHBOARD, headers={"Accept-Language": "en"}).content.decode()
    assert "Switches" in english or "切换" not in english


def test_the_charts_bars_are_proportional_to_the_counts():
    months = [dashboard.Month(date(2026, i, 1), date(2026, i, 28), associated=i) for i in range(1, 13)]
    drawn = dashboard.chart(months)
    heights = [g["bars"][0]["h"] for g in drawn["groups"]]
    assert drawn["peak"] == 12 and heights[-1] == drawn["baseline"] - drawn["peak_y"]
    assert heights[5] == pytest.approx(heights[-1] * 6 / 12, abs=0.1)
    assert all(g["bars"][1]["h"] == 0 for g in drawn["groups"])


def test_htmx_polls_get_the_body_only_and_keep_the_scope(client_for, dist_admin, partners):
    client = client_for(dist_admin)
    response = client.get(DASHBOARD, {"partner": "resellers"}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert 'hx-trigger="every 60s, dashboard-refresh"' in body and "?partner=resellers" in body
    assert "HX-Request" in response["Vary"]


def test_anonymous_and_wrong_method(client, client_for, ra_sales):
    assert client.get(DASHBOARD)["Location"].startswith("/accounts/login/")
    assert client_for(ra_sales).post(DASHBOARD).status_code == 405


def test_money_tiles_are_for_admins_and_finance(client_for, ra_sales, ra_finance):
    assert 'data-testid="tile-funds"' not in client_for(ra_sales).get(DASHBOARD).content.decode()
    assert 'data-testid="tile-funds"' in client_for(ra_finance).get(DASHBOARD).content.decode()


def test_tiles_show_the_balance_funds_warnings_and_debt(client_for, ra_admin, partners, make_customer):
    from billing.models import AdjustRecord, CustomerAccount, PartnerAccount

    ra = partners["ra"]
    PartnerAccount.objects.create(
        partner=ra,
        account_id="a1",
        account_type=1,
        amount=Decimal("1000.00"),
        designated_amount=Decimal("100"),
    )
    customer = make_customer("ra")
    CustomerAccount.objects.create(customer=customer, partner=ra, amount=Decimal(0), debt_amount=Decimal("5"))
    now = timezone.now()
    for n, (kind, amount) in enumerate(
        [
            ("SOURCE_OPERATION_BEADJUST", "30.50"),
            ("SOURCE_OPERATION_BERETRIEVE", "10"),
            ("SOURCE_OPERATION_BEUNBIND", "2"),
        ]
    ):
        AdjustRecord.objects.create(
            partner=ra,
            customer_upstream_id=customer.customer_id,
            trans_id=f"t{n}",
            operation_type=kind,
            amount=Decimal(amount),
            operation_time=now,
        )
    for category in ("CHURN", "CHURN", "ARREARS"):
        CustomerWarning.objects.create(
            partner=ra,
            customer=customer,
            customer_upstream_id=customer.customer_id,
            warning_id=f"w-{next(_seq)}",
            scene_name="s",
            category=category,
            title="t",
            send_time=now,
        )
    body = client_for(ra_admin).get(DASHBOARD).content.decode()
    assert "900.00" in body
    assert re.search(r'data-testid="allocated">[^<]*30\.50', body)
    assert re.search(r'data-testid="reclaimed">[^<]*12\.00', body)
    assert re.search(r'data-testid="warnings-CHURN">[^<]*<strong>2</strong>', body)
    assert "status=PENDING&amp;category=ARREARS" in body
    assert re.search(r'data-testid="tile-debt">.*?<p class="kpi">1</p>', body, re.S)


def test_data_older_than_twice_its_schedule_is_flagged(client_for, ra_admin, settings):
    now = timezone.now()
    fresh = dashboard.freshness([], now)
    assert all(part["stale"] for part in fresh.values())  # never synced
    run = SyncRun.objects.create(
        dataset="association_records", status=SyncRun.Status.SUCCEEDED, started_at=now, finished_at=now
    )
    rows = [{"name": "association_records", "good": run}]
    assert not dashboard.freshness(rows, now)["associations"]["stale"]
    late = now + timedelta(seconds=2 * settings.SYNC_SCHEDULE["association_records"] + 1)
    assert dashboard.freshness(rows, late)["associations"]["stale"]
    body = client_for(ra_admin).get(DASHBOARD).content.decode()
    assert 'data-testid="stale"' in body


# The dashboard's queries, whatever the data: the user (1); a distributor's resellers, for the scope (1);
# the months: the rollup days (1), and in a zone whose months split Shanghai days the events of those days
# (1); sync health: the newest and the newest good run per dataset (2); customers by type, level and label
# (1); for admins and finance: the balance and the allocations in flight (2), funds this month (1),
# customers in debt (1), discounts and offers expiring (3); for those who see warnings: by category (1); for
# admins: association requests waiting (1); for those who may pay orders (admins, finance): the orders
# awaiting the partner's payment (1); for those who create customers (admins, sales): the funnel (1).
DASHBOARD_QUERIES = {"dist-admin": 17, "ra-admin": 16, "ra-finance": 13, "ra-sales": 7, "ra-viewer": 5}


def test_each_role_keeps_the_dashboards_query_baseline(
    client_for, dist_admin, ra_admin, ra_finance, ra_sales, ra_viewer, partners
):
    event(partners["ra"], Op.SWITCH, timezone.now() - timedelta(days=2))
    for user in (dist_admin, ra_admin, ra_finance, ra_sales, ra_viewer):
        client = client_for(user)
        client.get(DASHBOARD)
        with CaptureQueriesContext(connection) as captured:
            client.get(DASHBOARD)
        assert len(captured) == DASHBOARD_QUERIES[user.username], user.username
        client.logout()


def test_the_query_count_is_constant_in_the_data(client_for, dist_admin, partners, make_customer):
    client = client_for(dist_admin)

    def queries(params):
        client.get(DASHBOARD, params)
        with CaptureQueriesContext(connection) as captured:
            assert client.get(DASHBOARD, params).status_code == 200
        return len(captured)

    scopes = ({}, {"partner": "resellers"}, {"partner": partners["ra"].pk})
    before = [queries(p) for p in scopes]
    now = timezone.now()
    for i in range(40):
        key = ("ra", "rb", "dist")[i % 3]
        event(partners[key], list(Op)[i % 3], now - timedelta(days=i * 9))
        make_customer(key, customer_level=f"V{i % 5}", label=f"l{i % 11}")
    SyncRun.objects.create(dataset="customers", status=SyncRun.Status.SUCCEEDED, finished_at=now)
    assert [queries(p) for p in scopes] == before == [DASHBOARD_QUERIES["dist-admin"]] * 3


def test_the_query_count_is_constant_in_a_zone_whose_months_split_rollup_days(client_for, ra_admin, partners):
    client = client_for(ra_admin)
    ra_admin.time_zone = "America/New_York"
    ra_admin.save()
    client.get(DASHBOARD)  # warm the per-user caches
    with CaptureQueriesContext(connection) as first:
        client.get(DASHBOARD)
    event(partners["ra"], Op.ASSOCIATE, timezone.now() - timedelta(days=40))
    with CaptureQueriesContext(connection) as second:
        client.get(DASHBOARD)
    # Two more: the association events of the split days, and the adjust records of the month's first
    # partial rollup day.
    assert len(first) == len(second) == DASHBOARD_QUERIES["ra-admin"] + 2


def test_admins_see_the_association_requests_waiting_and_link_to_them(
    client_for, ra_admin, ra_sales, partners, make_customer
):
    from customers.models import AssociationRequest

    Status = AssociationRequest.Status
    for status in (Status.PENDING_CUSTOMER, Status.PENDING_PARTNER, Status.APPROVED):
        AssociationRequest.objects.create(
            partner=partners["ra"],
            customer=make_customer("ra"),
            kind=AssociationRequest.Kind.DISASSOCIATE,
            direction="partner",
            status=status,
            reason="why",
            expires_at=timezone.now() + timedelta(days=7),
        )
    body = client_for(ra_admin).get(DASHBOARD).content.decode()
    assert re.search(r'data-testid="requests-pending_customer">[^<]*<strong>1</strong>', body)
    assert re.search(r'data-testid="requests-pending_partner">[^<]*<strong>1</strong>', body)
    assert "/customers/requests/?status=pending_partner" in body
    assert 'data-testid="tile-requests"' not in client_for(ra_sales).get(DASHBOARD).content.decode()


def test_only_the_parts_whose_dataset_is_late_are_flagged(client_for, ra_admin):
    now = timezone.now()
    SyncRun.objects.create(
        dataset="association_records", status=SyncRun.Status.SUCCEEDED, started_at=now, finished_at=now
    )
    old = now - timedelta(hours=2)
    SyncRun.objects.create(
        dataset="partner_balances", status=SyncRun.Status.SUCCEEDED, started_at=old, finished_at=old
    )
    body = client_for(ra_admin).get(DASHBOARD).content.decode()
    associations = body.split('data-testid="associations"')[1].split("</section>")[0]
    balance = body.split('data-testid="tile-balance"')[1].split("</section>")[0]
    assert 'data-testid="stale"' not in associations and "截至" in associations  # "as of"
    assert 'data-testid="stale"' in balance and "已过 2\xa0小时" in balance  # "2 hours old"


# --- the numbers cached while the database is unchanged (portal/lib/unchanged.py) ------------------------


@pytest.mark.django_db(transaction=True)
def test_the_numbers_are_cached_until_anything_is_committed(client_for, ra_admin, partners, make_customer):
    from customers.models import AssociationRequest
    from portal.lib.unchanged import database_stamp

    client = client_for(ra_admin)
    # The stamp is the whole cluster's: a commit in another database (another test run, a worker) between
    # the two requests is a miss. Tried until the two requests had the cluster to themselves.
    for _attempt in range(50):
        stamp = database_stamp()
        client.get(DASHBOARD)  # computes the numbers (and the body)
        with CaptureQueriesContext(connection) as hit:
            body = client.get(DASHBOARD).content.decode()
        if database_stamp() == stamp:
            break
    # The user and the database's stamp: none of the tiles' queries.
    assert len(hit) == 2, [q["sql"][:80] for q in hit]
    assert re.search(r'data-testid="requests-pending_partner">[^<]*<strong>0</strong>', body)

    AssociationRequest.objects.create(
        partner=partners["ra"],
        customer=make_customer("ra"),
        kind=AssociationRequest.Kind.DISASSOCIATE,
        direction="partner",
        status=AssociationRequest.Status.PENDING_PARTNER,
        reason="why",
        expires_at=timezone.now() + timedelta(days=7),
    )
    with CaptureQueriesContext(connection) as miss:
        body = client.get(DASHBOARD).content.decode()
    assert len(miss) == DASHBOARD_QUERIES["ra-admin"] + 1  # the stamp, then every tile anew
    assert re.search(r'data-testid="requests-pending_partner">[^<]*<strong>1</strong>', body)


@pytest.mark.django_db(transaction=True)
def test_a_commit_of_a_transaction_running_while_the_value_was_computed_changes_the_stamp():
    import psycopg
    from psycopg import sql

    from portal.lib.unchanged import cached, database_stamp

    def runs():
        return SyncRun.objects.filter(dataset="unchanged-test").count()

    for _attempt in range(50):  # until nothing else in the cluster committed between the two (see above)
        stamp = database_stamp()
        first = cached("test", (), runs)
        second = cached("test", (), lambda: "recomputed")
        if database_stamp() == stamp:
            break
    assert first == second == 0
    # A writer that began before the value below is computed and commits after it: its row is not in the
    # value, and the value must not be served once the row is committed.
    row = SyncRun(dataset="unchanged-test", status=SyncRun.Status.SUCCEEDED)
    fields = [f for f in SyncRun._meta.concrete_fields if not f.primary_key]
    insert = sql.SQL("INSERT INTO upstream_syncrun ({}) VALUES ({})").format(
        sql.SQL(", ").join(sql.Identifier(f.column) for f in fields),
        sql.SQL(", ").join(sql.Placeholder() * len(fields)),
    )
    db = connection.settings_dict
    conninfo = {"dbname": db["NAME"], "user": db["USER"], "host": db["HOST"], "port": db["PORT"]}
    with psycopg.connect(**conninfo, password=db["PASSWORD"] or None) as writer:
        writer.execute(insert, [f.get_db_prep_save(getattr(row, f.attname), connection) for f in fields])
        stamp = database_stamp()
        assert cached("test", ("other",), runs) == 0
        assert database_stamp() == stamp
        writer.commit()
    assert database_stamp() != stamp
    assert cached("test", ("other",), runs) == 1
    assert cached("test", (), runs) == 1


def test_inside_a_transaction_nothing_is_cached():
    from portal.lib.unchanged import cached, database_stamp

    assert database_stamp() is None
    SyncRun.objects.create(dataset="unchanged-test", status=SyncRun.Status.SUCCEEDED)
    assert cached("test", (), lambda: 1) == 1
    assert cached("test", (), lambda: 2) == 2
