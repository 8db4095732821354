"""The as-of and diff views, the Excel download, the logout and the batch list.

Endpoints beside :mod:`forestsink.web.api`, each calling the library
function of its CLI command (``current --as-of``, ``diff``, ``progress --out
x.xlsx``, ``batches``). :func:`forestsink.web.app.create_app` registers them
before the API's routes, so ``/api/logout`` and ``/api/batches`` are served
from here:

``GET /api/asof?as_of=BATCH|DATE[&district=]``
    The polygons valid as of a batch number or a date (``store.current``):
    polygons and area per district, and the polygons as a map layer.
``GET /api/diff?a=BATCH|DATE&b=BATCH|DATE[&district=]``
    What changed between two states (``store.diff``): the added, changed and
    withdrawn keys with their areas, and their counts per district.
``GET /api/progress.xlsx?by=district[&district=]``
    The workbook ``forestsink progress --out progress.xlsx`` writes (with
    ``district`` or for an editor: without other districts' rows).
``POST /api/logout``
    Ends every session of the account (its session version is raised), so
    the old cookie stops working, also if it was copied.
``GET /api/batches[?limit=N][&before=BATCH]``
    Every batch, oldest first; an editor's list: the batches touching their
    districts and the batches they made. With ``limit`` only the newest N
    of them (and with ``before`` only batches numbered below it: the next
    page of older ones); ``more`` says whether older ones remain. The
    batches page asks for :data:`PAGE_BATCHES` at a time (a list of every
    batch grows with the store: under the load test its encoding on the
    server's event loop was 9 % of a worker's time, py-spy).

An editor gets only their districts' rows from each (a ``district`` of
another district is refused with 403); viewers and admins get all.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import shutil
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd
import shapely.geometry
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from forestsink.errors import Denied, ForestsinkError, UnknownNameError
from forestsink.inventory.load import statistics_by_year
from forestsink.io import atomic_write
from forestsink.progress import progress_tables
from forestsink.reference import district_resolver
from forestsink.render.workbook import write_tables
from forestsink.store.common import parse_as_of
from forestsink.store.touched import batch_districts
from forestsink.store.users import end_sessions
from forestsink.web.security import Caller, authorize

__all__ = [
    "BatchDistricts",
    "asof_result",
    "diff_result",
    "progress_workbook",
    "routes",
]

#: polygons drawn on the as-of map, at most (the table counts all of them)
MAP_FEATURES = 5000
#: changed keys listed by the diff view, at most (the counts count all)
DIFF_ROWS = 5000
#: batches the batches page asks for at a time (``/api/batches?limit=``)
PAGE_BATCHES = 100
_VIEWS = ("district", "region", "unit", "city")
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

log = logging.getLogger(__name__)


def _records(frame: pd.DataFrame) -> list[dict]:
    """Return the rows of *frame* as JSON-ready dicts (NaN as null)."""
    if "geometry" in frame.columns:
        frame = pd.DataFrame(frame.drop(columns="geometry"))
    return json.loads(frame.to_json(orient="records", force_ascii=False))


def _names(codes) -> pd.DataFrame:
    resolver = district_resolver()
    codes = list(codes)
    return pd.DataFrame(
        {
            "adcode": codes,
            "name_zh": [resolver.name_zh.get(c, c) for c in codes],
            "name_en": [resolver.name_en.get(c, c) for c in codes],
        },
        dtype=object,  # also when empty (then merged with text codes)
    )


# --------------------------------------------------------------------------
# parameters
# --------------------------------------------------------------------------


def _districts(request: Request, caller: Caller) -> tuple[str, ...] | None:
    """Return the districts to show: ``district``, the editor's, or all (None)."""
    value = request.query_params.get("district", "").strip()
    if value:
        try:
            code = district_resolver().resolve(value, where="district")
        except UnknownNameError as err:
            raise Denied(
                400, f"未知区县“{value[:40]}”", str(err), option="district"
            ) from err
        if not caller.may_district(code):
            raise Denied(
                403,
                "此区县不在本账户的区县",
                f"district {code} is not in this account's districts",
                districts=[code],
            )
        return (code,)
    if caller.account.role == "editor":
        return tuple(caller.account.districts)
    return None


def _state(request: Request, name: str, *, required: bool) -> str | None:
    """Return the batch number or date of query parameter *name*, checked."""
    value = request.query_params.get(name, "").strip()
    if not value:
        if required:
            raise Denied(
                400,
                f"缺少参数 {name}（批次号或日期）",
                f"give {name}: a batch number (e.g. 12) or a date (2014-06-30)",
                option=name,
            )
        return None
    try:
        parse_as_of(value)
    except ForestsinkError as err:
        raise Denied(
            400,
            f"参数 {name} 无效：请给批次号（如 12）或日期（如 2014-06-30）",
            str(err) if name == "as_of" else f"{name}: {err}",
            option=name,
        ) from err
    return value


def _require_store(store) -> None:
    if not store.exists:
        raise Denied(404, "项目库为空", "the store holds no deliveries yet")


# --------------------------------------------------------------------------
# as of, diff
# --------------------------------------------------------------------------


def _features(frame, limit: int) -> dict:
    frame = frame.head(limit)
    geoms = frame.geometry
    if len(frame) and geoms.crs is not None and not geoms.crs.equals(4326):
        geoms = geoms.to_crs(4326)
    features = []
    for rec, geom in zip(
        frame[["key", "project_type", "year", "area_mu"]].to_dict("records"),
        geoms,
        strict=True,
    ):
        if geom is None or geom.is_empty:
            continue
        rec["year"] = None if pd.isna(rec["year"]) else int(rec["year"])
        rec["area_mu"] = None if pd.isna(rec["area_mu"]) else float(rec["area_mu"])
        features.append(
            {
                "type": "Feature",
                "geometry": shapely.geometry.mapping(geom),
                "properties": rec,
            }
        )
    return {"type": "FeatureCollection", "features": features}


def asof_result(store, as_of, *, districts=None, limit: int = MAP_FEATURES) -> dict:
    """Return the as-of view: polygons and area per district, and a map layer.

    Parameters
    ----------
    store : Store
        The project store.
    as_of : int or str or None
        A batch number or a date (UTC), as ``forestsink current --as-of``;
        None: now.
    districts : iterable of str, optional (default: None, every district)
        Adcodes to keep.
    limit : int, optional (default: MAP_FEATURES)
        Polygons in the map layer, at most.

    Returns
    -------
    dict
        ``n_polygons``, ``area_mu`` (mu, on the ellipsoid, as the store
        holds it), ``districts`` (rows: ``adcode``, ``name_zh``, ``name_en``,
        ``n_polygons``, ``area_mu``), ``features`` (GeoJSON, EPSG:4326) and
        ``truncated`` (the layer holds fewer polygons than the table counts).
    """
    frame = store.current(as_of=as_of)
    if districts is not None:
        frame = frame[frame["adcode"].isin(list(districts))]
    table = (
        frame.groupby("adcode", sort=True)
        .agg(n_polygons=("key", "size"), area_mu=("area_mu", "sum"))
        .reset_index()
    )
    table = _names(table["adcode"]).merge(table, on="adcode")
    return {
        "n_polygons": len(frame),
        "area_mu": float(frame["area_mu"].sum()),
        "districts": _records(table),
        "features": _features(frame, limit),
        "truncated": len(frame) > limit,
    }


def diff_result(store, a, b, *, districts=None, limit: int = DIFF_ROWS) -> dict:
    """Return the diff view: changed keys with areas, and counts per district.

    Parameters
    ----------
    store : Store
        The project store.
    a, b : int or str
        The two states: batch numbers or dates (UTC), as ``forestsink diff``.
    districts : iterable of str, optional (default: None, every district)
        Adcodes to keep.
    limit : int, optional (default: DIFF_ROWS)
        Changed keys listed, at most (the counts count them all).

    Returns
    -------
    dict
        ``changes`` (rows of :meth:`Store.diff` with ``adcode``),
        ``summary`` (per change: ``n_polygons``, ``area_mu_from``,
        ``area_mu_to``; mu), ``districts`` (per district: ``n_added``,
        ``n_changed``, ``n_withdrawn``, ``area_mu_from``, ``area_mu_to``)
        and ``truncated``.
    """
    table = store.diff(a, b)
    table.insert(1, "adcode", table["key"].astype(str).str.split("/").str[0])
    if districts is not None:
        table = table[table["adcode"].isin(list(districts))]
    sums = table.assign(
        area_mu_from=pd.to_numeric(table["area_mu_from"], errors="coerce"),
        area_mu_to=pd.to_numeric(table["area_mu_to"], errors="coerce"),
    )
    summary = (
        sums.groupby("change", sort=True)
        .agg(
            n_polygons=("key", "size"),
            area_mu_from=("area_mu_from", "sum"),
            area_mu_to=("area_mu_to", "sum"),
        )
        .reset_index()
    )
    counts = pd.crosstab(sums["adcode"], sums["change"])
    counts = counts.reindex(columns=["added", "changed", "withdrawn"], fill_value=0)
    counts.columns = ["n_added", "n_changed", "n_withdrawn"]
    areas = sums.groupby("adcode")[["area_mu_from", "area_mu_to"]].sum()
    per = counts.join(areas).reset_index()
    per = _names(per["adcode"]).merge(per, on="adcode") if len(per) else per
    return {
        "n_changes": len(table),
        "changes": _records(table.head(limit)),
        "summary": _records(summary),
        "districts": _records(per),
        "truncated": len(table) > limit,
    }


async def asof(request: Request) -> JSONResponse:
    """``GET /api/asof?as_of=BATCH|DATE[&district=]``: the store as of then."""
    caller = await authorize(request, "asof")
    as_of = _state(request, "as_of", required=False)
    districts = _districts(request, caller)
    store = request.app.state.store
    _require_store(store)
    try:
        body = await run_in_threadpool(asof_result, store, as_of, districts=districts)
    except ForestsinkError as err:
        raise Denied(400, "无法读取该时点", str(err)) from err
    return JSONResponse({"as_of": as_of, "district": districts, **body})


async def diff(request: Request) -> JSONResponse:
    """``GET /api/diff?a=&b=[&district=]``: what changed from state a to b."""
    caller = await authorize(request, "diff")
    a = _state(request, "a", required=True)
    b = _state(request, "b", required=True)
    districts = _districts(request, caller)
    store = request.app.state.store
    _require_store(store)
    try:
        body = await run_in_threadpool(diff_result, store, a, b, districts=districts)
    except ForestsinkError as err:
        raise Denied(400, "无法比较这两个时点", str(err)) from err
    return JSONResponse({"a": a, "b": b, "district": districts, **body})


# --------------------------------------------------------------------------
# the progress workbook
# --------------------------------------------------------------------------


def _only(tables, districts) -> object:
    """*tables* without the rows of districts not in *districts*.

    Rows of a region, a unit group or the city (no district adcode) stay:
    the progress page shows every account the whole city.
    """
    every = set(district_resolver().name_zh)
    keep = set(districts)
    shown = {}
    for name, table in tables.tables.items():
        rows = table
        if "adcode" in table.columns:
            codes = table["adcode"].astype(str)
            rows = table[codes.isin(keep) | ~codes.isin(every)]
        shown[name] = rows.reset_index(drop=True)
    settings = {
        **tables.settings,
        "districts": "仅本账户区县 only this account's districts: "
        + ", ".join(sorted(keep)),
    }
    return dataclasses.replace(tables, tables=shown, settings=settings)


def progress_workbook(store, path, *, by: str = "district", districts=None) -> Path:
    """Write the workbook of ``forestsink progress --by BY --out PATH.xlsx``.

    Parameters
    ----------
    store : Store
        The project store (with its forest-resource years, if any).
    path : str or Path
        The ``.xlsx`` file to write.
    by : str, optional (default: "district")
        The view on the first sheet: district, region, unit or city.
    districts : iterable of str, optional (default: None, every district)
        Keep only these districts' rows (regions and the city stay).

    Returns
    -------
    Path
        *path*.
    """
    tables = progress_tables(store, by=by, inventory=statistics_by_year(store))
    if districts is not None:
        tables = _only(tables, districts)
    return write_tables(tables, path, main="progress")


async def progress_xlsx(request: Request):
    """``GET /api/progress.xlsx?by=district[&district=]``: the progress workbook."""
    caller = await authorize(request, "download")
    by = request.query_params.get("by", "district")
    if by not in _VIEWS:
        raise Denied(
            400,
            "by 参数无效",
            "by must be district, region, unit or city",
            option="by",
        )
    districts = _districts(request, caller)
    store = request.app.state.store
    _require_store(store)
    folder = Path(tempfile.mkdtemp(prefix="forestsink-xlsx-"))
    name = f"forestsink-progress-{by}.xlsx"
    try:
        path = await run_in_threadpool(
            progress_workbook, store, folder / name, by=by, districts=districts
        )
    except ForestsinkError as err:
        shutil.rmtree(folder, ignore_errors=True)
        raise Denied(409, "进度表无法生成", str(err)) from err
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return FileResponse(
        path,
        media_type=_XLSX,
        filename=name,
        content_disposition_type="attachment",
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )


# --------------------------------------------------------------------------
# logout, the batch list
# --------------------------------------------------------------------------


async def logout(request: Request) -> JSONResponse:
    """``POST /api/logout``: end every session of the account, clear the cookie."""
    caller = await authorize(request, "logout")
    await run_in_threadpool(end_sessions, request.app.state.store, caller.name)
    request.session.clear()
    return JSONResponse({"ok": True})


def _stamps(batches: pd.DataFrame) -> list[str]:
    """``number@time`` of each batch: a rebuilt store's batch 1 is another."""
    return [
        f"{int(b)}@{t}"
        for b, t in zip(batches["batch_id"], batches["created_at"], strict=True)
    ]


def batch_districts_file(store, folder: Path) -> Path:
    """Return the file where :class:`BatchDistricts` keeps a store's answers.

    Parameters
    ----------
    store : Store
        The project store (its location names the file).
    folder : Path
        The upload folder (``.batch-districts/`` inside it).
    """
    tag = hashlib.sha256(str(store.path).encode()).hexdigest()[:12]
    return folder / ".batch-districts" / f"{tag}.json"


class BatchDistricts:
    """The districts each batch touched, found once per batch and process.

    A batch touches the districts of the versions it made (``batch_id``) and
    of the versions it ended (``ended_batch``): one query for the batches
    not known yet (:func:`forestsink.store.touched.batch_districts`). What
    a batch touched never changes once it is written, so the answers are
    kept in *file* (JSON, written atomically, each batch under its number
    and time), shared by the server's worker processes and read again at a
    restart. Inventory batches touch no project polygon.

    The file is read when the process knows no batch yet, and written at
    most once per :data:`SAVE_EVERY_S` seconds: under the load test (new
    batches every few tens of milliseconds) reading and writing it on
    every batch list, each time with every batch, grew with the store; the
    query for the new batches alone is one statement (on PostGIS by the
    indexes of batch_id and ended_batch).
    """

    #: least time between two writes of the file (s)
    SAVE_EVERY_S = 30.0

    def __init__(self, file: Path | None = None) -> None:
        self.file = file
        self._touched: dict[int, frozenset[str]] = {}
        self._lock = threading.Lock()
        self._saved_at = -math.inf

    def of(self, store, batches: pd.DataFrame) -> dict[int, frozenset[str]]:
        """Return ``{batch_id: adcodes}`` for the rows of *batches* (oldest first).

        Parameters
        ----------
        store : Store
            The project store.
        batches : pandas.DataFrame
            :meth:`Store.batches`, read before this call.
        """
        ids = [int(b) for b in batches["batch_id"]]
        with self._lock:
            if not self._touched and ids:  # a new process: the file's answers
                self._load(set(_stamps(batches)))
            if any(b not in self._touched for b in ids):
                self._scan(store, batches)
                if time.monotonic() - self._saved_at >= self.SAVE_EVERY_S:
                    self._save(batches)
                    self._saved_at = time.monotonic()
            return {b: self._touched[b] for b in ids}

    def _load(self, stamps: set[str]) -> None:
        """Take the file's answers for batches of this store (number@time)."""
        if self.file is None:
            return
        try:
            saved = json.loads(self.file.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # none yet, or being replaced
            return
        for stamp, codes in saved.items():
            if stamp in stamps:
                self._touched[int(stamp.split("@")[0])] = frozenset(codes)

    def _save(self, batches: pd.DataFrame) -> None:
        if self.file is None:
            return
        saved = {
            stamp: sorted(self._touched[int(b)])
            for stamp, b in zip(_stamps(batches), batches["batch_id"], strict=True)
        }
        try:
            with atomic_write(self.file) as tmp:
                tmp.write_text(json.dumps(saved), encoding="utf-8")
        except ForestsinkError as err:  # answers stay in this process
            log.warning("batch districts not kept: %s", err)

    def _scan(self, store, batches: pd.DataFrame) -> None:
        ids = [int(b) for b in batches["batch_id"]]
        missing = [b for b in ids if b not in self._touched]
        found = batch_districts(store, after=min(missing) - 1)
        for batch in missing:
            self._touched[batch] = found.get(batch, frozenset())


def batch_list(
    state, caller: Caller, *, limit: int | None = None, before: int | None = None
) -> tuple[pd.DataFrame, bool]:
    """Batches with their upload folder, ``districts`` and ``may_undo``.

    An editor's list holds the batches touching their districts and the
    batches they made (an unchanged re-delivery touches none).

    Parameters
    ----------
    state : starlette State
        The application's state (store, upload index, batch districts).
    caller : Caller
        Who asks.
    limit : int, optional (default: None, all)
        Only the newest *limit* of the caller's batches (oldest first).
    before : int, optional (default: None)
        Only batches with a smaller number.

    Returns
    -------
    (DataFrame, bool)
        The batches, oldest first, and whether older ones (of the caller's)
        were left out by *limit*.
    """
    store = state.store
    if not store.exists:
        return pd.DataFrame(), False
    frame = store.batches()
    touched = state.batch_districts.of(store, frame)  # all: it keeps them in a file
    if before is not None:
        frame = frame[frame["batch_id"] < before]
    mine = frame["user"] == caller.name
    if caller.right("batches") == "own":
        own = set(caller.account.districts)
        near = frame["batch_id"].map(lambda b: bool(touched[int(b)] & own))
        frame = frame[mine | near]
    more = limit is not None and len(frame) > limit
    if more:
        frame = frame.iloc[len(frame) - limit :]
    frame = frame.reset_index(drop=True)
    uploads = state.upload_index.by_batch()
    frame["upload"] = [uploads.get(int(b)) for b in frame["batch_id"]]
    frame["districts"] = [",".join(sorted(touched[int(b)])) for b in frame["batch_id"]]
    mine = frame["user"] == caller.name
    if caller.right("undo") == "no":
        frame["may_undo"] = False
    else:
        frame["may_undo"] = mine if caller.right("undo") == "own" else True
    return frame, more


def _whole_number(request: Request, name: str, *, least: int) -> int | None:
    """Return query parameter *name* as a whole number ≥ *least*, or None."""
    text = request.query_params.get(name)
    if text is None or text == "":
        return None
    try:
        value = int(text)
    except ValueError:
        value = least - 1
    if value < least:
        raise Denied(
            400,
            f"{name} 须为不小于 {least} 的整数",
            f"{name} must be a whole number of at least {least} (got {text!r})",
            option=name,
        )
    return value


def _batches_body(state, caller: Caller, limit, before) -> bytes:
    """Return the JSON answer of ``/api/batches``, encoded (in a worker thread)."""
    frame, more = batch_list(state, caller, limit=limit, before=before)
    rows = frame.to_json(orient="records", force_ascii=False) if len(frame) else "[]"
    return f'{{"batches": {rows}, "more": {json.dumps(more)}}}'.encode()


async def batches(request: Request) -> Response:
    """``GET /api/batches``: the batches (an editor: those touching their districts)."""
    caller = await authorize(request, "batches")
    limit = _whole_number(request, "limit", least=1)
    before = _whole_number(request, "before", least=1)
    body = await run_in_threadpool(
        _batches_body, request.app.state, caller, limit, before
    )
    return Response(body, media_type="application/json")


routes = [
    Route("/api/logout", logout, methods=["POST"]),
    Route("/api/batches", batches, methods=["GET"]),
    Route("/api/asof", asof, methods=["GET"]),
    Route("/api/diff", diff, methods=["GET"]),
    Route("/api/progress.xlsx", progress_xlsx, methods=["GET"]),
]
