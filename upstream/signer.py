"""AK/SK request signing, SDK-HMAC-SHA256, as Huawei Cloud's API gateway checks it.

This mirrors the canonicalization of the official SDK (`huaweicloudsdkcore.signer.signer.Signer`) step by
step, so that a request signed here carries the same `Authorization` header as the SDK would give it; the
tests compare the two byte for byte. Pure functions: no clock, no I/O (the caller passes `now`).

Canonical request = METHOD \\n URI \\n QUERY \\n HEADERS \\n SIGNED_HEADERS \\n hex(sha256(body)), where
- URI: the path percent-decoded, split on `/`, each segment encoded (only `A-Z a-z 0-9 _ . - ~` kept),
  joined again, with a trailing `/`;
- QUERY: the (key, value) pairs sorted on their *decoded* text, each side encoded, `k=v` joined by `&`;
  a repeated key gives one pair per value, an empty value gives `k=`;
- HEADERS: `lowercase-name:trimmed-value` per signed header in name order, each followed by `\\n`;
  every header is signed except those whose name contains `_`;
- the body hash is that of the empty string for an empty body, and `UNSIGNED-PAYLOAD` for a body whose
  Content-Type is neither JSON nor BSON.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from urllib.parse import quote, unquote, urlsplit

ALGORITHM = "SDK-HMAC-SHA256"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
HEADER_DATE = "X-Sdk-Date"
HEADER_AUTHORIZATION = "Authorization"
HEADER_HOST = "Host"
HEADER_CONTENT_SHA256 = "X-Sdk-Content-Sha256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
EMPTY_BODY_SHA256 = hashlib.sha256(b"").hexdigest()

QueryParams = Iterable[tuple[str, object]]


def url_encode(text: str) -> str:
    """Percent-encode everything but the unreserved characters (RFC 3986), as the SDK does."""
    return quote(text, safe="~")


def format_sdk_date(now: datetime) -> str:
    """The `X-Sdk-Date` value (`YYYYMMDDTHHMMSSZ`, UTC) for an aware datetime."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("The signing time must be an aware datetime (a naive one has no known zone).")
    return now.astimezone(UTC).strftime(DATE_FORMAT)


def canonical_uri(path: str) -> str:
    """The path with each segment decoded then encoded again, and a trailing `/`."""
    encoded = "/".join(url_encode(segment) for segment in unquote(path or "/").split("/"))
    return encoded if encoded.endswith("/") else encoded + "/"


def _query_value(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return "" if value is None else str(value)


def normalize_query(params: QueryParams | Mapping[str, object]) -> list[tuple[str, str]]:
    """Pairs of text, sorted on the decoded key then value; list values become one pair each."""
    items = params.items() if isinstance(params, Mapping) else params
    pairs: list[tuple[str, str]] = []
    for key, value in items:
        if isinstance(value, list | tuple):
            pairs.extend((str(key), _query_value(v)) for v in value)
        else:
            pairs.append((str(key), _query_value(value)))
    pairs.sort()
    return pairs


def canonical_query(params: QueryParams | Mapping[str, object]) -> str:
    """The sorted, encoded query string; the client sends exactly this on the wire too."""
    return "&".join(f"{url_encode(k)}={url_encode(v)}" for k, v in normalize_query(params))


def parse_query(query: str) -> list[tuple[str, str]]:
    """The decoded pairs of a raw query string (`+` is a literal plus, as the encoder never makes it)."""
    pairs = []
    for part in query.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        pairs.append((unquote(key), unquote(value)))
    return pairs


def host_of(url: str) -> str:
    """The `Host` header for a URL: its host and port as written (no user info)."""
    netloc = urlsplit(url).netloc
    return netloc.rpartition("@")[2]


def _get_header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def signed_header_names(headers: Mapping[str, str]) -> list[str]:
    """Lowercase names of the headers that get signed (all but those containing `_`), sorted."""
    return sorted({key.lower() for key in headers if "_" not in key})


def canonical_headers(headers: Mapping[str, str], names: list[str]) -> str:
    """`name:trimmed-value\\n` for each signed header, in the order of `names`."""
    values = {key.lower(): str(value).strip() for key, value in headers.items()}
    return "".join(f"{name}:{values[name]}\n" for name in names)


def body_sha256(body: bytes, headers: Mapping[str, str]) -> str:
    """hex(sha256(body)); the empty hash for no body; a preset X-Sdk-Content-Sha256 wins."""
    if not body:
        return EMPTY_BODY_SHA256
    preset = _get_header(headers, HEADER_CONTENT_SHA256)
    if preset:
        return preset
    return hashlib.sha256(body).hexdigest()


def canonical_request(
    method: str, path: str, query: QueryParams, headers: Mapping[str, str], body: bytes
) -> tuple[str, list[str]]:
    """The canonical request text and the signed header names (the headers must be complete)."""
    names = signed_header_names(headers)
    text = "\n".join(
        [
            method.upper(),
            canonical_uri(path),
            canonical_query(query),
            canonical_headers(headers, names),
            ";".join(names),
            body_sha256(body, headers),
        ]
    )
    return text, names


def string_to_sign(canonical: str, sdk_date: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{sdk_date}\n{digest}"


def signature(sk: str, to_sign: str) -> str:
    return hmac.new(sk.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def sign_request(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | str | None,
    ak: str,
    sk: str,
    now: datetime,
) -> dict[str, str]:
    """The headers to add to a request so that the upstream accepts it.

    `url` is the full URL as it goes on the wire (its query is re-read and canonicalized); `headers` are
    the request's own headers (Content-Type, X-Domain-Id, …), all of which get signed. Returns
    `X-Sdk-Date` and `Authorization`, plus `Host` when `headers` had none, and `X-Sdk-Content-Sha256`
    for a body that is neither JSON nor BSON (both are then part of the signature).
    """
    if not ak or not sk:
        raise ValueError("Signing needs both an access key (AK) and a secret key (SK).")
    if isinstance(body, str):
        body = body.encode("utf-8")
    body = body or b""

    # The caller's date, if any, is replaced by `now`: one source of time.
    all_headers = {k: v for k, v in headers.items() if k.lower() != HEADER_DATE.lower()}
    added: dict[str, str] = {}
    content_type = _get_header(all_headers, "Content-Type")
    if (
        content_type
        and not content_type.startswith("application/json")
        and not content_type.startswith("application/bson")
    ):
        added[HEADER_CONTENT_SHA256] = UNSIGNED_PAYLOAD
    added[HEADER_DATE] = format_sdk_date(now)
    if _get_header(all_headers, HEADER_HOST) is None:
        added[HEADER_HOST] = host_of(url)
    all_headers.update(added)

    parts = urlsplit(url)
    canonical, names = canonical_request(method, parts.path, parse_query(parts.query), all_headers, body)
    sig = signature(sk, string_to_sign(canonical, added[HEADER_DATE]))
    added[HEADER_AUTHORIZATION] = f"{ALGORITHM} Access={ak}, SignedHeaders={';'.join(names)}, Signature={sig}"
    return added
