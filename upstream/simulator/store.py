"""The simulator's persistent state: one SQLite file, every access behind one lock.

Money is kept in integer cents. Every operation runs in one transaction while holding the lock, so a money
movement and its adjust record are applied together or not at all, and a committed change survives a crash
or restart (WAL, synchronous=NORMAL).
"""

from __future__ import annotations

import json
import random
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from . import generate as gen
from . import trade
from .errors import ApiError, bad_request

SCHEMA_VERSION = "3"
DB_NAME = "upstream-sim.sqlite3"

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE partners (
    partner_id TEXT PRIMARY KEY, ord INTEGER NOT NULL, parent_id TEXT, name TEXT NOT NULL,
    account_name TEXT NOT NULL, mobile_phone TEXT, email TEXT, associated_on TEXT NOT NULL,
    account_manager_id TEXT, account_manager_name TEXT
);
CREATE TABLE partner_accounts (
    account_id TEXT PRIMARY KEY, partner_id TEXT NOT NULL, account_type INTEGER NOT NULL,
    amount INTEGER NOT NULL, designated_amount INTEGER NOT NULL, credit_amount INTEGER NOT NULL,
    CHECK (amount >= 0)
);
CREATE TABLE customers (
    seq INTEGER PRIMARY KEY, customer_id TEXT NOT NULL UNIQUE, partner_id TEXT NOT NULL,
    active INTEGER NOT NULL, customer TEXT NOT NULL, account_name TEXT NOT NULL UNIQUE,
    associated_on TEXT NOT NULL, association_type TEXT NOT NULL, label TEXT NOT NULL, telephone TEXT,
    verified_status INTEGER, country_code TEXT, customer_type INTEGER, is_frozen INTEGER,
    account_manager_id TEXT, account_manager_name TEXT, customer_level TEXT, email TEXT,
    amount INTEGER NOT NULL, debt_amount INTEGER NOT NULL, blockers TEXT NOT NULL,
    CHECK (amount >= 0)
);
CREATE INDEX customers_scope ON customers (partner_id, active, seq);
CREATE INDEX customers_scope_type ON customers (partner_id, active, association_type, seq);
CREATE TABLE adjust_records (
    id INTEGER PRIMARY KEY, trans_id TEXT NOT NULL UNIQUE, partner_id TEXT NOT NULL,
    customer_id TEXT NOT NULL, customer_name TEXT NOT NULL, operation_type TEXT NOT NULL,
    amount INTEGER NOT NULL, apply_scene TEXT NOT NULL, operation_time TEXT NOT NULL, memo TEXT NOT NULL
);
CREATE INDEX adjust_scope ON adjust_records (partner_id, operation_time, id);
CREATE INDEX adjust_customer ON adjust_records (customer_id, operation_time, id);
CREATE TABLE warnings (
    seq INTEGER PRIMARY KEY, warning_id TEXT NOT NULL UNIQUE, partner_id TEXT NOT NULL,
    customer_id TEXT NOT NULL, scene_name TEXT NOT NULL, category TEXT NOT NULL, title TEXT NOT NULL,
    content TEXT NOT NULL, send_time TEXT NOT NULL, status TEXT NOT NULL, handle_result TEXT,
    handled_at TEXT, remark TEXT
);
CREATE INDEX warnings_scope ON warnings (partner_id, send_time, seq);
CREATE TABLE association_records (
    seq INTEGER PRIMARY KEY, record_id TEXT NOT NULL UNIQUE, partner_id TEXT NOT NULL,
    customer_id TEXT NOT NULL, operation_type TEXT NOT NULL, association_type TEXT NOT NULL,
    from_association_type TEXT, operation_time TEXT NOT NULL, initiator TEXT NOT NULL, reason TEXT
);
CREATE INDEX association_scope ON association_records (partner_id, operation_time, seq);
CREATE TABLE partner_discounts (
    customer_id TEXT PRIMARY KEY, discount TEXT NOT NULL, effective_time TEXT NOT NULL,
    expire_time TEXT NOT NULL
);
CREATE TABLE commercial_discounts (
    seq INTEGER PRIMARY KEY, discount_id TEXT NOT NULL UNIQUE, partner_id TEXT NOT NULL,
    customer_id TEXT NOT NULL, business_name TEXT NOT NULL, discount_type INTEGER NOT NULL,
    discount_rate TEXT NOT NULL, status TEXT NOT NULL, effective_time TEXT NOT NULL, expire_time TEXT NOT NULL
);
CREATE INDEX commercial_scope ON commercial_discounts (partner_id, seq);
CREATE TABLE dedicated_offers (
    seq INTEGER PRIMARY KEY, offer_id TEXT NOT NULL UNIQUE, partner_id TEXT NOT NULL,
    customer_id TEXT NOT NULL, customer_account_name TEXT NOT NULL, name TEXT NOT NULL,
    product_ids TEXT NOT NULL, effective_time TEXT NOT NULL, expire_time TEXT NOT NULL, status TEXT NOT NULL,
    reason TEXT, UNIQUE (partner_id, name)
);
CREATE INDEX offers_scope ON dedicated_offers (partner_id, seq);
CREATE TABLE orders (
    seq INTEGER PRIMARY KEY, order_id TEXT NOT NULL UNIQUE, parent_order_id TEXT, partner_id TEXT NOT NULL,
    customer_id TEXT NOT NULL, service_type_code TEXT, service_type_name TEXT, source_type INTEGER NOT NULL,
    status INTEGER NOT NULL, order_type INTEGER NOT NULL, official_amount INTEGER NOT NULL,
    amount_after_discount INTEGER NOT NULL, discounts TEXT NOT NULL, commission_amount INTEGER NOT NULL,
    consumed_amount INTEGER NOT NULL, create_time TEXT NOT NULL, payment_time TEXT,
    pending_payment_end_time TEXT, user_name TEXT, agent_pay INTEGER NOT NULL, paying_agent_id TEXT
);
CREATE INDEX orders_scope ON orders (partner_id, create_time, seq);
CREATE INDEX orders_customer ON orders (customer_id, create_time, seq);
CREATE INDEX orders_parent ON orders (parent_order_id);
CREATE TABLE order_line_items (
    seq INTEGER PRIMARY KEY, order_line_item_id TEXT NOT NULL UNIQUE, order_id TEXT NOT NULL,
    customer_id TEXT NOT NULL, service_type_code TEXT NOT NULL, service_type_name TEXT NOT NULL,
    product_id TEXT NOT NULL, product_spec_desc TEXT NOT NULL, period_type INTEGER, period_num INTEGER,
    effective_time TEXT, expire_time TEXT, subscription_num INTEGER NOT NULL,
    official_amount INTEGER NOT NULL, amount_after_discount INTEGER NOT NULL, discounts TEXT NOT NULL,
    category_code TEXT,
    resource_type_code TEXT, resource_spec_code TEXT, resource_size INTEGER, region_code TEXT
);
CREATE INDEX line_items_order ON order_line_items (order_id, seq);
CREATE TABLE resources (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, resource_id TEXT NOT NULL UNIQUE,
    partner_id TEXT NOT NULL, customer_id TEXT NOT NULL, order_id TEXT NOT NULL,
    resource_name TEXT NOT NULL, region_code TEXT NOT NULL,
    service_type_code TEXT NOT NULL, resource_type_code TEXT NOT NULL, resource_spec_code TEXT NOT NULL,
    project_id TEXT, product_id TEXT, parent_resource_id TEXT, is_main_resource INTEGER NOT NULL,
    status INTEGER NOT NULL, effective_time TEXT NOT NULL, expire_time TEXT NOT NULL, expire_policy INTEGER,
    product_spec_desc TEXT, spec_size INTEGER, spec_size_measure_id INTEGER, update_time TEXT
);
CREATE INDEX resources_customer ON resources (customer_id, expire_time, seq);
CREATE TABLE on_demand_resources (
    seq INTEGER PRIMARY KEY, resource_id TEXT NOT NULL UNIQUE, partner_id TEXT NOT NULL,
    customer_id TEXT NOT NULL, region_code TEXT NOT NULL, availability_zone_code TEXT,
    service_type_code TEXT NOT NULL, resource_type_code TEXT NOT NULL, resource_name TEXT NOT NULL,
    effective_time TEXT NOT NULL, expire_time TEXT, status INTEGER NOT NULL, resource_spec_code TEXT,
    resource_info TEXT, product_spec_desc TEXT
);
CREATE INDEX on_demand_customer ON on_demand_resources (customer_id, seq);
CREATE TABLE resource_packages (
    seq INTEGER PRIMARY KEY, order_instance_id TEXT NOT NULL UNIQUE, partner_id TEXT NOT NULL,
    customer_id TEXT NOT NULL, order_id TEXT, product_id TEXT NOT NULL, product_name TEXT NOT NULL,
    effective_time TEXT NOT NULL, expire_time TEXT NOT NULL, status INTEGER NOT NULL,
    service_type_code TEXT NOT NULL, region_code TEXT, source_type INTEGER NOT NULL, bundle_type TEXT,
    quota_reuse_mode INTEGER NOT NULL
);
CREATE INDEX packages_customer ON resource_packages (customer_id, seq);
CREATE TABLE free_resources (
    seq INTEGER PRIMARY KEY, free_resource_id TEXT NOT NULL UNIQUE, order_instance_id TEXT NOT NULL,
    partner_id TEXT NOT NULL, customer_id TEXT NOT NULL, usage_type_name TEXT NOT NULL,
    free_resource_type_name TEXT NOT NULL, amount TEXT NOT NULL, original_amount TEXT NOT NULL,
    measure_id INTEGER NOT NULL, quota_reuse_cycle INTEGER, quota_reuse_cycle_type INTEGER
);
CREATE INDEX free_resources_package ON free_resources (order_instance_id, seq);
"""

CURRENCY = "CNY"
MEASURE_ID = 1
OP_ADJUST = "SOURCE_OPERATION_BEADJUST"
OP_RETRIEVE = "SOURCE_OPERATION_BERETRIEVE"
OP_UNBIND = "SOURCE_OPERATION_BEUNBIND"
SCENE_CUSTOMER = "CUSTOMER"
SCENE_INDIRECT_PARTNER = "INDIRECT_PARTNER"
DAILY_TRADE_LIMIT = 50  # payments per customer per UTC day; more is CBC.99008056 (POST /_sim/trade-limit)
PAY_BLOCKER = "PENDING_PARTNER_PAY_ORDERS"
# A customer-initiated disassociation holds the partner back from switching or disassociating for 90 days.
COOLDOWN_BLOCKER = "COOLDOWN"
COOLDOWN = timedelta(days=90)
TRADE_TABLES = {
    "orders": "orders",
    "line_items": "order_line_items",
    "resources": "resources",
    "on_demand": "on_demand_resources",
    "packages": "resource_packages",
    "free_resources": "free_resources",
}
_COLUMNS = gen.CustomerRow.COLUMNS
_INSERT_CUSTOMER = f"INSERT INTO customers ({','.join(_COLUMNS)}) VALUES ({','.join('?' * len(_COLUMNS))})"  # noqa: S608


def money(cents: int) -> float:
    """Cents as a JSON number with at most two places (the float's repr is exact for them)."""
    return cents / 100


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _trans_id(when: str, number: int) -> str:
    return "T" + when.replace("-", "").replace(":", "").replace("T", "").rstrip("Z") + f"{number:08d}"


def _warning_id(seq: int) -> str:
    return f"WRN{seq:010d}"


def _record_id(seq: int) -> str:
    return f"AR{seq:010d}"


def _discount_id(seq: int) -> str:
    return f"CD{seq:010d}"


def _offer_id(seq: int) -> str:
    return f"DO{seq:010d}"


class Store:
    """The platform's state and every operation on it."""

    def __init__(
        self,
        data_dir: str | Path,
        *,
        seed: int,
        customers: int,
        resellers: int,
        reset: bool = False,
        log=print,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.data_dir / DB_NAME
        self.seed = seed
        self.trade_limit = DAILY_TRADE_LIMIT
        self._lock = threading.RLock()
        wanted = {
            "schema": SCHEMA_VERSION,
            "seed": str(seed),
            "customers": str(customers),
            "resellers": str(resellers),
        }
        existing = self._read_meta() if self.path.exists() else None
        self.generated = False
        if reset or existing is None or any(existing.get(k) != v for k, v in wanted.items()):
            if existing is not None and not reset:
                log(f"upstream-sim: store at {self.path} was made with other settings; regenerating it")
            self._remove_files()
            self._db = self._connect()
            self._generate(seed, customers, resellers, wanted)
            self.generated = True
        else:
            self._db = self._connect()
        self.partners = {
            row["partner_id"]: dict(row) for row in self._db.execute("SELECT * FROM partners ORDER BY ord")
        }
        self.reseller_ids = [pid for pid, p in self.partners.items() if p["parent_id"]]

    # ---- files, schema, generation -------------------------------------------------------------------

    def _read_meta(self) -> dict[str, str] | None:
        try:
            db = sqlite3.connect(self.path)
            try:
                return dict(db.execute("SELECT key, value FROM meta").fetchall())
            finally:
                db.close()
        except sqlite3.DatabaseError:
            return None

    def _remove_files(self) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(self.path) + suffix).unlink(missing_ok=True)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One transaction under the store lock."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # ---- test support --------------------------------------------------------------------------------

    def patch_rows(self, table: str, where: dict[str, Any], values: dict[str, Any]) -> int:
        """Overwrite columns of the rows matching `where` (e.g. to plant hostile text); returns the count.

        Table and column names are checked against the schema (they cannot be parameters); values are.
        """
        with self._tx() as db:
            tables = {r["name"] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if table not in tables or table == "meta":
                raise bad_request(f"No table {table!r}.")
            columns = {r["name"] for r in db.execute(f"PRAGMA table_info({table})")}
            unknown = (set(where) | set(values)) - columns
            if not where or not values or unknown:
                raise bad_request(
                    f"where and set must name columns of {table}"
                    + (f" (unknown: {', '.join(sorted(unknown))})" if unknown else "")
                )
            if any(not isinstance(v, str | int | float) or isinstance(v, bool) for v in values.values()):
                raise bad_request("Values must be strings or numbers.")
            sql = (
                f"UPDATE {table} SET {', '.join(f'{c} = ?' for c in values)} "  # noqa: S608 (names checked)
                f"WHERE {' AND '.join(f'{c} = ?' for c in where)}"
            )
            count = db.execute(sql, [*values.values(), *where.values()]).rowcount
        if table == "partners":
            with self._lock:
                self.partners = {
                    row["partner_id"]: dict(row)
                    for row in self._db.execute("SELECT * FROM partners ORDER BY ord")
                }
        return count

    def _generate(self, seed: int, customers: int, resellers: int, meta: dict[str, str]) -> None:
        anchor = utc_now().replace(hour=0, minute=0, second=0)
        w = gen.world(seed, customers, resellers, anchor)
        world_trade = self._world_trade(seed, w.customers, anchor)
        db = self._db
        db.executescript(SCHEMA)
        with self._tx():
            self._insert_trade(db, world_trade)
            db.executemany(
                "INSERT INTO meta VALUES (?, ?)",
                [
                    *meta.items(),
                    ("anchor", gen.fmt(anchor)),
                    ("generated_at", gen.fmt(utc_now())),
                    ("tick", "0"),
                ],
            )
            db.executemany(
                "INSERT INTO partners VALUES (?,?,?,?,?,?,?,?,?,?)",
                [tuple(vars(p).values()) for p in w.partners],
            )
            db.executemany("INSERT INTO partner_accounts VALUES (?,?,?,?,?,?)", w.accounts)
            db.executemany(_INSERT_CUSTOMER, (c.as_tuple() for c in w.customers))
            db.executemany(
                "INSERT INTO association_records VALUES (?,?,?,?,?,?,?,?,?,NULL)",
                ((i, _record_id(i), *r) for i, r in enumerate(w.association_records, 1)),
            )
            db.executemany(
                "INSERT INTO adjust_records VALUES (?,?,?,?,?,?,?,?,?,?)",
                ((i, _trans_id(r[6], i), *r) for i, r in enumerate(w.adjust_records, 1)),
            )
            db.executemany(
                "INSERT INTO warnings VALUES (?,?,?,?,?,?,?,?,?,?,?,?,NULL)",
                ((i, _warning_id(i), *r) for i, r in enumerate(w.warnings, 1)),
            )
            db.executemany(
                "INSERT INTO commercial_discounts VALUES (?,?,?,?,?,?,?,?,?,?)",
                ((i, _discount_id(i), *r) for i, r in enumerate(w.commercial_discounts, 1)),
            )
            db.executemany(
                "INSERT INTO dedicated_offers VALUES (?,?,?,?,?,?,?,?,?,?,NULL)",
                ((i, _offer_id(i), *r) for i, r in enumerate(w.dedicated_offers, 1)),
            )
            db.executemany("INSERT INTO partner_discounts VALUES (?,?,?,?)", w.partner_discounts)

    @staticmethod
    def _world_trade(seed: int, customers: list[gen.CustomerRow], anchor: datetime) -> trade.Trade:
        """Every active customer's trade; the first three of each partner who may use partner payment have
        orders awaiting it, and the account check of whoever has such orders reports them."""
        out = trade.Trade()
        guaranteed: dict[str, int] = {}
        for c in customers:
            if not c.active:
                continue
            chosen = trade.partner_pay_allowed(c) and guaranteed.get(c.partner_id, 0) < 3
            if chosen:
                guaranteed[c.partner_id] = guaranteed.get(c.partner_id, 0) + 1
            rows = trade.customer_trade(seed, c, anchor, guaranteed=chosen)
            if rows.awaiting_partner_payment() and all(b["code"] != PAY_BLOCKER for b in c.blockers):
                c.blockers.append({"code": PAY_BLOCKER, "message": gen.BLOCKERS[PAY_BLOCKER]})
            out.extend(rows)
        return out

    @staticmethod
    def _insert_trade(db, rows: trade.Trade) -> None:
        for name, table in TRADE_TABLES.items():
            batch = getattr(rows, name)
            if batch:
                columns = list(batch[0])
                values = ",".join(":" + c for c in columns)
                db.executemany(f"INSERT INTO {table} ({','.join(columns)}) VALUES ({values})", batch)  # noqa: S608

    # ---- helpers ---------------------------------------------------------------------------------------

    def scope(self, indirect_partner_id: str | None) -> str:
        """The partner an operation acts for: the distributor, or the reseller named."""
        if indirect_partner_id is None:
            return gen.DISTRIBUTOR_ID
        if indirect_partner_id not in self.reseller_ids:
            raise ApiError(400, "CBC.99000037", f"No right on the indirect partner {indirect_partner_id}.")
        return indirect_partner_id

    def _customer(self, db, scope: str, customer_id: str, *, allow_gone: bool = False) -> sqlite3.Row:
        row = db.execute("SELECT * FROM customers WHERE customer_id = ?", (customer_id,)).fetchone()
        if row is None or row["partner_id"] != scope or not (row["active"] or allow_gone):
            raise ApiError(400, "CBC.5004", f"No right to operate on the customer {customer_id}.")
        return row

    def _balance_account(self, db, partner_id: str) -> sqlite3.Row:
        return db.execute(
            "SELECT * FROM partner_accounts WHERE partner_id = ? AND account_type = 1", (partner_id,)
        ).fetchone()

    def _move_partner(self, db, partner_id: str, delta_cents: int) -> None:
        db.execute(
            "UPDATE partner_accounts SET amount = amount + ? WHERE partner_id = ? AND account_type = 1",
            (delta_cents, partner_id),
        )

    def _add_adjust_record(
        self, db, *, partner_id, customer_id, customer_name, operation_type, cents, scene, when, memo=""
    ) -> str:
        number = db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM adjust_records").fetchone()[0]
        trans_id = _trans_id(when, number)
        db.execute(
            "INSERT INTO adjust_records VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                number,
                trans_id,
                partner_id,
                customer_id,
                customer_name,
                operation_type,
                cents,
                scene,
                when,
                memo,
            ),
        )
        return trans_id

    def _add_association_record(
        self,
        db,
        *,
        partner_id,
        customer_id,
        operation_type,
        association_type,
        from_type,
        when,
        initiator,
        reason=None,
    ) -> str:
        seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM association_records").fetchone()[0]
        record_id = _record_id(seq)
        db.execute(
            "INSERT INTO association_records VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                seq,
                record_id,
                partner_id,
                customer_id,
                operation_type,
                association_type,
                from_type,
                when,
                initiator,
                reason,
            ),
        )
        return record_id

    @staticmethod
    def _page(db, sql_from: str, where: list[str], args: list, order: str, offset: int, limit: int):
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        total = db.execute(f"SELECT COUNT(*) FROM {sql_from}{clause}", args).fetchone()[0]  # noqa: S608
        rows = db.execute(
            f"SELECT * FROM {sql_from}{clause} ORDER BY {order} LIMIT ? OFFSET ?",  # noqa: S608
            [*args, limit, offset],
        ).fetchall()
        return total, rows

    @staticmethod
    def _time_range(where: list[str], args: list, column: str, begin: str | None, end: str | None) -> None:
        if begin is not None:
            where.append(f"{column} >= ?")
            args.append(begin)
        if end is not None:
            where.append(f"{column} <= ?")
            args.append(end)

    # ---- customers and partners -------------------------------------------------------------------------

    @staticmethod
    def _customer_info(row: sqlite3.Row) -> dict[str, Any]:
        managers = []
        if row["account_manager_id"]:
            managers.append(
                {
                    "account_manager_id": row["account_manager_id"],
                    "account_manager_name": row["account_manager_name"],
                }
            )
        return {
            "customer": row["customer"],
            "account_name": row["account_name"],
            "customer_id": row["customer_id"],
            "associated_on": row["associated_on"],
            "association_type": row["association_type"],
            "label": row["label"],
            "telephone": row["telephone"],
            "verified_status": row["verified_status"],
            "country_code": row["country_code"],
            "customer_type": row["customer_type"],
            "is_frozen": row["is_frozen"],
            "account_managers": managers,
            "customer_level": row["customer_level"],
            "email": row["email"],
        }

    def list_sub_customers(self, scope: str, f: dict[str, Any], offset: int, limit: int) -> dict[str, Any]:
        where, args = ["partner_id = ?", "active = 1"], [scope]
        with self._tx() as db:
            if f.get("customer_id") is not None:
                self._customer(db, scope, f["customer_id"], allow_gone=True)
                where.append("customer_id = ?")
                args.append(f["customer_id"])
            for key, column in (
                ("account_name", "account_name"),
                ("customer", "customer"),
                ("label", "label"),
            ):
                if f.get(key) is not None:
                    where.append(f"instr({column}, ?) > 0")
                    args.append(f[key])
            if f.get("association_type") is not None:
                where.append("association_type = ?")
                args.append(f["association_type"])
            self._time_range(
                where, args, "associated_on", f.get("associated_on_begin"), f.get("associated_on_end")
            )
            total, rows = self._page(db, "customers", where, args, "seq", offset, limit)
        return {"count": total, "customer_infos": [self._customer_info(r) for r in rows]}

    def list_indirect_partners(self, f: dict[str, Any], offset: int, limit: int) -> dict[str, Any]:
        where, args = ["parent_id = ?"], [gen.DISTRIBUTOR_ID]
        if f.get("indirect_partner_id") is not None:
            self.scope(f["indirect_partner_id"])
            where.append("partner_id = ?")
            args.append(f["indirect_partner_id"])
        if f.get("account_name") is not None:
            where.append("instr(account_name, ?) > 0")
            args.append(f["account_name"])
        self._time_range(
            where, args, "associated_on", f.get("associated_on_begin"), f.get("associated_on_end")
        )
        with self._tx() as db:
            total, rows = self._page(db, "partners", where, args, "ord", offset, limit)
        return {
            "count": total,
            "indirect_partners": [
                {
                    "indirect_partner_id": r["partner_id"],
                    "name": r["name"],
                    "account_name": r["account_name"],
                    "mobile_phone": r["mobile_phone"],
                    "email": r["email"],
                    "associated_on": r["associated_on"],
                    "account_manager_id": r["account_manager_id"],
                    "account_manager_name": r["account_manager_name"],
                }
                for r in rows
            ],
        }

    # ---- balances and adjustments -------------------------------------------------------------------------

    def partner_balances(self, scope: str) -> dict[str, Any]:
        with self._tx() as db:
            rows = db.execute(
                "SELECT * FROM partner_accounts WHERE partner_id = ? ORDER BY account_type", (scope,)
            ).fetchall()
        return {
            "account_balances": [
                {
                    "account_id": r["account_id"],
                    "account_type": r["account_type"],
                    "amount": money(r["amount"]),
                    "currency": CURRENCY,
                    "designated_amount": money(r["designated_amount"]),
                    "credit_amount": money(r["credit_amount"]),
                    "measure_id": MEASURE_ID,
                }
                for r in rows
            ]
        }

    def customer_balances(self, scope: str, customer_ids: list[str]) -> dict[str, Any]:
        unique = list(dict.fromkeys(customer_ids))
        with self._tx() as db:
            marks = ",".join("?" * len(unique))
            rows = {
                r["customer_id"]: r
                for r in db.execute(
                    f"SELECT customer_id, amount, debt_amount FROM customers WHERE customer_id IN ({marks})"  # noqa: S608
                    " AND partner_id = ? AND active = 1 AND association_type = '2'",
                    [*unique, scope],
                )
            }
        return {
            "customer_balances": [
                {
                    "customer_id": cid,
                    "amount": money(rows[cid]["amount"]),
                    "debt_amount": money(rows[cid]["debt_amount"]),
                    "currency": CURRENCY,
                    "measure_id": MEASURE_ID,
                }
                for cid in unique
                if cid in rows
            ]
        }

    def _resale_customer(self, db, scope: str, customer_id: str) -> sqlite3.Row:
        row = self._customer(db, scope, customer_id)
        if row["association_type"] != "2":
            raise ApiError(400, "CBC.5021", "The operation is not allowed for a referral customer.")
        return row

    def allocate(self, scope: str, customer_id: str, cents: int) -> str:
        """Move money from the partner's balance account to a resale customer; returns the transfer id."""
        with self._tx() as db:
            customer = self._resale_customer(db, scope, customer_id)
            account = self._balance_account(db, scope)
            available = account["amount"] - account["designated_amount"]
            if cents > available:
                raise ApiError(
                    400, "CBC.5003", f"Insufficient balance: {money(max(available, 0)):.2f} available."
                )
            self._move_partner(db, scope, -cents)
            db.execute("UPDATE customers SET amount = amount + ? WHERE customer_id = ?", (cents, customer_id))
            return self._add_adjust_record(
                db,
                partner_id=scope,
                customer_id=customer_id,
                customer_name=customer["customer"],
                operation_type=OP_ADJUST,
                cents=cents,
                scene=SCENE_CUSTOMER,
                when=gen.fmt(utc_now()),
            )

    def reclaim(self, scope: str, customer_id: str, cents: int) -> str:
        """Move money from a resale customer back to the partner; returns the trans id."""
        with self._tx() as db:
            customer = self._resale_customer(db, scope, customer_id)
            if cents > customer["amount"]:
                raise ApiError(
                    400,
                    "CBC.5003",
                    f"Insufficient balance: the customer has {money(customer['amount']):.2f}.",
                )
            db.execute("UPDATE customers SET amount = amount - ? WHERE customer_id = ?", (cents, customer_id))
            self._move_partner(db, scope, cents)
            return self._add_adjust_record(
                db,
                partner_id=scope,
                customer_id=customer_id,
                customer_name=customer["customer"],
                operation_type=OP_RETRIEVE,
                cents=cents,
                scene=SCENE_CUSTOMER,
                when=gen.fmt(utc_now()),
            )

    def adjust_indirect_partner(self, reseller_id: str, cents: int, *, reclaim: bool) -> str:
        """Move money between the distributor and a reseller; recorded in the distributor's adjust records."""
        with self._tx() as db:
            distributor = self._balance_account(db, gen.DISTRIBUTOR_ID)
            reseller = self._balance_account(db, reseller_id)
            if reclaim:
                if cents > reseller["amount"]:
                    raise ApiError(
                        400,
                        "CBC.5003",
                        f"Insufficient balance: the reseller has {money(reseller['amount']):.2f}.",
                    )
                sign = 1
            else:
                available = distributor["amount"] - distributor["designated_amount"]
                if cents > available:
                    raise ApiError(
                        400, "CBC.5003", f"Insufficient balance: {money(max(available, 0)):.2f} available."
                    )
                sign = -1
            self._move_partner(db, gen.DISTRIBUTOR_ID, sign * cents)
            self._move_partner(db, reseller_id, -sign * cents)
            return self._add_adjust_record(
                db,
                partner_id=gen.DISTRIBUTOR_ID,
                customer_id=reseller_id,
                customer_name=self.partners[reseller_id]["name"],
                operation_type=OP_RETRIEVE if reclaim else OP_ADJUST,
                cents=cents,
                scene=SCENE_INDIRECT_PARTNER,
                when=gen.fmt(utc_now()),
            )

    @staticmethod
    def _record(row: sqlite3.Row) -> dict[str, Any]:
        return {
            "customer_id": row["customer_id"],
            "customer_name": row["customer_name"],
            "operation_type": row["operation_type"],
            "amount": money(row["amount"]),
            "currency": CURRENCY,
            "apply_scene": row["apply_scene"],
            "operation_time": row["operation_time"],
            "measure_id": MEASURE_ID,
            "trans_id": row["trans_id"],
            "memo": row["memo"],
        }

    def adjust_records(self, scope: str, f: dict[str, Any], offset: int, limit: int) -> dict[str, Any]:
        where, args = ["partner_id = ?"], [scope]
        with self._tx() as db:
            if f.get("customer_id") is not None:
                cid = f["customer_id"]
                if not (scope == gen.DISTRIBUTOR_ID and cid in self.reseller_ids):
                    self._customer(db, scope, cid, allow_gone=True)
                where.append("customer_id = ?")
                args.append(cid)
            for key in ("operation_type", "trans_id"):
                if f.get(key) is not None:
                    where.append(f"{key} = ?")
                    args.append(f[key])
            self._time_range(
                where, args, "operation_time", f.get("operation_time_begin"), f.get("operation_time_end")
            )
            total, rows = self._page(db, "adjust_records", where, args, "operation_time, id", offset, limit)
        return {"total_count": total, "records": [self._record(r) for r in rows]}

    # ---- partner discounts ---------------------------------------------------------------------------

    def _discountable(self, db, scope: str, customer_id: str) -> None:
        row = self._customer(db, scope, customer_id)
        if row["association_type"] == "2":
            raise ApiError(
                400, "CBC.5024", "The association type of the customer does not allow this operation."
            )

    def get_partner_discount(self, scope: str, customer_id: str) -> dict[str, Any] | None:
        with self._tx() as db:
            self._discountable(db, scope, customer_id)
            row = db.execute(
                "SELECT * FROM partner_discounts WHERE customer_id = ?", (customer_id,)
            ).fetchone()
        if row is None:
            return None
        return {
            "discount": float(row["discount"]),
            "effective_time": row["effective_time"],
            "expire_time": row["expire_time"],
        }

    def set_partner_discount(
        self, scope: str, customer_id: str, discount: str, effective: str, expire: str
    ) -> None:
        with self._tx() as db:
            self._discountable(db, scope, customer_id)
            db.execute(
                "INSERT INTO partner_discounts VALUES (?,?,?,?) ON CONFLICT (customer_id) DO UPDATE SET"
                " discount = excluded.discount, effective_time = excluded.effective_time,"
                " expire_time = excluded.expire_time",
                (customer_id, discount, effective, expire),
            )

    # ---- warnings -------------------------------------------------------------------------------------

    def list_warnings(self, scope: str, f: dict[str, Any], offset: int, limit: int) -> dict[str, Any]:
        where, args = ["partner_id = ?"], [scope]
        with self._tx() as db:
            if f.get("customer_id") is not None:
                self._customer(db, scope, f["customer_id"], allow_gone=True)
                where.append("customer_id = ?")
                args.append(f["customer_id"])
            for key, column in (("status", "status"), ("category", "category"), ("scene", "scene_name")):
                if f.get(key) is not None:
                    where.append(f"{column} = ?")
                    args.append(f[key])
            self._time_range(where, args, "send_time", f.get("send_time_begin"), f.get("send_time_end"))
            total, rows = self._page(db, "warnings", where, args, "send_time, seq", offset, limit)
        keys = (
            "warning_id",
            "scene_name",
            "category",
            "title",
            "content",
            "customer_id",
            "send_time",
            "status",
            "handle_result",
            "handled_at",
        )
        return {"total_count": total, "warnings": [{k: r[k] for k in keys} for r in rows]}

    def handle_warning(self, scope: str, warning_id: str, result: str, remark: str | None) -> None:
        with self._tx() as db:
            row = db.execute("SELECT * FROM warnings WHERE warning_id = ?", (warning_id,)).fetchone()
            if row is None:
                raise bad_request(f"Warning {warning_id} does not exist.")
            if row["partner_id"] != scope:
                raise ApiError(400, "CBC.5004", f"No right to operate on the customer {row['customer_id']}.")
            if row["status"] != "PENDING":
                raise bad_request(f"Warning {warning_id} is already handled.")
            allowed = gen.WARNING_RESULTS[row["category"]]
            if result not in allowed:
                raise bad_request(
                    f"result must be one of {', '.join(allowed)} for a {row['category']} warning."
                )
            db.execute(
                "UPDATE warnings SET status = 'HANDLED', handle_result = ?, handled_at = ?, remark = ?"
                " WHERE warning_id = ?",
                (result, gen.fmt(utc_now()), remark, warning_id),
            )

    # ---- association ----------------------------------------------------------------------------------

    def association_records(self, scope: str, f: dict[str, Any], offset: int, limit: int) -> dict[str, Any]:
        where, args = ["partner_id = ?"], [scope]
        with self._tx() as db:
            if f.get("customer_id") is not None:
                self._customer(db, scope, f["customer_id"], allow_gone=True)
                where.append("customer_id = ?")
                args.append(f["customer_id"])
            for key in ("association_type", "operation_type"):
                if f.get(key) is not None:
                    where.append(f"{key} = ?")
                    args.append(f[key])
            self._time_range(
                where, args, "operation_time", f.get("operation_time_begin"), f.get("operation_time_end")
            )
            total, rows = self._page(
                db, "association_records", where, args, "operation_time, seq", offset, limit
            )
        keys = (
            "record_id",
            "customer_id",
            "operation_type",
            "association_type",
            "from_association_type",
            "operation_time",
            "initiator",
        )
        return {"total_count": total, "records": [{k: r[k] for k in keys} for r in rows]}

    @staticmethod
    def _check(db, row: sqlite3.Row, change: str) -> list[dict[str, str]]:
        target = {"SWITCH_TO_REFERRAL": "1", "SWITCH_TO_RESALE": "2"}.get(change)
        if target is not None and row["association_type"] == target:
            kind = "referral" if target == "1" else "resale"
            raise bad_request(f"The customer is already a {kind} customer.")
        items = json.loads(row["blockers"])
        now = utc_now()
        left = db.execute(
            "SELECT MAX(operation_time) FROM association_records WHERE customer_id = ?"
            " AND operation_type = 'DISASSOCIATE' AND initiator = 'CUSTOMER' AND operation_time > ?",
            (row["customer_id"], gen.fmt(now - COOLDOWN)),
        ).fetchone()[0]
        if left is not None:
            until = gen.parse_time(left) + COOLDOWN
            items.append(
                {
                    "code": COOLDOWN_BLOCKER,
                    "message": f"客户于 {left[:10]} 自行解除关联，{gen.fmt(until)[:10]} 前"
                    "伙伴不可切换关联类型或解除关联。",
                    "until": gen.fmt(until),
                }
            )
        return items

    def check_association_change(self, scope: str, customer_id: str, change: str) -> dict[str, Any]:
        with self._tx() as db:
            items = self._check(db, self._customer(db, scope, customer_id), change)
        return {"passed": not items, "items": items}

    def apply_association_change(self, scope: str, customer_id: str, change: str, reason: str) -> str:
        with self._tx() as db:
            row = self._customer(db, scope, customer_id)
            items = self._check(db, row, change)
            if items:
                listed = "; ".join(f"{i['code']}: {i['message']}" for i in items)
                raise bad_request(f"The account check failed: {listed}")
            if change == "DISASSOCIATE":
                return self._disassociate(db, row, initiator="PARTNER", reason=reason)
            before, after = row["association_type"], "2" if change == "SWITCH_TO_RESALE" else "1"
            db.execute(
                "UPDATE customers SET association_type = ? WHERE customer_id = ?", (after, customer_id)
            )
            return self._add_association_record(
                db,
                partner_id=scope,
                customer_id=customer_id,
                operation_type="SWITCH",
                association_type=after,
                from_type=before,
                when=gen.fmt(utc_now()),
                initiator="PARTNER",
                reason=reason,
            )

    def _disassociate(self, db, row: sqlite3.Row, *, initiator: str, reason: str | None) -> str:
        """End an association: the customer leaves the list and a resale balance returns to the partner."""
        when = gen.fmt(utc_now())
        partner_id, customer_id = row["partner_id"], row["customer_id"]
        if row["association_type"] == "2" and row["amount"] > 0:
            self._move_partner(db, partner_id, row["amount"])
            self._add_adjust_record(
                db,
                partner_id=partner_id,
                customer_id=customer_id,
                customer_name=row["customer"],
                operation_type=OP_UNBIND,
                cents=row["amount"],
                scene=SCENE_CUSTOMER,
                when=when,
            )
        db.execute("UPDATE customers SET active = 0, amount = 0 WHERE customer_id = ?", (customer_id,))
        return self._add_association_record(
            db,
            partner_id=partner_id,
            customer_id=customer_id,
            operation_type="DISASSOCIATE",
            association_type=row["association_type"],
            from_type=row["association_type"],
            when=when,
            initiator=initiator,
            reason=reason,
        )

    # ---- commercial discounts and dedicated offers -------------------------------------------------------

    def commercial_discounts(self, scope: str, f: dict[str, Any], offset: int, limit: int) -> dict[str, Any]:
        where, args = ["partner_id = ?"], [scope]
        with self._tx() as db:
            if f.get("customer_id") is not None:
                self._customer(db, scope, f["customer_id"], allow_gone=True)
                where.append("customer_id = ?")
                args.append(f["customer_id"])
            if f.get("status") is not None:
                where.append("status = ?")
                args.append(f["status"])
            total, rows = self._page(db, "commercial_discounts", where, args, "seq", offset, limit)
        return {
            "total_count": total,
            "discounts": [
                {
                    "discount_id": r["discount_id"],
                    "business_name": r["business_name"],
                    "discount_type": r["discount_type"],
                    "discount_rate": float(r["discount_rate"]),
                    "status": r["status"],
                    "effective_time": r["effective_time"],
                    "expire_time": r["expire_time"],
                    "customer_id": r["customer_id"],
                }
                for r in rows
            ],
        }

    def dedicated_offers(self, scope: str, f: dict[str, Any], offset: int, limit: int) -> dict[str, Any]:
        where, args = ["partner_id = ?"], [scope]
        with self._tx() as db:
            if f.get("customer_id") is not None:
                self._customer(db, scope, f["customer_id"], allow_gone=True)
                where.append("customer_id = ?")
                args.append(f["customer_id"])
            if f.get("status") is not None:
                where.append("status = ?")
                args.append(f["status"])
            total, rows = self._page(db, "dedicated_offers", where, args, "seq", offset, limit)
        return {
            "total_count": total,
            "offers": [
                {
                    "offer_id": r["offer_id"],
                    "name": r["name"],
                    "customer_account_name": r["customer_account_name"],
                    "product_ids": json.loads(r["product_ids"]),
                    "effective_time": r["effective_time"],
                    "expire_time": r["expire_time"],
                    "status": r["status"],
                }
                for r in rows
            ],
        }

    def create_dedicated_offer(
        self, scope: str, name: str, account_name: str, product_ids: list[str], effective: str, expire: str
    ) -> str:
        with self._tx() as db:
            row = db.execute(
                "SELECT customer_id FROM customers WHERE account_name = ? AND partner_id = ? AND active = 1",
                (account_name, scope),
            ).fetchone()
            if row is None:
                raise ApiError(
                    400, "CBC.5004", f"No right to operate on the customer account {account_name}."
                )
            if db.execute(
                "SELECT 1 FROM dedicated_offers WHERE partner_id = ? AND name = ?", (scope, name)
            ).fetchone():
                raise bad_request(f"A dedicated offer named {name!r} already exists.")
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM dedicated_offers").fetchone()[0]
            offer_id = _offer_id(seq)
            db.execute(
                "INSERT INTO dedicated_offers VALUES (?,?,?,?,?,?,?,?,?,'ACTIVE',NULL)",
                (
                    seq,
                    offer_id,
                    scope,
                    row["customer_id"],
                    account_name,
                    name,
                    json.dumps(product_ids, ensure_ascii=False),
                    effective,
                    expire,
                ),
            )
        return offer_id

    def invalidate_dedicated_offer(self, scope: str, offer_id: str, reason: str | None) -> None:
        with self._tx() as db:
            row = db.execute(
                "SELECT status FROM dedicated_offers WHERE offer_id = ? AND partner_id = ?", (offer_id, scope)
            ).fetchone()
            if row is None:
                raise bad_request(f"Dedicated offer {offer_id} does not exist.")
            if row["status"] != "ACTIVE":
                raise bad_request(
                    f"Dedicated offer {offer_id} is {row['status']}; only an ACTIVE offer can be invalidated."
                )
            db.execute(
                "UPDATE dedicated_offers SET status = 'INVALIDATED', reason = ? WHERE offer_id = ?",
                (reason, offer_id),
            )

    # ---- orders, resources and resource packages ------------------------------------------------------

    @staticmethod
    def _amount_info(discounts: str, commission: int | None = None, consumed: int | None = None) -> dict:
        return {
            "discounts": [
                {"discount_type": d["discount_type"], "discount_amount": money(d["discount_amount"])}
                for d in json.loads(discounts)
            ],
            "flexipurchase_coupon_amount": 0,
            "coupon_amount": 0,
            "stored_card_amount": 0,
            "commission_amount": None if commission is None else money(commission),
            "consumed_amount": None if consumed is None else money(consumed),
        }

    def _order_info(self, row: sqlite3.Row, *, detail: bool) -> dict[str, Any]:
        """CustomerOrderV2 (the list) or CustomerOrderV3 (the details), without sub-orders."""
        unsubscribe = row["order_type"] == 4
        out = {
            "order_id": row["order_id"],
            "customer_id": row["customer_id"],
            "service_type_code": row["service_type_code"],
            "service_type_name": row["service_type_name"],
            "source_type": row["source_type"],
            "status": row["status"],
            "order_type": row["order_type"],
            "amount_after_discount": money(row["amount_after_discount"]),
            "official_amount": money(row["official_amount"]),
            "measure_id": MEASURE_ID,
            "create_time": row["create_time"],
            "payment_time": row["payment_time"],
            "currency": CURRENCY,
            "contract_id": None,
            "amount_info": self._amount_info(
                row["discounts"],
                row["commission_amount"] if unsubscribe else None,
                row["consumed_amount"] if unsubscribe else None,
            ),
            "enterprise_projects": [],
        }
        if detail:
            out["user_name"] = row["user_name"]
            out["pending_payment_end_time"] = row["pending_payment_end_time"]
        return out

    def _with_sub_orders(self, db, rows: list[sqlite3.Row], *, detail: bool) -> list[dict[str, Any]]:
        heads = [r["order_id"] for r in rows]
        children: dict[str, list[dict]] = {}
        if heads:
            marks = ",".join("?" * len(heads))
            for child in db.execute(
                f"SELECT * FROM orders WHERE parent_order_id IN ({marks}) ORDER BY seq",  # noqa: S608
                heads,
            ):
                children.setdefault(child["parent_order_id"], []).append(
                    self._order_info(child, detail=detail)
                )
        out = []
        for r in rows:
            info = self._order_info(r, detail=detail)
            info["sub_order_infos"] = children.get(r["order_id"], [])
            if not detail:
                info["agent_pay_info"] = {
                    "paying_agent_id": r["paying_agent_id"],
                    "is_agent_pay": bool(r["agent_pay"]),
                }
            out.append(info)
        return out

    def _of_customer(self, db, scope: str, customer_id: str | None, where: list[str], args: list) -> None:
        """Narrow to one customer of the partner (another partner's is CBC.5004)."""
        if customer_id is not None:
            self._customer(db, scope, customer_id, allow_gone=True)
            where.append("customer_id = ?")
            args.append(customer_id)

    def list_customer_orders(self, scope: str, f: dict[str, Any], offset: int, limit: int) -> dict[str, Any]:
        """Standalone and combined orders (a combination is one row with its sub_order_infos)."""
        where, args = ["partner_id = ?", "parent_order_id IS NULL"], [scope]
        with self._tx() as db:
            self._of_customer(db, scope, f.get("customer_id"), where, args)
            if f.get("order_id") is not None:
                where.append(
                    "(order_id = ? OR order_id IN (SELECT parent_order_id FROM orders WHERE order_id = ?))"
                )
                args += [f["order_id"].upper()] * 2
            if f.get("service_type_code") is not None:
                where.append(
                    "(service_type_code = ? OR order_id IN (SELECT parent_order_id FROM orders"
                    " WHERE service_type_code = ? AND parent_order_id IS NOT NULL))"
                )
                args += [f["service_type_code"].lower()] * 2
            for key in ("status", "order_type"):
                if f.get(key) is not None:
                    where.append(f"{key} = ?")
                    args.append(int(f[key]))
            if f.get("method") == "sub_customer":
                where.append("0")  # no enterprise sub-accounts in the simulated world
            for column in ("create_time", "payment_time"):
                self._time_range(where, args, column, f.get(f"{column}_begin"), f.get(f"{column}_end"))
            order = "create_time DESC, seq DESC" if f.get("descending") else "create_time, seq"
            total, rows = self._page(db, "orders", where, args, order, offset, limit)
            return {"total_count": total, "order_infos": self._with_sub_orders(db, rows, detail=False)}

    def _order(self, db, scope: str, order_id: str) -> sqlite3.Row:
        row = db.execute("SELECT * FROM orders WHERE order_id = ?", (order_id.upper(),)).fetchone()
        if row is None or row["partner_id"] != scope:
            raise ApiError(
                400, "CBC.30000010", f"Invalid order {order_id} (it may not exist); it cannot be operated on."
            )
        return row

    def _head_order(self, db, scope: str, order_id: str) -> sqlite3.Row:
        """The order a payment, cancellation or rejection acts on: never a combined order's child."""
        row = self._order(db, scope, order_id)
        if row["parent_order_id"]:
            raise ApiError(
                400,
                "CBC.99000089",
                f"Sorry, order {row['order_id']} cannot be operated on: use the combined order ID"
                f" {row['parent_order_id']}.",
            )
        return row

    @staticmethod
    def _line_item(r: sqlite3.Row) -> dict[str, Any]:
        return {
            "order_line_item_id": r["order_line_item_id"],
            "service_type_code": r["service_type_code"],
            "service_type_name": r["service_type_name"],
            "product_id": r["product_id"],
            "product_spec_desc": r["product_spec_desc"],
            "period_type": r["period_type"],
            "period_num": r["period_num"],
            "effective_time": r["effective_time"],
            "expire_time": r["expire_time"],
            "subscription_num": r["subscription_num"],
            "amount_after_discount": money(r["amount_after_discount"]),
            "official_amount": money(r["official_amount"]),
            "amount_info": Store._amount_info(r["discounts"]),
            "currency": CURRENCY,
            "category_code": r["category_code"],
            "product_owner_service": r["service_type_code"],
            "commercial_resource": r["resource_type_code"],
            "base_product_info": None,
            "order_id": r["order_id"],
        }

    def show_customer_order(self, scope: str, order_id: str, offset: int, limit: int) -> dict[str, Any]:
        """An order with its line items (a combined order's are its children's), paged."""
        with self._tx() as db:
            row = self._order(db, scope, order_id)
            [info] = self._with_sub_orders(db, [row], detail=True)
            ids = [s["order_id"] for s in info["sub_order_infos"]] or [row["order_id"]]
            marks = ",".join("?" * len(ids))
            total, items = self._page(
                db, "order_line_items", [f"order_id IN ({marks})"], ids, "seq", offset, limit
            )
        return {
            "total_count": total,
            "order_info": info,
            "order_line_items": [self._line_item(r) for r in items],
        }

    def _settle_blocker(self, db, customer_id: str) -> None:
        """The account check stops reporting orders awaiting partner payment once none is left."""
        if db.execute(
            "SELECT 1 FROM orders WHERE customer_id = ? AND status = ? AND agent_pay = 1 LIMIT 1",
            (customer_id, trade.STATUS_PENDING_PAYMENT),
        ).fetchone():
            return
        row = db.execute("SELECT blockers FROM customers WHERE customer_id = ?", (customer_id,)).fetchone()
        if row is None:
            return
        kept = [b for b in json.loads(row["blockers"]) if b["code"] != PAY_BLOCKER]
        db.execute(
            "UPDATE customers SET blockers = ? WHERE customer_id = ?",
            (json.dumps(kept, ensure_ascii=False), customer_id),
        )

    def _partner_payable(self, db, scope: str, order_id: str) -> sqlite3.Row:
        row = self._head_order(db, scope, order_id)
        if row["status"] != trade.STATUS_PENDING_PAYMENT:
            raise ApiError(
                400,
                "CBC.99003106",
                f"The status of order {row['order_id']} changed (now {row['status']}); it cannot be paid.",
            )
        if not row["agent_pay"] or row["paying_agent_id"] != scope:
            raise ApiError(
                400,
                "CBC.99003106",
                f"Order {row['order_id']} awaits the customer's own payment, not the partner's.",
            )
        return row

    def pay_order(self, scope: str, order_id: str) -> None:
        """The partner pays an order its customer routed to it, from its balance account, exactly once."""
        with self._tx() as db:
            row = self._partner_payable(db, scope, order_id)
            now = utc_now()
            when = gen.fmt(now)
            if row["pending_payment_end_time"] and row["pending_payment_end_time"] < when:
                raise ApiError(
                    400,
                    "CBC.99003110",
                    "The order is past its payment deadline; the customer must order again.",
                )
            paid_today = db.execute(
                "SELECT COUNT(*) FROM orders WHERE customer_id = ? AND parent_order_id IS NULL"
                " AND payment_time >= ?",
                (row["customer_id"], when[:10] + "T00:00:00Z"),
            ).fetchone()[0]
            if paid_today >= self.trade_limit:
                raise ApiError(400, "CBC.99008056", "The trades created today have reached the daily limit.")
            account = self._balance_account(db, scope)
            available = account["amount"] - account["designated_amount"]
            if row["amount_after_discount"] > available:
                raise ApiError(
                    400, "CBC.99005003", f"Insufficient balance: {money(max(available, 0)):.2f} available."
                )
            self._move_partner(db, scope, -row["amount_after_discount"])
            db.execute(
                "UPDATE orders SET status = ?, payment_time = ? WHERE order_id = ? OR parent_order_id = ?",
                (trade.STATUS_COMPLETED, when, row["order_id"], row["order_id"]),
            )
            self._open_resources(db, row, now)
            self._settle_blocker(db, row["customer_id"])

    def _open_resources(self, db, head: sqlite3.Row, now: datetime) -> None:
        """A paid new (or on-demand to yearly/monthly) order opens its resources."""
        if head["order_type"] not in (1, 11):
            return
        items = db.execute(
            "SELECT i.*, o.partner_id FROM order_line_items i JOIN orders o ON o.order_id = i.order_id"
            " WHERE (o.order_id = ? OR o.parent_order_id = ?) AND i.resource_spec_code IS NOT NULL"
            " ORDER BY i.seq",
            (head["order_id"], head["order_id"]),
        ).fetchall()
        main: dict[str, str] = {}
        rows = []
        for n, item in enumerate(items, 1):
            spec = trade.SPECS[item["resource_spec_code"]]
            months = item["period_num"] * (12 if item["period_type"] == 3 else 1)
            resource_id = trade.resource_uuid("resource", self.seed, item["order_line_item_id"], n)
            parent = main.setdefault(item["order_id"], resource_id)
            rows.append(
                {
                    "id": trade.resource_uuid("instance", self.seed, item["order_line_item_id"], n),
                    "resource_id": resource_id,
                    "partner_id": item["partner_id"],
                    "customer_id": item["customer_id"],
                    "order_id": item["order_id"],
                    "resource_name": f"{trade.SERVICE_TYPES[spec.service_type][2].lower()}-{resource_id[:8]}",
                    "region_code": item["region_code"],
                    "service_type_code": spec.service_type,
                    "resource_type_code": spec.resource_type,
                    "resource_spec_code": spec.code,
                    "project_id": None,
                    "product_id": item["product_id"],
                    "parent_resource_id": None if parent == resource_id else parent,
                    "is_main_resource": 1 if parent == resource_id else 0,
                    "status": 2,
                    "effective_time": gen.fmt(now),
                    "expire_time": gen.fmt(trade.add_months(now, months)),
                    "expire_policy": 0,
                    "product_spec_desc": spec.description,
                    "spec_size": item["resource_size"],
                    "spec_size_measure_id": spec.size_measure_id if item["resource_size"] else None,
                    "update_time": gen.fmt(now),
                }
            )
        self._insert_trade(db, trade.Trade(resources=rows))

    def cancel_order(self, scope: str, order_id: str) -> None:
        """Cancel an order awaiting payment (a combination as a whole)."""
        with self._tx() as db:
            row = self._head_order(db, scope, order_id)
            if row["status"] not in (1, trade.STATUS_PENDING_PAYMENT, 9):
                raise ApiError(
                    400, "CBC.99005010", f"The status of order {row['order_id']} does not allow cancelling."
                )
            db.execute(
                "UPDATE orders SET status = ? WHERE order_id = ? OR parent_order_id = ?",
                (trade.STATUS_CANCELLED, row["order_id"], row["order_id"]),
            )
            self._settle_blocker(db, row["customer_id"])

    def reject_partner_pay(self, scope: str, order_id: str) -> None:
        """The partner declines to pay: the order stays awaiting payment, by the customer itself."""
        with self._tx() as db:
            row = self._partner_payable(db, scope, order_id)
            db.execute(
                "UPDATE orders SET agent_pay = 0, paying_agent_id = NULL"
                " WHERE order_id = ? OR parent_order_id = ?",
                (row["order_id"], row["order_id"]),
            )
            self._settle_blocker(db, row["customer_id"])

    @staticmethod
    def _id_list(where: list[str], args: list, column: str, values: list | None) -> None:
        if values:
            where.append(f"{column} IN ({','.join('?' * len(values))})")
            args.extend(values)

    def period_resources(self, scope: str, f: dict[str, Any], offset: int, limit: int) -> dict[str, Any]:
        """A customer's yearly/monthly resources (OrderInstanceV2)."""
        where, args = ["partner_id = ?"], [scope]
        with self._tx() as db:
            self._of_customer(db, scope, f["customer_id"], where, args)
            ids = f.get("resource_ids") or []
            if ids and not f["only_main_resource"]:
                marks = ",".join("?" * len(ids))
                where.append(f"(resource_id IN ({marks}) OR parent_resource_id IN ({marks}))")
                args += ids * 2
            else:
                self._id_list(where, args, "resource_id", ids)
            if f["only_main_resource"]:
                where.append("is_main_resource = 1")
            if f.get("order_id") is not None:
                where.append(
                    "(order_id = ? OR order_id IN (SELECT order_id FROM orders WHERE parent_order_id = ?))"
                )
                args += [f["order_id"].upper()] * 2
            self._id_list(where, args, "status", f.get("status_list"))
            if f.get("service_type_code") is not None:
                where.append("service_type_code = ?")
                args.append(f["service_type_code"].lower())
            self._time_range(where, args, "expire_time", f.get("expire_time_begin"), f.get("expire_time_end"))
            total, rows = self._page(db, "resources", where, args, "seq", offset, limit)
        keys = (
            "id",
            "resource_id",
            "resource_name",
            "region_code",
            "service_type_code",
            "resource_type_code",
            "resource_spec_code",
            "project_id",
            "product_id",
            "parent_resource_id",
            "is_main_resource",
            "status",
            "effective_time",
            "expire_time",
            "expire_policy",
            "product_spec_desc",
            "spec_size",
            "spec_size_measure_id",
            "update_time",
        )
        data = []
        for r in rows:
            item = {k: r[k] for k in keys}
            rtype = trade.RESOURCE_TYPES[r["resource_type_code"]]
            item["resource_type_name"] = rtype[1]
            item["service_type_name"] = trade.SERVICE_TYPES[r["service_type_code"]][0]
            item["enterprise_project"] = None
            data.append(item)
        return {"total_count": total, "data": data}

    def on_demand_resources(self, scope: str, f: dict[str, Any], offset: int, limit: int) -> dict[str, Any]:
        """A customer's on-demand resources (CustomerOnDemandResource)."""
        where, args = ["partner_id = ?"], [scope]
        with self._tx() as db:
            self._of_customer(db, scope, f["customer_id"], where, args)
            for key in ("region_code", "service_type_code", "status"):
                if f.get(key) is not None:
                    where.append(f"{key} = ?")
                    args.append(f[key])
            self._id_list(where, args, "resource_id", f.get("resource_ids"))
            self._time_range(
                where, args, "effective_time", f.get("effective_time_begin"), f.get("effective_time_end")
            )
            total, rows = self._page(db, "on_demand_resources", where, args, "seq", offset, limit)
        keys = (
            "customer_id",
            "region_code",
            "availability_zone_code",
            "service_type_code",
            "resource_type_code",
            "resource_id",
            "resource_name",
            "effective_time",
            "expire_time",
            "status",
            "resource_spec_code",
            "resource_info",
            "product_spec_desc",
        )
        resources = []
        for r in rows:
            item = {k: r[k] for k in keys}
            item["service_type_name"] = trade.SERVICE_TYPES[r["service_type_code"]][0]
            item["resource_type_name"] = trade.RESOURCE_TYPES[r["resource_type_code"]][1]
            resources.append(item)
        return {"total_count": total, "resources": resources}

    def resource_packages(self, scope: str, f: dict[str, Any], offset: int, limit: int) -> dict[str, Any]:
        """A customer's resource packages with what is left of each (FreeResourcePackageV3); without a
        customer_id the partner's own, of which it has none."""
        if f.get("customer_id") is None:
            return {"total_count": 0, "free_resource_packages": []}
        where, args = ["partner_id = ?"], [scope]
        with self._tx() as db:
            self._of_customer(db, scope, f["customer_id"], where, args)
            for key in ("region_code", "order_id", "product_id", "status"):
                if f.get(key) is not None:
                    where.append(f"{key} = ?")
                    args.append(f[key])
            if f.get("product_name") is not None:
                where.append("instr(product_name, ?) > 0")
                args.append(f["product_name"])
            if f.get("enterprise_project_id") not in (None, "0"):
                where.append("0")  # every package is in the default enterprise project
            self._id_list(
                where, args, "service_type_code", [c.lower() for c in f.get("service_type_code_list") or []]
            )
            total, rows = self._page(db, "resource_packages", where, args, "seq", offset, limit)
            marks = ",".join("?" * len(rows))
            items: dict[str, list[dict]] = {}
            for fr in db.execute(
                f"SELECT * FROM free_resources WHERE order_instance_id IN ({marks}) ORDER BY seq",  # noqa: S608
                [r["order_instance_id"] for r in rows],
            ):
                items.setdefault(fr["order_instance_id"], []).append(
                    {
                        "free_resource_id": fr["free_resource_id"],
                        "usage_type_name": fr["usage_type_name"],
                        "amount": fr["amount"],
                        "original_amount": fr["original_amount"],
                        "measure_id": fr["measure_id"],
                    }
                )
        keys = (
            "order_instance_id",
            "order_id",
            "product_id",
            "product_name",
            "effective_time",
            "expire_time",
            "status",
            "service_type_code",
            "region_code",
            "source_type",
            "bundle_type",
            "quota_reuse_mode",
        )
        packages = []
        for r in rows:
            item = {k: r[k] for k in keys}
            item["enterprise_project_id"] = "0"
            item["enterprise_project_scope"] = 0
            item["service_type_name"] = trade.SERVICE_TYPES[r["service_type_code"]][0]
            item["free_resources"] = items.get(r["order_instance_id"], [])
            packages.append(item)
        return {"total_count": total, "free_resource_packages": packages}

    def free_resource_usages(self, scope: str, ids: list[str]) -> dict[str, Any]:
        """Usage of resource package items; ids of other partners' customers are left out silently."""
        unique = list(dict.fromkeys(ids))
        now = utc_now()
        with self._tx() as db:
            marks = ",".join("?" * len(unique))
            sql = (
                "SELECT f.*, p.effective_time, p.expire_time, p.quota_reuse_mode FROM free_resources f"  # noqa: S608
                " JOIN resource_packages p ON p.order_instance_id = f.order_instance_id"
                f" WHERE f.free_resource_id IN ({marks}) AND f.partner_id = ? ORDER BY f.seq"
            )
            rows = db.execute(
                sql,
                [*unique, scope],
            ).fetchall()
        out = []
        for r in rows:
            start, end = r["effective_time"], r["expire_time"]
            if r["quota_reuse_mode"] == 1:  # reset monthly from the subscription date: the current month
                begin = gen.parse_time(start)
                months = 0
                while trade.add_months(begin, months + 1) <= min(now, gen.parse_time(end)):
                    months += 1
                start = gen.fmt(trade.add_months(begin, months))
                end = gen.fmt(min(trade.add_months(begin, months + 1), gen.parse_time(end)))
            out.append(
                {
                    "free_resource_id": r["free_resource_id"],
                    "free_resource_type_name": r["free_resource_type_name"],
                    "quota_reuse_cycle": r["quota_reuse_cycle"],
                    "quota_reuse_cycle_type": r["quota_reuse_cycle_type"],
                    "usage_type_name": r["usage_type_name"],
                    "start_time": start,
                    "end_time": end,
                    "amount": float(r["amount"]),
                    "original_amount": float(r["original_amount"]),
                    "measure_id": r["measure_id"],
                }
            )
        return {"free_resources": out}

    def set_trade_limit(self, per_day: int) -> int:
        with self._lock:
            self.trade_limit = per_day
        return per_day

    # ---- admin: growth, removal, state -------------------------------------------------------------------

    def _insert_customers(
        self, db, count: int, partner_id: str | None, rng: random.Random, initiator: str
    ) -> list[str]:
        weights = gen.partner_weights(self.reseller_ids)
        seq = db.execute("SELECT COALESCE(MAX(seq), 0) FROM customers").fetchone()[0]
        when = gen.fmt(utc_now())
        ids = []
        for _ in range(count):
            seq += 1
            c = gen.make_customer(self.seed, seq, weights, when, partner_id=partner_id)
            # A customer who just associated has no balance, hence no arrears yet.
            c.amount = c.debt_amount = 0
            c.blockers = [b for b in c.blockers if b["code"] != "ARREARS"]
            db.execute(_INSERT_CUSTOMER, c.as_tuple())
            self._add_association_record(
                db,
                partner_id=c.partner_id,
                customer_id=c.customer_id,
                operation_type="ASSOCIATE",
                association_type=c.association_type,
                from_type=None,
                when=when,
                initiator=initiator if rng.random() < 0.8 else "PARTNER",
            )
            ids.append(c.customer_id)
        return ids

    def add_customers(self, count: int, partner_id: str | None = None) -> list[str]:
        """New customers associate (with ASSOCIATE records), deterministic by their sequence number."""
        with self._tx() as db:
            last = db.execute("SELECT MAX(seq) FROM customers").fetchone()[0]
            rng = random.Random(f"{self.seed}:add:{last}")
            return self._insert_customers(db, count, partner_id, rng, "CUSTOMER")

    def ensure_resellers(self, count: int) -> list[str]:
        """At least `count` resellers under the distributor (new ones with an opening balance account).

        The meta row keeps the --resellers the store was generated with, so a restart keeps them too.
        """
        with self._tx() as db:
            have = set(self.reseller_ids)
            rows = gen.partners(self.seed, count, gen.parse_time(self._meta(db, "anchor")))
            new = [p for p in rows[1:] if p.partner_id not in have]
            db.executemany(
                "INSERT INTO partners VALUES (?,?,?,?,?,?,?,?,?,?)", [tuple(vars(p).values()) for p in new]
            )
            db.executemany(
                "INSERT INTO partner_accounts VALUES (?,?,?,?,?,?)",
                gen.partner_accounts([rows[0], *new])[2:],  # [:2] are the distributor's own
            )
            self.partners = {
                row["partner_id"]: dict(row) for row in db.execute("SELECT * FROM partners ORDER BY ord")
            }
            self.reseller_ids = [pid for pid, p in self.partners.items() if p["parent_id"]]
        return self.reseller_ids

    @staticmethod
    def _meta(db, key: str) -> str:
        return db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0]

    def add_scale_customers(self, count: int, resellers: int, orders: int = 0) -> dict[str, int]:
        """A large partner's data in one transaction: `count` customers spread evenly over the distributor
        and its first `resellers` resellers, each with its balance and the history of gen.scale_history,
        and (if asked) `orders` plain orders each with their line items (trade.scale_orders).

        Deterministic by sequence number (times relative to now). Rows go in with executemany, and the bulk
        load skips fsync (synchronous=OFF): a crash loses this batch only, which seed_scale would redo.
        """
        owners = [gen.DISTRIBUTOR_ID, *self.ensure_resellers(resellers)[:resellers]]
        now = utc_now()
        two_years = timedelta(days=730)
        customers, assoc, adjust, warnings = [], [], [], []
        bought = trade.Trade()
        with self._lock:
            self._db.execute("PRAGMA synchronous=OFF")
            try:
                with self._tx() as db:
                    seq = db.execute("SELECT COALESCE(MAX(seq), 0) FROM customers").fetchone()[0]
                    for _ in range(count):
                        seq += 1
                        rng = random.Random(f"{self.seed}:scale-owner:{seq}")
                        when = gen.fmt(
                            now - timedelta(seconds=rng.randint(86_400, int(two_years.total_seconds())))
                        )
                        partner_id = owners[seq % len(owners)]
                        c = gen.make_customer(
                            self.seed, seq, [(partner_id, 1.0)], when, partner_id=partner_id
                        )
                        a, j, w = gen.scale_history(self.seed, c, now)
                        customers.append(c.as_tuple())
                        if orders:
                            t = trade.scale_orders(self.seed, c, now, orders)
                            bought.orders += t.orders
                            bought.line_items += t.line_items
                        assoc += a
                        adjust += j
                        warnings += w
                    db.executemany(_INSERT_CUSTOMER, customers)
                    first = db.execute("SELECT COALESCE(MAX(seq), 0) FROM association_records").fetchone()[0]
                    db.executemany(
                        "INSERT INTO association_records VALUES (?,?,?,?,?,?,?,?,?,NULL)",
                        ((i, _record_id(i), *r) for i, r in enumerate(assoc, first + 1)),
                    )
                    first = db.execute("SELECT COALESCE(MAX(id), 0) FROM adjust_records").fetchone()[0]
                    db.executemany(
                        "INSERT INTO adjust_records VALUES (?,?,?,?,?,?,?,?,?,?)",
                        ((i, _trans_id(r[6], i), *r) for i, r in enumerate(adjust, first + 1)),
                    )
                    first = db.execute("SELECT COALESCE(MAX(seq), 0) FROM warnings").fetchone()[0]
                    db.executemany(
                        "INSERT INTO warnings VALUES (?,?,?,?,?,?,?,?,?,?,?,?,NULL)",
                        ((i, _warning_id(i), *r) for i, r in enumerate(warnings, first + 1)),
                    )
                    self._insert_trade(db, bought)
            finally:
                self._db.execute("PRAGMA synchronous=NORMAL")
        added = {
            "customers": len(customers),
            "association_records": len(assoc),
            "adjust_records": len(adjust),
            "warnings": len(warnings),
            "resellers": len(owners) - 1,
        }
        if orders:
            added["orders"] = len(bought.orders)
        return added

    def tick(self, warnings: int | None = None, associations: int | None = None) -> dict[str, list[str]]:
        """New pending warnings now (and maybe new associations): the platform's daily life, sped up.

        With no counts given (the background thread), 1–3 warnings and now and then one association, drawn
        from the seed and the tick counter.
        """
        with self._tx() as db:
            counter = int(db.execute("SELECT value FROM meta WHERE key = 'tick'").fetchone()[0]) + 1
            db.execute("UPDATE meta SET value = ? WHERE key = 'tick'", (str(counter),))
            rng = random.Random(f"{self.seed}:tick:{counter}")
            n_warnings = rng.randint(1, 3) if warnings is None else warnings
            n_assoc = (1 if rng.random() < 0.25 else 0) if associations is None else associations
            new_customers = self._insert_customers(db, n_assoc, None, rng, "CUSTOMER") if n_assoc else []
            active = db.execute("SELECT COUNT(*) FROM customers WHERE active = 1").fetchone()[0]
            warning_ids = []
            when = gen.fmt(utc_now())
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) FROM warnings").fetchone()[0]
            for _ in range(n_warnings if active else 0):
                c = db.execute(
                    "SELECT customer_id, partner_id, customer, account_name FROM customers WHERE active = 1"
                    " ORDER BY seq LIMIT 1 OFFSET ?",
                    (rng.randrange(active),),
                ).fetchone()
                category = rng.choices(*gen.WARNING_CATEGORIES)[0]
                title, content = gen.warning_text(category, c["customer"], c["account_name"], rng)
                seq += 1
                db.execute(
                    "INSERT INTO warnings VALUES (?,?,?,?,?,?,?,?,?,'PENDING',NULL,NULL,NULL)",
                    (
                        seq,
                        _warning_id(seq),
                        c["partner_id"],
                        c["customer_id"],
                        gen.WARNING_SCENES[category],
                        category,
                        title,
                        content,
                        when,
                    ),
                )
                warning_ids.append(_warning_id(seq))
        return {"warning_ids": warning_ids, "customer_ids": new_customers}

    def remove_customer(self, customer_id: str) -> str | None:
        """The customer vanishes upstream, as if disassociated on the platform; None if unknown or gone."""
        with self._tx() as db:
            row = db.execute(
                "SELECT * FROM customers WHERE customer_id = ? AND active = 1", (customer_id,)
            ).fetchone()
            if row is None:
                return None
            return self._disassociate(db, row, initiator="PLATFORM", reason=None)

    def raw_adjust_records(self, customer_id: str | None = None) -> list[dict[str, Any]]:
        with self._tx() as db:
            if customer_id:
                rows = db.execute(
                    "SELECT * FROM adjust_records WHERE customer_id = ? ORDER BY operation_time, id",
                    (customer_id,),
                ).fetchall()
            else:
                rows = db.execute("SELECT * FROM adjust_records ORDER BY operation_time, id").fetchall()
        return [{**self._record(r), "partner_id": r["partner_id"]} for r in rows]

    def state(self) -> dict[str, Any]:
        with self._tx() as db:
            by_partner: dict[str, dict[str, int]] = {
                pid: {"referral": 0, "resale": 0, "total": 0} for pid in self.partners
            }
            for r in db.execute(
                "SELECT partner_id, association_type, COUNT(*) n FROM customers WHERE active = 1"
                " GROUP BY partner_id, association_type"
            ):
                entry = by_partner.setdefault(r["partner_id"], {"referral": 0, "resale": 0, "total": 0})
                entry["referral" if r["association_type"] == "1" else "resale"] += r["n"]
                entry["total"] += r["n"]
            warnings = {"PENDING": 0, "HANDLED": 0}
            warnings.update(
                {r[0]: r[1] for r in db.execute("SELECT status, COUNT(*) FROM warnings GROUP BY status")}
            )
            adjust = {
                r[0]: r[1]
                for r in db.execute("SELECT operation_type, COUNT(*) FROM adjust_records GROUP BY 1")
            }
            balances = {
                r["partner_id"]: {
                    "amount": money(r["amount"]),
                    "designated_amount": money(r["designated_amount"]),
                }
                for r in db.execute("SELECT * FROM partner_accounts WHERE account_type = 1")
            }
            customer_money = db.execute(
                "SELECT COALESCE(SUM(amount), 0), COALESCE(SUM(debt_amount), 0) FROM customers"
                " WHERE active = 1"
            ).fetchone()
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
            return {
                "seed": int(meta["seed"]),
                "generated_at": meta["generated_at"],
                "anchor": meta["anchor"],
                "ticks": int(meta["tick"]),
                "customers": {
                    "active": sum(p["total"] for p in by_partner.values()),
                    "gone": db.execute("SELECT COUNT(*) FROM customers WHERE active = 0").fetchone()[0],
                    "by_partner": by_partner,
                },
                "warnings": warnings,
                "adjust_records": {"total": sum(adjust.values()), **adjust},
                "association_records": db.execute("SELECT COUNT(*) FROM association_records").fetchone()[0],
                "balances": balances,
                "customer_amount_total": money(customer_money[0]),
                "customer_debt_total": money(customer_money[1]),
                "dedicated_offers": db.execute("SELECT COUNT(*) FROM dedicated_offers").fetchone()[0],
                "commercial_discounts": db.execute("SELECT COUNT(*) FROM commercial_discounts").fetchone()[0],
                "orders": {
                    str(r[0]): r[1]
                    for r in db.execute(
                        "SELECT status, COUNT(*) FROM orders WHERE parent_order_id IS NULL GROUP BY 1"
                    )
                },
                "resources": db.execute("SELECT COUNT(*) FROM resources").fetchone()[0],
                "resource_packages": db.execute("SELECT COUNT(*) FROM resource_packages").fetchone()[0],
                "trade_limit": self.trade_limit,
            }
