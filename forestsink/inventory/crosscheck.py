"""Raster forest coverage as a cross-check of the official (inventory) figure.

The official coverage (森林覆盖率) is the forest area of the forest-resource
map (一张图) over the district's **total** administrative area
(:func:`forestsink.inventory.forest_statistics`). ``forestsink coverage``
measures a different quantity from a land-cover raster
(:func:`forestsink.coverage.coverage_table`): the area of the raster classes
its class table counts as forest, **shrub classes included**
(``shrub_forest``: the raster cannot tell 国家特别规定灌木林 from ordinary
shrub), over the raster's **land area**, which leaves out water (unless the
run counted it as land) and pixels with no data or codes the class table does
not list. The two are set side by side here, with a note saying why they
differ; the inventory stays the official figure, and nothing is filled in
from one table where the other has no row.

Pure: frames in, a frame out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forestsink.errors import InventoryError

CITY_ADCODE = "500000"
"""The city row in both tables."""

CROSSCHECK_COLUMNS = (
    "adcode",
    "name_zh",
    "name_en",
    "year",
    "inventory_coverage_pct",
    "raster_coverage_pct",
    "difference_pp",
    "inventory_denominator_mu",
    "raster_denominator_mu",
    "raster_shrub_forest_mu",
    "note",
)
"""Columns of :func:`coverage_crosscheck`'s table."""

_STATS_NEEDS = ("adcode", "year", "coverage_pct")
_COVERAGE_NEEDS = ("adcode", "year", "coverage_pct", "land_area_mu")
_LEVELS = ("city", "district")


def _adcode_text(values: pd.Series) -> pd.Series:
    """Adcodes as 6-digit text (a CSV may have read them as numbers)."""
    text = values.astype(object).map(lambda v: "" if pd.isna(v) else str(v).strip())
    return text.str.replace(r"\.0$", "", regex=True)


def _require(frame: pd.DataFrame, columns, what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InventoryError(
            f"{what}: 缺少列 {missing} / missing column(s) {missing}; give the "
            "table that command writes."
        )


def _numbers(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series(np.nan, index=frame.index, dtype=float)
    return pd.to_numeric(frame[column], errors="coerce").astype(float)


def _fmt(value: float) -> str:
    return f"{value:,.0f}"


def _both_note(row) -> str:
    """Why the two coverages differ, with this row's numbers."""
    shrub, water, excluded = row.shrub, row.water, row.excluded
    zh = ["一张图为官方数据，分母为行政区总面积（含水域）"]
    en = [
        "the inventory (一张图) is the official figure, over the total "
        "administrative area (water included)"
    ]
    zh.append(
        "栅格按其地类表把灌木计为森林"
        + (f"（本行 {_fmt(shrub)} 亩）" if np.isfinite(shrub) else "")
        + "，无法区分国家特别规定灌木林与其他灌木"
    )
    en.append(
        "the raster counts shrub classes as forest per its class table"
        + (f" ({_fmt(shrub)} mu here)" if np.isfinite(shrub) else "")
        + ", so ordinary shrub is counted too"
    )
    out_zh, out_en = [], []
    if np.isfinite(water) and water > 0:
        out_zh.append(f"水体 {_fmt(water)} 亩")
        out_en.append(f"water {_fmt(water)} mu")
    if np.isfinite(excluded) and excluded > 0:
        out_zh.append(f"无数据/未列代码 {_fmt(excluded)} 亩")
        out_en.append(f"no data or unlisted codes {_fmt(excluded)} mu")
    if out_zh:
        zh.append("栅格分母为陆地面积，不含" + "、".join(out_zh))
        en.append("its denominator is its land area, without " + ", ".join(out_en))
    else:
        zh.append("栅格分母为其陆地面积（可能不含水体与无数据像元）")
        en.append(
            "its denominator is its land area (which may leave out water and "
            "no-data pixels)"
        )
    text = "；".join(zh) + " / " + "; ".join(en)
    if row.inventory_note:  # already Chinese, then English
        text += f"; 一张图说明 / inventory note: {row.inventory_note}"
    return text


def coverage_crosscheck(stats: pd.DataFrame, coverage: pd.DataFrame) -> pd.DataFrame:
    """Set the raster coverage beside the official inventory coverage.

    Parameters
    ----------
    stats : pandas.DataFrame
        The inventory statistics (:func:`forestsink.inventory.forest_statistics`):
        ``adcode``, ``name_zh``, ``name_en``, ``year``, ``total_area_mu``,
        ``coverage_pct`` (and ``note``); one or more years. A table without
        years (``forest_statistics(..., year=None)``) is taken as the year of
        *coverage* when that holds one year only.
    coverage : pandas.DataFrame
        The table ``forestsink coverage`` writes
        (:func:`forestsink.coverage.coverage_table`, or that table read back
        from CSV/Excel/JSON): ``adcode``, ``year``, ``coverage_pct``,
        ``land_area_mu`` (the raster's denominator), and where present
        ``level``, ``name_zh``, ``name_en``, ``shrub_forest_area_mu``,
        ``water_area_mu``, ``excluded_area_mu``. Only its city and district
        rows are used; only the years *stats* holds.

    Returns
    -------
    pandas.DataFrame
        :data:`CROSSCHECK_COLUMNS`, one row per district and year of either
        table, and the city (``adcode`` 500000), in the order of *stats*
        then the rows only *coverage* has. ``difference_pp`` = raster −
        inventory (percentage points). ``inventory_denominator_mu`` is the
        total administrative area, ``raster_denominator_mu`` the raster's
        land area, ``raster_shrub_forest_mu`` the shrub area the raster
        counted as forest (mu, ellipsoidal). A row present in one table only
        keeps the other's figures empty (NaN) and says so in ``note``
        (Chinese, then English); nothing is filled in.

    Raises
    ------
    InventoryError
        A table lacks a needed column, or *coverage* has two rows for one
        district and year.

    Notes
    -----
    Units: coverages in percent, areas in mu as the two tables give them
    (the inventory's on the GRS80 ellipsoid from EPSG:4490 polygons, the
    raster's on the ellipsoid of its geodetic CRS). CRS Notes: tables only;
    no geometry is read or transformed.
    """
    _require(stats, _STATS_NEEDS, "一张图统计表 / inventory statistics")
    _require(coverage, _COVERAGE_NEEDS, "栅格覆盖率表 / raster coverage table")
    inv = _inventory_side(stats)
    ras = _raster_side(coverage)
    if inv["year"].isna().any():
        inv["year"] = _raster_year(inv, ras)
    ras = ras[ras["year"].isin(set(inv["year"]))]
    _refuse_repeats(ras)
    both = inv.merge(ras, on=["adcode", "year"], how="outer", indicator="source")
    both["order"] = both["order"].fillna(len(inv) + both.index.to_series())
    both = both.sort_values(["order", "adcode"]).reset_index(drop=True)
    out = _side_by_side(both)
    out["note"] = pd.Series(_row_notes(both), dtype=object).to_numpy(object)
    return out[list(CROSSCHECK_COLUMNS)]


def _text_column(frame: pd.DataFrame, column: str) -> pd.Series:
    """Column *column* of *frame* as objects, or empty text where it is absent."""
    return frame.get(column, pd.Series("", index=frame.index)).astype(object)


def _inventory_side(stats: pd.DataFrame) -> pd.DataFrame:
    """Return the inventory statistics normalised for the merge, in their own order."""
    inv = pd.DataFrame(
        {
            "adcode": _adcode_text(stats["adcode"]).to_numpy(object),
            "year": pd.to_numeric(stats["year"], errors="coerce").astype("Int64"),
            "inv_zh": _text_column(stats, "name_zh").to_numpy(),
            "inv_en": _text_column(stats, "name_en").to_numpy(),
            "inventory_coverage_pct": _numbers(stats, "coverage_pct").to_numpy(),
            "inventory_denominator_mu": _numbers(stats, "total_area_mu").to_numpy(),
            "inventory_note": _text_column(stats, "note").fillna("").to_numpy(),
        }
    )
    inv["order"] = np.arange(len(inv))
    return inv


def _raster_side(coverage: pd.DataFrame) -> pd.DataFrame:
    """Return the city and district rows of the raster coverage table, normalised."""
    cov = coverage
    if "level" in cov.columns:
        cov = cov[cov["level"].astype(object).isin(_LEVELS)]
    return pd.DataFrame(
        {
            "adcode": _adcode_text(cov["adcode"]).to_numpy(object),
            "year": pd.to_numeric(cov["year"], errors="coerce").astype("Int64"),
            "ras_zh": _text_column(cov, "name_zh").to_numpy(),
            "ras_en": _text_column(cov, "name_en").to_numpy(),
            "raster_coverage_pct": _numbers(cov, "coverage_pct").to_numpy(),
            "raster_denominator_mu": _numbers(cov, "land_area_mu").to_numpy(),
            "raster_shrub_forest_mu": _numbers(cov, "shrub_forest_area_mu").to_numpy(),
            "water": _numbers(cov, "water_area_mu").to_numpy(),
            "excluded": _numbers(cov, "excluded_area_mu").to_numpy(),
        }
    )


def _raster_year(inv: pd.DataFrame, ras: pd.DataFrame) -> pd.arrays.IntegerArray:
    """Return the raster's one year for every row of an inventory without years."""
    raster_years = sorted(set(ras["year"].dropna()))
    if len(raster_years) != 1 or inv["year"].notna().any():
        raise InventoryError(
            "一张图统计表 / inventory statistics: 有行没有年度，无法与栅格年份 "
            f"{raster_years} 对应 / rows without a year cannot be matched with "
            f"the raster years {raster_years}; compute the statistics with "
            "forest_statistics(..., year=Y)."
        )
    return pd.array([raster_years[0]] * len(inv), dtype="Int64")


def _refuse_repeats(ras: pd.DataFrame) -> None:
    """Refuse a raster table with two rows for one district and year."""
    dup = ras.duplicated(["adcode", "year"], keep=False)
    if dup.any():
        first = ras[dup].iloc[0]
        raise InventoryError(
            f"栅格覆盖率表 / raster coverage table: {int(dup.sum())} 行重复（如 "
            f"{first['adcode']} {first['year']}）/ {int(dup.sum())} rows repeat a "
            f"district and year (e.g. {first['adcode']} {first['year']}); give "
            "the per-district table of one run."
        )


def _side_by_side(both: pd.DataFrame) -> pd.DataFrame:
    """Return the figures (every column but ``note``) of the merged rows."""

    def pick(a: str, b: str) -> pd.Series:
        first = both[a].where(both[a].notna() & (both[a].astype(object) != ""))
        return first.fillna(both[b]).astype(object)

    out = pd.DataFrame(
        {
            "adcode": both["adcode"].to_numpy(object),
            "name_zh": pick("inv_zh", "ras_zh").to_numpy(),
            "name_en": pick("inv_en", "ras_en").to_numpy(),
            "year": both["year"].to_numpy(),
            "inventory_coverage_pct": both["inventory_coverage_pct"].to_numpy(float),
            "raster_coverage_pct": both["raster_coverage_pct"].to_numpy(float),
        }
    )
    out["year"] = out["year"].astype("Int64")
    out["difference_pp"] = out["raster_coverage_pct"] - out["inventory_coverage_pct"]
    out["inventory_denominator_mu"] = both["inventory_denominator_mu"].to_numpy(float)
    out["raster_denominator_mu"] = both["raster_denominator_mu"].to_numpy(float)
    out["raster_shrub_forest_mu"] = both["raster_shrub_forest_mu"].to_numpy(float)
    return out


def _row_notes(both: pd.DataFrame) -> list[str]:
    """Return the ``note`` of each merged row (Chinese, then English)."""
    notes = []
    for row in both.assign(
        shrub=both["raster_shrub_forest_mu"],
        inventory_note=both["inventory_note"].fillna(""),
    ).itertuples(index=False):
        if row.source == "left_only":
            text = (
                "栅格覆盖率表无此区县/年度，未填补 / not in the raster coverage "
                "table for this year: nothing filled in"
            )
            if row.inventory_note:
                text += f"; {row.inventory_note}"
        elif row.source == "right_only":
            text = (
                "一张图统计无此区县/年度，未填补；栅格值仅供参考，非官方数据 / not in "
                "the inventory statistics for this year: nothing filled in; the "
                "raster figure is a cross-check, not the official figure"
            )
        else:
            text = _both_note(row)
            if not np.isfinite(row.inventory_coverage_pct):
                text = (
                    "一张图无此区县数据，官方覆盖率缺失 / no inventory figure for "
                    "this district: the official coverage is missing; " + text
                )
        notes.append(text)
    return notes
