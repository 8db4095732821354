"""Coverage and transition tables (areas in mu), and their writer.

:func:`coverage_table` turns :class:`~forestsink.coverage.counting.ClassAreas`
(m²) into one row per reported zone and year: forest, shrub forest, land,
water and excluded areas in mu (亩) and coverage in percent, with the change
between two years; :func:`transition_table` gives the area from class *a* to
class *b*. :class:`CoverageResult` holds everything one run computes and
:func:`write_coverage` writes it as a table (CSV, JSON, Excel) or a layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from forestsink.coverage.classes import COUNTS_AS, FOREST_KINDS, ClassScheme
from forestsink.coverage.counting import ClassAreas
from forestsink.coverage.rasters import RasterInfo
from forestsink.coverage.weights import ZoneWeights
from forestsink.coverage.zones import ZoneSet
from forestsink.errors import CoverageError
from forestsink.io import (
    LAYER_SUFFIXES,
    TABLE_SUFFIXES,
    write_layer,
    write_sheets,
    write_table,
)
from forestsink.units import M2_PER_MU


def _aggregate(membership: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Sum zone arrays (n_zones, ...) into report rows (n_rows, ...)."""
    flat = values.reshape(values.shape[0], -1)
    out = np.nan_to_num(membership) @ flat
    out[np.isnan(membership).any(axis=1)] = np.nan
    return out.reshape((membership.shape[0], *values.shape[1:]))


def _kind_sums(areas: np.ndarray, scheme: ClassScheme) -> dict[str, np.ndarray]:
    kinds = scheme.kinds()
    return {kind: areas[..., kinds == kind].sum(axis=-1) for kind in COUNTS_AS}


def coverage_table(
    areas: ClassAreas,
    zones: ZoneSet,
    scheme: ClassScheme,
    *,
    zone_area_m2: np.ndarray | None = None,
) -> pd.DataFrame:
    """Build the coverage table: one row per reported line and year.

    Parameters
    ----------
    areas : ClassAreas
        Areas per measured zone.
    zones : ZoneSet
        Report rows and how they aggregate the measured zones.
    scheme : ClassScheme
    zone_area_m2 : numpy.ndarray, optional (default: None)
        Ellipsoidal area of each measured polygon (adds ``zone_area_mu``).

    Returns
    -------
    pandas.DataFrame
        Identifier columns, then ``year``, ``land_area_mu``,
        ``forest_area_mu``, ``coverage_pct``; with two years also
        ``coverage_change_pp`` (later year − earlier, percentage points),
        ``forest_gain_mu`` and ``forest_loss_mu`` on the later year's rows;
        then ``shrub_forest_area_mu``, ``water_area_mu``, ``excluded_area_mu``
        (no data, excluded and unknown codes), ``measured_area_mu`` (all of
        the zone the raster covers) and ``zone_area_mu``.
    """
    rows = _aggregate(zones.membership, areas.per_year) / M2_PER_MU
    sums = _kind_sums(rows, scheme)
    forest = sums["forest"] + sums["shrub_forest"]
    land = forest + sums["land"]
    with np.errstate(invalid="ignore", divide="ignore"):
        pct = np.where(land > 0, 100.0 * forest / land, np.nan)
    frames = []
    gain = loss = None
    if areas.joint is not None:
        pair = _aggregate(zones.membership, areas.joint) / M2_PER_MU
        kinds = scheme.kinds()
        is_forest = np.isin(kinds, FOREST_KINDS)
        valid_other = np.isin(kinds, ("land", "water"))
        gain = pair[:, valid_other][:, :, is_forest].sum(axis=(1, 2))
        loss = pair[:, is_forest][:, :, valid_other].sum(axis=(1, 2))
    zone_mu = (
        _aggregate(zones.membership, zone_area_m2) / M2_PER_MU
        if zone_area_m2 is not None
        else None
    )
    for i, year in enumerate(areas.years):
        frame = zones.rows.copy()
        frame["year"] = year
        frame["land_area_mu"] = land[:, i]
        frame["forest_area_mu"] = forest[:, i]
        frame["coverage_pct"] = pct[:, i]
        if len(areas.years) == 2:
            later = i == 1
            frame["coverage_change_pp"] = pct[:, 1] - pct[:, 0] if later else np.nan
            if gain is not None:
                frame["forest_gain_mu"] = gain if later else np.nan
                frame["forest_loss_mu"] = loss if later else np.nan
        frame["shrub_forest_area_mu"] = sums["shrub_forest"][:, i]
        frame["water_area_mu"] = sums["water"][:, i]
        frame["excluded_area_mu"] = sums["excluded"][:, i]
        frame["measured_area_mu"] = rows[:, i].sum(axis=-1)
        if zone_mu is not None:
            frame["zone_area_mu"] = zone_mu
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    order = np.argsort(
        np.tile(np.arange(len(zones.rows)), len(areas.years)), kind="stable"
    )
    return table.iloc[order].reset_index(drop=True)


def transition_table(
    areas: ClassAreas, zones: ZoneSet, scheme: ClassScheme
) -> pd.DataFrame:
    """Build the class transition table (area in mu from class a to class b).

    Parameters
    ----------
    areas : ClassAreas
        With ``joint`` (two rasters).
    zones : ZoneSet
    scheme : ClassScheme

    Returns
    -------
    pandas.DataFrame
        Identifier columns, ``from_year``, ``to_year``, ``from_code``,
        ``from_name_zh``, ``from_name_en``, ``from_counts_as``, ``to_code``,
        ``to_name_zh``, ``to_name_en``, ``to_counts_as``, ``area_mu``; only
        pairs with area > 0; unchanged classes included (the diagonal).
        ``from_code``/``to_code`` are the raster codes as text, or ``nodata``
        / ``unknown``.
    """
    if areas.joint is None:
        raise CoverageError("a transition table needs two rasters.")
    pair = _aggregate(zones.membership, areas.joint) / M2_PER_MU
    codes, zh, en = scheme.labels()
    kinds = scheme.kinds()
    r, a, b = np.nonzero(np.nan_to_num(pair) > 0)
    frame = zones.rows.iloc[r].reset_index(drop=True)
    frame["from_year"] = areas.years[0]
    frame["to_year"] = areas.years[1]
    frame["from_code"] = np.asarray(codes, dtype=object)[a]
    frame["from_name_zh"] = np.asarray(zh, dtype=object)[a]
    frame["from_name_en"] = np.asarray(en, dtype=object)[a]
    frame["from_counts_as"] = kinds[a]
    frame["to_code"] = np.asarray(codes, dtype=object)[b]
    frame["to_name_zh"] = np.asarray(zh, dtype=object)[b]
    frame["to_name_en"] = np.asarray(en, dtype=object)[b]
    frame["to_counts_as"] = kinds[b]
    frame["area_mu"] = pair[r, a, b]
    return frame


@dataclass
class CoverageResult:
    """Everything ``forestsink coverage`` computes.

    Attributes
    ----------
    table : pandas.DataFrame
        See :func:`coverage_table`.
    transitions : pandas.DataFrame or None
        See :func:`transition_table` (two rasters).
    years : tuple of int
    scheme : ClassScheme
    zones : ZoneSet
    rasters : list of RasterInfo
    weights : ZoneWeights or None
        None with the dask engine (the weights stay on the workers).
    areas : ClassAreas
    messages : list of str
        What the computation decided or noticed (printed by the CLI).
    """

    table: pd.DataFrame
    transitions: pd.DataFrame | None
    years: tuple[int, ...]
    scheme: ClassScheme
    zones: ZoneSet
    rasters: list[RasterInfo]
    weights: ZoneWeights | None
    areas: ClassAreas
    messages: list[str] = field(default_factory=list)


def write_coverage(result: CoverageResult, out: str | Path) -> list[Path]:
    """Write the coverage table (and transitions) to *out*.

    Parameters
    ----------
    result : CoverageResult
    out : str or Path
        ``.csv``, ``.json``: the table; transitions (two years) go to
        ``<stem>_transitions<suffix>`` beside it. ``.xlsx``: sheets
        ``coverage``, ``transitions`` and ``classes``. ``.gpkg``/``.geojson``:
        the zones with their figures (one feature per zone and year; EPSG:4490
        for districts/units); transitions go to ``<stem>_transitions.csv``.

    Returns
    -------
    list of Path
        Files written (each atomically).
    """
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in TABLE_SUFFIXES + LAYER_SUFFIXES:
        raise CoverageError(
            f"{out}: unsupported output {suffix!r}; use .csv, .xlsx, .json, .gpkg or "
            ".geojson."
        )
    written = []
    if suffix == ".xlsx":
        sheets = {"coverage": result.table}
        if result.transitions is not None:
            sheets["transitions"] = result.transitions
        sheets["classes"] = result.scheme.table()
        return [write_sheets(sheets, out)]
    if suffix in LAYER_SUFFIXES:
        layer = result.zones.layer
        geom = layer.geometry.to_numpy()
        n = len(layer)
        index = np.tile(np.arange(n), len(result.years))
        index = np.sort(index, kind="stable")
        frame = gpd.GeoDataFrame(
            result.table.reset_index(drop=True),
            geometry=geom[index],
            crs=layer.crs,
        )
        written.append(write_layer(frame, out, layer="coverage"))
        side = out.with_name(f"{out.stem}_transitions.csv")
    else:
        written.append(write_table(result.table, out, sheet="coverage"))
        side = out.with_name(f"{out.stem}_transitions{suffix}")
    if result.transitions is not None:
        written.append(write_table(result.transitions, side, sheet="transitions"))
    return written
