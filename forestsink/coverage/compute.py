""":func:`compute_coverage`, the entry point: rasters and zones in, tables out.

It reads the class table, inspects the rasters (one, or two on one grid),
reads the zones, computes the zone weights and counts the classes (locally,
or per row band on Dask, :mod:`forestsink.coverage.dask_counter`), checks
that the rasters cover the zones and that their codes are known (refused
above :data:`MAX_UNKNOWN_PCT` of the measured area, warned below), and
builds the tables. Areas in mu on the ellipsoid; coverage in percent.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from pyproj import Transformer

from forestsink.area import area_m2
from forestsink.coverage.classes import ClassScheme, preset_codes, read_class_scheme
from forestsink.coverage.counting import ClassAreas, count_classes
from forestsink.coverage.dask_counter import count_classes_dask
from forestsink.coverage.fractions import MAX_BAND_CELLS
from forestsink.coverage.rasters import (
    Grid,
    RasterInfo,
    crs_name,
    inspect_raster,
    year_from_name,
)
from forestsink.coverage.tables import CoverageResult, coverage_table, transition_table
from forestsink.coverage.weights import ZoneWeights, zone_weights
from forestsink.coverage.zones import ZoneSet, read_zones
from forestsink.errors import (
    CoverageError,
    NoOverlapError,
    OptionError,
    PartialOverlapWarning,
    UnknownClassError,
    UnknownClassWarning,
    WorkLimitError,
)

#: Default largest share (percent of the zones' measured area) of pixels whose
#: codes the class table does not list (see :func:`compute_coverage`).
MAX_UNKNOWN_PCT = 5.0


def _resolve_years(paths: Sequence[Path], years: Sequence[int] | None) -> tuple:
    if years is not None:
        years = tuple(int(y) for y in years)
        if len(years) != len(paths):
            raise CoverageError(
                f"{len(paths)} raster(s) but {len(years)} year(s) given; give one "
                "year per raster (years=[2010, 2015]).",
                option="years",
            )
    else:
        years = tuple(year_from_name(p) for p in paths)
    if len(paths) == 2 and years[0] == years[1]:
        raise CoverageError(f"both rasters are for {years[0]}; give two years.")
    return years


def _check_overlap(
    covered_m2: np.ndarray, inside_share: np.ndarray, info: RasterInfo, zones: ZoneSet
) -> list:
    messages = []
    if not np.any(covered_m2 > 0):
        xmin, ymin, xmax, ymax = info.grid.bounds
        to_ll = Transformer.from_crs(info.grid.crs, 4326, always_xy=True)
        w, s, e, n = to_ll.transform_bounds(xmin, ymin, xmax, ymax)
        what = (
            "Chongqing's districts"
            if zones.kind in ("districts", "units")
            else "any zone"
        )
        raise NoOverlapError(
            f"{info.path}: the raster ({crs_name(info.grid.crs)}, lon {w:.3f}–{e:.3f},"
            f" lat {s:.3f}–{n:.3f}) does not overlap {what}. Check that the raster "
            "is the right file and that its CRS is right (the crs parameter "
            "overrides it).",
            option="crs",
        )
    short = inside_share < 0.999
    if short.any():
        ids = zones.geoms.index[short]
        if "adcode" in zones.geoms.columns:
            labels = zones.geoms.loc[ids, "adcode"].astype(str).tolist()
        elif zones.kind == "file":  # the zone ids the user knows
            zone_ids = zones.rows.loc[zones.rows["level"] == "zone", "zone_id"]
            labels = zone_ids.to_numpy()[short].tolist()
        else:
            labels = [str(i + 1) for i in np.flatnonzero(short)]
        shares = inside_share[short]
        listed = ", ".join(
            f"{lab} ({100 * s:.1f}%)"
            for lab, s in list(zip(labels, shares, strict=True))[:10]
        )
        more = "" if short.sum() <= 10 else f" and {int(short.sum()) - 10} more"
        text = (
            f"{int(short.sum())} zone(s) extend beyond the raster (share of area "
            f"inside): {listed}{more}; their figures cover only that part."
        )
        warnings.warn(text, PartialOverlapWarning, stacklevel=3)
        messages.append(text)
    return messages


def _inside_share(geoms, covered_m2: np.ndarray, grid: Grid) -> np.ndarray:
    """Share of each zone's ellipsoidal area that the raster covers."""
    total = np.asarray(area_m2(geoms), dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, np.minimum(covered_m2 / total, 1.0), 0.0)


def _check_unknown(
    areas: ClassAreas, rasters, scheme: ClassScheme, *, max_unknown_pct: float
) -> list[str]:
    """Refuse rasters whose unknown codes exceed *max_unknown_pct*; else warn.

    The share is the area of pixels with codes the class table does not list
    over the zones' measured area (every pixel of the zones the raster
    covers, no data included), in percent; a code's own share is the total
    share split by its pixel count.
    """
    if not (math.isfinite(max_unknown_pct) and max_unknown_pct >= 0):
        # NaN would make every comparison false: the check would be off
        raise OptionError(
            f"max_unknown_pct={max_unknown_pct!r}: give a finite percent ≥ 0 / "
            "请给出有限的百分比。"
        )
    messages = []
    presets = preset_codes()
    for i, (info, found) in enumerate(zip(rasters, areas.unknown, strict=True)):
        if not found:
            continue
        per = np.nan_to_num(areas.per_year[:, i, :]).sum(axis=0)
        total = float(per.sum())
        share = 100.0 * float(per[scheme.unknown_index]) / total if total else 0.0
        pixels = sum(found.values())
        listed = ", ".join(
            f"{c} ({share * n / pixels:.1f}%, {n:,} px)"
            for c, n in sorted(found.items())
        )
        present = {int(c) for c in found} | {
            code for code, a in zip(scheme.codes, per[: scheme.n], strict=True) if a > 0
        }
        fits = [p for p, codes in presets.items() if present <= codes]
        fit_zh = "、".join(fits) if fits else "无"
        fit_en = ", ".join(fits) if fits else "none of " + ", ".join(presets)
        if share > max_unknown_pct:
            raise UnknownClassError(
                f"{info.path}: 区域内 {share:.1f}% 的像元是 {scheme.product} 地类表中"
                f"没有的代码（上限 {max_unknown_pct:g}%）：{listed}。可能选错了 "
                f"产品 product；能对上所有代码的预设：{fit_zh}。请改用正确的 product，"
                "或用 classes 给出本产品的地类表文件（code, counts_as）；"
                "若这些像元确实应排除，可提高 max_unknown_pct。 / "
                f"{info.path}: {share:.1f}% of the zone pixels hold codes the "
                f"{scheme.product} class table does not list (limit "
                f"{max_unknown_pct:g}%): {listed}. Wrong product? Presets whose "
                f"class table lists every code found: {fit_en}. Pass the right "
                "product, or your product's class table as classes=FILE "
                "(code, counts_as); if these pixels really are to be left out, "
                "raise max_unknown_pct.",
                option=("product", "classes", "max_unknown_pct"),
            )
        text = (
            f"{info.path.name}: {share:.1f}% 的像元是地类表中没有的代码，按排除计"
            f"（非土地、非森林）/ {share:.1f}% of the zone pixels hold class "
            f"code(s) not in the {scheme.product} class table, counted as excluded "
            f"(not land, not forest): {listed}. Wrong product? Otherwise add "
            "them to a class table file (classes)."
        )
        warnings.warn(
            UnknownClassWarning(text, option=("product", "classes")), stacklevel=3
        )
        messages.append(text)
    return messages


def compute_coverage(
    rasters: str | Path | Sequence[str | Path],
    *,
    product: str = "clcd",
    classes: str | Path | None = None,
    zones: str | Path | ZoneSet = "districts",
    years: Sequence[int] | None = None,
    crs=None,
    water_in_land: bool = False,
    zone_id: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    engine: str = "local",
    scheduler: str | None = None,
    partitions: int | None = None,
    max_unknown_pct: float = MAX_UNKNOWN_PCT,
    band: int | None = None,
    max_cells: int | None = MAX_BAND_CELLS,
) -> CoverageResult:
    """Forest coverage per zone for one or two years, and its change.

    Parameters
    ----------
    rasters : str, Path or sequence of str or Path
        One land-cover raster (GeoTIFF ...), or a sequence of one or two, any
        CRS. Two rasters must share CRS, pixel size and pixel alignment
        (extents may differ).
    product : str, optional (default: "clcd")
        Class preset (:data:`PRODUCTS`).
    classes : str or Path, optional (default: None)
        Class table overriding the preset (see :func:`read_class_scheme`).
    zones : str, Path or ZoneSet, optional (default: "districts")
        ``districts``, ``units``, a polygon file, or a :class:`ZoneSet`.
    years : sequence of int, optional (default: None)
        Year of each raster; default: the 4-digit year in each file name.
    crs : optional (default: None)
        CRS to use instead of the rasters' own (needed when they carry none).
    water_in_land : bool, optional (default: False)
        Count water in the land area (denominator).
    zone_id : str, optional (default: None)
        Identifier column of a zone file.
    progress : callable, optional (default: None)
        ``progress(done, total)`` per window read (per row band with dask).
    engine : {"local", "dask"}, optional (default: "local")
        ``dask``: weights and counts per row band on ``dask.distributed``
        workers (:mod:`forestsink.coverage.dask_counter`); same results to 1e-6.
    scheduler : str, optional (default: None)
        Dask scheduler address; default a ``LocalCluster`` on this machine.
    partitions : int, optional (default: 4 per worker)
        Row bands (tasks) for the dask engine.
    max_unknown_pct : float, optional (default: :data:`MAX_UNKNOWN_PCT`, 5)
        Largest share (percent of the zones' measured area) of pixels whose
        codes the class table does not list; above it the raster is refused
        (a wrong ``product``), below it they are excluded with a warning.
    band : int, optional (default: None, band 1)
        Band of the rasters holding the class codes (1-based); see
        :func:`inspect_raster` (several bands and no *band*: band 1, with a
        :class:`~forestsink.errors.RasterWarning`).
    max_cells : int or None, optional (default: :data:`MAX_BAND_CELLS`)
        Most work cells of the zone weights (boundary-band pixels plus zone
        rows, about :data:`BYTES_PER_CELL` bytes each); checked from the
        zones' boundary length in pixels before anything is allocated.

    Returns
    -------
    CoverageResult
        Areas in mu (亩) on the ellipsoid; coverage in percent.

    Raises
    ------
    CRSError
        A raster has no usable CRS.
    NoOverlapError
        The raster does not overlap the zones.
    GridMismatchError
        Two rasters on non-aligned grids.
    UnknownClassError
        More than *max_unknown_pct* of the zones holds unlisted codes.
    RasterFileError
        A raster is not a raster, truncated or damaged, or not georeferenced.
    WorkLimitError
        The zone weights would need more than *max_cells* work cells.
    CoverageError
        Any other unusable input.
    """
    paths = _raster_paths(rasters)
    scheme = read_class_scheme(product, classes, water_in_land=water_in_land)
    infos, label = _inspect_rasters(paths, years=years, crs=crs, band=band)
    zone_set = (
        zones if isinstance(zones, ZoneSet) else read_zones(zones, id_column=zone_id)
    )
    if engine not in ("local", "dask"):
        raise CoverageError(f"engine {engine!r}: use 'local' or 'dask'.")
    weights, areas, messages = _measure(
        infos,
        zone_set,
        scheme,
        label,
        engine=engine,
        scheduler=scheduler,
        partitions=partitions,
        progress=progress,
        max_cells=max_cells,
    )
    messages += _check_unknown(areas, infos, scheme, max_unknown_pct=max_unknown_pct)
    table = coverage_table(
        areas, zone_set, scheme, zone_area_m2=area_m2(zone_set.geoms)
    )
    transitions = transition_table(areas, zone_set, scheme) if len(infos) == 2 else None
    return CoverageResult(
        table=table,
        transitions=transitions,
        years=label,
        scheme=scheme,
        zones=zone_set,
        rasters=infos,
        weights=weights,
        areas=areas,
        messages=messages,
    )


def _raster_paths(rasters: str | Path | Sequence[str | Path]) -> list[Path]:
    """Return the paths of one raster or a sequence of one or two."""
    if isinstance(rasters, str | os.PathLike):
        rasters = [rasters]
    paths = [Path(p) for p in rasters]
    if not 1 <= len(paths) <= 2:
        raise CoverageError("give one raster, or two for the change between years.")
    return paths


def _inspect_rasters(
    paths: list[Path], *, years, crs, band
) -> tuple[list[RasterInfo], tuple]:
    """Inspect one or two rasters and label them with their years.

    Two rasters must lie on one grid (:meth:`Grid.offset_in` refuses them
    otherwise). *years*, *crs* and *band* as for :func:`compute_coverage`.

    Returns
    -------
    tuple
        ``(raster infos, years)``.
    """
    infos = [inspect_raster(p, crs=crs, band=band) for p in paths]
    label = _resolve_years(paths, years)
    if len(infos) == 2:
        infos[1].grid.offset_in(infos[0].grid)
    return infos, label


def _measure(
    infos: list[RasterInfo],
    zone_set: ZoneSet,
    scheme: ClassScheme,
    label: Sequence[int],
    *,
    engine: str,
    scheduler: str | None,
    partitions: int | None,
    progress: Callable[[int, int], None] | None,
    max_cells: int | None,
) -> tuple[ZoneWeights | None, ClassAreas, list[str]]:
    """Zone weights and class areas on the chosen engine, and overlap messages.

    The ``local`` engine computes the zone weights once on the first
    raster's grid and counts every raster with them; ``dask`` does both per
    row band on workers (no weights are returned). A work limit or memory
    failure becomes :class:`WorkLimitError` naming the raster.

    Returns
    -------
    tuple
        ``(weights or None, areas in m² on the ellipsoid, messages)``.
    """
    try:
        if engine == "local":
            weights = zone_weights(zone_set.geoms, infos[0].grid, max_cells=max_cells)
        else:
            weights = None
            areas, covered, _pixels = count_classes_dask(
                infos,
                zone_set.geoms,
                scheme,
                years=label,
                partitions=partitions,
                scheduler=scheduler,
                progress=progress,
                max_cells=max_cells,
            )
    except WorkLimitError as err:
        raise WorkLimitError(
            f"{infos[0].path.name}: {err}", option=err.options
        ) from err
    except MemoryError as err:  # the limit was raised past this machine's memory
        raise _out_of_memory(infos[0].path.name, err) from err
    if weights is not None:
        messages = _check_overlap(
            weights.covered_m2, weights.inside_share, infos[0], zone_set
        )
        areas = count_classes(infos, weights, scheme, years=label, progress=progress)
    else:
        messages = _check_overlap(
            covered,
            _inside_share(zone_set.geoms, covered, infos[0].grid),
            infos[0],
            zone_set,
        )
    return weights, areas, messages


def _out_of_memory(name: str, err: MemoryError) -> WorkLimitError:
    """Build the refusal when the weights ran out of memory (limit raised)."""
    return WorkLimitError(
        f"{name}: 计算区县边界像元时内存不足（{err or 'MemoryError'}）；请用更粗"
        "的栅格或更少的区域，或把 max_cells 调回默认值，让超限的"
        f"栅格在分配前被拒绝。 / {name}: out of memory while computing the exact "
        f"boundary pixels ({err or 'MemoryError'}); use a coarser raster or fewer "
        "zones, or leave max_cells at its default so that such a "
        "raster is refused before memory is allocated.",
        option="max_cells",
    )
