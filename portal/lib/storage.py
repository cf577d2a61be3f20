"""The `documents` storage of real-name verification files (issue 14), built from the STORAGE_* settings.

- `local` (the default, `make run`): the file system under DOCUMENTS_ROOT, files 0600 in folders 0700,
  never served by the web server.
- `s3`: django-storages' S3Storage on any S3-compatible store (Huawei OBS, AWS S3, MinIO, …). Every object
  is written with a private ACL and, unless STORAGE_ENCRYPTION=off, server-side encryption (AES256: SSE-OBS
  on OBS, SSE-S3 on AWS); under STORAGE_PREFIX (`download/`, the folder whose relative paths the platform's
  `verified_file_url` names); a name is never overwritten. The portal never hands out the store's URL: staff
  download through its own signed, audited view, which streams the file from the store. `url()` (not used by
  the portal) could only give a presigned link that expires after five minutes.

The builders validate their input and raise ImproperlyConfigured naming the environment variable, like
portal/lib/env.py; settings.py calls them, and tests call them to point the storage at a test server.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ImproperlyConfigured

BACKENDS = ("local", "s3")
ADDRESSING_STYLES = ("virtual", "path")
ENCRYPTIONS = ("AES256", "off")
URL_SECONDS = 300  # the longest a presigned URL of the store could live (the portal makes none)
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_PREFIX_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")


def local_documents_storage(location: str) -> dict[str, Any]:
    """The STORAGES entry of the file-system store (private: owner-only files and folders)."""
    if not location:
        raise ImproperlyConfigured("DOCUMENTS_ROOT must name a folder.")
    return {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {
            "location": location,
            "file_permissions_mode": 0o600,
            "directory_permissions_mode": 0o700,
        },
    }


def s3_documents_storage(
    *,
    bucket: str,
    endpoint_url: str = "",
    region: str = "",
    access_key: str = "",
    secret_key: str = "",
    addressing_style: str = "virtual",
    encryption: str = "AES256",
    prefix: str = "download",
) -> dict[str, Any]:
    """The STORAGES entry of an S3-compatible bucket: private, encrypted at rest, never overwritten."""
    from botocore.config import Config

    if not bucket:
        raise ImproperlyConfigured("STORAGE_BACKEND=s3 needs STORAGE_BUCKET, the name of the bucket.")
    if not _BUCKET.match(bucket) or ".." in bucket:
        raise ImproperlyConfigured(
            f"STORAGE_BUCKET must be a bucket name (3 to 63 lower-case letters, digits, dots or hyphens), "
            f"not {bucket!r}."
        )
    if addressing_style not in ADDRESSING_STYLES:
        raise ImproperlyConfigured(
            f"STORAGE_ADDRESSING_STYLE must be virtual or path, not {addressing_style!r}."
        )
    if encryption not in ENCRYPTIONS:
        raise ImproperlyConfigured(f"STORAGE_ENCRYPTION must be AES256 or off, not {encryption!r}.")
    if prefix and not all(_PREFIX_SEGMENT.match(part) for part in prefix.split("/")):
        raise ImproperlyConfigured(
            f"STORAGE_PREFIX must be a relative folder such as download (no leading or trailing /, no ..), "
            f"not {prefix!r}."
        )
    if bool(access_key) != bool(secret_key):
        raise ImproperlyConfigured(
            "Set both STORAGE_ACCESS_KEY and STORAGE_SECRET_KEY, or neither (then boto3 finds credentials "
            "in its usual places)."
        )
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint_url or None,
            "region_name": region or None,
            "access_key": access_key or None,
            "secret_key": secret_key or None,
            "location": prefix,
            "default_acl": "private",
            "object_parameters": {"ServerSideEncryption": "AES256"} if encryption == "AES256" else {},
            "file_overwrite": False,
            "querystring_auth": True,
            "querystring_expire": URL_SECONDS,
            "custom_domain": None,
            "gzip": False,
            # Our own config (so addressing_style and the signature are set here): checksums only where the
            # operation needs one, as S3-compatible stores other than AWS may refuse boto3's default ones.
            "client_config": Config(
                s3={"addressing_style": addressing_style},
                signature_version="s3v4",
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                connect_timeout=5,
                read_timeout=30,
                retries={"max_attempts": 3, "mode": "standard"},
            ),
        },
    }
