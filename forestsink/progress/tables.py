"""The ``progress`` tool: every progress table of a store in one bundle.

:func:`progress_tables` computes the district base table (locally from the
store's pieces, or partitioned by district groups, with Dask when asked)
and derives every view and the target tables from it, so no output shows a
number another output shows differently.
"""

from __future__ import annotations

import contextlib
import tempfile

import pandas as pd

from forestsink.errors import OptionError
from forestsink.progress.areas import (
    current_or_error,
    increment_of_pieces,
    pieces_from_store,
)
from forestsink.progress.duties import DUTY_LABELS
from forestsink.progress.growth import resolve_growth
from forestsink.progress.partitioned import progress_base_partitioned
from forestsink.progress.provenance import (
    growth_end_year,
    plan_label,
    shown_path,
    table_settings,
)
from forestsink.progress.targets import (
    DISTRICT_METRICS,
    city_targets,
    district_targets,
    read_district_targets,
)
from forestsink.progress.views import (
    VIEWS,
    Tables,
    progress_by_district,
    share_of_city,
    view,
)
from forestsink.reference import (
    read_carbon_parameters,
    read_districts,
    read_plan,
    read_project_types,
    read_transfers,
)
from forestsink.scale.dataset import Dataset, write_partitions
from forestsink.scale.distributed import dask_client


def progress_tables(
    store,
    *,
    as_of=None,
    by: str = "district",
    year: int | None = None,
    targets=None,
    rules=None,
    params=None,
    coverage: pd.DataFrame | None = None,
    engine: str = "local",
    scheduler: str | None = None,
    partitions: int | None = None,
    client=None,
    growth=None,
    inventory: dict[int, pd.DataFrame] | None = None,
    plan=None,
    transfers=None,
) -> Tables:
    """All progress tables for a store (the ``progress`` tool).

    *plan*: a :class:`forestsink.reference.Plan` or a plan file (default:
    the seed plan, :func:`forestsink.reference.read_plan`): its targets,
    years, base year and, when it has district duties and *targets* is not
    given, those duties.

    *transfers*: forest-area indicator transfers between districts (a
    :func:`forestsink.reference.read_transfers` table or its file), counted
    in the district duties' accounting only (``district_targets``: credited
    figure and balance), never in the physical figures.

    *inventory*: year -> the forest-resource statistics of that year
    (:func:`forestsink.inventory.load.inventory_statistics`); with the year
    before the plan and a plan year, the resource targets are measured from
    them (see :func:`city_targets`), and district targets too.

    *growth*: a growth (yield) table file or a checked table
    (:func:`forestsink.progress.growth.read_growth_table`) for the modelled
    project increment; without one, pieces without before/after volumes are
    not estimable.

    ``engine="dask"`` computes the pieces on ``dask.distributed`` workers
    (see :mod:`forestsink.progress.partitioned`); ``scheduler`` is an existing
    cluster's address (default: a local cluster), ``partitions`` the number
    of district groups, ``client`` a ``dask.distributed.Client`` to reuse.

    Returns
    -------
    Tables
        ``tables``: ``progress`` (the chosen view), ``district``, ``region``,
        ``unit``, ``city``, ``city_targets`` and, with *targets*,
        ``district_targets``; ``settings`` for the sources sheet.
    """
    if by not in VIEWS:  # before anything is read or computed
        raise OptionError(
            f"by={by!r}: 未知的视图 / unknown view; use one of {', '.join(VIEWS)}."
        )
    if engine not in ("local", "dask"):
        raise OptionError(f"engine {engine!r}: use 'local' or 'dask'.")
    types = read_project_types(rules)
    read_carbon_parameters(params)  # refuse a bad parameter file early
    growth_path, growth = resolve_growth(growth, rules)
    plan = read_plan(plan)
    moved = "—"
    if transfers is not None and not isinstance(transfers, pd.DataFrame):
        moved = shown_path(transfers)
        transfers = read_transfers(transfers)
    end_year = growth_end_year(as_of, plan=plan)
    if engine == "dask" or isinstance(store, Dataset):
        base = _partitioned_base(
            store,
            as_of,
            types,
            growth=growth,
            end_year=end_year,
            engine=engine,
            partitions=partitions,
            scheduler=scheduler,
            client=client,
        )
    else:
        pieces = pieces_from_store(store, as_of=as_of, rules=rules)
        inc = increment_of_pieces(pieces, types=types, growth=growth, end_year=end_year)
        base = progress_by_district(pieces, increment=inc)
    base = base.sort_values(
        ["adcode", "year", "project_type"], kind="stable"
    ).reset_index(drop=True)
    base["share_of_city"] = share_of_city(base)
    tables = {v: view(base, v) for v in VIEWS}
    tables["city_targets"] = city_targets(
        base, coverage=coverage, inventory=inventory, plan=plan
    )
    duties = (
        read_district_targets(targets)
        if targets is not None
        else plan.duties[plan.duties["metric"].isin(DISTRICT_METRICS)]
    )
    if targets is not None or len(duties):
        tables["district_targets"] = district_targets(
            base,
            duties,
            inventory=inventory,
            plan=plan,
            coverage=coverage,
            transfers=transfers,
        )
    if year is not None:
        for name in VIEWS:
            tables[name] = tables[name][tables[name]["year"] == year].reset_index(
                drop=True
            )
    tables["progress"] = tables[by]
    settings = table_settings(
        store, as_of, rules, params, by, year, targets, growth_path, end_year
    )
    settings["plan"] = plan_label(plan)
    if transfers is not None:
        settings["transfers"] = f"{moved} ({len(transfers)} 笔 / rows)"
    labels = DUTY_LABELS if "district_targets" in tables else {}
    return Tables(tables=tables, settings=settings, labels=dict(labels))


def _partitioned_base(
    store, as_of, types, *, growth, end_year, engine, partitions, scheduler, client
) -> pd.DataFrame:
    """Compute the base table with the partitioned engine.

    See :mod:`forestsink.progress.partitioned`. A dataset is read where it lies (by
    the workers, with dask); a store's current polygons are first written
    to a temporary dataset on this machine, which only a local cluster's
    workers can read — for a remote cluster, export the store to shared
    storage first and give that folder as the store.
    """
    if scheduler and not isinstance(store, Dataset):
        raise OptionError(
            f"scheduler {scheduler}: remote workers cannot read {store.path}. "
            "Export it as a GeoParquet dataset to storage every worker can read "
            "(forestsink.scale.export.export_geoparquet, or the export "
            "command) and give that folder as the store.",
            option="scheduler",
        )
    with contextlib.ExitStack() as stack:
        if engine == "dask":
            client = stack.enter_context(dask_client(client, scheduler))
        tmp = stack.enter_context(
            tempfile.TemporaryDirectory(prefix="forestsink-dataset-")
        )
        if isinstance(store, Dataset):
            if as_of is not None:
                store.current(as_of=as_of)  # raises the dataset's as-of error
            root = store.path
        else:
            write_partitions(current_or_error(store, as_of), tmp, "store")
            root = tmp
        return progress_base_partitioned(
            root,
            read_districts(),
            types,
            growth=growth,
            end_year=end_year,
            partitions=partitions,
            client=client if engine == "dask" else None,
        )
