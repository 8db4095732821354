"""Build a GeoPackage spatial index (SQLite R*Tree) in bulk.

SQLite's R*Tree module inserts one entry at a time (about 13 µs each, most
of a large ingest's index time). For many new entries it is faster to pack
the whole tree at once, as GDAL does when it writes a GeoPackage
(``sqlite_rtree_bulk_load.c``): the entries are sorted into nodes
(Sort-Tile-Recursive packing, Leutenegger et al. 1997) and the nodes are
written straight into the R*Tree's shadow tables ``<name>_node``,
``<name>_parent`` and ``<name>_rowid``, in the format of SQLite's
``ext/rtree/rtree.c``:

* a node is a blob of the same length as the root node (1228 bytes for a
  2-D tree: 51 cells); bytes 0–1 hold the tree depth in the root (0
  elsewhere), bytes 2–3 the number of cells, big-endian;
* a cell is the rowid (leaf) or child node number, big-endian int64, then
  ``minx, maxx, miny, maxy`` as big-endian float32;
* coordinates are rounded outwards to float32 (a box never shrinks), as the
  module itself does.

The result is checked by SQLite's own ``rtreecheck()`` after every write
(:func:`check_rtree`): a tree it finds wrong fails the batch with a
:class:`~forestsink.errors.StoreError`, and the transaction is rolled back.

:func:`index_rtree` adds a batch's new rows to a store's index: one by one
through the R*Tree module when they are few next to the old ones, else by
packing the whole tree again with :func:`write_rtree`.
"""

from __future__ import annotations

import json
import math

import numpy as np

from forestsink.errors import StoreError
from forestsink.store.common import LAYER

__all__ = [
    "RTREE_MEETS",
    "RTREE_REBUILD_SHARE",
    "check_rtree",
    "index_rtree",
    "pack",
    "rtree_meets_params",
    "write_rtree",
]

#: rebuild the whole R-tree when the new rows are at least this share of it
RTREE_REBUILD_SHARE = 0.2

#: the project layer's rows whose box meets a box (:func:`rtree_meets_params`)
RTREE_MEETS = (
    f"SELECT id FROM rtree_{LAYER}_geom "
    "WHERE minx <= ? AND maxx >= ? AND miny <= ? AND maxy >= ?"
)


def rtree_meets_params(bounds) -> tuple[float, float, float, float]:
    """Return the parameters of :data:`RTREE_MEETS` for a box.

    Parameters
    ----------
    bounds : sequence of float
        ``minx, miny, maxx, maxy`` (EPSG:4490 degrees).

    The index holds boxes rounded outwards to float32, so it may find a few
    more rows than meet the box, never fewer.
    """
    minx, miny, maxx, maxy = (float(v) for v in bounds)
    return (maxx, minx, maxy, miny)


_CELL = np.dtype(
    [("id", ">i8"), ("minx", ">f4"), ("maxx", ">f4"), ("miny", ">f4"), ("maxy", ">f4")]
)


def float32_down(values: np.ndarray) -> np.ndarray:
    """Largest float32 not above each value (for box minima)."""
    values = np.asarray(values, dtype=np.float64)
    out = values.astype(np.float32)
    over = out.astype(np.float64) > values
    out[over] = np.nextafter(out[over], np.float32(-np.inf))
    return out


def float32_up(values: np.ndarray) -> np.ndarray:
    """Smallest float32 not below each value (for box maxima)."""
    values = np.asarray(values, dtype=np.float64)
    out = values.astype(np.float32)
    under = out.astype(np.float64) < values
    out[under] = np.nextafter(out[under], np.float32(np.inf))
    return out


def _str_order(boxes: np.ndarray, capacity: int) -> np.ndarray:
    """Sort-Tile-Recursive order of boxes (structured ``_CELL`` array)."""
    n = len(boxes)
    cx = (boxes["minx"].astype(np.float64) + boxes["maxx"]) / 2
    cy = (boxes["miny"].astype(np.float64) + boxes["maxy"]) / 2
    slices = math.ceil(math.sqrt(math.ceil(n / capacity)))
    by_x = np.argsort(cx, kind="stable")
    strip = np.empty(n, dtype=np.int64)
    strip[by_x] = np.arange(n) // (slices * capacity)
    return np.lexsort((cy, strip))


def pack(ids: np.ndarray, bounds: np.ndarray, capacity: int):
    """Pack boxes into R-tree nodes.

    Parameters
    ----------
    ids : numpy.ndarray of int64
        Row ids (the features' ``fid``).
    bounds : numpy.ndarray, shape (n, 4)
        ``minx, miny, maxx, maxy`` (shapely order), float64.
    capacity : int
        Cells per node.

    Returns
    -------
    (nodes, parents, leaves)
        ``nodes``: ``(nodeno, depth, cells)``, the root is node 1 and the only
        one with a non-zero depth; ``parents``: array of ``(nodeno, parent
        nodeno)`` of every other node; ``leaves``: array of ``(rowid, leaf
        nodeno)`` of every id.
    """
    cells = np.empty(len(ids), dtype=_CELL)
    cells["id"] = ids
    cells["minx"] = float32_down(bounds[:, 0])
    cells["miny"] = float32_down(bounds[:, 1])
    cells["maxx"] = float32_up(bounds[:, 2])
    cells["maxy"] = float32_up(bounds[:, 3])
    if not len(cells):
        none = np.empty((0, 2), np.int64)
        return [(1, 0, cells)], none, none
    levels = []  # leaves first: the cells of each level, in node order
    while True:
        cells = cells[_str_order(cells, capacity)]
        levels.append(cells)
        if len(cells) <= capacity:
            break
        starts = np.arange(0, len(cells), capacity)
        up = np.empty(len(starts), dtype=_CELL)
        up["id"] = np.arange(len(starts))  # node index on the level below
        for field, reduce in (
            ("minx", np.minimum),
            ("miny", np.minimum),
            ("maxx", np.maximum),
            ("maxy", np.maximum),
        ):
            up[field] = reduce.reduceat(cells[field], starts)
        cells = up
    depth = len(levels) - 1
    # node numbers: the root is 1, then level by level downwards
    first, next_no = [0] * len(levels), 1
    for level in range(depth, -1, -1):
        first[level] = next_no
        next_no += -(-len(levels[level]) // capacity)
    nodes, parents, leaves = [], [], []
    for level, level_cells in enumerate(levels):
        cells = level_cells
        node_of_cell = first[level] + np.arange(len(cells)) // capacity
        if level:  # cells point to nodes of the level below
            cells = cells.copy()
            cells["id"] = first[level - 1] + cells["id"]
            parents.append(np.column_stack([cells["id"], node_of_cell]))
        else:
            leaves.append(np.column_stack([cells["id"], node_of_cell]))
        for k, at in enumerate(range(0, len(cells), capacity)):
            nodes.append(
                (
                    first[level] + k,
                    depth if level == depth else 0,
                    cells[at : at + capacity],
                )
            )
    pairs = np.concatenate(parents) if parents else np.empty((0, 2), np.int64)
    return nodes, pairs, leaves[0]


def write_rtree(conn, name: str, ids: np.ndarray, bounds: np.ndarray) -> None:
    """Replace the content of R*Tree *name* with these boxes, in bulk.

    Parameters
    ----------
    conn : sqlite3.Connection
        Inside the caller's transaction.
    name : str
        The R*Tree virtual table (``rtree_<table>_geom``).
    ids, bounds
        All entries the index must hold (see :func:`pack`).
    """
    size = conn.execute(f'SELECT length(data) FROM "{name}_node" WHERE nodeno = 1')
    node_size = size.fetchone()[0]
    capacity = (node_size - 4) // _CELL.itemsize
    nodes, parents, leaves = pack(
        np.asarray(ids, dtype=np.int64), np.asarray(bounds, np.float64), capacity
    )
    for shadow in ("node", "parent", "rowid"):
        conn.execute(f'DELETE FROM "{name}_{shadow}"')

    def blob(depth: int, cells: np.ndarray) -> bytes:
        head = depth.to_bytes(2, "big") + len(cells).to_bytes(2, "big")
        body = cells.tobytes()
        return head + body + bytes(node_size - 4 - len(body))

    conn.executemany(
        f'INSERT INTO "{name}_node" (nodeno, data) VALUES (?, ?)',
        [(no, blob(depth, cells)) for no, depth, cells in nodes],
    )
    for shadow, cols, pairs in (
        ("parent", "nodeno, parentnode", parents),
        ("rowid", "rowid, nodeno", leaves),
    ):
        _insert_pairs(conn, f'"{name}_{shadow}"', cols, pairs)
    check_rtree(conn, name)


def check_rtree(conn, name: str) -> None:
    """Check R*Tree *name* with SQLite's ``rtreecheck()``; raise if it is wrong.

    ``rtreecheck`` reads the shadow tables (``<name>_node``, ``_parent``,
    ``_rowid``) and reports every inconsistency: a cell outside its parent's
    box, a rowid mapped to the wrong leaf, a node of the wrong depth.

    Parameters
    ----------
    conn : sqlite3.Connection
        Inside the caller's transaction (the check sees its writes).
    name : str
        The R*Tree virtual table (``rtree_<table>_geom``).

    Raises
    ------
    StoreError
        With SQLite's report; the caller's transaction is then rolled back,
        so nothing of the batch is written.
    """
    report = conn.execute("SELECT rtreecheck(?)", (name,)).fetchone()[0]
    if report != "ok":
        raise StoreError(
            f"spatial index {name}: SQLite's rtreecheck() found it inconsistent "
            f"after writing it ({report.strip()[:500]}); nothing was written. "
            "Please report this with the delivery that caused it."
        )


def _insert_pairs(conn, table: str, cols: str, pairs: np.ndarray) -> None:
    """Insert ``(id, value)`` integer pairs into *table*, sorted by id.

    Ids come in runs of consecutive numbers (a store's fids have no gaps):
    each long run goes in as one statement that reads its values from one
    JSON array (``json_each``; the id is the run's start plus the array
    index), about five times faster than one ``executemany`` row per pair,
    and in id order, so the table's B-tree is only appended to. Short runs
    (scattered ids) go through ``executemany``.
    """
    if not len(pairs):
        return
    pairs = pairs[np.argsort(pairs[:, 0], kind="stable")]
    ids = pairs[:, 0]
    breaks = np.flatnonzero(np.diff(ids) != 1) + 1
    starts = np.concatenate([[0], breaks])
    ends = np.concatenate([breaks, [len(ids)]])
    scattered = []
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        if end - start < _MIN_RUN:
            scattered.append(pairs[start:end])
            continue
        for at in range(start, end, _BLOCK):  # a block of Python ints at a time
            stop = min(at + _BLOCK, end)
            conn.execute(
                f"INSERT INTO {table} ({cols}) SELECT ? + key, value FROM json_each(?)",
                (int(ids[at]), json.dumps(pairs[at:stop, 1].tolist())),
            )
    if scattered:
        rest = np.concatenate(scattered)
        for at in range(0, len(rest), _BLOCK):
            conn.executemany(
                f"INSERT INTO {table} ({cols}) VALUES (?, ?)",
                rest[at : at + _BLOCK].tolist(),
            )


_BLOCK = 100_000
#: runs of consecutive ids shorter than this are inserted row by row
_MIN_RUN = 32


def index_rtree(
    conn, fids: np.ndarray, bounds: np.ndarray, *, rtree: str = f"rtree_{LAYER}_geom"
) -> None:
    """Add new versions to the spatial index (the GeoPackage R-tree *rtree*).

    Few new rows next to many old ones go in one by one; otherwise the whole
    tree is packed again from the old entries and the new ones
    (:func:`forestsink.store.rtree.write_rtree`), several times faster.
    Both happen inside the batch's transaction.
    """
    old = conn.execute(f'SELECT COUNT(*) FROM "{rtree}_rowid"').fetchone()[0]
    block = 100_000  # rows turned into Python objects at a time
    if len(fids) < RTREE_REBUILD_SHARE * (old + len(fids)):
        for at in range(0, len(fids), block):
            conn.executemany(
                f"INSERT INTO {rtree} VALUES (?, ?, ?, ?, ?)",
                zip(
                    fids[at : at + block].tolist(),
                    *bounds[at : at + block][:, [0, 2, 1, 3]].T.tolist(),
                    strict=True,
                ),
            )
        return
    if old:
        cursor = conn.execute(f"SELECT id, minx, miny, maxx, maxy FROM {rtree}")
        kept = [np.empty((0, 5))]
        while rows := cursor.fetchmany(block):
            kept.append(np.array(rows, dtype=np.float64))
        kept = np.concatenate(kept)
        fids = np.concatenate([kept[:, 0].astype(np.int64), fids])
        bounds = np.concatenate([kept[:, 1:], bounds])
    write_rtree(conn, rtree, fids, bounds)
