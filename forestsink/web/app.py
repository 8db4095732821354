"""The Starlette application of one store, and ``forestsink serve``.

The server is uvicorn: the ASGI reference server, well kept (encode), with
its own supervisor of N worker processes (``--workers``; a dead worker is
replaced). Each worker builds the application from environment variables
(:func:`app_from_env`), so all of them serve the same store with the same
secret and settings. TLS is the office's reverse proxy's job (nginx, Caddy):
uvicorn listens on loopback behind it.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import replace

import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request

from forestsink.errors import Denied, ForestsinkError
from forestsink.store import open_store
from forestsink.web.api import UploadIndex, progress_result
from forestsink.web.api import routes as api_routes
from forestsink.web.pages import routes as page_routes
from forestsink.web.progress_cache import ProgressCache
from forestsink.web.security import (
    SecurityHeadersMiddleware,
    UploadLimitMiddleware,
    denied_response,
)
from forestsink.web.settings import Settings, default_upload_dir, load_secret
from forestsink.web.views import BatchDistricts, batch_districts_file
from forestsink.web.views import routes as view_routes

__all__ = ["app_from_env", "create_app", "serve"]

STORE_ENV = "FORESTSINK_WEB_STORE"
SETTINGS_ENV = "FORESTSINK_WEB_SETTINGS"
SESSION_COOKIE = "forestsink_session"

log = logging.getLogger(__name__)


async def _denied(request: Request, exc: Exception):
    assert isinstance(exc, Denied)
    return denied_response(exc)


def create_app(store_location, *, settings: Settings | dict | None = None) -> Starlette:
    """Return the web application of the store at *store_location*.

    Parameters
    ----------
    store_location : str or Path
        A ``.gpkg`` file or a ``postgresql://…`` URL, as ``--store``.
    settings : Settings or dict, optional (default: Settings())
        Limits, secret, upload folder; see :class:`Settings`.

    Returns
    -------
    starlette.applications.Starlette
        The ASGI application.
    """
    settings = Settings.of(settings)
    secret = load_secret(store_location, settings)
    middleware = [
        Middleware(SecurityHeadersMiddleware),
        Middleware(UploadLimitMiddleware, limit=settings.max_upload_bytes),
        Middleware(
            SessionMiddleware,
            secret_key=secret,
            session_cookie=SESSION_COOKIE,
            max_age=settings.session_max_age_s,
            same_site="strict",
            https_only=settings.https_only,
        ),
    ]
    app = Starlette(
        routes=[*view_routes, *api_routes, *page_routes],
        middleware=middleware,
        exception_handlers={Denied: _denied},
    )
    app.state.location = str(store_location)
    app.state.store = open_store(store_location)
    app.state.settings = settings
    upload_dir = settings.upload_dir or default_upload_dir(store_location)
    app.state.settings_upload_dir = upload_dir
    app.state.upload_index = UploadIndex(upload_dir)
    app.state.batch_districts = BatchDistricts(
        batch_districts_file(app.state.store, upload_dir)
    )
    app.state.progress = ProgressCache(
        app.state.store,
        upload_dir / ".progress",
        progress_result,
        wait_s=settings.progress_wait_s,
        interval_s=settings.progress_interval_s,
        location=str(store_location),
        process=settings.progress_process,
    )
    app.state.progress.start()  # the helper process, if any, starts now
    return app


def _settings_json(settings: dict) -> str:
    return json.dumps(
        {
            k: str(v) if k.endswith(("_dir", "_file")) else v
            for k, v in settings.items()
            if v is not None
        }
    )


def app_from_env() -> Starlette:
    """Build the application from ``FORESTSINK_WEB_STORE`` and ``…_SETTINGS``.

    Used by each uvicorn worker process (``factory=True``).
    """
    settings = json.loads(os.environ.get(SETTINGS_ENV) or "{}")
    return create_app(os.environ[STORE_ENV], settings=settings)


def _warm_progress(store_location, settings: Settings) -> None:
    """Compute the district progress tables once before the workers start.

    Then the first progress requests of all workers find a result (the
    file the workers share) instead of all computing it at once; the same
    for the districts each batch touched (the editors' batch lists).
    """
    # in this process (no helper process left behind in the server's parent)
    app = create_app(store_location, settings=replace(settings, progress_process=False))
    started = time.perf_counter()
    try:
        answer = app.state.progress.get("district")
    except ForestsinkError as err:  # the page shows it; serving goes on
        log.warning("progress tables not computed at start: %s", err)
        return
    if answer is not None:
        log.info("progress tables ready in %.2f s", time.perf_counter() - started)
    store = app.state.store
    if store.exists:  # which districts each batch touched (editors' batch lists)
        started = time.perf_counter()
        try:
            app.state.batch_districts.of(store, store.batches())
        except ForestsinkError as err:  # the first batch list computes it
            log.warning("batch districts not found at start: %s", err)
            return
        log.info("batch districts ready in %.2f s", time.perf_counter() - started)


def serve(
    store_location,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    settings: dict | None = None,
) -> None:
    """Run the application under uvicorn with *workers* processes (blocks).

    The store is opened and the session secret made once here, before the
    workers start, so that a bad store fails at once and every worker reads
    the same secret.
    """
    settings = {"progress_process": True, **(settings or {})}
    checked = Settings.of(settings)
    load_secret(store_location, checked)
    open_store(store_location)
    _warm_progress(store_location, checked)
    os.environ[STORE_ENV] = str(store_location)
    os.environ[SETTINGS_ENV] = _settings_json(settings)
    uvicorn.run(
        "forestsink.web.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        server_header=False,
        log_level="info",
    )
