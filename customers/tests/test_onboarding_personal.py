"""Personal real-name verification and documents uploaded ahead of the form (issue 14, point 3).

A person is verified by document (CreatePersonalRealnameAuth, identify_type 0): name, one of the platform's
document types, its number checked per type (the residence permits' check character included) and the
document's three images in the platform's order; it goes through the same outbox command as an enterprise,
its review is synced the same way, and a rejected one is corrected and resubmitted.

Drag and drop uploads one file at a time to customers:document-upload: checked by content and stored at
once for the uploader, the customer and the slot; the form then names it by its key. Nobody else's upload
can be named, another partner's customer is a 404, and unused uploads are deleted after a day.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from customers import realname
from customers.models import Customer, RealnameApplication, RealnameUpload
from customers.tests.test_documents import image_bytes, pdf_bytes
from customers.tests.test_onboarding import drain, upstream_accounts
from customers.tests.test_onboarding_realname import review, stored_files
from upstream.models import OutboxCommand

HK_RESIDENCE = "810000199001011230"  # a valid check character (GB 11643)
BAD_CHECKSUM = "810000199001011231"


@pytest.fixture(autouse=True)
def _english(settings):
    settings.LANGUAGE_CODE = "en"


def images() -> dict:
    return {
        "doc_front": SimpleUploadedFile("front.jpg", image_bytes("JPEG", (400, 250))),
        "doc_back": SimpleUploadedFile("back.png", image_bytes("PNG", (400, 250))),
        "doc_held": SimpleUploadedFile("held.pdf", pdf_bytes(1)),
    }


def personal(**changes) -> dict:
    data = {
        "kind": "personal",
        "name": "陈大文",
        "document_type": "9",
        "document_number": HK_RESIDENCE,
        **images(),
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def stored(data: dict) -> dict:
    from customers.documents import store_document

    return {role: store_document(upload, upload.name) for role, upload in data.items()}


def upload_url(customer) -> str:
    return reverse("customers:document-upload", args=[customer.pk])


def nothing_written():
    return not RealnameApplication.objects.exists() and not OutboxCommand.objects.exists()


# --- the service --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_personal_verification_goes_upstream_as_an_individual_one_and_is_approved(
    private_upstream, new_customer, ra_sales, docs
):
    review(private_upstream, "approve")
    data = {"name": "陈大文", "document_type": 9, "document_number": HK_RESIDENCE}
    application = realname.submit_personal(ra_sales, new_customer, data, stored(images()))
    assert (application.kind, application.document_type, application.certificate_number) == (
        "personal",
        9,
        HK_RESIDENCE,
    )
    assert [d.role for d in application.documents.all()] == ["doc_front", "doc_back", "doc_held"]
    assert OutboxCommand.objects.filter(kind=realname.SUBMIT_REALNAME).count() == 1
    assert drain().succeeded == 1
    application.refresh_from_db()
    assert application.status == "reviewing"
    private_upstream.admin("POST", "/_sim/onboarding/review/finish", {})
    realname.refresh_status(application)
    application.refresh_from_db()
    assert application.status == "approved"
    new_customer.refresh_from_db()
    assert (new_customer.verified_status, new_customer.customer_type) == (Customer.Verified.VERIFIED, 0)
    # The platform took it as a person's (CreatePersonalRealnameAuth): an individual customer named so.
    (upstream,) = upstream_accounts(new_customer.account_name, indirect=new_customer.partner.upstream_id)
    assert (upstream.customer_type, upstream.name) == (0, "陈大文")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "drop", "message"),
    [
        ({"document_number": BAD_CHECKSUM}, None, "check character is wrong"),
        ({"document_type": 5, "document_number": "H1234"}, None, "H or M, then 8 or 10 digits"),
        ({"document_type": 5, "document_number": "H12345678"}, "doc_held", "Photo holding the document"),
        ({"document_type": 0, "document_number": "11010519491231002X"}, None, "type of document"),
        ({"document_type": 2}, None, "type of document"),
        ({"name": "  "}, None, "name as written"),
    ],
)
def test_a_bad_personal_verification_is_refused_and_writes_nothing(
    make_customer, ra_sales, docs, changes, drop, message
):
    customer = make_customer("ra", verified_status=-1)
    data = {"name": "陈大文", "document_type": 9, "document_number": HK_RESIDENCE, **changes}
    files = stored({k: v for k, v in images().items() if k != drop})
    with pytest.raises(realname.RealnameError, match=message):
        realname.submit_personal(ra_sales, customer, data, files)
    assert nothing_written()


def test_document_numbers_are_checked_per_type():
    problem = realname.document_number_problem
    assert problem(9, HK_RESIDENCE) is None
    assert problem(10, "83000019851212456X") is None
    assert problem(10, HK_RESIDENCE)  # a Hong Kong number is not a Taiwan permit's
    assert problem(9, BAD_CHECKSUM)
    assert problem(5, "H12345678") is None and problem(5, "M1234567801") is None and problem(5, "X12345678")
    assert problem(6, "12345678") is None and problem(6, "1234567")
    assert problem(3, "E12345678") is None and problem(3, "E1")
    assert problem(0, "11010519491231002X")  # the platform takes no mainland ID card here


@pytest.mark.django_db
def test_an_enterprise_representatives_id_number_is_checked_too(make_customer, ra_sales, client_for, docs):
    from customers.tests.test_onboarding_realname import form

    customer = make_customer("ra", verified_status=-1)
    response = client_for(ra_sales).post(
        reverse("customers:verification", args=[customer.pk]), form(representative_id="110105194912310021")
    )
    assert response.status_code == 200
    assert "check character is wrong" in " ".join(response.context["form"].errors["representative_id"])
    assert nothing_written() and stored_files(docs) == []


# --- the page, without JavaScript ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_page_offers_personal_or_enterprise_and_submits_a_personal_one(
    private_upstream, new_customer, ra_sales, client_for, docs
):
    client = client_for(ra_sales)
    url = reverse("customers:verification", args=[new_customer.pk])
    page = client.get(url)
    assert page.context["kind"] == "enterprise"  # not verified yet, of no type: the default
    assert 'data-testid="kind-personal"' in page.content.decode()
    page = client.get(url + "?kind=personal")
    assert page.context["kind"] == "personal"
    body = page.content.decode()
    assert "Residence Permit for Hong Kong and Macao Residents" in body and 'name="doc_held"' in body
    response = client.post(url, personal())
    assert response.status_code == 302 and response.url == url
    application = RealnameApplication.objects.get(customer=new_customer)
    assert application.kind == "personal" and application.name == "陈大文"
    assert len(stored_files(docs)) == 5  # three documents, two image thumbnails
    page = client.get(url).content.decode()
    # Masked on the page: the name; the document number is not shown at all.
    assert "陈**" in page and "陈大文" not in page and HK_RESIDENCE not in page
    events = AuditEvent.objects.filter(action="realname_submitted")
    assert events.count() == 1 and "陈大文" not in str(events.values_list("data", flat=True).get())


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"document_number": BAD_CHECKSUM}, "document_number", "check character is wrong"),
        ({"doc_held": None}, "doc_held", "Add this document."),
        ({"document_type": "0"}, "document_type", "Select a valid choice"),
        (
            {"doc_front": SimpleUploadedFile("front.jpg", b"MZ\x90\x00" + b"\x00" * 200)},
            "doc_front",
            "content is checked, not its name",
        ),
    ],
)
def test_a_bad_personal_form_says_why_and_stores_nothing(
    make_customer, ra_sales, client_for, docs, changes, field, message
):
    customer = make_customer("ra", verified_status=-1)
    response = client_for(ra_sales).post(
        reverse("customers:verification", args=[customer.pk]), personal(**changes)
    )
    assert response.status_code == 200 and response.context["kind"] == "personal"
    errors = " ".join(response.context["form"].errors.get(field, []))
    assert message in errors, response.context["form"].errors
    assert nothing_written() and stored_files(docs) == []


@pytest.mark.django_db
def test_a_rejected_personal_verification_is_corrected_and_resubmitted(
    private_upstream, new_customer, ra_sales, client_for, docs
):
    review(private_upstream, "reject")
    client = client_for(ra_sales)
    url = reverse("customers:verification", args=[new_customer.pk])
    assert client.post(url, personal()).status_code == 302
    drain()
    private_upstream.admin("POST", "/_sim/onboarding/review/finish", {})
    page = client.get(url)
    assert page.context["latest"].status == "rejected" and page.context["latest"].opinion
    assert page.context["kind"] == "personal" and page.context["form"] is not None  # as the last one
    review(private_upstream, "approve")
    assert client.post(url, personal(name="陈大雯")).status_code == 302
    drain()
    private_upstream.admin("POST", "/_sim/onboarding/review/finish", {})
    assert client.get(url).context["latest"].status == "approved"
    assert list(RealnameApplication.objects.values_list("status", flat=True)) == ["approved", "rejected"]


# --- uploads ahead of the form (drag and drop) --------------------------------------------------------------


def thumbnail_src(html: str) -> str:
    match = re.search(r'<img src="([^"]+)"[^>]*data-testid="upload-thumbnail"', html)
    assert match, html
    return match.group(1)


@pytest.mark.django_db
def test_an_uploaded_image_is_checked_stored_and_shown_as_a_thumbnail(
    make_customer, ra_sales, ra_admin, client_for, docs
):
    customer = make_customer("ra", verified_status=-1)
    client = client_for(ra_sales)
    response = client.post(
        upload_url(customer),
        {"role": "id_front", "file": SimpleUploadedFile("front.exe", image_bytes("JPEG", (400, 250)))},
    )
    assert response.status_code == 200
    html = response.content.decode()
    upload = RealnameUpload.objects.get()
    assert (upload.customer, upload.uploaded_by, upload.role, upload.kind) == (
        customer,
        ra_sales,
        "id_front",
        "jpeg",
    )
    assert f'data-upload-key="{upload.key}"' in html and "400 × 250" in html
    thumb = client.get(thumbnail_src(html))
    assert thumb.status_code == 200 and b"".join(thumb.streaming_content)[:3] == b"\xff\xd8\xff"
    assert len(stored_files(docs)) == 2  # the image and its thumbnail
    assert AuditEvent.objects.filter(action="realname_document_uploaded", actor=ra_sales).count() == 1
    assert AuditEvent.objects.filter(action="realname_document_downloaded", actor=ra_sales).count() == 1
    # Another user of the same partner: not this link.
    assert client_for(ra_admin).get(thumbnail_src(html)).status_code == 404


@pytest.mark.django_db
def test_an_uploaded_pdf_shows_its_page_count(make_customer, ra_sales, client_for, docs):
    customer = make_customer("ra", verified_status=-1)
    response = client_for(ra_sales).post(
        upload_url(customer), {"role": "licence", "file": SimpleUploadedFile("licence.pdf", pdf_bytes(3))}
    )
    assert response.status_code == 200 and "PDF, 3 pages" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"role": "licence", "file": SimpleUploadedFile("licence.pdf", b"MZ\x90\x00" + b"\x00" * 200)},
            "content is checked, not its name",
        ),
        (
            {
                "role": "licence",
                "file": SimpleUploadedFile("big.pdf", b"%PDF-1.4\n" + b"0" * (12 * 1024 * 1024)),
            },
            "larger than 10 MB",
        ),
        ({"role": "licence"}, "Choose a file."),
        ({"role": "passport", "file": SimpleUploadedFile("a.png", image_bytes("PNG"))}, "which document"),
    ],
)
def test_a_refused_upload_says_why_and_stores_nothing(
    make_customer, ra_sales, client_for, docs, data, message
):
    customer = make_customer("ra", verified_status=-1)
    response = client_for(ra_sales).post(upload_url(customer), data)
    assert response.status_code == 200  # a verdict, not an error
    assert message in response.content.decode() and 'data-testid="upload-error"' in response.content.decode()
    assert not RealnameUpload.objects.exists() and stored_files(docs) == []


@pytest.mark.django_db
def test_another_partners_customer_is_not_found(make_customer, rb_admin, client_for, docs):
    customer = make_customer("ra", verified_status=-1)
    response = client_for(rb_admin).post(
        upload_url(customer), {"role": "licence", "file": SimpleUploadedFile("a.png", image_bytes("PNG"))}
    )
    assert response.status_code == 404
    assert not RealnameUpload.objects.exists() and stored_files(docs) == []


@pytest.mark.django_db
def test_the_form_takes_the_users_uploads_by_their_keys(
    private_upstream, new_customer, ra_sales, client_for, docs
):
    client = client_for(ra_sales)
    keys = {}
    for role, upload in images().items():
        response = client.post(upload_url(new_customer), {"role": role, "file": upload})
        assert response.status_code == 200
        keys[f"{role}_upload"] = RealnameUpload.objects.get(role=role).key
    url = reverse("customers:verification", args=[new_customer.pk])
    before = stored_files(docs)
    response = client.post(url, personal(doc_front=None, doc_back=None, doc_held=None, **keys))
    assert response.status_code == 302
    application = RealnameApplication.objects.get()
    assert [d.role for d in application.documents.all()] == ["doc_front", "doc_back", "doc_held"]
    assert application.documents.get(role="doc_held").pages == 1
    # Taken over: the same files (nothing stored twice), the uploads gone.
    assert stored_files(docs) == before and not RealnameUpload.objects.exists()
    assert drain().succeeded == 1


@pytest.mark.django_db
def test_nobody_elses_upload_can_be_named(make_customer, ra_sales, ra_admin, rb_admin, client_for, docs):
    ours, theirs = make_customer("ra", verified_status=-1), make_customer("rb", verified_status=-1)
    png = image_bytes("PNG")
    client_for(ra_admin).post(
        upload_url(ours), {"role": "doc_front", "file": SimpleUploadedFile("a.png", png)}
    )
    client_for(rb_admin).post(
        upload_url(theirs), {"role": "doc_back", "file": SimpleUploadedFile("b.png", png)}
    )
    colleague, outsider = RealnameUpload.objects.order_by("id")
    assert (colleague.uploaded_by, outsider.uploaded_by) == (ra_admin, rb_admin)
    files = stored_files(docs)
    response = client_for(ra_sales).post(
        reverse("customers:verification", args=[ours.pk]),
        personal(doc_front=None, doc_back=None, doc_front_upload=colleague.key, doc_back_upload=outsider.key),
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "no longer available" in " ".join(errors["doc_front"]) and "no longer available" in " ".join(
        errors["doc_back"]
    )
    assert nothing_written() and RealnameUpload.objects.count() == 2 and stored_files(docs) == files


@pytest.mark.django_db
def test_a_new_upload_replaces_the_slots_last_and_unused_ones_expire(
    make_customer, ra_sales, client_for, docs
):
    customer = make_customer("ra", verified_status=-1)
    client = client_for(ra_sales)
    for name in ("first.png", "second.png"):
        client.post(
            upload_url(customer), {"role": "licence", "file": SimpleUploadedFile(name, image_bytes("PNG"))}
        )
    upload = RealnameUpload.objects.get()
    assert upload.display_name == "second.png" and len(stored_files(docs)) == 2
    assert realname.purge_expired_uploads(now=timezone.now() + timedelta(hours=23)) == 0
    assert realname.purge_expired_uploads(now=timezone.now() + timedelta(hours=25)) == 1
    assert not RealnameUpload.objects.exists() and stored_files(docs) == []


@pytest.mark.django_db
def test_no_upload_while_a_verification_is_under_way(
    private_upstream, new_customer, ra_sales, client_for, docs
):
    client = client_for(ra_sales)
    client.post(reverse("customers:verification", args=[new_customer.pk]), personal())
    response = client.post(
        upload_url(new_customer), {"role": "licence", "file": SimpleUploadedFile("a.png", image_bytes("PNG"))}
    )
    assert response.status_code == 200 and "already under way" in response.content.decode()
    assert not RealnameUpload.objects.exists()
