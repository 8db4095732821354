"""Design-based estimators for a stratified random sample of reference points.

Pure computation on arrays and frames: no files, no rasters.

One estimator serves both cases. Each stratum *h* has a mapped area
``A_h`` (ha) and ``n_h`` sampled points; a population total of a point
variable *y* is estimated by ``Ŷ = Σ_h A_h ȳ_h`` with variance
``V(Ŷ) = Σ_h A_h² s²_yh / n_h`` (``s²`` with ``n_h − 1`` degrees of freedom;
no finite-population correction: a map of 10⁶–10⁸ pixels is sampled at well
below 1 %), and a ratio ``R = Ŷ / X̂`` has the linearised variance
``V(R̂) = Σ_h A_h² s²_zh / n_h / X̂²`` with ``z = y − R̂ x``
(Stehman 2014, Int. J. Remote Sens. 35:4923, eqs. 2–3 and 25–28).

* Area of reference class *k*: ``y = 1[ref = k]`` (a total, in ha).
* Error matrix cell (*i*, *j*) as a share of the total area:
  ``y = 1[map = i and ref = j]``.
* Overall accuracy: ``y = 1[map = ref]``, divided by the total area.
* User's accuracy of *i*: ratio with ``y = 1[map = i and ref = i]``,
  ``x = 1[map = i]``; producer's accuracy of *j*: ``y`` the same diagonal
  indicator, ``x = 1[ref = j]``.

When the strata are the map classes these are exactly the estimators of
Olofsson et al. 2014 (Remote Sens. Environ. 148:42, eqs. 2–11): the ratio
variance of the user's accuracy reduces to ``U(1 − U)/(n_i − 1)`` and that of
the producer's accuracy to their eq. 7 (tested on the paper's section 5
example). When the strata are not the map classes (districts, or a map other
than the one assessed) this is Stehman's (2014) general stratified estimator.

Intervals of zero width
-----------------------
When every labelled point of each stratum has the same value of the
variable (all points of a district agree with the map, say), every ``s²``
is 0 and so is the variance: "± 0.0" would claim certainty that a few
points cannot give. Such an interval is flagged as not estimable
(:data:`NOT_ESTIMABLE`, the ``ci95_note`` column) and a conservative bound
is given instead (:meth:`AreaEstimate.zero_variance_bound`): in each stratum
the share of pixels whose value differs from the one all its ``n_h``
points show is at most the exact (Clopper & Pearson 1934, Biometrika
26:404) upper 97.5 % limit for 0 events in ``n_h`` trials,
``1 − 0.025^(1/n_h)`` (about ``3.7/n_h``; the "rule of three" ``3/n_h`` is
the one-sided 95 % version, Hanley & Lippman-Hand 1983, JAMA 249:1743),
and every stratum is put at that limit at once, towards the low end and
towards the high end of the variable. The bound is wider than a 95 %
interval would be; it says how little the sample rules out.

Units: areas in hectares (ha) as given in the strata table; proportions and
accuracies as fractions 0–1. The CRS does not enter: the strata areas are
ellipsoidal areas measured by the design (see :mod:`forestsink.sampling.design`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from forestsink.units import MU_PER_HA

__all__ = [
    "NOT_ESTIMABLE",
    "Z95",
    "AreaEstimate",
    "estimate_areas",
    "sample_size_eq13",
    "zero_event_upper",
]

#: Normal quantile of a two-sided 95 % interval, as Olofsson et al. use it.
Z95: float = 1.96
"""Normal quantile of a two-sided 95 % interval."""

#: The ``ci95_note`` of an interval of zero width (Chinese, then English).
NOT_ESTIMABLE: str = (
    "95% 区间不可估计：各层样点的判读全部相同（方差为 0），给出保守界"
    " / 95 % interval not estimable: every labelled point of each stratum "
    "has the same value (variance 0); a conservative bound is given"
)


def zero_event_upper(n, level: float = 0.95):
    """Upper limit of a proportion with no event in *n* trials (Clopper–Pearson).

    Parameters
    ----------
    n : int or array of int
        Trials (points of a stratum), ≥ 1.
    level : float, optional (default: 0.95)
        Two-sided confidence level; the upper limit is the one-sided
        ``1 − (1 − level)/2`` limit, ``1 − ((1 − level)/2)^(1/n)``.

    Returns
    -------
    float or numpy.ndarray
        Fraction 0–1.

    Examples
    --------
    Ten points, none misclassified: by hand 1 − 0.025^0.1 = 1 − 0.6915.

    >>> round(float(zero_event_upper(10)), 4)
    0.3085
    """
    return 1.0 - ((1.0 - level) / 2.0) ** (1.0 / np.asarray(n, dtype=float))


@dataclass(frozen=True)
class AreaEstimate:
    """Error-adjusted areas and accuracies from one stratified sample.

    Attributes
    ----------
    classes : list of str
        Class names; rows and columns of the matrices in this order.
    map_area_ha : numpy.ndarray
        Mapped area of each class (ha); exact when the strata are the map
        classes, otherwise estimated from the sample (see
        :attr:`map_area_estimated`).
    map_area_estimated : bool
        True when :attr:`map_area_ha` is a sample estimate.
    area_ha, area_se_ha : numpy.ndarray
        Error-adjusted (sample-based) area of each reference class and its
        standard error (ha).
    users, users_se, producers, producers_se : numpy.ndarray
        User's and producer's accuracy (0–1) and standard errors; NaN where
        undefined (a class never mapped, or never seen in the reference).
    overall, overall_se : float
        Overall accuracy (0–1) and its standard error.
    matrix : numpy.ndarray
        Estimated error matrix in area proportions, rows = map class,
        columns = reference class; sums to 1.
    counts : numpy.ndarray
        Sample counts, rows = map class, columns = reference class.
    total_area_ha : float
        Sum of the strata areas (ha).
    n_points : int
        Points used.
    area_cov_ha2 : numpy.ndarray
        Covariance matrix of the class areas (ha²), for sums and differences
        of classes (:meth:`combined_area`).
    z : float
        Normal quantile used for the intervals.
    """

    classes: list[str]
    map_area_ha: np.ndarray
    map_area_estimated: bool
    area_ha: np.ndarray
    area_se_ha: np.ndarray
    users: np.ndarray
    users_se: np.ndarray
    producers: np.ndarray
    producers_se: np.ndarray
    overall: float
    overall_se: float
    matrix: np.ndarray
    counts: np.ndarray
    total_area_ha: float
    n_points: int
    area_cov_ha2: np.ndarray | None = None
    z: float = Z95
    strata_area_ha: np.ndarray | None = None
    strata_n: np.ndarray | None = None
    strata_ref_counts: np.ndarray | None = None

    def zero_variance_bound(
        self, weights: dict[str, float], *, level: float = 0.95
    ) -> tuple[float, float] | None:
        """Return a conservative (low, high) bound (ha) of an area of zero SE.

        None unless every stratum's points all have the same value of
        ``y = Σ_k weights[k] · 1[ref = k]`` (so the standard error of
        :meth:`combined_area` is 0). Then each stratum's pixels of another
        value are at most the share :func:`zero_event_upper` of its ``n_h``
        points, and all strata at that share at once give
        ``[Â − Σ_h b_h A_h (y_h − y_min), Â + Σ_h b_h A_h (y_max − y_h)]``,
        ``y_min``, ``y_max`` the lowest and highest value any class (or a
        class outside *weights*, 0) can give.

        Parameters
        ----------
        weights : dict
            Class coefficients, as for :meth:`combined_area`.
        level : float, optional (default: 0.95)
            Level of each stratum's Clopper–Pearson limit (two-sided).

        Returns
        -------
        tuple of float or None
            Areas in ha.
        """
        counts = self.strata_ref_counts
        if counts is None:
            return None
        c = np.array([float(weights.get(k, 0.0)) for k in self.classes])
        seen = counts > 0
        lowest = np.where(seen, c[None, :], np.inf).min(axis=1)
        highest = np.where(seen, c[None, :], -np.inf).max(axis=1)
        if not np.array_equal(lowest, highest):
            return None
        y = lowest
        b = zero_event_upper(self.strata_n, level)
        a = self.strata_area_ha
        low_all, high_all = min(0.0, c.min()), max(0.0, c.max())
        estimate = float((a * y).sum())
        low = estimate - float((b * a * (y - low_all)).sum())
        high = estimate + float((b * a * (high_all - y)).sum())
        return low, high

    def overall_bound(self, *, level: float = 0.95) -> float | None:
        """Return a conservative lower bound of an overall accuracy of 1 with SE 0.

        None unless every labelled point agrees with its map class. Then each
        stratum's disagreeing pixels are at most :func:`zero_event_upper` of
        its ``n_h`` points, and all at once give ``1 − Σ_h W_h b_h`` (``W_h``
        the stratum's share of the area).

        Parameters
        ----------
        level : float, optional (default: 0.95)
            Level of each stratum's Clopper–Pearson limit (two-sided).

        Returns
        -------
        float or None
            Overall accuracy, a fraction.
        """
        if self.strata_n is None or self.overall_se > 0 or self.overall < 1.0:
            return None
        b = zero_event_upper(self.strata_n, level)
        weight = self.strata_area_ha / self.strata_area_ha.sum()
        return 1.0 - float((weight * b).sum())

    def combined_area(self, weights: dict[str, float]) -> tuple[float, float, float]:
        """Return (map area, sample-based area, its SE) of a sum of classes (ha).

        *weights* maps class names to coefficients: ``{"forest": 1}`` for
        forest, ``{"stable_forest": 1, "gain": 1}`` for forest in year 2,
        ``{"gain": 1, "loss": -1}`` for the net change. The standard error
        uses the covariances of the class areas (a sum's SE is not the sum
        of the SEs). Classes the sample does not have count 0.
        """
        c = np.array([float(weights.get(k, 0.0)) for k in self.classes])
        mapped = float(c @ self.map_area_ha)
        area = float(c @ self.area_ha)
        cov = self.area_cov_ha2
        if cov is None:
            cov = np.diag(self.area_se_ha**2)
        se = float(np.sqrt(max(c @ cov @ c, 0.0)))
        return mapped, area, se

    def table(self) -> pd.DataFrame:
        """Return one row per class (the contract's ``classes`` list).

        Columns ``class, map_area_ha, area_ha, area_ha_se, area_ha_ci95,
        users_accuracy(_se, _ci95), producers_accuracy(_se, _ci95)`` and the
        same areas in mu (``map_area_mu, area_mu, area_mu_ci95``); ``_ci95``
        is the half-width of the 95 % interval, in the unit of its column.
        ``ci95_note`` is :data:`NOT_ESTIMABLE` where one of the row's
        intervals has zero width, and ``area_ha_bound_low``,
        ``area_ha_bound_high`` then give the conservative bound of the area
        (:meth:`zero_variance_bound`; empty otherwise).
        """
        z = self.z
        tiny = 1e-12 * max(self.total_area_ha, 1.0)
        bounds = [
            self.zero_variance_bound({k: 1.0}) if se <= tiny else None
            for k, se in zip(self.classes, self.area_se_ha, strict=True)
        ]
        zero = (
            (self.area_se_ha <= tiny)
            | (np.nan_to_num(self.users_se, nan=1.0) <= 1e-12)
            | (np.nan_to_num(self.producers_se, nan=1.0) <= 1e-12)
        )
        table = pd.DataFrame(
            {
                "class": self.classes,
                "map_area_ha": self.map_area_ha,
                "area_ha": self.area_ha,
                "area_ha_se": self.area_se_ha,
                "area_ha_ci95": z * self.area_se_ha,
                "users_accuracy": self.users,
                "users_accuracy_se": self.users_se,
                "users_accuracy_ci95": z * self.users_se,
                "producers_accuracy": self.producers,
                "producers_accuracy_se": self.producers_se,
                "producers_accuracy_ci95": z * self.producers_se,
                "map_area_mu": self.map_area_ha * MU_PER_HA,
                "area_mu": self.area_ha * MU_PER_HA,
                "area_mu_ci95": z * self.area_se_ha * MU_PER_HA,
                "n_mapped": self.counts.sum(axis=1).astype(int),
                "n_reference": self.counts.sum(axis=0).astype(int),
            }
        )
        table["ci95_note"] = np.where(zero, NOT_ESTIMABLE, "")
        table["area_ha_bound_low"] = [np.nan if b is None else b[0] for b in bounds]
        table["area_ha_bound_high"] = [np.nan if b is None else b[1] for b in bounds]
        return table

    def matrix_table(self) -> pd.DataFrame:
        """Return the error matrix in area proportions (map rows, reference columns)."""
        frame = pd.DataFrame(self.matrix, columns=self.classes)
        frame.insert(0, "map_class", self.classes)
        frame["total"] = self.matrix.sum(axis=1)
        return frame

    def counts_table(self) -> pd.DataFrame:
        """Return the sample counts (map rows, reference columns)."""
        frame = pd.DataFrame(self.counts.astype(int), columns=self.classes)
        frame.insert(0, "map_class", self.classes)
        frame["total"] = frame[self.classes].sum(axis=1)
        return frame


class _Strata:
    """Per-stratum sums of many point variables at once."""

    def __init__(self, index: np.ndarray, area_ha: np.ndarray) -> None:
        self.index = index
        self.area = np.asarray(area_ha, dtype=np.float64)
        self.n = np.bincount(index, minlength=len(self.area)).astype(np.float64)
        self.onehot = np.zeros((len(index), len(self.area)))
        self.onehot[np.arange(len(index)), index] = 1.0

    def moments(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-stratum means and variances (ddof 1) of each column of *values*."""
        values = values.reshape(len(self.index), -1)
        n = self.n[:, None]
        sums = self.onehot.T @ values
        mean = sums / n
        dev = values - mean[self.index]
        var = (self.onehot.T @ (dev * dev)) / (n - 1.0)
        return mean, var

    def total(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Estimated totals (ha) of each column and their variances (ha²)."""
        mean, var = self.moments(values)
        a = self.area[:, None]
        total = (a * mean).sum(axis=0)
        variance = (a * a * var / self.n[:, None]).sum(axis=0)
        return total, variance

    def covariance(self, values: np.ndarray) -> np.ndarray:
        """Covariance matrix (ha²) of the estimated totals of the columns."""
        values = values.reshape(len(self.index), -1)
        mean, _ = self.moments(values)
        dev = values - mean[self.index]
        out = np.zeros((values.shape[1], values.shape[1]))
        for h in range(len(self.area)):
            rows = dev[self.index == h]
            if len(rows) > 1:
                scale = self.area[h] ** 2 / self.n[h] / (len(rows) - 1)
                out += scale * (rows.T @ rows)
        return out

    def ratio(self, y: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ratios Ŷ/X̂ column by column and their linearised standard errors."""
        ty, _ = self.total(y)
        tx, _ = self.total(x)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.where(tx > 0, ty / tx, np.nan)
        z = y - np.nan_to_num(r)[None, :] * x
        _, vz = self.total(z)
        with np.errstate(invalid="ignore", divide="ignore"):
            se = np.where(tx > 0, np.sqrt(np.maximum(vz, 0.0)) / tx, np.nan)
        return r, se


def estimate_areas(
    points: pd.DataFrame,
    strata: pd.DataFrame,
    *,
    classes: Sequence[str] | None = None,
    z: float = Z95,
) -> AreaEstimate:
    """Estimate areas and accuracies from a stratified random sample.

    Parameters
    ----------
    points : pandas.DataFrame
        One row per labelled point: ``stratum``, ``map_class``, ``ref_class``
        (text). Validated beforehand (every stratum known and holding at
        least two points; see :func:`forestsink.sampling.labels.check_labels`).
    strata : pandas.DataFrame
        ``stratum`` and ``area_ha`` (mapped area of the stratum, ha); an
        optional ``map_class`` column names the map class of a stratum that
        is one map class (then map areas are exact).
    classes : sequence of str, optional (default: None)
        Order of the classes; default: map classes in strata order, then
        reference classes no stratum maps, sorted.
    z : float, optional (default: :data:`Z95`)
        Normal quantile for the intervals.

    Returns
    -------
    AreaEstimate
        Areas in ha, accuracies as fractions.

    Notes
    -----
    CRS Notes: areas in ha as the design measured them (on the ellipsoid of
    the raster's geodetic CRS); the estimator itself reads no geometry.

    Examples
    --------
    Two strata, forest ``f`` (60 ha mapped) and non-forest ``n`` (40 ha),
    four points each, one of them wrong in each stratum. By hand
    (Olofsson et al. 2014, eqs. 4, 9–10): W = (0.6, 0.4); the matrix in
    area proportions is p_ff = 0.6 × 3/4 = 0.45, p_fn = 0.15, p_nf = 0.4 ×
    1/4 = 0.10, p_nn = 0.30; the forest area is (0.45 + 0.10) × 100 = 55 ha;
    overall accuracy 0.45 + 0.30 = 0.75 with variance
    0.6² × 0.75 × 0.25 / 3 + 0.4² × 0.75 × 0.25 / 3 = 0.0325 (SE 0.1803),
    and the forest area's SE is 100 × √0.0325 = 18.03 ha; the producer's
    accuracy of forest is 0.45 / 0.55 = 0.8182.

    >>> pts = pd.DataFrame({"stratum": ["f"] * 4 + ["n"] * 4,
    ...                     "map_class": ["f"] * 4 + ["n"] * 4,
    ...                     "ref_class": list("fffnnnnf")})
    >>> strata = pd.DataFrame({"stratum": ["f", "n"], "map_class": ["f", "n"],
    ...                        "area_ha": [60.0, 40.0]})
    >>> est = estimate_areas(pts, strata)
    >>> est.matrix.round(2).tolist()
    [[0.45, 0.15], [0.1, 0.3]]
    >>> est.area_ha.round(2).tolist(), est.area_se_ha.round(2).tolist()
    ([55.0, 45.0], [18.03, 18.03])
    >>> round(est.overall, 4), round(est.overall_se, 4)
    (0.75, 0.1803)
    >>> est.producers.round(4).tolist()
    [0.8182, 0.6667]
    """
    names = list(strata["stratum"].astype(str))
    where = {name: i for i, name in enumerate(names)}
    h = points["stratum"].astype(str).map(where).to_numpy()
    m = points["map_class"].astype(str).to_numpy()
    r = points["ref_class"].astype(str).to_numpy()
    classes = _class_order(strata, m, r) if classes is None else list(classes)
    k = len(classes)
    ci = {c: i for i, c in enumerate(classes)}
    mi = np.array([ci[c] for c in m])
    ri = np.array([ci[c] for c in r])
    design = _Strata(h.astype(np.int64), strata["area_ha"].to_numpy(dtype=float))
    n = len(points)

    map_ind = np.zeros((n, k))
    map_ind[np.arange(n), mi] = 1.0
    ref_ind = np.zeros((n, k))
    ref_ind[np.arange(n), ri] = 1.0
    diag = map_ind * ref_ind
    cell = np.zeros((n, k * k))
    cell[np.arange(n), mi * k + ri] = 1.0

    total_area = float(design.area.sum())
    area, area_var = design.total(ref_ind)
    cells, _ = design.total(cell)
    agree, agree_var = design.total(diag.sum(axis=1))
    users, users_se = design.ratio(diag, map_ind)
    producers, producers_se = design.ratio(diag, ref_ind)

    map_area, estimated = _map_areas(strata, design, classes, m, h, map_ind)
    counts = np.zeros((k, k))
    np.add.at(counts, (mi, ri), 1.0)
    return AreaEstimate(
        classes=classes,
        map_area_ha=map_area,
        map_area_estimated=estimated,
        area_ha=area,
        area_se_ha=np.sqrt(np.maximum(area_var, 0.0)),
        users=users,
        users_se=users_se,
        producers=producers,
        producers_se=producers_se,
        overall=float(agree[0] / total_area),
        overall_se=float(np.sqrt(max(agree_var[0], 0.0)) / total_area),
        matrix=(cells / total_area).reshape(k, k),
        counts=counts,
        total_area_ha=total_area,
        n_points=n,
        area_cov_ha2=design.covariance(ref_ind),
        z=z,
        strata_area_ha=design.area,
        strata_n=design.n,
        strata_ref_counts=design.onehot.T @ ref_ind,
    )


def _class_order(strata: pd.DataFrame, m: np.ndarray, r: np.ndarray) -> list[str]:
    """Return the default class order of :func:`estimate_areas`.

    The map classes in strata order, then the other map classes of the
    points *m* in order of appearance, then the reference classes *r* no
    stratum maps, sorted.
    """
    mapped = (
        list(dict.fromkeys(strata["map_class"].astype(str)))
        if "map_class" in strata.columns
        else []
    )
    mapped += [c for c in dict.fromkeys(m) if c not in mapped]
    return mapped + sorted(set(r) - set(mapped))


def _map_areas(
    strata: pd.DataFrame,
    design: _Strata,
    classes: list[str],
    m: np.ndarray,
    h: np.ndarray,
    map_ind: np.ndarray,
) -> tuple[np.ndarray, bool]:
    """Return the mapped area of each class (ha) and whether it is estimated.

    Exact when the strata name their map class (a ``map_class`` column, or
    strata named after the one map class of all their points); otherwise
    estimated from the sample's map classes *m* (points in strata *h*, as
    indicators *map_ind*).
    """
    names = list(strata["stratum"].astype(str))
    where = {name: i for i, name in enumerate(names)}
    if "map_class" in strata.columns:
        own = strata["map_class"].astype(str).to_numpy()
        map_area = np.array(
            [design.area[own == c].sum() for c in classes], dtype=np.float64
        )
        return map_area, False
    single = all(set(m[h == i]) <= {names[i]} for i in range(len(names))) and set(
        m
    ) <= set(names)
    if single:
        return np.array(
            [design.area[where[c]] if c in where else 0.0 for c in classes]
        ), False
    map_area, _ = design.total(map_ind)
    return map_area, True


def sample_size_eq13(
    weights: Sequence[float], users_accuracy: Sequence[float], target_se: float
) -> int:
    """Sample size for a target standard error of overall accuracy.

    Olofsson et al. 2014, eq. 13 (after Cochran 1977, eq. 5.25):
    ``n = (Σ_i W_i S_i / S(Ô))²`` with ``S_i = √(U_i (1 − U_i))``, where
    ``W_i`` is the mapped area share of stratum *i*, ``U_i`` its expected
    user's accuracy and ``S(Ô)`` the target standard error of the overall
    accuracy (a fraction, e.g. 0.01).

    Parameters
    ----------
    weights : sequence of float
        Mapped area (ha, or any one unit) or area share of each stratum;
        normalised to shares here.
    users_accuracy : sequence of float
        Expected user's accuracy of each stratum, fraction 0–1.
    target_se : float
        Target standard error of overall accuracy, fraction (> 0).

    Returns
    -------
    int
        Points in all, rounded up.

    Raises
    ------
    ValueError
        *target_se* is not a positive finite number.

    Notes
    -----
    No geometry and no CRS: shares only.

    Examples
    --------
    The paper's example (section 5.1.1: U = 0.6, 0.7, 0.9, 0.95; S(Ô) = 0.01)
    gives 641.3, which the paper prints as 641; it is rounded up here, so the
    target is met:

    >>> sample_size_eq13([0.02, 0.015, 0.32, 0.645], [0.6, 0.7, 0.9, 0.95], 0.01)
    642
    """
    w = np.asarray(weights, dtype=float)
    u = np.asarray(users_accuracy, dtype=float)
    if not (target_se > 0 and np.isfinite(target_se)):
        raise ValueError(f"target standard error must be > 0, got {target_se!r}")
    s = np.sqrt(u * (1.0 - u))
    return int(np.ceil(round((float((w / w.sum() * s).sum()) / target_se) ** 2, 9)))
