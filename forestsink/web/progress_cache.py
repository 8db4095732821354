"""The progress tables of the web application, computed in the background.

``progress_tables`` (the tables of ``forestsink progress``) reads the whole
store and nets every overlap: about half a second on a small store, more as
it grows. Computing it on every request after every new batch, in every
worker process, used the machine's cores for little else under load (the
load test measured a p95 of 6 s). Here it is computed at most once per store
state, by one worker at a time, in a background thread, and every worker
serves the last complete result with its as-of stamp:

- the store's state is its batch count, last batch id and time (every landing,
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
  seconds have passed since the previous one started, so that a stream of
  uploads costs one computation per ``interval_s``, not one per upload.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from forestsink.io import atomic_write

__all__ = ["ProgressCache"]

log = logging.getLogger(__name__)


def store_state(store) -> dict | None:
    """Return the store's state: batch count, last batch id and time.

    None when the store does not exist yet (nothing landed).
    """
    if not store.exists:
        return None
    batches = store.batches()
    if not len(batches):
        return {"batches": 0, "last_batch_id": None, "last_batch_at": None}
    return {
        "batches": len(batches),
        "last_batch_id": int(batches["batch_id"].max()),
        "last_batch_at": str(batches["created_at"].iloc[-1]),
    }


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
        Least time between the starts of two computations.
    """

    def __init__(
        self,
        store,
        folder: Path,
        compute: Callable,
        *,
        wait_s: float = 0.0,
        interval_s: float = 2.0,
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
                    pause = last["started"] + self.interval_s - time.time()
                    if pause > 0:
                        time.sleep(pause)
                state = store_state(self.store)
                if state is None:  # (a store is never removed while served)
                    state = {"batches": 0, "last_batch_id": None, "last_batch_at": None}
                if last is not None and _same(last["as_of"], state):
                    return last  # another worker did it
                started = time.time()
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
        state = store_state(self.store)
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
