"""The signer gives the same Authorization header as Huawei Cloud's official SDK, byte for byte."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import quote

import pytest
from huaweicloudsdkcore.auth.credentials import GlobalCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest

from upstream import signer

AK = "HPUAL3EXAMPLEAK0001"
SK = "r4nd0m+Secret/Key=With~Odd&Chars"
DOMAIN_ID = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
HOST = "bss.myhuaweicloud.com"
NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


def sdk_sign(method, path, query, headers, body, now=NOW, host=HOST, domain_id=DOMAIN_ID, ak=AK, sk=SK):
    """Sign with the official SDK the way its BSS client does; returns (Authorization, uri on the wire)."""
    header_params = dict(headers)
    header_params["X-Sdk-Date"] = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    request = SdkRequest(
        method=method,
        schema="https",
        host=host,
        resource_path=path,
        query_params=list(query),
        header_params=header_params,
        body=body,
    )
    signed = GlobalCredentials(ak, sk, domain_id).sign_request(request)
    return signed.header_params["Authorization"], signed.uri


def our_sign(method, path, query, headers, body, now=NOW, host=HOST, domain_id=DOMAIN_ID, ak=AK, sk=SK):
    query_string = signer.canonical_query(query)
    url = f"https://{host}{path}" + (f"?{query_string}" if query_string else "")
    all_headers = {**headers, "X-Domain-Id": domain_id}
    added = signer.sign_request(method, url, all_headers, body, ak, sk, now)
    return added, url


JSON = {"Content-Type": "application/json"}


def test_a_get_with_a_messy_query_string_is_signed_like_the_sdk():
    query = [
        ("offset", "0"),
        ("limit", "100"),
        ("customer_id", "b2"),
        ("customer_id", "a1"),
        ("customer_id", ""),
        ("empty", ""),
        ("account_name", "张三 Li+Si/ & co=1"),
        ("名称", "~tilde*star'quote"),
        ("Zeta", "upper before lower"),
        ("operation_time_begin", "2024-01-01T00:00:00Z"),
    ]
    path = "/v3/accounts/partner-accounts/adjust-records"
    expected, sdk_uri = sdk_sign("GET", path, query, JSON, None)
    added, url = our_sign("GET", path, query, JSON, b"")
    assert added["Authorization"] == expected
    # What goes on the wire is the SDK's query string too, so the server sees the same pairs.
    assert url == f"https://{HOST}{sdk_uri}"


def test_a_list_valued_query_parameter_sorts_like_repeated_keys():
    path = "/v2/accounts/partner-accounts/balances"
    expected, _ = sdk_sign("GET", path, [("ids", ["z", "a", "m"]), ("flag", True)], JSON, None)
    added, url = our_sign("GET", path, [("flag", True), ("ids", ["z", "a", "m"])], JSON, b"")
    assert added["Authorization"] == expected
    assert url.endswith("?flag=true&ids=a&ids=m&ids=z")


def test_a_post_with_a_chinese_json_body_is_signed_like_the_sdk():
    body = json.dumps(
        {"customer": "北京某某科技有限公司", "account_name": "测试账号", "offset": 0, "limit": 10},
        ensure_ascii=False,
    ).encode("utf-8")
    path = "/v2/partners/sub-customers/query"
    expected, _ = sdk_sign("POST", path, [], JSON, body)
    added, _ = our_sign("POST", path, [], JSON, body)
    assert added["Authorization"] == expected
    assert "SignedHeaders=content-type;host;x-domain-id;x-sdk-date," in expected


@pytest.mark.parametrize(
    "path_param",
    ["a b", "tilde~plus+", "中文客户", "100%", "50%25 done", "slash/inside", "semi;colon,comma=eq"],
)
def test_a_path_with_special_characters_is_signed_like_the_sdk(path_param):
    # The SDK quotes path parameters with safe=''; the wire path is what both sign.
    path = f"/v2/partners/dedicated-offers/{quote(path_param, safe='')}/invalidate"
    body = json.dumps({"reason": "客户要求"}, ensure_ascii=False).encode("utf-8")
    expected, _ = sdk_sign("POST", path, [], JSON, body)
    added, _ = our_sign("POST", path, [], JSON, body)
    assert added["Authorization"] == expected


@pytest.mark.parametrize("raw_path", ["/v2/a b/~x+y/张三/100%", "/v2/partners/discounts", "/", "/v2/x/"])
def test_an_unencoded_path_and_the_trailing_slash_are_canonicalized_like_the_sdk(raw_path):
    expected, _ = sdk_sign("GET", raw_path, [("q", "1")], JSON, None)
    added, _ = our_sign("GET", raw_path, [("q", "1")], JSON, b"")
    assert added["Authorization"] == expected


def test_header_values_are_trimmed_and_underscored_names_left_unsigned():
    headers = {
        "Content-Type": "application/json;charset=UTF-8  ",
        "X-Project_Id": "ignored",
        "X-Extra": " v ",
    }
    path = "/v2/partners/discounts"
    expected, _ = sdk_sign("POST", path, [], headers, b"{}")
    added, _ = our_sign("POST", path, [], headers, b"{}")
    assert added["Authorization"] == expected
    assert "SignedHeaders=content-type;host;x-domain-id;x-extra;x-sdk-date," in expected


def test_a_non_json_body_is_signed_as_an_unsigned_payload_like_the_sdk():
    headers = {"Content-Type": "text/plain"}
    expected, _ = sdk_sign("POST", "/v2/upload", [], headers, b"hello")
    added, _ = our_sign("POST", "/v2/upload", [], headers, b"hello")
    assert added["Authorization"] == expected
    assert added["X-Sdk-Content-Sha256"] == "UNSIGNED-PAYLOAD"


@pytest.mark.parametrize(
    "now",
    [
        datetime(2000, 1, 1, 0, 0, 0, tzinfo=UTC),
        datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC),
        datetime(2025, 12, 31, 8, 0, 0, tzinfo=timezone(timedelta(hours=8))),  # Beijing time
    ],
)
def test_fixed_dates_are_formatted_in_utc_like_the_sdk(now):
    expected, _ = sdk_sign("GET", "/v2/accounts/partner-accounts/balances", [], JSON, None, now=now)
    added, _ = our_sign("GET", "/v2/accounts/partner-accounts/balances", [], JSON, b"", now=now)
    assert added["Authorization"] == expected
    assert added["X-Sdk-Date"] == now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def test_a_non_default_port_is_part_of_the_signed_host():
    expected, _ = sdk_sign("GET", "/v2/x", [], JSON, None, host="127.0.0.1:8001")
    added, _ = our_sign("GET", "/v2/x", [], JSON, b"", host="127.0.0.1:8001")
    assert added["Authorization"] == expected
    assert added["Host"] == "127.0.0.1:8001"


def test_known_answer_for_the_demo_credentials():
    url = "http://127.0.0.1:8001/v2/accounts/partner-accounts/balances?indirect_partner_id=ip-reseller-a"
    headers = {"Content-Type": "application/json", "X-Domain-Id": "demo-distributor"}
    now = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    added = signer.sign_request("GET", url, headers, b"", "demo-ak", "demo-sk", now)

    canonical = (
        "GET\n"
        "/v2/accounts/partner-accounts/balances/\n"
        "indirect_partner_id=ip-reseller-a\n"
        "content-type:application/json\n"
        "host:127.0.0.1:8001\n"
        "x-domain-id:demo-distributor\n"
        "x-sdk-date:20240506T070809Z\n"
        "\n"
        "content-type;host;x-domain-id;x-sdk-date\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    to_sign = "SDK-HMAC-SHA256\n20240506T070809Z\n" + hashlib.sha256(canonical.encode()).hexdigest()
    by_hand = hmac.new(b"demo-sk", to_sign.encode(), hashlib.sha256).hexdigest()
    assert added == {
        "X-Sdk-Date": "20240506T070809Z",
        "Host": "127.0.0.1:8001",
        "Authorization": (
            "SDK-HMAC-SHA256 Access=demo-ak, SignedHeaders=content-type;host;x-domain-id;x-sdk-date, "
            f"Signature={by_hand}"
        ),
    }
    assert by_hand == KNOWN_SIGNATURE
    sdk_auth, _ = sdk_sign(
        "GET",
        "/v2/accounts/partner-accounts/balances",
        [("indirect_partner_id", "ip-reseller-a")],
        JSON,
        None,
        now=now,
        host="127.0.0.1:8001",
        domain_id="demo-distributor",
        ak="demo-ak",
        sk="demo-sk",
    )
    assert sdk_auth == added["Authorization"]


KNOWN_SIGNATURE = "845daf901a28b13a00f551fad543ced380b0fe23264d89a263fb42be390ea5d8"


def test_a_naive_signing_time_is_refused():
    with pytest.raises(ValueError, match="aware"):
        signer.sign_request("GET", "https://h/x", {}, b"", AK, SK, datetime(2024, 1, 1))


def test_missing_keys_are_refused():
    with pytest.raises(ValueError, match="secret key"):
        signer.sign_request("GET", "https://h/x", {}, b"", AK, "", NOW)
