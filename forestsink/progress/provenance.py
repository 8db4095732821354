"""Provenance of the tables: file names, the as-of label, the settings sheet.

Every table bundle carries the settings that produced it (store, batch,
rules, parameters, growth table, tool version), shown by file name, never
by a machine's absolute path (:func:`shown_path`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from forestsink.reference import data_dir, read_plan
from forestsink.store.common import parse_as_of
from forestsink.version import __version__


def growth_end_year(as_of, *, plan=None) -> int:
    """Last year of growth: the as-of date's year, or the plan's end.

    *plan*: a :class:`forestsink.reference.Plan` or a plan file (default:
    the seed plan).
    """
    end = read_plan(plan).period_end
    spec = parse_as_of(as_of)
    if spec is not None and spec[0] == "time":
        return min(int(spec[1][:4]), end)
    return end


def plan_label(plan) -> str:
    """Return a plan's provenance text: document (or name), period, file.

    *plan*: a :class:`forestsink.reference.Plan` or a plan file (default:
    the seed plan).
    """
    plan = read_plan(plan)
    return f"{plan.document or plan.name} {plan.label} ({plan.source})"


def shown_path(path, *, base=None) -> str:
    """Return a file name for provenance, never a machine's absolute path.

    Shipped tables read ``forestsink/data/<name>``; other files are named
    relative to *base* (the store's folder) or the working folder when they
    lie inside it, else by their name alone. Database URLs (password masked
    by the store) are kept.
    """
    text = str(path)
    if "://" in text:
        return text
    p = Path(text).resolve()
    shipped = data_dir().resolve()
    if p.is_relative_to(shipped):
        return f"forestsink/data/{p.relative_to(shipped).as_posix()}"
    for root in (base, Path.cwd()):
        if root is not None and p.is_relative_to(Path(root).resolve()):
            return p.relative_to(Path(root).resolve()).as_posix()
    return p.name


def as_of_label(store, as_of) -> str:
    """Return what the figures are as of: the batch and its time, never now.

    *as_of* given: that batch or date; else the store's last batch number
    and its time (UTC).
    """
    if as_of is not None:
        return str(as_of)
    batches = store.batches()
    if not len(batches):
        return "空库 / empty store"
    last = batches.sort_values("batch_id").iloc[-1]
    when = str(last["created_at"])[:16].replace("T", " ")
    return f"批次 batch {int(last['batch_id'])} ({when} UTC)"


def table_settings(store, as_of, rules, params, by, year, targets, growth, end_year):
    """Return the settings sheet of a table bundle (every value a string).

    *growth* is what to show for the growth table (a path, a note or None),
    *end_year* the last year of growth; paths are shown by
    :func:`shown_path` relative to the store's folder.
    """
    batches = store.batches()
    last = int(batches["batch_id"].max()) if len(batches) else None
    folder = Path(str(store.path)).parent if "://" not in str(store.path) else None
    return {
        "store": shown_path(store.path, base=folder),
        "last_batch": str(last),
        "as_of": as_of_label(store, as_of),
        "view": by,
        "year": str(year) if year else "all / 全部",
        "rules": shown_path(rules or data_dir() / "project_types.csv", base=folder),
        "parameters": shown_path(
            params or data_dir() / "carbon_parameters.csv", base=folder
        ),
        "district_targets": shown_path(targets, base=folder)
        if targets
        else "none (no invented targets) / 无",
        "growth_table": shown_path(growth, base=folder)
        if growth
        else "none: increment not estimable without before/after volumes / "
        "无生长表：无改造前后蓄积者不可估算",
        "growth_end_year": str(end_year),
        "tool_version": __version__,
        "generated": pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
