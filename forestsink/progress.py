"""Progress against the plan and the carbon sink: the tables every output uses.

``progress_tables`` and ``carbon_tables`` turn the polygons of a store (as of
a date or batch) into plain DataFrames. The CLI writes them as CSV, JSON or
Excel; the report renders them. Nothing here recomputes a number another
output shows differently: every view is a group-by of the same pieces.

Views (``by``):

``district``
    one row per district × year × project type;
``region``
    the three annex-1 regions;
``unit``
    the 39 assessment units of annex 1: 双桥经开区 is inside 大足区;
    万盛经开区 has no boundary of its own, so its row carries no figures and
    a note, and 綦江区's row (which includes it) says so;
``city``
    the city total per year and type.

``share_of_city`` is a row's net area divided by the city's net area for the
same year and project type.

City targets: each numeric target of the plan with done, remaining and
percent done, per year and cumulative. Programme targets are compared per
project type (targets of several programmes for the same type are added),
because deliveries rarely say which programme a polygon belongs to. Targets
project polygons cannot measure (forest coverage, protection of existing
public-welfare forest) are listed with what would measure them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from forestsink.errors import ForestsinkError

VIEWS = ("district", "region", "unit", "city")
#: summed figures of a progress row (the same in every view)
_SUMS = [
    "n_polygons",
    "gross_area_mu",
    "net_area_mu",
    "overlap_area_mu",
    "new_forest_area_mu",
    "stock_volume_m3",
    "stock_volume_estimated_m3",
]
PROGRESS_COLUMNS = [
    "adcode",
    "name_zh",
    "name_en",
    "region",
    "year",
    "project_type",
    *_SUMS,
    "share_of_city",
]
PLAN_YEARS = (2011, 2015)


@dataclass
class Tables:
    """Named tables plus the settings that produced them."""

    tables: dict[str, pd.DataFrame]
    settings: dict[str, str] = field(default_factory=dict)


def _data(name: str) -> pd.DataFrame:
    from forestsink.reference import _read_csv, data_dir

    return _read_csv(data_dir() / name)


def read_forest_types() -> pd.DataFrame:
    """Forest-type groups with fallback chain and species words."""
    return _data("forest_types.csv")


def read_labels() -> pd.DataFrame:
    """Bilingual column labels with units (for Excel and the report)."""
    return _data("labels.csv").set_index("column")


def pieces_from_store(store, *, as_of=None, rules=None) -> pd.DataFrame:
    """Split the current polygons of *store* by district, with gross/net areas."""
    from forestsink.aggregate import project_pieces
    from forestsink.reference import read_districts, read_project_types

    frame = _current_or_error(store, as_of)
    return project_pieces(frame, read_districts(), types=read_project_types(rules))


def _current_or_error(store, as_of):
    frame = store.current(as_of=as_of)
    if frame.empty:
        when = f"as of {as_of}" if as_of is not None else "now"
        raise ForestsinkError(
            f"{store.path}: no project polygons {when}. --as-of dates are when "
            "batches were entered in the store, not project years; see "
            "`forestsink batches --store FILE`."
        )
    return frame


def _estimated_volume(pieces, *, types, growth, end_year) -> pd.Series:
    from forestsink.carbon import delta_volume

    dv = delta_volume(pieces, types=types, growth_m3_ha_yr=growth, end_year=end_year)
    delivered = pd.to_numeric(pieces["stock_volume_m3"], errors="coerce")
    return dv.where(delivered.isna(), 0.0)


def _district_keys() -> pd.DataFrame:
    from forestsink.reference import REGION_EN, read_district_table

    table = read_district_table()[["adcode", "name_zh", "name_en", "region"]]
    table["region_en"] = table["region"].map(REGION_EN)
    return table


def progress_by_district(
    pieces: pd.DataFrame, *, est_volume: pd.Series
) -> pd.DataFrame:
    """Rows per district × year × project type (the base of every view)."""
    df = pieces.assign(stock_volume_estimated_m3=est_volume.to_numpy())
    grouped = df.groupby(["adcode", "year", "project_type"], dropna=False)
    out = grouped.agg(
        n_polygons=("key", "nunique"),
        gross_area_mu=("gross_area_mu", "sum"),
        net_area_mu=("net_area_mu", "sum"),
        new_forest_area_mu=("new_forest_area_mu", "sum"),
        stock_volume_m3=("stock_volume_m3", lambda s: s.sum(min_count=1)),
        stock_volume_estimated_m3=("stock_volume_estimated_m3", "sum"),
    ).reset_index()
    out["overlap_area_mu"] = out["gross_area_mu"] - out["net_area_mu"]
    out = out.merge(_district_keys(), on="adcode", how="left")
    return out


def _share(df: pd.DataFrame) -> pd.Series:
    city = df.groupby(["year", "project_type"])["net_area_mu"].transform("sum")
    return (df["net_area_mu"] / city).where(city > 0)


def _rollup(base: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    agg = dict.fromkeys(_SUMS, "sum")
    agg["stock_volume_m3"] = lambda s: s.sum(min_count=1)
    return base.groupby([*keys, "year", "project_type"], dropna=False).agg(agg)


def view(base: pd.DataFrame, by: str) -> pd.DataFrame:
    """Aggregate the district base table into the requested view."""
    from forestsink.reference import REGION_EN, read_assessment_units

    if by not in VIEWS:
        raise ForestsinkError(f"--by {by!r}: use one of {', '.join(VIEWS)}.")
    if by == "district":
        out = base.copy()
    elif by == "region":
        out = _rollup(base, ["region"]).reset_index()
        out["adcode"] = ""
        out["name_zh"] = out["region"]
        out["name_en"] = out["region"].map(REGION_EN)
    elif by == "city":
        out = _rollup(base.assign(region=""), ["region"]).reset_index()
        out["adcode"] = "500000"
        out["name_zh"] = "重庆市"
        out["name_en"] = "Chongqing (city-wide)"
    else:
        units = read_assessment_units()
        units = units[units["unit_no"] > 0]
        rows = []
        for u in units.itertuples():
            if u.polygon_relation == "inside":  # 万盛经开区: no boundary of its own
                rows.append(
                    pd.DataFrame(
                        {
                            "unit_no": [u.unit_no],
                            "name_zh": [u.name_zh],
                            "name_en": [u.name_en],
                            "region": [u.region],
                            "note": [
                                f"reported with {u.adcodes} (綦江区): no separate "
                                "boundary; its figures are in that row"
                            ],
                        }
                    )
                )
                continue
            part = base[base["adcode"].isin(u.adcodes.split("|"))]
            if part.empty:
                continue
            agg = _rollup(part.assign(region=u.region), ["region"]).reset_index()
            agg["unit_no"] = u.unit_no
            agg["name_zh"] = u.name_zh
            agg["name_en"] = u.name_en
            note = u.note
            if u.adcodes == "500110":
                note = "includes 万盛经开区 (unit 22), which has no separate boundary"
            agg["note"] = note
            rows.append(agg)
        out = pd.concat(rows, ignore_index=True)
        out["adcode"] = out["unit_no"].astype(str)
    out["share_of_city"] = _share(out) if "year" in out else np.nan
    columns = [c for c in PROGRESS_COLUMNS if c in out.columns]
    extra = [c for c in ("unit_no", "note") if c in out.columns]
    lead = ["unit_no"] if "unit_no" in extra else []
    out = out[[*lead, *columns, *(["note"] if "note" in extra else [])]]
    sort = ["unit_no"] if by == "unit" else ["adcode"]
    return out.sort_values(
        [*sort, "year", "project_type"], na_position="first", kind="stable"
    ).reset_index(drop=True)


def city_targets(
    base: pd.DataFrame, *, coverage: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Each plan target: done per year and cumulative, remaining, % done."""
    from forestsink.reference import read_plan_targets, read_project_types

    targets = read_plan_targets()
    names = read_project_types()
    years = list(range(PLAN_YEARS[0], PLAN_YEARS[1] + 1))
    by_year = base.groupby("year")
    rows = []

    def emit(target_id, name_zh, name_en, unit, value, series, note=""):
        cumulative = 0.0
        for y in years:
            done = float(series.get(y, 0.0)) if series is not None else np.nan
            cumulative += done
            rows.append(
                {
                    "target_id": target_id,
                    "name_zh": name_zh,
                    "name_en": name_en,
                    "year": y,
                    "unit": unit,
                    "target": value,
                    "done": done,
                    "cumulative": cumulative,
                    "remaining": max(value - cumulative, 0.0)
                    if series is not None
                    else np.nan,
                    "pct_done": 100.0 * cumulative / value
                    if series is not None
                    else np.nan,
                    "note": note,
                }
            )

    t = targets.set_index("target_id")
    emit(
        "new_forest_area",
        "新增森林面积",
        "New forest area",
        "mu",
        t.loc["new_forest_area", "value"],
        by_year["new_forest_area_mu"].sum(),
        "net area of the types that add forest area; overlaps counted once",
    )
    volume = (
        by_year["stock_volume_m3"].sum() + by_year["stock_volume_estimated_m3"].sum()
    )
    emit(
        "new_stock_volume",
        "新增森林蓄积量",
        "New stock volume",
        "m3",
        t.loc["new_stock_volume", "value"],
        volume,
        "delivered volume plus area × growth where none was delivered; the "
        "plan's target is the whole forest's increase, not only projects'",
    )
    programme = targets[targets["scope"] == "programme"]
    for ptype, group in programme.groupby("project_type", sort=False):
        value = group["value"].sum()
        labels = "、".join(group["programme_zh"])
        gross = base[base["project_type"] == ptype].groupby("year")["gross_area_mu"]
        emit(
            f"type_{ptype}",
            f"{names.loc[ptype, 'name_zh']}（{labels}）",
            names.loc[ptype, "name_en"],
            "mu",
            value,
            gross.sum(),
            "sum of the programme targets for this project type: "
            + "; ".join(f"{r.programme_zh} {r.value:,.0f}" for r in group.itertuples()),
        )
    cov = t.loc["forest_coverage"]
    rows.append(
        {
            "target_id": "forest_coverage",
            "name_zh": "森林覆盖率",
            "name_en": "Forest coverage",
            "year": PLAN_YEARS[1],
            "unit": "%",
            "target": cov["value"],
            "done": np.nan,
            "cumulative": np.nan,
            "remaining": np.nan,
            "pct_done": np.nan,
            "note": "measured from land-cover rasters (forestsink coverage), not "
            "from project polygons",
        }
    )
    if coverage is not None and {"adcode", "coverage_pct", "year"} <= set(coverage):
        city = coverage[coverage["adcode"] == "500000"]
        if not city.empty:
            latest = city.sort_values("year").iloc[-1]
            rows[-1].update(
                done=float(latest["coverage_pct"]),
                cumulative=float(latest["coverage_pct"]),
                year=int(latest["year"]),
                pct_done=100.0 * float(latest["coverage_pct"]) / cov["value"],
                remaining=max(cov["value"] - latest["coverage_pct"], 0),
            )
    for r in targets[targets["scope"] == "protection"].itertuples():
        rows.append(
            {
                "target_id": r.target_id,
                "name_zh": r.programme_zh,
                "name_en": r.programme_en,
                "year": PLAN_YEARS[1],
                "unit": r.unit,
                "target": r.value,
                "done": np.nan,
                "cumulative": np.nan,
                "remaining": np.nan,
                "pct_done": np.nan,
                "note": "protection of existing forest is not delivered as project "
                "polygons; not tracked here",
            }
        )
    return pd.DataFrame(rows)


def read_district_targets(path) -> pd.DataFrame:
    """Read a bureau's own per-district targets (CSV in UTF-8 or GBK, or Excel).

    Columns: a district (``adcode`` or ``district``/``name_zh``/区县, any known
    name), ``metric`` (``new_forest_area_mu`` or ``new_stock_volume_m3``) and
    ``value``. Extra columns (``status``, notes) are ignored.
    """
    from forestsink.io import read_bureau_table
    from forestsink.reference import resolve_district_column

    path = Path(path)
    if not path.is_file():
        raise ForestsinkError(f"--targets {path}: no such file.")
    table = read_bureau_table(path)
    district = next(
        (c for c in ("adcode", "district", "name_zh", "区县") if c in table), None
    )
    missing = [c for c in ("metric", "value") if c not in table]
    if district is None or missing:
        raise ForestsinkError(
            f"{path.name}: needs a district column (adcode, district, name_zh or "
            f"区县) and 'metric', 'value'; found {list(table.columns)}."
        )
    adcodes = resolve_district_column(table[district], source=path.name)
    out = []
    for i, (adcode, (_, row)) in enumerate(zip(adcodes, table.iterrows(), strict=True)):
        where = f"{path.name}: row {i + 2}"
        if row["metric"] not in ("new_forest_area_mu", "new_stock_volume_m3"):
            raise ForestsinkError(
                f"{where}: metric {row['metric']!r}; use new_forest_area_mu or "
                "new_stock_volume_m3."
            )
        try:
            value = float(row["value"])
        except ValueError as err:
            raise ForestsinkError(
                f"{where}: value {row['value']!r} is not a number."
            ) from err
        out.append({"adcode": adcode, "metric": row["metric"], "target": value})
    return pd.DataFrame(out)


def district_targets(base: pd.DataFrame, targets: pd.DataFrame) -> pd.DataFrame:
    """Cumulative done against a bureau's per-district targets."""
    done = base.groupby("adcode").agg(
        new_forest_area_mu=("new_forest_area_mu", "sum"),
        new_stock_volume_m3=("stock_volume_m3", "sum"),
    )
    done["new_stock_volume_m3"] += base.groupby("adcode")[
        "stock_volume_estimated_m3"
    ].sum()
    rows = []
    for r in targets.itertuples():
        value = float(done[r.metric].get(r.adcode, 0.0))
        rows.append(
            {
                "adcode": r.adcode,
                "metric": r.metric,
                "target": r.target,
                "done": value,
                "remaining": max(r.target - value, 0.0),
                "pct_done": 100.0 * value / r.target if r.target else np.nan,
            }
        )
    out = pd.DataFrame(rows).merge(_district_keys(), on="adcode", how="left")
    return out[
        [
            "adcode",
            "name_zh",
            "name_en",
            "region",
            "metric",
            "target",
            "done",
            "remaining",
            "pct_done",
        ]
    ]


def growth_parameter(params: pd.DataFrame) -> float | None:
    """Return the ``default`` growth (m³/ha/yr) of the parameter table, if any."""
    rows = params[
        (params["parameter"] == "growth_m3_ha_yr")
        & (params["forest_type"] == "default")
    ]
    return float(rows["value"].iloc[0]) if len(rows) else None


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
) -> Tables:
    """All progress tables for a store (the ``progress`` tool).

    ``engine="dask"`` computes the pieces on ``dask.distributed`` workers
    (see :mod:`forestsink.distributed`); ``scheduler`` is an existing
    cluster's address (default: a local cluster), ``partitions`` the number
    of district groups, ``client`` a ``dask.distributed.Client`` to reuse.

    Returns
    -------
    Tables
        ``tables``: ``progress`` (the chosen view), ``district``, ``region``,
        ``unit``, ``city``, ``city_targets`` and, with *targets*,
        ``district_targets``; ``settings`` for the sources sheet.
    """
    from forestsink.reference import read_carbon_parameters, read_project_types

    types = read_project_types(rules)
    carbon = read_carbon_parameters(params)
    growth = growth_parameter(carbon)
    end_year = _end_year(store, as_of)
    if engine not in ("local", "dask"):
        raise ForestsinkError(f"--engine {engine!r}: use local or dask.")
    from forestsink.dataset import Dataset

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
        est = _estimated_volume(pieces, types=types, growth=growth, end_year=end_year)
        base = progress_by_district(pieces, est_volume=est)
    base = base.sort_values(
        ["adcode", "year", "project_type"], kind="stable"
    ).reset_index(drop=True)
    base["share_of_city"] = _share(base)
    tables = {v: view(base, v) for v in VIEWS}
    tables["city_targets"] = city_targets(base, coverage=coverage)
    if targets is not None:
        tables["district_targets"] = district_targets(
            base, read_district_targets(targets)
        )
    if year is not None:
        for name in VIEWS:
            tables[name] = tables[name][tables[name]["year"] == year].reset_index(
                drop=True
            )
    tables["progress"] = tables[by]
    return Tables(
        tables=tables,
        settings=_settings(
            store, as_of, rules, params, by, year, targets, growth, end_year
        ),
    )


def _partitioned_base(
    store, as_of, types, *, growth, end_year, engine, partitions, scheduler, client
) -> pd.DataFrame:
    """Compute the base table with the partitioned engine.

    See :mod:`forestsink.distributed`. A dataset is read where it lies (by
    the workers, with dask); a store's current polygons are first written
    to a temporary dataset on this machine, which only a local cluster's
    workers can read — for a remote cluster, export the store to shared
    storage first and give that folder as the store.
    """
    import contextlib
    import tempfile

    from forestsink.dataset import Dataset, write_partitions
    from forestsink.distributed import dask_client, progress_base_partitioned
    from forestsink.reference import read_districts

    if scheduler and not isinstance(store, Dataset):
        raise ForestsinkError(
            f"--scheduler {scheduler}: remote workers cannot read {store.path}. "
            "Export it to storage every worker can read (`forestsink export "
            "--format geoparquet --out /shared/DIR`) and give --store /shared/DIR."
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
            write_partitions(_current_or_error(store, as_of), tmp, "store")
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


def _end_year(store, as_of) -> int:
    """Last year of growth: the as-of date's year, or the plan's end."""
    from forestsink.store.gpkg import parse_as_of

    spec = parse_as_of(as_of)
    if spec is not None and spec[0] == "time":
        return min(int(spec[1][:4]), PLAN_YEARS[1])
    return PLAN_YEARS[1]


def _settings(store, as_of, rules, params, by, year, targets, growth, end_year):
    from forestsink import __version__
    from forestsink.reference import data_dir

    batches = store.batches()
    last = int(batches["batch_id"].max()) if len(batches) else None
    return {
        "store": str(store.path),
        "last_batch": str(last),
        "as_of": str(as_of) if as_of is not None else "now / 当前",
        "view": by,
        "year": str(year) if year else "all / 全部",
        "rules": str(rules or data_dir() / "project_types.csv"),
        "parameters": str(params or data_dir() / "carbon_parameters.csv"),
        "district_targets": str(targets)
        if targets
        else "none (no invented targets) / 无",
        "growth_m3_ha_yr": f"{growth}" if growth is not None else "none",
        "growth_end_year": str(end_year),
        "tool_version": __version__,
        "generated": pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def carbon_tables(
    store,
    *,
    as_of=None,
    params=None,
    rules=None,
    draws: int = 10_000,
    seed: int = 2012,
    bvf_includes_roots: bool = True,
) -> Tables:
    """Carbon sink per district and city-wide (the ``carbon`` tool).

    Returns
    -------
    Tables
        ``carbon`` (per district, with a city row ``500000``), ``by_type``
        (city per forest type), ``parameters`` (what was used), ``settings``.
    """
    from forestsink.carbon import (
        carbon_by_group,
        classify_species,
        delta_volume,
        resolve_parameters,
    )
    from forestsink.reference import read_carbon_parameters, read_project_types

    types = read_project_types(rules)
    params_table = read_carbon_parameters(params)
    forest_types = read_forest_types()
    parameters = resolve_parameters(
        params_table, forest_types, bvf_includes_roots=bvf_includes_roots
    )
    pieces = pieces_from_store(store, as_of=as_of, rules=rules)
    end_year = _end_year(store, as_of)
    growth = growth_parameter(params_table)
    dv = pieces[["adcode", "project_type", "gross_area_mu"]].copy()
    dv["forest_type"] = classify_species(pieces["species"], forest_types)
    dv["delta_v_m3"] = delta_volume(
        pieces, types=types, growth_m3_ha_yr=growth, end_year=end_year
    ).to_numpy()
    adds = types["adds_stock_volume"].reindex(dv["project_type"]).fillna(False)
    dv = dv[adds.to_numpy(dtype=bool)]
    per_district = carbon_by_group(
        dv, parameters, group="adcode", draws=draws, seed=seed
    )
    city = carbon_by_group(
        dv.assign(adcode="500000"), parameters, group="adcode", draws=draws, seed=seed
    )
    keys = _district_keys()
    out = pd.concat([per_district, city], ignore_index=True).merge(
        pd.concat(
            [
                keys,
                pd.DataFrame(
                    [
                        {
                            "adcode": "500000",
                            "name_zh": "重庆市",
                            "name_en": "Chongqing (city-wide)",
                            "region": "",
                        }
                    ]
                ),
            ]
        ),
        on="adcode",
        how="left",
    )
    out = out[
        [
            "adcode",
            "name_zh",
            "name_en",
            "region",
            "delta_v_m3",
            "co2_t",
            "co2_t_p05",
            "co2_t_p95",
            "co2_t_central",
            "co2_t_ipcc_low",
            "co2_t_ipcc_high",
            "area_not_estimated_mu",
        ]
    ]
    by_type = _by_type(dv, parameters, draws=draws, seed=seed)
    used = pd.DataFrame(
        [
            {
                "forest_type": code,
                "parameter": name,
                "value": p.value,
                "distribution": p.distribution or "fixed",
                "sd": p.std(),
            }
            for code, parts in parameters.items()
            for name, p in parts.items()
        ]
    )
    settings = _settings(
        store, as_of, rules, params, "district", None, None, growth, end_year
    )
    settings.update(
        {
            "draws": str(draws),
            "seed": str(seed),
            "bvf_includes_roots": str(bvf_includes_roots),
        }
    )
    return Tables(
        tables={"carbon": out, "by_type": by_type, "parameters": used},
        settings=settings,
    )


def _by_type(dv, parameters, *, draws, seed) -> pd.DataFrame:
    from forestsink.carbon import carbon_by_group

    rows = []
    for code, part in dv.groupby("forest_type"):
        one = carbon_by_group(
            part.assign(city="500000"), parameters, group="city", draws=draws, seed=seed
        )
        one.insert(0, "forest_type", code)
        rows.append(one.drop(columns="city"))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
