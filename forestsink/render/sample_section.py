"""The report's sample-based section: map figure beside the sample's estimate.

Where a reference sample has been labelled and estimated (``forestsink sample
estimate``), the report shows each forest share as "map: x %; sample-based:
y % ± z" with a sentence on what that means, per district where the sample
supports it, and the city's error matrix in area proportions.

Numbers are never recomputed here: every figure is the estimate document's
(:func:`forestsink.sampling.tools.read_estimate` reads the ``.json`` or
``.xlsx`` that ``sample estimate`` writes), only formatted.

Layers: ``forestsink.reference`` (district names); no optional heavy
dependency.
"""

from __future__ import annotations

from forestsink.reference import read_district_table
from forestsink.sampling.statement import half_width_text

__all__ = ["CLASS_NAMES", "sample_section"]

#: Chinese names of the strata classes (English: the class key).
CLASS_NAMES: dict[str, str] = {
    "forest": "森林",
    "non_forest": "非森林",
    "stable_forest": "稳定森林",
    "gain": "森林增加",
    "loss": "森林减少",
    "stable_non_forest": "稳定非森林",
}


#: Why a district whose every interval has zero width shows no figure.
_NO_INTERVAL = (
    "各层样点判读全部一致，区间宽度为 0，不是真实的区间（见保守界）"
    " / every labelled point of each stratum agrees: an interval of zero "
    "width is no interval (see the conservative bound)"
)


def _share_rows(shares: list[dict] | None) -> list[dict]:
    return [
        {
            "share": s["share"],
            "name_zh": s.get("name_zh", ""),
            "name_en": s.get("name_en", s["share"]),
            "map_pct": s["map_pct"],
            "sample_pct": s["sample_pct"],
            "half_width_pct": s["half_width_pct"],
            "half_width_text": half_width_text(s["half_width_pct"]),
            "text_zh": s.get("text_zh", ""),
            "text_en": s.get("text_en", ""),
            "ci95_note": s.get("ci95_note") or "",
            "bound_low_pct": s.get("bound_low_pct"),
            "bound_high_pct": s.get("bound_high_pct"),
        }
        for s in shares or []
        if s.get("sample_pct") is not None and s.get("half_width_pct") is not None
    ]


def sample_section(estimate: dict | None, *, source: str = "") -> dict | None:
    """Return what the report's sample-based section shows (or None).

    Parameters
    ----------
    estimate : dict or None
        The estimate document (:func:`forestsink.sampling.tools.read_estimate`):
        ``shares``, ``overall_accuracy(_ci95)``, ``n_points``,
        ``error_matrix`` and optionally ``zones``.
    source : str, optional (default: "")
        The file shown as the figures' source.

    Returns
    -------
    dict or None
        ``city`` (share records: ``share, name_zh, name_en, map_pct,
        sample_pct, half_width_pct, text_zh, text_en, ci95_note,
        bound_low_pct, bound_high_pct``; percent of the strata's total area,
        half-width of the 95 % interval in percentage points; where that
        interval has zero width the note says it is not estimable, the text
        gives the conservative bound and the half-width means nothing),
        ``districts`` (the same per district with an estimate; a share whose
        interval has zero width is not among its ``shares`` but in its
        ``not_estimable``), ``refused`` (districts without one, and why: too
        few points, or every interval of zero width, with ``bounds``),
        ``matrix`` (the city's
        error matrix in area proportions), ``overall_accuracy(_ci95)``,
        ``n_points``, ``source``.

    Notes
    -----
    No geometry: the areas behind the shares are the estimate's, on the
    ellipsoid of the rasters' geodetic CRS.
    """
    if not estimate:
        return None
    names = read_district_table().set_index("adcode")
    districts, refused = [], []
    column = estimate.get("zone_column") or "adcode"
    for zone in estimate.get("zones") or []:
        code = str(zone.get(column, ""))
        name_zh = zone.get("name_zh") or (
            names.at[code, "name_zh"] if code in names.index else code
        )
        name_en = names.at[code, "name_en"] if code in names.index else ""
        if zone.get("refused"):
            refused.append(
                {
                    "zone": code,
                    "name_zh": name_zh,
                    "name_en": name_en,
                    "n_points": zone.get("n_points"),
                    "reason": zone["refused"],
                }
            )
            continue
        rows = _share_rows(zone.get("shares"))
        # an interval of zero width is no interval: such a share is left out
        # of the district's row (the table shows "—"), and a district with no
        # other share is listed with the refused ones, with its bound
        blank = [r for r in rows if r["ci95_note"]]
        rows = [r for r in rows if not r["ci95_note"]]
        if blank and not rows:
            refused.append(
                {
                    "zone": code,
                    "name_zh": name_zh,
                    "name_en": name_en,
                    "n_points": zone.get("n_points"),
                    "reason": _NO_INTERVAL,
                    "bounds": blank,
                }
            )
            continue
        if rows:
            districts.append(
                {
                    "zone": code,
                    "name_zh": name_zh,
                    "name_en": name_en,
                    "n_points": zone.get("n_points"),
                    "shares": {r["share"]: r for r in rows},
                    "not_estimable": blank,
                }
            )
    matrix = estimate.get("error_matrix") or {}
    classes = list(matrix.get("classes") or [])
    cells = matrix.get("area_proportions") or []
    city = _share_rows(estimate.get("shares"))
    return {
        "city": city,
        "share_keys": [r["share"] for r in city],
        "districts": districts,
        "refused": refused,
        "matrix": {
            "classes": [{"key": c, "name_zh": CLASS_NAMES.get(c, c)} for c in classes],
            "rows": [
                {"key": c, "name_zh": CLASS_NAMES.get(c, c), "cells": list(row)}
                for c, row in zip(classes, cells, strict=False)
            ],
        },
        "overall_accuracy": estimate.get("overall_accuracy"),
        "overall_accuracy_ci95": estimate.get("overall_accuracy_ci95"),
        "n_points": estimate.get("n_points"),
        "source": source,
    }
