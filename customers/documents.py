"""Real-name verification documents: check an upload by its content, clean it, and store it privately.

What the platform accepts (docs/upstream.md, "Customer onboarding"): jpg, jpeg, bmp, png, gif or pdf of at
most 10 MB each. A file is judged by its bytes, never by its name or declared content type:

- its type comes from its magic bytes (a renamed .exe, a zip, an HTML page are refused);
- an image is decoded by Pillow under a pixel limit (decompression bombs are refused before decoding),
  turned upright by its EXIF orientation and re-encoded, which drops every metadata chunk (EXIF, comments,
  text chunks: a script hidden there does not survive); a BMP becomes a PNG, a GIF keeps its first frame;
- a PDF is parsed by pypdf: encrypted ones, ones with JavaScript, launch or open actions or attachments,
  and ones with no or too many pages are refused; its page count is kept;
- the stored name is generated (`realname/<yyyy>/<mm>/<random>.<ext>`): the uploaded name is only kept,
  cleaned, for display, so no path in it reaches the storage.

Files go to the `documents` storage (settings.STORAGES, portal/lib/storage.py: the local file system under
var/documents by default, or an S3-compatible bucket such as Huawei OBS, private and encrypted), which is
never served directly. An image also gets a small JPEG or PNG thumbnail beside it; a store that fails
half-way keeps nothing of the document (StorageFailed, a DocumentInvalid: the form shows it like a refusal).
"""

from __future__ import annotations

import hashlib
import io
import logging
import secrets
import unicodedata
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageOps, UnidentifiedImageError
from pypdf import PdfReader
from pypdf.errors import PdfReadError
from pypdf.generic import DictionaryObject, IndirectObject

MAX_BYTES = 10 * 1024 * 1024  # the platform's limit per file
MAX_PIXELS = 40_000_000  # e.g. 8000 × 5000: more than any scan needs; beyond is a bomb or a mistake
MAX_PDF_PAGES = 50
THUMBNAIL_SIZE = (320, 320)
STORAGE_ALIAS = "documents"
logger = logging.getLogger(__name__)
PREFIX = "realname"
_CHUNK = 64 * 1024

# Magic bytes of the accepted types: (prefix, kind).
_MAGIC = (
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"BM", "bmp"),
    (b"%PDF-", "pdf"),
)
_PILLOW_FORMATS = {"jpeg": "JPEG", "png": "PNG", "gif": "GIF", "bmp": "BMP"}
# What a kind is stored as: (Pillow format to write, file extension).
_STORED_AS = {"jpeg": ("JPEG", "jpg"), "png": ("PNG", "png"), "gif": ("GIF", "gif"), "bmp": ("PNG", "png")}
# Names in a PDF that run something or carry other files.
_ACTIVE_PDF_KEYS = (
    "/JavaScript", "/JS", "/Launch", "/EmbeddedFiles", "/EmbeddedFile", "/OpenAction", "/AA", "/RichMedia",
)  # fmt: skip


class DocumentInvalid(ValidationError):
    """The upload is not an acceptable verification document; `code` says why."""


class StorageFailed(DocumentInvalid):
    """The document passed the checks but the store could not save it (down, full, refusing): nothing of it
    is kept, and the user may simply try again."""


@dataclass(frozen=True)
class CheckedDocument:
    """A document that passed the checks, ready to store: the cleaned bytes and what was learnt."""

    content: bytes
    kind: str  # jpeg, png, gif or pdf (a BMP is re-encoded as png)
    extension: str
    pages: int | None  # PDFs
    width: int | None  # images
    height: int | None
    thumbnail: bytes | None
    thumbnail_extension: str | None
    display_name: str


@dataclass(frozen=True)
class StoredDocument:
    """Where a checked document was stored (names in the `documents` storage) and its facts."""

    name: str  # also its path relative to the bucket's download/ folder (verified_file_url)
    kind: str
    size: int
    sha256: str
    pages: int | None
    width: int | None
    height: int | None
    thumbnail_name: str | None
    display_name: str


def _reject(message, code: str) -> DocumentInvalid:
    return DocumentInvalid(message, code=code)


def _read_limited(upload: IO[bytes]) -> bytes:
    """All of the upload, or DocumentInvalid as soon as it passes MAX_BYTES (never read beyond)."""
    seekable = getattr(upload, "seekable", None)
    if seekable is not None and seekable():
        upload.seek(0)
    chunks, total = [], 0
    while True:
        chunk = upload.read(_CHUNK)
        if not chunk:
            break
        total += len(chunk)
        if total > MAX_BYTES:
            raise _reject(_("The file is larger than 10 MB."), "too_large")
        chunks.append(chunk)
    if total == 0:
        raise _reject(_("The file is empty."), "empty")
    return b"".join(chunks)


def sniff(head: bytes) -> str | None:
    """The accepted type these first bytes announce (jpeg, png, gif, bmp, pdf), or None."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    return None


def display_name(name: str | None) -> str:
    """The uploaded name, kept for display only: its last path segment, without control characters."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in unicodedata.normalize("NFC", base) if unicodedata.category(ch)[0] != "C")
    base = base.strip().lstrip(".")
    return base[:100] or "document"


def _unsupported() -> DocumentInvalid:
    return _reject(
        _("Upload a JPG, JPEG, BMP, PNG, GIF or PDF file (the file's content is checked, not its name)."),
        "unsupported_type",
    )


def _damaged() -> DocumentInvalid:
    return _reject(_("The file is damaged or not a complete image or PDF."), "damaged")


# ---- images ----------------------------------------------------------------------------------------------


def _open_image(data: bytes, kind: str) -> Image.Image:
    """Decode the image fully under the pixel limit; its format must be the one its magic bytes announce."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            probe = Image.open(io.BytesIO(data), formats=[_PILLOW_FORMATS[kind]])
            width, height = probe.size
            if width * height > MAX_PIXELS:
                raise _reject(
                    _("The image has too many pixels (at most 40 million)."),
                    "too_many_pixels",
                )
            probe.verify()  # structure and checksums; the image cannot be used afterwards
            image = Image.open(io.BytesIO(data), formats=[_PILLOW_FORMATS[kind]])
            image.load()
    except DocumentInvalid:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _reject(_("The image has too many pixels (at most 40 million)."), "too_many_pixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise _damaged() from None
    return image


def _clean_image(image: Image.Image, kind: str) -> tuple[bytes, str]:
    """Re-encode without metadata (upright first); returns (bytes, extension)."""
    if kind == "gif":
        image.seek(0)
    upright = ImageOps.exif_transpose(image) if kind == "jpeg" else image
    target, extension = _STORED_AS[kind]
    if target == "JPEG" and upright.mode not in ("RGB", "L"):
        upright = upright.convert("RGB")
    if target == "PNG" and upright.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"):
        upright = upright.convert("RGBA")
    # A fresh image: pixels only, no info dict (EXIF, ICC, comments, text chunks stay behind).
    clean = Image.new(upright.mode, upright.size)
    if upright.mode == "P":
        clean.putpalette(upright.getpalette())
    clean.paste(upright)
    out = io.BytesIO()
    options = {"quality": 90, "optimize": True} if target == "JPEG" else {"optimize": True}
    clean.save(out, format=target, **options)
    content = out.getvalue()
    if len(content) > MAX_BYTES:
        raise _reject(_("The file is larger than 10 MB."), "too_large")
    return content, extension


def _thumbnail(image: Image.Image) -> tuple[bytes, str]:
    thumb = image.copy()
    thumb.thumbnail(THUMBNAIL_SIZE)
    out = io.BytesIO()
    if thumb.mode in ("RGBA", "LA", "P"):
        thumb.convert("RGBA").save(out, format="PNG", optimize=True)
        return out.getvalue(), "png"
    thumb.convert("RGB").save(out, format="JPEG", quality=80)
    return out.getvalue(), "jpg"


# ---- PDFs ------------------------------------------------------------------------------------------------


def _active(obj, seen: set[int], depth: int = 0) -> bool:
    """Whether a PDF object (followed through references, cycles cut) holds an action or attachment."""
    if depth > 60:
        return False
    if isinstance(obj, IndirectObject):
        if obj.idnum in seen:
            return False
        seen.add(obj.idnum)
        obj = obj.get_object()
    if isinstance(obj, DictionaryObject):
        if any(key in obj for key in _ACTIVE_PDF_KEYS):
            return True
        if obj.get("/S") in ("/JavaScript", "/Launch", "/ImportData", "/SubmitForm"):
            return True
        return any(_active(value, seen, depth + 1) for key, value in obj.items() if key != "/Parent")
    if isinstance(obj, list):
        return any(_active(value, seen, depth + 1) for value in obj)
    return False


def _check_pdf(data: bytes) -> int:
    """The page count of a harmless PDF; DocumentInvalid otherwise."""
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise _reject(_("The PDF is password-protected; upload it without a password."), "encrypted_pdf")
        pages = len(reader.pages)
        if _active(reader.trailer["/Root"], set()):
            raise _active_pdf()
    except DocumentInvalid:
        raise
    except (PdfReadError, OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        raise _damaged() from None
    if not 1 <= pages <= MAX_PDF_PAGES:
        raise _reject(_("The PDF must have 1 to 50 pages."), "page_count")
    return pages


def _active_pdf() -> DocumentInvalid:
    return _reject(
        _("The PDF contains scripts, actions or attached files; print it to a plain PDF and upload that."),
        "active_pdf",
    )


# ---- the checks and storage ------------------------------------------------------------------------------


def check_document(upload: IO[bytes], name: str | None = None) -> CheckedDocument:
    """Check an upload (a Django UploadedFile or any binary file object) and clean it; DocumentInvalid
    (a ValidationError with a code) when it is not acceptable."""
    data = _read_limited(upload)
    kind = sniff(data[:16])
    if kind is None:
        raise _unsupported()
    shown = display_name(name if name is not None else getattr(upload, "name", None))
    if kind == "pdf":
        pages = _check_pdf(data)
        return CheckedDocument(data, "pdf", "pdf", pages, None, None, None, None, shown)
    image = _open_image(data, kind)
    with image:
        content, extension = _clean_image(image, kind)
        thumbnail, thumbnail_extension = _thumbnail(
            ImageOps.exif_transpose(image) if kind == "jpeg" else image
        )
        width, height = image.size
    stored_kind = {"jpg": "jpeg"}.get(extension, extension)
    return CheckedDocument(
        content, stored_kind, extension, None, width, height, thumbnail, thumbnail_extension, shown
    )


def documents_storage() -> Storage:
    return storages[STORAGE_ALIAS]


def store_document(
    upload: IO[bytes], name: str | None = None, *, storage: Storage | None = None, prefix: str = PREFIX
) -> StoredDocument:
    """Check an upload and save it under a generated name (with its thumbnail, for an image)."""
    checked = check_document(upload, name)
    storage = storage or documents_storage()
    now = datetime.now(UTC)
    stem = f"{prefix}/{now:%Y}/{now:%m}/{secrets.token_hex(16)}"
    names = [f"{stem}.{checked.extension}"]
    if checked.thumbnail is not None:
        names.append(f"{stem}.thumb.{checked.thumbnail_extension}")
    saved = []
    try:
        for target, content in zip(names, (checked.content, checked.thumbnail), strict=False):
            saved.append(storage.save(target, ContentFile(content)))
    except Exception as error:  # the store is down, full or refusing: keep nothing of this document
        logger.exception("The documents storage failed to save %s.*", stem)
        for target in {*names, *saved}:  # a file system may keep a partly written file
            _delete_quietly(storage, target)
        raise StorageFailed(
            _("The file could not be stored just now; try again in a moment."), code="storage_failed"
        ) from error
    return StoredDocument(
        name=saved[0],
        kind=checked.kind,
        size=len(checked.content),
        sha256=hashlib.sha256(checked.content).hexdigest(),
        pages=checked.pages,
        width=checked.width,
        height=checked.height,
        thumbnail_name=saved[1] if len(saved) > 1 else None,
        display_name=checked.display_name,
    )


def _delete_quietly(storage: Storage, name: str) -> None:
    try:
        storage.delete(name)
    except Exception:
        logger.exception("The documents storage failed to delete %s.", name)


def delete_document(document: StoredDocument, *, storage: Storage | None = None) -> None:
    storage = storage or documents_storage()
    for name in (document.name, document.thumbnail_name):
        if name:
            storage.delete(name)
