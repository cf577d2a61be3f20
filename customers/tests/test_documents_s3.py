"""Verification documents in object storage (issue 14): the local file system by default, or any
S3-compatible store (Huawei OBS) through django-storages, here a real S3 server (moto's server mode, a
subprocess answering HTTP on a loopback port). Objects are private (no public grant: an anonymous GET is
refused), encrypted at rest (AES256), under the bucket's download/ folder; staff get them streamed through the
portal's signed, audited view; they are deleted after the retention period; a refused or failed upload leaves
nothing behind.

The shared behaviour runs against both stores (the `store` fixture); the S3 specifics only against S3.
"""

from __future__ import annotations

import json
import os
import runpy
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
from datetime import timedelta
from pathlib import Path

import boto3
import pytest
from boto3.exceptions import S3UploadFailedError
from botocore.config import Config
from botocore.exceptions import ClientError
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import AuditEvent
from customers.documents import DocumentInvalid, StorageFailed, store_document
from customers.realname import RealnameApplication, RealnameDocument, purge_expired_documents
from customers.tests.test_documents import image_bytes, pdf_bytes
from portal.lib.storage import local_documents_storage, s3_documents_storage

REGION = "us-east-1"  # moto keeps buckets per partition; anonymous requests land in this one
ACCESS_KEY = "portal-test-ak"
SECRET_KEY = "portal-test-sk"  # the test server's
PREFIX = "download"
PUBLIC_GRANTEES = (
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
)
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# --- the S3 server ------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _anonymous_get(url: str) -> tuple[int, bytes]:
    """A plain HTTP GET with no credentials, as anyone on the network could make."""
    try:
        with _NO_PROXY.open(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


class S3Server:
    """moto's S3 server in a subprocess on a free loopback port (real HTTP, like any S3-compatible store)."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.url = ""
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> S3Server:
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "MOTO_PORT": str(port)}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the S3 server stopped: {self.log_path.read_text()[-2000:]}")
            try:
                _NO_PROXY.open(self.url + "/moto-api/", timeout=1).close()
                return self
            except urllib.error.HTTPError:
                return self  # it answers
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the S3 server did not answer within {timeout} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"),
        )

    def new_bucket(self) -> str:
        name = f"portal-docs-{secrets.token_hex(6)}"
        self.client().create_bucket(Bucket=name)
        return name


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    server = S3Server(tmp_path_factory.mktemp("s3") / "moto.log").start()
    yield server
    server.stop()


def s3_storage_entry(server: S3Server, bucket: str, **options) -> dict:
    """The portal's own STORAGES entry (the one settings.py builds from STORAGE_*), on the test server."""
    values = {
        "bucket": bucket,
        "endpoint_url": server.url,
        "region": REGION,
        "access_key": ACCESS_KEY,
        "secret_key": SECRET_KEY,
        "addressing_style": "path",  # a loopback address has no bucket sub-domains
        "prefix": PREFIX,
    }
    values.update(options)
    return s3_documents_storage(**values)


class Store:
    """What a test sees of the documents store, whichever it is: the stored names, and a way to lose one."""

    def __init__(self, backend: str, *, root: Path | None = None, server=None, bucket: str = "") -> None:
        self.backend, self.root, self.server, self.bucket = backend, root, server, bucket

    def names(self) -> set[str]:
        if self.backend == "local":
            if not self.root.exists():
                return set()
            return {p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file()}
        listing = self.server.client().list_objects_v2(Bucket=self.bucket)
        keys = [item["Key"] for item in listing.get("Contents", [])]
        assert all(key.startswith(PREFIX + "/") for key in keys), keys  # nothing outside download/
        return {key.removeprefix(PREFIX + "/") for key in keys}

    def lose(self, name: str) -> None:
        """Delete a file behind the portal's back."""
        if self.backend == "local":
            (self.root / name).unlink()
        else:
            self.server.client().delete_object(Bucket=self.bucket, Key=f"{PREFIX}/{name}")


@pytest.fixture(params=["local", "s3"])
def store(request, settings, tmp_path) -> Store:
    """The documents storage as settings.py would build it: on the file system, or on a fresh S3 bucket."""
    if request.param == "local":
        root = tmp_path / "documents"
        settings.STORAGES = {**settings.STORAGES, "documents": local_documents_storage(str(root))}
        return Store("local", root=root)
    server = request.getfixturevalue("s3_server")
    bucket = server.new_bucket()
    settings.STORAGES = {**settings.STORAGES, "documents": s3_storage_entry(server, bucket)}
    return Store("s3", server=server, bucket=bucket)


@pytest.fixture
def s3_store(settings, s3_server) -> Store:
    bucket = s3_server.new_bucket()
    settings.STORAGES = {**settings.STORAGES, "documents": s3_storage_entry(s3_server, bucket)}
    return Store("s3", server=s3_server, bucket=bucket)


def upload(data: bytes, name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data)


def stored_application(customer, *, status="submitted", decided_days_ago: int | None = None):
    """An application of the customer with a stored licence (PDF) and ID card front (JPEG, with thumbnail)."""
    application = RealnameApplication.objects.create(
        partner_id=customer.partner_id,
        customer=customer,
        corp_name="杭州云栖数据科技有限公司",
        certificate_number="91330106MA2H0XYZ7K",
        representative="张伟",
        representative_id="11010519491231002X",
        status=status,
        decided_at=None if decided_days_ago is None else timezone.now() - timedelta(days=decided_days_ago),
    )
    for role, data, name in (
        ("licence", pdf_bytes(2), "licence.pdf"),
        ("id_front", image_bytes("JPEG", size=(800, 500)), "front.jpg"),
    ):
        doc = store_document(upload(data, name))
        RealnameDocument.objects.create(
            application=application,
            role=role,
            name=doc.name,
            thumbnail_name=doc.thumbnail_name or "",
            kind=doc.kind,
            size=doc.size,
            sha256=doc.sha256,
            pages=doc.pages,
            display_name=doc.display_name,
        )
    return application


def files_of(application) -> set[str]:
    return {n for d in application.documents.all() for n in (d.name, d.thumbnail_name) if n}


def link(doc, user, *, thumbnail: bool = False) -> str:
    return reverse("customers:document", args=[doc.signed_token(user, thumbnail=thumbnail)])


def body(response) -> bytes:
    return b"".join(response.streaming_content)


# --- settings -----------------------------------------------------------------------------------------------


def _settings_with(monkeypatch, **env) -> dict:
    """portal/settings.py run afresh with these STORAGE_* variables (the running settings are untouched)."""
    for name in [n for n in os.environ if n.startswith("STORAGE_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with warnings.catch_warnings():  # runpy notes that portal.settings is imported already: on purpose
        warnings.simplefilter("ignore", RuntimeWarning)
        return runpy.run_module("portal.settings")


def test_the_default_store_is_a_private_folder_on_the_file_system(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCUMENTS_ROOT", str(tmp_path / "docs"))
    entry = _settings_with(monkeypatch)["STORAGES"]["documents"]
    assert entry["BACKEND"] == "django.core.files.storage.FileSystemStorage"
    assert entry["OPTIONS"]["location"] == str(tmp_path / "docs")
    assert (entry["OPTIONS"]["file_permissions_mode"], entry["OPTIONS"]["directory_permissions_mode"]) == (
        0o600,
        0o700,
    )


def test_storage_settings_configure_a_private_encrypted_s3_bucket(monkeypatch):
    entry = _settings_with(
        monkeypatch,
        STORAGE_BACKEND="s3",
        STORAGE_BUCKET="partner-realname",
        STORAGE_ENDPOINT_URL="https://obs.cn-north-4.myhuaweicloud.com",
        STORAGE_REGION="cn-north-4",
        STORAGE_ACCESS_KEY="AK",
        STORAGE_SECRET_KEY="SK",
    )["STORAGES"]["documents"]
    options = entry["OPTIONS"]
    assert entry["BACKEND"] == "storages.backends.s3.S3Storage"
    assert (options["bucket_name"], options["endpoint_url"], options["region_name"]) == (
        "partner-realname",
        "https://obs.cn-north-4.myhuaweicloud.com",
        "cn-north-4",
    )
    assert options["location"] == "download" and options["default_acl"] == "private"
    assert options["object_parameters"] == {"ServerSideEncryption": "AES256"}
    assert options["file_overwrite"] is False and options["querystring_auth"] is True
    assert options["querystring_expire"] <= 300 and options["custom_domain"] is None
    assert options["client_config"].s3 == {"addressing_style": "virtual"}
    # A store that refuses server-side encryption: it can be turned off.
    off = _settings_with(monkeypatch, STORAGE_BACKEND="s3", STORAGE_BUCKET="b-1", STORAGE_ENCRYPTION="off")
    assert off["STORAGES"]["documents"]["OPTIONS"]["object_parameters"] == {}


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"STORAGE_BACKEND": "gcs"}, "STORAGE_BACKEND"),
        ({"STORAGE_BACKEND": "s3"}, "STORAGE_BUCKET"),
        ({"STORAGE_BACKEND": "s3", "STORAGE_BUCKET": "Bad_Bucket"}, "STORAGE_BUCKET"),
        ({"STORAGE_BACKEND": "s3", "STORAGE_BUCKET": "docs", "STORAGE_PREFIX": "../up"}, "STORAGE_PREFIX"),
        (
            {"STORAGE_BACKEND": "s3", "STORAGE_BUCKET": "docs", "STORAGE_PREFIX": "/download"},
            "STORAGE_PREFIX",
        ),
        (
            {"STORAGE_BACKEND": "s3", "STORAGE_BUCKET": "docs", "STORAGE_ENCRYPTION": "yes"},
            "STORAGE_ENCRYPTION",
        ),
        (
            {"STORAGE_BACKEND": "s3", "STORAGE_BUCKET": "docs", "STORAGE_ADDRESSING_STYLE": "dns"},
            "STORAGE_ADDRESSING_STYLE",
        ),
        (
            {"STORAGE_BACKEND": "s3", "STORAGE_BUCKET": "docs", "STORAGE_ACCESS_KEY": "AK"},
            "STORAGE_SECRET_KEY",
        ),
        (
            {"STORAGE_BACKEND": "s3", "STORAGE_BUCKET": "docs", "STORAGE_ENDPOINT_URL": "obs.example.com"},
            "STORAGE_ENDPOINT_URL",
        ),
    ],
)
def test_a_bad_storage_setting_stops_the_start_with_a_message_naming_it(monkeypatch, env, named):
    with pytest.raises(ImproperlyConfigured, match=named):
        _settings_with(monkeypatch, **env)


def test_deploy_checks_warn_of_a_plain_http_store_or_encryption_off(settings, tmp_path):
    from portal.checks import documents_store_in_production

    def warnings_for(entry) -> list[str]:
        settings.STORAGES = {**settings.STORAGES, "documents": entry}
        return sorted(message.id for message in documents_store_in_production())

    assert warnings_for(local_documents_storage(str(tmp_path))) == []
    obs = "https://obs.cn-north-4.myhuaweicloud.com"
    assert warnings_for(s3_documents_storage(bucket="docs", endpoint_url=obs)) == []
    assert warnings_for(s3_documents_storage(bucket="docs", endpoint_url="http://10.0.0.5:9000")) == [
        "portal.W002"
    ]
    assert warnings_for(s3_documents_storage(bucket="docs", endpoint_url=obs, encryption="off")) == [
        "portal.W003"
    ]


# --- S3 specifics -------------------------------------------------------------------------------------------


def test_documents_are_private_encrypted_objects_under_download(s3_store, s3_server):
    client, bucket = s3_server.client(), s3_store.bucket
    licence = pdf_bytes(3)
    pdf = store_document(upload(licence, "营业执照.pdf"))
    image = store_document(upload(image_bytes("PNG", size=(900, 600)), "身份证.png"))
    names = {pdf.name, image.name, image.thumbnail_name}
    assert s3_store.names() == names  # the platform is sent these paths, relative to download/
    for name in names:
        key = f"{PREFIX}/{name}"
        assert client.head_object(Bucket=bucket, Key=key)["ServerSideEncryption"] == "AES256"
        grants = client.get_object_acl(Bucket=bucket, Key=key)["Grants"]
        assert grants and not [g for g in grants if g["Grantee"].get("URI") in PUBLIC_GRANTEES], grants
        # Anyone who learns the object's URL gets nothing.
        status, _content = _anonymous_get(f"{s3_server.url}/{bucket}/{key}")
        assert status == 403
    assert client.get_object(Bucket=bucket, Key=f"{PREFIX}/{pdf.name}")["Body"].read() == licence
    # The server does serve a public object anonymously: the 403 above is the private ACL's doing.
    client.put_object(Bucket=bucket, Key="probe.txt", Body=b"public", ACL="public-read")
    assert _anonymous_get(f"{s3_server.url}/{bucket}/probe.txt") == (200, b"public")


def test_the_store_never_overwrites_and_gives_only_short_lived_signed_urls(s3_store, s3_server):
    storage = storages["documents"]
    first = storage.save("realname/2026/01/same.pdf", ContentFile(b"%PDF-first"))
    second = storage.save("realname/2026/01/same.pdf", ContentFile(b"%PDF-second"))
    assert first != second and s3_store.names() == {first, second}
    url = storage.url(first)
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=300" in url
    assert _anonymous_get(url) == (200, b"%PDF-first")


def test_encryption_can_be_turned_off_for_a_store_that_refuses_it(settings, s3_server):
    bucket = s3_server.new_bucket()
    settings.STORAGES = {
        **settings.STORAGES,
        "documents": s3_storage_entry(s3_server, bucket, encryption="off"),
    }
    doc = store_document(upload(pdf_bytes(1), "licence.pdf"))
    head = s3_server.client().head_object(Bucket=bucket, Key=f"{PREFIX}/{doc.name}")
    assert "ServerSideEncryption" not in head


def test_a_store_failing_half_way_keeps_nothing_of_the_document(s3_store, s3_server):
    # The bucket refuses thumbnails (a real 403 from the server): the image stored just before goes too.
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"arn:*:s3:::{s3_store.bucket}/{PREFIX}/*.thumb.*",
            }
        ],
    }
    s3_server.client().put_bucket_policy(Bucket=s3_store.bucket, Policy=json.dumps(policy))
    assert store_document(upload(pdf_bytes(1), "licence.pdf")).thumbnail_name is None  # PDFs still go in
    before = s3_store.names()
    with pytest.raises(StorageFailed) as caught:
        store_document(upload(image_bytes("JPEG"), "front.jpg"))
    assert caught.value.code == "storage_failed"
    with translation.override("en"):
        assert "try again" in caught.value.messages[0]
    assert isinstance(caught.value.__cause__, (ClientError, S3UploadFailedError))  # the server's refusal
    assert s3_store.names() == before


def test_an_unreachable_store_refuses_with_a_message_and_keeps_nothing(settings, s3_server, tmp_path):
    # A bucket that does not exist (S3), and a folder that cannot be made (the file system).
    settings.STORAGES = {**settings.STORAGES, "documents": s3_storage_entry(s3_server, "no-such-bucket")}
    with pytest.raises(StorageFailed):
        store_document(upload(image_bytes("PNG"), "front.png"))
    (tmp_path / "blocked").write_bytes(b"a file where the folder should be")
    entry = local_documents_storage(str(tmp_path / "blocked" / "documents"))
    settings.STORAGES = {**settings.STORAGES, "documents": entry}
    with pytest.raises(StorageFailed):
        store_document(upload(image_bytes("PNG"), "front.png"))
    assert [p.name for p in tmp_path.rglob("*")] == ["blocked"]


# --- both stores --------------------------------------------------------------------------------------------


def test_a_checked_image_and_pdf_are_stored_and_read_back(store):
    data = pdf_bytes(2)
    pdf = store_document(upload(data, "licence.pdf"))
    image = store_document(upload(image_bytes("GIF"), "front.gif"))
    assert store.names() == {pdf.name, image.name, image.thumbnail_name}
    storage = storages["documents"]
    with storage.open(pdf.name, "rb") as handle:
        assert handle.read() == data
    assert storage.size(image.name) == image.size and storage.exists(image.thumbnail_name)


@pytest.mark.django_db
def test_staff_download_streams_the_document_from_the_store_with_an_audit_event(
    store, make_customer, ra_sales, rb_admin, client_for
):
    application = stored_application(make_customer("ra"))
    licence = application.documents.get(role="licence")
    front = application.documents.get(role="id_front")
    client = client_for(ra_sales)
    response = client.get(link(licence, ra_sales))
    assert response.status_code == 200  # streamed by the portal, not a redirect to the store
    assert not response.has_header("Location")
    with storages["documents"].open(licence.name, "rb") as handle:
        assert body(response) == handle.read()
    assert response["Content-Disposition"].startswith("attachment")
    assert "no-store" in response["Cache-Control"]
    events = AuditEvent.objects.filter(action="realname_document_downloaded", actor=ra_sales)
    assert events.count() == 1
    thumbnail = client.get(link(front, ra_sales, thumbnail=True))
    assert thumbnail.status_code == 200 and body(thumbnail)[:3] == b"\xff\xd8\xff"
    assert events.count() == 2
    # Another partner's staff: 404, and nothing audited for them.
    assert client_for(rb_admin).get(link(licence, rb_admin)).status_code == 404
    assert not AuditEvent.objects.filter(action="realname_document_downloaded", actor=rb_admin).exists()


@pytest.mark.django_db
def test_a_document_gone_from_the_store_is_a_404_not_an_error(store, make_customer, ra_sales, client_for):
    application = stored_application(make_customer("ra"))
    licence = application.documents.get(role="licence")
    store.lose(licence.name)
    assert client_for(ra_sales).get(link(licence, ra_sales)).status_code == 404


@pytest.mark.django_db
def test_purge_deletes_the_files_of_approvals_past_retention_and_only_those(store, make_customer, settings):
    settings.REALNAME_RETENTION_DAYS = 180
    expired = stored_application(make_customer("ra"), status="approved", decided_days_ago=181)
    recent = stored_application(make_customer("ra"), status="approved", decided_days_ago=179)
    rejected = stored_application(make_customer("ra"), status="rejected", decided_days_ago=400)
    open_one = stored_application(make_customer("ra"))
    kept = files_of(recent) | files_of(rejected) | files_of(open_one)
    assert store.names() == kept | files_of(expired)
    assert purge_expired_documents() == 2  # the expired application's licence and ID card
    assert store.names() == kept
    assert expired.documents.filter(purged_at__isnull=True).count() == 0
    assert RealnameDocument.objects.filter(purged_at__isnull=False).count() == 2
    assert purge_expired_documents() == 0  # once


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200, "licence.pdf"),  # a renamed program
        (b"%PDF-1.4\n" + b"0" * (12 * 1024 * 1024), "big.pdf"),  # 12 MB
        (b"root:x:0:0", "../../etc/passwd.jpg"),
    ],
)
def test_a_refused_upload_stores_nothing(store, data, name):
    with pytest.raises(DocumentInvalid):
        store_document(upload(data, name))
    assert store.names() == set()
