"""How many points each stratum gets, and the expected user's accuracies.

Pure computation (:func:`allocate`) and the reader of the expected user's
accuracy table (:func:`read_expected_accuracy`) used by
:func:`forestsink.sampling.design.design_sample`. May import
``forestsink.errors``, ``forestsink.io`` and ``forestsink.reference``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from forestsink.errors import SamplingError
from forestsink.io import read_table
from forestsink.reference import data_dir

__all__ = ["ALLOCATIONS", "allocate", "check_request", "read_expected_accuracy"]

ALLOCATIONS: tuple[str, ...] = ("proportional", "equal", "neyman")
"""Allocations :func:`allocate` knows."""


def _round_to(raw: np.ndarray, total: int) -> np.ndarray:
    """Integers summing to *total*, by largest remainder."""
    base = np.floor(raw).astype(np.int64)
    short = int(total - base.sum())
    if short > 0:
        order = np.argsort(-(raw - base), kind="stable")
        base[order[:short]] += 1
    return base


def allocate(
    area_ha: Sequence[float],
    n_pixels: Sequence[int],
    *,
    n: int,
    allocation: str = "proportional",
    users_accuracy: Sequence[float] | None = None,
    min_per_stratum: int = 0,
) -> np.ndarray:
    """Share *n* points among strata.

    Parameters
    ----------
    area_ha : sequence of float
        Mapped area of each stratum (ha).
    n_pixels : sequence of int
        Pixels of each stratum (a stratum never gets more points than pixels).
    n : int
        Points in all.
    allocation : str, optional (default: "proportional")
        ``proportional`` (n_h ∝ area), ``equal`` (n / H each) or ``neyman``
        (n_h ∝ area × √(U_h (1 − U_h)), U_h the expected user's accuracy;
        Cochran 1977 eq. 5.26).
    users_accuracy : sequence of float, optional (default: None)
        Expected user's accuracy per stratum (``neyman`` only).
    min_per_stratum : int, optional (default: 0)
        Every stratum gets at least this many points (or all its pixels); the
        others share what is left in the same way. When ``H × min`` exceeds
        *n*, every stratum gets the minimum and the total exceeds *n*.

    Returns
    -------
    numpy.ndarray of int64

    Examples
    --------
    >>> allocate([20.0, 30.0, 950.0], [10**6] * 3, n=100, min_per_stratum=10).tolist()
    [10, 10, 80]
    """
    area = np.asarray(area_ha, dtype=float)
    cap = np.asarray(n_pixels, dtype=np.int64)
    if allocation == "neyman":
        if users_accuracy is None:
            raise SamplingError(
                "Neyman 分配需要预期用户精度 / neyman needs users_accuracy."
            )
        u = np.asarray(users_accuracy, dtype=float)
        score = area * np.sqrt(u * (1.0 - u))
    elif allocation == "equal":
        score = np.ones_like(area)
    elif allocation == "proportional":
        score = area.copy()
    else:
        raise SamplingError(f"unknown allocation {allocation!r}; use {ALLOCATIONS}.")
    floor = np.minimum(min_per_stratum, cap)
    fixed = np.zeros(len(area), dtype=bool)
    out = np.zeros(len(area), dtype=np.int64)
    while True:
        free = ~fixed
        if not free.any():
            break
        left = n - int(out[fixed].sum())
        weights = score[free]
        total = float(weights.sum())
        raw = left * weights / total if left > 0 and total > 0 else 0.0 * weights
        out[free] = _round_to(raw, max(left, 0))
        bad = free & ((out < floor) | (out > cap))
        if not bad.any():
            break
        out[bad] = np.clip(out[bad], floor[bad], cap[bad])
        fixed |= bad
    return np.minimum(out, cap)


def read_expected_accuracy(path: str | Path | None) -> dict[str, float]:
    """Return expected user's accuracy per class (0–1).

    *path* (CSV/XLSX/JSON with ``class, users_accuracy``) overrides the
    shipped defaults (``data/sampling_expected_accuracy.csv``: the guesses of
    Olofsson et al. 2014, section 5.1.1).
    """
    out: dict[str, float] = {}
    sources = [data_dir() / "sampling_expected_accuracy.csv"]
    if path is not None:
        sources.append(Path(path))
    for source in sources:
        table = read_table(source, dtype=str)
        table.columns = [str(c).strip().lower() for c in table.columns]
        if not {"class", "users_accuracy"} <= set(table.columns):
            raise SamplingError(
                f"{source}：需要 class 与 users_accuracy 列。 / {source}: needs "
                "columns class and users_accuracy (0–1)."
            )
        for i, (name, value) in enumerate(
            zip(table["class"], table["users_accuracy"], strict=True)
        ):
            try:
                u = float(value)
            except ValueError:
                u = math.nan
            if not 0.0 < u < 1.0:
                raise SamplingError(
                    f"{source}：第 {i + 2} 行 users_accuracy {value!r} 不在 0 与 1 "
                    f"之间。 / {source}: row {i + 2}: users_accuracy {value!r} is not "
                    "between 0 and 1 (exclusive)."
                )
            out[str(name).strip()] = u
    return out


def check_request(
    maps: Sequence,
    *,
    n: int | None,
    target_se: float | None,
    allocation: str,
) -> None:
    """Refuse a request ``design_sample`` cannot serve, before reading.

    Parameters
    ----------
    maps : sequence
        The rasters (one or two).
    n : int or None
        Points in all.
    target_se : float or None
        Target standard error of overall accuracy.
    allocation : str
        One of :data:`ALLOCATIONS`.
    """
    if (n is None) == (target_se is None):
        raise SamplingError(
            "请给出 n 或 target_se 之一 / give either n (points) or "
            "target_se (standard error of overall accuracy), not both."
        )
    if len(maps) not in (1, 2):
        raise SamplingError("one or two maps / 一个或两个栅格")
    if allocation not in ALLOCATIONS:
        raise SamplingError(f"unknown allocation {allocation!r}; use {ALLOCATIONS}.")
