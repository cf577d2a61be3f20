"""Customer onboarding: creating customers, identity checks, real-name verification and its review, the
region tree and SMS codes — the simulator over signed HTTP, then the portal's client against it (typed
results, mapped errors, and the lookup that reconciles a create whose answer was lost)."""

from __future__ import annotations

import itertools
import time

import httpx
import pytest

from upstream.client import RetryPolicy, UpstreamClient
from upstream.errors import (
    AccountAlreadyCreated,
    AccountNameTaken,
    AlreadyVerified,
    CustomerAssociationPending,
    DocumentRejected,
    NotPartnerCustomer,
    OutcomeUnknown,
    ValidationRejected,
    VerificationCodeRejected,
)
from upstream.simulator.testing import SimulatorProcess
from upstream.tests.test_simulator import Client
from upstream.types import CreatedCustomer, IdentityCheck, LegalPerson, RealnameReview, Region, SubCustomer

RA = "ip-reseller-a"
CREATE = "/v2/partners/sub-customers"
CHECK = "/v2/partners/sub-customers/users/check-identity"
CUSTOMERS = "/v2/partners/sub-customers/query"
RECORDS = "/v2/partners/association-records"
ENTERPRISE = "/v2/customers/realname-auths/enterprise"
INDIVIDUAL = "/v2/customers/realname-auths/individual"
RESULT = "/v2/customers/realname-auths/result"
PROVINCES = "/v2/systems/configs/provinces"
CITIES = "/v2/systems/configs/cities"
COUNTIES = "/v2/systems/configs/counties"
SEND = "/v2/bases/verificationcode/send"
FAST = RetryPolicy(attempts=2, backoff_initial=0.01, backoff_max=0.02, rate_limited_wait=(0.05, 0.1))

_numbers = itertools.count(1)


def unique(prefix: str = "cust") -> str:
    return f"{prefix}-{next(_numbers):04d}{int(time.time() * 1000) % 100000:05d}"


def unique_mobile() -> str:
    return f"139{next(_numbers):04d}{int(time.time() * 1000) % 10000:04d}"


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    with SimulatorProcess(
        customers=40, seed=41, data_dir=tmp_path_factory.mktemp("onboarding-sim"), rate_limit=0
    ) as process:
        yield process


@pytest.fixture
def api(sim):
    sim.clear_faults()
    sim.admin("POST", "/_sim/onboarding/review", {"delay_seconds": 3600, "outcome": "approve"})
    yield Client(sim.url)
    sim.clear_faults()


def error(response) -> tuple[int, str]:
    return response.status, response.body["error_code"]


def create(api, **body):
    body = {"xaccount_id": unique("x"), "xaccount_type": "portal", **body}
    return api.call("POST", CREATE, body)


def customer_row(api, account_name, **scope):
    rows = api.ok("POST", CUSTOMERS, {"account_name": account_name, "limit": 100, **scope})["customer_infos"]
    return next((r for r in rows if r["account_name"] == account_name), None)


def new_customer(api, **body) -> dict:
    name = unique()
    assert create(api, domain_name=name, **body).status == 200
    scope = {k: body[k] for k in ("indirect_partner_id",) if body.get(k)}
    return customer_row(api, name, **scope)


def latest_code(sim, mobile: str) -> str:
    return sim.admin("GET", f"/_sim/onboarding/verification-codes?mobile_phone={mobile}")["codes"][0]["code"]


def enterprise_body(customer_id, **extra):
    return {
        "customer_id": customer_id,
        "identify_type": 1,
        "certificate_type": 0,
        "verified_file_url": ["licences/2026/licence.pdf"],
        "corp_name": "杭州云栖数据科技有限公司",
        "verified_number": "91330106MA2H0XYZ7K",
        "reg_country": "CN",
        "xaccount_type": "portal",
        **extra,
    }


# --- CreateSubCustomer and CheckUserIdentity ----------------------------------------------------------------


def test_a_created_customer_is_a_resale_customer_of_the_partner_with_an_association_record(api):
    name = unique()
    assert api.ok("POST", CHECK, {"search_type": "name", "search_value": name})["check_result"] == "available"
    created = create(api, domain_name=name)
    assert created.status == 200 and created.body["domain_name"] == name
    row = customer_row(api, name)
    assert row["customer_id"] == created.body["domain_id"]
    assert (row["association_type"], row["verified_status"]) == ("2", -1)
    assert customer_row(api, name, indirect_partner_id=RA) is None
    records = api.ok("GET", RECORDS, query={"customer_id": row["customer_id"]})["records"]
    assert [(r["operation_type"], r["initiator"]) for r in records] == [("ASSOCIATE", "PARTNER")]
    assert api.ok("POST", CHECK, {"search_type": "name", "search_value": name.upper()})["check_result"] == (
        "used_by_user"
    )


def test_a_resellers_referral_customer_is_created_under_the_reseller(api):
    name = unique()
    assert create(api, domain_name=name, cooperation_type="1", indirect_partner_id=RA).status == 200
    row = customer_row(api, name, indirect_partner_id=RA)
    assert row is not None and row["association_type"] == "1"
    assert customer_row(api, name) is None


def test_a_create_sent_again_is_refused_and_a_taken_name_is_refused(api):
    name, xaccount = unique(), unique("x")
    assert create(api, domain_name=name, xaccount_id=xaccount).status == 200
    assert error(create(api, domain_name=unique(), xaccount_id=xaccount)) == (400, "CBC.99000039")
    assert error(create(api, domain_name=name.upper())) == (400, "CBC.99000038")
    rows = api.ok("POST", CUSTOMERS, {"account_name": name, "limit": 100})["customer_infos"]
    assert len([r for r in rows if r["account_name"].lower() == name.lower()]) == 1


def test_without_a_name_the_platform_makes_one_up(api):
    created = create(api).body
    assert len(created["domain_name"]) == 32 and customer_row(api, created["domain_name"]) is not None


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"domain_name": "abcd"}, "CBC.99000031"),  # too short
        ({"domain_name": "a" * 33}, "CBC.99000031"),
        ({"domain_name": "op_customer"}, "CBC.99000031"),
        ({"domain_name": "Shadow_customer"}, "CBC.99000031"),
        ({"domain_name": "9customer"}, "CBC.99000031"),
        ({"domain_name": "bad name!"}, "CBC.99000031"),
        ({"mobile_phone": "12345678901", "verification_code": "123456"}, "CBC.5017"),
        ({"mobile_phone": "+8613912345678", "verification_code": "123456"}, "CBC.5017"),
        ({"mobile_phone": "13912345678"}, "CBC.0100"),  # a mobile number needs its code
        ({"domain_name": "pw-customer1", "password": "alllowercase"}, "CBC.99000036"),
        ({"domain_name": "pw-customer2", "password": "Ab1"}, "CBC.99000036"),
        ({"domain_name": "pw-customer3", "password": "3remotsuc-wp"}, "CBC.99000036"),  # reversed name
        ({"indirect_partner_id": "ip-nobody"}, "CBC.99000037"),
        ({"xaccount_id": None}, "CBC.0100"),
        ({"xaccount_id": "has space"}, "CBC.0100"),
    ],
)
def test_bad_customer_input_is_refused_with_the_platforms_codes(api, body, code):
    response = create(api, **body)
    assert error(response)[1] == code, response


def test_a_mobile_number_needs_its_sms_code_and_three_wrong_guesses_burn_it(api, sim):
    mobile = unique_mobile()
    assert api.call("POST", SEND, {"receiver_type": 1, "mobile_phone": mobile}).status == 200
    code = latest_code(sim, mobile)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(3):
        assert error(create(api, mobile_phone=mobile, verification_code=wrong)) == (400, "CBC.99004010")
    assert error(create(api, mobile_phone=mobile, verification_code=code)) == (400, "CBC.99004009")
    assert api.call("POST", SEND, {"receiver_type": 1, "mobile_phone": mobile, "timeout": 5}).status == 200
    name = unique()
    fresh = latest_code(sim, mobile)
    assert create(api, domain_name=name, mobile_phone=mobile, verification_code=fresh).status == 200
    assert customer_row(api, name)["telephone"] == mobile
    # used up: the same code does not create a second customer
    assert error(create(api, mobile_phone=mobile, verification_code=fresh)) == (400, "CBC.99004010")
    check = api.ok("POST", CHECK, {"search_type": "mobile", "search_value": f"0086-{mobile}"})
    assert (check["check_result"], check["mobile_remain_available_num"]) == ("available", 4)


def test_sms_codes_are_limited_per_number_and_validated(api):
    mobile = unique_mobile()
    for _ in range(5):
        assert api.call("POST", SEND, {"receiver_type": 1, "mobile_phone": mobile}).status == 200
    assert error(api.call("POST", SEND, {"receiver_type": 1, "mobile_phone": mobile})) == (
        400,
        "CBC.99000082",
    )
    for body in (
        {"receiver_type": 2, "mobile_phone": unique_mobile()},
        {"receiver_type": 1, "mobile_phone": "0086-13912345678"},
        {"receiver_type": 1, "mobile_phone": unique_mobile(), "scene": 18},  # needs customer_id
        {"receiver_type": 1, "mobile_phone": unique_mobile(), "timeout": 0},
    ):
        assert error(api.call("POST", SEND, body)) == (400, "CBC.0100"), body


@pytest.mark.parametrize(
    ("search_type", "value"),
    [
        ("name", "ab"),
        ("name", "_leading-underscore"),
        ("name", "op_admin"),
        ("mobile", "13912345678"),  # without 0086-
        ("mobile", "0044-7700900123"),  # only China
        ("email", "no-at-sign.example.com"),
        ("email", "a@b"),
        ("phone", "0086-13912345678"),
    ],
)
def test_malformed_identity_checks_are_parameter_errors(api, search_type, value):
    response = api.call("POST", CHECK, {"search_type": search_type, "search_value": value})
    assert error(response) == (400, "CBC.0100")


def test_an_email_of_an_existing_customer_is_used(api):
    email = api.ok("POST", CUSTOMERS, {"limit": 1})["customer_infos"][0]["email"]
    assert api.ok("POST", CHECK, {"search_type": "email", "search_value": email.upper()})["check_result"] == (
        "used_by_user"
    )
    assert (
        api.ok("POST", CHECK, {"search_type": "email", "search_value": "nobody@example.com"})["check_result"]
        == "available"
    )


# --- real-name verification ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "code"),
    [
        (["licences/licence.exe"], "CBC.99000100"),
        (["licences/licence.pdf.zip"], "CBC.99000100"),
        (["licences/licence"], "CBC.99000100"),
        (["a.pdf", "b.jpg", "c.png", "d.gif", "e.bmp"], "CBC.0100"),  # more than 4
        (["a.pdf", "b.jpg"], "CBC.0100"),  # without enterprise_person: the certificate only
        (["../secrets/licence.pdf"], "CBC.0100"),
        (["/licences/licence.pdf"], "CBC.0100"),
        (["download/licence.pdf"], "CBC.0100"),  # relative to download/, without it
        (["https://bucket.obs.example.com/download/licence.pdf"], "CBC.0100"),
        ([], "CBC.0100"),
    ],
)
def test_enterprise_documents_are_checked(api, files, code):
    row = new_customer(api)
    response = api.call("POST", ENTERPRISE, enterprise_body(row["customer_id"], verified_file_url=files))
    assert error(response) == (400, code)
    assert customer_row(api, row["account_name"])["verified_status"] == -1


def test_a_file_over_10_mb_in_the_bucket_is_refused(api, sim):
    row = new_customer(api)
    sim.admin("POST", "/_sim/onboarding/objects", {"objects": {"big/scan.png": 10 * 1024 * 1024 + 1}})
    response = api.call(
        "POST", ENTERPRISE, enterprise_body(row["customer_id"], verified_file_url=["big/scan.png"])
    )
    assert error(response) == (400, "CBC.99000099")


@pytest.mark.parametrize(
    "change",
    [
        {"corp_name": "12345 !!!"},
        {"identify_type": 0},
        {"certificate_type": 7},
        {"verified_number": "bad number with spaces"},
        {"reg_country": "China"},
        {"xaccount_type": None},
        {"enterprise_person": {"legel_name": "张三", "legel_id_number": "12345"}},
    ],
)
def test_bad_enterprise_fields_are_parameter_errors(api, change):
    row = new_customer(api)
    response = api.call("POST", ENTERPRISE, enterprise_body(row["customer_id"], **change))
    assert error(response) == (400, "CBC.0100")


def test_an_enterprise_verification_is_reviewed_after_a_delay_and_then_approved(api, sim):
    sim.admin("POST", "/_sim/onboarding/review", {"delay_seconds": 2, "outcome": "approve"})
    row = new_customer(api)
    cid = row["customer_id"]
    assert api.ok("GET", RESULT, query={"customer_id": cid}) == {}
    person = {"legel_name": "王五", "legel_id_number": "33010619800101123X", "certifier_role": "legalPerson"}
    files = ["ent/licence.pdf", "ent/id-front.jpg", "ent/id-back.jpg"]
    body = enterprise_body(cid, enterprise_person=person, verified_file_url=files)
    assert api.ok("POST", ENTERPRISE, body) == {"is_review": 1}
    assert api.ok("GET", RESULT, query={"customer_id": cid}) == {"review_result": 0}
    assert customer_row(api, row["account_name"])["verified_status"] == 0
    assert error(api.call("POST", ENTERPRISE, body)) == (400, "CBC.99007188")  # under review
    time.sleep(2.5)
    verified = customer_row(api, row["account_name"])  # the customer list shows the decision by itself
    assert api.ok("GET", RESULT, query={"customer_id": cid}) == {"review_result": 2}
    assert (verified["verified_status"], verified["customer_type"]) == (2, 1)
    assert verified["customer"] == "杭州云栖数据科技有限公司"
    assert error(api.call("POST", ENTERPRISE, body)) == (400, "CBC.99007188")  # verified already


def test_a_rejected_verification_has_an_opinion_and_may_be_submitted_again(api, sim):
    sim.admin("POST", "/_sim/onboarding/review", {"delay_seconds": 3600, "outcome": "reject"})
    row = new_customer(api)
    cid = row["customer_id"]
    api.ok("POST", ENTERPRISE, enterprise_body(cid))
    sim.admin("POST", "/_sim/onboarding/review/finish", {})
    result = api.ok("GET", RESULT, query={"customer_id": cid})
    assert result["review_result"] == 1 and result["opinion"]
    assert customer_row(api, row["account_name"])["verified_status"] == 1
    for _ in range(4):  # five applications in all
        api.ok("POST", ENTERPRISE, enterprise_body(cid))
        sim.admin("POST", "/_sim/onboarding/review/finish", {})
    assert error(api.call("POST", ENTERPRISE, enterprise_body(cid))) == (400, "CBC.99007191")


def test_a_customer_of_nobody_cannot_be_verified(api):
    for response in (
        api.call("POST", ENTERPRISE, enterprise_body("0" * 32)),
        api.call("GET", RESULT, query={"customer_id": "0" * 32}),
    ):
        assert error(response) == (400, "CBC.99000035")


def test_a_personal_verification_by_document_and_by_bank_card(api, sim):
    sim.admin("POST", "/_sim/onboarding/review", {"delay_seconds": 0, "outcome": "approve"})
    by_document = new_customer(api)
    body = {
        "customer_id": by_document["customer_id"],
        "identify_type": 0,
        "verified_type": 3,
        "verified_file_url": ["p/passport.jpg", "p/stamp.jpg", "p/in-hand.jpg"],
        "name": "John Smith",
        "verified_number": "E12345678",
        "change_type": -1,
        "xaccount_type": "portal",
    }
    assert error(api.call("POST", INDIVIDUAL, {**body, "verified_file_url": ["p/passport.jpg"]}))[1] == (
        "CBC.0100"
    )
    assert error(api.call("POST", INDIVIDUAL, {**body, "verified_type": 1}))[1] == "CBC.0100"
    assert api.ok("POST", INDIVIDUAL, body) == {"is_review": 0}  # no delay: decided at once
    verified = customer_row(api, by_document["account_name"])
    assert (verified["verified_status"], verified["customer_type"], verified["customer"]) == (
        2,
        0,
        "John Smith",
    )

    by_card = new_customer(api)
    mobile = unique_mobile()
    card = {"bank_account": "6222020200112233445", "areacode": "0086", "mobile": mobile}
    body = {
        "customer_id": by_card["customer_id"],
        "identify_type": 4,
        "verified_file_url": ["p/face.png"],
        "name": "李四",
        "verified_number": "110101199003074512",
        "xaccount_type": "portal",
    }
    assert error(
        api.call("POST", INDIVIDUAL, {**body, "bank_card_info": {**card, "verification_code": "1"}})
    ) == (
        400,
        "CBC.99004010",
    )
    send = {"receiver_type": 1, "mobile_phone": mobile, "scene": 18, "customer_id": by_card["customer_id"]}
    assert api.call("POST", SEND, send).status == 200
    code = latest_code(sim, mobile)
    assert api.ok("POST", INDIVIDUAL, {**body, "bank_card_info": {**card, "verification_code": code}}) == {
        "is_review": 0
    }
    assert api.ok("GET", RESULT, query={"customer_id": by_card["customer_id"]}) == {"review_result": 2}


# --- the region tree ----------------------------------------------------------------------------------------


def test_the_region_tree_lists_real_provinces_cities_and_counties(api):
    provinces = api.ok("GET", PROVINCES, query={"limit": "1000"})
    assert provinces["count"] == len(provinces["provinces"]) == 31
    assert {"code": "CN-11", "name": "北京市"} in provinces["provinces"]
    assert {"code": "CN-44", "name": "广东省"} in provinces["provinces"]
    for province in provinces["provinces"]:
        cities = api.ok("GET", CITIES, query={"province_code": province["code"], "limit": "1000"})
        assert cities["count"] == len(cities["cities"]) >= 1
        assert all(c["code"].startswith(province["code"] + "-") for c in cities["cities"])
    hebei = api.ok("GET", CITIES, query={"province_code": "CN-13", "limit": "1000"})["cities"]
    assert {"code": "CN-13-006", "name": "保定市"} in hebei  # the platform's own example
    beijing = api.ok("GET", COUNTIES, query={"city_code": "CN-11-001", "limit": "1000"})
    assert {"code": "CN-11-001-008", "name": "海淀区"} in beijing["counties"] and beijing["count"] == 16


def test_region_lists_page_and_refuse_unknown_codes(api):
    first = api.ok("GET", PROVINCES, query={"limit": "10"})
    second = api.ok("GET", PROVINCES, query={"offset": "10", "limit": "10"})
    assert len(first["provinces"]) == len(second["provinces"]) == 10
    assert not {p["code"] for p in first["provinces"]} & {p["code"] for p in second["provinces"]}
    assert api.ok("GET", PROVINCES, query={"offset": "1000"}) == {"count": 31, "provinces": []}
    for path, query in (
        (PROVINCES, {"limit": "1001"}),
        (PROVINCES, {"offset": "1001"}),
        (CITIES, {"province_code": "CN-99"}),
        (CITIES, {}),
        (COUNTIES, {"city_code": "CN-13"}),
        (COUNTIES, {"city_code": "CN-13-099"}),
    ):
        assert error(api.call("GET", path, query=query)) == (400, "CBC.0100"), (path, query)


# --- the portal's client ------------------------------------------------------------------------------------


@pytest.fixture
def client(sim, settings):
    sim.clear_faults()
    sim.admin("POST", "/_sim/onboarding/review", {"delay_seconds": 3600, "outcome": "approve"})
    with UpstreamClient(
        sim.url, "demo-ak", "demo-sk", "demo-distributor", is_simulator=True, retry=FAST, rate_limit=0
    ) as upstream:
        yield upstream
    sim.clear_faults()


def test_the_client_creates_checks_and_finds_customers(client):
    name = unique()
    assert client.check_user_identity("name", name) == IdentityCheck(available=True, mobile_remaining=None)
    created = client.create_sub_customer(xaccount_id=unique("x"), xaccount_type="portal", account_name=name)
    assert isinstance(created, CreatedCustomer) and created.account_name == name
    assert not client.check_user_identity("name", name).available
    found = client.find_customer_by_account_name(name)
    assert isinstance(found, SubCustomer) and found.customer_id == created.customer_id and found.is_resale
    assert client.find_customer_by_account_name(name[:-1]) is None  # a prefix is not the account
    with pytest.raises(AccountNameTaken):
        client.create_sub_customer(xaccount_id=unique("x"), xaccount_type="portal", account_name=name)
    referral = client.create_sub_customer(
        xaccount_id=unique("x"), xaccount_type="portal", referral=True, indirect_partner_id=RA
    )
    found = client.find_customer_by_account_name(referral.account_name, indirect_partner_id=RA)
    assert found.association_type == SubCustomer.REFERRAL
    with pytest.raises(ValueError):
        client.check_user_identity("phone", "0086-13912345678")
    with pytest.raises(ValidationRejected):
        client.check_user_identity("mobile", "13912345678")


def test_a_create_whose_answer_is_lost_is_found_by_its_account_name(client, sim):
    name, xaccount = unique(), unique("x")
    sim.set_faults(apply_then_timeout={"operations": ["CreateSubCustomer"], "rate": 1.0, "hang_seconds": 3})
    hasty = UpstreamClient(
        sim.url, "demo-ak", "demo-sk", "demo-distributor", is_simulator=True, retry=FAST, rate_limit=0,
        read_timeout=0.5,
    )  # fmt: skip
    with hasty, pytest.raises(OutcomeUnknown):
        hasty.create_sub_customer(xaccount_id=xaccount, xaccount_type="portal", account_name=name)
    sim.clear_faults()
    found = client.find_customer_by_account_name(name)
    assert found is not None and found.associated_on is not None
    with pytest.raises(AccountAlreadyCreated):
        client.create_sub_customer(xaccount_id=xaccount, xaccount_type="portal", account_name=name)


def test_the_client_verifies_a_customer_and_reads_the_review(client, sim):
    created = client.create_sub_customer(xaccount_id=unique("x"), xaccount_type="portal")
    assert client.show_realname_review(created.customer_id) == RealnameReview(result=None, opinion="")
    with pytest.raises(DocumentRejected):
        client.create_enterprise_realname_auth(
            created.customer_id, certificate_type=0, corp_name="某某科技有限公司",
            verified_number="91110000MA01ABCD1X", files=["x/licence.exe"], xaccount_type="portal",
        )  # fmt: skip
    submission = client.create_enterprise_realname_auth(
        created.customer_id,
        certificate_type=0,
        corp_name="某某科技有限公司",
        verified_number="91110000MA01ABCD1X",
        files=["x/licence.pdf", "x/front.jpg", "x/back.jpg"],
        xaccount_type="portal",
        legal_person=LegalPerson(name="赵六", id_number="110101199003074512"),
        reg_country="CN",
    )
    assert submission.needs_review and client.show_realname_review(created.customer_id).pending
    with pytest.raises(AlreadyVerified):
        client.create_enterprise_realname_auth(
            created.customer_id, certificate_type=0, corp_name="某某科技有限公司",
            verified_number="91110000MA01ABCD1X", files=["x/licence.pdf"], xaccount_type="portal",
        )  # fmt: skip
    sim.admin("POST", "/_sim/onboarding/review/finish", {})
    assert client.show_realname_review(created.customer_id).approved
    customer = client.find_customer_by_account_name(created.account_name)
    assert (customer.verified_status, customer.customer_type, customer.name) == (2, 1, "某某科技有限公司")
    with pytest.raises(NotPartnerCustomer):
        client.show_realname_review("0" * 32)
    with pytest.raises(ValueError):
        client.create_personal_realname_auth(
            created.customer_id, name="x", verified_number="x", files=[], xaccount_type="portal"
        )


def test_the_client_sends_codes_and_a_wrong_code_is_typed(client, sim):
    mobile = unique_mobile()
    client.send_verification_code(mobile)
    assert latest_code(sim, mobile)
    with pytest.raises(VerificationCodeRejected):
        client.create_sub_customer(
            xaccount_id=unique("x"), xaccount_type="portal", mobile_phone=mobile, verification_code="x"
        )


def test_the_client_reads_the_region_tree(client):
    provinces = client.list_provinces()
    assert provinces.total == 31 and all(isinstance(p, Region) for p in provinces)
    cities = client.list_cities("CN-33")
    assert "杭州市" in {c.name for c in cities}
    hangzhou = next(c for c in cities if c.name == "杭州市")
    assert "西湖区" in {c.name for c in client.list_counties(hangzhou.code)}
    with pytest.raises(ValidationRejected):
        client.list_cities("CN-00")


def test_an_unconfirmed_association_is_an_unknown_outcome_to_look_up():
    """The platform's 500 CBC.99000050: the account exists, the association is not confirmed."""

    def platform(request):
        return httpx.Response(
            500,
            json={"error_code": "CBC.99000050", "error_msg": "query timed out", "domain_id": "d1"},
        )

    real = UpstreamClient(
        "https://bss.example.invalid",
        "ak",
        "sk",
        "domain",
        transport=httpx.MockTransport(platform),
        retry=FAST,
    )
    with real, pytest.raises(CustomerAssociationPending) as caught:
        real.create_sub_customer(xaccount_id="x1", xaccount_type="portal", account_name="acme-corp")
    assert isinstance(caught.value, OutcomeUnknown) and caught.value.error_code == "CBC.99000050"


@pytest.mark.django_db
def test_created_customers_are_picked_up_by_the_customer_sync(private_upstream, partners):
    """What CreateSubCustomer makes, the next customer sync mirrors under the right partner."""
    from customers.models import Customer
    from upstream.models import SyncRun
    from upstream.sync import run_dataset

    with UpstreamClient.from_settings(retry=FAST, rate_limit=0) as upstream:
        resale = upstream.create_sub_customer(
            xaccount_id="sync-1", xaccount_type="portal", account_name="sync-one"
        )
        referral = upstream.create_sub_customer(
            xaccount_id="sync-2", xaccount_type="portal", account_name="sync-two", referral=True,
            indirect_partner_id=RA,
        )  # fmt: skip
        run = run_dataset("customers", client=upstream, mode="full")
    assert run.status == SyncRun.Status.SUCCEEDED, run.errors
    mirrored = {c.customer_id: c for c in Customer.objects.filter(account_name__in=["sync-one", "sync-two"])}
    assert mirrored[resale.customer_id].partner == partners["dist"]
    assert mirrored[resale.customer_id].association_type == "2"
    assert mirrored[referral.customer_id].partner == partners["ra"]
    assert mirrored[referral.customer_id].association_type == "1"
    assert mirrored[referral.customer_id].verified_status == -1
