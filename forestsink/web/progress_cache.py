"""The progress tables of the web application, computed in the background.

``progress_tables`` (the tables of ``forestsink progress``) reads the whole
store and nets every overlap: about half a second on a small store, more as
it grows. Computing it on every request after every new batch, in every
worker process, used the machine's cores for little else under load (the
load test measured a p95 of 6 s). Here it is computed at most once per store
state, by one worker at a time, in a background thread, and every worker
serves the last complete result with its as-of stamp:

- the store's state is its batch count, last batch id and time (one query,
  :func:`forestsink.store.touched.batch_state`; every landing,
  withdrawal and undo adds a batch); a result is *current* when it was
  computed at the state the store has now;
- a request that finds a current result answers it at once; one that finds
  an older result starts the refresh and waits for it up to ``wait_s``
  seconds, then answers the older result marked ``current: false`` with the
  state it was computed at and the store's present state (never stale
  without saying so); one that finds no result computes it;
- a landing starts the refresh of the views asked for before;
- results are files in ``folder`` (JSON, written atomically), shared by the
  worker processes; an exclusive lock on a file beside them lets one
  worker compute at a time, and a computation waits until ``interval_s``
  seconds, or :data:`COST_FACTOR` times the previous computation's
  duration if that is longer, have passed since the previous one started,
  so that a stream of uploads costs one computation per interval, not one
  per upload, and the tables take at most about a quarter of a core
  however large the store (under the load test a computation took about
  1 s: every 2 s was half a core);
- with ``process=True`` (what ``serve`` uses) the computation runs in a
  helper process of the worker, started once (spawn) at a lower priority
  (:data:`CHILD_NICE`): the tables are pure Python and pandas work that
  held the worker's interpreter lock for 0.5–0.7 s every 2 s under the load
  test (a third of a worker's samples, py-spy), so the uploads' checks and
  the light requests waited behind it. In its own process it takes a core
  only when one is free, and the worker's requests go on beside it.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import logging
import multiprocessing
import os
import pickle
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from forestsink.errors import ForestsinkError, StoreError
from forestsink.io import atomic_write
from forestsink.store import open_store
from forestsink.store.touched import batch_state

__all__ = ["CHILD_NICE", "COST_FACTOR", "ProgressCache"]

log = logging.getLogger(__name__)

#: the least time between two computations, in durations of the last one
COST_FACTOR = 4.0
#: how much lower the helper process's priority is than the worker's (nice)
CHILD_NICE = 10

_child_stores: dict[str, object] = {}  # in the helper process: opened stores


def _child_start(nice: int) -> None:
    """Start the helper process: lower its priority, leave stopping to its worker.

    The helper ignores SIGINT and SIGTERM: a service manager (systemd, or a
    ``kill`` of the process group) sends them to every process, and a helper
    that died first made its worker log a broken computation while it was
    shutting down. It ends when its worker does (the worker's executor
    tells it), or within a second of its worker's death (a watch of the
    parent process: a worker killed outright, e.g. for memory, leaves no
    helper behind).
    """
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)  # the worker is gone: nobody will ask for tables

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()
    try:
        os.nice(nice)
    except OSError:  # not allowed here: same priority
        pass


def _child_store(location: str):
    """In the helper process: the store at *location*, opened once."""
    store = _child_stores.get(location)
    if store is None:
        store = _child_stores[location] = open_store(location)
    return store


def _child_warm(location: str, compute: Callable) -> None:
    """In the helper process: open the store (*compute* is imported on arrival)."""
    _child_store(location)


def _child_compute(location: str, compute: Callable, by: str) -> dict:
    """In the helper process: ``compute(store, by)`` on the store at *location*.

    A library error that does not survive pickling (one with more than a
    message; none that the progress tables raise today) comes back as a
    :class:`StoreError` with its message.
    """
    store = _child_store(location)
    try:
        return compute(store, by)
    except ForestsinkError as err:
        try:
            pickle.loads(pickle.dumps(err))
        except Exception:  # any unpicklable error: its message
            raise StoreError(str(err)) from None
        raise


def _same(a: dict, b: dict) -> bool:
    keys = ("batches", "last_batch_id", "last_batch_at")
    return all(a.get(k) == b.get(k) for k in keys)


class ProgressCache:
    """Progress results of one store, shared by the worker processes.

    Parameters
    ----------
    store : Store
        The opened store.
    folder : Path
        Where the results and the lock live (made when needed).
    compute : callable
        ``compute(store, by)`` returns the JSON-ready result (``tables``,
        ``settings``) of one view.
    wait_s : float, optional (default: 0.0)
        How long a request waits for a refresh before it answers the older
        result (marked not current).
    interval_s : float, optional (default: 2.0)
        Least time between the starts of two computations (longer when the
        last one took more than ``interval_s / COST_FACTOR``).
    location : str or None, optional
        The store's location (path or URL), needed with *process*.
    process : bool, optional (default: False)
        Compute in a helper process (see the module); *compute* must then be
        a module-level function.
    """

    def __init__(
        self,
        store,
        folder: Path,
        compute: Callable,
        *,
        wait_s: float = 0.0,
        interval_s: float = 2.0,
        location: str | None = None,
        process: bool = False,
    ) -> None:
        self.store = store
        self.folder = Path(folder)
        self.compute = compute
        self.wait_s = wait_s
        self.interval_s = interval_s
        self._tag = hashlib.sha256(str(store.path).encode()).hexdigest()[:12]
        self._memory: dict[str, tuple[tuple, dict]] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._guard = threading.Lock()
        self.location = None if location is None else str(location)
        self.process = bool(process and location is not None)
        self._pool: ProcessPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    # -- helper process ----------------------------------------------------

    def _pool_now(self) -> ProcessPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    1,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_child_start,
                    initargs=(CHILD_NICE,),
                )
            return self._pool

    def start(self) -> None:
        """Start the helper process now, in the background (with *process*).

        It imports the library and opens the store (1–2 s of CPU) while the
        server starts, not beside the first uploads. Does nothing without
        *process*.
        """
        if self.process:
            self._pool_now().submit(_child_warm, self.location, self.compute)

    def _in_child(self, by: str) -> dict:
        """Run ``compute(store, by)`` in the helper process (started once)."""
        pool = self._pool_now()
        try:
            return pool.submit(_child_compute, self.location, self.compute, by).result()
        except BrokenProcessPool as err:  # it died (killed, out of memory)
            with self._pool_lock:
                if self._pool is pool:
                    self._pool = None  # the next computation starts a new one
            raise StoreError(
                "进度表计算进程意外退出，下次请求将重试 / the process computing the "
                "progress tables ended unexpectedly; the next request tries again."
            ) from err

    def close(self) -> None:
        """Stop the helper process, if one was started."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    # -- files -------------------------------------------------------------

    def _file(self, by: str) -> Path:
        return self.folder / f"progress-{self._tag}-{by}.json"

    def _read(self, by: str) -> dict | None:
        """Return the last complete result of view *by*, or None."""
        path = self._file(by)
        try:
            info = path.stat()
        except FileNotFoundError:
            return None
        stamp = (info.st_ino, info.st_mtime_ns, info.st_size)
        held = self._memory.get(by)
        if held is not None and held[0] == stamp:
            return held[1]
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # being replaced: the next read has it
            return held[1] if held is not None else None
        self._memory[by] = (stamp, result)
        return result

    def _compute_locked(self, by: str, *, throttle: bool) -> dict:
        """Compute view *by* under the cross-process lock, unless done already."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with (self.folder / f"progress-{self._tag}.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                last = self._read(by)
                if throttle and last is not None:
                    every = max(self.interval_s, COST_FACTOR * last["seconds"])
                    pause = last["started"] + every - time.time()
                    if pause > 0:
                        time.sleep(pause)
                state = batch_state(self.store)
                if state is None:  # (a store is never removed while served)
                    state = {"batches": 0, "last_batch_id": None, "last_batch_at": None}
                if last is not None and _same(last["as_of"], state):
                    return last  # another worker did it
                started = time.time()
                if self.process:
                    result = dict(self._in_child(by))
                else:
                    result = dict(self.compute(self.store, by))
                result.update(
                    as_of=state,
                    started=started,
                    computed_at=dt.datetime.now(dt.UTC).isoformat(),
                    seconds=round(time.time() - started, 3),
                )
                with atomic_write(self._file(by)) as tmp:
                    tmp.write_text(json.dumps(result, ensure_ascii=False), "utf-8")
                log.info(
                    "progress by %s computed at batch %s in %.2f s",
                    by,
                    state["last_batch_id"],
                    result["seconds"],
                )
                return result
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    # -- background --------------------------------------------------------

    def _run(self, by: str) -> None:
        try:
            self._compute_locked(by, throttle=True)
        except Exception:  # a background failure is logged, the request retries
            log.exception("progress by %s: background computation failed", by)
        finally:
            with self._guard:
                self._threads.pop(by, None)

    def refresh(self, by: str) -> threading.Thread:
        """Start the background refresh of view *by* (once per process)."""
        with self._guard:
            thread = self._threads.get(by)
            if thread is None:
                thread = threading.Thread(
                    target=self._run, args=(by,), daemon=True, name=f"progress-{by}"
                )
                self._threads[by] = thread
                thread.start()
            return thread

    def refresh_known(self) -> None:
        """Start the refresh of every view this process has answered."""
        for by in list(self._memory):
            self.refresh(by)

    # -- answers -----------------------------------------------------------

    def get(self, by: str) -> dict | None:
        """Return the answer for view *by*: tables, settings, as-of, current.

        None when the store does not exist yet. Blocks (in a worker thread)
        only when there is no result yet, or up to ``wait_s`` for a refresh.
        """
        state = batch_state(self.store)
        if state is None:
            return None
        result = self._read(by)
        if result is None:
            result = self._compute_locked(by, throttle=False)
        elif not _same(result["as_of"], state):
            self.refresh(by).join(self.wait_s)
            result = self._read(by) or result
        current = _same(result["as_of"], state)
        return {
            "tables": result["tables"],
            "settings": result["settings"],
            "as_of": result["as_of"],
            "computed_at": result["computed_at"],
            "current": current,
            "store_state": state,
        }
