"""Bulk upsert for the sync: one INSERT … ON CONFLICT statement per page, no query per row.

Values travel as one array per column (`unnest`), so the statement stays small and the same for every page
whatever the page size. A row is only rewritten when one of its data columns differs, so re-running a sync
changes nothing and the counts say exactly how many rows were created and how many really changed.

This is also the one place where upstream text is made safe to store, for every dataset alike, driven by the
model's field types (mappings never clean text themselves):
- NUL characters are removed from every text and JSON value (PostgreSQL refuses them, and one would stop that
  dataset's sync on every run);
- Unicode bidi embedding/override/isolate controls (U+202A–U+202E, U+2066–U+2069) are removed: Django's
  escaping leaves them in, and upstream text could use them to make a page read backwards (e.g. a file name or
  amount shown reversed). Nothing legitimate in names, titles or memos needs them;
- a value longer than its CharField's max_length refuses the whole ROW, with a logged warning (counted in the
  run's `rows_refused`): the array cast to varchar(n) would otherwise cut it silently, and a cut name or id is
  wrong data that looks right.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar

from django.db import connection, models
from django.utils import timezone

logger = logging.getLogger(__name__)

# NUL, and the bidi embedding/override (U+202A–U+202E) and isolate (U+2066–U+2069) controls: removed.
_UNSAFE = dict.fromkeys([0, *range(0x202A, 0x202F), *range(0x2066, 0x206A)])

_refusals: ContextVar[list[str] | None] = ContextVar("upsert_refusals", default=None)


def safe_text(value: str) -> str:
    """Upstream text as the portal stores it: no NUL, no bidi controls."""
    return value.translate(_UNSAFE)


def _safe_json(value):
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, list | tuple):
        return [_safe_json(v) for v in value]
    if isinstance(value, dict):
        return {safe_text(str(k)): _safe_json(v) for k, v in value.items()}
    return value


@contextlib.contextmanager
def collect_refusals() -> Iterator[list[str]]:
    """Describe each row bulk_upsert refuses inside the block (the sync runner counts them)."""
    token = _refusals.set([])
    try:
        yield _refusals.get()  # type: ignore[misc]
    finally:
        _refusals.reset(token)


def _is_text(field: models.Field) -> bool:
    return isinstance(field, models.CharField | models.TextField)


def _safe_row(model: type[models.Model], row: Mapping[str, object], fields: Mapping[str, models.Field]):
    """The row with its text made safe, or None (logged) when a value does not fit its column."""
    clean: dict[str, object] = {}
    for name, value in row.items():
        field = fields[name]
        if isinstance(value, str) and _is_text(field):
            value = safe_text(value)
            if field.max_length is not None and len(value) > field.max_length:
                what = (
                    f"{model._meta.label}.{field.name}: {len(value)} characters, at most {field.max_length}"
                )
                logger.warning("sync: upstream row refused (%s); the rest of the page is stored", what)
                refusals = _refusals.get()
                if refusals is not None:
                    refusals.append(what)
                return None
        elif isinstance(field, models.JSONField):
            value = _safe_json(value)
        clean[name] = value
    return clean


def _column_values(field: models.Field, values: list) -> list:
    # Plain values (str, int, Decimal, datetime, None) go to the driver as they are; fields that need
    # adapting (JSON) go through Django's preparation.
    if field.get_internal_type() in ("JSONField",):
        return [field.get_db_prep_save(v, connection) for v in values]
    return values


def bulk_upsert(
    model: type[models.Model],
    rows: Iterable[Mapping[str, object]],
    *,
    key: str | Sequence[str],
    touch: Sequence[str] = (),
    insert_only: Mapping[str, object] | None = None,
) -> tuple[int, int]:
    """Insert or update `rows` (dicts of field name → value) keyed by the unique field(s) `key`.

    `touch` fields are set to now on insert and on a real change (e.g. updated_at); `insert_only` values
    are written on insert only (e.g. created_at). Returns (created, updated).
    """
    keys = (key,) if isinstance(key, str) else tuple(key)
    meta = model._meta
    by_name = {f.name: f for f in meta.concrete_fields} | {f.attname: f for f in meta.concrete_fields}
    deduped: dict[tuple, Mapping[str, object]] = {}
    for raw in rows:
        row = _safe_row(model, raw, by_name)
        if row is not None:
            deduped[tuple(row[k] for k in keys)] = row  # the last version of a key in a page wins
    if not deduped:
        return 0, 0
    data_rows = list(deduped.values())
    names = list(data_rows[0])
    data_fields = [by_name[name] for name in names]
    now = timezone.now()
    extra = {name: now for name in touch}
    extra.update(insert_only or {})
    # Columns the rows leave out get their model default on insert (the table has no SQL defaults).
    given = set(names) | {f.name for f in data_fields} | set(extra)
    for f in meta.concrete_fields:
        if not f.primary_key and f.name not in given and f.attname not in given and not f.null:
            extra[f.name] = f.get_default()
    extra_fields = [by_name[name] for name in extra]

    qn = connection.ops.quote_name
    columns = [f.column for f in data_fields] + [f.column for f in extra_fields]
    key_columns = [by_name[k].column for k in keys]
    compare = [f.column for f in data_fields if f.column not in key_columns]
    update = compare + [by_name[name].column for name in touch]

    arrays = [
        _column_values(f, [row[name] for row in data_rows])
        for name, f in zip(names, data_fields, strict=True)
    ]
    selects = [f"unnest(%s::{f.db_type(connection)}[])" for f in data_fields]
    params: list[object] = list(arrays)
    for f, value in zip(extra_fields, extra.values(), strict=True):
        selects.append(f"%s::{f.db_type(connection)}")
        params.append(f.get_db_prep_save(value, connection))

    table = qn(meta.db_table)
    # Identifiers come from model meta, quoted; every value is a parameter.
    sql = (
        f"INSERT INTO {table} ({', '.join(qn(c) for c in columns)}) "
        f"SELECT {', '.join(selects)} "
        f"ON CONFLICT ({', '.join(qn(c) for c in key_columns)}) DO "
    )
    if compare:
        sql += (
            f"UPDATE SET {', '.join(f'{qn(c)} = EXCLUDED.{qn(c)}' for c in update)} "
            f"WHERE ({', '.join(f'{table}.{qn(c)}' for c in compare)}) "
            f"IS DISTINCT FROM ({', '.join(f'EXCLUDED.{qn(c)}' for c in compare)}) "
        )
    else:
        sql += "NOTHING "
    sql += "RETURNING (xmax = 0)"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        inserted = [row[0] for row in cursor.fetchall()]
    created = sum(1 for flag in inserted if flag)
    return created, len(inserted) - created


def insert_keys(
    model: type[models.Model], fixed: Mapping[str, object], column: str, values: Sequence[str]
) -> None:
    """Insert one row per value (plus the fixed columns), ignoring duplicates: a cheap bulk insert."""
    if not values:
        return
    meta = model._meta
    qn = connection.ops.quote_name
    by_name = {f.name: f for f in meta.concrete_fields} | {f.attname: f for f in meta.concrete_fields}
    fields = [by_name[name] for name in fixed]
    target = by_name[column]
    # The same cleaning as bulk_upsert, so that the keys match the stored rows; a key too long for the column
    # was refused there too (and is never cut by the cast).
    values = [safe_text(v) for v in values]
    values = [v for v in values if target.max_length is None or len(v) <= target.max_length]
    if not values:
        return
    cols = [f.column for f in fields] + [target.column]
    selects = [f"%s::{f.db_type(connection)}" for f in fields] + [
        f"unnest(%s::{target.db_type(connection)}[])"
    ]
    sql = (
        f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(c) for c in cols)}) "
        f"SELECT {', '.join(selects)} ON CONFLICT DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*fixed.values(), list(values)])
