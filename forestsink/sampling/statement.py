"""Sentences for the report: a map figure beside its sample-based estimate.

Pure functions of an :class:`~forestsink.sampling.estimators.AreaEstimate`.
Shares are of the total mapped area of the strata (every sampled pixel,
water included, as the official coverage divides by the total
administrative area, official-statistics §1), in percent.
"""

from __future__ import annotations

from dataclasses import dataclass

from forestsink.sampling.estimators import NOT_ESTIMABLE, AreaEstimate

__all__ = [
    "NARROW_PP",
    "SHARES",
    "ShareStatement",
    "half_width_text",
    "share_statement",
    "share_statements",
]

#: Which classes make forest, per design (one map; two maps, year 1 / year 2).
FOREST_WEIGHTS: dict[str, dict[str, float]] = {
    "forest": {"forest": 1.0},
    "forest_year1": {"stable_forest": 1.0, "loss": 1.0},
    "forest_year2": {"stable_forest": 1.0, "gain": 1.0},
    "net_change": {"gain": 1.0, "loss": -1.0},
}


@dataclass(frozen=True)
class ShareStatement:
    """A share of the area by the map and by the sample (percent).

    Attributes
    ----------
    map_pct : float
        The map's pixel count as a share of the total area (%).
    sample_pct, half_width_pct : float
        The sample-based share and the half-width of its 95 % interval
        (percentage points).
    text_zh, text_en : str
        ``"map: x %; sample-based: y % ± z"`` and a sentence on what it means.
    ci95_note : str
        Empty, or :data:`~forestsink.sampling.estimators.NOT_ESTIMABLE` when
        the interval has zero width (every labelled point of each stratum
        agrees): then *half_width_pct* is 0 and means nothing, and the text
        gives the conservative bound instead.
    bound_low_pct, bound_high_pct : float or None
        That conservative bound (%), or None.
    """

    map_pct: float
    sample_pct: float
    half_width_pct: float
    text_zh: str
    text_en: str
    ci95_note: str = ""
    bound_low_pct: float | None = None
    bound_high_pct: float | None = None


#: A half-width below this (percentage points) reads "± 0.0" at one decimal.
NARROW_PP = 0.05
_NARROW = (
    "The interval is very narrow (under 0.05 points): when almost every "
    "labelled point agrees with the map, the estimated variance is near 0 and "
    "may understate the uncertainty; label more points before relying on it. ",
    "区间极窄（不足 0.05 个百分点）：判读样点几乎全部与地图一致时，方差估计接近 0，"
    "可能低估不确定性；请判读更多样点后再依赖此区间。",
)


def half_width_text(z: float) -> str:
    """Return a half-width (points) as printed: one decimal, or two significant digits.

    A half-width that rounds to 0.0 at one decimal but is not 0 keeps two
    significant digits, so a narrow interval is never shown as "± 0.0".

    Parameters
    ----------
    z : float
        The 95 % half-width, in percent or percentage points.

    Returns
    -------
    str
        E.g. ``"1.3"``, ``"0.0064"``.

    >>> half_width_text(1.26), half_width_text(0.006400), half_width_text(0.0)
    ('1.3', '0.0064', '0.0')
    """
    if 0 < z < NARROW_PP:
        return f"{z:.2g}"
    return f"{z:.1f}"


def share_statement(
    estimate: AreaEstimate, weights: dict[str, float] | str = "forest"
) -> ShareStatement:
    """Return "map: x %; sample-based: y % ± z" for a share of the area.

    Parameters
    ----------
    estimate : AreaEstimate
        From :func:`~forestsink.sampling.estimators.estimate_areas`.
    weights : dict or str, optional (default: "forest")
        Class coefficients, or a key of :data:`FOREST_WEIGHTS` (``forest``
        for a one-map design; ``forest_year1``, ``forest_year2``,
        ``net_change`` for a two-map design).

    Returns
    -------
    ShareStatement
        Shares in percent of the total area of the strata; the interval is
        ``estimate.z`` standard errors wide on each side.

    Notes
    -----
    No geometry and no CRS: the areas (ha) are those of *estimate*.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from forestsink.sampling.estimators import estimate_areas
    >>> pts = pd.DataFrame({"stratum": ["f"] * 4 + ["n"] * 4,
    ...                     "map_class": ["f"] * 4 + ["n"] * 4,
    ...                     "ref_class": ["f", "f", "f", "n", "n", "n", "n", "f"]})
    >>> est = estimate_areas(pts, pd.DataFrame({"stratum": ["f", "n"],
    ...                                         "area_ha": [50.0, 50.0]}))
    >>> share_statement(est, {"f": 1}).text_en.split(". ")[0]
    'map: 50.0 %; sample-based: 50.0 % ± 34.6 (95 % interval)'
    """
    # a change of coverage is in percentage points, not percent
    change = weights == "net_change"
    u_en, u_zh = (" pp", "个百分点") if change else (" %", "%")
    if isinstance(weights, str):
        weights = FOREST_WEIGHTS[weights]
    mapped, area, se = estimate.combined_area(weights)
    total = estimate.total_area_ha
    m, y, z = 100 * mapped / total, 100 * area / total, 100 * estimate.z * se / total
    bound = estimate.zero_variance_bound(weights) if se <= 1e-12 * total else None
    if bound is not None:
        return _not_estimable(
            m, y, 100 * bound[0] / total, 100 * bound[1] / total, u_en, u_zh
        )
    inside = abs(m - y) <= z
    zt = half_width_text(z)
    narrow_en, narrow_zh = ("", "") if z >= NARROW_PP else _NARROW
    en = (
        (f"map: {m:.1f}{u_en}; sample-based: {y:.1f}{u_en} ± {zt} (95 % interval). ")
        + narrow_en
        + (
            "The map's figure lies inside the sample's interval: the map's errors "
            "do not bias it detectably at this sample size."
            if inside
            else "The map's figure lies outside the sample's interval: its "
            "classification errors bias it; use the sample-based figure, with "
            "its interval."
        )
    )
    zh = (
        f"地图：{m:.1f}{u_zh}；样本估计：{y:.1f}{u_zh} ± {zt}（95% 置信区间）。"
        + narrow_zh
        + (
            "地图数值在样本区间之内：按此样本量未见地图误差造成的明显偏差。"
            if inside
            else "地图数值在样本区间之外：分类误差使其有偏，应采用样本估计值及其区间。"
        )
    )
    return ShareStatement(m, y, z, zh, en)


def _not_estimable(m, y, low, high, u_en, u_zh) -> ShareStatement:
    """Return the statement of a share whose interval has zero width."""
    en = (
        f"map: {m:.1f}{u_en}; sample-based: {y:.1f}{u_en} (95 % interval not "
        "estimable: within each stratum every labelled point gives the same "
        f"value, so the variance is 0; conservative bound {low:.1f} to "
        f"{high:.1f}{u_en}). "
        "The sample is too small to show the map's errors here: label more "
        "points before using this figure."
    )
    zh = (
        f"地图：{m:.1f}{u_zh}；样本估计：{y:.1f}{u_zh}（95% 区间不可估计：各层内"
        f"样点判读的取值全部相同，方差为 0；保守界 {low:.1f} 至 {high:.1f}{u_zh}）。"
        "样本太少，看不出此处地图的误差：请判读更多样点后再用此数。"
    )
    return ShareStatement(m, y, 0.0, zh, en, NOT_ESTIMABLE, low, high)


#: The shares the report shows, per design: key, Chinese and English name.
SHARES: tuple[tuple[str, str, str], ...] = (
    ("forest", "森林覆盖率", "forest coverage"),
    ("forest_year1", "前期森林覆盖率", "forest coverage, first map"),
    ("forest_year2", "后期森林覆盖率", "forest coverage, second map"),
    ("net_change", "覆盖率变化（百分点）", "coverage change (percentage points)"),
)


def share_statements(estimate: AreaEstimate) -> list[dict]:
    """Return the statements of the shares the design supports, as records.

    A one-map design (a ``forest`` class) gives ``forest``; a two-map design
    (``stable_forest``, ``gain``, ``loss``) gives ``forest_year1``,
    ``forest_year2`` and ``net_change``.

    Parameters
    ----------
    estimate : AreaEstimate
        From :func:`~forestsink.sampling.estimators.estimate_areas`.

    Returns
    -------
    list of dict
        ``share, name_zh, name_en, map_pct, sample_pct, half_width_pct,
        text_zh, text_en, ci95_note, bound_low_pct, bound_high_pct``
        (percent of the total area of the strata; the half-width of the 95 %
        interval in percentage points; the note and the conservative bound
        where that interval has zero width, see :class:`ShareStatement`).

    Notes
    -----
    No geometry and no CRS: the areas (ha) are those of *estimate*.
    """
    present = set(estimate.classes)
    if {"stable_forest", "gain", "loss"} <= present:
        keys = ("forest_year1", "forest_year2", "net_change")
    elif "forest" in present:
        keys = ("forest",)
    else:
        return []
    names = {k: (zh, en) for k, zh, en in SHARES}
    out = []
    for key in keys:
        s = share_statement(estimate, key)
        out.append(
            {
                "share": key,
                "name_zh": names[key][0],
                "name_en": names[key][1],
                "map_pct": s.map_pct,
                "sample_pct": s.sample_pct,
                "half_width_pct": s.half_width_pct,
                "text_zh": s.text_zh,
                "text_en": s.text_en,
                "ci95_note": s.ci95_note,
                "bound_low_pct": s.bound_low_pct,
                "bound_high_pct": s.bound_high_pct,
            }
        )
    return out
