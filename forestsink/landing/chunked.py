"""Checking deliveries in parallel: a large file's chunks, or many files.

A file with more features than the chunk size is read and checked one chunk
(a range of rows) at a time, so memory stays bounded by the chunk.
:func:`checked_chunks` yields the checked chunks in file order.

With *helpers* (an executor of separate processes, :func:`helper_pool`),
chunks are checked in parallel: a helper reads its chunk from the file
itself, checks it and computes the rows ready to stage (content hashes,
GeoPackage blobs: :func:`~forestsink.store.gpkg.staging_table`), and hands
them back in an Arrow file; this process checks the next unassigned chunk
meanwhile. A year's many small files are shared out the same way, whole
(:func:`check_file`). Threads are of no use for this work: most of it holds
Python's GIL (measured: reading and checking a chunk in a thread beside
another busy thread took as long as both one after the other). Results are
consumed in order (:func:`in_order`), so the report, the duplicates found
across chunks and the order in which rows are staged are exactly those of
checking alone (tested).

Helpers are worth their start-up (a new Python that imports the geospatial
stack, about 1.1 s) only for much work: :func:`helper_count` uses them from
:data:`PARALLEL_MIN_FEATURES` features in a file or
:data:`PARALLEL_MIN_FILES` files, one fewer than the machine's cores (at
most :data:`MAX_HELPERS`), and only when the store's current polygons (each
helper gets a copy, for the overlap warning) are few. ``workers=0`` (the
``workers`` argument of :func:`forestsink.landing.deliveries.check_deliveries` and
``ingest_deliveries``) turns them off.

Helpers are spawned (not forked): each imports this module, and with it the
reading, checking and staging code it runs, when it starts; nothing here is
imported lazily for them.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import shutil
import signal
import sys
import tempfile
import weakref
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from forestsink.errors import ForestsinkError
from forestsink.ingest import read_delivery
from forestsink.landing.nearby import existing_frame
from forestsink.reference import (
    loaded_tables,
    preload_tables,
    read_district_aliases,
    read_district_table,
    read_project_types,
)
from forestsink.store.gpkg import StagedRows, staging_table
from forestsink.validate import validate_delivery

logger = logging.getLogger(__name__)

#: files with fewer features are checked in this process only
PARALLEL_MIN_FEATURES = 150_000
#: with fewer small files than this, they are checked in this process only
PARALLEL_MIN_FILES = 12
#: most helper processes started for one check
MAX_HELPERS = 3
#: with more current polygons in the store than this, no helpers (each
#: would hold a copy of them)
HELPER_MAX_EXISTING = 200_000

#: chunks checked here ahead of the one a helper is still checking
LOCAL_AHEAD = 2

_BOUNDS = ("__minx", "__miny", "__maxx", "__maxy")


@dataclass
class CheckedChunk:
    """One checked chunk of a large file.

    Attributes
    ----------
    notes : list of str
        What reading assumed (encoding, CRS, ...).
    issues : pandas.DataFrame
        The chunk's problems (``ISSUE_COLUMNS``), rows numbered in the file.
    ids : pandas.DataFrame
        ``key``, ``source_row``, ``project_id`` of every row, in order.
    frame : geopandas.GeoDataFrame or None
        The checked rows, when checked in this process.
    ready : (pyarrow.Table, numpy.ndarray) or None
        From a helper: the rows without errors in this chunk, ready to stage,
        and their bounds (``minx, miny, maxx, maxy``).
    """

    notes: list
    issues: pd.DataFrame
    ids: pd.DataFrame
    frame: object = None
    ready: tuple | None = None


def landing(frame, bad_rows) -> np.ndarray:
    """Rows of a checked frame that go to the store: no error, not dropped.

    Returns a boolean array, one per row of *frame*.
    """
    rows = frame["source_row"].to_numpy(dtype=np.int64)
    bad = np.isin(rows, np.fromiter(bad_rows, np.int64, len(bad_rows)))
    return ~bad & ~frame["dropped"].to_numpy(dtype=bool)


def landing_rows(frame, issues):
    """Return the rows of a checked frame that go to the store, given its issues."""
    bad = issues.loc[issues["severity"] == "error", "row"].dropna()
    keep = landing(frame, set(bad.astype(int)))
    return frame if keep.all() else frame[keep]


def check_chunk(path, start, chunk_size, read_options, check_options, existing):
    """Read and check rows ``start … start + chunk_size`` of *path*, here."""
    delivery = read_delivery(path, rows=(start, chunk_size), **read_options)
    result = validate_delivery(delivery.frame, existing=existing, **check_options)
    frame = result.frame
    return CheckedChunk(
        notes=list(delivery.notes),
        issues=result.issues,
        ids=_ids(frame),
        frame=frame,
    )


def _ids(frame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "key": frame["key"].astype("string").to_numpy(dtype=object, na_value=None),
            "source_row": frame["source_row"].to_numpy(dtype=np.int64),
            "project_id": frame["project_id"].to_numpy(dtype=object),
        }
    )


def cap_workers(workers: int, tasks: int) -> int:
    """Cap an asked-for helper count at the machine's cores and the work.

    More helpers than cores only compete for them, and more than there are
    tasks (chunks or files) sit idle while each costs a Python process with
    pandas and GeoPandas loaded (about 130 MB): ``--workers 16`` for one
    three-feature file started 16 of them (2.1 GB) before this cap.

    Examples
    --------
    >>> cap_workers(16, 1)
    1
    >>> cap_workers(0, 50)
    0
    """
    return max(min(int(workers), os.cpu_count() or 1, max(int(tasks), 0)), 0)


def helper_count(
    n_features: int,
    existing=None,
    workers: int | None = None,
    *,
    chunk_size: int | None = None,
) -> int:
    """How many helper processes to check a file of *n_features* with.

    *workers* (when given) is the answer, capped at the cores and at the
    file's chunks (*chunk_size* rows each) by :func:`cap_workers`; else see
    the module docstring.
    """
    if workers is not None:
        chunks = -(-n_features // chunk_size) if chunk_size else n_features
        return cap_workers(workers, chunks)
    if n_features < PARALLEL_MIN_FEATURES:
        return 0
    if existing is not None and len(existing) > HELPER_MAX_EXISTING:
        return 0
    return max(min((os.cpu_count() or 1) - 1, MAX_HELPERS), 0)


def helper_count_files(n_files: int, existing=None, workers: int | None = None):
    """How many helper processes to check *n_files* small files with."""
    if workers is not None:
        return cap_workers(workers, n_files)
    if n_files < PARALLEL_MIN_FILES:
        return 0
    return helper_count(PARALLEL_MIN_FEATURES, existing)


def check_file(path, read_options, check_options, existing, prepare=False):
    """Read and check one whole file here: ``(delivery, result, error, ready)``.

    *error* is the :class:`~forestsink.errors.ForestsinkError` that made the
    file unreadable (then the others are None). With *prepare*, *ready*
    holds the rows without errors made ready for a GeoPackage store
    (:class:`~forestsink.store.gpkg.StagedRows`), so that writing the batch
    later is only the landing.
    """
    try:
        delivery = read_delivery(path, **read_options)
    except ForestsinkError as err:
        return None, None, err, None
    result = validate_delivery(delivery.frame, existing=existing, **check_options)
    ready = None
    if prepare:
        ready = StagedRows.of(landing_rows(result.frame, result.issues))
    return delivery, result, None, ready


def helper_check_file(path):
    """In a helper: :func:`check_file`; an error goes back as (message, options)."""
    delivery, result, error, ready = check_file(
        path,
        _HELPER["read_options"],
        _HELPER["check_options"],
        _HELPER["existing"],
        _HELPER["prepare"],
    )
    sent = None if error is None else (str(error), tuple(error.options))
    return delivery, result, sent, ready


def file_outcome(returned):
    """Turn what :func:`helper_check_file` returned into a check outcome."""
    delivery, result, error, ready = returned
    error = None if error is None else ForestsinkError(error)
    return delivery, result, error, ready


def helper_pool(
    n: int, existing, read_options: dict, check_options: dict, prepare: bool = False
):
    """Start *n* helper processes (spawned: safe beside this one's threads).

    They keep what stays the same for one check (the store's polygons, the
    reading and checking options with the district boundaries, the
    validated reference tables): a task sends a file name and rows only.
    """
    logger.info("starting %d helper process(es) to check deliveries", n)
    # the tables reading and checking use, validated here once for all
    read_district_table(), read_district_aliases(), read_project_types()
    # handed over in a file: through the start-up pipe, this process would
    # wait (about a second) until each helper had imported pandas, GeoPandas
    # and shapely to unpickle them, instead of checking files meanwhile
    fd, shared = tempfile.mkstemp(prefix="forestsink-helpers-", suffix=".pickle")
    try:
        with os.fdopen(fd, "wb") as f:
            pickle.dump(
                (
                    existing_frame(existing),
                    read_options,
                    check_options,
                    prepare,
                    loaded_tables(),
                ),
                f,
                protocol=pickle.HIGHEST_PROTOCOL,
            )
        pool = ProcessPoolExecutor(
            n,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_helper_init,
            initargs=(shared,),
        )
    except BaseException:
        _remove(shared)
        raise
    # removed with the pool (when it is collected, or at exit): a helper may
    # start late, and a pool can tell when one of them has started, not all
    weakref.finalize(pool, _remove, shared)
    with _main_hidden():  # each submit to an idle pool starts one helper
        pool.started = [pool.submit(int) for _ in range(n)]
    return pool


def helpers_ready(pool) -> bool:
    """Tell whether every helper of *pool* has started (or failed to).

    Until then :func:`in_order` gives them no small files: a file queued to
    a helper still importing its libraries (a second or two) would keep this
    process waiting for it instead of checking dozens of files itself. (A
    large file's chunks are queued at once: each takes longer than a start.)
    """
    return all(f.done() for f in getattr(pool, "started", ()))


@contextmanager
def _main_hidden():
    """Start processes without running the caller's main script in them.

    A spawned process normally imports the ``__main__`` module again (found
    from its ``__file__`` or ``__spec__``), which runs a script's code a
    second time unless it is guarded by ``if __name__ == "__main__":``, and
    fails for code read from stdin. Helpers need nothing from it (their
    work is in this module), so while they start it is not named.
    """
    main = sys.modules.get("__main__")
    saved = {k: getattr(main, k) for k in ("__file__", "__spec__") if hasattr(main, k)}
    try:
        if "__file__" in saved:
            del main.__file__
        if "__spec__" in saved:
            main.__spec__ = None
        yield
    finally:
        for name, value in saved.items():
            setattr(main, name, value)


#: in a helper process: the store's current polygons (for the overlap check)
_HELPER: dict = {
    "existing": None,
    "read_options": {},
    "check_options": {},
    "prepare": False,
}


def _remove(path: str) -> None:
    with suppress(OSError):
        os.unlink(path)


def _helper_init(shared: str) -> None:
    """In a helper: keep what every task of one check shares.

    *shared* is the file :func:`helper_pool` wrote: the store's polygons,
    the options, the validated reference tables. Ctrl-C reaches every
    process of the terminal; a helper leaves it to the main process, which
    stops the helpers (no traceback from each).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with open(shared, "rb") as f:
        existing, read_options, check_options, prepare, tables = pickle.load(f)

    _HELPER.update(
        existing=existing,
        read_options=read_options,
        check_options=check_options,
        prepare=prepare,
    )
    preload_tables(tables)


def _helper_check(path, start, chunk_size, sha256, out):
    """In a helper: check a chunk; write its rows ready to stage to *out*."""
    chunk = check_chunk(
        path,
        start,
        chunk_size,
        {**_HELPER["read_options"], "sha256": sha256},
        _HELPER["check_options"],
        _HELPER["existing"],
    )
    table, bounds = staging_table(landing_rows(chunk.frame, chunk.issues))
    for name, column in zip(_BOUNDS, bounds.T, strict=True):
        table = table.append_column(name, pa.array(column, pa.float64()))
    with pa.OSFile(str(out), "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
        w.write_table(table)
    return chunk.notes, chunk.issues, chunk.ids, out


def _from_helper(result) -> CheckedChunk:
    notes, issues, ids, out = result
    with pa.OSFile(str(out), "rb") as source:  # read whole: the file goes now
        table = pa.ipc.open_file(source).read_all()
    Path(out).unlink(missing_ok=True)
    bounds = np.column_stack([table.column(n).to_numpy() for n in _BOUNDS])
    table = table.drop_columns(list(_BOUNDS))
    return CheckedChunk(notes=notes, issues=issues, ids=ids, ready=(table, bounds))


def checked_chunks(
    path,
    n: int,
    chunk_size: int,
    read_options: dict,
    check_options: dict,
    existing,
    *,
    helpers=None,
    n_helpers: int = 0,
    folder=None,
) -> Iterator[CheckedChunk]:
    """Yield the checked chunks of *path* in file order.

    Parameters
    ----------
    helpers : concurrent.futures.Executor, optional (default: None)
        Helper processes (:func:`helper_pool`), *n_helpers* of them; None:
        every chunk is checked here.
    folder : Path, optional
        Where helpers leave their results (Arrow files, removed once read).
    """
    starts = list(range(0, n, chunk_size))

    def here(k):
        return check_chunk(
            path, starts[k], chunk_size, read_options, check_options, existing
        )

    if helpers is None or n_helpers < 1:
        for k in range(len(starts)):
            yield here(k)
        return
    folder = Path(tempfile.mkdtemp(prefix="forestsink-chunks-", dir=folder))

    def submit(k):
        return helpers.submit(
            _helper_check,
            path,
            starts[k],
            chunk_size,
            read_options.get("sha256"),
            folder / f"{starts[k]}.arrow",
        )

    try:
        # (queued to helpers still starting: a chunk takes longer than that)
        yield from in_order(len(starts), here, submit, _from_helper, n_helpers)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class _Failed:
    """A task done ahead of its turn that raised: re-raised in its turn."""

    error: Exception


def in_order(
    n: int, here, submit, collect, n_helpers: int, ready=lambda: True
) -> Iterator:
    """Yield the results of tasks ``0 … n-1`` in order, sharing them out.

    Helpers take the tasks after the one this process is on (``submit(k)``
    returns a future, ``collect(result)`` turns what it returns into the
    task's result); while a helper is still on the next task in order, this
    process does later ones (at most :data:`LOCAL_AHEAD` wait in memory; an
    error from one of them is raised in its turn, so the first error in
    order is the one reported). A helper that fails (or cannot be given
    work) is replaced by doing its task here, which raises the task's real
    error if there is one. Helpers get tasks once ``ready()`` is true.
    """
    assigned: dict[int, tuple[str, object]] = {}
    state = {"next": 0, "helpers": n_helpers}

    def feed(k):
        """Keep helpers supplied with the next unassigned tasks.

        With many tasks left each helper gets a second one queued, so that
        it does not wait for this process to hand it more; the look-ahead
        past task *k* stays bounded (memory).
        """
        if not ready():
            return
        busy = sum(1 for kind, _ in assigned.values() if kind == "helper")
        depth = 2 if n - state["next"] > 4 * n_helpers else 1
        while (
            busy < depth * state["helpers"]
            and state["next"] < n
            and state["next"] <= k + depth * n_helpers + LOCAL_AHEAD + 1
        ):
            j = state["next"]
            try:
                job = submit(j)
            except Exception:  # helpers broke: the rest is done here
                state["helpers"] = 0
                return
            state["next"] += 1
            assigned[j] = ("helper", job)
            busy += 1

    def result_of(k, job):
        try:
            return collect(job.result())
        except Exception:  # redone here: raises the real error, if any
            return here(k)

    try:
        for k in range(n):
            if k not in assigned:  # nobody has it: do it here, helpers go on
                state["next"] = max(state["next"], k + 1)
                feed(k)
                yield here(k)
                continue
            kind, job = assigned.pop(k)
            if kind == "here":
                feed(k)
                if isinstance(job, _Failed):  # raised in order, not ahead
                    raise job.error
                yield job
                continue
            # while the helper works on task k, do later tasks here (a few:
            # they wait in memory until task k is consumed)
            while (
                not job.done()
                and state["next"] < n
                and sum(kind == "here" for kind, _ in assigned.values()) < LOCAL_AHEAD
            ):
                j = state["next"]
                state["next"] += 1
                try:
                    assigned[j] = ("here", here(j))
                except Exception as err:  # its turn comes after task k's
                    assigned[j] = ("here", _Failed(err))
                feed(k)
            result = result_of(k, job)
            feed(k)
            yield result
    finally:
        for kind, job in assigned.values():
            if kind == "helper":
                job.cancel()
