"""Customers' trade, generated deterministically: orders (some combined), yearly/monthly and on-demand
resources, resource packages with their usage, and the product catalogue the price inquiry rates against.

Each customer's trade is a pure function of (seed, customer seq, anchor), drawn from an RNG of its own, so
adding it left every other generated table as it was. Money is in integer cents (orders) or Decimal
(hourly prices, package amounts); times are wire-format strings.
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from .generate import DISTRIBUTOR_ID, CustomerRow, fmt, parse_time

REGIONS = ("cn-north-4", "cn-east-3", "cn-south-1")

# code: (Chinese name, English name, abbreviation)
SERVICE_TYPES = {
    "hws.service.type.ec2": ("弹性云服务器", "Elastic Cloud Server", "ECS"),
    "hws.service.type.ebs": ("云硬盘", "Elastic Volume Service", "EVS"),
    "hws.service.type.vpc": ("虚拟私有云", "Virtual Private Cloud", "VPC"),
    "hws.service.type.rds": ("云数据库", "Relational Database Service", "RDS"),
    "hws.service.type.dcs": ("分布式缓存服务", "Distributed Cache Service", "DCS"),
    "hws.service.type.obs": ("对象存储服务", "Object Storage Service", "OBS"),
    "hws.service.type.cdn": ("内容分发网络", "Content Delivery Network", "CDN"),
}

# code: (service type, Chinese name, English name, Chinese description)
RESOURCE_TYPES = {
    "hws.resource.type.vm": ("hws.service.type.ec2", "云主机", "Cloud server", "弹性云服务器的虚拟机"),
    "hws.resource.type.volume": ("hws.service.type.ebs", "云硬盘", "Disk", "块存储云硬盘"),
    "hws.resource.type.ip": ("hws.service.type.vpc", "弹性公网IP", "Elastic IP", "公网IP地址"),
    "hws.resource.type.bandwidth": ("hws.service.type.vpc", "带宽", "Bandwidth", "公网带宽"),
    "hws.resource.type.rds.vm": ("hws.service.type.rds", "数据库实例", "DB instance", "云数据库实例"),
    "hws.resource.type.dcs": ("hws.service.type.dcs", "缓存实例", "Cache instance", "分布式缓存实例"),
    "hws.resource.type.obs.package": ("hws.service.type.obs", "存储资源包", "Storage package", "OBS资源包"),
    "hws.resource.type.cdn.package": ("hws.service.type.cdn", "流量资源包", "Traffic package", "CDN资源包"),
}

MEASURE_GB = 17  # resource_size in GB (disks)
MEASURE_MBPS = 15  # resource_size in Mbit/s (bandwidth)
MEASURE_HOUR = 4  # usage_value in hours
USAGE_FACTOR = "Duration"


@dataclass(frozen=True)
class Spec:
    """A ratable product: on-demand price per hour (per unit of size for linear ones), monthly price."""

    code: str
    resource_type: str
    description: str
    hourly: Decimal
    monthly_cents: int
    size_measure_id: int | None = None  # linear products are priced per GB / Mbit/s

    @property
    def service_type(self) -> str:
        return RESOURCE_TYPES[self.resource_type][0]

    @property
    def linear(self) -> bool:
        return self.size_measure_id is not None


SPECS = {
    s.code: s
    for s in [
        Spec(
            "s6.large.2.linux",
            "hws.resource.type.vm",
            "通用计算型|s6.large.2|2vCPUs|4GB|linux",
            Decimal("0.46"),
            23_000,
        ),
        Spec(
            "c7.xlarge.2.linux",
            "hws.resource.type.vm",
            "通用计算增强型|c7.xlarge.2|4vCPUs|8GB|linux",
            Decimal("1.03"),
            52_000,
        ),
        Spec(
            "c7.2xlarge.4.linux",
            "hws.resource.type.vm",
            "通用计算增强型|c7.2xlarge.4|8vCPUs|32GB|linux",
            Decimal("2.56"),
            128_000,
        ),
        Spec(
            "c7.xlarge.2.win",
            "hws.resource.type.vm",
            "通用计算增强型|c7.xlarge.2|4vCPUs|8GB|windows",
            Decimal("1.24"),
            62_000,
        ),
        Spec("SAS", "hws.resource.type.volume", "云硬盘_高IO|1GB", Decimal("0.0007"), 35, MEASURE_GB),
        Spec("SSD", "hws.resource.type.volume", "云硬盘_超高IO|1GB", Decimal("0.0014"), 100, MEASURE_GB),
        Spec("5_bgp", "hws.resource.type.ip", "全动态BGP公网IP", Decimal("0.02"), 2_000),
        Spec(
            "19_bgp",
            "hws.resource.type.bandwidth",
            "全动态BGP按带宽计费|1Mbit/s",
            Decimal("0.063"),
            2_300,
            MEASURE_MBPS,
        ),
        Spec(
            "rds.mysql.n1.large.2",
            "hws.resource.type.rds.vm",
            "MySQL|单机|2vCPUs|4GB",
            Decimal("0.99"),
            48_000,
        ),
        Spec(
            "rds.mysql.n1.large.2.ha",
            "hws.resource.type.rds.vm",
            "MySQL|主备|2vCPUs|4GB",
            Decimal("1.98"),
            96_000,
        ),
        Spec("redis.ha.xu1.large.r2.4", "hws.resource.type.dcs", "Redis|主备|4GB", Decimal("0.56"), 28_000),
    ]
}

MAX_RATING = Decimal("1000000000")  # a larger inquiry result is refused (CBC.99006055)

# What a yearly/monthly order buys: [(spec, size or None), ...]; the first is the main resource.
_BUNDLES = {
    "hws.service.type.ec2": [
        [("s6.large.2.linux", None), ("SAS", 40)],
        [("c7.xlarge.2.linux", None), ("SSD", 100)],
        [("c7.2xlarge.4.linux", None), ("SSD", 200)],
        [("c7.xlarge.2.win", None), ("SAS", 60)],
    ],
    "hws.service.type.ebs": [[("SAS", 100)], [("SSD", 500)]],
    "hws.service.type.vpc": [[("5_bgp", None), ("19_bgp", 5)], [("5_bgp", None), ("19_bgp", 20)]],
    "hws.service.type.rds": [[("rds.mysql.n1.large.2", None)], [("rds.mysql.n1.large.2.ha", None)]],
    "hws.service.type.dcs": [[("redis.ha.xu1.large.r2.4", None)]],
}

# Resource packages: service, resource type, name, usage type, unit, total, months, cents, resettable
PACKAGES = [
    (
        "hws.service.type.obs",
        "hws.resource.type.obs.package",
        "OBS标准存储包 1TB",
        "标准存储容量",
        MEASURE_GB,
        1024,
        12,
        108_000,
        False,
    ),
    (
        "hws.service.type.obs",
        "hws.resource.type.obs.package",
        "OBS标准存储包 500GB",
        "标准存储容量",
        MEASURE_GB,
        500,
        6,
        30_000,
        False,
    ),
    (
        "hws.service.type.cdn",
        "hws.resource.type.cdn.package",
        "CDN流量包 1TB（月度重置）",
        "下行流量",
        MEASURE_GB,
        1024,
        12,
        150_000,
        True,
    ),
    (
        "hws.service.type.cdn",
        "hws.resource.type.cdn.package",
        "CDN流量包 500GB",
        "下行流量",
        MEASURE_GB,
        500,
        6,
        60_000,
        False,
    ),
]
PACKAGE_SERVICES = ("hws.service.type.obs", "hws.service.type.cdn")

# Order types (ListCustomerOrders): 1 new, 2 renew, 3 change, 4 unsubscribe, 10 yearly/monthly to on-demand,
# 11 on-demand to yearly/monthly. Statuses: 4 cancelled, 5 completed, 6 awaiting payment.
ORDER_TYPES = ("1", "2", "3", "4", "10", "11", "13", "14", "15")
ORDER_STATUSES = (1, 3, 4, 5, 6, 9)
STATUS_CANCELLED, STATUS_COMPLETED, STATUS_PENDING_PAYMENT = 4, 5, 6
_TYPE_WEIGHTS = ([1, 2, 3, 4, 11, 10], [45, 30, 10, 7, 5, 3])
PAYMENT_WINDOW = timedelta(days=15)  # pending_payment_end_time after create_time
# Discount types of amount_info.discounts: 200 promotion, 605 commercial, 607 partner-granted.
_DISCOUNTS = (["200", "605", "607"], [40, 25, 35])
_USER_NAMES = ("运营人员", "运营系统")


def _hash(*parts: object) -> str:
    return hashlib.sha256(":".join(str(p) for p in parts).encode()).hexdigest()


def resource_uuid(*parts: object) -> str:
    return str(uuid.UUID(_hash(*parts)[:32]))


def order_id_for(seed: int, when: str, *parts: object) -> str:
    """Like the platform's: CS, yymmddHHMM of the creation, five letters or digits."""
    digits = when[2:4] + when[5:7] + when[8:10] + when[11:13] + when[14:16]
    tail = int(_hash("upstream-sim", seed, "order", *parts), 16)
    letters = ""
    for _ in range(5):
        tail, rem = divmod(tail, 36)
        letters += "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[rem]
    return f"CS{digits}{letters}"


def product_id_for(spec_code: str, region: str, kind: str = "OFFI") -> str:
    return f"{kind}{int(_hash('product', spec_code, region), 16) % 10**12:012d}"


def _between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    span = max(0, int((end - start).total_seconds()))
    return start + timedelta(seconds=rng.randint(0, span))


def partner_pay_allowed(c: CustomerRow) -> bool:
    """A reseller's referral customers cannot route orders to the partner (伙伴支付)."""
    return c.partner_id == DISTRIBUTOR_ID or c.association_type == "2"


@dataclass
class Trade:
    """One customer's (or one batch's) rows, as dicts keyed by column name."""

    orders: list[dict] = field(default_factory=list)
    line_items: list[dict] = field(default_factory=list)
    resources: list[dict] = field(default_factory=list)
    on_demand: list[dict] = field(default_factory=list)
    packages: list[dict] = field(default_factory=list)
    free_resources: list[dict] = field(default_factory=list)

    def extend(self, other: Trade) -> None:
        for name in vars(self):
            getattr(self, name).extend(getattr(other, name))

    def counts(self) -> dict[str, int]:
        return {name: len(rows) for name, rows in vars(self).items()}

    def awaiting_partner_payment(self) -> bool:
        return any(o["status"] == STATUS_PENDING_PAYMENT and o["agent_pay"] for o in self.orders)


def _months(period_type: int, period_num: int) -> int:
    return period_num * (12 if period_type == 3 else 1)


def add_months(t: datetime, months: int) -> datetime:
    return t + timedelta(days=round(months * 30.4375))


class _Builder:
    """Builds one customer's trade from its own RNG."""

    def __init__(self, seed: int, c: CustomerRow, anchor: datetime, rng: random.Random) -> None:
        self.seed, self.c, self.anchor, self.rng = seed, c, anchor, rng
        self.trade = Trade()
        self.count = 0

    def _next_id(self, when: str) -> str:
        self.count += 1
        return order_id_for(self.seed, when, self.c.seq, self.count)

    def _order_row(
        self, order_id, *, parent, service, order_type, status, created, agent_pay, paid=None
    ) -> dict:
        rng = self.rng
        deadline = fmt(created + PAYMENT_WINDOW) if status == STATUS_PENDING_PAYMENT else None
        if status == STATUS_COMPLETED and paid is None:
            paid = fmt(
                min(created + timedelta(seconds=rng.randint(30, 7200)), self.anchor - timedelta(seconds=1))
            )
        return {
            "order_id": order_id,
            "parent_order_id": parent,
            "partner_id": self.c.partner_id,
            "customer_id": self.c.customer_id,
            "service_type_code": service,
            "service_type_name": SERVICE_TYPES[service][0] if service else None,
            "source_type": 1 if rng.random() < 0.9 else 2,
            "status": status,
            "order_type": order_type,
            "official_amount": 0,
            "amount_after_discount": 0,
            "discounts": "[]",
            "commission_amount": 0,
            "consumed_amount": 0,
            "create_time": fmt(created),
            "payment_time": paid,
            "pending_payment_end_time": deadline,
            "user_name": self.c.account_name if rng.random() < 0.85 else rng.choice(_USER_NAMES),
            "agent_pay": 1 if agent_pay else 0,
            "paying_agent_id": self.c.partner_id if agent_pay else None,
        }

    def order(self, service, order_type, status, created, *, agent_pay: bool, head=None):
        """One order (or a combined order's child) with its line items and, once paid, what it bought."""
        rng = self.rng
        row = self._order_row(
            self._next_id(fmt(created)),
            parent=head["order_id"] if head else None,
            service=service,
            order_type=order_type,
            status=status,
            created=created,
            agent_pay=agent_pay,
            paid=head["payment_time"] if head else None,
        )
        if head:
            row["user_name"] = head["user_name"]
        region = rng.choice(REGIONS)
        if service in PACKAGE_SERVICES:
            package = rng.choice([p for p in PACKAGES if p[0] == service])
            items = [(None, package)]
        else:
            items = [(item, None) for item in rng.choice(_BUNDLES[service])]
        period_type, period_num = (3, 1) if rng.random() < 0.35 else (2, rng.choice((1, 1, 3, 6)))
        subscription_num = 1 if rng.random() < 0.7 else rng.randint(2, 3)
        discounts: dict[str, int] = {}
        official_total = after_total = 0
        main_resource = None
        for n, (item, package) in enumerate(items, 1):
            if package is not None:
                official = package[7] * subscription_num
                spec_code, desc, rtype, size = None, package[2], package[1], None
                months = package[6]
            else:
                spec_code, size = item
                spec = SPECS[spec_code]
                months = _months(period_type, period_num)
                official = spec.monthly_cents * (size or 1) * months * subscription_num
                desc, rtype = spec.description + (f"|{size}" if size else ""), spec.resource_type
            if order_type == 4:  # an unsubscription refunds what is left
                official = official * rng.randint(10, 90) // 100
            discount_cents, dtype = 0, None
            if order_type != 4 and rng.random() < 0.45:
                dtype = rng.choices(*_DISCOUNTS)[0]
                discount_cents = official * rng.choice((5, 10, 12, 15, 20)) // 100
                discounts[dtype] = discounts.get(dtype, 0) + discount_cents
            after = official - discount_cents
            official_total += official
            after_total += after
            effective = parse_time(row["payment_time"]) if row["payment_time"] else created
            expire = add_months(effective, months)
            line_item_id = f"{row['order_id']}-{n:06d}"
            self.trade.line_items.append(
                {
                    "order_line_item_id": line_item_id,
                    "order_id": row["order_id"],
                    "customer_id": self.c.customer_id,
                    "service_type_code": service,
                    "service_type_name": SERVICE_TYPES[service][0],
                    "product_id": product_id_for(spec_code or desc, region),
                    "product_spec_desc": desc,
                    "period_type": period_type if package is None else 2,
                    "period_num": None if order_type == 4 else (period_num if package is None else months),
                    "effective_time": fmt(effective),
                    "expire_time": fmt(expire),
                    "subscription_num": subscription_num,
                    "official_amount": official,
                    "amount_after_discount": after,
                    "discounts": json.dumps(
                        [{"discount_type": dtype, "discount_amount": discount_cents}] if dtype else []
                    ),
                    "category_code": f"hws.resource.type.category.{rtype.rsplit('.', 1)[-1]}",
                    "resource_type_code": rtype,
                    "resource_spec_code": spec_code,
                    "resource_size": size,
                    "region_code": region,
                }
            )
            if row["status"] == STATUS_COMPLETED and order_type in (1, 2, 11):
                if package is not None:
                    self._package(row, package, region, effective, expire, subscription_num)
                else:
                    rid = self._resource(row, spec_code, size, region, effective, months, main_resource, n)
                    main_resource = main_resource or rid
        row["official_amount"] = official_total
        row["amount_after_discount"] = after_total
        row["discounts"] = json.dumps(
            [{"discount_type": t, "discount_amount": a} for t, a in discounts.items()]
        )
        if order_type == 4:
            row["commission_amount"] = 0
            row["consumed_amount"] = official_total * rng.randint(5, 50) // 100
        self.trade.orders.append(row)
        return row

    def _resource(self, order, spec_code, size, region, effective, months, parent, n) -> str:
        """A yearly/monthly resource, renewed (expire policy 3) until its expiry is no longer in the past."""
        rng, spec = self.rng, SPECS[spec_code]
        expire = add_months(effective, months)
        renewed = False
        while expire < self.anchor - timedelta(days=10) and rng.random() < 0.85:
            expire, renewed = add_months(expire, months), True
        if expire < self.anchor - timedelta(days=20):
            return ""  # expired and gone
        status = 5 if expire < self.anchor else (4 if self.c.is_frozen else 2)
        resource_id = resource_uuid("resource", self.seed, order["order_id"], n)
        short = SERVICE_TYPES[spec.service_type][2].lower()
        self.trade.resources.append(
            {
                "id": resource_uuid("instance", self.seed, order["order_id"], n),
                "resource_id": resource_id,
                "partner_id": self.c.partner_id,
                "customer_id": self.c.customer_id,
                "order_id": order["order_id"],
                "resource_name": f"{short}-{resource_id[:8]}",
                "region_code": region,
                "service_type_code": spec.service_type,
                "resource_type_code": spec.resource_type,
                "resource_spec_code": spec_code,
                "project_id": _hash("project", self.c.customer_id, region)[:32],
                "product_id": product_id_for(spec_code, region),
                "parent_resource_id": parent or None,
                "is_main_resource": 0 if parent else 1,
                "status": status,
                "effective_time": fmt(effective),
                "expire_time": fmt(expire),
                "expire_policy": 3 if renewed else rng.choice((0, 0, 1, 3, 4)),
                "product_spec_desc": spec.description,
                "spec_size": size,
                "spec_size_measure_id": spec.size_measure_id if size else None,
                "update_time": fmt(min(expire, self.anchor - timedelta(seconds=1))),
            }
        )
        return resource_id

    def _package(self, order, package, region, effective, expire, quantity) -> None:
        rng = self.rng
        service, rtype, name, usage_type, unit, total, _, _, resettable = package
        instance_id = f"{order['order_id']}-P{len(self.trade.packages) + 1:02d}"
        if expire <= self.anchor:
            status, left = 3, Decimal(0)
        else:
            left_share = rng.choice(
                (Decimal(1), Decimal("0.8"), Decimal("0.5"), Decimal("0.2"), Decimal("0.05"), 0)
            )
            status = 2 if left_share == 0 else 1
            left = (Decimal(total * quantity) * left_share).quantize(Decimal("0.01"), ROUND_HALF_UP)
        self.trade.packages.append(
            {
                "order_instance_id": instance_id,
                "partner_id": self.c.partner_id,
                "customer_id": self.c.customer_id,
                "order_id": order["order_id"],
                "product_id": product_id_for(name, region, "PKG"),
                "product_name": name,
                "effective_time": fmt(effective),
                "expire_time": fmt(expire),
                "status": status,
                "service_type_code": service,
                "region_code": region,
                "source_type": 0,
                "bundle_type": "ATOMIC_PKG",
                "quota_reuse_mode": 1 if resettable else 2,
            }
        )
        self.trade.free_resources.append(
            {
                "free_resource_id": resource_uuid("free-resource", self.seed, instance_id),
                "order_instance_id": instance_id,
                "partner_id": self.c.partner_id,
                "customer_id": self.c.customer_id,
                "usage_type_name": usage_type,
                "free_resource_type_name": RESOURCE_TYPES[rtype][1],
                "amount": str(left),
                "original_amount": str(Decimal(total * quantity)),
                "measure_id": unit,
                "quota_reuse_cycle": 4 if resettable else None,  # monthly
                "quota_reuse_cycle_type": 2 if resettable else None,  # by subscription date
            }
        )

    def on_demand(self, count: int) -> None:
        rng, c = self.rng, self.c
        t0 = parse_time(c.associated_on)
        for n in range(count):
            spec = rng.choice([s for s in SPECS.values() if s.resource_type != "hws.resource.type.rds.vm"])
            region = rng.choice(REGIONS)
            status = rng.choices([1, 2, 3, 6], [80, 6, 4, 10])[0]
            effective = _between(
                rng, max(t0, self.anchor - timedelta(days=400)), self.anchor - timedelta(hours=1)
            )
            size = (
                rng.choice((40, 100, 200))
                if spec.size_measure_id == MEASURE_GB
                else (rng.choice((5, 10, 50)) if spec.linear else None)
            )
            resource_id = resource_uuid("on-demand", self.seed, c.seq, n)
            closed = (
                fmt(_between(rng, effective, self.anchor - timedelta(seconds=1))) if status == 6 else None
            )
            self.trade.on_demand.append(
                {
                    "resource_id": resource_id,
                    "partner_id": c.partner_id,
                    "customer_id": c.customer_id,
                    "region_code": region,
                    "availability_zone_code": f"{region}{rng.choice('abc')}",
                    "service_type_code": spec.service_type,
                    "resource_type_code": spec.resource_type,
                    "resource_name": f"{SERVICE_TYPES[spec.service_type][2].lower()}-{resource_id[:8]}",
                    "effective_time": fmt(effective),
                    "expire_time": closed,
                    "status": status,
                    "resource_spec_code": spec.code,
                    "resource_info": json.dumps({"specSize": float(size)}) if size else None,
                    "product_spec_desc": spec.description + (f"|{size}" if size else ""),
                }
            )


def customer_trade(seed: int, c: CustomerRow, anchor: datetime, *, guaranteed: bool = False) -> Trade:
    """A customer's orders, resources and packages, a pure function of (seed, c.seq, anchor).

    With `guaranteed`, the customer also has a combined order of three and a single order both awaiting
    the partner's payment, created in the last three days (the demo and the tests rely on them).
    """
    rng = random.Random(f"{seed}:trade:{c.seq}")
    b = _Builder(seed, c, anchor, rng)
    t0 = parse_time(c.associated_on)
    start = max(t0 - timedelta(days=180), anchor - timedelta(days=730))
    services = list(SERVICE_TYPES)
    for _ in range(rng.choice((0, 1, 2, 3, 3, 4, 5, 6))):
        created = _between(rng, start, anchor - timedelta(hours=1))
        order_type = rng.choices(*_TYPE_WEIGHTS)[0]
        recent = anchor - created < timedelta(days=10)
        status = STATUS_COMPLETED if rng.random() < 0.85 else STATUS_CANCELLED
        agent_pay = False
        if recent and rng.random() < 0.35:
            status = STATUS_PENDING_PAYMENT
            agent_pay = partner_pay_allowed(c) and rng.random() < 0.15
        if order_type == 4 and status == STATUS_PENDING_PAYMENT:
            status = STATUS_COMPLETED  # an unsubscription is never paid for
        if rng.random() < 0.15:
            combined(
                b,
                rng.sample([s for s in services if s not in PACKAGE_SERVICES], rng.randint(2, 4)),
                order_type,
                status,
                created,
                agent_pay=agent_pay,
            )
        else:
            b.order(rng.choice(services), order_type, status, created, agent_pay=agent_pay)
    if guaranteed and partner_pay_allowed(c):
        created = anchor - timedelta(days=rng.randint(1, 3), seconds=rng.randint(0, 80_000))
        combined(
            b,
            ["hws.service.type.ec2", "hws.service.type.ebs", "hws.service.type.vpc"],
            1,
            STATUS_PENDING_PAYMENT,
            created,
            agent_pay=True,
        )
        b.order(
            "hws.service.type.rds", 2, STATUS_PENDING_PAYMENT, created + timedelta(minutes=7), agent_pay=True
        )
    b.on_demand(rng.choice((0, 0, 1, 2, 3, 5)))
    return b.trade


def combined(
    b: _Builder, services: list[str], order_type: int, status: int, created: datetime, *, agent_pay: bool
):
    """A combined trade order (组合交易单): a head summing its children, paid or cancelled as a whole."""
    head = b._order_row(
        b._next_id(fmt(created)),
        parent=None,
        service=None,
        order_type=order_type,
        status=status,
        created=created,
        agent_pay=agent_pay,
    )
    head["service_type_name"] = "组合交易单：" + "、".join(SERVICE_TYPES[s][0] for s in services)
    children = [b.order(s, order_type, status, created, agent_pay=agent_pay, head=head) for s in services]
    head["official_amount"] = sum(ch["official_amount"] for ch in children)
    head["amount_after_discount"] = sum(ch["amount_after_discount"] for ch in children)
    totals: dict[str, int] = {}
    for child in children:
        for d in json.loads(child["discounts"]):
            totals[d["discount_type"]] = totals.get(d["discount_type"], 0) + d["discount_amount"]
    head["discounts"] = json.dumps([{"discount_type": t, "discount_amount": a} for t, a in totals.items()])
    b.trade.orders.append(head)
    return head


def scale_orders(seed: int, c: CustomerRow, now: datetime, count: int) -> Trade:
    """seed_scale's orders: `count` plain completed orders over the last year, with their line items."""
    rng = random.Random(f"{seed}:scale-trade:{c.seq}")
    b = _Builder(seed, c, now, rng)
    start = max(parse_time(c.associated_on), now - timedelta(days=365))
    services = [s for s in SERVICE_TYPES if s not in PACKAGE_SERVICES]
    for _ in range(count):
        created = _between(rng, start, now - timedelta(seconds=2))
        status = STATUS_COMPLETED if rng.random() < 0.9 else STATUS_CANCELLED
        b.order(rng.choice(services), rng.choices(*_TYPE_WEIGHTS)[0], status, created, agent_pay=False)
    b.trade.resources.clear()  # orders only: the bulk load stays small
    return b.trade


def rate(spec: Spec, *, hours: Decimal, quantity: int, size: int | None, precision: int) -> Decimal:
    """The official on-demand price of `quantity` × `size` units of a spec for `hours` hours."""
    amount = spec.hourly * hours * quantity * (size if spec.linear else 1)
    return amount.quantize(Decimal(10) ** -(10 if precision else 6), ROUND_HALF_UP).normalize()
