"""Monte Carlo, IPCC Approach 1 and the sensitivity of a sink.

Draws are seeded and taken in sorted input-key order (same seed, same draws,
same order); a parameter's draw is shared by every district and both years
of its group. The sensitivity is each input's one-at-a-time Monte Carlo
variance of the city sink, normalised to sum to 1; :func:`drivers` sums it by
input kind.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forestsink.carbon.model import SinkModel
from forestsink.carbon.parameters import Input
from forestsink.progress.growth import check_draws


def draw_inputs(
    inputs: dict[str, Input], *, draws: int, seed: int
) -> dict[str, np.ndarray]:
    """Seeded draws of every input, in sorted key order (same seed, same draws)."""
    rng = np.random.default_rng(seed)
    return {k: inputs[k].param.draw(rng, draws) for k in sorted(inputs)}


@dataclass
class SinkResult:
    """Per district and city: central, Monte Carlo and Approach-1 figures."""

    adcodes: list[str]
    central: np.ndarray
    mc: np.ndarray  # (districts + city) × draws
    ipcc_sd: np.ndarray
    sensitivity: pd.DataFrame


def simulate(
    model: SinkModel, method: str, *, draws: int = 10_000, seed: int = 2012
) -> SinkResult:
    """Monte Carlo, IPCC Approach 1 and the sensitivity of one method's sink.

    Returns
    -------
    SinkResult
        ``central`` (all inputs at their central values, t CO₂/yr), ``mc``
        (draws), ``ipcc_sd`` (first-order propagated sd: Σ over inputs of
        (∂S/∂x·σ)², exact per input because S is linear in each), and
        ``sensitivity`` of the city sink: ``input``, ``parameter``,
        ``forest_type``, ``variance_share`` (one-at-a-time MC variance,
        normalised to sum to 1), ``ipcc_share``, ``source_id``, ``origin``.
    """
    check_draws(draws)
    terms = model.terms[method]
    keys = sorted({k for t in terms for k, _ in t.factors})
    inputs = {k: model.inputs[k] for k in keys}
    values = draw_inputs(inputs, draws=draws, seed=seed)
    central_vals = {k: np.array([inputs[k].central()]) for k in keys}
    central = model.evaluate(central_vals, terms)[:, 0]
    mc = model.evaluate(values, terms) if keys else np.zeros((len(central), 1))
    rows = []
    contrib = np.zeros(len(central))
    for k in keys:
        inp = inputs[k]
        sd = inp.param.std()
        one = dict(central_vals)
        one[k] = values[k]
        var = (
            float(np.var(model.evaluate(one, terms, city_only=True)[0]))
            if sd > 0
            else 0.0
        )
        step = dict(central_vals)
        step[k] = np.array([inp.central() + sd])
        delta = model.evaluate(step, terms)[:, 0] - central if sd > 0 else 0 * central
        contrib += delta**2
        year = k.split("|")[1] if inp.parameter.endswith("_error") else ""
        rows.append(
            {
                "input": k,
                "parameter": inp.parameter,
                "year": year,
                "forest_type": inp.forest_type,
                "variance_t2": var,
                "ipcc_variance_t2": float(delta[-1] ** 2),
                "source_id": inp.source_id,
                "origin": inp.origin,
            }
        )
    sens = pd.DataFrame(rows)
    if len(sens):
        for col, share in (
            ("variance_t2", "variance_share"),
            ("ipcc_variance_t2", "ipcc_share"),
        ):
            total = sens[col].sum()
            sens[share] = sens[col] / total if total > 0 else 0.0
        sens = sens.sort_values("variance_share", ascending=False, ignore_index=True)
        first = ["input", "parameter", "year", "forest_type"]
        first += ["variance_share", "ipcc_share"]
        sens = sens[[*first, *[c for c in sens if c not in first]]]
    return SinkResult(
        adcodes=model.adcodes,
        central=central,
        mc=mc,
        ipcc_sd=np.sqrt(contrib),
        sensitivity=sens,
    )


#: how each input kind reads in the drivers sentence
_KIND_WORDS = {
    "a": ("生物量-蓄积函数斜率 a", "biomass–volume slope a"),
    "b": ("生物量-蓄积函数截距 b", "biomass–volume intercept b"),
    "CF": ("含碳率 CF", "carbon fraction CF"),
    "R": ("根茎比 R", "root–shoot ratio R"),
    "GR": ("生长率 GR", "gross growth rate GR"),
    "CR": ("消耗率 CR", "consumption rate CR"),
    "biomass_t_ha": ("单位面积生物量", "per-area biomass"),
    "area_error": ("面积测量误差", "area measurement error"),
    "volume_error": ("蓄积测量误差", "volume measurement error"),
}


def drivers(sensitivity: pd.DataFrame, top: int = 3) -> pd.DataFrame:
    """Variance shares summed by input kind (a, b, CF, area error …), largest first."""
    if sensitivity.empty:
        return pd.DataFrame(columns=["parameter", "variance_share", "zh", "en"])
    out = (
        sensitivity.groupby("parameter", as_index=False)["variance_share"]
        .sum()
        .sort_values("variance_share", ascending=False, ignore_index=True)
        .head(top)
    )
    out["zh"] = [_KIND_WORDS.get(p, (p, p))[0] for p in out["parameter"]]
    out["en"] = [_KIND_WORDS.get(p, (p, p))[1] for p in out["parameter"]]
    return out
