"""``forestsink serve``: the bureau's web application under uvicorn."""

from __future__ import annotations

import click

from forestsink.cli.options import store_opt
from forestsink.web.app import serve


@click.command("serve")
@store_opt
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="监听地址 / Address to listen on (a reverse proxy in front for TLS).",
)
@click.option("--port", default=8000, show_default=True, type=int, help="端口 / Port.")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="工作进程数 / Server worker processes.",
)
@click.option(
    "--https-only",
    is_flag=True,
    help="会话Cookie仅经HTTPS发送 / Mark the session cookie Secure (behind TLS).",
)
@click.option(
    "--max-upload-mb",
    default=200,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="上传大小上限 / Upload size limit (MB).",
)
@click.option(
    "--upload-dir",
    type=click.Path(file_okay=False),
    help="上传文件保存目录 / Folder of the uploaded files (default: STORE.uploads "
    "beside a GeoPackage store, else ./forestsink-uploads).",
)
@click.option(
    "--login-limit",
    default=10,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="登录失败次数上限 / Failed logins (per account or address) before 429.",
)
@click.option(
    "--login-window",
    default=300.0,
    show_default=True,
    type=click.FloatRange(1, 86_400),
    help="统计窗口（秒）/ Window of the failures (s).",
)
@click.option(
    "--login-lockout",
    default=300.0,
    show_default=True,
    type=click.FloatRange(1, 86_400),
    help="锁定时长（秒）/ How long further attempts get 429 (s).",
)
def serve_cmd(
    store: str,
    host: str,
    port: int,
    workers: int,
    https_only: bool,
    max_upload_mb: int,
    upload_dir: str | None,
    login_limit: int,
    login_window: float,
    login_lockout: float,
) -> None:
    """启动网页服务 / Run the web application (uvicorn, N worker processes).

    The session secret is $FORESTSINK_SECRET, else a file made once beside
    a GeoPackage store (STORE.web-secret, mode 600), or for a PostGIS store
    ~/.config/forestsink/web-secret.
    """
    serve(
        store,
        host=host,
        port=port,
        workers=workers,
        settings={
            "https_only": https_only,
            "max_upload_bytes": max_upload_mb * 1024 * 1024,
            "upload_dir": upload_dir,
            "login_limit": login_limit,
            "login_window_s": login_window,
            "login_lockout_s": login_lockout,
        },
    )
