"""``forestsink history``, ``diff``, ``withdraw``, ``undo``, ``current``."""

from __future__ import annotations

from pathlib import Path

import click

from forestsink.cli.options import as_of_opt, out_option, store_opt
from forestsink.cli.table import print_table, visible
from forestsink.io import LAYER_SUFFIXES, write_layer, write_table
from forestsink.landing.deliveries import read_withdrawals
from forestsink.reference import read_project_types
from forestsink.store import open_store


@click.command("history")
@click.argument("key")
@store_opt
def history_cmd(key: str, store: str) -> None:
    """显示一个图斑的全部版本 / Show every version of one polygon.

    KEY is <adcode>/<project id>, e.g. 500101/WZ-2013-001.
    """
    frame = open_store(store).history(key)
    print_table(
        frame[
            [
                "version",
                "batch_id",
                "batch_kind",
                "valid_from",
                "valid_to",
                "end_reason",
                "project_type",
                "year",
                "area_mu",
                "source_file",
            ]
        ],
        title=f"{key} 历史 / history",
    )


@click.command("diff")
@store_opt
@click.option(
    "--from", "a", required=True, help="起点：日期或批次 / From date or batch."
)
@click.option("--to", "b", required=True, help="终点：日期或批次 / To date or batch.")
def diff_cmd(store: str, a: str, b: str) -> None:
    """比较两个时间点 / What was added, changed, withdrawn between two states."""
    table = open_store(store).diff(a, b)
    print_table(table, title=f"变化 / changes {a} → {b}")
    counts = table["change"].value_counts().to_dict()
    click.echo(", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "no change")


@click.command("withdraw")
@click.argument("key", required=False)
@click.option("--reason", help="撤销原因 / Why it is withdrawn.")
@click.option(
    "--from-file",
    "from_file",
    type=click.Path(exists=True, dir_okay=False),
    help="撤销清单 CSV (区县, 项目编号, 原因[, 日期]) / Withdrawal list CSV.",
)
@store_opt
@click.option("--user", help="操作人 / Who (default: login name).")
def withdraw_cmd(key, reason, from_file, store, user) -> None:
    """撤销图斑（保留历史）/ Withdraw polygons (history is kept).

    Either KEY (<adcode>/<project id>) with --reason, or --from-file with a
    list; a list is one batch: all of it is withdrawn, or nothing.
    """
    target = open_store(store)
    if from_file:
        if key:
            raise click.UsageError("give KEY or --from-file, not both")
        items = read_withdrawals(from_file)
        batch = target.withdraw_many(items, source_name=Path(from_file).name, user=user)
        for k, r in items:
            click.echo(f"已撤销 / Withdrawn: {visible(k)} ({visible(r)})")
        click.echo(f"batch {batch}")
        return
    if not key or not reason:
        raise click.UsageError("give KEY and --reason, or --from-file")
    batch = target.withdraw(key, reason=reason, user=user)
    click.echo(f"已撤销 / Withdrawn: {visible(key)} (batch {batch})")


@click.command("undo")
@click.argument("batch", type=int)
@store_opt
@click.option("--user", help="操作人 / Who (default: login name).")
@click.option(
    "--reason",
    help="撤回原因，记入批次说明 / Why; appended to the undo batch's note.",
)
def undo_cmd(batch: int, store: str, user: str | None, reason: str | None) -> None:
    """撤回整个批次（作为新批次）/ Undo a whole batch, as a new batch."""
    new = open_store(store).undo(batch, user=user, reason=reason)
    click.echo(f"已撤回批次 {batch} / Batch {batch} undone by batch {new}")


@click.command("current")
@store_opt
@as_of_opt
@out_option(
    "写出 (.gpkg/.geojson/.csv/.xlsx) / Write the polygons to a file; its "
    "source_row counts from 1 (第1行 = row 1), as validate and the report do.",
    required=False,
)
def current_cmd(store: str, as_of: str | None, out: str | None) -> None:
    """当前（或某时点）有效图斑 / Polygons valid now or as of a date or batch.

    With --out, each polygon's ``source_file`` and ``source_row`` say where
    it was delivered; ``source_row`` counts features from 1, the row that
    ``validate``, ``ingest`` and their reports name (the store keeps the
    0-based position).
    """
    frame = open_store(store).current(as_of=as_of)
    if out:
        if "source_row" in frame:  # (as people and the issue report count)
            frame = frame.assign(source_row=frame["source_row"] + 1)
        if out.lower().endswith(LAYER_SUFFIXES):
            write_layer(frame, out, layer="projects")
        else:
            write_table(frame.drop(columns="geometry"), out)
        click.echo(f"已写出 / Written: {out} ({len(frame)} polygons)")
        return
    names = read_project_types()["name_zh"]
    summary = frame.groupby("project_type")["area_mu"].agg(["count", "sum"])
    summary = summary.reset_index()
    summary.insert(1, "中文", summary["project_type"].map(names))
    summary.columns = ["类型 / type", "中文", "图斑 / polygons", "面积 mu (亩)"]
    print_table(summary, title=f"{len(frame)} 个图斑 / polygons")


@click.command("batches")
@store_opt
def batches_cmd(store: str) -> None:
    """列出全部批次 / List every batch (who, when, file, counts)."""
    table = open_store(store).batches()
    print_table(
        table[
            [
                "batch_id",
                "kind",
                "created_at",
                "user",
                "source_name",
                "n_added",
                "n_changed",
                "n_unchanged",
                "n_withdrawn",
                "undone_by",
            ]
        ],
        title="批次 / batches",
    )
