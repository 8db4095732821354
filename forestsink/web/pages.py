"""The HTML pages (Chinese first, English alongside) and their assets.

Pages are Jinja2 templates (autoescaped); their data come from the JSON API
through ``static/app.js`` (no inline script: the Content-Security-Policy
allows scripts and styles from the app only). Leaflet is served by the app
from the ``offlinefolium`` package that the offline report uses: nothing is
loaded from the internet. A page without a session redirects to the login;
a page the role may not use answers 403.
"""

from __future__ import annotations

import functools
import json
import shutil
import tempfile
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from forestsink.errors import Denied, ForestsinkError
from forestsink.reference import district_resolver, read_districts
from forestsink.render.offline import leaflet_assets
from forestsink.render.report import build_report
from forestsink.web.security import Caller, authorize

__all__ = ["routes"]

_ENV = Environment(
    loader=PackageLoader("forestsink.web", "templates"),
    autoescape=select_autoescape(["html"]),
)
_STATIC = Path(__file__).with_name("static")
#: the navigation: (path, Chinese, English, action needed)
NAV = [
    ("/upload", "上传校验", "Upload", "validate"),
    ("/batches", "批次", "Batches", "batches"),
    ("/history", "图斑历史", "History", "history"),
    ("/asof", "时点与变化", "As of / diff", "asof"),
    ("/progress", "进度", "Progress", "progress"),
    ("/report", "下载报告", "Report", "progress"),
]


def _render(name: str, request: Request, caller: Caller | None, **context) -> str:
    nav = [n for n in NAV if caller.right(n[3]) != "no"] if caller is not None else []
    return _ENV.get_template(name).render(
        caller=caller,
        csrf=request.session.get("csrf", ""),
        nav=nav,
        path=request.url.path,
        **context,
    )


async def _page_caller(request: Request, action: str) -> Caller | Response:
    try:
        return await authorize(request, action)
    except Denied as denied:
        if denied.status == 401:
            return RedirectResponse("/login", status_code=303)
        caller = None
        try:
            caller = await authorize(request, "me")
        except Denied:
            pass
        html = _render("denied.html", request, caller, denied=denied)
        return HTMLResponse(html, status_code=denied.status)


def _district_choices(caller: Caller) -> list[tuple[str, str, str]]:
    """(adcode, 中文, English) of the districts *caller* may look at."""
    resolver = district_resolver()
    codes = sorted(resolver.name_zh)
    if caller.account.role == "editor":
        codes = [c for c in codes if caller.may_district(c)]
    return [(c, resolver.name_zh[c], resolver.name_en.get(c, c)) for c in codes]


def _page(name: str, action: str):
    async def endpoint(request: Request) -> Response:
        caller = await _page_caller(request, action)
        if isinstance(caller, Response):
            return caller
        choices = _district_choices(caller)
        return HTMLResponse(_render(name, request, caller, districts=choices))

    return endpoint


async def home(request: Request) -> Response:
    """``/``: the upload page for editors and admins, else progress."""
    caller = await _page_caller(request, "me")
    if isinstance(caller, Response):
        return caller
    target = "/upload" if caller.right("validate") != "no" else "/progress"
    return RedirectResponse(target, status_code=303)


async def login_page(request: Request) -> Response:
    """``/login``: the login form (it posts to ``/api/login``)."""
    return HTMLResponse(_render("login.html", request, None))


def _build_report(store, folder: Path) -> Path:
    return build_report(store, folder / "forestsink-report.html")


async def report(request: Request) -> Response:
    """``/report``: the offline report, built on request, as a download."""
    caller = await _page_caller(request, "progress")
    if isinstance(caller, Response):
        return caller
    store = request.app.state.store
    folder = Path(tempfile.mkdtemp(prefix="forestsink-report-"))
    try:
        path = await run_in_threadpool(_build_report, store, folder)
    except ForestsinkError as err:
        shutil.rmtree(folder, ignore_errors=True)
        denied = Denied(409, "报告无法生成", str(err))
        return HTMLResponse(
            _render("denied.html", request, caller, denied=denied), status_code=409
        )
    return FileResponse(
        path,
        media_type="text/html; charset=utf-8",
        filename="forestsink-report.html",
        content_disposition_type="attachment",
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )


@functools.cache
def _leaflet() -> tuple[bytes, bytes]:
    js, css = leaflet_assets()
    return js.encode(), css.encode()


async def leaflet_js(request: Request) -> Response:
    """``/assets/leaflet.js`` (Leaflet 1.9.3 from offlinefolium)."""
    return Response(_leaflet()[0], media_type="text/javascript")


async def leaflet_css(request: Request) -> Response:
    """``/assets/leaflet.css``."""
    return Response(_leaflet()[1], media_type="text/css")


@functools.cache
def _districts_geojson() -> bytes:
    districts = read_districts()[["adcode", "name_zh", "name_en", "geometry"]]
    districts = districts.to_crs(4326)
    districts["geometry"] = districts.geometry.simplify(0.003)
    return json.dumps(json.loads(districts.to_json()), ensure_ascii=False).encode()


async def districts(request: Request) -> Response:
    """``/assets/districts.geojson``: the 38 district outlines (simplified)."""
    body = await run_in_threadpool(_districts_geojson)
    return Response(body, media_type="application/geo+json")


routes = [
    Route("/", home),
    Route("/login", login_page),
    Route("/upload", _page("upload.html", "validate")),
    Route("/batches", _page("batches.html", "batches")),
    Route("/history", _page("history.html", "history")),
    Route("/asof", _page("asof.html", "asof")),
    Route("/progress", _page("progress.html", "progress")),
    Route("/report", report),
    Route("/assets/leaflet.js", leaflet_js),
    Route("/assets/leaflet.css", leaflet_css),
    Route("/assets/districts.geojson", districts),
    Mount("/static", app=StaticFiles(directory=_STATIC), name="static"),
]
