"""Project work and project increment: the tables every output uses.

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

What the figures are. Project polygons measure **project work**: the area
treated by type (``gross_area_mu``, ``net_area_mu``; ``new_forest_area_mu`` is
the net area *planted* by the types that create forest, 项目造林面积, not the
resource statistic 新增森林面积). ``stock_volume_m3`` is the delivered
**standing stock** (现存蓄积: 小班蓄积, HUO_LMXJ …) of the pieces, never an
increment; ``stock_m3_per_ha`` divides it by the area that delivered it. The
project increment (``increment_measured_m3`` from before/after volumes,
``increment_model_m3`` from a user growth table net of its baseline; the area
where neither is available in ``increment_not_estimable_mu``) comes from
:func:`forestsink.progress.growth.project_increment`.

City targets: the plan's headline targets (new forest area, new stock volume,
forest coverage) are whole-forest resource statistics from the
forest-resource map (一张图), which the tool does not read yet: their ``done``
is empty and ``status`` says ``needs_resource_layers`` (coverage: measured
from land-cover rasters when a coverage table is given). Project work is
listed apart (``status`` ``project_work``), never as a percent of those
targets. Programme targets (area of renovation, tending … to treat) are
project work and are compared per project type (targets of several
programmes for the same type are added), because deliveries rarely say which
programme a polygon belongs to. Protection of existing public-welfare forest
is not delivered as polygons and is listed as not tracked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from forestsink.errors import ForestsinkError
from forestsink.reference import (  # noqa: F401  (re-exported)
    read_forest_types,
    read_labels,
    read_stock_attr_aliases,
)

VIEWS = ("district", "region", "unit", "city")
#: summed figures of a progress row (the same in every view)
_SUMS = [
    "n_polygons",
    "gross_area_mu",
    "net_area_mu",
    "overlap_area_mu",
    "new_forest_area_mu",
    "stock_volume_m3",
    "stock_area_mu",
    "increment_measured_m3",
    "increment_model_m3",
    "increment_not_estimable_mu",
]
PROGRESS_COLUMNS = [
    "adcode",
    "name_zh",
    "name_en",
    "region",
    "year",
    "project_type",
    *_SUMS,
    "stock_m3_per_ha",
    "share_of_city",
]
PLAN_YEARS = (2011, 2015)


@dataclass
class Tables:
    """Named tables plus the settings that produced them."""

    tables: dict[str, pd.DataFrame]
    settings: dict[str, str] = field(default_factory=dict)
    #: column → (中文, English, unit) overriding ``labels.csv`` for these tables
    labels: dict[str, tuple[str, str, str]] = field(default_factory=dict)


def add_stock_attrs(frame):
    """Add ``stock_before_m3``, ``stock_after_m3`` (m³), ``stock_per_ha_m3``.

    Deliveries that measured the same land before and after the work carry
    two extra columns (改造前蓄积 / 改造后蓄积 …), some give the standing stock
    per hectare (HUO_LMGQXJ 公顷蓄积); ingest keeps columns it does not map in
    the ``attrs`` JSON, so no store schema change is needed. The names are in
    ``data/stock_attr_aliases.csv``.
    """
    from forestsink.errors import ForestsinkError
    from forestsink.ingest.stock import STOCK_ATTRS, read_stock_attrs

    if "attrs" not in frame.columns or frame.empty:
        return frame.assign(**dict.fromkeys(STOCK_ATTRS, np.nan))
    found, names = read_stock_attrs(frame["attrs"], read_stock_attr_aliases())
    values = found.to_numpy(dtype="float64")
    bad = (np.isinf(values) | (values < 0)).any(axis=1)
    if bad.any():
        # validation refuses these (volume_impossible); a store written before
        # that check may hold them: never a silent "not estimable" or inf t CO₂
        rows = np.flatnonzero(bad)[:5]
        ids = frame["project_id"].to_numpy(dtype=object)[rows]
        what = [
            f"{pid}: "
            + ", ".join(
                f"{names[c][r]} = {found[c].iloc[r]:g}"
                for c in STOCK_ATTRS
                if np.isinf(found[c].iloc[r]) or found[c].iloc[r] < 0
            )
            for pid, r in zip(ids, rows, strict=True)
        ]
        raise ForestsinkError(
            f"存储中有不可能的蓄积值 / the store holds impossible volumes "
            f"(negative or infinite) in {int(bad.sum())} polygon(s): "
            f"{'; '.join(what)}. 撤回并重新交付 / withdraw these polygons and "
            "deliver them again with corrected values (validation now refuses "
            "them)."
        )
    return frame.assign(**{c: found[c].to_numpy() for c in STOCK_ATTRS})


def pieces_from_store(store, *, as_of=None, rules=None) -> pd.DataFrame:
    """Split the current polygons of *store* by district, with gross/net areas."""
    from forestsink.progress.netting import project_pieces
    from forestsink.reference import read_districts, read_project_types

    frame = add_stock_attrs(_current_or_error(store, as_of))
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


def read_growth_table(path, *, rules=None) -> pd.DataFrame:
    """Read and check a user growth (yield) table (CSV in UTF-8/GBK, or Excel).

    Format: :func:`forestsink.progress.growth.validate_growth_table`; an illustrative
    example is ``data/growth_table.EXAMPLE.csv``. Errors name the file, row
    and column.
    """
    from forestsink.errors import GrowthTableError
    from forestsink.io import read_bureau_table
    from forestsink.progress.growth import species_lookup, validate_growth_table
    from forestsink.reference import read_project_types

    path = Path(path)
    if not path.is_file():
        raise GrowthTableError(f"--growth {path}: no such file.")
    return validate_growth_table(
        read_bureau_table(path),
        source=path.name,
        project_types=read_project_types(rules).index,
        forest_types=read_forest_types()["forest_type"],
        rules=rules,
        species=species_lookup(read_forest_types()),
    )


def increment_of_pieces(pieces, *, types, growth, end_year) -> pd.DataFrame:
    """Project increment of each piece (``growth.project_increment``).

    Returns ``increment_m3``, ``method`` and ``forest_type`` per piece.
    """
    from forestsink.progress.growth import classify_species, project_increment

    forest_types = read_forest_types()
    ft = classify_species(pieces["species"], forest_types)
    fallback = dict(
        zip(forest_types["forest_type"], forest_types["fallback"], strict=True)
    )
    out = project_increment(
        pieces.reset_index(drop=True),
        types=types,
        forest_type=ft.reset_index(drop=True),
        fallback=fallback,
        growth=growth,
        end_year=end_year,
    )
    out["forest_type"] = ft.to_numpy()
    return out.set_axis(pieces.index)


def _district_keys() -> pd.DataFrame:
    from forestsink.reference import REGION_EN, read_district_table

    table = read_district_table()[["adcode", "name_zh", "name_en", "region"]]
    table["region_en"] = table["region"].map(REGION_EN)
    return table


def progress_by_district(
    pieces: pd.DataFrame, *, increment: pd.DataFrame
) -> pd.DataFrame:
    """Rows per district × year × project type (the base of every view).

    *increment*: :func:`increment_of_pieces` of the same pieces.
    """
    from forestsink.progress.growth import MEASURED, MODEL, NOT_ESTIMABLE

    method = increment["method"].to_numpy()
    inc = increment["increment_m3"].to_numpy(dtype="float64")
    stock = pd.to_numeric(pieces["stock_volume_m3"], errors="coerce")
    df = pieces.assign(
        stock_area_mu=np.where(stock.notna(), pieces["gross_area_mu"], 0.0),
        increment_measured_m3=np.where(method == MEASURED, inc, np.nan),
        increment_model_m3=np.where(method == MODEL, inc, np.nan),
        increment_not_estimable_mu=np.where(
            method == NOT_ESTIMABLE, pieces["gross_area_mu"], 0.0
        ),
    )
    grouped = df.groupby(["adcode", "year", "project_type"], dropna=False)

    def total(s):
        return s.sum(min_count=1)

    out = grouped.agg(
        n_polygons=("key", "nunique"),
        gross_area_mu=("gross_area_mu", "sum"),
        net_area_mu=("net_area_mu", "sum"),
        new_forest_area_mu=("new_forest_area_mu", "sum"),
        stock_volume_m3=("stock_volume_m3", total),
        stock_area_mu=("stock_area_mu", "sum"),
        increment_measured_m3=("increment_measured_m3", total),
        increment_model_m3=("increment_model_m3", total),
        increment_not_estimable_mu=("increment_not_estimable_mu", "sum"),
    ).reset_index()
    out["overlap_area_mu"] = out["gross_area_mu"] - out["net_area_mu"]
    out = out.merge(_district_keys(), on="adcode", how="left")
    return out


def _share(df: pd.DataFrame) -> pd.Series:
    city = df.groupby(["year", "project_type"])["net_area_mu"].transform("sum")
    return (df["net_area_mu"] / city).where(city > 0)


def _rollup(base: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    agg = dict.fromkeys(_SUMS, "sum")
    for name in ("stock_volume_m3", "increment_measured_m3", "increment_model_m3"):
        agg[name] = lambda s: s.sum(min_count=1)
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
    if "stock_area_mu" in out:
        area_ha = out["stock_area_mu"] / 15.0
        out["stock_m3_per_ha"] = (out["stock_volume_m3"] / area_ha).where(area_ha > 0)
    columns = [c for c in PROGRESS_COLUMNS if c in out.columns]
    extra = [c for c in ("unit_no", "note") if c in out.columns]
    lead = ["unit_no"] if "unit_no" in extra else []
    out = out[[*lead, *columns, *(["note"] if "note" in extra else [])]]
    sort = ["unit_no"] if by == "unit" else ["adcode"]
    return out.sort_values(
        [*sort, "year", "project_type"], na_position="first", kind="stable"
    ).reset_index(drop=True)


#: Status of a city-target row (the ``status`` column).
NEEDS_RESOURCE_LAYERS = "needs_resource_layers"
NEEDS_RESOURCE_NOTE = (
    "需森林资源一张图 / needs the forest-resource layers: the plan's target is "
    "the whole forest's change between two inventories, which project polygons "
    "cannot measure; project work is listed apart"
)


RESOURCE_STATISTICS = "resource_statistics"


def _resource_city(inventory: dict | None) -> pd.DataFrame:
    """Return the inventory statistics' city rows, one per year (maybe none)."""
    rows = []
    for year, stats in sorted((inventory or {}).items()):
        city = stats[stats["adcode"] == "500000"]
        if len(city):
            rows.append(city.iloc[0].to_dict() | {"year": int(year)})
    return pd.DataFrame(rows)


def _resource_rows(inv: pd.DataFrame, target: pd.Series, column: str, what: dict):
    """Rows of one resource target: change since the base year, per plan year.

    ``cumulative`` is the change from the layer of the year before the plan
    (the base, state at its 31 December) to the layer of each plan year;
    years without a layer are empty (never interpolated).
    """
    base_year = PLAN_YEARS[0] - 1
    by_year = inv.set_index("year")
    base = by_year.loc[base_year, column]
    previous = base
    rows = []
    for y in range(PLAN_YEARS[0], PLAN_YEARS[1] + 1):
        if y in by_year.index:
            value = by_year.loc[y, column]
            cumulative = float(value - base)
            done = float(value - previous)
            previous = value
            note = what["note"] + (
                f"; {by_year.loc[y, 'note']}" if by_year.loc[y, "note"] else ""
            )
        else:
            cumulative = done = np.nan
            note = f"{y} 年无森林资源图层 / no forest-resource layer for {y}"
        measured = not np.isnan(cumulative)
        rows.append(
            {
                "target_id": what["target_id"],
                "name_zh": what["name_zh"],
                "name_en": what["name_en"],
                "year": y,
                "unit": what["unit"],
                "target": target["value"],
                "done": done,
                "cumulative": cumulative,
                "remaining": max(target["value"] - cumulative, 0.0)
                if measured
                else np.nan,
                "pct_done": 100.0 * cumulative / target["value"]
                if measured
                else np.nan,
                "status": RESOURCE_STATISTICS,
                "note": note,
            }
        )
    return rows


def city_targets(
    base: pd.DataFrame,
    *,
    coverage: pd.DataFrame | None = None,
    inventory: dict[int, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """Each plan target: what measures it, and done, remaining, % done.

    ``status``: ``project_work`` (programme targets of area treated, and
    project work without a target: ``target`` empty), ``resource_statistics``
    (new forest area, new stock volume and coverage from the forest-resource
    map, when *inventory* holds the year before the plan and a plan year),
    ``needs_resource_layers`` (without those layers: ``done`` empty),
    ``coverage`` (measured from land-cover rasters when a coverage table is
    given and no layers are; with layers the raster figure is the row
    ``forest_coverage_raster``, status ``cross_check``) or ``not_tracked``.

    Parameters
    ----------
    inventory : dict, optional
        Year -> :func:`forestsink.inventory.load.inventory_statistics`
        (the city row, adcode 500000, is used). New forest area is the
        change of forest area (mu), new stock volume the change of forest
        stock (森林蓄积, m³, forest classes), coverage the latest plan
        year's rate (%).
    """
    from forestsink.reference import read_plan_targets, read_project_types

    targets = read_plan_targets()
    names = read_project_types()
    years = list(range(PLAN_YEARS[0], PLAN_YEARS[1] + 1))
    by_year = base.groupby("year")
    rows = []

    def emit(target_id, name_zh, name_en, unit, value, series, note, status):
        cumulative = 0.0
        has_target = not np.isnan(value)
        for y in years:
            done = float(series.get(y, 0.0)) if series is not None else np.nan
            cumulative += done
            measured = series is not None and has_target
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
                    "remaining": max(value - cumulative, 0.0) if measured else np.nan,
                    "pct_done": 100.0 * cumulative / value if measured else np.nan,
                    "status": status,
                    "note": note,
                }
            )

    t = targets.set_index("target_id")
    inv = _resource_city(inventory)
    base_year = PLAN_YEARS[0] - 1
    resource = (
        len(inv) > 0
        and base_year in set(inv["year"])
        and bool(set(inv["year"]) & set(years))
    )
    if resource:
        source = (
            f"森林资源一张图 {base_year} 年起的变化 / change in the forest-resource "
            f"map since {base_year}"
        )
        rows.extend(
            _resource_rows(
                inv,
                t.loc["new_forest_area"],
                "forest_area_mu",
                {
                    "target_id": "new_forest_area",
                    "name_zh": "新增森林面积",
                    "name_en": "New forest area",
                    "unit": "mu",
                    "note": source + " (乔木林+竹林+国家特别规定灌木林 / arbor, "
                    "bamboo and state-specified shrub)",
                },
            )
        )
        rows.extend(
            _resource_rows(
                inv,
                t.loc["new_stock_volume"],
                "forest_stock_m3",
                {
                    "target_id": "new_stock_volume",
                    "name_zh": "新增森林蓄积量",
                    "name_en": "New stock volume",
                    "unit": "m3",
                    "note": source + " (森林蓄积 = Σ 公顷蓄积 × 面积 over forest "
                    "classes / forest stock)",
                },
            )
        )
    else:
        emit(
            "new_forest_area",
            "新增森林面积",
            "New forest area",
            "mu",
            t.loc["new_forest_area", "value"],
            None,
            NEEDS_RESOURCE_NOTE,
            NEEDS_RESOURCE_LAYERS,
        )
        emit(
            "new_stock_volume",
            "新增森林蓄积量",
            "New stock volume",
            "m3",
            t.loc["new_stock_volume", "value"],
            None,
            NEEDS_RESOURCE_NOTE
            + "; delivered 蓄积 is a standing stock, not an increment",
            NEEDS_RESOURCE_LAYERS,
        )
    emit(
        "project_planted_area",
        "项目作业面积：造林（净）",
        "Project work: area planted (net)",
        "mu",
        np.nan,
        by_year["new_forest_area_mu"].sum(),
        "net area of the project types that plant forest, overlaps counted "
        "once; project work, not the resource's new forest area (young "
        "plantations are 未成林造林地 for years)",
        "project_work",
    )
    programme = targets[targets["scope"] == "programme"]
    for ptype, group in programme.groupby("project_type", sort=False):
        value = group["value"].sum()
        labels = "、".join(group["programme_zh"])
        gross = base[base["project_type"] == ptype].groupby("year")["gross_area_mu"]
        emit(
            f"type_{ptype}",
            f"项目作业面积：{names.loc[ptype, 'name_zh']}（{labels}）",
            f"Project work: area treated, {names.loc[ptype, 'name_en']}",
            "mu",
            value,
            gross.sum(),
            "sum of the programme targets for this project type: "
            + "; ".join(f"{r.programme_zh} {r.value:,.0f}" for r in group.itertuples()),
            "project_work",
        )
    cov = t.loc["forest_coverage"]
    raster = {
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
        "status": "coverage",
        "note": "measured from land-cover rasters (forestsink coverage, a "
        "remote-sensing cross-check), not from project polygons; the "
        "official rate needs the forest-resource layers",
    }
    if coverage is not None and {"adcode", "coverage_pct", "year"} <= set(coverage):
        city = coverage[coverage["adcode"] == "500000"]
        if not city.empty:
            latest = city.sort_values("year").iloc[-1]
            raster.update(
                done=float(latest["coverage_pct"]),
                cumulative=float(latest["coverage_pct"]),
                year=int(latest["year"]),
                pct_done=100.0 * float(latest["coverage_pct"]) / cov["value"],
                remaining=max(cov["value"] - latest["coverage_pct"], 0),
            )
    if resource:
        in_plan = inv[inv["year"].isin(years)].sort_values("year").iloc[-1]
        rate = float(in_plan["coverage_pct"])
        rows.append(
            {
                "target_id": "forest_coverage",
                "name_zh": "森林覆盖率",
                "name_en": "Forest coverage",
                "year": int(in_plan["year"]),
                "unit": "%",
                "target": cov["value"],
                "done": rate,
                "cumulative": rate,
                "remaining": max(cov["value"] - rate, 0.0),
                "pct_done": 100.0 * rate / cov["value"],
                "status": RESOURCE_STATISTICS,
                "note": "森林资源一张图：森林面积 ÷ 行政区总面积 / forest-resource "
                "map: forest area ÷ total administrative area (water included)"
                + (f"; {in_plan['note']}" if in_plan["note"] else ""),
            }
        )
        if not np.isnan(raster["done"]):
            rows.append(
                raster
                | {
                    "pct_done": np.nan,  # a check of the rate, not progress
                    "remaining": np.nan,
                    "target_id": "forest_coverage_raster",
                    "name_zh": "森林覆盖率（遥感校核）",
                    "name_en": "Forest coverage (raster cross-check)",
                    "status": "cross_check",
                    "note": "land-cover raster: an independent remote-sensing "
                    "estimate (its forest classes and denominator differ from "
                    "the official definition), not the official rate",
                }
            )
    else:
        rows.append(raster)
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
                "status": "not_tracked",
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


def _district_resource(inventory: dict | None) -> dict[str, dict[str, float]]:
    """Per district: change of forest area and forest stock, base to latest.

    Base: the year before the plan; latest: the last plan year with a layer.
    Only districts with a layer in both years (never filled in).
    """
    years = sorted(inventory or {})
    base_year = PLAN_YEARS[0] - 1
    in_plan = [y for y in years if PLAN_YEARS[0] <= y <= PLAN_YEARS[1]]
    if base_year not in years or not in_plan:
        return {}
    a = inventory[base_year].set_index("adcode")
    b = inventory[in_plan[-1]].set_index("adcode")
    out = {}
    for code in a.index.intersection(b.index):
        if a.loc[code, "n_xiaoban"] > 0 and b.loc[code, "n_xiaoban"] > 0:
            out[code] = {
                "new_forest_area_mu": float(
                    b.loc[code, "forest_area_mu"] - a.loc[code, "forest_area_mu"]
                ),
                "new_stock_volume_m3": float(
                    b.loc[code, "forest_stock_m3"] - a.loc[code, "forest_stock_m3"]
                ),
                "years": f"{base_year}–{in_plan[-1]}",
            }
    return out


def district_targets(
    base: pd.DataFrame,
    targets: pd.DataFrame,
    *,
    inventory: dict[int, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """Compare a bureau's per-district targets with what was done.

    Both metrics (``new_forest_area_mu``, ``new_stock_volume_m3``) are
    resource statistics: with *inventory* (year -> forest-resource
    statistics) holding the year before the plan and a plan year, ``done``
    is the district's change between them (``status``
    ``resource_statistics``); otherwise ``done``, ``remaining`` and
    ``pct_done`` stay empty (``needs_resource_layers``). ``project_work``
    shows apart what the projects did: the net area planted (mu), or the
    project increment measured or modelled (m³; empty where not estimable).
    """
    resource = _district_resource(inventory)
    grouped = base.groupby("adcode")
    planted = grouped["new_forest_area_mu"].sum()
    increment = (
        grouped["increment_measured_m3"]
        .sum(min_count=1)
        .add(grouped["increment_model_m3"].sum(min_count=1), fill_value=0.0)
    )
    rows = []
    for r in targets.itertuples():
        if r.metric == "new_forest_area_mu":
            work = float(planted.get(r.adcode, 0.0))
            what = "项目造林面积（净）/ project work: area planted (net), mu"
        else:
            work = float(increment.get(r.adcode, np.nan))
            what = "项目增量（实测或模型）/ project increment (measured or model), m³"
        found = resource.get(r.adcode)
        done = found[r.metric] if found else np.nan
        rows.append(
            {
                "adcode": r.adcode,
                "metric": r.metric,
                "target": r.target,
                "done": done,
                "remaining": max(r.target - done, 0.0) if found else np.nan,
                "pct_done": 100.0 * done / r.target if found and r.target else np.nan,
                "status": RESOURCE_STATISTICS if found else NEEDS_RESOURCE_LAYERS,
                "project_work": work,
                "project_work_what": what,
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
            "status",
            "project_work",
            "project_work_what",
        ]
    ]


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
) -> Tables:
    """All progress tables for a store (the ``progress`` tool).

    *inventory*: year -> the forest-resource statistics of that year
    (:func:`forestsink.inventory.load.inventory_statistics`); with the year
    before the plan and a plan year, the resource targets are measured from
    them (see :func:`city_targets`), and district targets too.

    *growth*: a growth (yield) table file or a checked table
    (:func:`read_growth_table`) for the modelled project increment; without
    one, pieces without before/after volumes are not estimable.

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
    from forestsink.reference import read_carbon_parameters, read_project_types

    types = read_project_types(rules)
    read_carbon_parameters(params)  # refuse a bad --params file early
    growth_path, growth = _growth(growth, rules)
    end_year = _end_year(store, as_of)
    if engine not in ("local", "dask"):
        raise ForestsinkError(f"--engine {engine!r}: use local or dask.")
    from forestsink.scale.dataset import Dataset

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
    base["share_of_city"] = _share(base)
    tables = {v: view(base, v) for v in VIEWS}
    tables["city_targets"] = city_targets(base, coverage=coverage, inventory=inventory)
    if targets is not None:
        tables["district_targets"] = district_targets(
            base, read_district_targets(targets), inventory=inventory
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
            store, as_of, rules, params, by, year, targets, growth_path, end_year
        ),
    )


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
    import contextlib
    import tempfile

    from forestsink.progress.partitioned import progress_base_partitioned
    from forestsink.reference import read_districts
    from forestsink.scale.dataset import Dataset, write_partitions
    from forestsink.scale.distributed import dask_client

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


def _growth(growth, rules):
    """Return (what to show in the settings, checked table or None)."""
    if growth is None:
        return None, None
    if isinstance(growth, pd.DataFrame):
        return "(table given in code)", growth
    return str(growth), read_growth_table(growth, rules=rules)


def _end_year(store, as_of) -> int:
    """Last year of growth: the as-of date's year, or the plan's end."""
    from forestsink.store.gpkg import parse_as_of

    spec = parse_as_of(as_of)
    if spec is not None and spec[0] == "time":
        return min(int(spec[1][:4]), PLAN_YEARS[1])
    return PLAN_YEARS[1]


def shown_path(path, *, base=None) -> str:
    """Return a file name for provenance, never a machine's absolute path.

    Shipped tables read ``forestsink/data/<name>``; other files are named
    relative to *base* (the store's folder) or the working folder when they
    lie inside it, else by their name alone. Database URLs (password masked
    by the store) are kept.
    """
    from forestsink.reference import data_dir

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


def _settings(store, as_of, rules, params, by, year, targets, growth, end_year):
    from forestsink.reference import data_dir
    from forestsink.version import __version__

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


#: Columns of the ``carbon`` table (the issue's CLI columns come first).
CARBON_COLUMNS = [
    "adcode",
    "name_zh",
    "name_en",
    "co2_t_per_yr",
    "co2_t_per_yr_p05",
    "co2_t_per_yr_p95",
    "method",
    "region",
    "increment_m3",
    "co2_t",
    "co2_t_p05",
    "co2_t_p95",
    "co2_t_central",
    "co2_t_ipcc_low",
    "co2_t_ipcc_high",
    "area_estimated_mu",
    "area_not_estimable_mu",
    "years",
]


def _group_method(methods: set) -> str:
    from forestsink.progress.growth import MEASURED, MODEL, NOT_ESTIMABLE

    if MEASURED in methods and MODEL in methods:
        return f"{MEASURED}+model"
    if MEASURED in methods:
        return MEASURED
    if MODEL in methods:
        return MODEL
    return NOT_ESTIMABLE


def carbon_tables(
    store,
    *,
    as_of=None,
    params=None,
    rules=None,
    draws: int = 10_000,
    seed: int = 2012,
    bvf_includes_roots: bool = True,
    growth=None,
) -> Tables:
    """CO₂ of the project increment per district and city-wide (``carbon``).

    This is **not** the forest's carbon sink (that needs the forest-resource
    layers): it converts only the project increment of
    :func:`forestsink.progress.growth.project_increment` (before/after volumes, or a
    user growth table net of its baseline). Delivered standing stocks never
    enter. Where no piece of a district has an estimable increment, its CO₂
    is empty and ``method`` is ``not_estimable``.

    Parameters
    ----------
    growth : path or DataFrame, optional (default: None)
        Growth (yield) table, see :func:`read_growth_table`.

    Returns
    -------
    Tables
        ``carbon`` (per district, with a city row ``500000``; columns
        :data:`CARBON_COLUMNS`: ``co2_t`` … in t CO₂ accumulated by the end
        year, ``co2_t_per_yr`` … the same spread over the years of the plan
        period to the end year, empty (NaN) where the method includes
        ``project_increment_measured``: a before/after pair has no time span
        in the delivery, ``years``), ``by_type`` (city per forest
        type), ``parameters`` (what was used), ``settings``.
    """
    from forestsink.progress.growth import (
        MEASURED,
        carbon_by_group,
        check_draws,
        resolve_parameters,
    )
    from forestsink.reference import read_carbon_parameters, read_project_types

    check_draws(draws)
    types = read_project_types(rules)
    params_table = read_carbon_parameters(params)
    forest_types = read_forest_types()
    parameters = resolve_parameters(
        params_table, forest_types, bvf_includes_roots=bvf_includes_roots
    )
    growth_path, growth_table = _growth(growth, rules)
    pieces = pieces_from_store(store, as_of=as_of, rules=rules)
    end_year = _end_year(store, as_of)
    inc = increment_of_pieces(
        pieces, types=types, growth=growth_table, end_year=end_year
    )
    dv = pieces[["adcode", "project_type", "gross_area_mu"]].copy()
    dv["forest_type"] = inc["forest_type"].to_numpy()
    dv["delta_v_m3"] = inc["increment_m3"].to_numpy()
    dv["method"] = inc["method"].to_numpy()
    dv = dv[dv["method"].to_numpy() != "none"]  # types that add no volume
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
    known = dv["forest_type"].isin(list(parameters)) & dv["delta_v_m3"].notna()
    usable = pd.concat([dv[known], dv[known].assign(adcode="500000")])
    methods = usable.groupby("adcode")["method"].agg(set)
    out["method"] = [_group_method(methods.get(a, set())) for a in out["adcode"]]
    out["area_estimated_mu"] = (
        (usable.groupby("adcode")["gross_area_mu"].sum().reindex(out["adcode"]))
        .fillna(0.0)
        .to_numpy()
    )
    out = out.rename(
        columns={
            "delta_v_m3": "increment_m3",
            "area_not_estimated_mu": "area_not_estimable_mu",
        }
    )
    co2 = [
        "increment_m3",
        "co2_t",
        "co2_t_p05",
        "co2_t_p95",
        "co2_t_central",
        "co2_t_ipcc_low",
        "co2_t_ipcc_high",
    ]
    none = out["method"] == "not_estimable"
    out.loc[none, co2] = np.nan  # not estimable is not zero
    years = end_year - PLAN_YEARS[0] + 1
    out["years"] = years
    for name in ("", "_p05", "_p95"):
        out[f"co2_t_per_yr{name}"] = out[f"co2_t{name}"] / years
    # a before/after measurement has no time span in the delivery (no column
    # gives the two measurement years): its total is not spread over the plan
    # years, so the per-year figures stay empty wherever a measured part counts
    measured = out["method"].astype(str).str.startswith(MEASURED).to_numpy()
    out.loc[measured, ["co2_t_per_yr", "co2_t_per_yr_p05", "co2_t_per_yr_p95"]] = np.nan
    out = out[CARBON_COLUMNS]
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
        store, as_of, rules, params, "district", None, None, growth_path, end_year
    )
    settings.update(
        {
            "draws": str(draws),
            "seed": str(seed),
            "bvf_includes_roots": str(bvf_includes_roots),
            "what": "项目增量（实测或模型，扣除基线）折算 CO₂，非森林碳汇 / CO₂ of the "
            "project increment (measured, or model with baseline), not the "
            "forest's carbon sink",
            "co2_t_per_yr": f"co2_t / {years} years ({PLAN_YEARS[0]}–{end_year}); "
            "empty where a measured (before/after) increment counts: the "
            "delivery gives no measurement years",
        }
    )
    return Tables(
        tables={"carbon": out, "by_type": by_type, "parameters": used},
        settings=settings,
    )


def _by_type(dv, parameters, *, draws, seed) -> pd.DataFrame:
    from forestsink.progress.growth import carbon_by_group

    rows = []
    for code, part in dv.groupby("forest_type"):
        one = carbon_by_group(
            part.assign(city="500000"), parameters, group="city", draws=draws, seed=seed
        )
        one.insert(0, "forest_type", code)
        rows.append(
            one.drop(columns="city").rename(
                columns={
                    "delta_v_m3": "increment_m3",
                    "area_not_estimated_mu": "area_not_estimable_mu",
                }
            )
        )
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
