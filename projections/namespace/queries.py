"""Read side of the namespace: plain queries answering S3 reads from the projection tables.
Never replays aggregates. Listing pages are index range scans; a delimiter listing jumps
past each common prefix instead of scanning the keys under it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from projections.eventstore.tx import Tx

VERSION_COLUMNS = (
    "id, bucket, key, version_id, position, is_latest, is_delete_marker, size, etag, mtime_us, "
    "content_type, headers, metadata, blob, checksum, tags, parts, owner, operation"
)
JSON_COLUMNS = ("headers", "metadata", "blob", "checksum", "tags", "parts")


def decode_version(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    for col in JSON_COLUMNS:
        if col in row and isinstance(row[col], str):
            row[col] = orjson.loads(row[col])
    row["is_latest"] = bool(row["is_latest"])
    row["is_delete_marker"] = bool(row["is_delete_marker"])
    return row


def successor(prefix: str) -> str:
    """The least string greater than every string starting with `prefix` (code point order
    is UTF-8 byte order)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def get_bucket(tx: Tx, name: str) -> dict[str, Any] | None:
    key = ("bucket", name)
    if key in tx.cache:
        return tx.cache[key]
    row = tx.one("SELECT * FROM ns_buckets WHERE name = ?", (name,))
    tx.cache[key] = row
    return row


def list_buckets(tx: Tx) -> list[dict[str, Any]]:
    return tx.all("SELECT * FROM ns_buckets ORDER BY name")


def bucket_config(tx: Tx, bucket: str, name: str) -> Any | None:
    doc = tx.scalar("SELECT document FROM ns_bucket_configs WHERE bucket = ? AND name = ?", (bucket, name))
    return None if doc is None else orjson.loads(doc)


# One statement (for ServerContext.fetch_one): a row when the bucket exists, its `document`
# the configuration named by the first parameter, or NULL without one.
BUCKET_AND_CONFIG_SQL = (
    "SELECT c.document FROM ns_buckets b "
    "LEFT JOIN ns_bucket_configs c ON c.bucket = b.name AND c.name = ? WHERE b.name = ?"
)


def namespace_usage(tx: Tx) -> dict[str, int]:
    """Over every bucket: objects (current versions that are not delete markers), versions
    (every one that is not a delete marker), delete markers, and the bytes the versions
    hold. One scan of ns_versions: for the admin info call, not for the request path."""
    row = tx.one(
        "SELECT "
        "COALESCE(SUM(CASE WHEN is_latest AND NOT is_delete_marker THEN 1 ELSE 0 END), 0) AS objects, "
        "COALESCE(SUM(CASE WHEN is_delete_marker THEN 0 ELSE 1 END), 0) AS versions, "
        "COALESCE(SUM(CASE WHEN is_delete_marker THEN 1 ELSE 0 END), 0) AS delete_markers, "
        "COALESCE(SUM(size), 0) AS size "
        "FROM ns_versions"
    )
    return {name: int(value) for name, value in (row or {}).items()}


def bucket_has_versions(tx: Tx, bucket: str) -> bool:
    return tx.one("SELECT id FROM ns_versions WHERE bucket = ? LIMIT 1", (bucket,)) is not None


def latest_version(tx: Tx, bucket: str, key: str) -> dict[str, Any] | None:
    """The newest version of the key (possibly a delete marker)."""
    return decode_version(
        tx.one(f"SELECT {VERSION_COLUMNS} FROM ns_versions WHERE bucket = ? AND key = ? AND is_latest", (bucket, key))
    )


def newest_object_version(tx: Tx, bucket: str, key: str) -> dict[str, Any] | None:
    """The newest version of the key that is not a delete marker (current or not)."""
    return decode_version(
        tx.one(
            f"SELECT {VERSION_COLUMNS} FROM ns_versions WHERE bucket = ? AND key = ? "
            "AND NOT is_delete_marker ORDER BY position DESC LIMIT 1",
            (bucket, key),
        )
    )


def live_object(tx: Tx, bucket: str, key: str) -> dict[str, Any] | None:
    row = latest_version(tx, bucket, key)
    return None if row is None or row["is_delete_marker"] else row


def version_by_id(tx: Tx, bucket: str, key: str, version_id: str) -> dict[str, Any] | None:
    return decode_version(
        tx.one(
            f"SELECT {VERSION_COLUMNS} FROM ns_versions WHERE bucket = ? AND key = ? AND version_id = ?",
            (bucket, key, version_id),
        )
    )


@dataclass
class Page:
    entries: list[dict[str, Any]] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    truncated: bool = False
    last: str | None = None  # last key or prefix returned (the next marker)
    last_entry: dict[str, Any] | None = None


def _past_common_prefix(lower: str | None, inclusive: bool, prefix: str, delimiter: str) -> tuple[str | None, bool]:
    """A marker that is itself a common prefix (the last entry of a previous page) resumes
    after every key rolled up into it."""
    if lower and delimiter and lower.startswith(prefix) and lower.endswith(delimiter):
        rest = lower[len(prefix) :]
        if rest and rest.find(delimiter) == len(rest) - len(delimiter):
            return successor(lower), True
    return lower, inclusive


# A delimiter listing that has just jumped past a common prefix does not know whether the
# next rows are keys or more prefixes: it fetches a few rows, and more (x4) while no new
# prefix turns up. Fetching a full page after every jump reads up to 1,000 rows per prefix.
_JUMP_BATCH = 16


def _first_batch(full: int, delimiter: str) -> int:
    return min(full, _JUMP_BATCH) if delimiter else full


def _raw(tx: Tx, sql: str, params: list[Any]) -> list[Any]:
    """Rows as the driver returns them (indexable by column name): rows a listing skips are
    never copied into dicts."""
    return tx.execute(sql, params).fetchall()  # type: ignore[no-any-return]


def _walk(
    fetch: Any,
    *,
    prefix: str,
    delimiter: str,
    start: str | None,
    start_inclusive: bool,
    max_keys: int,
    key_of: Any = lambda r: r["key"],
    make_entry: Any = dict,
    on_entry: Any = None,
    on_jump: Any = None,
) -> Page:
    """Generic listing walk over rows ordered by key. `fetch(lower, inclusive, upper, limit)`
    returns the next rows; `make_entry` turns a returned row into an entry; `on_entry(row)`
    and `on_jump()` let a fetch that resumes within a key (versions) track where it is."""
    page = Page()
    if max_keys == 0:
        return page
    upper = successor(prefix) if prefix else None
    lower, inclusive = (prefix, True) if prefix and (start is None or start < prefix) else (start, start_inclusive)
    lower, inclusive = _past_common_prefix(lower, inclusive, prefix, delimiter)
    count = 0
    full = min(max_keys + 1, 1001)
    batch = _first_batch(full, delimiter)
    while True:
        rows = fetch(lower, inclusive, upper, batch)
        if not rows:
            return page
        jumped = False
        for row in rows:
            key = key_of(row)
            if delimiter:
                rest = key[len(prefix) :]
                i = rest.find(delimiter)
                if i >= 0:
                    common = prefix + rest[: i + len(delimiter)]
                    if count == max_keys:
                        page.truncated = True
                        return page
                    page.prefixes.append(common)
                    page.last = common
                    page.last_entry = None
                    count += 1
                    lower, inclusive = successor(common), True
                    jumped = True
                    break
            if count == max_keys:
                page.truncated = True
                return page
            entry = make_entry(row)
            page.entries.append(entry)
            page.last = key
            page.last_entry = entry
            count += 1
            if on_entry is not None:
                on_entry(row)
            lower, inclusive = key, False
        if jumped:
            if on_jump is not None:
                on_jump()
            batch = _first_batch(full, delimiter)
            continue
        if len(rows) < batch:
            return page
        batch = min(full, batch * 4)


def list_objects(tx: Tx, bucket: str, *, prefix: str, delimiter: str, start_after: str | None, max_keys: int) -> Page:
    def fetch(lower: str | None, inclusive: bool, upper: str | None, limit: int) -> list[dict[str, Any]]:
        sql = (
            "SELECT key, size, etag, mtime_us, owner, checksum FROM ns_versions "
            "WHERE bucket = ? AND is_latest AND NOT is_delete_marker"
        )
        bounds, params = key_range(lower, inclusive, upper)
        return _raw(tx, f"{sql}{bounds} ORDER BY key LIMIT ?", [bucket, *params, limit])

    if delimiter and max_keys > 0 and tx.dialect.name == "postgres":
        page = _list_objects_skip_scan(
            tx, bucket, prefix=prefix, delimiter=delimiter, start_after=start_after, max_keys=max_keys
        )
        if page is not None:
            return page
    return _walk(fetch, prefix=prefix, delimiter=delimiter, start=start_after, start_inclusive=False, max_keys=max_keys)


def _list_objects_skip_scan(
    tx: Tx, bucket: str, *, prefix: str, delimiter: str, start_after: str | None, max_keys: int
) -> Page | None:
    """PostgreSQL: the whole delimiter page in one statement. A recursive query takes one
    index probe per entry: the first live key at or after the bound; when that key lies
    under a common prefix, the next bound is the prefix's successor (every prefix ends with
    the delimiter, so its successor is the prefix with the delimiter's last character
    bumped), otherwise the key itself, exclusive. Same rows, order and markers as `_walk`."""
    bump = ord(delimiter[-1]) + 1
    if bump > 0x10FFFF or 0xD800 <= bump <= 0xDFFF:
        return None
    page = Page()
    upper = successor(prefix) if prefix else None
    lower, inclusive = (
        (prefix, True) if prefix and (start_after is None or start_after < prefix) else (start_after, False)
    )
    lower, inclusive = _past_common_prefix(lower, inclusive, prefix, delimiter)
    plen = len(prefix)
    # Bounds are inclusive: PostgreSQL text holds no NUL, so in byte order the least string
    # after k is k || chr(1).
    sql = f"""
        WITH RECURSIVE walk(n, lo, key, size, etag, mtime_us, owner, checksum) AS (
            SELECT 0, CAST(%(lower)s AS TEXT) COLLATE "C",
                   CAST(NULL AS TEXT) COLLATE "C", CAST(NULL AS BIGINT), CAST(NULL AS TEXT),
                   CAST(NULL AS BIGINT), CAST(NULL AS TEXT), CAST(NULL AS TEXT)
          UNION ALL
            SELECT w.n + 1,
                   CASE WHEN s.i > 0 THEN left(v.key, {plen} + s.i - 2 + %(dlen)s) || %(bump)s
                        ELSE v.key || chr(1) END,
                   v.key, v.size, v.etag, v.mtime_us, v.owner, v.checksum
            FROM walk w CROSS JOIN LATERAL (
                SELECT key, size, etag, mtime_us, owner, checksum FROM ns_versions
                WHERE bucket = %(bucket)s AND is_latest AND NOT is_delete_marker
                  AND key >= w.lo{" AND key < %(upper)s" if upper is not None else ""}
                ORDER BY key LIMIT 1) v
            CROSS JOIN LATERAL (SELECT strpos(substr(v.key, {plen + 1}), %(delim)s) AS i) s
            WHERE w.n < %(limit)s
        )
        SELECT key, size, etag, mtime_us, owner, checksum FROM walk WHERE n > 0 ORDER BY n"""
    if lower is None:
        lower = ""
    elif not inclusive:
        lower += "\x01"
    params = {
        "lower": lower,
        "delim": delimiter,
        "dlen": len(delimiter),
        "bump": chr(bump),
        "bucket": bucket,
        "upper": upper,
        "limit": max_keys + 1,
    }
    tx.cursor.execute(sql, params)
    count = 0
    for row in tx.cursor.fetchall():
        key = row["key"]
        if count == max_keys:
            page.truncated = True
            break
        rest = key[plen:]
        i = rest.find(delimiter)
        if i >= 0:
            common = prefix + rest[: i + len(delimiter)]
            page.prefixes.append(common)
            page.last = common
        else:
            entry = dict(row)
            page.entries.append(entry)
            page.last = key
            page.last_entry = entry
        count += 1
    return page


@dataclass(frozen=True)
class VersionRows:
    """Where a version listing reads: `table` (with an alias if `columns` needs one), the
    column holding a version's position, the selected columns (among them `position` and
    `is_latest`), and a condition every row must meet (e.g. valid at a past log position),
    each with the parameters of its placeholders."""

    table: str
    position: str
    columns: str
    column_params: tuple[Any, ...] = ()
    condition: str = ""  # " AND ..." or ""
    condition_params: tuple[Any, ...] = ()


LIVE_VERSIONS = VersionRows(
    table="ns_versions",
    position="position",
    columns="id, key, version_id, position, is_latest, is_delete_marker, size, etag, mtime_us, owner, checksum",
)


def key_range(lower: str | None, inclusive: bool, upper: str | None) -> tuple[str, list[Any]]:
    """The SQL (and its parameters) bounding a listing fetch's keys."""
    sql, params = "", []
    if lower is not None:
        sql += " AND key >= ?" if inclusive else " AND key > ?"
        params.append(lower)
    if upper is not None:
        sql += " AND key < ?"
        params.append(upper)
    return sql, params


def list_versions(
    tx: Tx,
    bucket: str,
    *,
    prefix: str,
    delimiter: str,
    key_marker: str | None,
    version_marker: str | None,
    max_keys: int,
    rows: VersionRows = LIVE_VERSIONS,
) -> Page:
    """Versions ordered by key, newest first, from `rows` (the live ones unless told).
    Pagination is by (key, position)."""
    pos, where = rows.position, rows.condition
    marker_position: int | None = None
    if key_marker and version_marker:
        found = tx.scalar(
            f"SELECT {pos} FROM {rows.table} WHERE bucket = ? AND key = ? AND version_id = ?{where}",
            (bucket, key_marker, version_marker, *rows.condition_params),
        )
        marker_position = int(found) if found is not None else None
    state = {"pos": marker_position, "key": key_marker}
    select = f"SELECT {rows.columns} FROM {rows.table} WHERE bucket = ?"

    def fetch(lower: str | None, inclusive: bool, upper: str | None, limit: int) -> list[Any]:
        page: list[Any] = []
        if state["pos"] is not None and state["key"] is not None:
            page = _raw(
                tx,
                f"{select} AND key = ?{where} AND {pos} < ? ORDER BY {pos} DESC LIMIT ?",
                [*rows.column_params, bucket, state["key"], *rows.condition_params, state["pos"], limit],
            )
            lower, inclusive = state["key"], False
            state["pos"] = None
            if len(page) >= limit:
                return page
        bounds, bound_params = key_range(lower, inclusive, upper)
        sql = f"{select}{where}{bounds} ORDER BY key, {pos} DESC LIMIT ?"
        params = [*rows.column_params, bucket, *rows.condition_params, *bound_params, limit - len(page)]
        return page + _raw(tx, sql, params)

    # Versions of one key span rows: after an entry, the next fetch resumes below its position.
    def on_entry(row: Any) -> None:
        state["key"], state["pos"] = row["key"], row["position"]

    def on_jump() -> None:
        state["pos"] = None

    return _walk(
        fetch,
        prefix=prefix,
        delimiter=delimiter,
        start=key_marker,
        start_inclusive=False,
        max_keys=max_keys,
        make_entry=lambda row: decode_version(dict(row)) or {},
        on_entry=on_entry,
        on_jump=on_jump,
    )


def get_upload(tx: Tx, upload_id: str) -> dict[str, Any] | None:
    row = tx.one("SELECT * FROM ns_uploads WHERE id = ?", (upload_id,))
    if row is not None:
        for col in ("headers", "metadata", "tags"):
            row[col] = orjson.loads(row[col])
    return row


def list_parts(tx: Tx, upload_id: str, *, marker: int, max_parts: int) -> list[dict[str, Any]]:
    rows = tx.all(
        "SELECT * FROM ns_parts WHERE upload_id = ? AND part_number > ? ORDER BY part_number LIMIT ?",
        (upload_id, marker, max_parts),
    )
    for row in rows:
        row["blob"] = orjson.loads(row["blob"])
        row["checksum"] = orjson.loads(row["checksum"])
    return rows


def all_parts(tx: Tx, upload_id: str) -> dict[int, dict[str, Any]]:
    return {r["part_number"]: r for r in list_parts(tx, upload_id, marker=0, max_parts=100000)}


def list_uploads(
    tx: Tx,
    bucket: str,
    *,
    prefix: str,
    delimiter: str,
    key_marker: str | None,
    upload_marker: str | None,
    max_uploads: int,
) -> Page:
    rows = tx.all(
        "SELECT * FROM ns_uploads WHERE bucket = ? AND key >= ? ORDER BY key, initiated_us, id",
        (bucket, prefix),
    )
    page = Page()
    count = 0
    seen_prefixes: set[str] = set()
    past_marker = key_marker is None
    for row in rows:
        key = row["key"]
        if prefix and not key.startswith(prefix):
            continue
        if not past_marker:
            if key < (key_marker or ""):
                continue
            if key == key_marker:
                if not upload_marker:
                    continue
                if row["id"] == upload_marker:
                    past_marker = True
                    continue
                continue
            past_marker = True
        if delimiter:
            rest = key[len(prefix) :]
            i = rest.find(delimiter)
            if i >= 0:
                common = prefix + rest[: i + len(delimiter)]
                if common in seen_prefixes:
                    continue
                if count == max_uploads:
                    page.truncated = True
                    return page
                seen_prefixes.add(common)
                page.prefixes.append(common)
                count += 1
                continue
        if count == max_uploads:
            page.truncated = True
            return page
        page.entries.append(row)
        page.last_entry = row
        count += 1
    return page
