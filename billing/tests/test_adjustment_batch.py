"""Batch allocation and reclaim (批量拨款 / 批量回收): every row checked in a preview that changes nothing,
the valid rows submitted once each, live progress, the results CSV; bad input and tampering refused."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing import services
from billing.models import Adjustment, AdjustmentBatch, CustomerAccount, PartnerAccount
from customers.models import Customer
from upstream import outbox
from upstream.models import OutboxCommand

pytestmark = pytest.mark.django_db

BATCH = reverse("billing:adjustment-batch")
SUBMIT = reverse("billing:adjustment-batch-submit")


@pytest.fixture
def books(partners, monkeypatch):
    """Reseller A: 1000.00 with 100.00 designated (900.00 to allocate); two resale customers with 50.00 each,
    a referral customer; Reseller B's customer is not Reseller A's to touch."""
    monkeypatch.setattr(outbox, "schedule_drain", lambda key=None, *, countdown=None: None)
    PartnerAccount.objects.create(
        partner=partners["ra"],
        account_id="a",
        account_type=1,
        amount=Decimal("1000.00"),
        designated_amount=100,
    )
    made = {}
    for key, partner, kind in (("c1", "ra", "2"), ("c2", "ra", "2"), ("ref", "ra", "1"), ("rb1", "rb", "2")):
        made[key] = Customer.objects.create(
            partner=partners[partner], customer_id=f"id-{key}", name=f"客户{key}", association_type=kind
        )
        if kind == "2":
            CustomerAccount.objects.create(
                customer=made[key], partner=partners[partner], amount=Decimal("50.00")
            )
    return made


MIXED = "\n".join(
    [
        "customer_id,amount,memo",
        "id-c1,100.00,first",
        "id-c2,1.001,too precise",
        "id-ref,5.00,referral",
        "id-rb1,5.00,another tenant's",
        "id-nope,5.00,unknown",
        "id-c2,NaN,not a number",
        "id-c2,850.00,over what is left",
        "id-c2,800.00,fits exactly",
    ]
)


def _check(partners, kind: str, text: str):
    return services.check_batch(
        acting_partner=partners["ra"],
        visible_customers=Customer.objects.for_partner(partners["ra"]),
        kind=kind,
        text=text,
    )


def test_every_row_is_checked_and_earlier_rows_count_against_the_balance(partners, books):
    rows = _check(partners, "allocate", MIXED)
    assert [(row.line, row.valid) for row in rows] == [
        (2, True),
        (3, False),
        (4, False),
        (5, False),
        (6, False),
        (7, False),
        (8, False),  # 100 + 850 > 900
        (9, True),  # 100 + 800 = 900
    ]
    assert "2 decimal places" in rows[1].error or "2 位小数" in rows[1].error
    assert "Unknown customer" in rows[3].error or "未知客户" in rows[3].error


def test_a_reclaim_row_cannot_take_more_than_the_customer_holds_across_rows(partners, books):
    rows = _check(partners, "reclaim", "id-c1,30.00\nid-c1,20.00\nid-c1,0.01")
    assert [row.valid for row in rows] == [True, True, False]


def test_the_preview_costs_the_same_queries_for_ten_rows_and_a_thousand(partners, books):
    def queries(n: int) -> int:
        text = "\n".join(f"id-c{1 + i % 2},0.01,row {i}" for i in range(n))
        with CaptureQueriesContext(connection) as captured:
            rows = _check(partners, "allocate", text)
        assert len(rows) == n and all(row.valid for row in rows)
        return len(captured)

    assert queries(10) == queries(1000)


def test_too_many_rows_or_none_are_refused_with_a_message(partners, books):
    for text, code in (
        ("\n".join(["id-c1,0.01"] * 1001), "batch_too_long"),
        ("customer_id,amount\n", "batch_empty"),
    ):
        with pytest.raises(services.ValidationError) as error:
            _check(partners, "allocate", text)
        assert error.value.code == code


def _preview(client, text: str, kind: str = "allocate"):
    return client.post(BATCH, {"kind": kind, "text": text})


def test_preview_then_submit_makes_one_adjustment_per_valid_row(client_for, ra_finance, partners, books):
    client = client_for(ra_finance)
    preview = _preview(client, MIXED)
    assert preview.status_code == 200
    assert (preview.context["valid_count"], preview.context["invalid_count"]) == (2, 6)
    assert preview.context["total"] == Decimal("900.00")
    assert not Adjustment.objects.exists()  # the preview writes nothing
    payload = preview.context["submit_form"].initial["rows"]
    response = client.post(SUBMIT, {"rows": payload})
    batch = AdjustmentBatch.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("billing:adjustment-batch-detail", args=[batch.pk])
    assert [row["line"] for row in batch.rows] == [2, 9]

    services.create_batch_adjustments_now(batch.pk)
    services.create_batch_adjustments_now(batch.pk)  # a retried task makes nothing twice
    assert Adjustment.objects.filter(batch=batch).count() == 2
    assert OutboxCommand.objects.count() == 2
    assert sorted(Adjustment.objects.values_list("amount", flat=True)) == [
        Decimal("100.00"),
        Decimal("800.00"),
    ]

    detail = client.get(response["Location"])
    assert detail.context["counts"] == {"succeeded": 0, "failed": 0, "open": 2}
    assert 'hx-trigger="every 2s"' in detail.content.decode()
    for n, adjustment in enumerate(Adjustment.objects.order_by("pk")):
        adjustment.mark_sent()
        adjustment.mark_succeeded(f"TX-{n}") if n == 0 else adjustment.mark_failed("CBC.5003: no money")
    detail = client.get(response["Location"], headers={"HX-Request": "true"})
    assert "every 2s" not in detail.content.decode()
    results = client.get(reverse("billing:adjustment-batch-export", args=[batch.pk]))
    lines = list(csv.reader(io.StringIO(results.content.decode("utf-8-sig"))))
    assert [line[0] for line in lines[1:]] == ["2", "9"]
    assert lines[1][5] == "TX-0" and "CBC.5003" in lines[2][6]


def test_a_row_the_balance_no_longer_covers_is_refused_when_asked_for(
    client_for, ra_finance, partners, books
):
    client = client_for(ra_finance)
    payload = _preview(client, "id-c1,500.00\nid-c2,400.00").context["submit_form"].initial["rows"]
    client.post(SUBMIT, {"rows": payload})
    # Meanwhile, someone spends 200.00 of the balance elsewhere.
    PartnerAccount.objects.filter(partner=partners["ra"]).update(amount=Decimal("800.00"))
    batch = services.create_batch_adjustments_now(AdjustmentBatch.objects.get().pk)
    assert [bool(row["adjustment"]) for row in batch.rows] == [True, False]
    assert batch.rows[1]["error"] and Adjustment.objects.count() == 1


def test_an_upload_is_read_like_pasted_rows(client_for, ra_finance, books):
    upload = SimpleUploadedFile("rows.csv", "\ufeffcustomer_id,amount\nid-c1,1.00\n".encode(), "text/csv")
    response = client_for(ra_finance).post(BATCH, {"kind": "allocate", "csv_file": upload})
    assert response.context["valid_count"] == 1
    latin = SimpleUploadedFile("rows.csv", "id-c1,1.00,caf\xe9\n".encode("latin-1"), "text/csv")
    refused = client_for(ra_finance).post(BATCH, {"kind": "allocate", "csv_file": latin})
    assert refused.context["form"].errors and "rows" not in refused.context


def test_an_altered_or_someone_elses_preview_is_refused(client_for, ra_finance, ra_admin, books):
    payload = _preview(client_for(ra_finance), "id-c1,1.00").context["submit_form"].initial["rows"]
    altered = client_for(ra_finance).post(SUBMIT, {"rows": payload[:-2] + "xx"})
    assert altered.status_code == 200 and altered.context["errors"]
    other = client_for(ra_admin).post(SUBMIT, {"rows": payload})
    assert other.status_code == 200 and other.context["errors"]
    assert not AdjustmentBatch.objects.exists()


def test_step_up_is_asked_on_the_submit(client_for, ra_finance, partners, books):
    partners["ra"].require_step_up = True
    partners["ra"].save()
    client = client_for(ra_finance)
    preview = _preview(client, "id-c1,1.00")
    assert preview.context["valid_count"] == 1  # the preview needs no code
    response = client.post(SUBMIT, {"rows": preview.context["submit_form"].initial["rows"]})
    assert response.status_code == 200 and response.context["submit_form"].errors["code"]
    assert response.context["valid_count"] == 1 and not AdjustmentBatch.objects.exists()


def test_roles_and_tenancy(client, client_for, ra_sales, rb_admin, ra_finance, books):
    assert client.get(BATCH).status_code == 302
    assert client_for(ra_sales).get(BATCH).status_code == 403
    payload = _preview(client_for(ra_finance), "id-c1,1.00").context["submit_form"].initial["rows"]
    client_for(ra_finance).post(SUBMIT, {"rows": payload})
    detail = reverse("billing:adjustment-batch-detail", args=[AdjustmentBatch.objects.get().pk])
    assert client_for(rb_admin).get(detail).status_code == 404
    assert client_for(ra_sales).get(detail).status_code == 403
