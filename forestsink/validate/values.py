"""Value checks: reported area, stock volumes and unread number cells.

The bounds and their rationale are data (``data/value_ranges.csv``, read
with :func:`forestsink.reference.read_value_ranges`); areas are the
ellipsoidal areas of the geometry checks (mu), volumes in m³ or m³/ha.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from forestsink.ingest.read import NUMBER_ACTION
from forestsink.ingest.stock import read_stock_attrs
from forestsink.reference import read_stock_attr_aliases, read_value_ranges
from forestsink.units import MU_PER_HA
from forestsink.validate.issues import Issues

#: what each attrs volume is, for messages (Chinese first)
_STOCK_ATTR_WORDS = {
    "stock_before_m3": ("作业前蓄积", "volume before the work", "m³"),
    "stock_after_m3": ("作业后蓄积", "volume after the work", "m³"),
    "stock_per_ha_m3": ("公顷蓄积", "standing stock per hectare", "m³/ha"),
}


def check_values(
    frame,
    issues: Issues,
    usable: np.ndarray,
    area_mu: np.ndarray,
    *,
    area_tolerance: float,
) -> None:
    """Check the delivered numbers, in report order.

    Reported against computed area, impossible reported area, stock
    volume, number cells that could not be read, volumes in ``attrs``.

    Parameters
    ----------
    frame : pandas.DataFrame
        Canonical delivery frame.
    issues : Issues
    usable : numpy.ndarray of bool
        Rows whose geometry (and so area) may be used.
    area_mu : numpy.ndarray of float
        Ellipsoidal area of each row (mu).
    area_tolerance : float
        Relative difference of reported and computed area that is warned of.
    """
    _check_area_mismatch(frame, issues, usable, area_mu, area_tolerance)
    _check_numbers(frame, issues, usable, area_mu)
    _unread_numbers(frame, issues)
    _check_stock_attrs(frame, issues, usable, area_mu)


def _check_area_mismatch(frame, issues, usable, area_mu, area_tolerance) -> None:
    """Warn where the reported area differs from the ellipsoidal one."""
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


def volume_flags(
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
    impossible, implausible = volume_flags(volume, per_ha, usable, limits)
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


def _unread_numbers(frame, issues) -> None:
    """Report number cells the read could not read (``unread_numbers``, JSON)."""
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
    limits = read_value_ranges().loc["stock_volume_per_ha"]
    values, names = read_stock_attrs(
        frame["attrs"].astype(object).where(frame["attrs"].notna(), None),
        read_stock_attr_aliases(),
    )
    for canonical, words in _STOCK_ATTR_WORDS.items():
        value = values[canonical].to_numpy(dtype="float64")
        if canonical == "stock_per_ha_m3":
            per_ha = value
        else:
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                per_ha = value / (area_mu / MU_PER_HA)
        impossible, implausible = volume_flags(value, per_ha, usable, limits)
        _report_attr_volumes(
            issues,
            names[canonical],
            words,
            (value, per_ha, area_mu),
            limits,
            (impossible, implausible),
        )
    _check_decrease(issues, values, names)


def _report_attr_volumes(issues, fields, words, numbers, limits, flags) -> None:
    """Report one ``attrs`` volume's impossible and implausible values.

    *fields* names the column of each row; *words* is (Chinese, English,
    unit) from :data:`_STOCK_ATTR_WORDS`; *numbers* is (value, per hectare
    in m³/ha, ellipsoidal area in mu) and *flags* the (impossible,
    implausible) masks of :func:`volume_flags`.
    """
    zh, en, unit = words
    value, per_ha, area_mu = numbers
    impossible, implausible = flags
    for i in np.flatnonzero(impossible):
        field = fields[i]
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
        field = fields[i]
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


def _check_decrease(issues, values, names) -> None:
    """Warn where the volume after the work is below the one before."""
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
