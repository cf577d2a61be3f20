"""Bulk upsert for the sync: one INSERT … ON CONFLICT statement per page, no query per row.

Values travel as one array per column (`unnest`), so the statement stays small and the same for every page
whatever the page size. A row is only rewritten when one of its data columns differs, so re-running a sync
changes nothing and the counts say exactly how many rows were created and how many really changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from django.db import connection, models
from django.utils import timezone


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
    deduped: dict[tuple, Mapping[str, object]] = {}
    for row in rows:
        deduped[tuple(row[k] for k in keys)] = row  # the last version of a key in a page wins
    if not deduped:
        return 0, 0
    data_rows = list(deduped.values())
    meta = model._meta
    by_name = {f.name: f for f in meta.concrete_fields} | {f.attname: f for f in meta.concrete_fields}
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
