"""Carbon sink of the project polygons, with its uncertainty. Pure functions.

Method: the IPCC stock-change / biomass-expansion method as used in China's
provincial GHG inventory guideline::

    CO2 (t) = ΔV (m³) × D (t/m³) × BEF × (1 + R) × CF × 44/12

Where a Chinese biomass–volume function B = a·V + b (Fang et al.) is shipped
for a forest type, its slope a (``BVF``, t/m³) replaces D × BEF: for a stock
*change* the intercept cancels (ΔB = a·ΔV). Whether Fang's B includes roots
is not settled by the sources read so far; the evidence leans to "total stand
biomass" (see ``data/carbon_parameters_sources.md``), so by default (1 + R) is
**not** applied on top of BVF (``bvf_includes_roots=True``).

ΔV per polygon piece: the delivered stock volume where the type adds volume
and a value was delivered; otherwise area (ha) × growth (m³/ha/yr) ×
years of growth, where years = ``end_year - year`` (a polygon planted in 2013
has grown two years by the end of 2015). Types whose rule says they add no
stock volume (nurseries) contribute nothing; bamboo has no volume method and
is reported as "not estimated".

Parameters missing for a forest type are taken from its ``fallback`` type
(``data/forest_types.csv``), e.g. masson pine → other conifers → IPCC
default.

Uncertainty: Monte Carlo over every parameter whose source gives a spread
(normal: sd; uniform: low–high; triangular: low, value, high), seeded and
vectorised; parameters without a published spread are held fixed, so the
interval covers only the stated parametric uncertainty. The IPCC approach-1
figure (error propagation: relative standard deviations of a product add in
quadrature) is given beside it for comparison, at the same 90 % level.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forestsink.errors import ForestsinkError

CO2_PER_C = 44.0 / 12.0
"""Molecular-weight ratio CO₂ : C."""

Z90 = 1.6448536269514722
"""Two-sided 90 % normal quantile (5 % in each tail)."""


class CarbonParameterError(ForestsinkError, ValueError):
    """A forest type lacks the parameters the method needs."""


@dataclass(frozen=True)
class Param:
    """One parameter: central value and how it varies."""

    value: float
    distribution: str = ""
    low: float = float("nan")
    high: float = float("nan")
    sd: float = float("nan")

    def std(self) -> float:
        """Return the standard deviation implied (0 when fixed)."""
        if self.distribution == "normal" and np.isfinite(self.sd):
            return float(self.sd)
        if self.distribution == "uniform":
            return float((self.high - self.low) / np.sqrt(12.0))
        if self.distribution == "triangular":
            a, c, b = self.low, self.value, self.high
            return float(np.sqrt((a * a + b * b + c * c - a * b - a * c - b * c) / 18))
        return 0.0

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """*n* draws (a constant array when the parameter is fixed)."""
        if self.distribution == "normal" and np.isfinite(self.sd):
            return rng.normal(self.value, self.sd, n)
        if self.distribution == "uniform":
            return rng.uniform(self.low, self.high, n)
        if self.distribution == "triangular":
            return rng.triangular(self.low, self.value, self.high, n)
        return np.full(n, self.value)


def species_lookup(forest_types: pd.DataFrame) -> dict[str, str]:
    """Map species words (as delivered) to forest-type codes."""
    out: dict[str, str] = {}
    for code, words in zip(
        forest_types["forest_type"], forest_types["species_words"], strict=True
    ):
        for word in str(words).split("|"):
            if word.strip():
                out[word.strip().casefold()] = code
    return out


def classify_species(species: pd.Series, forest_types: pd.DataFrame) -> pd.Series:
    """Forest-type code for each species value; unknown or missing → ``mixed``.

    Exact word first, then the longest known word contained in the value.
    """
    lookup = species_lookup(forest_types)
    words = sorted(lookup, key=len, reverse=True)

    def one(value) -> str:
        if value is None or pd.isna(value) or not str(value).strip():
            return "mixed"
        text = str(value).strip().casefold()
        if text in lookup:
            return lookup[text]
        for word in words:
            if word in text:
                return lookup[word]
        return "mixed"

    uniques = species.dropna().unique()
    mapping = {u: one(u) for u in uniques}
    mapped = species.astype(object).map(mapping)
    return mapped.where(mapped.notna(), "mixed").astype(str)


def resolve_parameters(
    params: pd.DataFrame, forest_types: pd.DataFrame, *, bvf_includes_roots: bool
) -> dict[str, dict[str, Param]]:
    """Parameters per forest type after following the fallback chain.

    Returns
    -------
    dict
        forest type → {``factor`` parts: ``BVF`` or ``D`` and ``BEF``; ``R``
        when applied; ``CF``}. Bamboo and types without any factor are left
        out (their ΔV is reported as not estimated).
    """
    table: dict[str, dict[str, Param]] = {}
    for row in params.itertuples():
        table.setdefault(row.forest_type, {})[row.parameter] = Param(
            value=float(row.value),
            distribution=str(row.distribution or ""),
            low=float(row.low) if pd.notna(row.low) else float("nan"),
            high=float(row.high) if pd.notna(row.high) else float("nan"),
            sd=float(row.sd) if pd.notna(row.sd) else float("nan"),
        )
    fallback = dict(
        zip(forest_types["forest_type"], forest_types["fallback"], strict=True)
    )

    def find(code: str, name: str) -> Param | None:
        seen = set()
        while code and code not in seen:
            seen.add(code)
            if name in table.get(code, {}):
                return table[code][name]
            code = fallback.get(code) or ""
            if isinstance(code, float):  # NaN from an empty CSV cell
                code = ""
        return None

    out: dict[str, dict[str, Param]] = {}
    for code in forest_types["forest_type"]:
        chosen: dict[str, Param] = {}
        bvf = find(code, "BVF")
        d, bef = find(code, "D"), find(code, "BEF")
        r, cf = find(code, "R"), find(code, "CF")
        if bvf is not None:
            chosen["BVF"] = bvf
            if not bvf_includes_roots and r is not None:
                chosen["R"] = r
        elif d is not None and bef is not None and r is not None:
            chosen.update({"D": d, "BEF": bef, "R": r})
        else:
            continue
        if cf is None:
            continue
        chosen["CF"] = cf
        out[code] = chosen
    return out


def factor(parts: dict[str, Param]) -> float:
    """T CO₂ per m³ of stock increment for central parameter values."""
    value = CO2_PER_C
    for name, p in parts.items():
        value *= (1.0 + p.value) if name == "R" else p.value
    return value


def factor_draws(parts: dict[str, Param], rng: np.random.Generator, n: int):
    """*n* Monte Carlo draws of t CO₂ per m³."""
    out = np.full(n, CO2_PER_C)
    for name in sorted(parts):  # fixed order: same seed → same draws
        draws = parts[name].draw(rng, n)
        out *= (1.0 + draws) if name == "R" else draws
    return out


def factor_rel_sd(parts: dict[str, Param]) -> float:
    """IPCC approach 1: relative sd of a product = root-sum-square of parts."""
    total = 0.0
    for name, p in parts.items():
        centre = 1.0 + p.value if name == "R" else p.value
        total += (p.std() / centre) ** 2
    return float(np.sqrt(total))


def delta_volume(
    pieces: pd.DataFrame,
    *,
    types: pd.DataFrame,
    growth_m3_ha_yr: float | None,
    end_year: int,
) -> pd.Series:
    """Stock increment ΔV (m³) of each piece; NaN where it cannot be estimated.

    Delivered volume where present; otherwise area × growth × years of growth
    (``end_year - year``, at least 0) for types that add volume.
    """
    adds = types["adds_stock_volume"].reindex(pieces["project_type"]).fillna(False)
    adds = adds.to_numpy(dtype=bool)
    delivered = pd.to_numeric(pieces["stock_volume_m3"], errors="coerce").to_numpy()
    years = np.clip(end_year - pieces["year"].astype("float64").to_numpy(), 0, None)
    area_ha = pieces["gross_area_mu"].to_numpy(dtype="float64") / 15.0
    estimated = (
        area_ha * growth_m3_ha_yr * years if growth_m3_ha_yr is not None else np.nan
    )
    dv = np.where(np.isfinite(delivered), delivered, estimated)
    return pd.Series(np.where(adds, dv, 0.0), index=pieces.index)


def carbon_by_group(
    dv: pd.DataFrame,
    parameters: dict[str, dict[str, Param]],
    *,
    group: str,
    draws: int = 10_000,
    seed: int = 2012,
) -> pd.DataFrame:
    """CO₂ with Monte Carlo and IPCC approach-1 intervals per *group*.

    Parameters
    ----------
    dv : DataFrame
        Columns *group*, ``forest_type``, ``delta_v_m3`` (NaN = not estimated)
        and ``gross_area_mu``.
    parameters : dict
        From :func:`resolve_parameters`.
    group : str
        Column to aggregate by (``adcode`` ...); use a constant column for a
        city total.
    draws, seed : int
        Monte Carlo settings (same seed → same result).

    Returns
    -------
    pandas.DataFrame
        Per group: ``delta_v_m3``, ``co2_t_central`` (central parameters),
        ``co2_t`` (MC mean), ``co2_t_p05``, ``co2_t_p95``, ``co2_t_ipcc_low``,
        ``co2_t_ipcc_high``, ``area_not_estimated_mu``.
    """
    if draws < 1:
        raise CarbonParameterError("--draws must be at least 1.")
    rng = np.random.default_rng(seed)
    known = dv["forest_type"].isin(list(parameters)) & dv["delta_v_m3"].notna()
    usable = dv[known]
    sums = usable.pivot_table(
        index=group,
        columns="forest_type",
        values="delta_v_m3",
        aggfunc="sum",
        fill_value=0.0,
    )
    groups = sorted(set(dv[group]))
    sums = sums.reindex(groups, fill_value=0.0)
    codes = list(sums.columns)
    central = np.array([factor(parameters[c]) for c in codes])
    samples = (
        np.vstack([factor_draws(parameters[c], rng, draws) for c in codes])
        if (codes)
        else np.zeros((0, draws))
    )
    rel = np.array([factor_rel_sd(parameters[c]) for c in codes])
    matrix = sums.to_numpy()
    co2_draws = matrix @ samples  # groups × draws (parameters shared: correlated)
    co2_central = matrix @ central
    # approach 1: each type's product; types combined in quadrature
    sd_abs = (
        np.sqrt((matrix * central * rel) ** 2 @ np.ones(len(codes)))
        if codes
        else (np.zeros(len(groups)))
    )
    not_est = (
        dv[~known].groupby(group)["gross_area_mu"].sum().reindex(groups, fill_value=0.0)
    )
    out = pd.DataFrame(
        {
            group: groups,
            "delta_v_m3": matrix.sum(axis=1),
            "co2_t_central": co2_central,
            "co2_t": co2_draws.mean(axis=1) if codes else 0.0,
            "co2_t_p05": np.percentile(co2_draws, 5, axis=1) if codes else 0.0,
            "co2_t_p95": np.percentile(co2_draws, 95, axis=1) if codes else 0.0,
            "co2_t_ipcc_low": co2_central - Z90 * sd_abs,
            "co2_t_ipcc_high": co2_central + Z90 * sd_abs,
            "area_not_estimated_mu": not_est.to_numpy(),
        }
    )
    return out
