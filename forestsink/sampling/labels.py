"""Check a labelled sample and its strata table; estimate city-wide and per zone.

Frames in, frames and estimates out: no files are read or written here.

A labelled sample has one row per point with ``point_id, stratum, map_class,
ref_class`` (the design's CSV with ``ref_class`` filled in; its ``adcode``
column places each point in a district). A strata table has ``stratum`` and
``area_ha`` (or ``n_pixels`` and ``pixel_area_ha``), optionally ``map_class``
and ``adcode``. Every problem is a :class:`~forestsink.errors.SamplingError`
whose message, Chinese first and then English, names the file, the points
(rows counted from 2, the header being row 1) or the stratum, and the fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forestsink.errors import SamplingError
from forestsink.sampling.design import CHANGE_CLASSES, FOREST_CLASSES
from forestsink.sampling.estimators import AreaEstimate, estimate_areas

__all__ = [
    "LABEL_COLUMNS",
    "MIN_POINTS_PER_STRATUM",
    "MIN_ZONE_POINTS_PER_STRATUM",
    "SampleEstimate",
    "check_labels",
    "check_strata",
    "estimate_sample",
]

LABEL_COLUMNS: tuple[str, ...] = ("point_id", "stratum", "map_class", "ref_class")
"""Columns a labelled sample must have."""

#: Fewest labelled points in a stratum: a within-stratum variance needs two.
MIN_POINTS_PER_STRATUM = 2

#: Fewest labelled points in every stratum of a district for that district's
#: estimate. Below ten, the within-stratum variance has fewer than nine
#: degrees of freedom, a stratum whose few points all agree with the map gives
#: a standard error of exactly zero (a zero-width, meaningless interval), and
#: the normal quantile 1.96 understates the t quantile by more than 13 %
#: (t₀.₉₇₅,₉ = 2.26). Such a district is listed as refused, with no numbers.
MIN_ZONE_POINTS_PER_STRATUM = 10

#: Largest relative difference between ``area_ha`` and
#: ``n_pixels × pixel_area_ha`` in one strata row.
AREA_MATCH_TOLERANCE = 1e-3


def _rows(mask: np.ndarray, limit: int = 8) -> str:
    rows = (np.flatnonzero(mask) + 2).tolist()
    text = ", ".join(str(r) for r in rows[:limit])
    return text + (f" … ({len(rows)} rows)" if len(rows) > limit else "")


def _text(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out.columns = [str(c).strip().lower() for c in out.columns]
    for column in out.columns:
        if out[column].dtype == object:
            out[column] = out[column].map(
                lambda v: v.strip() if isinstance(v, str) else v
            )
    return out


def _number(series: pd.Series, column: str, source: str) -> np.ndarray:
    values = pd.to_numeric(series.replace("", np.nan), errors="coerce").to_numpy(
        dtype=float
    )
    bad = ~np.isfinite(values) | (values <= 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise SamplingError(
            f"{source}：第 {i + 2} 行 {column} 列的值 {series.iloc[i]!r} 不是正数。 / "
            f"{source}: row {i + 2}, column '{column}': value {series.iloc[i]!r} is "
            "not a positive number; every stratum needs its mapped area."
        )
    return values


def check_strata(table: pd.DataFrame, *, source: str = "strata table") -> pd.DataFrame:
    """Validate a strata table; return ``stratum, area_ha`` (+ optional columns).

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``stratum`` and ``area_ha`` (ha), or ``n_pixels`` and
        ``pixel_area_ha`` (ha per pixel); when both are given they must agree
        to :data:`AREA_MATCH_TOLERANCE`. Optional ``map_class``, ``adcode``.
    source : str, optional (default: "strata table")
        Name of the table in messages (its path).

    Returns
    -------
    pandas.DataFrame
        ``stratum`` (text), ``area_ha`` (float, ha) and the optional columns.

    Raises
    ------
    SamplingError
        Missing columns, duplicate strata, areas that are not positive numbers,
        or ``area_ha`` that does not match ``n_pixels × pixel_area_ha``.
    """
    t = _text(table)
    if "stratum" not in t.columns:
        raise SamplingError(
            f"{source}：缺少 stratum 列。 / {source}: column 'stratum' is missing; a "
            "strata table needs stratum and area_ha (or n_pixels and pixel_area_ha), "
            "as `forestsink sample design` writes it (strata.csv)."
        )
    has_area = "area_ha" in t.columns
    has_pixels = {"n_pixels", "pixel_area_ha"} <= set(t.columns)
    if not (has_area or has_pixels):
        raise SamplingError(
            f"{source}：缺少 area_ha 列（或 n_pixels 与 pixel_area_ha 列）。 / "
            f"{source}: no column 'area_ha' (nor 'n_pixels' and 'pixel_area_ha'); "
            "give each stratum's mapped area in hectares."
        )
    t["stratum"] = t["stratum"].astype(str)
    dup = t["stratum"].duplicated(keep=False).to_numpy()
    if dup.any():
        name = t["stratum"][dup].iloc[0]
        raise SamplingError(
            f"{source}：层 {name!r} 出现多次（第 {_rows(dup)} 行）。 / {source}: "
            f"stratum {name!r} is listed more than once (rows {_rows(dup)}); keep "
            "one row per stratum."
        )
    if has_pixels:
        pixels = _number(t["n_pixels"], "n_pixels", source)
        size = _number(t["pixel_area_ha"], "pixel_area_ha", source)
        from_pixels = pixels * size
    if has_area:
        area = _number(t["area_ha"], "area_ha", source)
        if has_pixels:
            off = np.abs(area - from_pixels) > AREA_MATCH_TOLERANCE * area
            if off.any():
                i = int(np.flatnonzero(off)[0])
                raise SamplingError(
                    f"{source}：第 {i + 2} 行（层 {t['stratum'].iloc[i]!r}）的 area_ha "
                    f"= {area[i]:g} 与 n_pixels × pixel_area_ha = {from_pixels[i]:g} "
                    f"不符。 / {source}: row {i + 2} (stratum "
                    f"{t['stratum'].iloc[i]!r}): area_ha = {area[i]:g} does not "
                    f"match n_pixels × pixel_area_ha = {from_pixels[i]:g}; the table "
                    "does not describe the map the sample was drawn from. Use the "
                    "strata.csv the design wrote, unchanged."
                )
    else:
        area = from_pixels
    out = pd.DataFrame({"stratum": t["stratum"], "area_ha": area})
    for column in ("map_class", "adcode"):
        if column in t.columns:
            out[column] = t[column].astype(str)
    return out.reset_index(drop=True)


def check_labels(
    labels: pd.DataFrame,
    strata: pd.DataFrame,
    *,
    source: str = "labels",
    extra_classes: Sequence[str] = (),
) -> pd.DataFrame:
    """Validate a labelled sample against its (checked) strata table.

    Parameters
    ----------
    labels : pandas.DataFrame
        ``point_id, stratum, map_class, ref_class`` (text); other columns
        (``adcode``, coordinates) are kept.
    strata : pandas.DataFrame
        From :func:`check_strata`.
    source : str, optional (default: "labels")
        Name of the labels file in messages.
    extra_classes : sequence of str, optional (default: ())
        Reference classes no stratum maps that a labeller may use (a class the
        map does not have, e.g. ``water`` in a forest/non-forest design).

    Returns
    -------
    pandas.DataFrame
        The labels with stripped text.

    Raises
    ------
    SamplingError
        Missing columns; duplicate point ids; unlabelled points; points in no
        stratum of the table; a ``map_class`` that is not its stratum's; a
        ``ref_class`` that is not a known class; a stratum with fewer than
        :data:`MIN_POINTS_PER_STRATUM` labelled points.
    """
    t = _text(labels)
    missing = [c for c in LABEL_COLUMNS if c not in t.columns]
    if missing:
        raise SamplingError(
            f"{source}：缺少列 {', '.join(missing)}。 / {source}: column(s) "
            f"{', '.join(missing)} missing; labels need {', '.join(LABEL_COLUMNS)} "
            "(the design's sample.csv with ref_class filled in)."
        )
    for column in LABEL_COLUMNS:
        t[column] = t[column].fillna("").astype(str)
    if len(t) == 0:
        raise SamplingError(f"{source}：没有样点。 / {source}: no points.")
    dup = t["point_id"].duplicated(keep=False).to_numpy()
    if dup.any():
        ids = list(dict.fromkeys(t["point_id"][dup]))[:5]
        raise SamplingError(
            f"{source}：样点编号重复 {ids}（第 {_rows(dup)} 行）。 / {source}: "
            f"duplicate point_id {ids} (rows {_rows(dup)}); each point must appear "
            "once. Remove the copies (a point labelled twice would count twice)."
        )
    empty = (t["ref_class"] == "").to_numpy()
    if empty.any():
        raise SamplingError(
            f"{source}：第 {_rows(empty)} 行没有判读类别 ref_class。 / {source}: "
            f"rows {_rows(empty)} have no ref_class; label every point (or remove "
            "points that could not be labelled and say so in the report)."
        )
    known = set(strata["stratum"])
    outside = (~t["stratum"].isin(known)).to_numpy()
    if outside.any():
        names = list(dict.fromkeys(t["stratum"][outside]))[:5]
        raise SamplingError(
            f"{source}：第 {_rows(outside)} 行的样点不在任何层内（层 {names} 不在层"
            f"表中）。 / {source}: rows {_rows(outside)}: the points lie in no "
            f"stratum of the strata table (strata {names} are not listed). Use the "
            "strata.csv written with this sample."
        )
    if "map_class" in strata.columns:
        own = t["stratum"].map(
            dict(zip(strata["stratum"], strata["map_class"], strict=True))
        )
        wrong = (own != t["map_class"]).to_numpy()
        if wrong.any():
            i = int(np.flatnonzero(wrong)[0])
            raise SamplingError(
                f"{source}：第 {_rows(wrong)} 行的 map_class 与其所在层的地图类别"
                f"不符（如 {t['map_class'].iloc[i]!r} ≠ {own.iloc[i]!r}）。 / "
                f"{source}: rows {_rows(wrong)}: map_class does not match the map "
                f"class of the point's stratum (e.g. {t['map_class'].iloc[i]!r} in "
                f"stratum {t['stratum'].iloc[i]!r}, which maps {own.iloc[i]!r}). "
                "Do not edit map_class; put your reading in ref_class."
            )
    vocabulary = set(t["map_class"]) | set(extra_classes)
    if "map_class" in strata.columns:
        vocabulary |= set(strata["map_class"])
    unknown = (~t["ref_class"].isin(vocabulary)).to_numpy()
    if unknown.any():
        names = sorted(set(t["ref_class"][unknown]))[:5]
        raise SamplingError(
            f"{source}：第 {_rows(unknown)} 行的判读类别 {names} 不是已知类别"
            f"（{', '.join(sorted(vocabulary))}）。 / {source}: rows "
            f"{_rows(unknown)}: ref_class {names} is not a known class (known: "
            f"{', '.join(sorted(vocabulary))}). Fix the spelling, or, for a real "
            "class the map does not have, declare it in extra_classes.",
            option="extra_classes",
        )
    counts = t["stratum"].value_counts()
    few = [
        (s, int(counts.get(s, 0)))
        for s in strata["stratum"]
        if counts.get(s, 0) < MIN_POINTS_PER_STRATUM
    ]
    if few:
        text = ", ".join(f"{s} ({n})" for s, n in few[:8])
        raise SamplingError(
            f"{source}：层 {text} 的已判读样点少于 {MIN_POINTS_PER_STRATUM} 个，无法"
            f"估计方差。 / {source}: strata {text} have fewer than "
            f"{MIN_POINTS_PER_STRATUM} labelled points; a stratum's variance needs "
            "at least two. Label more of its points (the design drew them)."
        )
    return t


@dataclass(frozen=True)
class ZoneEstimate:
    """The estimate of one zone (district), or why there is none."""

    zone: str
    n_points: int
    estimate: AreaEstimate | None
    reason: str = ""


@dataclass(frozen=True)
class SampleEstimate:
    """City-wide estimate plus per-zone estimates (or refusals)."""

    city: AreaEstimate
    strata: pd.DataFrame
    zones: list[ZoneEstimate] = field(default_factory=list)
    zone_column: str | None = None


def estimate_sample(
    labels: pd.DataFrame,
    strata: pd.DataFrame,
    *,
    zone_column: str | None = None,
    source: str = "labels",
    extra_classes: Sequence[str] = (),
    min_zone_points: int = MIN_ZONE_POINTS_PER_STRATUM,
) -> SampleEstimate:
    """Check a labelled sample and estimate areas city-wide and per zone.

    Parameters
    ----------
    labels, strata : pandas.DataFrame
        As for :func:`check_labels` and :func:`check_strata` (raw; both are
        checked here).
    zone_column : str, optional (default: None)
        Also estimate per value of this labels column (``adcode``). The
        strata must then be nested in the zones: the strata table needs the
        same column, each stratum lying in one zone (a design drawn with
        ``--zones``), and every point in its stratum's zone.
    source : str, optional (default: "labels")
        Name of the labels file in messages.
    extra_classes : sequence of str, optional (default: ())
        See :func:`check_labels`.
    min_zone_points : int, optional (default: :data:`MIN_ZONE_POINTS_PER_STRATUM`)
        A zone with a stratum holding fewer labelled points is refused.

    Returns
    -------
    SampleEstimate
        Areas in ha (see :class:`~forestsink.sampling.estimators.AreaEstimate`).
    """
    strata = check_strata(strata)
    points = check_labels(labels, strata, source=source, extra_classes=extra_classes)
    city = estimate_areas(points, strata, classes=_class_order(points, strata))
    zones: list[ZoneEstimate] = []
    if zone_column:
        zones = _by_zone(points, strata, zone_column, source, min_zone_points, city)
    return SampleEstimate(city, strata, zones, zone_column)


def _class_order(points: pd.DataFrame, strata: pd.DataFrame) -> list[str]:
    """Classes in the design's order (forest first), then any others, sorted."""
    seen = set(points["map_class"]) | set(points["ref_class"])
    if "map_class" in strata.columns:
        seen |= set(strata["map_class"])
    for known in (FOREST_CLASSES, CHANGE_CLASSES):
        if set(known) & seen:
            first = [c for c in known if c in seen]
            return first + sorted(seen - set(first))
    first = list(dict.fromkeys(strata.get("map_class", strata["stratum"])))
    first = [c for c in first if c in seen]
    return first + sorted(seen - set(first))


def _by_zone(points, strata, column, source, minimum, city) -> list[ZoneEstimate]:
    if column not in points.columns:
        raise SamplingError(
            f"{source}：没有 {column} 列，无法分区县估计。 / {source}: no column "
            f"'{column}', so the points cannot be given to districts; keep the "
            "design's adcode column."
        )
    if column not in strata.columns:
        raise SamplingError(
            f"层表没有 {column} 列：分区县估计需要按区县分层的设计（抽样设计 "
            f"zones='districts'）。 / the strata table has no '{column}' column: "
            "per-district estimates need strata nested in the districts (a design "
            "drawn with zones='districts'); with city-wide strata a district is a "
            "domain whose stratum areas are unknown, so no interval is given.",
            option="zones",
        )
    zone_of = dict(zip(strata["stratum"], strata[column], strict=True))
    own = points["stratum"].map(zone_of)
    wrong = (own != points[column].astype(str)).to_numpy()
    if wrong.any():
        raise SamplingError(
            f"{source}：第 {_rows(wrong)} 行样点的 {column} 与其所在层的 {column} "
            f"不符。 / {source}: rows {_rows(wrong)}: the point's {column} differs "
            f"from its stratum's {column}; do not edit the design's columns."
        )
    out = []
    for zone in dict.fromkeys(strata[column]):
        zs = strata[strata[column] == zone].reset_index(drop=True)
        zp = points[own == zone]
        counts = zp["stratum"].value_counts()
        few = [s for s in zs["stratum"] if counts.get(s, 0) < minimum]
        if few:
            out.append(
                ZoneEstimate(
                    zone,
                    len(zp),
                    None,
                    f"层 {', '.join(few)} 的样点少于 {minimum} 个 / strata "
                    f"{', '.join(few)} hold fewer than {minimum} labelled points",
                )
            )
            continue
        out.append(
            ZoneEstimate(zone, len(zp), estimate_areas(zp, zs, classes=city.classes))
        )
    return out
