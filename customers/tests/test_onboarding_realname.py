"""Real-name verification (issue 14): an enterprise application with its documents checked by content and
stored privately, sent through the outbox, its review synced (approved; rejected with the opinion, then
corrected and resubmitted); refused files store nothing; documents only for the owning partner's staff,
through audited, signed links of one user."""

from __future__ import annotations

import pytest
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import AuditEvent
from customers.models import Customer, RealnameApplication
from customers.onboarding import apply_for_customer
from customers.tests.test_documents import image_bytes, pdf_bytes
from customers.tests.test_onboarding import drain, fresh_name
from upstream.models import OutboxCommand


@pytest.fixture(autouse=True)
def _english(settings):
    settings.LANGUAGE_CODE = "en"


def stored_files(root) -> list:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def form(**files):
    data = {
        "corp_name": "杭州云栖数据科技有限公司",
        "certificate_number": "91330106MA2H0XYZ7K",
        "representative": "张伟",
        "representative_id": "11010519491231002X",
        "licence": SimpleUploadedFile("licence.pdf", pdf_bytes(2)),
        "id_front": SimpleUploadedFile("front.jpg", image_bytes("JPEG")),
        "id_back": SimpleUploadedFile("back.png", image_bytes("PNG")),
    }
    data.update(files)
    return data


def submitted(client, customer):
    """The customer's verification page, after a submission with good documents."""
    url = reverse("customers:verification", args=[customer.pk])
    client.post(url, form())
    return url


def review(sim, outcome: str) -> None:
    sim.admin("POST", "/_sim/onboarding/review", {"delay_seconds": 3600, "outcome": outcome})


@pytest.mark.django_db
def test_an_enterprise_verification_is_submitted_reviewed_and_approved(
    private_upstream, new_customer, ra_sales, client_for, docs
):
    review(private_upstream, "approve")
    client = client_for(ra_sales)
    url = reverse("customers:verification", args=[new_customer.pk])
    response = client.post(url, form())
    assert response.status_code == 302 and response.url == url
    application = RealnameApplication.objects.get(customer=new_customer)
    assert [d.role for d in application.documents.all()] == ["licence", "id_front", "id_back"]
    licence = application.documents.get(role="licence")
    assert (licence.kind, licence.pages) == ("pdf", 2)
    assert len(stored_files(docs)) == 5  # three documents and the two images' thumbnails
    assert drain().succeeded == 1
    application.refresh_from_db()
    assert application.status == "reviewing"
    assert client.get(url).context["latest"].status == "reviewing"
    private_upstream.admin("POST", "/_sim/onboarding/review/finish", {})
    page = client.get(url)
    assert page.context["latest"].status == "approved" and page.context["form"] is None
    new_customer.refresh_from_db()
    assert new_customer.verified_status == Customer.Verified.VERIFIED
    assert "Approved" in page.content.decode()


@pytest.mark.django_db
def test_a_rejected_verification_shows_the_opinion_and_can_be_resubmitted(
    private_upstream, new_customer, ra_sales, client_for, docs
):
    review(private_upstream, "reject")
    client = client_for(ra_sales)
    url = submitted(client, new_customer)
    # Under way: a second submission is refused and writes nothing.
    client.post(url, form())
    assert RealnameApplication.objects.filter(customer=new_customer).count() == 1
    drain()
    private_upstream.admin("POST", "/_sim/onboarding/review/finish", {})
    page = client.get(url)
    first = page.context["latest"]
    assert first.status == "rejected" and first.opinion
    assert first.opinion in page.content.decode() and page.context["form"] is not None
    review(private_upstream, "approve")
    assert client.post(url, form(corp_name="杭州云栖数据科技有限公司（更正）")).status_code == 302
    drain()
    private_upstream.admin("POST", "/_sim/onboarding/review/finish", {})
    assert client.get(url).context["latest"].status == "approved"
    assert RealnameApplication.objects.filter(customer=new_customer).count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "upload", "message"),
    [
        (
            "licence",
            SimpleUploadedFile("licence.pdf", b"MZ\x90\x00" + b"\x00" * 200),
            "content is checked, not its name",
        ),
        ("licence", SimpleUploadedFile("big.pdf", b"%PDF-1.4\n" + b"0" * (12 * 1024 * 1024)), "10 MB"),
        (
            "id_front",
            SimpleUploadedFile("../../etc/passwd.jpg", b"root:x:0:0"),
            "content is checked, not its name",
        ),
    ],
)
def test_a_bad_file_is_refused_and_nothing_is_stored(
    ra_sales, client_for, make_customer, docs, field, upload, message
):
    customer = make_customer("ra", verified_status=-1)
    response = client_for(ra_sales).post(
        reverse("customers:verification", args=[customer.pk]), form(**{field: upload})
    )
    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors.get(field, []))
    assert message in errors, errors
    assert not RealnameApplication.objects.exists() and not OutboxCommand.objects.exists()
    assert stored_files(docs) == []


@pytest.mark.django_db
def test_documents_only_for_the_owning_partner_through_signed_audited_links(
    private_upstream, new_customer, ra_sales, ra_admin, rb_admin, dist_admin, client_for, docs, settings
):
    client = client_for(ra_sales)
    url = submitted(client, new_customer)
    links = client.get(url).context["document_links"]
    licence = links[0]
    download = client.get(licence["url"])
    assert download.status_code == 200 and b"".join(download.streaming_content).startswith(b"%PDF")
    assert "no-store" in download["Cache-Control"]
    assert AuditEvent.objects.filter(action="realname_document_downloaded", actor=ra_sales).count() == 1
    assert AuditEvent.objects.filter(action="realname_documents_viewed", actor=ra_sales).exists()
    # Another partner's staff: neither the page nor the link; another user of the partner: not this link.
    assert client_for(rb_admin).get(url).status_code == 404
    assert client_for(rb_admin).get(licence["url"]).status_code == 404
    assert client_for(ra_admin).get(licence["url"]).status_code == 404
    doc_pk = signing.loads(licence["url"].rstrip("/").rsplit("/", 1)[-1], salt="customers.realname.download")[
        "d"
    ]
    forged = signing.dumps({"d": doc_pk, "u": rb_admin.pk, "t": 0}, salt="other")
    assert client_for(rb_admin).get(reverse("customers:document", args=[forged])).status_code == 404
    # The distributor owns its resellers' customers' data.
    assert client_for(dist_admin).get(url).status_code == 200


@pytest.mark.django_db
def test_a_download_link_expires(private_upstream, new_customer, ra_sales, client_for, docs, monkeypatch):
    from customers import realname

    client = client_for(ra_sales)
    url = submitted(client, new_customer)
    link = client.get(url).context["document_links"][0]["url"]
    monkeypatch.setattr(realname, "DOWNLOAD_SECONDS", -1)
    assert client.get(link).status_code == 404


@pytest.mark.django_db
def test_documents_are_deleted_after_the_retention_period_following_approval(
    private_upstream, new_customer, ra_sales, client_for, docs, settings
):
    from datetime import timedelta

    from django.utils import timezone

    from customers.realname import purge_expired_documents

    settings.REALNAME_RETENTION_DAYS = 180
    review(private_upstream, "approve")
    client = client_for(ra_sales)
    url = submitted(client, new_customer)
    link = client.get(url).context["document_links"][0]["url"]
    drain()
    private_upstream.admin("POST", "/_sim/onboarding/review/finish", {})
    client.get(url)
    application = RealnameApplication.objects.get(customer=new_customer)
    assert application.status == "approved"
    assert purge_expired_documents(now=application.decided_at + timedelta(days=179)) == 0
    assert len(stored_files(docs)) == 5
    assert purge_expired_documents(now=timezone.now() + timedelta(days=181)) == 3
    assert stored_files(docs) == [] and application.documents.filter(purged_at__isnull=True).count() == 0
    assert client.get(link).status_code == 404 and client.get(url).context["document_links"] == []
    assert purge_expired_documents(now=timezone.now() + timedelta(days=400)) == 0  # once


@pytest.mark.django_db
def test_a_verification_applied_upstream_then_timed_out_is_read_back_and_not_submitted_again(
    private_upstream, new_customer, ra_sales, client_for, docs, settings
):
    import time

    settings.UPSTREAM_READ_TIMEOUT = 0.5
    settings.OUTBOX_RECONCILE_GRACE_SECONDS = 0
    review(private_upstream, "approve")  # the review takes an hour: the application stays under review
    submitted(client_for(ra_sales), new_customer)
    application = RealnameApplication.objects.get(customer=new_customer)
    command = OutboxCommand.objects.get(kind="customers.submit_realname", object_id=str(application.pk))
    private_upstream.set_faults(
        apply_then_timeout={
            "operations": ["CreateEnterpriseRealnameAuthentication"],
            "rate": 1.0,
            "hang_seconds": 1,
        }
    )
    first = drain()  # the platform takes the application, the answer never comes
    private_upstream.clear_faults()
    command.refresh_from_db()
    application.refresh_from_db()
    assert (first.unknown, command.status, application.status) == (1, "unknown", "submitted")
    time.sleep(0.6)
    again = drain()  # the outbox reads the customer's review first: under review = it arrived
    assert (again.reconciled_found, again.sent, again.failed) == (1, 0, 0)
    command.refresh_from_db()
    assert command.status == "succeeded" and command.attempts == 1 and command.result["reconciled"] is True
    application.refresh_from_db()
    assert application.status == "reviewing"
    # The platform holds one application for the customer (the count of its rows, read by a no-op update).
    applications = private_upstream.patch_rows(
        "realname_auths", {"customer_id": new_customer.customer_id}, kind="enterprise"
    )
    assert applications == 1


def another_customer(ra_sales) -> Customer:
    application = apply_for_customer(ra_sales, {"account_name": fresh_name()})
    drain()
    application.refresh_from_db()
    return application.customer


@pytest.mark.django_db
def test_the_background_sync_brings_each_decision_a_bounded_batch_a_run(
    private_upstream, new_customer, ra_sales, client_for, docs, settings
):
    from customers.realname import refresh_open_reviews
    from customers.tasks import refresh_realname_reviews

    client = client_for(ra_sales)
    review(private_upstream, "approve")  # decided at submission: approve this one …
    submitted(client, new_customer)
    second = another_customer(ra_sales)
    review(private_upstream, "reject")  # … reject that one
    submitted(client, second)
    drain()
    approved, rejected = (RealnameApplication.objects.get(customer=c) for c in (new_customer, second))
    assert {approved.status, rejected.status} == {"reviewing"}

    # Under review upstream: asked about, nothing changes.
    assert refresh_realname_reviews() == {"checked": 2, "approved": 0, "rejected": 0}
    private_upstream.admin("POST", "/_sim/onboarding/review/finish", {})
    # One a run: the one asked about longest ago first, then the other.
    assert refresh_open_reviews(limit=1) == {"checked": 1, "approved": 1, "rejected": 0}
    assert refresh_open_reviews(limit=1) == {"checked": 1, "approved": 0, "rejected": 1}
    approved.refresh_from_db()
    rejected.refresh_from_db()
    assert approved.status == "approved" and approved.decided_at is not None
    assert rejected.status == "rejected" and rejected.opinion  # the platform's opinion, in Chinese
    assert Customer.objects.get(pk=new_customer.pk).verified_status == Customer.Verified.VERIFIED
    assert Customer.objects.get(pk=second.pk).verified_status == Customer.Verified.FAILED
    assert refresh_realname_reviews() == {"checked": 0, "approved": 0, "rejected": 0}  # nothing open
    # The page shows the decision without asking the platform again.
    page = client.get(reverse("customers:verification", args=[second.pk])).content.decode()
    assert rejected.opinion in page


def test_the_beat_refreshes_reviews_every_minute_with_an_expiry(settings):
    schedule = settings.CELERY_BEAT_SCHEDULE.values()
    [entry] = [e for e in schedule if e["task"] == "customers.refresh_realname_reviews"]
    assert entry["schedule"] == 60.0 and entry["options"]["expires"] < 60
