"""Deliveries straight into a partitioned GeoParquet dataset (country scale).

The versioned store (:mod:`forestsink.store`) is the bureau's daily tool; a
national office with tens of millions of sub-compartment (小班) polygons
loads a whole inventory at once and wants it where Dask can reach it.
:func:`stage_deliveries` reads every delivered file (the same reader as
``ingest``: encodings, column aliases, CRS, project types), checks it with
the same :func:`~forestsink.validate.validate_delivery`, adds the ellipsoidal
area and writes the polygons, EPSG:4490, into ``adcode=…`` partitions
(:mod:`forestsink.scale.dataset`). One task per file, here or on Dask workers;
no step holds more than one file.

Rules:

* **All or nothing.** Every file is checked and every problem reported; if
  any file has an error (or cannot be read) nothing is written — the
  dataset appears, renamed into place, only when all files passed.
  Warnings do not block.
* **Districts** are the shipped Chongqing districts, or the *zones* given
  (a polygon layer with ``adcode`` and ``name_zh``, e.g. a country's
  counties); a delivery's district column may then hold the zone codes.
* **Key** ``adcode/project_id`` as in the store; a key delivered twice (in
  one file or two files of one district) is an error. Partitions are by
  district code, so duplicates can only meet inside one partition.
* There is no history: re-staging writes a new dataset. The store overlap
  check (against earlier batches) does not apply.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from forestsink.errors import DeliveryError, ForestsinkError, StagingRefused
from forestsink.ingest import find_delivery_files, read_delivery
from forestsink.scale.dataset import PREFIX, write_partitions, writing
from forestsink.scale.distributed import run_tasks
from forestsink.validate import ISSUE_COLUMNS, validate_delivery

logger = logging.getLogger(__name__)

#: Columns a staged dataset holds (besides ``adcode``, the partition, and
#: ``geometry``).
STAGED_COLUMNS = (
    "key",
    "project_id",
    "year",
    "project_type",
    "programme",
    "species",
    "stock_volume_m3",
    "area_reported_mu",
    "area_mu",
    "attrs",
    "source_file",
    "source_row",
)


@dataclass
class StageReport:
    """What :func:`stage_deliveries` did.

    ``written`` is the dataset folder, or None when errors stopped it.
    """

    written: Path | None
    files: int
    polygons: int
    issues: pd.DataFrame
    notes: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no error was found (the dataset was written)."""
        return not (self.issues["severity"] == "error").any()


def _file_issue(path: Path, code: str, message: str, action: str) -> pd.DataFrame:
    row = dict.fromkeys(ISSUE_COLUMNS)
    row.update(
        severity="error", code=code, file=path.name, message=message, action=action
    )
    return pd.DataFrame([row], columns=list(ISSUE_COLUMNS))


def _stage_file(path, tmp_root, zones, period, rules):
    """Read, check and write one file; return (n, issues, notes).

    Its partition files are named ``part-<stem>-<first 12 hex of its
    SHA-256>`` (unique, and the same for the same file), from the hash
    :func:`~forestsink.ingest.read_delivery` takes anyway.
    """
    path = Path(path)
    try:
        delivery = read_delivery(path, rules=rules)
    except ForestsinkError as err:
        return 0, _file_issue(path, "unreadable", str(err), "fix the file"), []
    frame = delivery.frame
    if zones is not None:
        codes = zones["adcode"].to_numpy(dtype=str)
        raw = frame["district_raw"].astype("string").str.strip()
        known = np.isin(raw.to_numpy(dtype=object, na_value="").astype(str), codes)
        frame["adcode"] = frame["adcode"].fillna(raw.where(known))
        zones = _zones_near(zones, frame)
    checked = validate_delivery(frame, districts=zones, period=period)
    notes = [(path.name, note) for note in delivery.notes]
    if not checked.ok:
        return len(frame), checked.issues, notes
    frame = checked.frame
    frame["key"] = frame["adcode"].astype(str) + "/" + frame["project_id"].astype(str)
    # validate_delivery added the ellipsoidal area (area_mu)
    columns = ["adcode", *STAGED_COLUMNS, "geometry"]
    name = f"{path.stem}-{delivery.sha256[:12]}"
    write_partitions(frame[columns], tmp_root, name)
    return len(frame), checked.issues, notes


def _zones_near(zones, frame):
    """Return the zones a delivery can touch.

    Those meeting its extent, and those it declares (so a polygon far from
    its district is still reported as outside it, not as an unknown
    district). Checks against 2,400 counties then cost what they cost
    against a few.
    """
    geoms = frame.geometry.to_numpy()
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not ok.any():
        return zones
    extent = shapely.box(*shapely.total_bounds(geoms[ok]))
    near = shapely.intersects(zones.geometry.to_numpy(), extent)
    declared = np.isin(
        zones["adcode"].to_numpy(dtype=str),
        frame["adcode"].dropna().to_numpy(dtype=object).astype(str),
    )
    return zones[near | declared]


def _duplicate_keys(root) -> pd.DataFrame:
    """Keys delivered twice across files of one district partition."""
    rows = []
    for folder in sorted(Path(root).glob(f"{PREFIX}*")):
        files = sorted(folder.glob("*.parquet"))
        if len(files) < 2:
            continue
        keys = pd.concat(
            [
                pd.read_parquet(f, columns=["key", "source_file", "source_row"])
                for f in files
            ],
            ignore_index=True,
        )
        dup = keys[keys["key"].duplicated(keep=False)]
        for rec in dup.to_dict("records"):
            rows.append(
                {
                    "severity": "error",
                    "code": "duplicate_id",
                    "file": rec["source_file"],
                    "row": rec["source_row"],
                    "project_id": rec["key"].split("/", 1)[1],
                    "field": "project_id",
                    "value": rec["key"],
                    "message": "this key is delivered in more than one file",
                    "action": "keep one delivery of the polygon",
                }
            )
    return pd.DataFrame(rows, columns=list(ISSUE_COLUMNS))


def stage_deliveries(
    paths,
    out,
    /,
    *,
    zones=None,
    period: tuple[int, int] | None = None,
    rules=None,
    client=None,
    progress=None,
) -> StageReport:
    """Check delivered files and write them as a partitioned GeoParquet dataset.

    Parameters
    ----------
    paths : sequence of path
        Files or folders (as for ``ingest``).
    out : path
        Dataset folder to create (must not exist).
    zones : geopandas.GeoDataFrame, optional (default: Chongqing's districts)
        District polygons with ``adcode`` and ``name_zh`` (EPSG:4490 or any
        CRS) for the district checks; a country's counties at scale.
    period : (int, int), optional (default: None, the seed plan's period)
        Allowed years, inclusive (give ``read_plan(FILE).period`` for
        another plan).
    rules : path, optional
        Project-type rules file.
    client : dask.distributed.Client, optional
        Check and write the files on this cluster (every worker must see
        *paths* and *out*); default: one after another in this process.
    progress : callable, optional
        ``progress(done, total)`` after each file.

    Returns
    -------
    StageReport
    """
    files = find_delivery_files(paths)
    if not files:
        raise DeliveryError("no delivery files found in the paths given.")
    if zones is not None and zones.crs is not None and zones.crs.to_epsg() != 4490:
        zones = zones.to_crs(4490)
    out = Path(out)
    logger.info("staging %d file(s) into %s", len(files), out)
    result = None
    try:
        with writing(out) as tmp:
            zones_arg = zones
            if client is not None and zones is not None:
                zones_arg = client.scatter(zones, broadcast=True)
            done = run_tasks(
                _stage_file,
                [(str(f), str(tmp), zones_arg, period, rules) for f in files],
                client=client,
                progress=(lambda k: progress(k, len(files))) if progress else None,
            )
            issues = [d[1] for d in done] + [_duplicate_keys(tmp)]
            issues = pd.concat(
                [i for i in issues if len(i)] or [issues[-1]], ignore_index=True
            )
            notes = [n for d in done for n in d[2]]
            result = StageReport(
                written=out,
                files=len(files),
                polygons=sum(d[0] for d in done),
                issues=issues,
                notes=notes,
            )
            if not result.ok:
                logger.info("errors found: %s not written", out)
                raise StagingRefused  # unwinds the dataset write
    except StagingRefused:
        result.written = None
    return result
