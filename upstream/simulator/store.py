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
from .errors import ApiError, bad_request

SCHEMA_VERSION = "1"
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
"""

CURRENCY = "CNY"
MEASURE_ID = 1
OP_ADJUST = "SOURCE_OPERATION_BEADJUST"
OP_RETRIEVE = "SOURCE_OPERATION_BERETRIEVE"
OP_UNBIND = "SOURCE_OPERATION_BEUNBIND"
SCENE_CUSTOMER = "CUSTOMER"
SCENE_INDIRECT_PARTNER = "INDIRECT_PARTNER"
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
        db = self._db
        db.executescript(SCHEMA)
        with self._tx():
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
    def _check(row: sqlite3.Row, change: str) -> list[dict[str, str]]:
        target = {"SWITCH_TO_REFERRAL": "1", "SWITCH_TO_RESALE": "2"}.get(change)
        if target is not None and row["association_type"] == target:
            kind = "referral" if target == "1" else "resale"
            raise bad_request(f"The customer is already a {kind} customer.")
        return json.loads(row["blockers"])

    def check_association_change(self, scope: str, customer_id: str, change: str) -> dict[str, Any]:
        with self._tx() as db:
            items = self._check(self._customer(db, scope, customer_id), change)
        return {"passed": not items, "items": items}

    def apply_association_change(self, scope: str, customer_id: str, change: str, reason: str) -> str:
        with self._tx() as db:
            row = self._customer(db, scope, customer_id)
            items = self._check(row, change)
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

    def add_scale_customers(self, count: int, resellers: int) -> dict[str, int]:
        """A large partner's data in one transaction: `count` customers spread evenly over the distributor
        and its first `resellers` resellers, each with its balance and the history of gen.scale_history.

        Deterministic by sequence number (times relative to now). Rows go in with executemany, and the bulk
        load skips fsync (synchronous=OFF): a crash loses this batch only, which seed_scale would redo.
        """
        owners = [gen.DISTRIBUTOR_ID, *self.ensure_resellers(resellers)[:resellers]]
        now = utc_now()
        two_years = timedelta(days=730)
        customers, assoc, adjust, warnings = [], [], [], []
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
            finally:
                self._db.execute("PRAGMA synchronous=NORMAL")
        return {
            "customers": len(customers),
            "association_records": len(assoc),
            "adjust_records": len(adjust),
            "warnings": len(warnings),
            "resellers": len(owners) - 1,
        }

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
            }
