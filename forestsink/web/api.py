"""The JSON API under ``/api/``: the CLI's tools behind sessions and rights.

Every endpoint calls the library function its CLI command calls
(``check_deliveries`` for ``validate``, ``ingest_deliveries`` for ``ingest``,
the store's ``batches``/``history``/``withdraw``/``undo``, ``progress_tables``)
in a worker thread, and records the account as the batch's ``user``.
Answers are JSON; a refusal has ``error`` (Chinese / English), ``zh`` and
``en``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import tempfile
import threading
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import pandas as pd
import shapely.geometry
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from forestsink.errors import Denied, ForestsinkError, StoreError
from forestsink.ingest.read import extract_zip_layers, zip_layer_count
from forestsink.ingest.vocabulary import store_aliases_path
from forestsink.landing.deliveries import (
    IngestError,
    check_deliveries,
    ingest_deliveries,
)
from forestsink.progress import progress_tables
from forestsink.reference import district_resolver
from forestsink.store.users import (
    clear_login_failures,
    list_users,
    login_blocked,
    record_login_failure,
    verify_login,
)
from forestsink.web.security import (
    Caller,
    authorize,
    denied_response,
    new_csrf_token,
)

__all__ = [
    "UPLOAD_CHECKS",
    "UPLOAD_CHECKS_ENV",
    "UPLOAD_THREADS",
    "UPLOAD_THREADS_ENV",
    "UploadIndex",
    "progress_result",
    "routes",
]

logger = logging.getLogger(__name__)

#: what ``POST /api/deliveries`` takes (a zip holds one layer: ingest's rule)
UPLOAD_SUFFIXES = (".zip", ".gpkg", ".geojson", ".json")
#: features without issues drawn on the upload page's map, at most
MAP_FEATURES = 5000
_SAFE_CHARS = re.compile(r"[^\w\-.() ]")
_TRUE = {"1", "true", "yes", "on"}
#: long-lived threads per server process that check and land uploads (an
#: upload waiting for the store's write lock holds one, idle)
UPLOAD_THREADS = 16
#: environment variable that sets :data:`UPLOAD_THREADS` for every worker
#: process (0: the server's shared thread pool, as before #20)
UPLOAD_THREADS_ENV = "FORESTSINK_UPLOAD_THREADS"
#: uploads checked (read and validated) at once per server process; the
#: others wait their turn, first come, first served. Measured with the load
#: bench (20 users, 2 workers, 2 cores): 1 gave uploads p95 1.5-1.9 s, 2 gave
#: 1.3-1.7 s, no bound (0) let the light requests miss 500 ms p95 (batch list
#: 531 ms); pages and queries p95 stayed below 370 ms with 1 and 2
UPLOAD_CHECKS = 2
#: environment variable that sets :data:`UPLOAD_CHECKS` (0: no bound)
UPLOAD_CHECKS_ENV = "FORESTSINK_UPLOAD_CHECKS"
_upload_pool: dict = {"pid": None, "executor": None, "checks": None}
_upload_pool_lock = threading.Lock()


def _frame_json(frame: pd.DataFrame) -> list[dict]:
    """Return the records of *frame*, NaN as null, times as ISO text."""
    if "geometry" in frame.columns:
        frame = pd.DataFrame(frame.drop(columns="geometry"))
    return json.loads(frame.to_json(orient="records", force_ascii=False))


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "").lower() in _TRUE


def _library_error(err: Exception, status: int = 400) -> Denied:
    return Denied(status, "请求无法完成", str(err))


# --------------------------------------------------------------------------
# login, me (logout and the batch list: views.py)
# --------------------------------------------------------------------------


async def _credentials(request: Request) -> tuple[str, str]:
    kind = request.headers.get("content-type", "")
    try:
        if kind.startswith("application/json"):
            data = await request.json()
        else:
            data = await request.form()
    except ValueError as err:
        raise Denied(400, "请求体无法解析", f"the body cannot be read ({err})") from err
    if not isinstance(data, dict) and not hasattr(data, "get"):
        data = {}
    username, password = data.get("username"), data.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise Denied(
            400,
            "需要用户名和密码",
            "give username and password (form fields or JSON)",
        )
    return username, password


async def login(request: Request) -> JSONResponse:
    """``POST /api/login``: check the password, start a session.

    A login posted from another site's page (``Origin`` of another host, or
    ``Sec-Fetch-Site: cross-site``) is refused: no login CSRF.
    """
    origin = request.headers.get("origin")
    cross = request.headers.get("sec-fetch-site") == "cross-site"
    if cross or (origin and urlsplit(origin).netloc != request.url.netloc):
        raise Denied(403, "不接受来自其他网站的登录", "login from another site refused")
    username, password = await _credentials(request)
    state = request.app.state
    settings = state.settings
    address = request.client.host if request.client else "unknown"
    wait = await run_in_threadpool(
        login_blocked,
        state.store,
        account=username,
        address=address,
        limit=settings.login_limit,
        window=settings.login_window_s,
        lockout=settings.login_lockout_s,
    )
    if wait > 0:
        response = denied_response(
            Denied(
                429,
                f"登录失败次数过多，请 {int(wait) + 1} 秒后再试",
                f"too many failed logins; try again in {int(wait) + 1} s",
            )
        )
        response.headers["Retry-After"] = str(int(wait) + 1)
        return response
    account = await run_in_threadpool(verify_login, state.store, username, password)
    if account is None:
        await run_in_threadpool(
            record_login_failure, state.store, account=username, address=address
        )
        raise Denied(401, "用户名或密码错误，或账户已停用", "wrong name or password")
    await run_in_threadpool(clear_login_failures, state.store, account=account.name)
    token = new_csrf_token()
    request.session.clear()
    request.session.update(
        {"uid": account.user_id, "sv": account.session_version, "csrf": token}
    )
    return JSONResponse({**_account_json(account), "csrf_token": token})


def _account_json(account) -> dict:
    return {
        "user": account.name,
        "role": account.role,
        "districts": list(account.districts),
    }


async def me(request: Request) -> JSONResponse:
    """``GET /api/me``: the session's account and its CSRF token."""
    caller = await authorize(request, "me")
    return JSONResponse(
        {**_account_json(caller.account), "csrf_token": request.session["csrf"]}
    )


# --------------------------------------------------------------------------
# deliveries
# --------------------------------------------------------------------------


def safe_file_name(name: str | None) -> str:
    """Return a plain file name for an uploaded file, or raise Denied.

    Only the last part of the name the browser sent is kept, normalised
    (NFC), with characters other than letters, digits, ``-_.() `` replaced;
    it must end in one of :data:`UPLOAD_SUFFIXES`.
    """
    text = unicodedata.normalize("NFC", str(name or "")).replace("\\", "/")
    base = PurePosixPath(text).name.strip().lstrip(".")
    base = _SAFE_CHARS.sub("_", base)[-120:]
    if not base.lower().endswith(UPLOAD_SUFFIXES) or len(base) <= 4:
        raise Denied(
            400,
            "请上传 zip、GeoPackage 或 GeoJSON 文件",
            "upload a .zip (one layer), .gpkg or .geojson file "
            f"(got {str(name)[:80]!r})",
        )
    return base


def _new_folder(parent: Path) -> Path:
    parent.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    folder = parent / f"{stamp}-{secrets.token_hex(4)}"
    folder.mkdir()
    return folder


async def _save(upload: UploadFile, folder: Path, name: str) -> tuple[Path, str, int]:
    """Copy the upload into *folder* as *name*; return (path, SHA-256, size)."""
    target = (folder / name).resolve()
    if target.parent != folder.resolve():  # never outside the folder
        raise Denied(400, "文件名无效", "invalid file name")
    digest = hashlib.sha256()
    size = 0
    with target.open("xb") as out:
        while block := await upload.read(1 << 20):
            digest.update(block)
            size += len(block)
            out.write(block)
    return target, digest.hexdigest(), size


def _issues_json(report) -> list[dict]:
    issues = report.issues.copy()
    issues["row"] = pd.to_numeric(issues["row"], errors="coerce").astype("Int64") + 1
    return _frame_json(issues)


def _features(report, *, limit: int = MAP_FEATURES) -> dict:
    """GeoJSON (EPSG:4326) of the delivered features for the map.

    Every feature with an issue (its messages in ``issues``, its worst
    severity in ``severity``), and the others up to *limit* features.
    """
    features: list[dict] = []
    rank = {"error": 0, "warning": 1, "fixed": 2}
    for delivery, result in report.deliveries:
        issues = report.issues[report.issues["file"] == delivery.name]
        found: dict[int, list] = {}
        for rec in issues.to_dict("records"):
            if not pd.isna(rec["row"]):
                found.setdefault(int(rec["row"]), []).append(rec)
        frame = result.frame
        geoms = frame.geometry
        if geoms.crs is not None and not geoms.crs.equals(4326):
            geoms = geoms.to_crs(4326)
        for row, pid, geom in zip(
            frame["source_row"], frame["project_id"], geoms, strict=True
        ):
            recs = found.get(int(row), [])
            if geom is None or geom.is_empty or (not recs and len(features) >= limit):
                continue
            worst = min((r["severity"] for r in recs), key=rank.get, default="ok")
            features.append(
                {
                    "type": "Feature",
                    "geometry": shapely.geometry.mapping(geom),
                    "properties": {
                        "file": delivery.name,
                        "row": int(row) + 1,
                        "project_id": None if pd.isna(pid) else str(pid),
                        "severity": worst,
                        "issues": [f"{r['code']}: {r['message']}" for r in recs],
                    },
                }
            )
    return {"type": "FeatureCollection", "features": features}


def _report_json(report) -> dict:
    counts = report.issues["severity"].value_counts().to_dict()
    files = []
    for delivery, result in report.deliveries:
        adcodes = result.frame["adcode"].dropna().astype(str)
        files.append(
            {
                "file": delivery.name,
                "features": len(result.frame),
                "districts": sorted(set(adcodes)),
            }
        )
    return {
        "n_errors": int(counts.get("error", 0)),
        "n_warnings": int(counts.get("warning", 0)),
        "n_fixed": int(counts.get("fixed", 0)),
        "files": files,
        "notes": [{"file": f, "note": str(n)} for f, n in report.notes],
        "issues": _issues_json(report),
        "features": _features(report),
    }


def _outside(report, caller: Caller) -> list[str]:
    """Districts of delivered features the caller may not deliver for."""
    found = set()
    for _, result in report.deliveries:
        found.update(result.frame["adcode"].dropna().astype(str))
    return sorted(code for code in found if not caller.may_district(code))


def _district_names(codes: list[str]) -> list[str]:
    names = district_resolver().name_zh
    return [f"{names.get(c, c)} ({c})" for c in codes]


def _options(request: Request, location) -> dict:
    aliases = store_aliases_path(location)
    return {
        "fix": _flag(request, "fix"),
        "aliases": [str(aliases)] if aliases is not None and aliases.is_file() else [],
        "workers": 0,  # no helper processes inside a server worker
        "chunk_size": 0,  # whole files: each feature's district is known
    }


def _env_count(name: str, default: int) -> int:
    """Return the whole number ≥ 0 in environment variable *name*, else *default*."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        return max(int(text), 0)
    except ValueError:
        logger.warning("%s=%r is not a whole number; %d used", name, text, default)
        return default


def _upload_pool_now() -> dict:
    """Return this process's upload threads and check slots (made once)."""
    with _upload_pool_lock:
        if _upload_pool["pid"] != os.getpid():
            threads = _env_count(UPLOAD_THREADS_ENV, UPLOAD_THREADS)
            checks = _env_count(UPLOAD_CHECKS_ENV, UPLOAD_CHECKS)
            _upload_pool.update(
                pid=os.getpid(),
                executor=ThreadPoolExecutor(
                    threads, thread_name_prefix="forestsink-upload"
                )
                if threads
                else None,
                checks=threading.Semaphore(checks) if checks else None,
            )
        return _upload_pool


async def _in_upload_thread(fn, *args, **kwargs):
    """Run ``fn(*args, **kwargs)`` in one of this process's upload threads.

    Long-lived threads (:data:`UPLOAD_THREADS`), not the server's shared
    pool, whose threads come and go: a new thread pays again for what each
    thread keeps (GDAL/PROJ contexts, the prepared district pieces: 0.1 to
    0.25 s, measured).
    """
    executor = _upload_pool_now()["executor"]
    if executor is None:
        return await run_in_threadpool(fn, *args, **kwargs)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor, functools.partial(fn, *args, **kwargs))


class _CheckTurn:
    """One of the process's :data:`UPLOAD_CHECKS` check slots, held until let go.

    Checks in one process share its interpreter lock: more at once makes
    each slower, and the light requests and the landing beside them; so
    they take turns, first come, first served (a semaphore wakes its
    waiters in order). A landing lets its slot go once checked, before it
    waits for the store's write lock.
    """

    def __init__(self) -> None:
        self._slots = _upload_pool_now()["checks"]
        self._held = False

    def __enter__(self) -> _CheckTurn:
        if self._slots is not None:
            self._slots.acquire()
            self._held = True
        return self

    def release(self) -> None:
        """Let the slot go (once; later calls do nothing)."""
        if self._held:
            self._held = False
            self._slots.release()

    def __exit__(self, *exc) -> None:
        self.release()


def _check_upload(path: Path, options: dict):
    """Check the uploaded file, or the folder of a zip's layers (in turn).

    Returns the report and its JSON answer, built here in the upload
    thread, not on the server's event loop (under the load test building it
    there was 12 % of a worker's interpreter time, py-spy).
    """
    with _CheckTurn():
        report = check_deliveries([path], **options)
    return report, _report_json(report)


def _refuse_outside(report, caller: Caller) -> None:
    """Refuse (403) a delivery with features of another district than the caller's."""
    outside = _outside(report, caller)
    if outside:
        shown = ", ".join(_district_names(outside))
        raise Denied(
            403,
            f"上报含有非本账户区县的图斑：{shown}；未写入",
            f"the delivery has features in district(s) {shown}, not this "
            "account's; nothing was written",
            districts=outside,
        )


def _land_upload(
    store, path: Path, options: dict, *, skip_errors: bool, caller: Caller, seen: list
):
    """Check and land the upload: one check, refused by :func:`_refuse_outside`.

    The check takes its turn (:class:`_CheckTurn`); the landing does not
    wait for one. The report reaches *seen* as soon as it is made (a
    refusal still answers with it). Returns the report's JSON answer and
    the outcome records.
    """

    def check(report) -> None:
        turn.release()  # checked: the next upload's check may start
        seen.append(report)
        _refuse_outside(report, caller)

    with _CheckTurn() as turn:
        report, outcomes = ingest_deliveries(
            [path],
            store,
            skip_errors=skip_errors,
            user=caller.name,
            check=check,
            **options,
        )
    # the answer is built here too (see _check_upload)
    return _report_json(report), _frame_json(pd.DataFrame(outcomes).convert_dtypes())


def _errors_denied(report, body: dict) -> Denied:
    """Return the refusal (422) of a landing whose delivery has errors."""
    body["landed"] = False
    return Denied(
        422,
        f"有 {report.n_errors} 个错误，未写入；请修正，或用 fix / skip_errors",
        f"{report.n_errors} error(s); nothing was written. Fix them, "
        "or use fix=1 (geometry) or skip_errors=1",
        **body,
    )


def _upload_answer(response):
    """Return *response* to an upload, closing its connection afterwards.

    The worker processes share one listening socket, and a kept-alive
    connection stays with the worker that accepted it: under the load test
    (20 clients connecting at once) one worker took most of them, and their
    uploads queued behind each other's checks while the other worker idled
    (one run: a user landed 23 uploads, another 160). An upload is the
    heavy request; after it the browser opens a new connection (under 1 ms
    on the intranet, against tens of ms of checking), which goes to
    whichever worker accepts first, so the users spread over the workers
    again. (Behind nginx without upstream keep-alive, as the README's
    example, every request already comes on a new connection.)
    """
    response.headers["Connection"] = "close"
    return response


async def deliveries(request: Request) -> JSONResponse:
    """``POST /api/deliveries``: validate an uploaded delivery; ``?land=1`` lands it.

    Query flags: ``land``, ``fix`` (repair geometry, as ``--fix``),
    ``skip_errors`` (land the features without errors, as ``--skip-errors``).
    An editor's delivery with features of another district is refused (403)
    before anything is written.
    """
    land = _flag(request, "land")
    caller = await authorize(request, "land" if land else "validate")
    state = request.app.state
    form = await request.form(max_files=1, max_fields=10)
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise Denied(400, "缺少文件字段 file", "no file: send multipart field 'file'")
    name = safe_file_name(upload.filename)
    if land:
        folder = _new_folder(state.settings_upload_dir)
    else:
        folder = Path(tempfile.mkdtemp(prefix="forestsink-upload-"))
    keep = False
    try:
        path, sha256, size = await _save(upload, folder, name)
        options = _options(request, state.location)
        if path.suffix.lower() == ".zip" and zip_layer_count(path) > 1:
            try:  # a zip of several deliveries: each layer is one batch
                await run_in_threadpool(extract_zip_layers, path, folder / "layers")
            except ForestsinkError as err:
                raise _library_error(err) from err
            path = folder / "layers"
        body = {"file": name, "sha256": sha256, "size": size}
        if not land:
            try:
                report, answer = await _in_upload_thread(_check_upload, path, options)
            except ForestsinkError as err:
                raise _library_error(err) from err
            _refuse_outside(report, caller)
            return _upload_answer(JSONResponse({**body, "report": answer}))
        seen: list = []  # the report, once made (one check: ingest's)
        try:
            answer, outcomes = await _in_upload_thread(
                _land_upload,
                state.store,
                path,
                options,
                skip_errors=_flag(request, "skip_errors"),
                caller=caller,
                seen=seen,
            )
        except Denied:
            raise
        except IngestError as err:
            body["report"] = await run_in_threadpool(_report_json, err.report)
            return _upload_answer(denied_response(_errors_denied(err.report, body)))
        except ForestsinkError as err:  # the store refused (409), or the input
            conflict = seen or isinstance(err, StoreError)
            raise _library_error(err, 409 if conflict else 400) from err
        body["report"] = answer
        batches = [o["batch_id"] for o in outcomes if o.get("batch_id") is not None]
        keep = bool(batches)
        if keep:
            manifest = {
                "user": caller.name,
                "uploaded_at": dt.datetime.now(dt.UTC).isoformat(),
                "file": name,
                "sha256": sha256,
                "size": size,
                "batches": batches,
            }
            (folder / "manifest.json").write_text(
                json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8"
            )
        if keep:
            state.progress.refresh_known()
        body.update(
            landed=True,
            outcomes=outcomes,
            batches=batches,
            upload=folder.name if keep else None,
        )
        return _upload_answer(JSONResponse(body))
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


# --------------------------------------------------------------------------
# history, progress
# --------------------------------------------------------------------------


class UploadIndex:
    """Which upload folder holds each batch's files, read once per folder.

    A folder's ``manifest.json`` is written once, when its upload lands, and
    never changed; so each process reads each manifest once, and a request
    only lists the folder names (not every manifest again).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._seen: set[str] = set()
        self._by_batch: dict[int, str] = {}
        self._lock = threading.Lock()

    def by_batch(self) -> dict[int, str]:
        """Return ``{batch_id: upload folder name}`` of every landed upload."""
        with self._lock:
            if not self.folder.is_dir():
                return {}
            with os.scandir(self.folder) as entries:
                new = [
                    e.name
                    for e in entries
                    if e.name not in self._seen and not e.name.startswith(".")
                ]
            for name in new:
                try:
                    text = (self.folder / name / "manifest.json").read_text("utf-8")
                    data = json.loads(text)
                except (OSError, ValueError):
                    continue  # not landed (yet): looked at again next time
                self._seen.add(name)
                for batch in data.get("batches", []):
                    self._by_batch[int(batch)] = name
            return dict(self._by_batch)


def _adcode_of(key: str) -> str:
    return key.split("/", 1)[0]


async def history(request: Request) -> JSONResponse:
    """``GET /api/history/{key}``: every version of one polygon, with accounts."""
    key = request.path_params["key"]
    caller = await authorize(request, "history")
    if not caller.may_district(_adcode_of(key)):
        raise Denied(
            403,
            "此图斑不在本账户的区县",
            f"{key!r} is not in this account's districts",
        )
    try:
        frame = await run_in_threadpool(request.app.state.store.history, key)
    except ForestsinkError as err:
        raise Denied(404, "没有此图斑", str(err)) from err
    return JSONResponse({"key": key, "versions": _frame_json(frame)})


def progress_result(store, by: str) -> dict:
    """Return the JSON-ready tables of ``forestsink progress --by BY``."""
    tables = progress_tables(store, by=by)
    return {
        "tables": {name: _frame_json(t) for name, t in tables.tables.items()},
        "settings": {k: str(v) for k, v in tables.settings.items()},
    }


async def progress(request: Request) -> JSONResponse:
    """``GET /api/progress?by=district``: the tables of ``forestsink progress``.

    The last complete result (see :mod:`forestsink.web.progress_cache`):
    ``as_of`` is the store state it was computed at, ``current`` says
    whether that is the store's present state (``store_state``).
    """
    await authorize(request, "progress")
    by = request.query_params.get("by", "district")
    if by not in ("district", "region", "unit", "city"):
        raise Denied(400, "by 参数无效", "by must be district, region, unit or city")
    try:
        body = await run_in_threadpool(request.app.state.progress.get, by)
    except ForestsinkError as err:
        raise _library_error(err) from err
    if body is None:
        raise Denied(404, "项目库为空", "the store holds no deliveries yet")
    return JSONResponse({"by": by, **body})


# --------------------------------------------------------------------------
# withdraw, undo, users
# --------------------------------------------------------------------------


async def _json_body(request: Request) -> dict:
    try:
        data = await request.json()
    except ValueError as err:
        raise Denied(400, "需要JSON请求体", f"send a JSON object ({err})") from err
    if not isinstance(data, dict):
        raise Denied(400, "需要JSON对象", "send a JSON object")
    return data


async def withdraw(request: Request) -> JSONResponse:
    """``POST /api/withdraw`` ``{"key": …, "reason": …}``: end a polygon."""
    caller = await authorize(request, "withdraw")
    data = await _json_body(request)
    key, reason = data.get("key"), data.get("reason")
    if not isinstance(key, str) or not isinstance(reason, str) or not reason.strip():
        raise Denied(400, "需要 key 和 reason", "give key and a non-empty reason")
    if not caller.may_district(_adcode_of(key)):
        raise Denied(
            403, "此图斑不在本账户的区县", f"{key!r} is not in this account's districts"
        )
    store = request.app.state.store
    try:
        batch = await run_in_threadpool(
            lambda: store.withdraw(key, reason=reason, user=caller.name)
        )
    except ForestsinkError as err:
        raise _library_error(err, 409) from err
    request.app.state.progress.refresh_known()
    return JSONResponse({"batch_id": int(batch), "key": key})


async def undo(request: Request) -> JSONResponse:
    """``POST /api/undo`` ``{"batch_id": N, "reason": …}``: undo a batch.

    An editor undoes only their own batches; the reason is required and is
    appended to the undo batch's note.
    """
    caller = await authorize(request, "undo")
    data = await _json_body(request)
    batch_id, reason = data.get("batch_id"), data.get("reason")
    if not isinstance(batch_id, int) or isinstance(batch_id, bool):
        raise Denied(400, "需要 batch_id（整数）", "give batch_id as an integer")
    if not isinstance(reason, str) or not reason.strip():
        raise Denied(400, "需要撤回原因 reason", "give a non-empty reason")
    store = request.app.state.store
    if caller.right("undo") == "own":
        frame = await run_in_threadpool(
            lambda: store.batches() if store.exists else pd.DataFrame()
        )
        mine = frame[frame["batch_id"] == batch_id] if len(frame) else frame
        if not len(mine) or mine["user"].iloc[0] != caller.name:
            raise Denied(
                403,
                "只能撤销本账户的批次",
                f"batch {batch_id} was not made by this account",
            )
    try:
        new = await run_in_threadpool(
            lambda: store.undo(batch_id, user=caller.name, reason=reason)
        )
    except ForestsinkError as err:
        raise _library_error(err, 409) from err
    request.app.state.progress.refresh_known()
    return JSONResponse({"batch_id": int(new), "undoes": batch_id})


async def users(request: Request) -> JSONResponse:
    """``GET /api/users``: the accounts (admin only; never passwords)."""
    await authorize(request, "users")
    frame = await run_in_threadpool(list_users, request.app.state.store)
    return JSONResponse({"users": _frame_json(frame)})


routes = [
    Route("/api/login", login, methods=["POST"]),
    Route("/api/me", me, methods=["GET"]),
    Route("/api/deliveries", deliveries, methods=["POST"]),
    Route("/api/history/{key:path}", history, methods=["GET"]),
    Route("/api/progress", progress, methods=["GET"]),
    Route("/api/withdraw", withdraw, methods=["POST"]),
    Route("/api/undo", undo, methods=["POST"]),
    Route("/api/users", users, methods=["GET"]),
]
