"""Validate a delivery: one report of every problem, not stop-at-first.

Pure computation: takes the canonical frame that
:func:`forestsink.ingest.read_delivery` returns (EPSG:4490) and reference
layers, returns an issues table. Nothing is read from or written to disk.

Tolerances (all keyword arguments, defaults stated):

* outside Chongqing: error when less than half of a polygon's area lies in
  the city (``min_inside=0.5``); the district boundaries are good to about
  100 m, so small spill-over at the edge is not an error;
* wrong district: error when less than half of its area lies in the district
  its attributes name and another district holds more; a warning when less
  than ``district_warn=0.9`` lies in it;
* reported area: warning when it differs from the ellipsoidal area by more
  than ``area_tolerance=0.10`` (10 %);
* overlap with polygons already in the store of the same type, or where both
  types add new forest area (the same land would be counted twice): warning
  when the overlap exceeds ``min_overlap_mu=0.1`` mu.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forestsink.area import albers_geometries, albers_of
from forestsink.errors import OptionError
from forestsink.units import M2_PER_MU, MU_PER_HA

ISSUE_COLUMNS = (
    "severity",
    "code",
    "file",
    "row",
    "fid",
    "project_id",
    "field",
    "value",
    "message",
    "action",
)

SEVERITIES = ("error", "warning", "fixed")


@dataclass
class ValidationResult:
    """Outcome of :func:`validate_delivery`.

    Attributes
    ----------
    frame : geopandas.GeoDataFrame
        The delivery (repaired where ``fix=True``), with ``area_mu`` (the
        ellipsoidal area) added; rows with errors are still present.
    issues : pandas.DataFrame
        Columns ``ISSUE_COLUMNS``; ``row`` is the 0-based feature index in
        the file (messages and the CLI count from 1: ``row + 1``); ``fid``
        is the feature id a GIS shows (GeoPackage), else empty.
    """

    frame: object
    issues: pd.DataFrame

    @property
    def errors(self) -> pd.DataFrame:
        """Issues that block ingest."""
        return self.issues[self.issues["severity"] == "error"]

    @property
    def ok(self) -> bool:
        """True when nothing blocks ingest."""
        return self.errors.empty


class _Issues:
    def __init__(self, frame) -> None:
        self.rows: list[dict] = []
        self.at: list[int] = []  # feature position of each row
        self.frame = frame

    def add(self, i, severity, code, field, value, message, action):
        self.at.append(int(i))
        self.rows.append(
            {
                "severity": severity,
                "code": code,
                "field": field,
                "value": None if value is None else str(value),
                "message": message,
                "action": action,
            }
        )

    def table(self) -> pd.DataFrame:
        """Return the issues in file, row and severity order (one data frame)."""
        if not self.rows:
            return pd.DataFrame([], columns=list(ISSUE_COLUMNS))
        at = np.asarray(self.at, dtype=np.int64)
        frame = self.frame
        files = frame["source_file"].to_numpy(dtype=object)[at]
        rows = frame["source_row"].to_numpy(dtype=np.int64)[at]
        ids = frame["project_id"].to_numpy(dtype=object, na_value=None)[at]
        fids = (
            frame["source_fid"].to_numpy(dtype=object, na_value=None)[at]
            if "source_fid" in frame
            else [None] * len(at)
        )
        for r, f, row, fid, pid in zip(self.rows, files, rows, fids, ids, strict=True):
            r["file"] = str(f)
            r["row"] = int(row)
            r["fid"] = None if fid is None else int(fid)
            r["project_id"] = None if pid is None else str(pid)
        order = {s: i for i, s in enumerate(SEVERITIES)}
        ranked = sorted(  # stable: issues of one row keep the order found
            self.rows, key=lambda r: (r["file"], r["row"], order[r["severity"]])
        )
        return pd.DataFrame(ranked, columns=list(ISSUE_COLUMNS))


def _polygonal(geom):
    """Keep only the polygonal parts of a geometry (after make_valid)."""
    import shapely

    if geom is None:
        return None
    kind = shapely.get_type_id(geom)
    if kind in (3, 6):  # Polygon, MultiPolygon
        return geom
    if kind == 7:  # GeometryCollection
        parts = [g for g in shapely.get_parts(geom) if shapely.get_type_id(g) in (3, 6)]
        if not parts:
            return shapely.Polygon()
        return shapely.union_all(parts)
    return shapely.Polygon()


def _volume_flags(
    value: np.ndarray, per_ha: np.ndarray, usable: np.ndarray, limits
) -> tuple[np.ndarray, np.ndarray]:
    """Return (impossible, implausible) masks of volumes against their bounds.

    *value* in m³ (or m³/ha), *per_ha* the same per hectare (m³/ha);
    *limits* the ``stock_volume_per_ha`` row of ``data/value_ranges.csv``.
    Negative or infinite values are impossible whatever the area; the
    per-hectare bounds apply to usable geometry only.
    """
    impossible = np.isinf(value) | (value < limits["impossible_below"])
    impossible |= usable & np.isfinite(per_ha) & (per_ha > limits["impossible_above"])
    implausible = (
        usable
        & ~impossible
        & np.isfinite(per_ha)
        & (per_ha > limits["implausible_above"])
    )
    return impossible, implausible


def _check_numbers(frame, issues, usable: np.ndarray, area_mu: np.ndarray) -> None:
    """Range-check the delivered numbers that feed figures (stock, area).

    Impossible values (negative, infinite, beyond ``impossible_above``) are
    errors; values above ``implausible_above`` are warnings. The bounds and
    their rationale are data (``data/value_ranges.csv``).
    """
    from forestsink.reference import read_value_ranges

    ranges = read_value_ranges()
    reported = frame["area_reported_mu"].to_numpy(dtype="float64")
    bad_area = np.isinf(reported) | (
        reported < ranges.at["area_reported_mu", "impossible_below"]
    )
    for i in np.flatnonzero(bad_area):
        issues.add(
            i,
            "error",
            "area_impossible",
            "area",
            f"{float(reported[i]):g}",
            f"上报面积 {float(reported[i]):g} 亩不可能 / reported area "
            f"{float(reported[i]):g} mu is impossible (negative or infinite)",
            "更正面积列或留空 / correct the area column (a size in mu or ha), "
            "or leave it empty",
        )
    if "stock_volume_m3" not in frame:
        return
    volume = pd.to_numeric(frame["stock_volume_m3"], errors="coerce").to_numpy(
        dtype="float64", na_value=np.nan
    )
    limits = ranges.loc["stock_volume_per_ha"]
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        per_ha = volume / (area_mu / MU_PER_HA)
    impossible, implausible = _volume_flags(volume, per_ha, usable, limits)
    for i in np.flatnonzero(impossible):
        issues.add(
            i,
            "error",
            "volume_impossible",
            "stock_volume_m3",
            f"{float(volume[i]):g}",
            f"蓄积 {volume[i]:,.6g} m³ 不可能 / stock volume {volume[i]:,.6g} m³ "
            f"({per_ha[i]:,.6g} m³/ha on "
            f"{area_mu[i]:,.1f} mu) is impossible: a stand's volume is a "
            f"size ≥ 0 and no stand holds over {limits['impossible_above']:,.0f} "
            "m³/ha",
            "检查蓄积列、单位与小数点 / check the volume column, its unit (m³, "
            "not m³/ha or 万m³) and the decimal point, or leave it empty",
        )
    for i in np.flatnonzero(implausible):
        issues.add(
            i,
            "warning",
            "volume_implausible",
            "stock_volume_m3",
            f"{volume[i]:.6g}",
            f"蓄积偏高 {per_ha[i]:,.0f} m³/ha / stock volume {volume[i]:,.6g} m³ "
            f"is {per_ha[i]:,.0f} m³/ha, more "
            f"than {limits['implausible_above']:,.0f} m³/ha (China's arbor "
            "forest averages about 90 m³/ha)",
            "检查蓄积及其单位 / check the volume and its unit (a total in m³, "
            "not per hectare)",
        )


#: what each attrs volume is, for messages (Chinese first)
_STOCK_ATTR_WORDS = {
    "stock_before_m3": ("作业前蓄积", "volume before the work", "m³"),
    "stock_after_m3": ("作业后蓄积", "volume after the work", "m³"),
    "stock_per_ha_m3": ("公顷蓄积", "standing stock per hectare", "m³/ha"),
}


def _check_stock_attrs(frame, issues, usable: np.ndarray, area_mu: np.ndarray) -> None:
    """Range-check the volumes kept in ``attrs`` (改造前/改造后蓄积, 公顷蓄积).

    They are read with the one lookup the figures use
    (:func:`forestsink.ingest.stock.read_stock_attrs`) and held to the bounds of
    ``stock_volume_per_ha`` in ``data/value_ranges.csv``: a total per
    hectare of the polygon's ellipsoidal area, a per-hectare value as it is.
    Negative, infinite or over the impossible bound: error
    ``volume_impossible``; over the implausible bound: warning
    ``volume_implausible``. A volume after the work below the one before is
    a warning (``volume_decrease``), not an error: a renovation (低效林改造)
    may fell part of the stand, so a loss can be true; it is counted as a
    negative measured increment.
    """
    if "attrs" not in frame or not len(frame):
        return
    from forestsink.ingest.stock import read_stock_attrs
    from forestsink.reference import read_stock_attr_aliases, read_value_ranges

    limits = read_value_ranges().loc["stock_volume_per_ha"]
    values, names = read_stock_attrs(
        frame["attrs"].astype(object).where(frame["attrs"].notna(), None),
        read_stock_attr_aliases(),
    )
    for canonical, (zh, en, unit) in _STOCK_ATTR_WORDS.items():
        value = values[canonical].to_numpy(dtype="float64")
        if canonical == "stock_per_ha_m3":
            per_ha = value
        else:
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                per_ha = value / (area_mu / MU_PER_HA)
        impossible, implausible = _volume_flags(value, per_ha, usable, limits)
        for i in np.flatnonzero(impossible):
            field = names[canonical][i]
            issues.add(
                i,
                "error",
                "volume_impossible",
                field,
                f"{float(value[i]):g}",
                f"{field}（{zh}）{value[i]:,.6g} {unit} 不可能 / {en} "
                f"{value[i]:,.6g} {unit} ({per_ha[i]:,.6g} m³/ha on "
                f"{area_mu[i]:,.1f} mu) is impossible: a volume is a size ≥ 0 "
                f"and no stand holds over {limits['impossible_above']:,.0f} m³/ha",
                f"检查 {field} 列、单位与小数点 / check the {field} column, its "
                "unit (a total in m³ or m³/ha as named) and the decimal point, "
                "or leave it empty",
            )
        for i in np.flatnonzero(implausible):
            field = names[canonical][i]
            issues.add(
                i,
                "warning",
                "volume_implausible",
                field,
                f"{value[i]:.6g}",
                f"{field}（{zh}）{per_ha[i]:,.0f} m³/ha 偏高 / {en} is "
                f"{per_ha[i]:,.0f} m³/ha, more than "
                f"{limits['implausible_above']:,.0f} m³/ha (China's arbor forest "
                "averages about 90 m³/ha)",
                f"检查 {field} 的数值与单位 / check the value and its unit",
            )
    before = values["stock_before_m3"].to_numpy(dtype="float64")
    after = values["stock_after_m3"].to_numpy(dtype="float64")
    ok = np.isfinite(before) & np.isfinite(after) & (before >= 0) & (after >= 0)
    for i in np.flatnonzero(ok & (after < before)):
        b, a = names["stock_before_m3"][i], names["stock_after_m3"][i]
        issues.add(
            i,
            "warning",
            "volume_decrease",
            a,
            f"{after[i]:.6g}",
            f"{a} {after[i]:,.6g} m³ 低于 {b} {before[i]:,.6g} m³ / the volume "
            f"after the work is below the volume before it: counted as a "
            f"measured loss of {before[i] - after[i]:,.6g} m³",
            f"核对 {b} 与 {a} 是否对调 / check that the two columns are not "
            "swapped; a real loss (felling in a renovation) may stay",
        )


#: GEOS validity reasons --fix leaves as errors: make_valid would change the
#: area (a hole outside its shell becomes an extra island, 71.6 mu stored
#: against the shell's 63.7 in the hostile-input review)
NOT_REPAIRED = ("Hole lies outside shell", "Holes are nested", "Nested shells")


def validate_delivery(
    frame,
    *,
    districts=None,
    period: tuple[int, int] = (2011, 2015),
    area_tolerance: float = 0.10,
    min_inside: float = 0.5,
    district_warn: float = 0.9,
    existing=None,
    min_overlap_mu: float = 0.1,
    fix: bool = False,
) -> ValidationResult:
    """Check a delivery and return every problem found.

    Parameters
    ----------
    frame : geopandas.GeoDataFrame
        Canonical delivery frame in EPSG:4490 (from ``read_delivery``).
    districts : geopandas.GeoDataFrame, optional (default: shipped layer)
        District polygons with ``adcode`` and ``name_zh``.
    period : tuple of int, optional (default: (2011, 2015))
        Allowed years, inclusive.
    area_tolerance : float, optional (default: 0.10)
        Relative difference between reported and computed area that triggers
        a warning.
    min_inside, district_warn : float, optional (default: 0.5, 0.9)
        Area fractions for the outside/wrong-district checks (see module doc).
    existing : geopandas.GeoDataFrame, optional (default: None)
        Current polygons in the store (``key``, ``project_type``, geometry in
        EPSG:4490) for the overlap check.
    min_overlap_mu : float, optional (default: 0.1)
    fix : bool, optional (default: False)
        Repair what is safe to repair: invalid geometry with ``make_valid``
        (keeping polygonal parts), zero-area slivers dropped. Every change is
        reported with severity ``fixed``.

    Returns
    -------
    ValidationResult
    """
    import shapely

    from forestsink.reference import read_districts

    for name, value in (
        ("area_tolerance", area_tolerance),
        ("min_inside", min_inside),
        ("district_warn", district_warn),
        ("min_overlap_mu", min_overlap_mu),
    ):
        if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
            raise OptionError(
                f"{name}={value!r}: give a finite number ≥ 0 (a NaN or infinite "
                "tolerance would switch the check off without a word)."
            )
    districts = read_districts() if districts is None else districts
    names = dict(zip(districts["adcode"], districts["name_zh"], strict=True))
    issues = _Issues(frame)
    n = len(frame)
    # a copy, repaired in place; the result frame is built once at the end
    # (each step on a GeoDataFrame costs about a millisecond, whatever its size)
    geoms = np.array(frame.geometry.values, dtype=object)
    repaired_any = False

    # ---- geometry ---------------------------------------------------------
    usable = np.ones(n, dtype=bool)
    missing = shapely.is_missing(geoms)
    for i in np.flatnonzero(missing):
        issues.add(
            i,
            "error",
            "empty_geometry",
            "geometry",
            None,
            "图斑没有几何 / feature has no geometry",
            "补画图斑或删除该行 / draw the polygon or delete the row",
        )
        usable[i] = False
    coords, owner = shapely.get_coordinates(geoms, return_index=True)
    coords_nan = np.zeros(n, dtype=bool)
    coords_nan[owner[~np.isfinite(coords).all(axis=1)]] = True
    for i in np.flatnonzero(coords_nan & ~missing):
        issues.add(
            i,
            "error",
            "nan_coordinates",
            "geometry",
            None,
            "坐标含非数值或无穷值 / polygon has NaN (not-a-number) or infinite "
            "coordinates",
            "从原GIS重新导出 / re-export the feature from the source GIS",
        )
        usable[i] = False
    kinds = shapely.get_type_id(geoms)
    suspect = usable & (~np.isin(kinds, (3, 6)) | shapely.is_empty(geoms))
    for i in np.flatnonzero(suspect):
        g = geoms[i]
        if kinds[i] == 7 and fix:
            repaired = _polygonal(g)
            if repaired is not None and not repaired.is_empty:
                geoms[i] = repaired
                repaired_any = True
                issues.add(
                    i,
                    "fixed",
                    "non_polygon",
                    "geometry",
                    "GeometryCollection",
                    "几何集合已只保留面部分 / geometry collection reduced to its "
                    f"{len(shapely.get_parts(repaired))} polygon part(s); lines "
                    "and points dropped",
                    "已自动修复，请在GIS中核对 / repaired automatically: check the "
                    "polygon in your GIS",
                )
                kinds[i] = shapely.get_type_id(repaired)
                continue
        if kinds[i] not in (3, 6):
            issues.add(
                i,
                "error",
                "non_polygon",
                "geometry",
                shapely.get_type_id(g) if g is None else g.geom_type,
                f"几何不是面 / geometry is a {g.geom_type}, not a polygon",
                "项目范围须为面 / deliver project areas as polygons",
            )
            usable[i] = False
        elif g.is_empty:
            issues.add(
                i,
                "error",
                "empty_geometry",
                "geometry",
                None,
                "面为空 / polygon is empty",
                "补画图斑或删除该行 / draw the polygon or delete the row",
            )
            usable[i] = False
    valid = shapely.is_valid(geoms)
    for i in np.flatnonzero(usable & ~valid):
        reason = shapely.is_valid_reason(geoms[i])
        ring_order = reason.startswith(NOT_REPAIRED)
        if ring_order:
            # make_valid would turn such a hole into an island (area added)
            # or a shell into a hole (area removed): what the county meant is
            # not known, so it is an error to report, not area to change
            issues.add(
                i,
                "error",
                "invalid_geometry",
                "geometry",
                reason,
                f"invalid geometry: {reason}: a hole (inner ring) outside its "
                "polygon, holes inside holes, or a polygon inside another part; "
                "--fix does not repair this because the result would add or "
                "remove area",
                "redraw the rings in your GIS (holes inside their polygon), "
                "then deliver again",
            )
            usable[i] = False
            continue
        if fix:
            repaired = _polygonal(shapely.make_valid(geoms[i]))
            if repaired is not None and not repaired.is_empty:
                before = shapely.area(geoms[i])
                after = shapely.area(repaired)
                change = (after - before) / before if before else float("nan")
                geoms[i] = repaired
                repaired_any = True
                issues.add(
                    i,
                    "fixed",
                    "invalid_geometry",
                    "geometry",
                    reason,
                    f"无效几何已用 make_valid 修复 / invalid geometry ({reason}) "
                    f"rebuilt with make_valid into "
                    f"{len(shapely.get_parts(repaired))} valid polygon part(s); "
                    f"area change {change:+.1%} of the shoelace area",
                    "已自动修复，请在GIS中核对 / repaired automatically: check the "
                    "polygon in your GIS",
                )
                continue
        issues.add(
            i,
            "error",
            "invalid_geometry",
            "geometry",
            reason,
            f"几何无效 / invalid geometry: {reason}",
            "在GIS中修复，或加 --fix / repair it in your GIS (or ingest with --fix "
            "to apply make_valid)",
        )
        usable[i] = False

    # ---- areas (ellipsoidal, via equal-area projection) ---------------------
    # rows already refused (NaN or infinite coordinates ...) are projected
    # too but not used: numpy's warnings about them would only alarm users
    with np.errstate(invalid="ignore", over="ignore"):
        albers = (
            albers_of(geoms, frame.crs)
            if frame.crs is not None
            else albers_geometries(frame)  # (raises: no CRS)
        )
        area_m2 = np.where(usable, shapely.area(albers), np.nan)
    sliver = usable & (area_m2 < 1.0)
    for i in np.flatnonzero(sliver):
        if fix:
            issues.add(
                i,
                "fixed",
                "sliver",
                "geometry",
                f"{area_m2[i]:.3g} m²",
                "面积近零的碎片已剔除，不入库 / zero-area sliver left out: this "
                "feature is not loaded",
                "如应为地块请重画 / redraw it if it was meant to be a plot",
            )
        else:
            issues.add(
                i,
                "error",
                "sliver",
                "geometry",
                f"{area_m2[i]:.3g} m²",
                "面积近零 / polygon has (almost) zero area",
                "删除，或加 --fix 剔除 / delete it, or ingest with --fix to drop it",
            )
        usable[i] = False
    area_mu = area_m2 / M2_PER_MU

    # ---- location: city and district ---------------------------------------
    d_albers = _district_albers(districts)
    d_codes = districts["adcode"].to_numpy()
    inside = _inside_fractions(albers, usable, d_albers, area_m2)
    in_city = inside.sum(axis=1)
    adcodes = frame["adcode"].astype("string").fillna("").to_numpy(dtype=str)
    declared = pd.Index(d_codes).get_indexer(adcodes)  # -1: not a district
    share = np.where(declared >= 0, inside[np.arange(n), np.maximum(declared, 0)], 1)
    suspect = usable & ((in_city < min_inside) | (share < district_warn))
    for i in np.flatnonzero(suspect):
        if in_city[i] < min_inside:
            issues.add(
                i,
                "error",
                "outside_chongqing",
                "geometry",
                f"{in_city[i]:.0%} inside",
                f"图斑在重庆市外 / polygon lies outside Chongqing "
                f"({in_city[i]:.0%} of its area inside the city)",
                "检查坐标与坐标系 / check the coordinates and the CRS of this feature",
            )
            continue
        code = adcodes[i]
        if code is None or pd.isna(code):
            continue
        j = int(np.flatnonzero(d_codes == code)[0])
        best = int(np.argmax(inside[i]))
        if inside[i, j] < min_inside and best != j:
            issues.add(
                i,
                "error",
                "wrong_district",
                "district",
                frame["district_raw"].iloc[i],
                f"区县与位置不符 / polygon is declared in {names[code]} ({code}) but "
                f"{inside[i, best]:.0%} of it lies in {names[d_codes[best]]} "
                f"({d_codes[best]}), {inside[i, j]:.0%} in {names[code]}",
                "改正区县列或几何 / correct the district column or the geometry",
            )
        elif inside[i, j] < district_warn:
            issues.add(
                i,
                "warning",
                "crosses_district",
                "district",
                code,
                f"图斑跨区县 / only {inside[i, j]:.0%} of the polygon lies in "
                f"{names[code]} (boundaries are accurate to about 100 m)",
                "检查区县边界附近的图斑 / check the polygon near the district boundary",
            )

    # ---- attributes ----------------------------------------------------------
    for i in np.flatnonzero(frame["project_id"].isna().to_numpy()):
        issues.add(
            i,
            "error",
            "missing_project_id",
            "project_id",
            None,
            "缺少项目编号 / feature has no project id",
            "fill in the project id (项目编号/小班号)",
        )
    for i in np.flatnonzero(frame["adcode"].isna().to_numpy()):
        raw = frame["district_raw"].iloc[i]
        from forestsink.errors import UnknownNameError
        from forestsink.reference import resolve_district

        if pd.isna(raw) or not str(raw).strip():
            issues.add(
                i,
                "error",
                "unknown_district",
                "district",
                None,
                "区县为空 / the district is empty",
                "fill it in, or give --district NAME for the empty cells",
            )
            continue
        try:
            resolve_district(raw)
        except UnknownNameError as err:
            message = str(err)
        else:  # pragma: no cover - resolve_many and resolve agree
            message = f"unknown district {raw!r}"
        issues.add(
            i,
            "error",
            "unknown_district",
            "district",
            raw,
            message,
            "use a district name or adcode from `forestsink districts`",
        )
    if "column_conflicts" in frame:
        conflicts = frame["column_conflicts"]
        for i in np.flatnonzero(conflicts.notna().to_numpy()):
            issues.add(
                i,
                "warning",
                "columns_disagree",
                "columns",
                conflicts.iloc[i],
                f"同义两列不一致 / two columns with one meaning disagree: "
                f"{conflicts.iloc[i]}; the first is used",
                "核对并改正其中一列 / check which is right and correct the other",
            )
    years = frame["year"]
    lo, hi = period
    bad_year = (years.isna() | (years < lo) | (years > hi)).fillna(True).to_numpy()
    for i in np.flatnonzero(bad_year):
        y = years.iloc[i]
        if pd.isna(y):
            raw = frame["year_raw"].iloc[i]
            empty = pd.isna(raw) or not str(raw).strip()
            issues.add(
                i,
                "error",
                "year_missing",
                "year",
                None if empty else raw,
                "年度为空 / the year is empty"
                if empty
                else f"年度无法识别 / year {raw!r} is not a year",
                "fill it in, or give --year Y for the empty cells"
                if empty
                else "write the year as four digits, e.g. 2013",
            )
        elif not lo <= int(y) <= hi:
            issues.add(
                i,
                "error",
                "year_out_of_range",
                "year",
                int(y),
                f"年度超出规划期 / year {int(y)} is outside the plan period {lo}–{hi}",
                "改正年度，或用 --period 设定 / correct the year, or set the period "
                "with --period",
            )
    types = frame["project_type"]
    if types.isna().any():
        from forestsink.reference import read_code_table, read_project_types

        known = ", ".join(
            f"{c} ({r['name_zh']})" for c, r in read_project_types().iterrows()
        )
        table = read_code_table()
        table = table[table["field"] == "ZAO_LIN_LB"]
        codes = dict(zip(table["code"], table["name_zh"], strict=True))
        for i in np.flatnonzero(types.isna().to_numpy()):
            raw = frame["project_type_raw"].iloc[i]
            if pd.isna(raw) or not str(raw).strip():
                issues.add(
                    i,
                    "error",
                    "missing_project_type",
                    "project_type",
                    None,
                    f"项目类型为空 / the project type is empty; known types: {known}",
                    "fill it in, or give --type TYPE for the empty cells",
                )
                continue
            code = codes.get(str(raw).strip().removesuffix(".0"))
            named = f" (ZAO_LIN_LB {code})" if code else ""
            issues.add(
                i,
                "error",
                "unknown_project_type",
                "project_type",
                raw,
                f"未知项目类型 / unknown project type {raw!r}{named}, not one of "
                f"the plan's types: {known}",
                "use one of the known types, or add the word to your aliases "
                "file as 'project_type,<word>,<type>' (--aliases)",
            )
    key = frame["adcode"].astype("string") + "/" + frame["project_id"].astype("string")
    dup = key.notna() & key.duplicated(keep=False)
    for i in np.flatnonzero(dup.to_numpy()):
        others = [
            int(frame["source_row"].iloc[k])
            for k in np.flatnonzero((key == key.iloc[i]).to_numpy())
            if k != i
        ]
        issues.add(
            i,
            "error",
            "duplicate_id",
            "project_id",
            frame["project_id"].iloc[i],
            f"项目编号重复 / project id {frame['project_id'].iloc[i]!r} appears "
            f"more than once in this delivery (also row(s) "
            f"{[r + 1 for r in others]}, counted from 1)",
            "每个图斑一个编号，或合并 / give each polygon its own id, or merge the "
            "rows",
        )
    reported = frame["area_reported_mu"].to_numpy(dtype="float64")
    computed = area_mu
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.abs(reported - computed) / computed
    for i in np.flatnonzero(usable & np.isfinite(rel) & (rel > area_tolerance)):
        issues.add(
            i,
            "warning",
            "area_mismatch",
            "area",
            f"{reported[i]:.1f}",
            f"上报面积与计算面积不符 / reported area {reported[i]:.1f} mu differs "
            "from the ellipsoidal "
            f"area {computed[i]:.1f} mu by {rel[i]:.0%} (tolerance "
            f"{area_tolerance:.0%})",
            "检查面积列及其单位 / check the area column and its unit (亩 vs 公顷)",
        )

    _check_numbers(frame, issues, usable, area_mu)
    _unread_numbers(frame, issues)
    _check_stock_attrs(frame, issues, usable, area_mu)

    # ---- overlap with the store ---------------------------------------------
    if existing is not None and len(existing):
        _overlaps(issues, frame, albers, usable, key, existing, min_overlap_mu)

    added = {
        "area_mu": area_mu,
        "dropped": sliver if fix else np.zeros(n, dtype=bool),
        "key": key.array,
    }
    if repaired_any:
        from geopandas.array import from_shapely

        added[frame.geometry.name] = from_shapely(geoms, crs=frame.crs)
    return ValidationResult(frame=frame.assign(**added), issues=issues.table())


def _unread_numbers(frame, issues) -> None:
    """Report number cells the read could not read (``unread_numbers``, JSON)."""
    import json

    from forestsink.ingest.read import NUMBER_ACTION

    if "unread_numbers" not in frame:
        return
    unread = frame["unread_numbers"]
    for i in np.flatnonzero(unread.notna().to_numpy()):
        for field, column, value in json.loads(unread.iloc[i]):
            issues.add(
                i,
                "error",
                "not_a_number",
                field,
                value,
                f"不是数字 / column {column!r} holds {value!r}, not a number: "
                "it would be stored empty",
                NUMBER_ACTION,
            )


def _inside_fractions(albers, usable, d_albers, area_m2) -> np.ndarray:
    """Fraction of each polygon's area inside each district (n × 38).

    Exact: 1.0 where a district contains the polygon properly (as
    ``contains_properly``), else the area of the intersection. Both are
    computed against the districts cut into pieces by a grid
    (:func:`_district_pieces`), which are small, so that each test costs a few
    dozen vertices instead of a whole district boundary.
    """
    import shapely

    n, k = len(albers), len(d_albers)
    out = np.zeros((n, k))
    idx = np.flatnonzero(usable)
    if not len(idx):
        return out
    pieces, owner = _district_pieces(d_albers)
    # wholly inside a piece: inside its district (the piece's interior is);
    # ask each (prepared) piece for the polygons whose bounding box it
    # contains (a box inside is a polygon inside; five vertices test faster)
    boxes = shapely.box(*shapely.bounds(albers[idx]).T)
    found = shapely.STRtree(boxes).query(pieces, predicate="contains_properly")
    out[idx[found[1]], owner[found[0]]] = 1.0
    done = np.zeros(n, dtype=bool)
    done[idx[found[1]]] = True
    rest = idx[~done[idx]]
    if not len(rest):
        return out
    a, b = shapely.STRtree(pieces).query(albers[rest], predicate="intersects")
    a = rest[a]
    # across piece edges: ask the (prepared) district itself
    pairs = np.unique(np.column_stack([a, owner[b]]), axis=0)
    shapely.prepare(d_albers)
    inside = shapely.contains_properly(d_albers[pairs[:, 1]], albers[pairs[:, 0]])
    out[pairs[inside, 0], pairs[inside, 1]] = 1.0
    done[pairs[inside, 0]] = True
    # the rest crosses a district boundary: intersect with the pieces
    cut = ~done[a]
    a, b = a[cut], b[cut]
    if len(a):
        inter = shapely.area(shapely.intersection(albers[a], pieces[b]))
        np.add.at(out, (a, owner[b]), inter / area_m2[a])
    return out


#: side of the grid cells that cut the districts into pieces (metres, Albers)
PIECE_SIZE_M = 10_000.0
#: per-thread cache of the pieces: GEOS builds a prepared geometry's internal
#: indexes lazily on first use, so prepared geometries shared by two threads
#: (two ingests at once) can crash the process; each thread keeps its own
_PIECES = threading.local()


def _district_albers(districts) -> np.ndarray:
    """Return the districts in Albers metres, once while *districts* recur.

    ``check_deliveries`` passes the same districts frame for every file; it
    is recognised by its geometry array (kept, so its identity is not
    reused), per thread (see :data:`_PIECES`).
    """
    values = districts.geometry.values
    last = _PIECES.__dict__.get("albers")
    if last is not None and last[0] is values:
        return last[1]
    d_albers = albers_geometries(districts)
    _PIECES.albers = (values, d_albers)
    return d_albers


def _district_pieces(d_albers) -> tuple[np.ndarray, np.ndarray]:
    """Cut the districts by a square grid; return pieces and their districts.

    The pieces of a district cover it exactly (they are its intersections
    with the grid cells). Computed once per district (by its exact
    coordinates) and thread, and kept (see :data:`_PIECES`): a country's
    deliveries each check against a few neighbouring counties, which recur.
    """
    import hashlib

    import shapely

    last = _PIECES.__dict__.get("pieces")
    if last is not None and last[0] is d_albers:  # the same districts again
        return last[1]
    cache = _PIECES.__dict__.setdefault("by_district", {})
    if len(cache) > _PIECES_KEPT:
        cache.clear()
    pieces, owner = [], []
    for j, wkb in enumerate(shapely.to_wkb(d_albers).tolist()):
        key = hashlib.sha256(wkb).digest()
        if key not in cache:
            cache[key] = _cut(d_albers[j])
        pieces.append(cache[key])
        owner.append(np.full(len(cache[key]), j))
    if not pieces:
        return np.zeros(0, dtype=object), np.zeros(0, dtype=np.int64)
    result = np.concatenate(pieces), np.concatenate(owner)
    _PIECES.pieces = (d_albers, result)
    return result


#: districts whose pieces a thread keeps (then it starts again)
_PIECES_KEPT = 5_000


def _cut(district) -> np.ndarray:
    """One district cut by the grid of :data:`PIECE_SIZE_M` cells (prepared)."""
    import shapely

    shapely.prepare(district)
    x0, y0, x1, y1 = shapely.bounds(district)
    xs = np.arange(x0, x1 + PIECE_SIZE_M, PIECE_SIZE_M)
    ys = np.arange(y0, y1 + PIECE_SIZE_M, PIECE_SIZE_M)
    gx, gy = np.meshgrid(xs[:-1], ys[:-1])
    cells = shapely.box(
        gx.ravel(), gy.ravel(), gx.ravel() + PIECE_SIZE_M, gy.ravel() + PIECE_SIZE_M
    )
    cells = cells[shapely.intersects(district, cells)]
    part = shapely.intersection(district, cells)
    part = part[~shapely.is_empty(part)]
    shapely.prepare(part)
    return part


def _overlaps(issues, frame, albers, usable, key, existing, min_overlap_mu):
    import shapely

    ex = existing
    ex_geoms = albers_geometries(existing)
    tree = shapely.STRtree(ex_geoms)
    idx = np.flatnonzero(usable)
    pairs = tree.query(albers[idx], predicate="intersects")
    if not pairs.shape[1]:
        return
    a = idx[pairs[0]]
    b = pairs[1]

    def text(series):
        return series.astype("string").fillna("").to_numpy(dtype=str)

    from forestsink.reference import read_project_types

    types = read_project_types()
    adds = set(types.index[types["adds_forest_area"]])
    new_t, old_t = text(frame["project_type"])[a], text(ex["project_type"])[b]
    same_type = (new_t == old_t) | (
        np.isin(new_t, list(adds)) & np.isin(old_t, list(adds))
    )
    not_self = text(key)[a] != text(ex["key"])[b]
    keep = same_type & not_self
    a, b = a[keep], b[keep]
    if not len(a):
        return
    inter_mu = shapely.area(shapely.intersection(albers[a], ex_geoms[b])) / M2_PER_MU
    for i, j, mu in zip(a, b, inter_mu, strict=True):
        if mu >= min_overlap_mu:
            issues.add(
                int(i),
                "warning",
                "overlap_existing",
                "geometry",
                ex["key"].iloc[j],
                f"与库中图斑重叠 / overlaps {ex['key'].iloc[j]} "
                f"({ex['project_type'].iloc[j]}, "
                f"already in the store) by {mu:.1f} mu; the overlap is counted "
                "once in net area",
                "检查是否重复上报 / check whether the same land was delivered twice",
            )
