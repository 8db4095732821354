"""Inventory statistics and change over partitioned GeoParquet, here or on Dask.

A province's forest-resource map has millions of 小班; the statistics and
the previous-class change route need only a few columns of them, and the
overlay route one district at a time. This module runs both over a
**year dataset**: one year's live 小班 written by :func:`export_inventory`
(``forestsink inventory export``)::

    DIR/_inventory.json                     year, source store, batch, counts
    DIR/adcode=500101/part-store.parquet    the stored 小班 columns + geometry
    DIR/adcode=500102/...                   (WKB, EPSG:4490), ordered by key

(:mod:`forestsink.scale.dataset` layout: the district code is the folder name.)

Where a command takes ``--store``, it may name, besides a GeoPackage store:

- a year dataset (``inventory stats``: its year must be ``--year``);
- a folder holding year datasets as sub-folders, e.g. ``inv/2010`` and
  ``inv/2015`` written by ``inventory export --year 2010 --out inv/2010``
  and ``--year 2015 --out inv/2015``: the dataset of each year asked for is
  found by its ``_inventory.json`` (``inventory change --store inv --from
  2010 --to 2015``; also ``inventory stats --store inv --year 2015``).

With ``--engine dask`` and a GeoPackage store, the years needed are first
exported to a temporary dataset on this machine (as ``progress`` does);
only a local cluster's workers can read it: for a remote ``--scheduler``
export to shared storage first.

How the work is split (:func:`statistics_partitioned`,
:func:`change_partitioned`): the district codes are cut into contiguous
groups; each task reads its own group's partitions — **columns only, no
geometry** — and returns per-(district, land group) sums
(:func:`~forestsink.inventory.stats.sums_by_class`) and, for the later year,
the previous-class transfers. The driver combines these small tables exactly
as :mod:`forestsink.inventory.load` combines the store's SQL sums
(:func:`~forestsink.inventory.load.change_from_sums`, shared by both
engines), chooses each district's route, and only for the districts that
need the overlay route submits one task per district that reads both years'
geometries of that district and intersects them. Results equal the local
engine's to floating-point summation order (tested: relative 1e-9).

Areas in mu (ellipsoidal, as stored), volumes in m³, geometry EPSG:4490.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from forestsink.errors import ForestsinkError, InventoryError
from forestsink.inventory.change import overlay_pieces
from forestsink.inventory.load import (
    ChangeResult,
    change_from_sums,
    check_years,
    district_areas,
    inventory_change,
    inventory_statistics,
    require_year,
)
from forestsink.inventory.stats import statistics_from_sums, sums_by_class
from forestsink.reference import read_land_classes
from forestsink.scale.dataset import (
    PREFIX,
    district_groups,
    partition_codes,
    read_partitions,
    write_partitions,
    writing,
)
from forestsink.scale.distributed import dask_client, run_tasks
from forestsink.store import open_store

#: the description file of a year dataset
META = "_inventory.json"

#: what it says it is
FORMAT = "forestsink-inventory-year/1"

#: columns a statistics task reads (besides the folder's ``adcode``)
SUM_READ = ("land_group", "area_mu", "volume_m3_ha", "stock_m3")

#: columns the later year's task reads besides those (previous-class route)
TRANSFER_READ = ("land_group_before", "change_reason")

TRANSFER_KEYS = ["adcode", "land_group_before", "land_group", "change_reason"]


# ---------------------------------------------------------------------------
# writing a year dataset
# ---------------------------------------------------------------------------


def export_inventory(store, out, /, *, year: int, as_of=None) -> dict:
    """Write one year's live 小班 of *store* as a partitioned year dataset.

    Parameters
    ----------
    store : Store
        A GeoPackage store holding forest-resource layers.
    out : str or Path
        Folder to create (it must not exist); written into a hidden sibling
        and renamed at the end, so a reader never sees half of it.
    year : int
        The layer year.
    as_of : int or str, optional (default: None, now)
        A batch number or a date (UTC), as for ``inventory stats``.

    Returns
    -------
    dict
        What ``_inventory.json`` says: ``year``, ``store``, ``batch``,
        ``as_of``, ``n_xiaoban``, ``districts``.

    Raises
    ------
    InventoryError
        No layer of *year*, or *out* exists.

    Notes
    -----
    One county is read from the store at a time (memory: the largest
    county). Files hold every stored column
    (:data:`~forestsink.store.inventory_schema.XIAOBAN_COLUMNS`) but ``adcode``
    (the folder name) and the geometry as GeoParquet WKB, EPSG:4490, rows
    ordered by ``key`` as the store returns them.
    """
    out = Path(out)
    if out.exists():
        raise InventoryError(
            f"{out}: 已存在 / already exists; give a new folder (nothing is "
            "overwritten)."
        )
    require_year(store, year, as_of=as_of)
    snaps = store.inventory_snapshots(as_of=as_of, year=year)
    codes = sorted(set(snaps["adcode"].astype(str)))
    batches = store.batches()
    batch = (
        int(as_of)
        if isinstance(as_of, int)
        else (int(batches["batch_id"].max()) if len(batches) else None)
    )
    n = 0
    with writing(out) as tmp:
        for code in codes:
            frame = store.inventory_xiaoban(year, as_of=as_of, adcodes=[code])
            n += len(frame)
            write_partitions(frame, tmp, "store")
        meta = {
            "format": FORMAT,
            "year": int(year),
            "store": Path(str(store.path)).name,
            "batch": batch,
            "as_of": None if as_of is None else str(as_of),
            "n_xiaoban": int(n),
            "districts": codes,
        }
        (tmp / META).write_text(
            json.dumps(meta, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
    return meta


def read_meta(dataset) -> dict:
    """Return the ``_inventory.json`` of a year dataset.

    Raises
    ------
    InventoryError
        No such folder, or it is not a year dataset.
    """
    root = Path(dataset)
    if not root.is_dir():
        raise InventoryError(
            f"{root}: 没有此数据集目录 / no such dataset folder. Write one from "
            "the store with export_inventory (year=YEAR, out=DIR).",
            option=("store", "year", "out"),
        )
    path = root / META
    if not path.is_file():
        raise InventoryError(
            f"{root}: 不是森林资源年度数据集 (无 {META}) / not a forest-resource "
            f"year dataset (no {META}). Write one from the store with "
            "export_inventory (year=YEAR, out=DIR).",
            option=("store", "year", "out"),
        )
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        int(meta["year"])
    except (ValueError, KeyError, TypeError) as err:
        raise InventoryError(
            f"{path}: 无法读取 / cannot be read ({err}); export the year again."
        ) from err
    return meta


def _dataset_year(dataset, year: int | None) -> int:
    """Return the dataset's year, refusing another than *year* (if given)."""
    meta = read_meta(dataset)
    held = int(meta["year"])
    if year is not None and held != int(year):
        raise InventoryError(
            f"{dataset}: 这是 {held} 年的数据集，不是 {year} 年 / this dataset "
            f"holds the {held} layer, not {year}. Give the {year} dataset, or "
            f"export it (export_inventory, year={year}, out=DIR).",
            option=("year", "out"),
        )
    try:
        partition_codes(dataset)
    except ForestsinkError as err:
        raise InventoryError(
            f"{dataset}: 数据集无分区 / the dataset holds no adcode=… "
            "partitions; export the year again."
        ) from err
    return held


def find_year_dataset(location, year: int) -> Path | None:
    """Return the year dataset of *year* at *location*, or None for a store.

    *location* is a year dataset (its year must be *year*), or a folder whose
    sub-folders are year datasets (the one of *year* is picked), or anything
    else (a store: None).

    Raises
    ------
    InventoryError
        A dataset of another year, or a folder of datasets without *year*.
    """
    root = Path(str(location))
    if "://" in str(location) or not root.is_dir():
        return None
    if (root / META).is_file():
        _dataset_year(root, year)
        return root
    found = {}
    for meta_path in sorted(root.glob(f"*/{META}")):
        with contextlib.suppress(InventoryError):
            found.setdefault(int(read_meta(meta_path.parent)["year"]), meta_path.parent)
    if year in found:
        _dataset_year(found[year], year)
        return found[year]
    held = ", ".join(map(str, sorted(found))) or "none"
    raise InventoryError(
        f"{root}: 目录中没有 {year} 年的数据集 / no year dataset for {year} in "
        f"this folder (years found: {held}). Export it from the store "
        f"(export_inventory, year={year}, out={str(root / str(year))!r}).",
        option=("store", "year", "out"),
    )


# ---------------------------------------------------------------------------
# tasks (run here or on a Dask worker; they read their own partitions)
# ---------------------------------------------------------------------------


def _read_columns(root, codes: Sequence[str], columns: Sequence[str]) -> pd.DataFrame:
    """Read *columns* of the partitions of *codes* (no geometry), + ``adcode``.

    Codes without a partition are skipped.
    """
    root = Path(root)
    parts = []
    for code in codes:
        for file in sorted((root / f"{PREFIX}{code}").glob("*.parquet")):
            table = pq.read_table(file, columns=list(columns))
            part = table.to_pandas()
            part.insert(0, "adcode", code)
            parts.append(part)
    if not parts:
        return pd.DataFrame({c: [] for c in ["adcode", *columns]})
    return pd.concat(parts, ignore_index=True)


def _transfers(frame: pd.DataFrame) -> pd.DataFrame:
    """Sum a year's 小班 with a previous class as the store's ``inventory_transfer``."""
    rows = frame[frame["land_group_before"].notna()]
    keys = rows[TRANSFER_KEYS[:-1]].astype(str)
    keys["change_reason"] = rows["change_reason"].astype("string").fillna("")
    keys["area_mu"] = rows["area_mu"].to_numpy(float)
    keys["n_xiaoban"] = 1
    return keys.groupby(TRANSFER_KEYS, as_index=False)[["area_mu", "n_xiaoban"]].sum()


def _sums_task(root, codes: list[str]) -> pd.DataFrame:
    """Per-(district, land group) sums of one group of districts."""
    return sums_by_class(_read_columns(root, codes, SUM_READ))


def _change_task(root_from, root_to, codes: list[str]):
    """Both years' sums and the later year's transfers of one group."""
    before = _read_columns(root_from, codes, SUM_READ)
    after = _read_columns(root_to, codes, (*SUM_READ, *TRANSFER_READ))
    return sums_by_class(before), sums_by_class(after), _transfers(after)


def _overlay_task(root_from, root_to, code: str) -> pd.DataFrame:
    """Overlay pieces of one district's two years (geometry read here)."""
    before = read_partitions(root_from, [code], columns=["land_group"])
    after = read_partitions(root_to, [code], columns=["land_group", "change_reason"])
    return overlay_pieces(before, after)


# ---------------------------------------------------------------------------
# the engines
# ---------------------------------------------------------------------------


@contextlib.contextmanager
def _cluster(engine: str, client, scheduler, workers) -> Iterator:
    """Yield None (tasks run here) or a Dask client (closed after, if ours)."""
    if engine not in ("local", "dask"):
        raise InventoryError(
            f"engine {engine!r}: 未知引擎 / unknown engine; use local or dask."
        )
    if engine == "local":
        yield None
        return
    with dask_client(client, scheduler, workers=workers) as c:
        yield c


def _groups(codes: list[str], client, partitions: int | None) -> list[list[str]]:
    """Cut sorted district codes into tasks: ~40 per group, ≥ 4 per worker."""
    if partitions is None:
        partitions = -(-len(codes) // 40)
        if client is not None:
            workers = max(len(client.scheduler_info().get("workers", {})), 1)
            partitions = max(partitions, 4 * workers)
    return district_groups(codes, partitions)


def _concat(frames) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _sorted_sums(frames) -> pd.DataFrame:
    out = _concat(frames)
    if out.empty:
        return sums_by_class(pd.DataFrame({"adcode": [], "land_group": []}))
    return out.sort_values(["adcode", "land_group"], ignore_index=True)


def statistics_partitioned(
    dataset,
    *,
    year: int | None = None,
    engine: str = "dask",
    client=None,
    scheduler: str | None = None,
    workers: int | None = None,
    partitions: int | None = None,
) -> pd.DataFrame:
    """Official statistics of a year dataset, per district and city.

    Parameters
    ----------
    dataset : path
        A year dataset (:func:`export_inventory`).
    year : int, optional (default: the dataset's)
        Refuse a dataset of another year.
    engine : {"dask", "local"}, optional (default: "dask")
        Run the tasks on Dask workers, or one after another here.
    client : dask.distributed.Client, optional
        Use this cluster (left open); else one for *scheduler*, else a
        ``LocalCluster`` of *workers* processes (default 2), closed after.
    scheduler : str, optional
        ``tcp://host:8786`` of an existing cluster (the dataset path must be
        readable by every worker).
    workers : int, optional (default: 2)
        Worker processes of the local cluster started when neither *client*
        nor *scheduler* is given.
    partitions : int, optional
        Number of district groups (tasks); default about 40 districts per
        group and at least 4 groups per worker.

    Returns
    -------
    pandas.DataFrame
        :data:`~forestsink.inventory.stats.STAT_COLUMNS`, equal to
        :func:`~forestsink.inventory.load.inventory_statistics` of the store
        the dataset was exported from (areas in mu, volumes in m³).

    Raises
    ------
    InventoryError
        No such folder, not a year dataset, or a dataset of another year.
    """
    year = _dataset_year(dataset, year)
    codes = partition_codes(dataset)
    with _cluster(engine, client, scheduler, workers) as c:
        groups = _groups(codes, c, partitions)
        sums = run_tasks(_sums_task, [(str(dataset), g) for g in groups], client=c)
    return statistics_from_sums(
        _sorted_sums(sums),
        classes=read_land_classes(),
        districts=district_areas(),
        year=year,
    )


def change_partitioned(
    dataset_from,
    dataset_to,
    *,
    year_from: int | None = None,
    year_to: int | None = None,
    engine: str = "dask",
    client=None,
    scheduler: str | None = None,
    workers: int | None = None,
    partitions: int | None = None,
) -> ChangeResult:
    """Change between two year datasets, per district and city.

    Parameters
    ----------
    dataset_from, dataset_to : path
        The earlier and the later year dataset (:func:`export_inventory`).
    year_from, year_to : int, optional (default: the datasets' years)
        Refuse datasets of other years.
    engine, client, scheduler, workers, partitions : optional
        As for :func:`statistics_partitioned`.

    Returns
    -------
    ChangeResult
        Equal to :func:`~forestsink.inventory.load.inventory_change` of the
        store the datasets were exported from: the route per district
        (``method``) is chosen the same way; overlay districts are one task
        each (both years' geometries of that district only).

    Raises
    ------
    InventoryError
        A missing or foreign folder, datasets of other years, or a later
        year not after the earlier one.
    """
    year_from = _dataset_year(dataset_from, year_from)
    year_to = _dataset_year(dataset_to, year_to)
    check_years(year_from, year_to)
    root_from, root_to = str(dataset_from), str(dataset_to)
    codes = sorted(set(partition_codes(root_from)) | set(partition_codes(root_to)))
    with _cluster(engine, client, scheduler, workers) as c:
        groups = _groups(codes, c, partitions)
        parts = run_tasks(
            _change_task, [(root_from, root_to, g) for g in groups], client=c
        )
        sums_from = _sorted_sums(p[0] for p in parts)
        sums_to = _sorted_sums(p[1] for p in parts)
        transfer = _concat(p[2] for p in parts)
        if transfer.empty:
            transfer = pd.DataFrame(
                {k: [] for k in [*TRANSFER_KEYS, "area_mu", "n_xiaoban"]}
            )

        def overlay(need: list[str]) -> dict[str, pd.DataFrame]:
            pieces = run_tasks(
                _overlay_task, [(root_from, root_to, code) for code in need], client=c
            )
            return dict(zip(need, pieces, strict=True))

        return change_from_sums(
            sums_from,
            sums_to,
            transfer,
            overlay=overlay,
            year_from=year_from,
            year_to=year_to,
        )


# ---------------------------------------------------------------------------
# what the commands call: a store or datasets, either engine
# ---------------------------------------------------------------------------


def _no_as_of(location, as_of) -> None:
    if as_of is not None:
        raise InventoryError(
            f"{location}: 数据集只有一个状态，不能用 as_of / a year dataset holds "
            "one state; as_of needs the store (export the state you want with "
            "export_inventory(..., as_of=...)).",
            option="as_of",
        )


def _no_remote(location, scheduler) -> None:
    if scheduler:
        raise InventoryError(
            f"scheduler={scheduler!r}: 远程节点读不到 {location} / remote workers "
            f"cannot read {location}. Export the years to storage every worker "
            "can read (export_inventory, year=YEAR, out=/shared/inv/YEAR) and "
            "give that folder (/shared/inv) as the store.",
            option=("scheduler", "store"),
        )


def statistics_of(
    location,
    *,
    year: int,
    as_of=None,
    engine: str = "local",
    scheduler: str | None = None,
    client=None,
    workers: int | None = None,
) -> pd.DataFrame:
    """Statistics of one year from a store or a year dataset, either engine.

    Parameters
    ----------
    location : str or Path
        A store (``.gpkg``), a year dataset, or a folder of year datasets
        (see the module docstring).
    year : int
        The layer year.
    as_of : optional (default: now)
        Batch number or date; only with a store.
    engine : {"local", "dask"}, optional (default: "local")
        ``local`` with a store: the store's SQL sums
        (:func:`~forestsink.inventory.load.inventory_statistics`); with a
        dataset: the partitioned tasks run here. ``dask``: the partitioned
        tasks on Dask workers (a store is exported to a temporary dataset
        first).
    scheduler, client, workers : optional
        As for :func:`statistics_partitioned`.

    Returns
    -------
    pandas.DataFrame
        :data:`~forestsink.inventory.stats.STAT_COLUMNS`.
    """
    found = find_year_dataset(location, year)
    run = {"engine": engine, "client": client, "scheduler": scheduler}
    if found is not None:
        _no_as_of(location, as_of)
        return statistics_partitioned(found, year=year, workers=workers, **run)
    _missing(location)
    store = open_store(location)
    if engine == "local":
        return inventory_statistics(store, year=year, as_of=as_of)
    _no_remote(location, scheduler)
    require_year(store, year, as_of=as_of)
    with tempfile.TemporaryDirectory(prefix="forestsink-inventory-") as tmp:
        out = Path(tmp) / str(year)
        export_inventory(store, out, year=year, as_of=as_of)
        return statistics_partitioned(out, year=year, workers=workers, **run)


def change_of(
    location,
    *,
    year_from: int,
    year_to: int,
    as_of=None,
    engine: str = "local",
    scheduler: str | None = None,
    client=None,
    workers: int | None = None,
) -> ChangeResult:
    """Change between two years from a store or year datasets, either engine.

    *location*: a store, or a folder whose sub-folders are year datasets
    (both years are found there by their ``_inventory.json``). Other
    parameters as for :func:`statistics_of`.
    """
    check_years(year_from, year_to)
    run = {"engine": engine, "client": client, "scheduler": scheduler}
    root = Path(str(location))
    if root.is_dir() and (root / META).is_file():
        raise InventoryError(
            f"{location}: 这是一年的数据集 / this is one year's dataset; change "
            "needs both years: give the folder that holds both exported years "
            f"(e.g. inv/ with inv/{year_from} and inv/{year_to})."
        )
    found_from = find_year_dataset(location, year_from)
    if found_from is not None:
        _no_as_of(location, as_of)
        found_to = find_year_dataset(location, year_to)
        return change_partitioned(
            found_from,
            found_to,
            year_from=year_from,
            year_to=year_to,
            workers=workers,
            **run,
        )
    _missing(location)
    store = open_store(location)
    if engine == "local":
        return inventory_change(
            store, year_from=year_from, year_to=year_to, as_of=as_of
        )
    _no_remote(location, scheduler)
    for y in (year_from, year_to):
        require_year(store, y, as_of=as_of)
    with tempfile.TemporaryDirectory(prefix="forestsink-inventory-") as tmp:
        outs = [Path(tmp) / str(y) for y in (year_from, year_to)]
        for y, out in zip((year_from, year_to), outs, strict=True):
            export_inventory(store, out, year=y, as_of=as_of)
        return change_partitioned(
            *outs, year_from=year_from, year_to=year_to, workers=workers, **run
        )


def _missing(location) -> None:
    """Refuse a path that is neither a store file, a URL nor a folder."""
    text = str(location)
    if "://" not in text and not Path(text).exists():
        raise InventoryError(
            f"{text}: 没有此库或数据集目录 / no such store or dataset folder."
        )


__all__ = [
    "META",
    "change_of",
    "change_partitioned",
    "export_inventory",
    "find_year_dataset",
    "read_meta",
    "statistics_of",
    "statistics_partitioned",
]
