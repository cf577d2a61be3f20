"""SDK-HMAC-SHA256 verification, written independently of the portal's signer.

It follows the canonicalisation of the official SDK (huaweicloudsdkcore.signer.Signer):
- URI: the path is percent-decoded, split on "/", each segment re-encoded with only RFC 3986 unreserved
  characters kept (``quote(s, safe="~")``: so "~" stays, a space becomes %20, "/" inside a segment %2F),
  and a "/" appended when the result does not end with one;
- query: (key, value) pairs decoded ("+" is a literal plus, not a space), sorted by key then value, each
  encoded the same way, "k=v" joined with "&" (an empty or missing value gives "k="; repeated keys give
  one pair each);
- headers: those named in SignedHeaders, lowercase name, value trimmed, in the order given;
- payload: hex sha256 of the body; an empty body hashes as b""; when the body is non-empty and an
  X-Sdk-Content-Sha256 header is present (the SDK sends UNSIGNED-PAYLOAD for non-JSON bodies) its value
  stands in for the hash.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote

ALGORITHM = "SDK-HMAC-SHA256"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
MAX_CLOCK_SKEW = timedelta(minutes=15)

_AUTH_RE = re.compile(
    r"^SDK-HMAC-SHA256\s+Access=(?P<ak>[^,\s]+)\s*,\s*SignedHeaders=(?P<sh>[^,\s]+)\s*,"
    r"\s*Signature=(?P<sig>[0-9a-fA-F]+)\s*$"
)


class SignatureError(Exception):
    """The request is not signed, or not signed correctly (HTTP 401 APIGW.0301)."""


def encode(value: str) -> str:
    """Percent-encode everything but RFC 3986 unreserved characters (letters, digits, - _ . ~)."""
    return quote(value, safe="~")


def canonical_uri(raw_path: str) -> str:
    """The canonical URI of a request path as sent on the wire (still percent-encoded)."""
    path = "/".join(encode(segment) for segment in unquote(raw_path).split("/"))
    return path if path.endswith("/") else path + "/"


def parse_query(raw_query: str) -> list[tuple[str, str]]:
    """The decoded (key, value) pairs of a raw query string.

    "+" stays a literal plus (RFC 3986; the SDK's encoder never produces it, it sends %20 for a space).
    """
    pairs = []
    for part in raw_query.split("&"):
        if part:
            key, _, value = part.partition("=")
            pairs.append((unquote(key), unquote(value)))
    return pairs


def canonical_query(raw_query: str) -> str:
    """The canonical query string of a raw query string."""
    return "&".join(f"{encode(k)}={encode(v)}" for k, v in sorted(parse_query(raw_query)))


def canonical_request(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: dict[str, str],
    signed_headers: list[str],
    body: bytes,
) -> str:
    """The canonical request string; ``headers`` maps lowercase names to values."""
    header_lines = "".join(f"{name}:{headers[name].strip()}\n" for name in signed_headers)
    if not body:
        payload_hash = hashlib.sha256(b"").hexdigest()
    elif "x-sdk-content-sha256" in headers:
        payload_hash = headers["x-sdk-content-sha256"]
    else:
        payload_hash = hashlib.sha256(body).hexdigest()
    return "\n".join(
        [
            method.upper(),
            canonical_uri(raw_path),
            canonical_query(raw_query),
            header_lines,
            ";".join(signed_headers),
            payload_hash,
        ]
    )


def string_to_sign(canonical: str, sdk_date: str) -> str:
    """What the secret key signs."""
    return f"{ALGORITHM}\n{sdk_date}\n{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"


def signature(secret_key: str, canonical: str, sdk_date: str) -> str:
    """hex(HMAC-SHA256(SK, string to sign))."""
    message = string_to_sign(canonical, sdk_date).encode("utf-8")
    return hmac.new(secret_key.encode("utf-8"), message, hashlib.sha256).hexdigest()


def verify(
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: dict[str, str],
    body: bytes,
    secrets: dict[str, str],
    now: datetime | None = None,
) -> str:
    """Check a request's signature and date; return its access key or raise SignatureError.

    ``headers`` maps lowercase header names to their (first) value, already decoded as UTF-8.
    """
    authorization = headers.get("authorization")
    if not authorization:
        raise SignatureError("Authorization header is missing.")
    match = _AUTH_RE.match(authorization.strip())
    if not match:
        raise SignatureError("Authorization header is malformed: expected SDK-HMAC-SHA256 Access=…")
    access_key = match["ak"]
    secret_key = secrets.get(access_key)
    if secret_key is None:
        raise SignatureError(f"Unknown access key {access_key!r}.")

    sdk_date = headers.get("x-sdk-date", "").strip()
    try:
        signed_at = datetime.strptime(sdk_date, DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise SignatureError("X-Sdk-Date is missing or not in YYYYMMDDTHHMMSSZ format.") from None
    now = now or datetime.now(UTC)
    if abs(now - signed_at) > MAX_CLOCK_SKEW:
        raise SignatureError("X-Sdk-Date is more than 15 minutes away from the server time.")

    signed_headers = match["sh"].split(";")
    if signed_headers != sorted(signed_headers) or any(h != h.lower() for h in signed_headers):
        raise SignatureError("SignedHeaders must be lowercase names in sorted order.")
    for required in ("host", "x-sdk-date"):
        if required not in signed_headers:
            raise SignatureError(f"SignedHeaders must include {required}.")
    missing = [h for h in signed_headers if h not in headers]
    if missing:
        raise SignatureError(f"Signed header(s) not present in the request: {', '.join(missing)}.")

    canonical = canonical_request(method, raw_path, raw_query, headers, signed_headers, body)
    expected = signature(secret_key, canonical, sdk_date)
    if not hmac.compare_digest(expected, match["sig"].lower()):
        raise SignatureError("Signature does not match the request.")
    return access_key
