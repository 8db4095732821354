"""Writers for tables and layers (CSV, Excel, JSON, GeoPackage, GeoJSON).

Outputs are written to a temporary file beside the target and renamed into
place, so an interrupted write never leaves a half-written file.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from forestsink.errors import ForestsinkError

TABLE_SUFFIXES = (".csv", ".xlsx", ".json")
LAYER_SUFFIXES = (".gpkg", ".geojson")


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.part")


def write_table(df: pd.DataFrame, path: str | Path, *, sheet: str = "data") -> Path:
    """Write *df* as CSV (UTF-8 with BOM, opens in Excel), XLSX or JSON records."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise ForestsinkError(
            f"{path}: unsupported table format {suffix!r}; use one of {TABLE_SUFFIXES}."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    if suffix == ".csv":
        df.to_csv(tmp, index=False, encoding="utf-8-sig")
    elif suffix == ".json":
        df.to_json(tmp, orient="records", force_ascii=False, indent=1)
    else:
        with pd.ExcelWriter(tmp, engine="openpyxl") as writer:
            df.to_excel(writer, sheet_name=sheet, index=False)
            writer.sheets[sheet].freeze_panes = "A2"
    tmp.replace(path)
    return path


def write_layer(gdf, path: str | Path, *, layer: str) -> Path:
    """Write a GeoDataFrame as GeoPackage or GeoJSON (via pyogrio)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in LAYER_SUFFIXES:
        raise ForestsinkError(
            f"{path}: unsupported layer format {suffix!r}; use one of {LAYER_SUFFIXES}."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    tmp.unlink(missing_ok=True)
    gdf.to_file(
        tmp,
        layer=layer,
        engine="pyogrio",
        driver="GPKG" if suffix == ".gpkg" else "GeoJSON",
    )
    tmp.replace(path)
    return path


def write_districts(path: str | Path) -> Path:
    """Write the district table or layer, or an interactive map (``.html``)."""
    from forestsink.reference import read_district_table, read_districts

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".html":
        from forestsink.render.map import write_district_map

        return write_district_map(path)
    if suffix in LAYER_SUFFIXES:
        return write_layer(read_districts(), path, layer="districts")
    return write_table(read_district_table(), path, sheet="districts")
