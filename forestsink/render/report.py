"""The officials' report: one self-contained HTML file that works offline.

Everything the page needs is inside the file: Leaflet (from the
``folium-offline`` package), styles, data and pictures. No font, tile or
script is fetched; a basemap is not included (the district, project and
coverage layers are the map).

Numbers are never recomputed here: the headline, the map and the tables are
rendered from the tables :mod:`forestsink.progress` and
:mod:`forestsink.coverage` return — the same ones the ``progress``,
``carbon`` and ``coverage`` commands write.

Hostile data: every string from a delivery travels as JSON inside
``<script type="application/json">`` (Jinja's ``tojson`` filter: ``<``,
``>``, ``&`` and ``'`` escaped) and is put on the page with ``textContent``,
never ``innerHTML``; the Jinja template autoescapes everything else.

Layers: the computations below ``render`` (carbon, inventory, progress,
store, reference); no optional heavy dependency.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import mapclassify
import numpy as np
import pandas as pd
import shapely
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import escape

from forestsink.carbon import forest_sink_tables
from forestsink.errors import MapError
from forestsink.inventory.crosscheck import coverage_crosscheck
from forestsink.inventory.load import inventory_change, statistics_by_year
from forestsink.inventory.reconcile import reconcile_store
from forestsink.io import atomic_write
from forestsink.progress import carbon_tables, progress_tables_compared
from forestsink.reference import (
    read_district_table,
    read_districts,
    read_plan,
    read_project_types,
)
from forestsink.render.duty_section import duty_layers, duty_rows
from forestsink.render.offline import leaflet_assets
from forestsink.render.plans_section import plans_section
from forestsink.render.sample_section import sample_section
from forestsink.store.inventory_schema import LAND_GROUPS
from forestsink.version import __version__

TYPE_COLOURS = {
    "afforestation": "#1b9e77",
    "grain_to_green": "#66a61e",
    "rocky_desertification": "#a6761d",
    "public_welfare": "#1f78b4",
    "renovation": "#e6ab02",
    "tending": "#7570b3",
    "nursery": "#e7298a",
}

#: display simplification of polygons (degrees); numbers use full geometry
DISTRICT_TOLERANCE = 0.002
PROJECT_TOLERANCE = 0.0003
COORD_DECIMALS = 5


@dataclass
class ReportInputs:
    """What the report is rendered from (all computed elsewhere)."""

    progress: object  # forestsink.progress.Tables
    carbon: object  # forestsink.progress.Tables
    districts: object  # GeoDataFrame, EPSG:4490
    projects: object  # GeoDataFrame of current polygons, EPSG:4490
    coverage: pd.DataFrame | None = None  # per district and year (+ city 500000)
    overlay: dict | None = None  # {"png": bytes, "bounds": [[s, w], [n, e]], ...}
    settings: dict = field(default_factory=dict)
    #: forest-resource map: {"stats": {year: DataFrame}, "change": ChangeResult
    #: or None, "reconcile": DataFrame or None, "crosscheck": DataFrame or None}
    inventory: dict | None = None
    #: the reference-sample estimate (``forestsink.sampling.tools.read_estimate``)
    sample_estimate: dict | None = None
    #: the plan (:class:`forestsink.reference.Plan`); None: the seed plan
    plan: object | None = None


def _default(value):
    """JSON for what :func:`json.dumps` cannot write (numpy scalars, NA)."""
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if np.isnan(value) else float(value)
    if value is pd.NA or value is pd.NaT:
        return None
    return str(value)


def _clean(value):
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float | np.floating) and not np.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _records(df: pd.DataFrame) -> list[dict]:
    return [{k: _clean(v) for k, v in row.items()} for row in df.to_dict("records")]


def _round_geometry(geoms, tolerance: float):
    simple = shapely.simplify(
        np.asarray(geoms, dtype=object), tolerance, preserve_topology=True
    )
    return shapely.set_precision(simple, 10**-COORD_DECIMALS)


def district_features(
    districts, progress_tables, carbon_table, coverage, inventory=None
):
    """GeoJSON of the districts with every figure the map shows, per year."""
    base = progress_tables["district"]
    yearly = base.pivot_table(
        index="adcode",
        columns="year",
        values="new_forest_area_mu",
        aggfunc="sum",
        fill_value=0.0,
    )
    cumulative = yearly.cumsum(axis=1)
    carbon = carbon_table.set_index("adcode")
    geoms = _round_geometry(districts.geometry.values, DISTRICT_TOLERANCE)
    features = []
    for row, geom in zip(districts.itertuples(), geoms, strict=True):
        props = {
            "adcode": row.adcode,
            "name_zh": row.name_zh,
            "name_en": row.name_en,
            "region": row.region,
            "new_forest_cum": {
                str(int(y)): float(cumulative.loc[row.adcode, y])
                if row.adcode in cumulative.index
                else 0.0
                for y in cumulative.columns
            },
            "co2_t": _clean(carbon["co2_t"].get(row.adcode)),
            "co2_t_p05": _clean(carbon["co2_t_p05"].get(row.adcode)),
            "co2_t_p95": _clean(carbon["co2_t_p95"].get(row.adcode)),
        }
        if inventory:
            props["inv_coverage"] = {
                str(y): _clean(
                    stats.set_index("adcode")["coverage_pct"].get(row.adcode)
                )
                for y, stats in sorted(inventory["stats"].items())
            }
            cross = inventory.get("crosscheck")
            if cross is not None:
                diff = cross.set_index("adcode")["difference_pp"]
                props["cross_diff_pp"] = _clean(diff.get(row.adcode))
            change = inventory.get("change")
            if change is not None:
                c = change.districts.set_index("adcode")
                if row.adcode in c.index:
                    props["inv_change_pp"] = _clean(
                        c.loc[row.adcode, "coverage_to_pct"]
                        - c.loc[row.adcode, "coverage_from_pct"]
                    )
                    props["inv_area_change_mu"] = _clean(
                        c.loc[row.adcode, "forest_area_change_mu"]
                    )
        if coverage is not None:
            cov = coverage[coverage["adcode"] == row.adcode].sort_values("year")
            props["coverage"] = {
                str(int(r.year)): _clean(r.coverage_pct) for r in cov.itertuples()
            }
            if "coverage_change_pp" in cov and cov["coverage_change_pp"].notna().any():
                props["coverage_change_pp"] = _clean(
                    cov["coverage_change_pp"].dropna().iloc[-1]
                )
        features.append(
            {
                "type": "Feature",
                "properties": props,
                "geometry": json.loads(shapely.to_geojson(geom)),
            }
        )
    return {"type": "FeatureCollection", "features": features}


def project_features(projects, types: pd.DataFrame) -> dict:
    """Compact project layer: simplified rings plus columnar properties."""
    if projects is None or projects.empty:
        return {"n": 0}
    geoms = _round_geometry(projects.geometry.values, PROJECT_TOLERANCE)
    centroids = shapely.centroid(projects.geometry.values)
    code = {t: i for i, t in enumerate(types.index)}
    polys = []
    for g in geoms:
        polys.append(
            [
                [
                    np.round(np.asarray(ring.coords), COORD_DECIMALS).tolist()
                    for ring in (p.exterior, *p.interiors)
                ]
                for p in (g.geoms if hasattr(g, "geoms") else [g])
                if not p.is_empty
            ]
        )
    return {
        "n": len(projects),
        "key": projects["key"].astype(str).tolist(),
        "project_id": projects["project_id"].astype(str).tolist(),
        "type": [code.get(t, -1) for t in projects["project_type"]],
        "year": [int(y) if pd.notna(y) else None for y in projects["year"]],
        "area_mu": [round(float(a), 1) for a in projects["area_mu"]],
        "version": [int(v) for v in projects["version"]],
        "batch": [int(b) for b in projects["batch_id"]],
        "x": np.round(shapely.get_x(centroids), COORD_DECIMALS).tolist(),
        "y": np.round(shapely.get_y(centroids), COORD_DECIMALS).tolist(),
        "polys": polys,
    }


def _resource_detail(target_id: str, inventory: dict | None) -> str | None:
    """Return the base → last year figures behind a resource headline (or None)."""
    stats = (inventory or {}).get("stats") or {}
    change = (inventory or {}).get("change")
    if change is None:
        return None
    city = change.districts.set_index("adcode").loc["500000"]
    y0, y1 = int(city["year_from"]), int(city["year_to"])
    if target_id == "forest_coverage":
        return (
            f"{y0}: {city['coverage_from_pct']:.1f} % → {y1}: "
            f"{city['coverage_to_pct']:.1f} %"
        )
    if target_id == "new_forest_area":
        return (
            f"森林面积 forest area {y0}: {city['forest_area_from_mu'] / 1e4:,.0f} → "
            f"{y1}: {city['forest_area_to_mu'] / 1e4:,.0f} 万亩; 增 gain "
            f"{city['forest_gain_mu'] / 1e4:,.1f}, 减 loss "
            f"{city['forest_loss_mu'] / 1e4:,.1f} 万亩"
        )
    if target_id == "new_stock_volume" and y0 in stats and y1 in stats:
        a = stats[y0].set_index("adcode").loc["500000"]
        b = stats[y1].set_index("adcode").loc["500000"]
        return (
            f"森林蓄积 forest stock {y0}: {a['forest_stock_m3'] / 1e4:,.0f} → {y1}: "
            f"{b['forest_stock_m3'] / 1e4:,.0f} 万 m³; 活立木蓄积 standing stock "
            f"{a['stock_m3'] / 1e4:,.0f} → {b['stock_m3'] / 1e4:,.0f} 万 m³"
        )
    return None


def headline(progress_tables, carbon_table, coverage, inventory=None) -> list[dict]:
    """Headline rows: each plan target with value, target and percent done."""
    city = progress_tables["city_targets"]
    last = (
        city.sort_values("year", kind="stable").groupby("target_id", sort=False).tail(1)
    )
    first = [
        "forest_coverage",
        "new_forest_area",
        "new_stock_volume",
        "project_planted_area",
    ]
    rank = {t: i for i, t in enumerate(first)}
    last = last.assign(_rank=last["target_id"].map(rank).fillna(len(first)))
    last = last.sort_values("_rank", kind="stable")
    rows = []
    for r in last.itertuples():
        done = _clean(r.cumulative)
        resource = r.status == "resource_statistics"
        if r.target_id == "forest_coverage" and coverage is not None and not resource:
            c = coverage[coverage["adcode"] == "500000"].sort_values("year")
            if len(c):
                done = _clean(c["coverage_pct"].iloc[-1])
        if r.target_id.startswith("protect_"):
            continue
        rows.append(
            {
                "target_id": r.target_id,
                "name_zh": r.name_zh,
                "name_en": r.name_en,
                "unit": r.unit,
                "target": _clean(r.target),
                "done": done,
                "pct": None
                if done is None
                or not r.target
                or r.target != r.target
                or r.status == "cross_check"  # a check of the rate, not progress
                else 100.0 * done / r.target,
                "status": r.status,
                "note": r.note,
                "detail": _resource_detail(r.target_id, inventory)
                if resource
                else None,
            }
        )
    sink = (inventory or {}).get("sink")
    if sink:
        y0, y1 = sink["years"]
        rows.append(
            {
                "target_id": "forest_sink_co2",
                "name_zh": f"全森林碳汇（存量差法，{y0}–{y1}）",
                "name_en": f"Forest carbon sink, whole forest (stock difference, "
                f"{y0}–{y1})",
                "unit": "t CO₂/yr",
                "target": None,
                "done": sink["co2"],
                "pct": None,
                "low": sink["low"],
                "high": sink["high"],
                "status": "forest_sink",
                "detail": "不确定性主要来源 / main sources of uncertainty: "
                + "、".join(sink["drivers"])
                + " ("
                + ", ".join(sink["drivers_en"])
                + ")",
                "note": "两期森林资源一张图的碳储量之差（IPCC 2006 式 2.8），正值为从"
                "大气移除；竹林与特灌林无来源参数未计入 / the change of the whole "
                "forest's carbon stock between two inventories (IPCC 2006 Eq. 2.8), "
                "positive = removal; bamboo and state-specified shrub not counted "
                "(no sourced per-area value). 90 % interval: Monte Carlo over every "
                "input; the sink sheet of forestsink carbon says what is not "
                "counted and why.",
            }
        )
    city_c = carbon_table.set_index("adcode").loc["500000"]
    estimable = city_c["method"] != "not_estimable"
    rows.append(
        {
            "target_id": "project_increment_co2",
            "name_zh": "项目增量 CO₂（实测或模型，扣除基线）",
            "name_en": "Project increment CO₂ (measured, or model with baseline)",
            "unit": "t CO₂",
            "target": None,
            "done": _clean(city_c["co2_t"]) if estimable else None,
            "pct": None,
            "low": _clean(city_c["co2_t_p05"]) if estimable else None,
            "high": _clean(city_c["co2_t_p95"]) if estimable else None,
            "status": "project_increment" if estimable else "not_estimable",
            "note": (
                f"方法 method: {city_c['method']}; 不可估算面积 area not estimable "
                f"{city_c['area_not_estimable_mu']:,.0f} 亩 mu. 非森林碳汇（全市碳汇"
                "由两期森林资源一张图计算）/ not the forest carbon sink (computed "
                "from two forest-resource inventories). 90 % interval: conversion "
                "parameters only"
            ),
        }
    )
    return rows


#: classes of the report's forest-resource choropleths (Fisher–Jenks)
N_CLASSES = 5


def class_breaks(features: dict, metrics) -> dict:
    """Class upper bounds of district values per metric (mapclassify).

    Fisher–Jenks natural breaks, :data:`N_CLASSES` classes (fewer when
    fewer distinct values): the legend shows each class's range.
    """
    out: dict = {"method": "Fisher–Jenks 自然断点 natural breaks", "min": {}}
    for metric in metrics:
        values = []
        for f in features["features"]:
            p = f["properties"]
            v = {
                "inv_change": p.get("inv_change_pp"),
                "cross_diff": p.get("cross_diff_pp"),
            }.get(metric)
            if metric == "inv_coverage" and p.get("inv_coverage"):
                v = p["inv_coverage"][max(p["inv_coverage"])]
            if v is not None:
                values.append(float(v))
        if len(set(values)) < 2:
            continue
        k = min(N_CLASSES, len(set(values)))
        with warnings.catch_warnings():
            # (its pure-Python path without numba: ample for 38 districts)
            warnings.filterwarnings("ignore", "Numba not installed", UserWarning)
            bins = mapclassify.FisherJenks(np.asarray(values), k=k).bins
        out[metric] = [float(b) for b in bins]
        out["min"][metric] = float(min(values))
    return out


#: headers of the reconciliation and cross-check tables (Chinese, English, unit)
_SECTION_LABELS = {
    "adcode": "代码 Adcode",
    "name_zh": "区县 District",
    "year": "年度 Year",
    "n_polygons": "图斑数 Polygons",
    "area_mu": "项目面积 Project area (亩 mu)",
    "forest_mu": "其中森林 On forest (亩 mu)",
    "unestablished_mu": "未成林地 Not yet established (亩 mu)",
    "other_forest_land_mu": "其他林地 Other forest land (亩 mu)",
    "non_forest_mu": "非林地 Non-forest (亩 mu)",
    "not_in_layer_mu": "图层外 Not in layer (亩 mu)",
    "n_planted_on_forest": "原为森林的造林图斑 Planted on forest (n)",
    "planted_on_forest_mu": "原为森林的造林面积 Planted on forest (亩 mu)",
    "inventory_coverage_pct": "一张图覆盖率 Map coverage (%)",
    "raster_coverage_pct": "遥感覆盖率 Raster coverage (%)",
    "difference_pp": "差 Difference (pp)",
    "note": "说明 Note",
}


def inventory_section(inventory: dict | None) -> dict | None:
    """Return what the report's forest-resource section shows (or None).

    District change rows, the city's transfer matrix as a cross-table (万亩),
    the reconciliation of projects with the map and the raster cross-check,
    each as plain records for the template.
    """
    if not inventory or inventory.get("change") is None:
        years = sorted((inventory or {}).get("stats") or {})
        return {"years": years, "change": None} if years else None
    change = inventory["change"]
    city = change.matrix[change.matrix["adcode"] == "500000"]
    cross = city.pivot_table(
        index="name_from", columns="name_to", values="area_mu", aggfunc="sum"
    )
    order = [" / ".join(v) for v in LAND_GROUPS.values()]
    rows_order = [g for g in order if g in cross.index]
    cols_order = [g for g in order if g in cross.columns]
    cross = cross.reindex(index=rows_order, columns=cols_order)
    matrix = {
        "columns": cols_order,
        "rows": [
            {
                "name": name,
                "cells": [
                    None if pd.isna(v) else float(v) / 1e4 for v in cross.loc[name]
                ],
            }
            for name in rows_order
        ],
    }
    out = {
        "years": sorted(inventory["stats"]),
        "change": _records(change.districts),
        "matrix": matrix,
        "reconcile": _records(inventory["reconcile"].rename(columns=_SECTION_LABELS))
        if inventory.get("reconcile") is not None
        else None,
        "crosscheck": _records(inventory["crosscheck"].rename(columns=_SECTION_LABELS))
        if inventory.get("crosscheck") is not None
        else None,
    }
    return out


def table_rows(progress_tables, carbon_table, coverage) -> list[dict]:
    """Per-district totals for the sortable table (same tables as the CLI)."""
    base = progress_tables["district"]
    totals = base.groupby("adcode").agg(
        gross_area_mu=("gross_area_mu", "sum"),
        net_area_mu=("net_area_mu", "sum"),
        new_forest_area_mu=("new_forest_area_mu", "sum"),
        stock_volume_m3=("stock_volume_m3", "sum"),
        increment_not_estimable_mu=("increment_not_estimable_mu", "sum"),
    )
    city_new = totals["new_forest_area_mu"].sum()
    totals["share_of_city"] = (
        totals["new_forest_area_mu"] / city_new if city_new else (np.nan)
    )
    carbon = carbon_table.set_index("adcode")
    keys = read_district_table()[["adcode", "name_zh", "name_en", "region"]]
    keys = keys.set_index("adcode")
    rows = []
    for adcode in keys.index:
        t = totals.loc[adcode] if adcode in totals.index else None
        row = {
            "adcode": adcode,
            "name_zh": keys.loc[adcode, "name_zh"],
            "name_en": keys.loc[adcode, "name_en"],
            "region": keys.loc[adcode, "region"],
        }
        for c in (
            "gross_area_mu",
            "net_area_mu",
            "new_forest_area_mu",
            "stock_volume_m3",
            "increment_not_estimable_mu",
            "share_of_city",
        ):
            row[c] = _clean(t[c]) if t is not None else 0.0
        row["co2_t"] = _clean(carbon["co2_t"].get(adcode))
        row["method"] = str(carbon["method"].get(adcode, "not_estimable"))
        if coverage is not None:
            cov = coverage[coverage["adcode"] == adcode].sort_values("year")
            row["coverage_pct"] = (
                _clean(cov["coverage_pct"].iloc[-1]) if len(cov) else None
            )
            if "coverage_change_pp" in cov and cov["coverage_change_pp"].notna().any():
                row["coverage_change_pp"] = _clean(
                    cov["coverage_change_pp"].dropna().iloc[-1]
                )
        rows.append(row)
    return rows


def unit_rows(progress_tables) -> list[dict]:
    """Totals per assessment unit (annex 1) from the unit view."""
    units = progress_tables["unit"]
    agg = (
        units.groupby(["unit_no", "name_zh", "name_en"], dropna=False)
        .agg(
            new_forest_area_mu=("new_forest_area_mu", lambda s: s.sum(min_count=1)),
            gross_area_mu=("gross_area_mu", lambda s: s.sum(min_count=1)),
            note=("note", "first"),
        )
        .reset_index()
    )
    return _records(agg.sort_values("unit_no"))


def bar_chart_svg(
    rows: list[dict], column: str, *, title: str, unit: str, top: int = 38
) -> str:
    """Return a horizontal bar chart (inline SVG) of one column per district."""
    data = sorted(
        ((r[column] or 0.0, r["name_zh"], r["name_en"]) for r in rows), reverse=True
    )[:top]
    if not data:
        return ""
    vmax = max(v for v, _, _ in data) or 1.0
    bar_h, label_w, width = 14, 150, 640
    height = 24 + bar_h * len(data)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for i, (v, zh, en) in enumerate(data):
        y = 20 + i * bar_h
        w = (width - label_w - 90) * v / vmax
        parts.append(
            f'<text x="{label_w - 4}" y="{y + 10}" text-anchor="end">'
            f"{escape(zh)}</text>"
            f'<rect x="{label_w}" y="{y + 1}" width="{w:.1f}" height="{bar_h - 3}">'
            f"<title>{escape(zh)} {escape(en)}: {v:,.0f} {escape(unit)}</title></rect>"
            f'<text x="{label_w + w + 4:.1f}" y="{y + 10}" class="v">{v:,.0f}</text>'
        )
    parts.append(
        f'<text x="0" y="12" class="t">{escape(title)} ({escape(unit)})</text></svg>'
    )
    return "".join(parts)


def _overlay_images(overlay: dict | None) -> dict | None:
    """Return the overlay for the page: its layers' PNGs as ``data:`` URIs."""
    if not overlay:
        return None
    return {
        "bounds": overlay["bounds"],
        "layers": [
            {
                "name": layer["name"],
                "src": "data:image/png;base64,"
                + base64.b64encode(layer["png"]).decode("ascii"),
                "legend": layer.get("legend", []),
            }
            for layer in overlay["layers"]
        ],
    }


def _charts(rows: list[dict], *, with_coverage: bool) -> list[str]:
    """Return the report's bar charts (inline SVG) of the district rows."""
    charts = [
        bar_chart_svg(
            rows,
            "new_forest_area_mu",
            title="项目作业面积：造林（净）Project work: area planted (net)",
            unit="亩 mu",
        ),
        bar_chart_svg(
            rows,
            "co2_t",
            title="项目增量 CO₂（实测或模型，扣除基线）Project increment CO₂ "
            "(measured, or model with baseline)",
            unit="t CO₂",
        ),
        bar_chart_svg(
            rows,
            "stock_volume_m3",
            title="现存蓄积（上报，非增量）Standing stock (delivered, not an "
            "increment)",
            unit="m³",
        ),
    ]
    if with_coverage:
        charts.insert(
            0,
            bar_chart_svg(
                rows, "coverage_pct", title="森林覆盖率 Forest coverage", unit="%"
            ),
        )
    return charts


def render_report(inputs: ReportInputs) -> str:
    """Render the report HTML (a string) from computed tables."""
    types = read_project_types()
    progress_tables = inputs.progress.tables
    carbon_table = inputs.carbon.tables["carbon"]
    rows = table_rows(progress_tables, carbon_table, inputs.coverage)
    data = {
        "districts": district_features(
            inputs.districts,
            progress_tables,
            carbon_table,
            inputs.coverage,
            inputs.inventory,
        ),
        "projects": project_features(inputs.projects, types),
        "types": [
            {
                "code": c,
                "name_zh": r["name_zh"],
                "name_en": r["name_en"],
                "colour": TYPE_COLOURS.get(c, "#888888"),
            }
            for c, r in types.iterrows()
        ],
        "headline": headline(
            progress_tables, carbon_table, inputs.coverage, inputs.inventory
        ),
        "has_inventory": bool(inputs.inventory and inputs.inventory.get("change")),
        "breaks": None,
        "table": rows,
        "units": unit_rows(progress_tables),
        "duties": duty_rows(progress_tables),
        "duty_layers": duty_layers(progress_tables.get("district_targets")),
        "years": sorted(
            int(y) for y in progress_tables["district"]["year"].dropna().unique()
        ),
        "has_coverage": inputs.coverage is not None,
    }
    if data["has_inventory"]:
        data["breaks"] = class_breaks(
            data["districts"], ("inv_coverage", "inv_change", "cross_diff")
        )
    data["overlay"] = _overlay_images(inputs.overlay)
    charts = _charts(rows, with_coverage=inputs.coverage is not None)
    leaflet_js, leaflet_css = leaflet_assets()
    env = Environment(
        loader=PackageLoader("forestsink", "render/templates"),
        autoescape=select_autoescape(["html", "j2"]),
    )
    # the data travels as JSON in a <script> element, by the `tojson` filter
    env.policies["json.dumps_kwargs"] = {
        "ensure_ascii": False,
        "separators": (",", ":"),
        "default": _default,
    }
    settings = {**inputs.progress.settings, **inputs.settings}
    settings.setdefault("tool_version", __version__)
    settings["generated"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return env.get_template("report.html.j2").render(
        data=data,
        headline=data["headline"],
        inventory=inventory_section(inputs.inventory),
        plans=plans_section(progress_tables.get("plans")),
        sample=sample_section(
            inputs.sample_estimate, source=str(settings.get("sample_estimate", ""))
        ),
        charts=charts,
        settings=settings,
        plan=read_plan(inputs.plan),
        leaflet_js=leaflet_js,
        leaflet_css=leaflet_css,
    )


def write_report(inputs: ReportInputs, path) -> Path:
    """Render and write the report atomically."""
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise MapError(f"{path}: the report is an .html file.")
    html = render_report(inputs)
    with atomic_write(path) as tmp:
        tmp.write_text(html, encoding="utf-8")
    return path


def build_report(
    store,
    out,
    *,
    as_of=None,
    targets=None,
    params=None,
    rules=None,
    growth=None,
    coverage: pd.DataFrame | None = None,
    overlay: dict | None = None,
    settings: dict | None = None,
    draws: int = 10_000,
    sample_estimate: dict | None = None,
    plan=None,
    transfers=None,
    compare=(),
) -> Path:
    """Compute the tables from *store* and write the report (the report tool).

    *plan*: a :class:`forestsink.reference.Plan` or a plan file (default:
    the seed plan): its targets, period and base year. *transfers*:
    indicator transfers (duty accounting only); *compare*: plans shown side
    by side with it (:func:`forestsink.progress.progress_tables_compared`).
    """
    plan = read_plan(plan)
    inventory = statistics_by_year(store, as_of=as_of)
    progress = progress_tables_compared(
        store,
        compare=compare,
        transfers=transfers,
        as_of=as_of,
        targets=targets,
        rules=rules,
        params=params,
        coverage=coverage,
        growth=growth,
        inventory=inventory,
        plan=plan,
    )
    carbon = carbon_tables(
        store,
        as_of=as_of,
        params=params,
        rules=rules,
        draws=draws,
        growth=growth,
        plan=plan,
    )
    inventory_inputs = _inventory_inputs(
        store, inventory, as_of=as_of, coverage=coverage, draws=draws, plan=plan
    )
    inputs = ReportInputs(
        progress=progress,
        carbon=carbon,
        districts=read_districts(),
        projects=store.current(as_of=as_of),
        coverage=coverage,
        overlay=overlay,
        settings=settings or {},
        inventory=inventory_inputs,
        sample_estimate=sample_estimate,
        plan=plan,
    )
    return write_report(inputs, out)


def _inventory_inputs(
    store,
    stats: dict,
    *,
    as_of=None,
    coverage=None,
    draws: int = 10_000,
    plan=None,
) -> dict | None:
    """Return the report's forest-resource figures: statistics and change.

    The change is from the year before the plan to the last plan year the
    store holds a layer for (else the first to the last year held).
    """
    if not stats:
        return None
    years = sorted(stats)
    plan = read_plan(plan)
    base = plan.base_year
    in_plan = [y for y in years if plan.period_start <= y <= plan.period_end]
    pair = (base, in_plan[-1]) if base in years and in_plan else (years[0], years[-1])
    change = None
    if pair[0] < pair[1]:
        change = inventory_change(
            store, year_from=pair[0], year_to=pair[1], as_of=as_of
        )
    reconciled = None
    if len(store.current(as_of=as_of)):
        result = reconcile_store(
            store,
            year=pair[1],
            before=pair[0] if pair[0] < pair[1] else None,
            as_of=as_of,
        )
        table = result.districts
        table = table[table["project_type"] == "all"]
        keep = [
            c
            for c in (
                "name_zh",
                "n_polygons",
                "area_mu",
                "forest_mu",
                "unestablished_mu",
                "other_forest_land_mu",
                "non_forest_mu",
                "not_in_layer_mu",
                "n_planted_on_forest",
                "planted_on_forest_mu",
            )
            if c in table
        ]
        reconciled = table[keep].reset_index(drop=True)
    crosschecked = None
    if coverage is not None and pair[1] in stats:
        checked = coverage_crosscheck(stats[pair[1]], coverage)
        crosschecked = checked[
            [
                "adcode",
                "name_zh",
                "year",
                "inventory_coverage_pct",
                "raster_coverage_pct",
                "difference_pp",
                "note",
            ]
        ]
    sink = None
    if change is not None:
        sink = _sink_summary(store, pair, as_of=as_of, draws=draws)
    return {
        "stats": stats,
        "change": change,
        "reconcile": reconciled,
        "crosscheck": crosschecked,
        "sink": sink,
    }


def _sink_summary(store, pair, *, as_of=None, draws: int = 10_000) -> dict:
    """Return the city's whole-forest sink (stock difference) and its drivers."""
    tables = forest_sink_tables(
        store,
        year_from=pair[0],
        year_to=pair[1],
        method="stock-difference",
        as_of=as_of,
        draws=draws,
    ).tables
    sink = tables["sink"]
    city = sink[(sink["adcode"] == "500000")].iloc[0]
    drivers = tables["drivers"]
    if "method" in drivers:
        drivers = drivers[drivers["method"] == city["method"]]
    return {
        "years": pair,
        "co2": _clean(city["co2_t_per_yr"]),
        "low": _clean(city["co2_t_per_yr_p05"]),
        "high": _clean(city["co2_t_per_yr_p95"]),
        "note": str(city["note"]),
        "drivers": [
            f"{r.zh} {r.variance_share:.0%}" for r in drivers.head(3).itertuples()
        ],
        "drivers_en": [
            f"{r.en} {r.variance_share:.0%}" for r in drivers.head(3).itertuples()
        ],
    }
