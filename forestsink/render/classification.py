"""Class breaks of the static choropleths (Fisher–Jenks via mapclassify).

:func:`class_breaks` forms the classes, :func:`display_breaks` rounds them to
edges that can be printed in the legend as they are, and :func:`classify`
puts each value in its class. Pure functions of arrays; no drawing.

Layers: imports only :mod:`forestsink.errors`, numpy and mapclassify.
"""

from __future__ import annotations

import math
import warnings

import mapclassify
import numpy as np

from forestsink.errors import MapError, OptionError

__all__ = ["class_breaks", "classify", "display_breaks", "format_edge"]


def _fisher_jenks(x: np.ndarray, k: int) -> np.ndarray:
    """Optimal breaks (Fisher–Jenks, mapclassify) of sorted *x* into *k* classes.

    Returns the edges ``[x[0], upper bound of class 1, ..., x[-1]]``.
    """
    with warnings.catch_warnings():
        # (its pure-Python path without numba: ample for the districts)
        warnings.filterwarnings("ignore", "Numba not installed", UserWarning)
        bins = mapclassify.FisherJenks(x, k=k).bins
    return np.array([x[0], *bins], dtype=float)


def class_breaks(values, *, k: int = 5, method: str = "natural_breaks") -> np.ndarray:
    """Return class edges for a choropleth, from the minimum to the maximum.

    Parameters
    ----------
    values : array-like of float
        The values to class; NaN is ignored.
    k : int, optional (default: 5)
        Number of classes wanted; fewer when there are fewer distinct values.
    method : {"natural_breaks", "quantiles"}, optional (default: "natural_breaks")
        ``natural_breaks`` minimises the spread within classes (Fisher–Jenks,
        exact); ``quantiles`` puts about as many values in each class.

    Returns
    -------
    numpy.ndarray
        Increasing edges ``e[0] = min`` … ``e[-1] = max``; class *i* holds the
        values ``e[i] < v <= e[i + 1]`` (the first class also holds ``e[0]``).

    Examples
    --------
    >>> class_breaks([1, 2, 3, 10, 11, 12], k=2).tolist()
    [1.0, 3.0, 12.0]
    """
    x = np.asarray(values, dtype=float)
    x = np.sort(x[np.isfinite(x)])
    if x.size == 0:
        raise MapError("class_breaks: no finite values to class.")
    distinct = np.unique(x)
    k = max(1, min(int(k), distinct.size))
    if k == 1:
        return np.array([x[0], x[-1]], dtype=float)
    if method == "quantiles":
        edges = np.quantile(x, np.linspace(0, 1, k + 1))
    elif method == "natural_breaks":
        sample = x if x.size <= 1000 else np.quantile(x, np.linspace(0, 1, 1000))
        edges = _fisher_jenks(sample, k)
    else:
        raise OptionError(
            f"class_breaks: unknown method {method!r}; use 'natural_breaks' or "
            "'quantiles'."
        )
    edges[0], edges[-1] = x[0], x[-1]
    return np.unique(edges)


def display_breaks(
    values: np.ndarray, divisor: float, *, k: int, method: str
) -> tuple[np.ndarray, int]:
    """Return class edges in display units, rounded so the labels are the edges.

    The values (e.g. mu) are divided by *divisor* (e.g. 10,000 for 万亩)
    and classed with :func:`class_breaks` (*k* classes, *method*). Inner
    edges are rounded to about two significant digits of the range; the
    outer edges are rounded outwards, so every value lies inside the classes.
    Returns the edges and the number of decimals to print.
    """
    shown = values / divisor
    edges = class_breaks(shown, k=k, method=method)
    lo, hi = float(edges[0]), float(edges[-1])
    span = hi - lo if hi > lo else max(abs(hi), 1.0)
    decimals = max(0, 1 - math.floor(math.log10(span)))
    step = 10.0**-decimals
    inner = [round(e, decimals) for e in edges[1:-1]]
    lo_r = math.floor(lo / step + 1e-9) * step
    hi_r = math.ceil(hi / step - 1e-9) * step
    if hi_r <= lo_r:
        hi_r = lo_r + step
    out = [lo_r]
    for e in inner:
        if out[-1] < e < hi_r:
            out.append(e)
    out.append(hi_r)
    return np.round(np.array(out), decimals), decimals


def classify(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Return the class index of each value (-1 for NaN): ``e[i] < v <= e[i+1]``.

    Values below the first edge go to the first class, above the last edge
    to the last class.
    """
    idx = np.searchsorted(edges, values, side="left") - 1
    idx = np.clip(idx, 0, len(edges) - 2)
    return np.where(np.isfinite(values), idx, -1)


def format_edge(value: float, decimals: int) -> str:
    """Return a class edge as the legend prints it (``1,234.5``)."""
    return f"{value:,.{decimals}f}"
