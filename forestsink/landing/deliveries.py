"""The validate and ingest tools: read, check and store a set of deliveries.

A *tool* is a CLI command minus the parsing: ``check_deliveries`` backs
``forestsink validate`` and ``ingest_deliveries`` backs ``forestsink ingest``.

Rules:

* every file is read and checked before anything is written; one report
  covers all files — except with ``skip_errors=True``, where nothing waits
  for other files anyway: each file's batch lands as soon as it is checked,
  while later files are checked (the same batches, sooner);
* batches land in file order, so a later file's version of a polygon is
  the live one;
* a file that cannot be read (format, encoding, CRS, missing columns) is an
  error for that file;
* if any error remains, nothing is written — unless ``skip_errors=True``,
  which lands the features without errors (recording how many were left out
  in the batch note) and skips files that cannot be read;
* each file is one batch (one transaction); a file identical to one already
  ingested (same SHA-256) is skipped and reported as such;
* a file larger than the chunk size is read and checked once, chunk by
  chunk; ingest into a GeoPackage store stages each checked chunk's rows in
  a private file as it goes (other stores: the checked chunks wait in a
  temporary Arrow file), so memory stays bounded by a few chunks;
* a large file's chunks, or many files, are checked in parallel by helper
  processes (``workers``; :mod:`forestsink.landing.chunked`), with exactly the
  results of checking them here.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from forestsink.errors import ForestsinkError, IngestError
from forestsink.ingest import find_delivery_files, read_delivery
from forestsink.ingest.read import count_features, file_sha256, may_hold_more_than
from forestsink.ingest.vocabulary import read_vocabulary
from forestsink.landing.chunked import (
    check_file,
    checked_chunks,
    file_outcome,
    helper_check_file,
    helper_count,
    helper_count_files,
    helper_pool,
    helpers_ready,
    in_order,
    landing,
    landing_rows,
)
from forestsink.landing.nearby import store_polygons
from forestsink.landing.spill import read_spilled, spill_frame
from forestsink.landing.withdrawals import WITHDRAWAL_COLUMNS, read_withdrawals
from forestsink.reference import read_districts
from forestsink.store.gpkg import SMALL_BATCH, StagedRows, Stager
from forestsink.validate import ISSUE_COLUMNS, validate_delivery

__all__ = [
    "CHUNK_SIZE",
    "LAND_GROUP",
    "WITHDRAWAL_COLUMNS",
    "CheckReport",
    "IngestError",
    "check_deliveries",
    "ingest_deliveries",
    "read_withdrawals",
]

logger = logging.getLogger(__name__)

CHUNK_SIZE = 100_000


@dataclass
class CheckReport:
    """Result of checking a set of deliveries."""

    issues: pd.DataFrame
    deliveries: list = field(default_factory=list)  # (Delivery, ValidationResult)
    notes: list[tuple[str, str]] = field(default_factory=list)  # (file, note)
    large: list = field(default_factory=list)  # files checked in chunks
    #: per delivery, its rows made ready for a GeoPackage store (or None)
    ready: list = field(default_factory=list)
    #: every checked file in file order: ("large", dict from ``large``) or
    #: ("small", (delivery, result, ready))
    order: list = field(default_factory=list)

    @property
    def n_errors(self) -> int:
        """Number of blocking problems."""
        return int((self.issues["severity"] == "error").sum())


def _file_issue(path: Path, err: Exception | tuple[str, tuple]) -> dict:
    """Return the issue row of a file that cannot be read.

    *err* is the error, or ``(message, options)`` as a helper process sends
    it; ``option`` names the parameter(s) that would resolve it (``crs`` …),
    which the command line shows as flags.
    """
    message, options = (
        err if isinstance(err, tuple) else (str(err), getattr(err, "options", ()))
    )
    return {
        "severity": "error",
        "code": "unreadable_file",
        "file": path.name,
        "row": None,
        "project_id": None,
        "field": None,
        "value": None,
        "message": message,
        "action": "fix the file and deliver it again",
        "option": ",".join(options) or None,
    }


def check_deliveries(
    paths,
    *,
    layer: str | None = None,
    crs=None,
    encoding: str | None = None,
    year: int | None = None,
    district: str | None = None,
    project_type: str | None = None,
    programme: str | None = None,
    aliases=(),
    rules=None,
    max_unzipped: int | None = None,
    fix: bool = False,
    period: tuple[int, int] | None = None,
    area_tolerance: float = 0.10,
    existing=None,
    progress: Callable | None = None,
    chunk_size: int = CHUNK_SIZE,
    spill_dir: Path | None = None,
    stager: Callable | None = None,
    workers: int | None = None,
    prepare: bool = False,
    on_checked: Callable | None = None,
) -> CheckReport:
    """Read and validate deliveries; never touches a store.

    Parameters
    ----------
    paths : iterable of str or Path
        Files and folders (folders are searched for .shp/.gpkg/.geojson/.zip).
    existing : geopandas.GeoDataFrame or callable, optional (default: None)
        Current store polygons, for the overlap warning; or what gives them
        near each delivery (:class:`~forestsink.landing.nearby.
        NearbyPolygons`, see ``validate_delivery``).
    progress : callable, optional (default: None)
        Called as ``progress(path)`` after each file.
    chunk_size : int, optional (default: 100,000)
        Files with more features are read and checked in chunks of this many
        (memory stays bounded); duplicate ids are still found across chunks.
    spill_dir : Path, optional (default: None)
        Folder where the checked chunks of large files are kept (as Arrow
        files) for writing them without reading and checking them again;
        ``ingest_deliveries`` passes a temporary one. None: not kept.
    stager : callable, optional (default: None)
        ``stager(sha256)`` returns a store's :class:`~forestsink.store.gpkg.
        Stager` for a large file (or None): its checked chunks are staged for
        the store in the background while the next chunk is read and checked,
        instead of being kept in *spill_dir*.
    workers : int, optional (default: None)
        Helper processes that check a large file's chunks in parallel while
        they are staged (:mod:`forestsink.landing.chunked`); None: chosen from the
        file size and the machine's cores; 0: none.
    prepare : bool, optional (default: False)
        Also make each small file's rows without errors ready for a
        GeoPackage store while checking (``ingest_deliveries`` asks for it),
        in the helpers too; see ``CheckReport.ready``.
    on_checked : callable, optional (default: None)
        Called as ``on_checked(kind, item)`` (an entry of
        ``CheckReport.order``) for each readable file as soon as it is
        checked, in file order (``ingest_deliveries`` lands it then when
        ``skip_errors=True``).

    Other parameters are passed to ``read_delivery`` and ``validate_delivery``.
    """
    districts = read_districts()
    report = CheckReport(issues=pd.DataFrame(columns=list(ISSUE_COLUMNS)))
    tables = []
    read_options = {
        "layer": layer,
        "crs": crs,
        "encoding": encoding,
        "year": year,
        "district": district,
        "project_type": project_type,
        "programme": programme,
        "aliases": tuple(str(a) for a in aliases or ()),
        "rules": rules,
        "max_unzipped": max_unzipped,
    }
    # the user's aliases files are checked once, before any delivery: a
    # mistake there is the user's to fix, not the county's
    read_vocabulary(read_options["aliases"])
    check_options = {
        "districts": districts,
        "period": period,
        "area_tolerance": area_tolerance,
        "fix": fix,
    }
    pool = [None, 0]  # helper processes, started for the first large file
    done = False
    try:
        _check_files(
            paths,
            report,
            tables,
            read_options,
            check_options,
            existing,
            progress,
            chunk_size,
            spill_dir,
            stager,
            workers,
            pool,
            prepare,
            on_checked,
        )
        done = True
    finally:
        if pool[0] is not None:  # all consumed: they stop at once
            pool[0].shutdown(wait=done, cancel_futures=True)
    tables = [t for t in tables if len(t)]
    if tables:
        report.issues = pd.concat(tables, ignore_index=True)
    return report


def _check_files(
    paths,
    report,
    tables,
    read_options,
    check_options,
    existing,
    progress,
    chunk_size,
    spill_dir,
    stager,
    workers,
    pool,
    prepare,
    on_checked,
) -> None:
    """Check every file in file order into *report* and *tables*.

    A large file (more features than *chunk_size*) is checked chunk by
    chunk; the small files between two large ones are checked together
    (shared out with helpers when many).
    """
    files = list(find_delivery_files(paths))
    sizes = _large_sizes(files, read_options["layer"], chunk_size)
    k = 0
    while k < len(files):
        path, n = files[k], sizes[k]
        if n:
            wanted = helper_count(n, existing, workers, chunk_size=chunk_size)
            logger.info(
                "%s: %d features, checked in chunks of %d with %d helper(s)",
                path.name,
                n,
                chunk_size,
                wanted,
            )
            if pool[0] is None and wanted and prepare:
                pool[:] = [
                    helper_pool(wanted, existing, read_options, check_options, prepare),
                    wanted,
                ]
            try:
                large = _check_large(
                    path,
                    n,
                    chunk_size,
                    read_options,
                    check_options,
                    existing,
                    spill=_new_folder(spill_dir),
                    stager=stager,
                    pool=pool if wanted else (None, 0),
                )
            except ForestsinkError as err:
                tables.append(pd.DataFrame([_file_issue(path, err)]))
            else:
                _add_large(report, tables, large, on_checked)
            if progress is not None:
                progress(path)
            k += 1
            continue
        run = []  # the small files from here to the next large one
        while k + len(run) < len(files) and not sizes[k + len(run)]:
            run.append(files[k + len(run)])
        k += len(run)
        for path, (delivery, result, error, ready) in zip(
            run,
            _check_small(
                run, read_options, check_options, existing, workers, pool, prepare
            ),
            strict=True,
        ):
            if error is not None:
                tables.append(pd.DataFrame([_file_issue(path, error)]))
            else:
                _add_small(report, tables, (delivery, result, ready), on_checked)
            if progress is not None:
                progress(path)


def _large_sizes(files, layer, chunk_size) -> list[int]:
    """Return each file's feature count when above *chunk_size*, else 0.

    Only files that may hold that many features (by their size) are opened
    to count them; a file that cannot be counted is left to the normal read,
    which reports the problem.
    """
    sizes = []
    for path in files:
        n = 0
        if (
            path.suffix.lower() != ".zip"
            and chunk_size
            and may_hold_more_than(path, chunk_size)
        ):
            try:
                n = count_features(path, layer=layer)
            except ForestsinkError:
                n = 0  # the normal read reports the problem
        sizes.append(n if chunk_size and n > chunk_size else 0)
    return sizes


def _add_large(report, tables, large: dict, on_checked) -> None:
    """Record a large file checked in chunks (see :func:`_check_large`)."""
    issues = large.pop("issues")
    errors = issues[issues["severity"] == "error"]
    large["bad_rows"] = set(errors["row"].dropna().astype(int))
    report.large.append(large)
    report.order.append(("large", large))
    report.notes.extend((large["name"], n) for n in large["notes"])
    tables.append(issues)
    if on_checked is not None:
        on_checked("large", large)


def _add_small(report, tables, item, on_checked) -> None:
    """Record a small file checked whole: *item* is (delivery, result, ready)."""
    delivery, result, ready = item
    report.deliveries.append((delivery, result))
    report.ready.append(ready)
    report.order.append(("small", item))
    report.notes.extend((delivery.name, n) for n in delivery.notes)
    tables.append(result.issues)
    if on_checked is not None:
        on_checked("small", item)  # the same object: see _ingest


def _check_small(files, read_options, check_options, existing, workers, pool, prepare):
    """Yield ``(delivery, result, error, ready)`` for each file, in order.

    Many files are shared out with helper processes (:mod:`forestsink.
    chunked`), each reading and checking whole files.
    """

    def here(j):
        return check_file(files[j], read_options, check_options, existing, prepare)

    wanted = helper_count_files(len(files), existing, workers)
    if wanted and pool[0] is None:
        helpers = helper_pool(wanted, existing, read_options, check_options, prepare)
        pool[:] = [helpers, wanted]
    if not wanted or pool[0] is None:
        for j in range(len(files)):
            yield here(j)
        return
    yield from in_order(
        len(files),
        here,
        lambda j: pool[0].submit(helper_check_file, files[j]),
        file_outcome,
        pool[1],
        lambda: helpers_ready(pool[0]),
    )


def _new_folder(parent) -> Path | None:
    return None if parent is None else Path(tempfile.mkdtemp(dir=parent))


def _check_large(
    path,
    n,
    chunk_size,
    read_options,
    check_options,
    existing,
    spill=None,
    stager=None,
    pool=(None, 0),
) -> dict:
    """Check a large file chunk by chunk; keep issues and row numbers.

    With *stager* (see :func:`check_deliveries`), the rows of each checked
    chunk without errors so far are staged for the store in the background;
    else, with *spill* (a folder path), each checked chunk is written there
    as an Arrow file. Either way ingest need not read and check it again.
    """
    sha256 = file_sha256(path)
    staged = stager(sha256) if stager is not None else None
    try:
        return _check_chunks(
            path,
            n,
            chunk_size,
            {**read_options, "sha256": sha256},
            check_options,
            existing,
            spill,
            staged,
            pool,
        ) | {"sha256": sha256}
    except BaseException:
        if staged is not None:
            staged.close()
        raise


def _check_chunks(
    path, n, chunk_size, read_options, check_options, existing, spill, staged, pool
) -> dict:
    tables, notes, seen, flagged, spilled = [], [], {}, set(), []
    helpers, n_helpers = pool if staged is not None else (None, 0)
    for chunk in checked_chunks(
        path,
        n,
        chunk_size,
        read_options,
        check_options,
        existing,
        helpers=helpers,
        n_helpers=n_helpers,
        folder=staged.folder if staged is not None else None,
    ):
        tables.append(chunk.issues)
        first_table = len(tables) - 1
        notes.extend(x for x in chunk.notes if x not in notes)
        if spill is not None and staged is None:
            spilled.append(spill_frame(chunk.frame, spill / f"{len(spilled)}.arrow"))
        # plain lists: iterating an Arrow-backed column costs ~1.5 µs a value
        keys = chunk.ids["key"].tolist()
        rows = chunk.ids["source_row"].tolist()
        repeated = [i for i, k in enumerate(keys) if k is not None and k in seen]
        for i in repeated:
            pid = chunk.ids["project_id"].iloc[i]
            first = seen[keys[i]]
            pairs = [(rows[i], first)]
            if first not in flagged:  # name the first occurrence too, once
                pairs.append((first, rows[i]))
            for here, other in pairs:
                flagged.add(here)
                tables.append(pd.DataFrame([_duplicate_issue(path, here, other, pid)]))
        for k, r in zip(keys, rows, strict=True):
            if k is not None:
                seen.setdefault(k, r)
        if staged is None:
            continue
        if chunk.ready is not None:  # a helper's rows: without the repeats
            table, bounds = chunk.ready
            keep = ~np.isin(
                np.asarray(table["source_row"], dtype=np.int64),
                np.array([rows[i] for i in repeated], dtype=np.int64),
            )
            staged.add_table(table.filter(keep), bounds[keep])
        else:
            found = pd.concat(tables[first_table:])
            staged.add(landing_rows(chunk.frame, found))
    issues = pd.concat(
        [t for t in tables if len(t)] or [pd.DataFrame(columns=list(ISSUE_COLUMNS))],
        ignore_index=True,
    )
    return {
        "path": path,
        "name": path.name,
        "n": n,
        "chunk_size": chunk_size,
        "issues": issues,
        "notes": notes,
        "read_options": read_options,
        "check_options": check_options,
        "spilled": spilled if spill is not None and staged is None else None,
        "staged": staged,
    }


def _duplicate_issue(path: Path, row: int, other: int, pid) -> dict:
    """Return the issue of a project id met again in a later chunk (rows from 0)."""
    return {
        "severity": "error",
        "code": "duplicate_id",
        "file": path.name,
        "row": row,
        "project_id": pid,
        "field": "project_id",
        "value": pid,
        "message": "项目编号重复 / "
        f"project id {pid!r} appears more "
        f"than once in this delivery (also row {other + 1}, "
        "counted from 1)",
        "action": "give each polygon its own id, or merge the rows",
    }


def _large_frames(large: dict, bad_rows: set):
    """Yield a large file's features to store, chunk by chunk.

    From the chunks kept when it was checked, else by reading and checking
    it again.
    """
    for k, start in enumerate(range(0, large["n"], large["chunk_size"])):
        if large.get("spilled") is not None:
            frame = read_spilled(large["spilled"][k])
        else:
            delivery = read_delivery(
                large["path"],
                rows=(start, large["chunk_size"]),
                **large["read_options"],
            )
            frame = validate_delivery(delivery.frame, **large["check_options"]).frame
        yield frame[landing(frame, bad_rows)]


def ingest_deliveries(
    paths,
    store,
    *,
    skip_errors: bool = False,
    dry_run: bool = False,
    user: str | None = None,
    progress: Callable | None = None,
    check: Callable | None = None,
    **check_options,
) -> tuple[CheckReport, list[dict]]:
    """Check deliveries and write them to *store*, one batch per file.

    Parameters
    ----------
    paths : iterable of str or Path
        Delivery files (.shp, .gpkg, .geojson, .zip) or folders holding
        them; any CRS with a .prj, geometries land in EPSG:4490.
    store : Store
        An opened store (:func:`forestsink.store.open_store`).
    skip_errors : bool, default False
        Leave out features with errors and land the rest; else a file with
        errors lands nothing.
    dry_run : bool, default False
        Check only; write nothing.
    user : str, optional
        Account recorded on each batch (default: the login name).
    progress : callable, optional
        Called with progress messages on long work.
    check : callable, optional (default: None)
        Called as ``check(report)`` with the report of every file once all
        are checked, before anything is written (also on a dry run, and
        before errors refuse the ingest): an exception it raises refuses the
        ingest, with nothing written, and reaches the caller. The web
        application refuses another district's features here, so that a
        delivery is checked once. With *check*, ``skip_errors`` no longer
        lands each file as soon as it is checked (the hook must see all).
    **check_options
        Passed to :func:`~forestsink.ingest.read_delivery` and
        :func:`~forestsink.validate.validate_delivery` (``fix``, ``crs``,
        ``encoding``, tolerances in m and m²).

    Returns
    -------
    (CheckReport, list of dict)
        The report, and per file: ``file``, ``batch_id``, ``added``,
        ``changed``, ``unchanged``, ``skipped`` (features left out),
        ``status``.

    Raises
    ------
    IngestError
        If errors remain and ``skip_errors`` is False; nothing is written.
    """
    # the store's polygons near each delivery, as it stood before this ingest
    early_landing = skip_errors and not dry_run and check is None
    existing = store_polygons(store, pinned=early_landing)
    spill_dir = Path(tempfile.mkdtemp(prefix="forestsink-checked-"))
    stagers = []

    def stager(sha256):
        """Stage a large file while it is checked (GeoPackage stores)."""
        if dry_run or not hasattr(store, "stager") or store.find_batch_by_sha(sha256):
            return None
        stagers.append(store.stager(spill_dir))
        return stagers[-1]

    try:
        return _ingest(
            paths,
            store,
            existing=existing,
            spill_dir=spill_dir,
            stager=stager,
            skip_errors=skip_errors,
            dry_run=dry_run,
            user=user,
            progress=progress,
            check=check,
            early_landing=early_landing,
            **check_options,
        )
    finally:
        for one in stagers:
            one.close()
        shutil.rmtree(spill_dir, ignore_errors=True)


def _ingest(
    paths,
    store,
    *,
    existing,
    spill_dir,
    stager,
    skip_errors,
    dry_run,
    user,
    progress,
    check,
    early_landing,
    **opts,
):
    early = {}  # files landed while later files were checked
    pending = []  # small files checked, to land together (see LAND_GROUP)
    grouped = hasattr(store, "write_deliveries") and not dry_run

    def write(kind, item, dry=dry_run):
        if kind == "large":
            return _write_large(store, item, dry, user)
        delivery, result, rows = item
        return _write_small(store, delivery, result, rows, dry, user)

    def land_pending():
        items = pending[:]
        pending.clear()  # (tried once, whatever happens)
        outcomes = _write_smalls(store, items, user)
        early.update(zip(map(id, items), outcomes, strict=True))

    def land_now(kind, item):
        if grouped and kind == "small" and _groupable(item):
            pending.append(item)
            if len(pending) >= LAND_GROUP:
                land_pending()
        else:
            land_pending()
            early[id(item)] = write(kind, item)

    try:
        report = check_deliveries(
            paths,
            existing=existing,
            progress=progress,
            spill_dir=spill_dir,
            stager=stager,
            prepare=not dry_run and hasattr(store, "stager"),
            on_checked=land_now if early_landing else None,
            **opts,
        )
    except BaseException:
        # stopped (Ctrl-C, a crash): the files checked so far land, as each
        # would have landed on its own; the stop is what the caller sees
        with suppress(Exception):
            land_pending()
        raise
    if check is not None:
        check(report)  # nothing landed yet: it may refuse them all
    land_pending()
    if report.n_errors and not skip_errors:
        raise IngestError(
            f"{report.n_errors} error(s) in the deliveries; nothing was written "
            "to the store. Fix them (see the report), repair geometry "
            "automatically (fix), or leave the bad features out (skip_errors).",
            report,
            option=("fix", "skip_errors"),
        )
    outcomes = [
        {**_outcome(rec["file"], None), "status": "unreadable; skipped"}
        for rec in report.issues[report.issues["code"] == "unreadable_file"].to_dict(
            "records"
        )
    ]
    for kind, item in report.order:  # one batch per file, in file order
        if id(item) not in early:
            land_now(kind, item)
    land_pending()
    outcomes.extend(early.pop(id(item)) for _, item in report.order)
    return report, outcomes


def _write_large(store, large, dry_run, user) -> dict:
    """Write one large checked file as one batch (staged, or read again)."""
    bad_rows = large["bad_rows"]
    notes = [*large["notes"], f"read in chunks of {large['chunk_size']:,}"]
    staged = large["staged"]
    if staged is not None and bad_rows and staged.holds_any(bad_rows):
        staged = None  # a later chunk flagged a staged row: read it again
    return _write_batch(
        store,
        (lambda: staged)
        if staged is not None
        else (lambda: _large_frames(large, bad_rows)),
        name=large["name"],
        sha256=large["sha256"],
        notes=notes,
        skipped=len(bad_rows),
        dry_run=dry_run,
        user=user,
    )


#: small files (their rows made ready while checked) landed in one
#: transaction: each is still its own batch, all or nothing, but they share
#: one disk sync (see GeoPackageStore.write_deliveries); a kill loses at most
#: the group being written, whose files land on the next run
LAND_GROUP = 32


def _groupable(item) -> bool:
    rows = item[2]
    return rows is not None and len(rows) <= SMALL_BATCH


def _write_small(store, delivery, result, rows, dry_run, user) -> dict:
    """Write one small checked file as one batch (*rows*: made ready, or None)."""
    keep, skipped = _kept(result)
    return _write_batch(
        store,
        (lambda: rows) if rows is not None else (lambda: result.frame[keep]),
        name=delivery.name,
        sha256=delivery.sha256,
        notes=delivery.notes,
        skipped=skipped,
        dry_run=dry_run,
        user=user,
    )


def _kept(result) -> tuple[np.ndarray, int]:
    """Return the rows of a checked file that land, and how many are left out."""
    keep = landing(result.frame, set(result.errors["row"].astype(int)))
    return keep, int((~keep).sum())


def _write_smalls(store, items, user) -> list[dict]:
    """Write small checked files (rows made ready) in one transaction.

    One batch per file, as :func:`_write_small` writes them one by one.
    """
    if not items:
        return []
    plans = []
    for delivery, result, rows in items:
        _, skipped = _kept(result)
        plans.append(
            {
                "rows": rows,
                "source_name": delivery.name,
                "source_sha256": delivery.sha256,
                "note": _batch_note(delivery.notes, skipped),
                "user": user,
                "skipped": skipped,
            }
        )
    outcomes = []
    for plan, counts in zip(plans, store.write_deliveries(plans), strict=True):
        previous = counts.pop("identical_to")
        outcome = _outcome(plan["source_name"], plan["skipped"])
        if previous is not None:
            _identical(outcome, previous)
        else:
            _written(outcome, counts)
        outcomes.append(outcome)
    return outcomes


def _outcome(name: str, skipped) -> dict:
    return {
        "file": name,
        "batch_id": None,
        "added": 0,
        "changed": 0,
        "unchanged": 0,
        "skipped": skipped,
    }


def _batch_note(notes, skipped) -> str:
    note = "; ".join(notes)
    if skipped:
        note += f"; {skipped} feature(s) with errors left out"
    return note


def _identical(outcome: dict, previous: int) -> None:
    logger.info("%s: identical to batch %s; skipped", outcome["file"], previous)
    outcome["status"] = f"identical to batch {previous}; nothing changed"


def _written(outcome: dict, counts: dict) -> None:
    outcome.update(counts)
    outcome["status"] = (
        "written" if counts["batch_id"] else "no changes; nothing written"
    )


def _write_batch(store, frames, *, name, sha256, notes, skipped, dry_run, user):
    """Write one file's features as one batch and describe the outcome.

    *frames* is called only when something is to be written: it returns a
    frame, or an iterator of chunks (concatenated for stores that take one
    frame).
    """
    outcome = _outcome(name, skipped)
    previous = store.find_batch_by_sha(sha256)
    if previous is not None:
        _identical(outcome, previous)
        return outcome
    if dry_run:
        outcome["status"] = "dry run; nothing written"
        return outcome
    note = _batch_note(notes, skipped)
    data = frames()
    if not isinstance(data, pd.DataFrame | Stager | StagedRows) and not getattr(
        store, "accepts_chunks", False
    ):
        data = pd.concat(list(data), ignore_index=True)
    counts = store.write_delivery(
        data, source_name=name, source_sha256=sha256, note=note, user=user
    )
    _written(outcome, counts)
    return outcome
