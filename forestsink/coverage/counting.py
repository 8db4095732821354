"""Windowed counting: area per zone and class (and class pair) from rasters.

:func:`count_classes` reads the rasters in windows (one tile row high, about
2²⁰ pixels; only windows that hold zone pixels), gathers only the pixels
inside zones and accumulates ``area × fraction`` per zone and class, or per
zone and class pair for two years (the transition matrix), with
``numpy.bincount`` on up to :data:`MAX_THREADS` threads. Memory is bounded by
the window and the weights, not by the raster. Areas are in m² on the
ellipsoid (:class:`ClassAreas`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import rasterio

from forestsink.coverage.classes import ClassScheme
from forestsink.coverage.rasters import (
    RasterInfo,
    open_raster,
    raster_windows,
    read_window,
)
from forestsink.coverage.weights import ZoneWeights


@dataclass(frozen=True)
class ClassAreas:
    """Area of each class in each zone (m², ellipsoidal).

    Attributes
    ----------
    years : tuple of int
    per_year : numpy.ndarray
        Shape (n_zones, n_years, K), K = ``scheme.size``.
    joint : numpy.ndarray or None
        Shape (n_zones, K, K): area by (class in year 1, class in year 2);
        only for two rasters.
    unknown : tuple of dict
        Per raster: {code: pixels inside zones} for codes the table lacks.
    """

    years: tuple[int, ...]
    per_year: np.ndarray
    joint: np.ndarray | None
    unknown: tuple[dict[int, int], ...]


def _gather(flat_len, start, lengths, arange):
    """Flat indices of run pixels: start[i] .. start[i] + lengths[i]."""
    base = np.repeat(start - (np.cumsum(lengths) - lengths), lengths)
    base += arange[:flat_len]
    return base


def count_classes(
    rasters: Sequence[RasterInfo],
    weights: ZoneWeights,
    scheme: ClassScheme,
    *,
    years: Sequence[int] | None = None,
    joint: bool = True,
    progress: Callable[[int, int], None] | None = None,
    window_pixels: int = 1 << 20,
    threads: int | None = None,
) -> ClassAreas:
    """Read rasters window by window and sum area per zone and class.

    Parameters
    ----------
    rasters : sequence of RasterInfo
        One or more rasters on the weights' grid or on a grid aligned to it
        (same CRS, pixel size and alignment; other extents are read with
        no-data outside).
    weights : ZoneWeights
        From :func:`zone_weights` on ``rasters[0].grid``.
    scheme : ClassScheme
    years : sequence of int, optional (default: None)
        Labels of the rasters (default: 0, 1, ...).
    joint : bool, optional (default: True)
        With two rasters, also count class pairs (the transition matrix).
    progress : callable, optional (default: None)
        Called as ``progress(done, total)`` after each window.
    window_pixels : int, optional (default: 2**20)
        Pixels per window (rows are read whole between the leftmost and the
        rightmost zone pixel); bounds memory to about 40 bytes per pixel
        per thread.
    threads : int, optional (default: the CPUs, at most :data:`MAX_THREADS`)
        Row bands are shared out among this many threads, each with its own
        open rasters and sums (GDAL's decoding and numpy's gathers release
        the GIL); the sums are added at the end, so the result differs from
        one thread's only by floating-point rounding (relative 1e-12).

    Returns
    -------
    ClassAreas
    """
    grid = weights.grid
    block = (
        max(r.block_height for r in rasters),
        max(r.block_width or grid.width for r in rasters),
    )
    bands = list(raster_windows(grid, block, window_pixels))
    total = sum(len(chunks) for _r0, _r1, chunks in bands)
    n_threads = max(1, min(threads or os.cpu_count() or 1, MAX_THREADS, len(bands)))
    lock = threading.Lock()
    done = [0]

    def tick() -> None:
        if progress:
            with lock:
                done[0] += 1
                progress(done[0], total)

    def work(i: int):
        return _count_bands(
            rasters, weights, scheme, bands[i::n_threads], joint=joint, tick=tick
        )

    if n_threads == 1:
        parts = [work(0)]
    else:
        with ThreadPoolExecutor(n_threads, thread_name_prefix="count") as pool:
            parts = list(pool.map(work, range(n_threads)))
    per = sum(p[0] for p in parts)
    pair = None if parts[0][1] is None else sum(p[1] for p in parts)
    unknown: list[dict[int, int]] = [{} for _ in rasters]
    for _per, _pair, found in parts:
        for mine, theirs in zip(unknown, found, strict=True):
            for code, n in theirs.items():
                mine[code] = mine.get(code, 0) + n
    label = tuple(years) if years is not None else tuple(range(len(rasters)))
    return ClassAreas(label, per, pair, tuple(unknown))


#: Most threads :func:`count_classes` uses by default.
MAX_THREADS = 4


def _count_bands(rasters, weights, scheme, bands, *, joint, tick):
    """Count the windows of some row bands; return (per, pair, unknown).

    Opens its own datasets (a GDAL dataset is not safe to share between
    threads) and keeps its own sums.
    """
    offsets = [info.grid.offset_in(weights.grid) for info in rasters]
    k = scheme.size
    n_r = len(rasters)
    use_joint = joint and n_r == 2
    luts = [scheme.lut(info.nodata, max_code=info.max_code) for info in rasters]
    fills = [
        info.nodata if info.nodata is not None else scheme.codes[0] for info in rasters
    ]
    per = np.zeros((weights.n_zones, n_r, k))
    pair = np.zeros((weights.n_zones, k, k)) if use_joint else None
    unknown: list[dict[int, int]] = [{} for _ in rasters]
    state = {
        "arange": np.arange(0),
        "lookup": np.zeros(weights.n_zones, dtype=np.int64),
        "stride": k * k if use_joint else k,
    }
    with rasterio.Env(GDAL_CACHEMAX=64 * 1024 * 1024):
        sources = []
        try:
            for info in rasters:
                sources.append(open_raster(info.path))
            for r0, r1, chunks in bands:
                bounds = np.array([r0, r1], dtype=weights.row.dtype)
                a, b = np.searchsorted(weights.row, bounds)
                p, q = np.searchsorted(weights.p_row, bounds)
                band = _band_items(weights, a, b, p, q)
                for cw0, cw1 in chunks:
                    items = _chunk_items(band, cw0, cw1)
                    if items is not None:
                        c0, c1 = items["c0"], items["c1"]
                        data = [
                            read_window(src, info, off, r0, c0, r1 - r0, c1 - c0, fill)
                            for src, info, off, fill in zip(
                                sources, rasters, offsets, fills, strict=True
                            )
                        ]
                        _count_window(
                            [d.ravel() for d in data],
                            items,
                            r0,
                            state,
                            luts,
                            scheme,
                            per,
                            pair,
                            unknown,
                        )
                    tick()
        finally:
            for src in sources:
                src.close()
    return per, pair, unknown


def _band_items(weights: ZoneWeights, a: int, b: int, p: int, q: int) -> dict:
    """Return the runs and boundary pixels of one row band."""
    return {
        "row": weights.row[a:b],
        "col": weights.col[a:b].astype(np.int64),
        "end": weights.col[a:b].astype(np.int64) + weights.length[a:b],
        "zone": weights.zone[a:b],
        "area": weights.area[a:b],
        "p_row": weights.p_row[p:q],
        "p_col": weights.p_col[p:q],
        "p_zone": weights.p_zone[p:q],
        "p_weight": weights.p_weight[p:q],
    }


def _chunk_items(band: dict, cw0: int, cw1: int) -> dict | None:
    """Return runs clipped to columns [cw0, cw1) and the boundary pixels there."""
    sel = (band["col"] < cw1) & (band["end"] > cw0)
    psel = (band["p_col"] >= cw0) & (band["p_col"] < cw1)
    if not sel.any() and not psel.any():
        return None
    col = np.maximum(band["col"][sel], cw0)
    end = np.minimum(band["end"][sel], cw1)
    p_col = band["p_col"][psel]
    c0 = min(
        int(col.min()) if len(col) else cw1, int(p_col.min()) if len(p_col) else cw1
    )
    c1 = max(
        int(end.max()) if len(end) else cw0, int(p_col.max()) + 1 if len(p_col) else cw0
    )
    return {
        "c0": c0,
        "c1": c1,
        "row": band["row"][sel],
        "col": col,
        "length": end - col,
        "zone": band["zone"][sel],
        "area": band["area"][sel],
        "p_row": band["p_row"][psel],
        "p_col": p_col,
        "p_zone": band["p_zone"][psel],
        "p_weight": band["p_weight"][psel],
    }


def _count_window(data, items, r0, state, luts, scheme, per, pair, unknown) -> None:
    """Gather the zone pixels of one window and add their areas.

    Run pixels are counted per run piece without weights (one pixel area per
    piece), then each piece's counts are multiplied by its pixel area and
    added to its zone; boundary pixels carry their own weights.
    """
    c0, ww = items["c0"], items["c1"] - items["c0"]
    lengths = items["length"]
    n = int(lengths.sum())
    pieces = len(lengths)
    if len(state["arange"]) < max(n, pieces):
        state["arange"] = np.arange(
            max(n, pieces, 2 * len(state["arange"])), dtype=np.int64
        )
    lookup, stride = state["lookup"], state["stride"]
    zsub, zpart = items["zone"], items["p_zone"]
    present = np.unique(np.concatenate([zsub, zpart]))
    lookup[present] = np.arange(len(present))
    start = (items["row"].astype(np.int64) - r0) * ww + (items["col"] - c0)
    segments = [
        (
            _gather(n, start, lengths, state["arange"]),
            np.repeat(state["arange"][:pieces] * stride, lengths),
            (lookup[zsub], items["area"].astype(np.float64)),
        ),
        (
            (items["p_row"].astype(np.int64) - r0) * ww + (items["p_col"] - c0),
            lookup[zpart] * stride,
            items["p_weight"],
        ),
    ]
    for flat, base, w in segments:
        _accumulate(data, flat, base, w, present, luts, scheme, per, pair, unknown)


def _bincount(key, w, nz: int, stride: int) -> np.ndarray:
    """Return zone × key-stride sums of *w* (see :func:`_accumulate`)."""
    if not isinstance(w, tuple):
        return np.bincount(key, weights=w, minlength=nz * stride).reshape(nz, stride)
    zone, area = w
    counts = np.bincount(key, minlength=len(zone) * stride).reshape(len(zone), stride)
    cell = (zone.astype(np.int64) * stride)[:, None] + np.arange(stride)
    out = np.bincount(
        cell.ravel(), weights=(counts * area[:, None]).ravel(), minlength=nz * stride
    )
    return out.reshape(nz, stride)


def _accumulate(data, flat, base, w, present, luts, scheme, per, pair, unknown):
    """Add one window's areas to *per* (and *pair*).

    *data* holds each raster's window of codes (flat); *luts* map codes to
    class indices (gathered first, then looked up: ``take`` on the zone
    pixels only is several times faster than a lookup of the whole window).
    *base* is each pixel's group times the key stride (K, or K² for a
    transition count); the class (pair) index is added to it. The group is
    the local zone index when *w* holds a weight per pixel, or a run piece
    when *w* is ``(zone of each piece, pixel area of each piece)``.
    """
    if len(flat) == 0:
        return
    k = scheme.size
    nz = len(present)
    codes = [d.take(flat) for d in data]
    classes = [lut.take(c) for lut, c in zip(luts, codes, strict=True)]
    if pair is not None:
        base += classes[0].astype(np.int64) * k
        base += classes[1]
        counts = _bincount(base, w, nz, k * k).reshape(nz, k, k)
        pair[present] += counts
        per[present, 0, :] += counts.sum(axis=2)
        per[present, 1, :] += counts.sum(axis=1)
        found = [counts.sum(axis=2), counts.sum(axis=1)]
    else:
        found = []
        for i, cls in enumerate(classes):
            key = base + cls if i + 1 < len(classes) else np.add(base, cls, out=base)
            counts = _bincount(key, w, nz, k)
            per[present, i, :] += counts
            found.append(counts)
    for i, counts in enumerate(found):
        if counts[:, scheme.unknown_index].any():
            bad = codes[i][classes[i] == scheme.unknown_index]
            values, n = np.unique(bad, return_counts=True)
            for code, c in zip(values.tolist(), n.tolist(), strict=True):
                unknown[i][code] = unknown[i].get(code, 0) + c
