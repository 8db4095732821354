"""What the store's back ends share: layout names, batch numbers, times, hashes.

The GeoPackage (:mod:`forestsink.store.gpkg`) and PostGIS
(:mod:`forestsink.store.postgis`) back ends, their inventory sides and the
account tables import these; they never import each other's private names.
Here are the schema constants (table names, version fields), the reading of
``as_of`` (:func:`parse_as_of`), batch numbers, the content hash of a
polygon, column and user helpers, the comparison of two states
(:func:`diff_states`) and the checks of a withdrawal list.

Imports only :mod:`forestsink.errors` of forestsink (the bottom of the store).

CRS Notes
---------
Geometries are in EPSG:4490 (CGCS2000 geographic, degrees); areas in mu
(1 mu = 10000/15 m²).
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import tempfile

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from forestsink.errors import StoreBusyError, StoreError

__all__ = [
    "BATCHES",
    "BATCH_KINDS",
    "CONTENT_FIELDS",
    "COORDINATE_DECIMALS",
    "DIFF_COLUMNS",
    "FAILURES",
    "LAYER",
    "MAX_BATCH",
    "MUTABLE_FIELDS",
    "SRS_ID",
    "USERS",
    "VERSION_FIELDS",
    "VIEW",
    "StoreBusyError",
    "StoreError",
    "WithdrawMixin",
    "check_batch_number",
    "check_withdrawals",
    "column_values",
    "content_hashes",
    "current_user",
    "diff_states",
    "normalize_geometries",
    "parse_as_of",
    "shapely_bounds",
    "staging_error",
    "undo_note",
    "utc_now",
]

SRS_ID = 4490
LAYER = "project_versions"
VIEW = "current_projects"
BATCHES = "batches"

VERSION_FIELDS = {
    "key": "TEXT",
    "adcode": "TEXT",
    "project_id": "TEXT",
    "version": "INTEGER",
    "year": "INTEGER",
    "project_type": "TEXT",
    "programme": "TEXT",
    "area_mu": "REAL",
    "area_reported_mu": "REAL",
    "species": "TEXT",
    "stock_volume_m3": "REAL",
    "attrs": "TEXT",
    "content_hash": "TEXT",
    "batch_id": "INTEGER",
    "valid_from": "TEXT",
    "ended_batch": "INTEGER",
    "valid_to": "TEXT",
    "end_reason": "TEXT",
    "source_file": "TEXT",
    "source_row": "INTEGER",
}
CONTENT_FIELDS = (
    "year",
    "project_type",
    "programme",
    "area_reported_mu",
    "species",
    "stock_volume_m3",
    "attrs",
)
MUTABLE_FIELDS = ("ended_batch", "valid_to", "end_reason")
#: batch kinds a store's ``batches`` table allows
BATCH_KINDS = ("ingest", "withdraw", "undo", "inventory")
#: largest batch number SQLite can hold (signed 64-bit INTEGER)
MAX_BATCH = 2**63 - 1
#: the account tables (:mod:`forestsink.store.users`)
USERS = "users"
FAILURES = "login_failures"

DIFF_COLUMNS = [
    "key",
    "change",
    "project_type",
    "version_from",
    "version_to",
    "area_mu_from",
    "area_mu_to",
]


def utc_now() -> str:
    """Return the current UTC time as an ISO string with microseconds."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


#: decimal places of degrees kept in stored geometry (1e-9° is about 0.1 mm)
COORDINATE_DECIMALS = 9


def normalize_geometries(geoms) -> np.ndarray:
    """Put polygons in one canonical form for the content hash.

    Coordinates are rounded to ``COORDINATE_DECIMALS`` decimal places of a
    degree (1e-9°, about 0.1 mm in EPSG:4490), then GEOS's normal form is
    applied (:func:`shapely.normalize`): exterior rings clockwise and holes
    counter-clockwise, each ring starting at its lowest-left vertex, parts
    and holes in a fixed order. The same polygons written by a Shapefile
    writer (clockwise rings), a GeoPackage writer (counter-clockwise) or with
    rings starting at another vertex then hash the same, so a re-delivery in
    another form is recognised as unchanged. The store keeps the geometry as
    delivered (its area is the one measured at ingest).

    Parameters
    ----------
    geoms : array of shapely geometries
        EPSG:4490 (degrees).

    Returns
    -------
    numpy.ndarray
        The canonical geometries (same shapes; areas equal to 1e-9° rounding).
    """
    rounded = shapely.transform(
        np.asarray(geoms), lambda xy: np.round(xy, COORDINATE_DECIMALS)
    )
    return shapely.normalize(rounded)


def content_hashes(frame, *, geometries=None) -> list[str]:
    r"""Hash each polygon's content: geometry (rounded to 1e-9°) and attributes.

    The same polygon re-exported through another format (coordinates that
    differ below 0.1 mm) hashes the same. Stable across library versions:
    plain text of the values and ISO WKB, through BLAKE2b. Per polygon the
    hashed bytes are ``name=value\x1f`` for each of ``CONTENT_FIELDS`` (value
    as ``str()``, floats rounded to 6 decimals, empty when missing), UTF-8,
    then the WKB. (Missing values were once written as NUL, which pandas'
    ``astype(str)`` turned into empty text; the hashes keep that.)

    The store hashes geometries in canonical form (:func:`normalize_geometries`,
    passed as *geometries*); without *geometries* the frame's own are rounded
    here, as always.
    """
    if geometries is None:
        rounded = shapely.transform(
            np.asarray(frame.geometry.values),
            lambda xy: np.round(xy, COORDINATE_DECIMALS),
        )
    else:
        rounded = np.asarray(geometries)
    wkbs = shapely.to_wkb(rounded, byte_order=1, output_dimension=2, flavor="iso")
    # each field's text per row, as the text of each distinct value taken by
    # its code, and all of it joined with the WKB in Arrow (C, not a Python
    # string concatenation per field and row)
    parts = []  # large_binary: a chunk's bytes may pass 2 GiB
    for name in CONTENT_FIELDS:
        words, codes = _field_words(frame, name)
        parts.append(pa.array(words, pa.large_binary()).take(pa.array(codes)))
    parts.append(pa.array(wkbs, pa.large_binary()))
    joined = pc.binary_join_element_wise(*parts, pa.scalar(b"", pa.large_binary()))
    blake2b = hashlib.blake2b
    return [blake2b(b, digest_size=20).hexdigest() for b in joined.to_pylist()]


def _field_words(frame, name: str) -> tuple[list[bytes], np.ndarray]:
    r"""``name=value\x1f`` (UTF-8) of each distinct value, and each row's code."""
    n = len(frame)
    if name not in frame:
        return [f"{name}=\x1f".encode()], np.zeros(n, dtype=np.int64)
    column = frame[name]
    if pd.api.types.is_float_dtype(column):
        values = column.round(6).to_numpy(dtype=np.float64, na_value=np.nan)
        missing = np.isnan(values)
        codes, bits = pd.factorize(values.view(np.int64))  # -0.0 is not 0.0
        uniques = bits.view(np.float64).tolist()
    else:
        missing = column.isna().to_numpy()
        values = column.to_numpy(dtype=object, na_value="")
        if pd.api.types.is_object_dtype(column) and pd.api.types.infer_dtype(
            values, skipna=False
        ) not in ("string", "empty"):  # 1 and 1.0 would be one value
            codes, uniques = np.arange(n), values.tolist()
        else:
            codes, uniques = pd.factorize(values)
    words = [f"{name}={v}\x1f".encode() for v in uniques]
    words.append(f"{name}=\x1f".encode())  # missing: empty text
    codes = np.asarray(codes, dtype=np.int64)
    codes[missing] = len(words) - 1
    return words, codes


def staging_error(err: Exception) -> StoreError:
    """Say that the temporary staging file could not be written, and what to do."""
    return StoreError(
        f"the temporary folder {tempfile.gettempdir()} could not take the "
        f"delivery's staged rows ({err}); it is probably full. Nothing was "
        "written to the store. Free space there, or point TMPDIR to a folder "
        "on a disk with room, then run the command again."
    )


def check_batch_number(value, /, *, what: str = "batch", minimum: int = 1) -> int:
    """*value* as a batch number (*minimum* … 2⁶³−1), or a :class:`StoreError`.

    Parameters
    ----------
    value : int or str
        A batch number as given on the command line.
    what : str, optional (default: "batch")
        What the number is called in the message (``as_of``, ``undo``).
    """
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()):
        raise StoreError(
            f"{what} {value!r}: a batch number is a whole number, e.g. 12."
        )
    number = int(text)
    if not minimum <= number <= MAX_BATCH:
        raise StoreError(
            f"{what} {value!r}: no such batch (batch numbers start at 1); "
            "store.batches() lists them.",
            option="as_of" if what == "as_of" else None,
        )
    return number


def undo_note(batch_id: int, reason: str | None = None) -> str:
    """Return an undo batch's note: "undo of batch N", then the reason if any.

    Parameters
    ----------
    batch_id : int
        The batch undone.
    reason : str, optional (default: None)
        Why; blank or None keeps the note as it was.

    Examples
    --------
    >>> undo_note(7)
    'undo of batch 7'
    >>> undo_note(7, "  wrong year  ")
    'undo of batch 7: wrong year'
    """
    text = str(reason).strip() if reason is not None else ""
    return f"undo of batch {batch_id}: {text}" if text else f"undo of batch {batch_id}"


def parse_as_of(value) -> tuple[str, object] | None:
    """Interpret ``as_of``: a batch number or a date/time (UTC).

    A bare date means the end of that day (``2014-06-30`` → everything that
    landed on or before 30 June 2014).
    """
    if value is None:
        return None
    if isinstance(value, int | np.integer) or (
        isinstance(value, str) and value.strip().isascii() and value.strip().isdigit()
    ):
        return ("batch", check_batch_number(value, what="as_of", minimum=0))
    text = str(value).strip()
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            return ("time", f"{day.isoformat()}T23:59:59.999999Z")
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as err:
        raise StoreError(
            f"as_of={value!r}: give a batch number (e.g. 12) or a date "
            "(2014-06-30) or an ISO date-time.",
            option="as_of",
        ) from err
    except OverflowError as err:  # a year past 9999 in an ISO text
        raise StoreError(
            f"as_of={value!r}: not a date this store can hold.", option="as_of"
        ) from err
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return ("time", moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))


def current_user() -> str:
    """Return the login name of this process, or ``'unknown'`` (a batch's user)."""
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"


def shapely_bounds(frame) -> np.ndarray:
    """Bounds (minx, miny, maxx, maxy) of each geometry of *frame*."""
    return shapely.bounds(np.asarray(frame.geometry.values))


def column_values(frame, name) -> list:
    """Return a column of *frame* as Python values (None when missing).

    A column the frame lacks gives one None per row; numpy scalars in an
    object column become Python ones (what a database driver takes).
    """
    if name not in frame:
        return [None] * len(frame)
    column = frame[name]
    values = column.to_numpy(dtype=object, na_value=None).tolist()
    if pd.api.types.is_object_dtype(column):  # may hold numpy scalars
        return [v.item() if isinstance(v, np.generic) else v for v in values]
    return values


def diff_states(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Compare two states of a store (e.g. ``current(as_of=a)`` and ``(b)``).

    A key is *added* if only *after* has it, *withdrawn* if only *before*
    has it, and *changed* if both have it as different versions (``fid``).

    Parameters
    ----------
    before, after : pandas.DataFrame
        States with at least ``key``, ``fid``, ``version``, ``project_type``
        and ``area_mu`` (geometry is not needed), one row per key.

    Returns
    -------
    pandas.DataFrame
        ``key``, ``change`` (added / changed / withdrawn), ``project_type``,
        ``version_from``, ``version_to``, ``area_mu_from``, ``area_mu_to``;
        ordered by key (code point order).

    Examples
    --------
    >>> import pandas as pd
    >>> a = pd.DataFrame({"key": ["k1", "k2"], "fid": [1, 2], "version": [1, 1],
    ...                   "project_type": ["t", "t"], "area_mu": [1.0, 2.0]})
    >>> b = pd.DataFrame({"key": ["k2", "k3"], "fid": [4, 3], "version": [2, 1],
    ...                   "project_type": ["t", "t"], "area_mu": [2.5, 3.0]})
    >>> diff_states(a, b)[["key", "change"]].values.tolist()
    [['k1', 'withdrawn'], ['k2', 'changed'], ['k3', 'added']]
    """
    b = before.set_index("key")
    a = after.set_index("key")
    added = a.index.difference(b.index)
    withdrawn = b.index.difference(a.index)
    common = a.index.intersection(b.index)
    moved = b.loc[common, "fid"].to_numpy() != a.loc[common, "fid"].to_numpy()
    changed = common[moved]

    def values(frame, keys, column):
        return frame.loc[keys, column].tolist() if len(keys) else []

    none = [None] * max(len(added), len(withdrawn))
    rows = list(
        zip(
            added,
            ["added"] * len(added),
            values(a, added, "project_type"),
            none[: len(added)],
            values(a, added, "version"),
            none[: len(added)],
            values(a, added, "area_mu"),
            strict=True,
        )
    )
    rows += zip(
        withdrawn,
        ["withdrawn"] * len(withdrawn),
        values(b, withdrawn, "project_type"),
        values(b, withdrawn, "version"),
        none[: len(withdrawn)],
        values(b, withdrawn, "area_mu"),
        none[: len(withdrawn)],
        strict=True,
    )
    rows += zip(
        changed,
        ["changed"] * len(changed),
        values(a, changed, "project_type"),
        values(b, changed, "version"),
        values(a, changed, "version"),
        values(b, changed, "area_mu"),
        values(a, changed, "area_mu"),
        strict=True,
    )
    rows.sort(key=lambda row: row[0])
    return pd.DataFrame(rows, columns=DIFF_COLUMNS)


def check_withdrawals(items, *, where: str) -> list[str]:
    """Check a withdrawal list before any store is touched; return its keys.

    Every item needs a non-empty reason and each key may appear once.

    Raises
    ------
    StoreError
        Naming the key and what to fix; nothing has been withdrawn.
    """
    if not items:
        raise StoreError(
            f"{where}: the withdrawal list has no rows; nothing withdrawn. Give "
            "one row per polygon (district, project id, reason)."
        )
    for key, reason in items:
        if not reason or not str(reason).strip():
            raise StoreError(
                f"withdrawal of {key!r} needs a reason (why the polygon is withdrawn)."
            )
    keys = [k for k, _ in items]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise StoreError(
            f"{where}: polygon(s) {twice} listed more than once; nothing "
            "withdrawn. Give each polygon once."
        )
    return keys


class WithdrawMixin:
    """``withdraw`` of one polygon, as a one-item ``withdraw_many``."""

    def withdraw(
        self, key: str, *, reason: str, user: str | None = None, now: str | None = None
    ) -> int:
        """End a polygon's validity with a reason; return the batch id."""
        return self.withdraw_many([(key, reason)], source_name=key, user=user, now=now)
