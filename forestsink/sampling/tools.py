"""The ``sample`` commands minus parsing: read files, compute, write files.

Every input is read and checked and every result computed before the first
byte is written; each output file is written to a temporary name and renamed
into place, so bad input leaves nothing behind.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape

import geopandas as gpd
import numpy as np
import pandas as pd

from forestsink.errors import SamplingError
from forestsink.io import (
    atomic_write,
    read_table,
    write_layer,
    write_sheets,
    write_table,
)
from forestsink.reference import read_district_table
from forestsink.sampling.design import Design, design_sample
from forestsink.sampling.estimators import AreaEstimate
from forestsink.sampling.labels import SampleEstimate, estimate_sample
from forestsink.sampling.statement import share_statements

__all__ = [
    "ESTIMATE_SUFFIXES",
    "design_tool",
    "estimate_frames",
    "estimate_json",
    "estimate_tool",
    "read_estimate",
    "write_design",
]

ESTIMATE_SUFFIXES = (".csv", ".xlsx", ".json")


def _clean(value):
    """JSON-safe value: NaN and infinities become null, numpy scalars Python."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _zone_names(zone_column: str | None) -> dict[str, str]:
    if zone_column != "adcode":
        return {}

    table = read_district_table()
    return dict(zip(table["adcode"].astype(str), table["name_zh"], strict=True))


def _estimate_dict(est: AreaEstimate) -> dict:
    return {
        "classes": est.table().to_dict(orient="records"),
        "overall_accuracy": est.overall,
        "overall_accuracy_se": est.overall_se,
        "overall_accuracy_ci95": est.z * est.overall_se,
        "n_points": est.n_points,
        "total_area_ha": est.total_area_ha,
        "map_area_estimated": est.map_area_estimated,
        "error_matrix": {
            "classes": est.classes,
            "rows": "map class",
            "columns": "reference class",
            "area_proportions": est.matrix.tolist(),
            "counts": est.counts.astype(int).tolist(),
        },
        "shares": share_statements(est),
    }


def estimate_json(result: SampleEstimate) -> dict:
    """Return the JSON document of an estimate (the contract's shape).

    Top level: the city-wide ``classes`` list, ``overall_accuracy``,
    ``overall_accuracy_ci95`` (half-width), the error matrix, the strata and,
    with zones, a ``zones`` list of the same objects (or a ``refused`` reason).
    ``shares`` holds the forest shares the report shows ("map: x %;
    sample-based: y % ± z", :func:`~forestsink.sampling.statement.share_statements`).
    """
    doc = _estimate_dict(result.city)
    doc["z"] = result.city.z
    doc["strata"] = result.strata.to_dict(orient="records")
    if result.zone_column:
        names = _zone_names(result.zone_column)
        zones = []
        for z in result.zones:
            item = {
                result.zone_column: z.zone,
                "name_zh": names.get(z.zone, ""),
                "n_points": z.n_points,
            }
            if z.estimate is None:
                item["refused"] = z.reason
            else:
                item.update(_estimate_dict(z.estimate))
            zones.append(item)
        doc["zone_column"] = result.zone_column
        doc["zones"] = zones
    return _clean(doc)


def estimate_frames(result: SampleEstimate) -> dict[str, pd.DataFrame]:
    """Return the estimate as tables.

    Classes and shares (city and zones), the city's error matrix (area
    proportions) and sample counts, strata.
    """
    names = _zone_names(result.zone_column)

    def rows(est: AreaEstimate, level: str, zone: str) -> pd.DataFrame:
        table = est.table()
        table.insert(0, "level", level)
        table.insert(1, "zone", zone)
        table.insert(2, "name_zh", names.get(zone, "重庆市" if level == "city" else ""))
        table["overall_accuracy"] = est.overall
        table["overall_accuracy_ci95"] = est.z * est.overall_se
        table["n_points"] = est.n_points
        table["note"] = ""
        return table

    def shares(est: AreaEstimate, level: str, zone: str) -> pd.DataFrame:
        table = pd.DataFrame(share_statements(est))
        table.insert(0, "level", level)
        table.insert(1, "zone", zone)
        return table

    parts = [rows(result.city, "city", "")]
    share_parts = [shares(result.city, "city", "")]
    for z in result.zones:
        if z.estimate is None:
            parts.append(
                pd.DataFrame(
                    {
                        "level": ["zone"],
                        "zone": [z.zone],
                        "name_zh": [names.get(z.zone, "")],
                        "n_points": [z.n_points],
                        "note": [f"refused: {z.reason}"],
                    }
                )
            )
        else:
            parts.append(rows(z.estimate, "zone", z.zone))
            share_parts.append(shares(z.estimate, "zone", z.zone))
    classes = pd.concat(parts, ignore_index=True)
    share_table = pd.concat(share_parts, ignore_index=True)
    if result.zone_column:
        classes = classes.rename(columns={"zone": result.zone_column})
        share_table = share_table.rename(columns={"zone": result.zone_column})
    else:
        classes = classes.drop(columns="zone")
        share_table = share_table.drop(columns="zone")
    return {
        "classes": classes,
        "shares": share_table,
        "error_matrix": result.city.matrix_table(),
        "sample_counts": result.city.counts_table(),
        "strata": result.strata,
    }


def estimate_tool(
    labels: str | Path,
    strata: str | Path,
    *,
    out: str | Path,
    zones: str | None = None,
    extra_classes: Sequence[str] = (),
) -> tuple[Path, SampleEstimate]:
    """Read a labelled sample and its strata, estimate, write one file.

    Parameters
    ----------
    labels : str or Path
        CSV/XLSX/JSON with ``point_id, stratum, map_class, ref_class``.
    strata : str or Path
        CSV/XLSX/JSON with ``stratum, area_ha`` (or ``n_pixels,
        pixel_area_ha``), in hectares.
    out : str or Path
        ``.json`` (the contract's document), ``.csv`` (the classes table,
        city and zones) or ``.xlsx`` (classes, error matrix in area
        proportions, sample counts, strata).
    zones : str, optional (default: None)
        ``districts`` (the labels' ``adcode``) or the name of another labels
        column: also estimate per zone.
    extra_classes : sequence of str, optional (default: ())
        Reference classes no stratum maps.

    Returns
    -------
    (Path, SampleEstimate)
    """
    out = Path(out)
    if out.suffix.lower() not in ESTIMATE_SUFFIXES:
        raise SamplingError(
            f"{out}：不支持的输出格式 / unsupported output format "
            f"{out.suffix!r}; use one of {', '.join(ESTIMATE_SUFFIXES)}."
        )
    label_frame = read_table(labels, dtype=str)
    strata_frame = read_table(strata, dtype=str)
    column = None if zones is None else ("adcode" if zones == "districts" else zones)
    result = estimate_sample(
        label_frame,
        strata_frame,
        zone_column=column,
        source=str(labels),
        extra_classes=extra_classes,
    )
    suffix = out.suffix.lower()
    if suffix == ".json":
        text = json.dumps(estimate_json(result), ensure_ascii=False, indent=1)
        with atomic_write(out) as tmp:
            tmp.write_text(text, encoding="utf-8")
    elif suffix == ".xlsx":
        write_sheets(estimate_frames(result), out)
    else:
        write_table(estimate_frames(result)["classes"], out)
    return out, result


def _kml(points: pd.DataFrame) -> str:
    """Return a KML document of the points (EPSG:4490 lon/lat, as WGS84 to cm)."""
    fields = ["stratum", "map_class", "adcode"]
    marks = []
    for row in points.itertuples(index=False):
        data = "".join(
            f'<Data name="{f}"><value>{escape(str(getattr(row, f)))}</value></Data>'
            for f in fields
        )
        marks.append(
            f"<Placemark><name>{escape(str(row.point_id))}</name>"
            f"<ExtendedData>{data}</ExtendedData>"
            f"<Point><coordinates>{row.lon:.7f},{row.lat:.7f}</coordinates></Point>"
            "</Placemark>"
        )
    body = "\n".join(marks)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
        "<name>forestsink reference sample</name>\n"
        f"{body}\n</Document></kml>\n"
    )


def write_design(design: Design, out_dir: str | Path) -> list[Path]:
    """Write a design to a folder: sample.gpkg/.csv/.kml, strata.csv, design.json.

    The CSV carries an empty ``ref_class`` column for the labeller; the
    GeoPackage holds the same points in EPSG:4490.
    """
    out = Path(out_dir)
    points = design.points.copy()
    points["ref_class"] = ""
    layer = gpd.GeoDataFrame(
        points, geometry=gpd.points_from_xy(points["lon"], points["lat"]), crs=4490
    )
    written = [write_table(points, out / "sample.csv")]
    with warnings.catch_warnings():  # GDAL dislikes the temporary name's suffix
        warnings.filterwarnings("ignore", "The filename extension", RuntimeWarning)
        written.append(write_layer(layer, out / "sample.gpkg", layer="sample"))
    written.append(write_table(design.strata, out / "strata.csv"))
    kml = out / "sample.kml"
    with atomic_write(kml) as tmp:
        tmp.write_text(_kml(points), encoding="utf-8")
    meta = out / "design.json"
    with atomic_write(meta) as tmp:
        tmp.write_text(
            json.dumps(_clean(design.meta), ensure_ascii=False, indent=1),
            encoding="utf-8",
        )
    return [*written, kml, meta]


def design_tool(maps: Sequence[str | Path], *, out: str | Path, **options) -> tuple:
    """Design a sample (:func:`~forestsink.sampling.design.design_sample`), write it.

    Returns
    -------
    (list of Path, Design)
    """
    design = design_sample(maps, **options)
    return write_design(design, out), design


def _records_of(frame: pd.DataFrame) -> list[dict]:
    return _clean(frame.astype(object).where(frame.notna(), None).to_dict("records"))


def _estimate_from_workbook(path: Path) -> dict:
    """Rebuild the report's part of the estimate document from the workbook."""
    classes = read_table(path, dtype={"adcode": str}, sheet="classes")
    shares = read_table(path, dtype={"adcode": str}, sheet="shares")
    matrix = read_table(path, dtype=None, sheet="error_matrix")
    if "share" not in shares or "map_class" not in matrix or "level" not in classes:
        raise SamplingError(
            f"{path}：不是 forestsink sample estimate 写出的工作簿（缺 shares 或 "
            "error_matrix 表）/ not a workbook written by forestsink sample "
            "estimate (no shares or error_matrix sheet); run sample estimate "
            "again, writing .xlsx or .json."
        )
    city = classes[classes["level"] == "city"]
    names = matrix["map_class"].astype(str).tolist()
    doc = {
        "classes": _records_of(city.drop(columns=["level"], errors="ignore")),
        "overall_accuracy": float(city["overall_accuracy"].iloc[0]),
        "overall_accuracy_ci95": float(city["overall_accuracy_ci95"].iloc[0]),
        "n_points": int(city["n_points"].iloc[0]),
        "error_matrix": {
            "classes": names,
            "rows": "map class",
            "columns": "reference class",
            "area_proportions": matrix[names].to_numpy(float).tolist(),
        },
        "shares": _records_of(
            shares[shares["level"] == "city"].drop(
                columns=["level", "adcode", "zone"], errors="ignore"
            )
        ),
    }
    zone_column = next((c for c in ("adcode", "zone") if c in classes), None)
    if zone_column:
        zones = []
        zone_rows = classes[classes["level"] == "zone"]
        for zone, rows in zone_rows.groupby(zone_column, sort=False):
            note = str(rows["note"].iloc[0] or "")
            item = {
                zone_column: str(zone),
                "name_zh": rows["name_zh"].iloc[0],
                "n_points": int(rows["n_points"].iloc[0]),
            }
            if note.startswith("refused"):
                item["refused"] = note.removeprefix("refused: ")
            else:
                mine = shares[
                    (shares["level"] == "zone") & (shares[zone_column] == zone)
                ]
                item["shares"] = _records_of(mine.drop(columns=["level", zone_column]))
            zones.append(item)
        doc["zone_column"] = zone_column
        doc["zones"] = zones
    return _clean(doc)


def read_estimate(path: str | Path) -> dict:
    """Read what ``forestsink sample estimate`` wrote (.json or .xlsx).

    Parameters
    ----------
    path : str or Path
        The ``.json`` document (returned as it is) or the ``.xlsx`` workbook
        (its ``classes``, ``shares`` and ``error_matrix`` sheets, in the
        document's shape: city-wide ``classes``, ``shares``,
        ``overall_accuracy(_ci95)``, ``n_points``, ``error_matrix`` and, with
        zones, ``zones``).

    Returns
    -------
    dict
        Areas in ha, accuracies 0–1, shares in percent (of the strata's
        total area on the ellipsoid).

    Raises
    ------
    SamplingError
        Another format, or a file that is not an estimate (no ``shares``);
        the message says how to write one.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        return _estimate_from_workbook(path)
    if suffix != ".json":
        raise SamplingError(
            f"{path}：报告需要 sample estimate 写出的 .json 或 .xlsx / the report "
            "needs the .json or .xlsx that forestsink sample estimate writes "
            "(the .csv holds no error matrix)."
        )
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SamplingError(
            f"{path}：无法读取 / cannot be read as JSON ({err}); write it again "
            "with forestsink sample estimate (as .json)."
        ) from err
    if not isinstance(doc, dict) or "shares" not in doc or "error_matrix" not in doc:
        raise SamplingError(
            f"{path}：不是含 shares 的抽样估计 / not a sample estimate with "
            "shares (written by an older forestsink?); run forestsink sample "
            "estimate again (as .json)."
        )
    return doc
