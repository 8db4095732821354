"""``forestsink history``, ``diff``, ``withdraw``, ``undo``, ``current``."""

from __future__ import annotations

import click

from forestsink.cli.options import as_of_opt, out_option, store_opt
from forestsink.cli.table import print_table


@click.command("history")
@click.argument("key")
@store_opt
def history_cmd(key: str, store: str) -> None:
    """显示一个图斑的全部版本 / Show every version of one polygon.

    KEY is <adcode>/<project id>, e.g. 500101/WZ-2013-001.
    """
    from forestsink.store import open_store

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
    from forestsink.store import open_store

    table = open_store(store).diff(a, b)
    print_table(table, title=f"变化 / changes {a} → {b}")
    counts = table["change"].value_counts().to_dict()
    click.echo(", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "no change")


@click.command("withdraw")
@click.argument("key")
@click.option("--reason", required=True, help="撤销原因 / Why it is withdrawn.")
@store_opt
@click.option("--user", help="操作人 / Who (default: login name).")
def withdraw_cmd(key: str, reason: str, store: str, user: str | None) -> None:
    """撤销一个图斑（保留历史）/ Withdraw a polygon (history is kept)."""
    from forestsink.store import open_store

    batch = open_store(store).withdraw(key, reason=reason, user=user)
    click.echo(f"已撤销 / Withdrawn: {key} (batch {batch})")


@click.command("undo")
@click.argument("batch", type=int)
@store_opt
@click.option("--user", help="操作人 / Who (default: login name).")
def undo_cmd(batch: int, store: str, user: str | None) -> None:
    """撤回整个批次（作为新批次）/ Undo a whole batch, as a new batch."""
    from forestsink.store import open_store

    new = open_store(store).undo(batch, user=user)
    click.echo(f"已撤回批次 {batch} / Batch {batch} undone by batch {new}")


@click.command("current")
@store_opt
@as_of_opt
@out_option(
    "写出 (.gpkg/.geojson/.csv) / Write the polygons to a file.", required=False
)
def current_cmd(store: str, as_of: str | None, out: str | None) -> None:
    """当前（或某时点）有效图斑 / Polygons valid now or as of a date or batch."""
    from forestsink.io import LAYER_SUFFIXES, write_layer, write_table
    from forestsink.store import open_store

    frame = open_store(store).current(as_of=as_of)
    if out:
        if out.lower().endswith(LAYER_SUFFIXES):
            write_layer(frame, out, layer="projects")
        else:
            write_table(frame.drop(columns="geometry"), out)
        click.echo(f"已写出 / Written: {out} ({len(frame)} polygons)")
        return
    summary = frame.groupby("project_type")["area_mu"].agg(["count", "sum"])
    print_table(summary.reset_index(), title=f"{len(frame)} polygons")


@click.command("batches")
@store_opt
def batches_cmd(store: str) -> None:
    """列出全部批次 / List every batch (who, when, file, counts)."""
    from forestsink.store import open_store

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
