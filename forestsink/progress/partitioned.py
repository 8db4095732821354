"""Progress over a partitioned dataset, in this process or on Dask.

The district × year × type table is computed from a GeoParquet dataset
partitioned by district (:mod:`forestsink.scale.dataset`) in groups of
neighbouring districts — each group is one task, which **reads its own
partitions**; nothing but small tables and the pieces that cross a group's
edge passes through the client:

1. **Crossings** — each task reads its districts' polygons, splits them by
   the district boundaries (:func:`~forestsink.progress.netting.
   split_with_attributes`) and returns only the pieces that lie in a
   district another task handles (a polygon declared in one county that
   reaches into the next group's county).
2. **Tables** — each task reads its partitions again, splits them, keeps
   the pieces lying in its own districts, adds the pieces other tasks sent
   it, nets them per district (:func:`~forestsink.progress.netting.net_pieces`:
   overlaps counted once, for the earliest polygon) and returns its small
   table. Every piece of land is therefore netted once, in the task of the
   district it lies in, whichever district its polygon declared.

Memory per task is bounded by its group (``partitions``), not the dataset:
no step collects all polygons in one process. ``engine="local"`` runs the
same tasks one after another here; ``engine="dask"`` submits them to
``dask.distributed`` workers. Results equal the in-memory local engine's to
floating-point summation order (tested: relative 1e-9).

Without ``--scheduler`` a ``LocalCluster`` is started on this machine; with
``--scheduler tcp://host:8786`` an existing cluster is used. A national
office runs ``dask scheduler`` on one node and ``dask worker
tcp://host:8786`` on the others, with forestsink installed in the same
environment everywhere and the dataset on storage every worker can read
(a shared file system; the path must be the same on every node), then
``forestsink progress --store /shared/dataset --engine dask --scheduler
tcp://host:8786``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import shapely

from forestsink.progress.areas import add_stock_attrs, increment_of_pieces
from forestsink.progress.netting import (
    add_overlap_geometries,
    net_pieces,
    split_with_attributes,
    whole_pieces,
)
from forestsink.progress.views import progress_by_district
from forestsink.scale.dataset import (
    dataset_columns,
    district_groups,
    partition_codes,
    read_partitions,
)
from forestsink.scale.distributed import run_tasks

#: Columns a progress task reads from a dataset (besides geometry).
PROGRESS_COLUMNS = ("key", "year", "project_type", "species", "stock_volume_m3")


def _group_of(codes: Sequence[str], groups: list[list[str]]) -> dict[str, int]:
    """Map every district code to the group (task) that handles its land.

    Districts without a partition of their own (no polygon declared there)
    go to the group whose code range holds them.
    """
    firsts = [g[0] for g in groups]
    index = (
        np.searchsorted(
            np.array(firsts, dtype=object), np.array(codes, dtype=object), side="right"
        )
        - 1
    )
    return {c: max(int(i), 0) for c, i in zip(codes, index, strict=True)}


def _read_group(root, codes):
    """Read a group's polygons (EPSG:4490), with ``area_mu`` when stored."""
    columns = list(PROGRESS_COLUMNS)
    stored = dataset_columns(root)
    columns += [c for c in ("area_mu", "attrs") if c in stored]
    frame = add_stock_attrs(read_partitions(root, codes, columns=columns))
    frame = frame.drop(columns=["attrs"], errors="ignore")
    if not frame.empty and frame.crs is not None and frame.crs.to_epsg() != 4490:
        frame = frame.to_crs(4490)
    return frame


#: Inward margin (degrees, ~10 m) of the cheap "wholly inside" test; far
#: more than straight edges in degrees and in Albers metres ever differ.
INSIDE_MARGIN_DEG = 1e-4


def _maybe_crossing(frame, districts) -> np.ndarray:
    """Flag polygons that may leave their declared district (EPSG:4490).

    A polygon properly inside its declared district shrunk by
    :data:`INSIDE_MARGIN_DEG` cannot have a piece elsewhere; only the others
    need the exact split. Prepared-geometry tests in degrees, of each
    polygon's bounding box (a box inside is a polygon inside; five vertices
    test faster than a hundred): cheap.
    """
    inner = {}
    for code in frame["adcode"].unique():
        geom = districts.loc[districts["adcode"] == code, "geometry"]
        if len(geom):
            shrunk = shapely.buffer(geom.iloc[0], -INSIDE_MARGIN_DEG)
            shapely.prepare(shrunk)
            inner[code] = shrunk
    maybe = np.ones(len(frame), dtype=bool)
    codes = frame["adcode"].to_numpy(dtype=object)
    boxes = shapely.box(*shapely.bounds(frame.geometry.to_numpy()).T)
    for code, shrunk in inner.items():
        rows = np.flatnonzero(codes == code)
        maybe[rows] = ~shapely.contains_properly(shrunk, boxes[rows])
    return maybe


def _crossings(root, index, codes, districts, group_of):
    """Pieces of group *index*'s polygons lying in other groups' districts.

    Returns ``(away, maybe)``: the pieces to send (or None) and the rows (in
    :func:`_read_group` order) of the polygons that may cross a district
    boundary — the only ones the second pass splits.
    """
    frame = _read_group(root, codes)
    if frame.empty:
        return None, np.zeros(0, dtype=np.int64)
    maybe = _maybe_crossing(frame, districts)
    rows = np.flatnonzero(maybe)
    if not len(rows):
        return None, rows
    pieces = split_with_attributes(frame.iloc[rows], districts)
    dest = pieces["adcode"].map(group_of).fillna(index).astype(int)
    away = pieces[dest.to_numpy() != index]
    return away.assign(group=dest[dest != index].to_numpy()), rows


def _group_table(
    root, index, codes, districts, group_of, incoming, maybe, types, growth, end_year
):
    """Return the district × year × type table of one group's districts.

    Polygons that cannot cross their district's boundary (not in *maybe*,
    from :func:`_crossings`) are not split and keep their stored area; only
    those that may overlap another piece are mapped to Albers for netting
    (:func:`~forestsink.progress.netting.add_overlap_geometries`).
    """
    frame = _read_group(root, codes)
    parts = []
    cut = np.zeros(len(frame), dtype=bool)
    cut[maybe] = True
    whole = frame[~cut]
    if len(whole):
        area = whole["area_mu"].to_numpy() if "area_mu" in whole else None
        parts.append(whole_pieces(whole, area_mu=area))
    if cut.any():
        pieces = split_with_attributes(frame[cut], districts)
        dest = pieces["adcode"].map(group_of).fillna(index).astype(int)
        parts.append(pieces[dest.to_numpy() == index])
    if incoming is not None and len(incoming):
        parts.append(incoming.drop(columns="group"))
    parts = [p for p in parts if len(p)]
    if not parts:
        return None
    pieces = pd.concat(parts, ignore_index=True)
    rows = np.arange(len(whole))  # whole pieces come first
    pieces = add_overlap_geometries(pieces, rows, whole.geometry.to_numpy())
    pieces = net_pieces(pieces, types=types)
    inc = increment_of_pieces(pieces, types=types, growth=growth, end_year=end_year)
    return progress_by_district(pieces, increment=inc)


def progress_base_partitioned(
    root,
    districts,
    types,
    *,
    growth,
    end_year,
    partitions: int | None = None,
    client=None,
    progress=None,
) -> pd.DataFrame:
    """District × year × type table of a partitioned GeoParquet dataset.

    Parameters
    ----------
    root : path
        Dataset folder (``adcode=…`` partitions, EPSG:4490).
    districts : geopandas.GeoDataFrame
        ``adcode`` and boundaries of every district pieces may lie in.
    types : DataFrame
        Project-type rules.
    growth, end_year
        As for :func:`forestsink.progress.growth.project_increment` (a checked growth
        table or None; the last growing season counted).
    partitions : int, optional
        Number of district groups (tasks). Default: groups of about 40
        districts, and at least 4 per worker with a client.
    client : dask.distributed.Client, optional
        Run the tasks on this cluster (default: in this process).
    progress : callable, optional
        ``progress(done, total)`` after each task.
    """
    codes = partition_codes(root)
    if districts.crs is not None and districts.crs.to_epsg() != 4490:
        districts = districts.to_crs(4490)
    if partitions is None:
        # groups of about 40 districts bound a task's memory; with a cluster,
        # at least 4 tasks per worker keep every worker busy to the end
        partitions = -(-len(codes) // 40)
        if client is not None:
            workers = max(len(client.scheduler_info().get("workers", {})), 1)
            partitions = max(partitions, 4 * workers)
    groups = district_groups(codes, partitions)
    all_codes = sorted(set(districts["adcode"]) | set(codes))
    group_of = _group_of(all_codes, groups)
    total = 2 * len(groups)
    report = (lambda done: progress(done, total)) if progress else None
    if client is not None:
        districts = client.scatter(districts, broadcast=True)
        types = client.scatter(types, broadcast=True)
    first = run_tasks(
        _crossings,
        [(root, i, g, districts, group_of) for i, g in enumerate(groups)],
        client=client,
        progress=report,
    )
    maybe = [rows for _away, rows in first]
    away = [a for a, _rows in first if a is not None and len(a)]
    away = pd.concat(away, ignore_index=True) if away else None
    incoming = {
        i: (None if away is None else away[away["group"].to_numpy() == i])
        for i in range(len(groups))
    }
    done = len(groups)
    tables = run_tasks(
        _group_table,
        [
            (
                root,
                i,
                g,
                districts,
                group_of,
                incoming[i],
                maybe[i],
                types,
                growth,
                end_year,
            )
            for i, g in enumerate(groups)
        ],
        client=client,
        progress=(lambda k: progress(done + k, total)) if progress else None,
    )
    tables = [t for t in tables if t is not None]
    if not tables:
        return pd.DataFrame()
    return pd.concat(tables, ignore_index=True)
