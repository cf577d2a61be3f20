"""Customer onboarding (拓展客户): create a customer, check an account name / phone / email, real-name
verification with its delayed review, the region tree, and registration SMS codes (docs/upstream.md).

Paths, parameters and field names are the official SDK's (huaweicloudsdkbss: CreateCustomerV2Req,
CheckSubcustomerUserReq, ApplyEnterpriseRealnameAuthsReq, ApplyIndividualRealnameAuthsReq,
SendVerificationCodeV2Req, …); error codes are the platform's documented ones for each operation.

The module keeps its own tables (created on first use, so an existing store keeps its data) and registers
its routes with api.route; api.py imports it once its own routes are in place.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import sqlite3
from datetime import timedelta
from typing import Any

from . import regions
from .api import EMPTY, Params, route
from .errors import ApiError, bad_request
from .generate import fmt, parse_time
from .store import Store, utc_now

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS onboarded_customers (
        customer_id TEXT PRIMARY KEY, partner_id TEXT NOT NULL, xaccount_type TEXT NOT NULL,
        xaccount_id TEXT NOT NULL, created_at TEXT NOT NULL, UNIQUE (xaccount_type, xaccount_id))""",
    """CREATE TABLE IF NOT EXISTS realname_auths (
        seq INTEGER PRIMARY KEY, customer_id TEXT NOT NULL, kind TEXT NOT NULL,
        identify_type INTEGER NOT NULL, document_type INTEGER, name TEXT NOT NULL,
        verified_number TEXT NOT NULL, files TEXT NOT NULL,
        submitted_at TEXT NOT NULL, due_at TEXT NOT NULL, outcome INTEGER NOT NULL, opinion TEXT,
        settled INTEGER NOT NULL DEFAULT 0)""",
    "CREATE INDEX IF NOT EXISTS realname_customer ON realname_auths (customer_id, seq)",
    "CREATE INDEX IF NOT EXISTS realname_due ON realname_auths (settled, due_at)",
    """CREATE TABLE IF NOT EXISTS verification_codes (
        seq INTEGER PRIMARY KEY, mobile_phone TEXT NOT NULL, scene INTEGER NOT NULL, customer_id TEXT,
        code TEXT NOT NULL, sent_at TEXT NOT NULL, expires_at TEXT NOT NULL,
        failures INTEGER NOT NULL DEFAULT 0, used INTEGER NOT NULL DEFAULT 0)""",
    "CREATE INDEX IF NOT EXISTS codes_phone ON verification_codes (mobile_phone, scene, seq)",
    "CREATE TABLE IF NOT EXISTS bucket_objects (path TEXT PRIMARY KEY, size INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS onboarding_settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # Invitations (ext): platform accounts associated with no partner, and the invitations accepted.
    """CREATE TABLE IF NOT EXISTS independent_accounts (
        account_name TEXT PRIMARY KEY, customer_id TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
        email TEXT NOT NULL, telephone TEXT NOT NULL, verified_status INTEGER NOT NULL,
        customer_type INTEGER NOT NULL, left_at TEXT, created_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS accepted_invitations (
        invitation_id TEXT PRIMARY KEY, partner_id TEXT NOT NULL, account_name TEXT NOT NULL,
        customer_id TEXT NOT NULL, association_type TEXT NOT NULL, record_id TEXT NOT NULL,
        accepted_at TEXT NOT NULL)""",
)

# Account names: CreateCustomerV2Req.domain_name and CheckSubcustomerUserReq (name) differ slightly.
CREATE_NAME_RE = re.compile(r"^[a-zA-Z_-][a-zA-Z0-9_-]{4,31}$")
CHECK_NAME_RE = re.compile(r"^[a-zA-Z-][a-zA-Z0-9_-]{4,31}$")
RESERVED_PREFIXES = ("op_", "shadow_")
CHINA_MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
CHECK_MOBILE_RE = re.compile(r"^\d{4}-\d+$")  # 00XX-XXXXXXXX; only 0086 is supported
EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
XACCOUNT_RE = re.compile(r"^[\w.:@-]{1,128}$")
MOBILE_LIMIT = 5  # customers one mobile number may register (mobile_remain_available_num)

FILE_EXTENSIONS = ("jpg", "jpeg", "bmp", "png", "gif", "pdf")
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_FILES = 4
MAX_ATTEMPTS = 5  # real-name applications per customer (CBC.99007191 beyond)
CERTIFICATE_TYPES = (0, 1, 2, 3, 4, 99)  # business licence, public institution, social group, …, other
INDIVIDUAL_DOCUMENTS = (3, 5, 6, 9, 10)  # passport, HK/Macao permit, Taiwan permit, their residence permits
ID_NUMBER_RE = re.compile(r"^\d{17}[\dXx]$")
DOCUMENT_NUMBER_RE = re.compile(r"^[0-9A-Za-z-]{5,32}$")
BANK_ACCOUNT_RE = re.compile(r"^[0-9a-zA-Z][0-9a-zA-Z-]{7,31}$")

NOT_VERIFIED, IN_REVIEW, REJECTED, APPROVED = -1, 0, 1, 2  # verified_status / review_result (0, 1, 2)
REVIEW_SECONDS = 120  # how long a review takes unless POST /_sim/onboarding/review says otherwise
REJECT_SHARE = 4  # "auto": one application in REJECT_SHARE is rejected (by a hash of its content)
OPINIONS = (
    "证件照片模糊，无法识别证件信息，请重新上传清晰的证件照片。",
    "上传的证件已过有效期，请上传有效期内的证件。",
    "填写的证件号码与证件照片上的号码不一致。",
    "单位名称与证件上的名称不一致，请核对后重新提交。",
)

SCENE_REGISTER, SCENE_BANK_CARD = 29, 18
CODE_TTL_DEFAULT = 10  # minutes
SENDS_PER_HOUR = 5  # per mobile number; CBC.99000082 beyond
MAX_CODE_FAILURES = 3


# ---- storage -----------------------------------------------------------------------------------------------


def _ensure_schema(store: Store) -> None:
    if not getattr(store, "_onboarding_schema", False):
        with store._lock:
            for statement in SCHEMA:
                store._db.execute(statement)
            _seed_independent_accounts(store)
            store._onboarding_schema = True


def _tx(store: Store):
    """The store's transaction, with this module's tables in place."""
    _ensure_schema(store)
    return store._tx()


def _setting(db: sqlite3.Connection, key: str, default: str) -> str:
    row = db.execute("SELECT value FROM onboarding_settings WHERE key = ?", (key,)).fetchone()
    return row[0] if row else default


def _in_tree(store: Store, db: sqlite3.Connection, customer_id: str) -> sqlite3.Row:
    """An active customer of the distributor or one of its resellers (the callers' whole tree)."""
    row = db.execute(
        "SELECT * FROM customers WHERE customer_id = ? AND active = 1", (customer_id,)
    ).fetchone()
    if row is None or row["partner_id"] not in store.partners:
        raise ApiError(400, "CBC.99000035", f"{customer_id} is not a sub-customer of the partner.")
    return row


def settle_reviews(store: Store) -> int:
    """Finish the reviews that are due: the customer becomes verified (with its real name) or rejected."""
    now = fmt(utc_now())
    _ensure_schema(store)
    with store._lock:  # a read first: most calls (every ListSubCustomers) find nothing due
        if not store._db.execute(
            "SELECT 1 FROM realname_auths WHERE settled = 0 AND due_at <= ? LIMIT 1", (now,)
        ).fetchone():
            return 0
    with _tx(store) as db:
        due = db.execute(
            "SELECT * FROM realname_auths WHERE settled = 0 AND due_at <= ? ORDER BY seq", (now,)
        ).fetchall()
        for auth in due:
            if auth["outcome"] == APPROVED:
                db.execute(
                    "UPDATE customers SET verified_status = ?, customer_type = ?, customer = ?"
                    " WHERE customer_id = ?",
                    (APPROVED, 1 if auth["kind"] == "enterprise" else 0, auth["name"], auth["customer_id"]),
                )
            else:
                db.execute(
                    "UPDATE customers SET verified_status = ? WHERE customer_id = ?",
                    (REJECTED, auth["customer_id"]),
                )
            db.execute("UPDATE realname_auths SET settled = 1 WHERE seq = ?", (auth["seq"],))
    return len(due)


# ---- parameters --------------------------------------------------------------------------------------------


def _flag(p: Params, name: str) -> bool:
    value = p.data.get(name)
    if value in (None, ""):
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise bad_request(f"{name} must be true or false.")


def _choice(p: Params, name: str, choices: tuple[int, ...], *, required: bool = True) -> int | None:
    value = p.data.get(name)
    if value is None or value == "":
        if required:
            raise bad_request(f"{name} is required.")
        return None
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,3}", value):
        value = int(value)
    if isinstance(value, bool) or value not in choices:
        raise bad_request(f"{name} must be one of {', '.join(map(str, choices))}.")
    return value


def _reserved(name: str) -> bool:
    return name.lower().startswith(RESERVED_PREFIXES) or name.isdigit()


def _has_name_text(value: str) -> bool:
    """Not only digits, punctuation and spaces: at least one letter (any script)."""
    return any(ch.isalpha() for ch in value)


def _files(p: Params, expected: int) -> list[str]:
    """verified_file_url: relative paths under the bucket's download/ folder, `expected` of them in order."""
    value = p.data.get("verified_file_url")
    if not isinstance(value, list) or not value:
        raise bad_request("verified_file_url must be a list of file paths.")
    if len(value) > MAX_FILES:
        raise bad_request(f"verified_file_url may list at most {MAX_FILES} files.")
    if len(value) != expected:
        raise bad_request(f"verified_file_url must list {expected} file(s) in the documented order.")
    paths = []
    for path in value:
        if not isinstance(path, str) or not 0 < len(path) <= 255:
            raise bad_request("Each verified_file_url must be a path of 1 to 255 characters.")
        segments = path.split("/")
        if (
            "://" in path
            or "\\" in path
            or path.startswith("/")
            or any(s in ("", ".", "..") for s in segments)
            or segments[0].lower() == "download"
            or any(ord(ch) < 32 for ch in path)
        ):
            raise bad_request(
                f"{path!r} is not a path relative to the bucket's download folder (e.g. test/abc023.jpg)."
            )
        extension = path.rsplit(".", 1)[-1].lower() if "." in segments[-1] else ""
        if extension not in FILE_EXTENSIONS:
            raise ApiError(
                400,
                "CBC.99000100",
                f"The format of {path} is not supported: use {', '.join(FILE_EXTENSIONS)}.",
            )
        paths.append(path)
    if len(set(paths)) != len(paths):
        raise bad_request("verified_file_url lists the same file twice.")
    return paths


def _check_sizes(db: sqlite3.Connection, paths: list[str]) -> None:
    """Objects the test harness put in the simulated bucket are checked against the 10 MB limit."""
    for path in paths:
        row = db.execute("SELECT size FROM bucket_objects WHERE path = ?", (path,)).fetchone()
        if row is not None and row[0] > MAX_FILE_BYTES:
            raise ApiError(400, "CBC.99000099", f"{path} is larger than 10 MB.")


# ---- customers ---------------------------------------------------------------------------------------------


def _customer_id(store: Store, xaccount_type: str, xaccount_id: str) -> str:
    seed = f"upstream-sim:{store.seed}:onboard:{xaccount_type}:{xaccount_id}"
    return hashlib.sha256(seed.encode()).hexdigest()[:32]


def _validate_password(password: str, account_name: str, mobile: str | None) -> None:
    classes = sum(
        bool(re.search(pattern, password)) for pattern in (r"[A-Z]", r"[a-z]", r"\d", r"[^A-Za-z0-9]")
    )
    if (
        not 8 <= len(password) <= 32
        or classes < 2
        or password.lower() in (account_name.lower(), account_name[::-1].lower())
        or (mobile and mobile in password)
    ):
        raise ApiError(
            400,
            "CBC.99000036",
            "The password must have 8 to 32 characters of at least two kinds (upper case, lower case, "
            "digits, symbols), must not be the account name or it reversed, nor contain the mobile number.",
        )


def _check_code(store: Store, mobile: str, code: str, scene: int) -> None:
    """Verify (and use up) the latest SMS code sent to `mobile` for `scene`; a wrong guess is counted."""
    now = utc_now()
    with _tx(store) as db:
        row = db.execute(
            "SELECT * FROM verification_codes WHERE mobile_phone = ? AND scene = ? ORDER BY seq DESC LIMIT 1",
            (mobile, scene),
        ).fetchone()
        if row is None or row["used"]:
            failure = (
                "CBC.99004010",
                "The verification code is wrong (no unused code was sent to this number).",
            )
        elif row["failures"] >= MAX_CODE_FAILURES:
            failure = ("CBC.99004009", "The verification code failed more than 3 times: send a new one.")
        elif parse_time(row["expires_at"]) < now:
            failure = ("CBC.99004008", "The verification code has expired: send a new one.")
        elif row["code"] != code:
            db.execute("UPDATE verification_codes SET failures = failures + 1 WHERE seq = ?", (row["seq"],))
            failure = ("CBC.99004010", "The verification code is wrong.")
        else:
            db.execute("UPDATE verification_codes SET used = 1 WHERE seq = ?", (row["seq"],))
            failure = None
    if failure:  # raised after the commit, so the counted failure stays
        raise ApiError(400, *failure)


def _mobile_uses(db: sqlite3.Connection, mobile: str) -> int:
    return db.execute("SELECT COUNT(*) FROM customers WHERE telephone = ?", (mobile,)).fetchone()[0]


def _name_taken(db: sqlite3.Connection, name: str) -> bool:
    return (
        db.execute("SELECT 1 FROM customers WHERE lower(account_name) = lower(?)", (name,)).fetchone()
        is not None
        or db.execute(  # an account associated with no partner (invitations) exists all the same
            "SELECT 1 FROM independent_accounts WHERE lower(account_name) = lower(?)", (name,)
        ).fetchone()
        is not None
    )


@route("POST", "/v2/partners/sub-customers")
def create_sub_customer(store: Store, p: Params) -> dict:
    """CreateSubCustomer: a new platform account associated with the partner (resale unless
    cooperation_type is "1"); a reseller's customer with indirect_partner_id."""
    scope = store.scope(p.str("indirect_partner_id"))
    xaccount_id = p.str("xaccount_id", required=True, max_len=128)
    xaccount_type = p.str("xaccount_type", required=True, max_len=64)
    if not XACCOUNT_RE.match(xaccount_id):
        raise bad_request("xaccount_id may hold letters, digits and . _ : @ - only.")
    domain_name = p.str("domain_name", max_len=64)
    if domain_name is not None and (not CREATE_NAME_RE.match(domain_name) or _reserved(domain_name)):
        raise ApiError(
            400,
            "CBC.99000031",
            "The account name must have 5 to 32 letters, digits, _ or -, start with a letter, _ or -, "
            "and not start with op_ or shadow_.",
        )
    mobile = p.str("mobile_phone", max_len=32)
    if mobile is not None and not CHINA_MOBILE_RE.match(mobile):
        raise ApiError(400, "CBC.5017", "The mobile number is not a valid Chinese mobile number.")
    code = p.str("verification_code", max_len=16)
    if mobile is not None and code is None:
        raise bad_request("verification_code is required with mobile_phone (SendVerificationMessageCode).")
    password = p.str("password", max_len=64)
    _flag(p, "is_close_market_ms")
    _flag(p, "include_association_result")
    association_type = "1" if p.str("cooperation_type", max_len=8) == "1" else "2"
    if domain_name is None:
        domain_name = hashlib.sha256(f"{xaccount_type}:{xaccount_id}:{utc_now()}".encode()).hexdigest()[:32]
    if password is not None:
        _validate_password(password, domain_name, mobile)

    with store._lock:  # the checks, the code and the insert as one step
        with _tx(store) as db:
            if db.execute(
                "SELECT 1 FROM onboarded_customers WHERE xaccount_type = ? AND xaccount_id = ?",
                (xaccount_type, xaccount_id),
            ).fetchone():
                raise ApiError(400, "CBC.99000039", f"The xaccount_id {xaccount_id} is already registered.")
            if _name_taken(db, domain_name):
                raise ApiError(400, "CBC.99000038", f"The account name {domain_name} already exists.")
            if mobile is not None and _mobile_uses(db, mobile) >= MOBILE_LIMIT:
                raise ApiError(
                    400, "CBC.99000030", "This mobile number has registered the most customers it may."
                )
        if mobile is not None:
            _check_code(store, mobile, code, SCENE_REGISTER)
        now = fmt(utc_now())
        customer_id = _customer_id(store, xaccount_type, xaccount_id)
        with _tx(store) as db:
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM customers").fetchone()[0]
            db.execute(
                "INSERT INTO customers (seq, customer_id, partner_id, active, customer, account_name,"
                " associated_on, association_type, label, telephone, verified_status, country_code,"
                " customer_type, is_frozen, account_manager_id, account_manager_name, customer_level, email,"
                " amount, debt_amount, blockers)"
                " VALUES (?, ?, ?, 1, ?, ?, ?, ?, '', ?, ?, '0086', -1, 0, NULL, NULL, 'V0', '',"
                " 0, 0, '[]')",
                (
                    seq,
                    customer_id,
                    scope,
                    domain_name,
                    domain_name,
                    now,
                    association_type,
                    mobile or "",
                    NOT_VERIFIED,
                ),
            )
            db.execute(
                "INSERT INTO onboarded_customers VALUES (?, ?, ?, ?, ?)",
                (customer_id, scope, xaccount_type, xaccount_id, now),
            )
            store._add_association_record(
                db,
                partner_id=scope,
                customer_id=customer_id,
                operation_type="ASSOCIATE",
                association_type=association_type,
                from_type=None,
                when=now,
                initiator="PARTNER",
            )
    return {"domain_id": customer_id, "domain_name": domain_name}


@route("POST", "/v2/partners/sub-customers/users/check-identity")
def check_user_identity(store: Store, p: Params) -> dict:
    """CheckUserIdentity: whether an account name, mobile number or email may still register."""
    search_type = p.str("search_type", required=True, choices=("email", "mobile", "name"))
    value = p.str("search_value", required=True, max_len=64)
    result: dict[str, Any] = {"error_code": "CBC.0000", "error_msg": "success"}
    with _tx(store) as db:
        if search_type == "name":
            if not CHECK_NAME_RE.match(value) or _reserved(value):
                raise bad_request(
                    "search_value must be an account name of 5 to 32 letters, digits, _ or -, starting "
                    "with a letter or -, not all digits and not starting with op_ or shadow_."
                )
            used = _name_taken(db, value)
        elif search_type == "mobile":
            country, _, number = value.partition("-")
            if not CHECK_MOBILE_RE.match(value) or country != "0086" or not CHINA_MOBILE_RE.match(number):
                raise bad_request("search_value must be a mobile number as 0086-XXXXXXXXXXX (China only).")
            remaining = max(0, MOBILE_LIMIT - _mobile_uses(db, number))
            used = remaining == 0
            result["mobile_remain_available_num"] = remaining
        else:
            if not EMAIL_RE.match(value):
                raise bad_request("search_value must be a complete email address.")
            used = (
                db.execute("SELECT 1 FROM customers WHERE lower(email) = lower(?)", (value,)).fetchone()
                is not None
            )
    result["check_result"] = "used_by_user" if used else "available"
    return result


# ---- real-name verification --------------------------------------------------------------------------------


def _submit(
    store: Store,
    *,
    customer_id: str,
    kind: str,
    identify_type: int,
    document_type: int | None,
    name: str,
    verified_number: str,
    files: list[str],
) -> dict:
    settle_reviews(store)
    now = utc_now()
    with _tx(store) as db:
        customer = _in_tree(store, db, customer_id)
        _check_sizes(db, files)
        if customer["verified_status"] in (IN_REVIEW, APPROVED):
            raise ApiError(
                400, "CBC.99007188", "The customer is already verified or its verification is under review."
            )
        attempts = db.execute(
            "SELECT COUNT(*) FROM realname_auths WHERE customer_id = ?", (customer_id,)
        ).fetchone()[0]
        if attempts >= MAX_ATTEMPTS:
            raise ApiError(400, "CBC.99007191", "The customer has applied for verification too many times.")
        delay = int(_setting(db, "review_seconds", str(REVIEW_SECONDS)))
        policy = _setting(db, "outcome", "auto")
        digest = int(hashlib.sha256(f"{customer_id}:{verified_number}:{attempts}".encode()).hexdigest(), 16)
        if policy == "auto":
            outcome = REJECTED if digest % REJECT_SHARE == 0 else APPROVED
        else:
            outcome = APPROVED if policy == "approve" else REJECTED
        opinion = OPINIONS[digest % len(OPINIONS)] if outcome == REJECTED else None
        db.execute(
            "INSERT INTO realname_auths (customer_id, kind, identify_type, document_type, name,"
            " verified_number, files, submitted_at, due_at, outcome, opinion)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                customer_id,
                kind,
                identify_type,
                document_type,
                name,
                verified_number,
                json.dumps(files, ensure_ascii=False),
                fmt(now),
                fmt(now + timedelta(seconds=delay)),
                outcome,
                opinion,
            ),
        )
        db.execute("UPDATE customers SET verified_status = ? WHERE customer_id = ?", (IN_REVIEW, customer_id))
    if delay <= 0:
        settle_reviews(store)
    return {"is_review": 1 if delay > 0 else 0}


@route("POST", "/v2/customers/realname-auths/enterprise")
def create_enterprise_realname_authentication(store: Store, p: Params) -> dict:
    """CreateEnterpriseRealnameAuthentication: the organisation's certificate (1 file), then, with
    enterprise_person, the legal person's ID card front and back (3 files in all)."""
    customer_id = p.str("customer_id", required=True)
    _choice(p, "identify_type", (1,))
    certificate_type = _choice(p, "certificate_type", CERTIFICATE_TYPES)
    corp_name = p.str("corp_name", required=True, max_len=255)
    if not _has_name_text(corp_name.strip()):
        raise bad_request("corp_name must not be only digits, symbols or spaces.")
    number = p.str("verified_number", required=True, max_len=32)
    if not DOCUMENT_NUMBER_RE.match(number):
        raise bad_request("verified_number must be 5 to 32 letters, digits or -.")
    country = p.str("reg_country", max_len=2)
    if country is not None and not re.fullmatch(r"[A-Z]{2}", country):
        raise bad_request("reg_country must be a two-letter country code, e.g. CN.")
    p.str("reg_address", max_len=1024)
    p.str("xaccount_type", required=True, max_len=64)
    person = p.data.get("enterprise_person")
    if person is not None:
        if not isinstance(person, dict):
            raise bad_request("enterprise_person must be an object.")
        q = Params(person)
        q.str("legel_name", required=True, max_len=255)
        if not ID_NUMBER_RE.match(q.str("legel_id_number", required=True, max_len=18)):
            raise bad_request("enterprise_person.legel_id_number must be an 18-character ID card number.")
        q.str("certifier_role", choices=("legalPerson",))
    files = _files(p, 3 if person is not None else 1)
    return _submit(
        store,
        customer_id=customer_id,
        kind="enterprise",
        identify_type=1,
        document_type=certificate_type,
        name=corp_name.strip(),
        verified_number=number,
        files=files,
    )


@route("POST", "/v2/customers/realname-auths/individual")
def create_personal_realname_auth(store: Store, p: Params) -> dict:
    """CreatePersonalRealnameAuth: a document (3 files: front, back, held in hand) or a bank card (1 file,
    the face photo, with bank_card_info and an SMS code of scene 18)."""
    customer_id = p.str("customer_id", required=True)
    identify_type = _choice(p, "identify_type", (0, 4))
    verified_type = _choice(p, "verified_type", INDIVIDUAL_DOCUMENTS, required=identify_type == 0)
    name = p.str("name", required=True, max_len=255)
    if not _has_name_text(name.strip()):
        raise bad_request("name must not be only digits, symbols or spaces.")
    number = p.str("verified_number", required=True, max_len=32)
    if not DOCUMENT_NUMBER_RE.match(number):
        raise bad_request("verified_number must be 5 to 32 letters, digits or -.")
    _choice(p, "change_type", (-1,), required=False)
    p.str("xaccount_type", required=True, max_len=64)
    card = p.data.get("bank_card_info")
    bank_mobile = bank_code = None
    if identify_type == 4:
        if not isinstance(card, dict):
            raise bad_request("bank_card_info is required for a bank card verification (identify_type 4).")
        q = Params(card)
        if not BANK_ACCOUNT_RE.match(q.str("bank_account", required=True, max_len=32)):
            raise bad_request("bank_card_info.bank_account must be 8 to 32 letters, digits or -.")
        if q.str("areacode", required=True, max_len=8) != "0086":
            raise bad_request("bank_card_info.areacode must be 0086.")
        bank_mobile = q.str("mobile", required=True, max_len=32)
        if not CHINA_MOBILE_RE.match(bank_mobile):
            raise ApiError(400, "CBC.5017", "The mobile number is not a valid Chinese mobile number.")
        bank_code = q.str("verification_code", required=True, max_len=16)
    files = _files(p, 1 if identify_type == 4 else 3)
    with store._lock:
        with _tx(store) as db:
            _in_tree(store, db, customer_id)
        if identify_type == 4:
            _check_code(store, bank_mobile, bank_code, SCENE_BANK_CARD)
        return _submit(
            store,
            customer_id=customer_id,
            kind="individual",
            identify_type=identify_type,
            document_type=verified_type,
            name=name.strip(),
            verified_number=number,
            files=files,
        )


@route("GET", "/v2/customers/realname-auths/result")
def show_realname_authentication_review_result(store: Store, p: Params) -> dict:
    """ShowRealnameAuthenticationReviewResult: of the latest application (nothing if none was made)."""
    customer_id = p.str("customer_id", required=True)
    settle_reviews(store)
    with _tx(store) as db:
        _in_tree(store, db, customer_id)
        auth = db.execute(
            "SELECT * FROM realname_auths WHERE customer_id = ? ORDER BY seq DESC LIMIT 1", (customer_id,)
        ).fetchone()
    if auth is None:
        return {}
    if not auth["settled"]:
        return {"review_result": IN_REVIEW}
    if auth["outcome"] == REJECTED:
        return {"review_result": REJECTED, "opinion": auth["opinion"]}
    return {"review_result": APPROVED}


# ---- the region tree ---------------------------------------------------------------------------------------


def _region_page(p: Params, rows: list[regions.Division], key: str) -> dict:
    offset = p.int("offset", default=0, low=0, high=1000)
    limit = p.int("limit", default=10, low=1, high=1000)
    return {
        "count": len(rows),
        key: [{"code": r.code, "name": r.name} for r in rows[offset : offset + limit]],
    }


@route("GET", "/v2/systems/configs/provinces")
def list_provinces(store: Store, p: Params) -> dict:
    return _region_page(p, regions.PROVINCES, "provinces")


def _children(p: Params, parent: str, tree: dict[str, list[regions.Division]], key: str) -> dict:
    code = p.str(parent, required=True, max_len=40)
    if code not in tree:
        raise bad_request(f"Unknown {parent} {code}.")
    return _region_page(p, tree[code], key)


@route("GET", "/v2/systems/configs/cities")
def list_cities(store: Store, p: Params) -> dict:
    return _children(p, "province_code", regions.CITIES, "cities")


@route("GET", "/v2/systems/configs/counties")
def list_counties(store: Store, p: Params) -> dict:
    return _children(p, "city_code", regions.COUNTIES, "counties")


# ---- verification codes ------------------------------------------------------------------------------------


@route("POST", "/v2/bases/verificationcode/send")
def send_verification_message_code(store: Store, p: Params) -> object:
    """SendVerificationMessageCode: an SMS code for registration (29) or a bank card verification (18)."""
    _choice(p, "receiver_type", (1,))
    timeout = p.int("timeout", default=CODE_TTL_DEFAULT, low=1, high=3000)
    if timeout > 60:
        timeout = 5  # the platform's rule: longer requests get five minutes
    mobile = p.str("mobile_phone", required=True, max_len=32)
    if not CHINA_MOBILE_RE.match(mobile):
        raise bad_request("mobile_phone must be a Chinese mobile number (11 digits).")
    p.str("lang", choices=("zh-cn", "en-us"))
    scene = _choice(p, "scene", (SCENE_REGISTER, SCENE_BANK_CARD), required=False) or SCENE_REGISTER
    customer_id = p.str("customer_id", required=scene == SCENE_BANK_CARD)
    now = utc_now()
    with _tx(store) as db:
        if customer_id is not None:
            _in_tree(store, db, customer_id)
        recent = db.execute(
            "SELECT COUNT(*) FROM verification_codes WHERE mobile_phone = ? AND sent_at > ?",
            (mobile, fmt(now - timedelta(hours=1))),
        ).fetchone()[0]
        if recent >= SENDS_PER_HOUR:
            raise ApiError(400, "CBC.99000082", "Too many verification codes for this number; try later.")
        seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM verification_codes").fetchone()[0]
        code = f"{random.Random(f'{store.seed}:code:{seq}').randint(0, 999_999):06d}"
        db.execute(
            "INSERT INTO verification_codes"
            " (seq, mobile_phone, scene, customer_id, code, sent_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (seq, mobile, scene, customer_id, code, fmt(now), fmt(now + timedelta(minutes=timeout))),
        )
    return EMPTY


# ---- invitations (ext) -------------------------------------------------------------------------------------
# The platform associates an existing account with a partner when the customer accepts the partner's
# invitation in its console; it has no public API for that, so this **ext** operation stands in for it. The
# world gets a pool of accounts associated with no partner (indie-001 …), drawn from a generator of their
# own on first use, so no generated row changes; a disassociated customer may be invited again too.

INDEPENDENT_ACCOUNTS = 20
INDEPENDENT_COOLDOWN = (19, 20)  # these two left their last partner of their own accord 30 days ago
_INDIE_NAMES = ("青禾科技", "远山数据", "星桥网络", "北辰软件", "云栖设计", "南风物流", "山海教育")
ERR_NO_ACCOUNT = "CBC.99000040"  # the simulator's choice: the platform documents none for this operation
ERR_ASSOCIATED = "CBC.99000041"
ERR_COOLDOWN = "CBC.99000042"
ERR_INVITATION_USED = "CBC.99000043"


def _independent_row(seed: int, number: int, account_name: str, rng: random.Random, now, left_at=None):
    customer_id = hashlib.sha256(f"upstream-sim:{seed}:independent:{account_name}".encode()).hexdigest()[:32]
    verified = rng.random() < 0.5
    return (
        account_name,
        customer_id,
        f"{rng.choice(('杭州', '成都', '苏州', '武汉'))}{rng.choice(_INDIE_NAMES)}有限公司",
        f"owner{number:03d}@{account_name}.example.cn",
        f"137{rng.randint(0, 99_999_999):08d}",
        APPROVED if verified else NOT_VERIFIED,
        1 if verified else -1,
        left_at,
        fmt(now),
    )


def _seed_independent_accounts(store: Store) -> None:
    """The pool, once (the store lock is held): indie-001 … indie-020, the last two in their cooldown."""
    db = store._db
    if db.execute("SELECT 1 FROM independent_accounts LIMIT 1").fetchone():
        return
    rng = random.Random(f"{store.seed}:independent")
    now = utc_now()
    rows = [
        _independent_row(
            store.seed,
            number,
            f"indie-{number:03d}",
            rng,
            now,
            fmt(now - timedelta(days=30)) if number in INDEPENDENT_COOLDOWN else None,
        )
        for number in range(1, INDEPENDENT_ACCOUNTS + 1)
    ]
    db.executemany("INSERT OR IGNORE INTO independent_accounts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def _cooldown_until(db: sqlite3.Connection, customer_id: str, left_at: str | None):
    """The end of the cooldown a customer-initiated disassociation started (the rule of
    CheckAssociationChange: 90 days), or None."""
    from .store import COOLDOWN

    now = utc_now()
    recorded = db.execute(
        "SELECT MAX(operation_time) FROM association_records WHERE customer_id = ?"
        " AND operation_type = 'DISASSOCIATE' AND initiator = 'CUSTOMER'",
        (customer_id,),
    ).fetchone()[0]
    times = [parse_time(t) for t in (recorded, left_at) if t]
    last = max(times, default=None)
    return last + COOLDOWN if last is not None and last + COOLDOWN > now else None


def _accepted(row: sqlite3.Row) -> dict:
    return {
        "customer_id": row["customer_id"],
        "account_name": row["account_name"],
        "association_type": row["association_type"],
        "record_id": row["record_id"],
        "associated_on": row["accepted_at"],
    }


@route("POST", "/v2/partners/invitations/accept")
def accept_partner_invitation(store: Store, p: Params) -> dict:
    """**ext** AcceptPartnerInvitation: the customer accepted the partner's invitation; its account is
    associated with the partner (initiator CUSTOMER). The same invitation_id again gives the same result."""
    scope = store.scope(p.str("indirect_partner_id"))
    invitation_id = p.str("invitation_id", required=True, max_len=128)
    if not XACCOUNT_RE.match(invitation_id):
        raise bad_request("invitation_id may hold letters, digits and . _ : @ - only.")
    account_name = p.str("account_name", required=True, max_len=64)
    association_type = p.str("association_type", required=True, choices=("1", "2"))
    p.time("customer_confirmed_at", required=True)
    with _tx(store) as db:
        done = db.execute(
            "SELECT * FROM accepted_invitations WHERE invitation_id = ?", (invitation_id,)
        ).fetchone()
        if done is not None:
            if done["partner_id"] != scope or done["account_name"].lower() != account_name.lower():
                raise ApiError(
                    400, ERR_INVITATION_USED, f"Invitation {invitation_id} was accepted for another account."
                )
            return _accepted(done)
        pool = db.execute(
            "SELECT * FROM independent_accounts WHERE lower(account_name) = lower(?)", (account_name,)
        ).fetchone()
        row = db.execute(
            "SELECT * FROM customers WHERE lower(account_name) = lower(?)", (account_name,)
        ).fetchone()
        if pool is None and row is None:
            raise ApiError(400, ERR_NO_ACCOUNT, f"No account is named {account_name}.")
        if row is not None and row["active"]:
            raise ApiError(400, ERR_ASSOCIATED, "The account is already associated with a partner.")
        customer_id = row["customer_id"] if row is not None else pool["customer_id"]
        until = _cooldown_until(db, customer_id, pool["left_at"] if pool is not None else None)
        if until is not None:
            raise ApiError(
                400,
                ERR_COOLDOWN,
                f"The account left its partner of its own accord; it may associate again from {fmt(until)}.",
            )
        now = fmt(utc_now())
        if row is None:
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM customers").fetchone()[0]
            db.execute(
                "INSERT INTO customers (seq, customer_id, partner_id, active, customer, account_name,"
                " associated_on, association_type, label, telephone, verified_status, country_code,"
                " customer_type, is_frozen, account_manager_id, account_manager_name, customer_level, email,"
                " amount, debt_amount, blockers)"
                " VALUES (?, ?, ?, 1, ?, ?, ?, ?, '', ?, ?, '0086', ?, 0, NULL, NULL, 'V0', ?, 0, 0, '[]')",
                (
                    seq,
                    customer_id,
                    scope,
                    pool["name"],
                    pool["account_name"],
                    now,
                    association_type,
                    pool["telephone"],
                    pool["verified_status"],
                    pool["customer_type"],
                    pool["email"],
                ),
            )
        else:
            db.execute(
                "UPDATE customers SET active = 1, partner_id = ?, associated_on = ?, association_type = ?,"
                " label = '', account_manager_id = NULL, account_manager_name = NULL, amount = 0,"
                " debt_amount = 0, blockers = '[]' WHERE customer_id = ?",
                (scope, now, association_type, customer_id),
            )
        record_id = store._add_association_record(
            db,
            partner_id=scope,
            customer_id=customer_id,
            operation_type="ASSOCIATE",
            association_type=association_type,
            from_type=None,
            when=now,
            initiator="CUSTOMER",
        )
        db.execute(
            "INSERT INTO accepted_invitations VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                invitation_id,
                scope,
                (row or pool)["account_name"],
                customer_id,
                association_type,
                record_id,
                now,
            ),
        )
        done = db.execute(
            "SELECT * FROM accepted_invitations WHERE invitation_id = ?", (invitation_id,)
        ).fetchone()
    return _accepted(done)


def _independent_admin(store: Store, method: str, data: dict) -> dict:
    """GET: the pool (accounts associated with no partner); POST {"account_name", "left_days_ago"?}: one
    more, e.g. a test's own ("left_days_ago": it left a partner of its own accord that long ago)."""
    if method == "GET":
        with _tx(store) as db:
            rows = db.execute(
                "SELECT i.* FROM independent_accounts i WHERE NOT EXISTS (SELECT 1 FROM customers c"
                " WHERE c.customer_id = i.customer_id AND c.active = 1) ORDER BY account_name"
            ).fetchall()
        return {"accounts": [dict(r) for r in rows]}
    name, left = data.get("account_name"), data.get("left_days_ago")
    if not isinstance(name, str) or not CREATE_NAME_RE.match(name) or _reserved(name):
        raise bad_request("account_name must be a valid account name.")
    if left is not None and (isinstance(left, bool) or not isinstance(left, int) or not 0 <= left <= 3650):
        raise bad_request("left_days_ago must be an integer from 0 to 3650.")
    now = utc_now()
    with _tx(store) as db:
        if _name_taken(db, name):
            raise ApiError(400, "CBC.99000038", f"The account name {name} already exists.")
        number = db.execute("SELECT COUNT(*) FROM independent_accounts").fetchone()[0] + 1
        rng = random.Random(f"{store.seed}:independent:{name}")
        row = _independent_row(
            store.seed, number, name, rng, now, fmt(now - timedelta(days=left)) if left is not None else None
        )
        db.execute("INSERT INTO independent_accounts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
        added = db.execute("SELECT * FROM independent_accounts WHERE account_name = ?", (name,)).fetchone()
    return dict(added)


# ---- admin (/_sim/onboarding/...) --------------------------------------------------------------------------


def admin(store: Store, method: str, parts: list[str], query: dict[str, str], data: dict) -> dict:
    """The test harness's view: sent codes ("the customer's phone"), review timing, bucket object sizes."""
    if parts == ["independent-accounts"] and method in ("GET", "POST"):
        return _independent_admin(store, method, data)
    if method == "GET" and parts == ["verification-codes"]:
        mobile = query.get("mobile_phone")
        with _tx(store) as db:
            rows = db.execute(
                "SELECT * FROM verification_codes WHERE mobile_phone = ? ORDER BY seq DESC", (mobile,)
            ).fetchall()
        return {
            "codes": [
                {k: r[k] for k in ("code", "scene", "customer_id", "sent_at", "expires_at", "used")}
                for r in rows
            ]
        }
    if method == "POST" and parts == ["review"]:
        delay, outcome = data.get("delay_seconds"), data.get("outcome", "auto")
        if isinstance(delay, bool) or not isinstance(delay, int) or not 0 <= delay <= 30 * 86400:
            raise bad_request("delay_seconds must be an integer from 0 to 2592000.")
        if outcome not in ("auto", "approve", "reject"):
            raise bad_request("outcome must be auto, approve or reject.")
        with _tx(store) as db:
            db.executemany(
                "INSERT OR REPLACE INTO onboarding_settings VALUES (?, ?)",
                [("review_seconds", str(delay)), ("outcome", outcome)],
            )
        return {"delay_seconds": delay, "outcome": outcome}
    if method == "POST" and parts == ["review", "finish"]:
        # Every review under way is due now.
        with _tx(store) as db:
            db.execute("UPDATE realname_auths SET due_at = ? WHERE settled = 0", (fmt(utc_now()),))
        return {"settled": settle_reviews(store)}
    if method == "POST" and parts == ["objects"]:
        objects = data.get("objects")
        if not isinstance(objects, dict) or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v >= 0
            for k, v in objects.items()
        ):
            raise bad_request('The body must be {"objects": {"path": size_in_bytes, ...}}.')
        with _tx(store) as db:
            db.executemany("INSERT OR REPLACE INTO bucket_objects VALUES (?, ?)", list(objects.items()))
        return {"objects": len(objects)}
    raise ApiError(404, "APIGW.0101", f"No admin endpoint {method} /_sim/onboarding/{'/'.join(parts)}.")
