"""``forestsink store``: manage stores (``migrate`` a GeoPackage to PostGIS)."""

from __future__ import annotations

import click

from forestsink.cli.options import as_of_opt, out_option, store_opt
from forestsink.scale.export import export_geoparquet
from forestsink.store import open_store
from forestsink.store.migrate import migrate_store
from forestsink.store.postgis import is_postgres_url


@click.group("store")
def store_group() -> None:
    """项目库管理 / Manage project stores (GeoPackage, PostgreSQL/PostGIS)."""


@store_group.command("migrate")
@click.option(
    "--from",
    "source",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="源项目库 (.gpkg) / GeoPackage store to copy.",
)
@click.option(
    "--to",
    "target",
    required=True,
    metavar="postgresql://USER@HOST:PORT/DB[?schema=NAME]",
    help="目标数据库 / PostgreSQL/PostGIS database to copy into (empty store).",
)
def migrate_cmd(source: str, target: str) -> None:
    """复制项目库及其全部历史 / Copy a store with its full history.

    Every batch and every version keeps its id, time and validity, so as-of,
    history and diff answer the same on both stores. One transaction: the
    target gets all of it or nothing. The source file is not changed.
    """
    if not is_postgres_url(target):
        raise click.BadParameter(
            f"{target!r}: give a postgresql:// URL, e.g. "
            "postgresql://forest@db.example:5432/forestsink",
            param_hint="--to",
        )
    out = migrate_store(
        source, target, progress=lambda msg: click.echo(f"  {msg}", err=True)
    )
    click.echo(
        f"已复制 / Copied {out['batches']} batches, {out['versions']} versions "
        f"({out['live']} current polygons), {out['accounts']} accounts "
        f"from {out['source']} to {out['target']}."
    )


@click.command("export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["geoparquet"]),
    default="geoparquet",
    show_default=True,
    help="格式 / Format (GeoParquet partitioned by district).",
)
@store_opt
@as_of_opt
@out_option("输出目录（须不存在）/ Output folder (must not exist).", folder=True)
def export_cmd(fmt: str, store: str, as_of, out: str) -> None:
    """导出图斑供其他引擎使用 / Export polygons for other engines (Dask, DuckDB)."""
    path = export_geoparquet(open_store(store), out, as_of=as_of)
    n = len(list(path.glob("adcode=*")))
    click.echo(f"已写出 / Written: {path} ({n} district partitions)")
