"""Verification documents: judged by content, cleaned by re-encoding, stored under generated names."""

from __future__ import annotations

import io
import re
import struct
import zlib
from pathlib import Path

import pytest
from django.core.files.storage import FileSystemStorage, storages
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, PngImagePlugin
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, NameObject, NumberObject, TextStringObject

from customers import documents
from customers.documents import DocumentInvalid, check_document, store_document

STORED_NAME = re.compile(r"^realname/\d{4}/\d{2}/[0-9a-f]{32}\.(jpg|png|gif|pdf)$")


@pytest.fixture
def storage(tmp_path):
    return FileSystemStorage(location=tmp_path / "documents")


def image_bytes(fmt: str, size=(64, 48), color=(200, 30, 30), **options) -> bytes:
    mode = "P" if fmt == "GIF" else "RGB"
    image = Image.new("RGB", size, color)
    if mode == "P":
        image = image.convert("P")
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def _javascript() -> DictionaryObject:
    return DictionaryObject(
        {NameObject("/S"): NameObject("/JavaScript"), NameObject("/JS"): TextStringObject("app.alert(1);")}
    )


def pdf_bytes(pages: int = 1, *, js: str = "", attachment: bool = False, password: str | None = None):
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    if js == "open":  # run when the file opens
        writer._root_object[NameObject("/OpenAction")] = _javascript()
    if js == "annotation":  # run when a link on page 1 is clicked
        link = DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Annot"),
                NameObject("/Subtype"): NameObject("/Link"),
                NameObject("/Rect"): ArrayObject(
                    [NumberObject(0), NumberObject(0), NumberObject(99), NumberObject(99)]
                ),
                NameObject("/A"): _javascript(),
            }
        )
        writer.pages[0][NameObject("/Annots")] = ArrayObject([writer._add_object(link)])
    if attachment:
        writer.add_attachment("payload.exe", b"MZ\x90\x00")
    if password:
        writer.encrypt(password)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def upload(data: bytes, name: str = "scan.bin") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data)


def rejected(data: bytes, name: str = "scan.bin") -> str:
    with pytest.raises(DocumentInvalid) as caught:
        check_document(upload(data, name))
    return caught.value.code


@pytest.mark.parametrize(
    ("fmt", "stored_ext", "stored_format"),
    [("JPEG", "jpg", "JPEG"), ("PNG", "png", "PNG"), ("GIF", "gif", "GIF"), ("BMP", "png", "PNG")],
)
def test_each_image_type_is_stored_under_a_generated_name_with_a_thumbnail(
    storage, fmt, stored_ext, stored_format
):
    doc = store_document(upload(image_bytes(fmt, size=(1200, 800)), "身份证 正面.any"), storage=storage)
    assert STORED_NAME.match(doc.name) and doc.name.endswith("." + stored_ext)
    assert (doc.width, doc.height, doc.pages) == (1200, 800, None)
    with storage.open(doc.name) as f, Image.open(f) as stored:
        assert stored.format == stored_format and stored.size == (1200, 800)
    with storage.open(doc.thumbnail_name) as f, Image.open(f) as thumb:
        assert max(thumb.size) == 320
    assert doc.display_name == "身份证 正面.any" and doc.size == storage.size(doc.name)


def test_a_pdf_is_stored_as_it_is_with_its_page_count(storage):
    data = pdf_bytes(3)
    doc = store_document(upload(data, "licence.pdf"), storage=storage)
    assert STORED_NAME.match(doc.name) and doc.name.endswith(".pdf")
    assert (doc.kind, doc.pages, doc.thumbnail_name) == ("pdf", 3, None)
    with storage.open(doc.name) as f:
        assert f.read() == data


def test_the_content_decides_the_type_not_the_name(storage):
    doc = store_document(upload(image_bytes("PNG"), "photo.jpg"), storage=storage)
    assert doc.kind == "png" and doc.name.endswith(".png")


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 200, "scan.jpg"),  # a renamed Windows program
        (b"\x7fELF\x02\x01\x01" + b"\x00" * 200, "scan.png"),
        (b"PK\x03\x04\x14\x00" + b"\x00" * 200, "documents.pdf"),  # a zip (or a zip bomb)
        (b"<html><script>alert(1)</script></html>", "licence.pdf"),
        (b"%!PS-Adobe-3.0\n", "licence.pdf"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "photo.png"),  # an image type the platform does not take
    ],
)
def test_other_content_is_refused_whatever_its_name(data, name):
    assert rejected(data, name) == "unsupported_type"


def test_an_empty_file_is_refused():
    assert rejected(b"") == "empty"


def test_a_file_over_10_mb_is_refused_without_reading_all_of_it():
    class Endless(io.RawIOBase):
        served = 0

        def readable(self):
            return True

        def readinto(self, buffer):
            chunk = (b"%PDF-1.7\n" if self.served == 0 else b"") + b"0" * len(buffer)
            buffer[: len(buffer)] = chunk[: len(buffer)]
            self.served += len(buffer)
            return len(buffer)

    stream = Endless()
    with pytest.raises(DocumentInvalid) as caught:
        check_document(io.BufferedReader(stream), "huge.pdf")
    assert caught.value.code == "too_large"
    assert stream.served <= documents.MAX_BYTES + 2 * 1024 * 1024


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def test_a_decompression_bomb_is_refused_before_it_is_decoded():
    # 60000 × 60000 pixels announced, a few bytes of compressed zeros sent: 3.6 billion pixels if decoded.
    header = struct.pack(">IIBBBBB", 60_000, 60_000, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 60_001 * 16, 9)
    bomb = (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )
    assert len(bomb) < 10_000
    assert rejected(bomb, "scan.png") == "too_many_pixels"


def test_an_image_just_over_the_pixel_limit_is_refused(monkeypatch):
    monkeypatch.setattr(documents, "MAX_PIXELS", 100 * 100)
    assert rejected(image_bytes("PNG", size=(101, 100))) == "too_many_pixels"
    assert check_document(upload(image_bytes("PNG", size=(100, 100)))).width == 100


def test_a_truncated_image_is_refused():
    data = image_bytes("JPEG", size=(400, 300))
    assert rejected(data[: len(data) // 2], "scan.jpg") == "damaged"
    png = image_bytes("PNG", size=(400, 300))
    assert rejected(png[:60], "scan.png") == "damaged"


def test_metadata_with_a_script_is_stripped_by_re_encoding(storage):
    script = "<script>alert(document.cookie)</script>"
    exif = Image.Exif()
    exif[0x010E] = script  # ImageDescription
    jpeg = image_bytes("JPEG", exif=exif.tobytes(), comment=script.encode())
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", script)
    info.add_itxt("Description", script)
    png = image_bytes("PNG", pnginfo=info)
    gif = image_bytes("GIF", comment=script.encode())
    for data in (jpeg, png, gif):
        assert script.encode() in data
        doc = store_document(upload(data), storage=storage)
        with storage.open(doc.name) as f:
            stored = f.read()
        assert b"<script" not in stored
        with Image.open(io.BytesIO(stored)) as image:
            assert not {"exif", "comment", "Comment", "Description"} & set(image.info)


def test_an_exif_rotation_is_applied_before_the_metadata_goes(storage):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    doc = store_document(upload(image_bytes("JPEG", size=(40, 20), exif=exif.tobytes())), storage=storage)
    assert (doc.width, doc.height) == (40, 20)  # as uploaded
    with storage.open(doc.name) as f, Image.open(f) as image:
        assert image.size == (20, 40) and not image.getexif()


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (pdf_bytes(1, js="open"), "active_pdf"),
        (pdf_bytes(2, js="annotation"), "active_pdf"),
        (pdf_bytes(1, attachment=True), "active_pdf"),
        (pdf_bytes(1, password="secret"), "encrypted_pdf"),
        (pdf_bytes(0), "page_count"),
        (b"%PDF-1.7\nthis is not a PDF at all\n%%EOF", "damaged"),
    ],
)
def test_unsafe_or_broken_pdfs_are_refused(data, code):
    assert rejected(data, "licence.pdf") == code


def test_a_pdf_with_too_many_pages_is_refused():
    assert rejected(pdf_bytes(documents.MAX_PDF_PAGES + 1), "book.pdf") == "page_count"
    assert len(PdfReader(io.BytesIO(pdf_bytes(documents.MAX_PDF_PAGES))).pages) == documents.MAX_PDF_PAGES
    assert check_document(upload(pdf_bytes(documents.MAX_PDF_PAGES))).pages == documents.MAX_PDF_PAGES


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("../../etc/passwd.jpg", "passwd.jpg"),
        ("..\\..\\windows\\win.ini.png", "win.ini.png"),
        ("/var/www/shell.gif", "shell.gif"),
        ("evil\x00name\r\n.jpg", "evilname.jpg"),
        ("..", "document"),
        ("", "document"),
    ],
)
def test_uploaded_names_never_reach_the_storage_path(storage, tmp_path, name, shown):
    doc = store_document(upload(image_bytes("PNG")), name, storage=storage)
    assert STORED_NAME.match(doc.name) and doc.display_name == shown
    root = Path(storage.location).resolve()
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files and all(root in p.resolve().parents for p in files)


def test_deleting_a_document_removes_its_thumbnail_too(storage):
    doc = store_document(upload(image_bytes("JPEG")), storage=storage)
    assert storage.exists(doc.name) and storage.exists(doc.thumbnail_name)
    documents.delete_document(doc, storage=storage)
    assert not storage.exists(doc.name) and not storage.exists(doc.thumbnail_name)


def test_the_documents_storage_comes_from_settings(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "documents": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "private")},
        },
    }
    doc = store_document(upload(pdf_bytes(2), "licence.pdf"))
    assert (tmp_path / "private" / doc.name).is_file()
    assert storages["documents"].location == str(tmp_path / "private")
