"""Deterministic demo data: the same seed and sizes always give the same world.

Each customer is a pure function of (seed, seq); the history (association and adjust records, warnings,
discounts, offers) comes from one RNG seeded by the seed. Times are laid out backwards from an anchor (the
UTC midnight of the day the store was generated), which the store records in its meta table.
"""

from __future__ import annotations

import hashlib
import json
import random
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

DISTRIBUTOR_ID = "demo-distributor"
DISTRIBUTOR_NAME = "Demo Distributor"
ACCESS_KEY = "demo-ak"
SECRET_KEY = "demo-sk"  # noqa: S105 - the documented demo credential

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

# Staff usernames the portal's seed_demo creates; customers' account managers are chosen among them.
MANAGERS = {
    DISTRIBUTOR_ID: ("dist-sales", "dist-admin"),
    "ip-reseller-a": ("ra-sales",),
    "ip-reseller-b": ("rb-admin",),
}
RESELLER_MANAGERS = {"ip-reseller-a": "dist-sales", "ip-reseller-b": "dist-admin"}

WARNING_SCENES = {
    "CHURN": "客户流失预警",
    "RESOURCE": "资源到期预警",
    "BALANCE": "余额不足预警",
    "ARREARS": "欠费预警",
}
WARNING_RESULTS = {
    "CHURN": ("LOST", "NOT_LOST"),
    "RESOURCE": ("HANDLED",),
    "BALANCE": ("HANDLED",),
    "ARREARS": ("HANDLED",),
}

BLOCKERS = {
    "ARREARS": "客户账户存在欠费，请先为客户拨款核销欠费后再操作。",
    "UNEXPIRED_RI": "客户存在未到期的预留实例，请先退订后再操作。",
    "PENDING_PARTNER_PAY_ORDERS": "客户存在待伙伴支付的订单，请先取消或完成支付。",
    "FROZEN": "客户账号已被冻结，请先解冻后再操作。",
    "SUB_ACCOUNT": "客户为企业子账号或存在非财务托管的子账号，请先解除企业关系。",
    "SPECIAL_CONTRACT": "客户存在生效中的特殊合同，请联系生态经理处理。",
}

_SURNAMES = [
    ("王", "wang"),
    ("李", "li"),
    ("张", "zhang"),
    ("刘", "liu"),
    ("陈", "chen"),
    ("杨", "yang"),
    ("赵", "zhao"),
    ("黄", "huang"),
    ("周", "zhou"),
    ("吴", "wu"),
    ("徐", "xu"),
    ("孙", "sun"),
    ("胡", "hu"),
    ("朱", "zhu"),
    ("高", "gao"),
    ("林", "lin"),
    ("何", "he"),
    ("郭", "guo"),
    ("马", "ma"),
    ("罗", "luo"),
    ("梁", "liang"),
    ("宋", "song"),
    ("郑", "zheng"),
    ("谢", "xie"),
    ("韩", "han"),
    ("唐", "tang"),
    ("冯", "feng"),
    ("于", "yu"),
    ("董", "dong"),
    ("萧", "xiao"),
]
_GIVEN = [
    ("伟", "wei"),
    ("芳", "fang"),
    ("娜", "na"),
    ("敏", "min"),
    ("静", "jing"),
    ("丽", "li"),
    ("强", "qiang"),
    ("磊", "lei"),
    ("军", "jun"),
    ("洋", "yang"),
    ("勇", "yong"),
    ("艳", "yan"),
    ("杰", "jie"),
    ("娟", "juan"),
    ("涛", "tao"),
    ("明", "ming"),
    ("超", "chao"),
    ("秀", "xiu"),
    ("霞", "xia"),
    ("平", "ping"),
    ("刚", "gang"),
    ("桂", "gui"),
    ("英", "ying"),
    ("华", "hua"),
    ("建", "jian"),
    ("文", "wen"),
    ("辉", "hui"),
    ("玲", "ling"),
    ("鹏", "peng"),
    ("宇", "yu"),
]
_CITIES = ["北京", "上海", "深圳", "杭州", "广州", "成都", "武汉", "南京", "西安", "苏州", "重庆", "天津"]
_BRANDS = [
    ("华信", "huaxin"),
    ("云帆", "yunfan"),
    ("星辰", "xingchen"),
    ("恒通", "hengtong"),
    ("博远", "boyuan"),
    ("卓越", "zhuoyue"),
    ("鼎盛", "dingsheng"),
    ("天启", "tianqi"),
    ("启明", "qiming"),
    ("智汇", "zhihui"),
    ("锐达", "ruida"),
    ("海纳", "haina"),
    ("和信", "hexin"),
    ("新元", "xinyuan"),
    ("腾跃", "tengyue"),
    ("蓝海", "lanhai"),
    ("中科", "zhongke"),
    ("联创", "lianchuang"),
    ("润泽", "runze"),
    ("安泰", "antai"),
]
_INDUSTRIES = [
    "科技",
    "信息技术",
    "网络科技",
    "数据服务",
    "电子商务",
    "教育科技",
    "医疗科技",
    "智能制造",
    "软件",
]
_LABELS = ["", "", "", "重点客户", "新客户", "教育", "游戏", "政企", "电商", "互联网", "金融"]
_EMAIL_DOMAINS = ["example.com", "example.cn", "example.net", "example.org"]
_LEVELS = (["V0", "V1", "V2", "V3", "V4", "V5"], [30, 25, 20, 13, 8, 4])
_COMMERCIAL = [
    "弹性云服务器ECS商务折扣",
    "对象存储服务OBS商务折扣",
    "云数据库RDS商务折扣",
    "内容分发网络CDN商务折扣",
    "云容器引擎CCE商务折扣",
    "弹性公网IP商务折扣",
    "云硬盘EVS商务折扣",
    "分布式缓存服务DCS商务折扣",
]
PRODUCTS = [
    ("OFFI-ECS-C7-LARGE", "ECS"),
    ("OFFI-ECS-S6-MEDIUM", "ECS"),
    ("OFFI-RDS-MYSQL-2U4G", "RDS"),
    ("OFFI-OBS-STANDARD-1TB", "OBS"),
    ("OFFI-CDN-TRAFFIC-10TB", "CDN"),
    ("OFFI-EIP-5M", "EIP"),
    ("OFFI-DCS-REDIS-4G", "DCS"),
    ("OFFI-CCE-TURBO-50", "CCE"),
]
_MEMOS_ADJUST = ["", "", "月度拨款", "活动补贴", "预付款", "季度返利"]
_MEMOS_RETRIEVE = ["", "", "余额回收", "多拨回收"]

ACCOUNT_NAME_SPACE = 36**6
_ACCOUNT_NAME_STEP = 1_000_003  # coprime with 36**6, so seq -> name is a bijection


def fmt(t: datetime) -> str:
    """A UTC time in the wire format YYYY-MM-DDTHH:MM:SSZ."""
    return t.astimezone(UTC).strftime(TIME_FORMAT)


def parse_time(s: str) -> datetime:
    return datetime.strptime(s, TIME_FORMAT).replace(tzinfo=UTC)


def letters(index: int) -> str:
    """0 -> a, 25 -> z, 26 -> aa … (spreadsheet columns, lowercase)."""
    out = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        out = string.ascii_lowercase[rem] + out
    return out


def reseller_ids(count: int) -> list[str]:
    return [f"ip-reseller-{letters(i)}" for i in range(count)]


def partner_weights(resellers: list[str]) -> list[tuple[str, float]]:
    """Owners of new customers: ~40% direct, ~30% Reseller A, ~20% B, the rest over the others."""
    weights = [(DISTRIBUTOR_ID, 40.0)]
    base = [30.0, 20.0]
    others = resellers[2:]
    for i, rid in enumerate(resellers):
        weights.append((rid, base[i] if i < 2 else 10.0 / len(others)))
    return weights


def _base36(n: int, width: int) -> str:
    digits = string.digits + string.ascii_lowercase
    out = ""
    for _ in range(width):
        n, rem = divmod(n, 36)
        out = digits[rem] + out
    return out


def customer_id_for(seed: int, seq: int) -> str:
    return hashlib.sha256(f"upstream-sim:{seed}:customer:{seq}".encode()).hexdigest()[:32]


def account_name_for(seed: int, seq: int) -> str:
    offset = int(hashlib.sha256(f"upstream-sim:{seed}:names".encode()).hexdigest(), 16) % ACCOUNT_NAME_SPACE
    return "hwc-" + _base36((seq * _ACCOUNT_NAME_STEP + offset) % ACCOUNT_NAME_SPACE, 6)


def _cents(rng: random.Random, low_yuan: int, high_yuan: int) -> int:
    return rng.randint(low_yuan * 100, high_yuan * 100)


@dataclass
class PartnerRow:
    partner_id: str
    ord: int
    parent_id: str | None
    name: str
    account_name: str
    mobile_phone: str
    email: str
    associated_on: str
    account_manager_id: str | None
    account_manager_name: str | None


def partners(seed: int, resellers: int, anchor: datetime) -> list[PartnerRow]:
    """The distributor and its resellers."""
    rng = random.Random(f"{seed}:partners")
    rows = [
        PartnerRow(
            DISTRIBUTOR_ID,
            0,
            None,
            DISTRIBUTOR_NAME,
            "hwc-demo-distributor",
            "13800000000",
            "partner@demo-distributor.example.com",
            fmt(anchor - timedelta(days=1500)),
            None,
            None,
        )
    ]
    for i, rid in enumerate(reseller_ids(resellers)):
        tag = letters(i)
        manager = RESELLER_MANAGERS.get(rid)
        rows.append(
            PartnerRow(
                rid,
                i + 1,
                DISTRIBUTOR_ID,
                f"Reseller {tag.upper()}",
                f"hwc-reseller-{tag}",
                f"139{rng.randint(0, 99_999_999):08d}",
                f"finance@reseller-{tag}.example.com",
                fmt(anchor - timedelta(days=rng.randint(400, 1200), seconds=rng.randint(0, 86_399))),
                f"am-{manager}" if manager else None,
                manager,
            )
        )
    return rows


def partner_accounts(partner_rows: list[PartnerRow]) -> list[tuple]:
    """(account_id, partner_id, account_type, amount, designated_amount, credit_amount) in cents."""
    rows = [
        ("acct-demo-distributor-1", DISTRIBUTOR_ID, 1, 50_000_000, 2_000_000, 0),
        ("acct-demo-distributor-2", DISTRIBUTOR_ID, 2, 10_000_000, 0, 10_000_000),
    ]
    opening = {"ip-reseller-a": 8_000_000, "ip-reseller-b": 5_000_000}
    for p in partner_rows[1:]:
        rows.append((f"acct-{p.partner_id}-1", p.partner_id, 1, opening.get(p.partner_id, 2_000_000), 0, 0))
    return rows


@dataclass
class CustomerRow:
    seq: int
    customer_id: str
    partner_id: str
    active: int
    customer: str
    account_name: str
    associated_on: str
    association_type: str
    label: str
    telephone: str
    verified_status: int
    country_code: str
    customer_type: int
    is_frozen: int
    account_manager_id: str | None
    account_manager_name: str | None
    customer_level: str
    email: str
    amount: int = 0
    debt_amount: int = 0
    blockers: list[dict] = field(default_factory=list)

    COLUMNS = (
        "seq",
        "customer_id",
        "partner_id",
        "active",
        "customer",
        "account_name",
        "associated_on",
        "association_type",
        "label",
        "telephone",
        "verified_status",
        "country_code",
        "customer_type",
        "is_frozen",
        "account_manager_id",
        "account_manager_name",
        "customer_level",
        "email",
        "amount",
        "debt_amount",
        "blockers",
    )

    def as_tuple(self) -> tuple:
        values = [getattr(self, c) for c in self.COLUMNS]
        values[-1] = json.dumps(self.blockers, ensure_ascii=False)
        return tuple(values)


def make_customer(
    seed: int,
    seq: int,
    weights: list[tuple[str, float]],
    associated_on: str,
    *,
    partner_id: str | None = None,
    active: int = 1,
) -> CustomerRow:
    """One customer, a pure function of (seed, seq) and its owner/time."""
    rng = random.Random(f"{seed}:customer:{seq}")
    owner = rng.choices([w[0] for w in weights], [w[1] for w in weights])[0]
    partner_id = partner_id or owner
    association_type = "2" if rng.random() < 0.5 else "1"
    roll = rng.random()
    customer_type = 1 if roll < 0.45 else (0 if roll < 0.95 else -1)
    if customer_type == 1:
        brand, brand_py = rng.choice(_BRANDS)
        name = f"{rng.choice(_CITIES)}{brand}{rng.choice(_INDUSTRIES)}有限公司"
        local = f"{rng.choice(['it', 'admin', 'finance', 'ops', 'cloud'])}.{brand_py}{rng.randint(1, 999)}"
    else:
        surname, surname_py = rng.choice(_SURNAMES)
        given = [rng.choice(_GIVEN) for _ in range(rng.choice((1, 1, 2)))]
        name = surname + "".join(g[0] for g in given)
        local = surname_py + "".join(g[1] for g in given) + str(rng.randint(1, 9999))
    verified_status = rng.choices([2, 0, 1, -1], [75, 8, 5, 12])[0]
    is_frozen = rng.choices([0, 1, 2], [94, 4, 2])[0]
    managers = MANAGERS.get(partner_id, ())
    manager = rng.choice(managers) if managers and rng.random() < 0.6 else None
    amount = debt = 0
    if association_type == "2":
        if rng.random() < 0.65:
            amount = _cents(rng, 0, 5_000)
        if rng.random() < 0.06:
            amount, debt = 0, _cents(rng, 10, 3_000)
    codes: list[str] = []
    if debt:
        codes.append("ARREARS")
    if is_frozen:
        codes.append("FROZEN")
    if rng.random() < 0.08:
        extra = rng.choice([c for c in BLOCKERS if c not in codes])
        codes.append(extra)
    return CustomerRow(
        seq=seq,
        customer_id=customer_id_for(seed, seq),
        partner_id=partner_id,
        active=active,
        customer=name,
        account_name=account_name_for(seed, seq),
        associated_on=associated_on,
        association_type=association_type,
        label=rng.choice(_LABELS),
        telephone=f"138{rng.randint(0, 99_999_999):08d}",
        verified_status=verified_status,
        country_code="0086",
        customer_type=customer_type,
        is_frozen=is_frozen,
        account_manager_id=f"am-{manager}" if manager else None,
        account_manager_name=manager,
        customer_level=rng.choices(*_LEVELS)[0],
        email=f"{local}@{rng.choice(_EMAIL_DOMAINS)}",
        amount=amount,
        debt_amount=debt,
        blockers=[{"code": c, "message": BLOCKERS[c]} for c in codes[:2]],
    )


def _warning_row(c, category, title, content, sent, status, result, handled_at) -> tuple:
    """One warnings row (without its sequence number and id), in the store's column order."""
    return (
        c.partner_id,
        c.customer_id,
        WARNING_SCENES[category],
        category,
        title,
        content,
        fmt(sent),
        status,
        result,
        handled_at,
    )


def warning_text(category: str, customer: str, account_name: str, rng: random.Random) -> tuple[str, str]:
    """(title, content) of a warning."""
    if category == "CHURN":
        drop = rng.randint(30, 95)
        return (
            f"客户{customer}存在流失风险",
            f"客户{customer}（{account_name}）近30天消费较上月下降{drop}%，请及时联系客户了解情况。",
        )
    if category == "RESOURCE":
        n, days = rng.randint(1, 12), rng.choice((3, 7, 15, 30))
        return (
            f"客户{customer}有{n}个资源即将到期",
            f"客户{customer}（{account_name}）的{n}个包年/包月资源将在{days}天内到期，请提醒客户及时续费。",
        )
    if category == "BALANCE":
        low, days = rng.choice((100, 500, 1000, 5000)), rng.randint(1, 10)
        return (
            f"客户{customer}账户余额不足",
            f"客户{customer}（{account_name}）的账户可用余额低于{low}元，预计{days}天后欠费，请及时拨款或提醒客户充值。",
        )
    owed = rng.randint(10, 5000)
    return (
        f"客户{customer}已欠费",
        f"客户{customer}（{account_name}）已欠费{owed}元，资源将进入宽限期，请及时处理。",
    )


WARNING_CATEGORIES = (["CHURN", "RESOURCE", "BALANCE", "ARREARS"], [35, 30, 20, 15])


@dataclass
class World:
    """Everything the store inserts at generation."""

    partners: list[PartnerRow]
    accounts: list[tuple]
    customers: list[CustomerRow]
    association_records: list[tuple]  # (partner, customer, op, type, from, time, initiator)
    adjust_records: list[tuple]  # (partner, customer_id, customer_name, op, amount, scene, time, memo)
    warnings: list[tuple]  # (partner, customer, scene, category, title, content, send, status, result, at)
    commercial_discounts: list[tuple]  # (partner, customer, business, type, rate, status, eff, exp)
    dedicated_offers: list[tuple]  # (partner, customer, account_name, name, products, eff, exp, status)
    partner_discounts: list[tuple]  # (customer, discount, eff, exp)


def _between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    span = max(0, int((end - start).total_seconds()))
    return start + timedelta(seconds=rng.randint(0, span))


def returned_customers(seed: int, rows: list[CustomerRow], anchor: datetime) -> list[tuple]:
    """Referral customers that left of their own accord in the last months and came back.

    One in 25 of each partner's referral customers of over 120 days (at least one). Their customer-initiated
    disassociation starts the platform's cooldown: until 90 days after it the partner may neither switch nor
    disassociate them (CheckAssociationChange answers COOLDOWN). Drawn from a generator of their own, so the
    rest of the world stays as it was.
    """
    rng = random.Random(f"{seed}:returned")
    eligible: dict[str, list[CustomerRow]] = {}
    for c in rows:
        if c.association_type == "1" and parse_time(c.associated_on) <= anchor - timedelta(days=120):
            eligible.setdefault(c.partner_id, []).append(c)
    records = []
    for partner_id in sorted(eligible):
        group = eligible[partner_id]
        for c in rng.sample(group, max(1, len(group) // 25)):
            left = _between(rng, anchor - timedelta(days=80), anchor - timedelta(days=10))
            back = left + timedelta(days=rng.randint(1, 5), seconds=rng.randint(0, 86_399))
            records.append((c.partner_id, c.customer_id, "DISASSOCIATE", "1", "1", fmt(left), "CUSTOMER"))
            records.append((c.partner_id, c.customer_id, "ASSOCIATE", "1", None, fmt(back), "CUSTOMER"))
    return records


def world(seed: int, customers: int, resellers: int, anchor: datetime) -> World:
    """The whole generated world for a seed and sizes."""
    rng = random.Random(f"{seed}:world")
    partner_rows = partners(seed, resellers, anchor)
    weights = partner_weights(reseller_ids(resellers))
    two_years = timedelta(days=730)

    active_times = sorted(
        _between(rng, anchor - two_years, anchor - timedelta(seconds=1)) for _ in range(customers)
    )
    rows = [make_customer(seed, i + 1, weights, fmt(t)) for i, t in enumerate(active_times)]
    gone = customers // 20
    gone_rows = []
    for j in range(gone):
        t = _between(rng, anchor - two_years, anchor - timedelta(days=30))
        gone_rows.append(make_customer(seed, customers + j + 1, weights, fmt(t), active=0))

    assoc: list[tuple] = []
    adjust: list[tuple] = []
    for c in rows:
        t0 = parse_time(c.associated_on)
        initiator = "CUSTOMER" if rng.random() < 0.7 else "PARTNER"
        if rng.random() < 0.1:
            before = "1" if c.association_type == "2" else "2"
            assoc.append((c.partner_id, c.customer_id, "ASSOCIATE", before, None, c.associated_on, initiator))
            ts = _between(rng, t0, anchor - timedelta(seconds=1))
            assoc.append(
                (c.partner_id, c.customer_id, "SWITCH", c.association_type, before, fmt(ts), "PARTNER")
            )
        else:
            assoc.append(
                (
                    c.partner_id,
                    c.customer_id,
                    "ASSOCIATE",
                    c.association_type,
                    None,
                    c.associated_on,
                    initiator,
                )
            )
        if c.association_type == "2" and (c.amount or c.debt_amount) and rng.random() < 0.7:
            ta = _between(rng, max(t0, anchor - timedelta(days=365)), anchor - timedelta(seconds=1))
            given = c.amount + (_cents(rng, 1, 2_000) if rng.random() < 0.3 else 0)
            adjust.append(
                (
                    c.partner_id,
                    c.customer_id,
                    c.customer,
                    "SOURCE_OPERATION_BEADJUST",
                    given or 100,
                    "CUSTOMER",
                    fmt(ta),
                    rng.choice(_MEMOS_ADJUST),
                )
            )
            if given > c.amount:
                tr = _between(rng, ta, anchor - timedelta(seconds=1))
                adjust.append(
                    (
                        c.partner_id,
                        c.customer_id,
                        c.customer,
                        "SOURCE_OPERATION_BERETRIEVE",
                        given - c.amount,
                        "CUSTOMER",
                        fmt(tr),
                        rng.choice(_MEMOS_RETRIEVE),
                    )
                )
    for c in gone_rows:
        t0 = parse_time(c.associated_on)
        t1 = _between(rng, t0 + timedelta(days=1), anchor - timedelta(days=1))
        assoc.append(
            (c.partner_id, c.customer_id, "ASSOCIATE", c.association_type, None, c.associated_on, "CUSTOMER")
        )
        assoc.append(
            (
                c.partner_id,
                c.customer_id,
                "DISASSOCIATE",
                c.association_type,
                c.association_type,
                fmt(t1),
                rng.choice(["CUSTOMER", "PARTNER", "PLATFORM"]),
            )
        )
        if c.association_type == "2" and c.amount:
            adjust.append(
                (
                    c.partner_id,
                    c.customer_id,
                    c.customer,
                    "SOURCE_OPERATION_BEADJUST",
                    c.amount,
                    "CUSTOMER",
                    fmt(_between(rng, t0, t1)),
                    rng.choice(_MEMOS_ADJUST),
                )
            )
            adjust.append(
                (
                    c.partner_id,
                    c.customer_id,
                    c.customer,
                    "SOURCE_OPERATION_BEUNBIND",
                    c.amount,
                    "CUSTOMER",
                    fmt(t1),
                    "",
                )
            )
        c.amount = c.debt_amount = 0
    assoc.extend(returned_customers(seed, rows, anchor))
    assoc.sort(key=lambda r: r[5])
    adjust.sort(key=lambda r: r[6])

    warnings: list[tuple] = []
    for _ in range(customers // 3):
        c = rows[rng.randrange(customers)]
        category = rng.choices(*WARNING_CATEGORIES)[0]
        sent = _between(rng, anchor - timedelta(days=90), anchor - timedelta(seconds=2))
        title, content = warning_text(category, c.customer, c.account_name, rng)
        status, result, handled_at = "PENDING", None, None
        if rng.random() < 0.3:
            status = "HANDLED"
            result = rng.choice(WARNING_RESULTS[category])
            handled_at = fmt(
                min(sent + timedelta(seconds=rng.randint(600, 3 * 86_400)), anchor - timedelta(seconds=1))
            )
        warnings.append(_warning_row(c, category, title, content, sent, status, result, handled_at))
    warnings.sort(key=lambda r: r[6])

    commercial: list[tuple] = []
    offers: list[tuple] = []
    discounts: list[tuple] = []
    offer_no = 0
    for c in rows:
        if rng.random() < 0.25:
            for _ in range(rng.choice((1, 1, 2))):
                if rng.random() < 0.1:
                    eff = anchor + timedelta(days=rng.randint(1, 30))
                else:
                    eff = anchor - timedelta(days=rng.randint(1, 400))
                exp = eff + timedelta(days=rng.choice((90, 180, 365)))
                status = "PENDING" if eff > anchor else ("EXPIRED" if exp <= anchor else "EFFECTIVE")
                if rng.random() < 0.05:
                    status = "INVALID"
                commercial.append(
                    (
                        c.partner_id,
                        c.customer_id,
                        rng.choice(_COMMERCIAL),
                        605 if rng.random() < 0.7 else 606,
                        rng.choice(("0.95", "0.9", "0.88", "0.85", "0.8", "0.75", "0.7")),
                        status,
                        fmt(eff),
                        fmt(exp),
                    )
                )
        if rng.random() < 0.08:
            offer_no += 1
            picked = rng.sample(PRODUCTS, rng.randint(1, 3))
            eff = anchor - timedelta(days=rng.randint(1, 300))
            exp = eff + timedelta(days=rng.choice((30, 90, 180, 365)))
            status = "EXPIRED" if exp <= anchor else ("INVALIDATED" if rng.random() < 0.12 else "ACTIVE")
            offers.append(
                (
                    c.partner_id,
                    c.customer_id,
                    c.account_name,
                    f"{picked[0][1]}专属优惠{offer_no:05d}",
                    json.dumps([p[0] for p in picked]),
                    fmt(eff),
                    fmt(exp),
                    status,
                )
            )
        if c.association_type == "1" and rng.random() < 0.2:
            eff = anchor - timedelta(days=rng.randint(0, 200))
            discounts.append(
                (
                    c.customer_id,
                    rng.choice(("0.95", "0.9", "0.88", "0.85", "0.8")),
                    fmt(eff),
                    fmt(eff + timedelta(days=rng.choice((90, 180, 365)))),
                )
            )

    return World(
        partners=partner_rows,
        accounts=partner_accounts(partner_rows),
        customers=rows + gone_rows,
        association_records=assoc,
        adjust_records=adjust,
        warnings=warnings,
        commercial_discounts=commercial,
        dedicated_offers=offers,
        partner_discounts=discounts,
    )


def scale_history(seed: int, c: CustomerRow, now: datetime) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """A large partner's customer with a full history, for seed_scale: a pure function of (seed, seq, now).

    Returns (association records, adjust records, warnings) in the World's tuple shapes: 3 association
    events ending in the customer's current type (ASSOCIATE, SWITCH away, SWITCH back), 2 adjust records
    whose net is the customer's balance (an allocation while resale, and a reclaim of the part not left),
    and 10 warnings sent over the last year, about 20% of them still pending.
    """
    rng = random.Random(f"{seed}:scale:{c.seq}")
    t0 = parse_time(c.associated_on)
    t1 = _between(rng, t0 + timedelta(seconds=1), now - timedelta(seconds=4))
    t2 = _between(rng, t1 + timedelta(seconds=1), now - timedelta(seconds=3))
    other = "1" if c.association_type == "2" else "2"
    initiator = "CUSTOMER" if rng.random() < 0.7 else "PARTNER"
    assoc = [
        (c.partner_id, c.customer_id, "ASSOCIATE", c.association_type, None, c.associated_on, initiator),
        (c.partner_id, c.customer_id, "SWITCH", other, c.association_type, fmt(t1), "PARTNER"),
        (c.partner_id, c.customer_id, "SWITCH", c.association_type, other, fmt(t2), "PARTNER"),
    ]
    # Money moves only while the customer is resale: a referral customer was resale between t1 and t2 and
    # gave all of it back before switching back; a resale customer (resale again since t2) keeps its balance.
    if c.association_type == "1":
        start, end, kept = t1, t2, 0
    else:
        start, end, kept = t2, now - timedelta(seconds=2), c.amount
    ta = _between(rng, start, end)
    tr = _between(rng, ta, end)
    extra = _cents(rng, 1, 2_000) or 1
    adjust = [
        (
            c.partner_id,
            c.customer_id,
            c.customer,
            "SOURCE_OPERATION_BEADJUST",
            kept + extra,
            "CUSTOMER",
            fmt(ta),
            rng.choice(_MEMOS_ADJUST),
        ),
        (
            c.partner_id,
            c.customer_id,
            c.customer,
            "SOURCE_OPERATION_BERETRIEVE",
            extra,
            "CUSTOMER",
            fmt(tr),
            rng.choice(_MEMOS_RETRIEVE),
        ),
    ]
    warnings = []
    first = max(t0, now - timedelta(days=365))
    for _ in range(10):
        category = rng.choices(*WARNING_CATEGORIES)[0]
        sent = _between(rng, first, now - timedelta(seconds=2))
        title, content = warning_text(category, c.customer, c.account_name, rng)
        status, result, handled_at = "PENDING", None, None
        if rng.random() >= 0.2:
            status = "HANDLED"
            result = rng.choice(WARNING_RESULTS[category])
            handled_at = fmt(min(sent + timedelta(seconds=rng.randint(600, 3 * 86_400)), now))
        warnings.append(_warning_row(c, category, title, content, sent, status, result, handled_at))
    return assoc, adjust, warnings
