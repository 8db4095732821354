"""The sink model: sums of terms coefficient × product of uncertain inputs.

:func:`build_model` writes the stock-difference sink (IPCC 2006 Vol. 4
Eq. 2.8), the gain–loss sink (Eq. 2.7, with the conversion emission) and
each year's carbon stock as :class:`SinkModel` terms: a coefficient per
district and the city (t CO₂/yr or t C) times a product of inputs
(parameters and activity-error factors), so the central value, the Monte
Carlo draws and the IPCC Approach 1 all evaluate the same terms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forestsink.carbon.parameters import (
    AREA_ERROR_PCT,
    VOLUME_ERROR_PCT,
    Input,
    SinkParameters,
    activity_input,
)
from forestsink.progress.growth import CO2_PER_C
from forestsink.units import MU_PER_HA

STOCK_DIFFERENCE = "stock_difference"
GAIN_LOSS = "gain_loss"
METHODS = (STOCK_DIFFERENCE, GAIN_LOSS)


@dataclass
class _Term:
    """coeff (per district + city, last row) × Π factor(inputs)."""

    coeff: np.ndarray
    factors: tuple[tuple[str, str], ...]  # (key, transform: id | one_plus | clip0)


@dataclass
class SinkModel:
    """Terms of the stock-difference and gain–loss sinks (t CO₂/yr)."""

    adcodes: list[str]
    inputs: dict[str, Input]
    terms: dict[str, list[_Term]]  # method → terms (t CO₂/yr)
    stock: dict[int, list[_Term]]  # year → carbon stock terms (t C)
    conversion: list[_Term]  # t CO₂/yr emitted by conversion

    def evaluate(
        self, values: dict[str, np.ndarray], what: list[_Term], *, city_only=False
    ):
        """(districts + city) × m array of Σ terms (city only: 1 × m)."""
        m = max((len(v) for v in values.values()), default=1)
        out = np.zeros((1 if city_only else len(self.adcodes) + 1, m))
        for term in what:
            coeff = term.coeff[-1:] if city_only else term.coeff
            prod = np.ones(m)
            for key, how in term.factors:
                v = values[key]
                if how == "one_plus":
                    v = 1.0 + v
                elif how == "clip0":
                    v = np.clip(v, 0.0, None)
                prod = prod * v
            out += coeff[:, None] * prod[None, :]
        return out

    def central_values(self) -> dict[str, np.ndarray]:
        """Every input at its central value."""
        return {k: np.array([i.central()]) for k, i in self.inputs.items()}


def build_model(
    sums_from: pd.DataFrame,
    sums_to: pd.DataFrame,
    *,
    year_from: int,
    year_to: int,
    parameters: SinkParameters,
    conversion_mu: pd.Series | None = None,
    area_error_pct: float = AREA_ERROR_PCT,
    volume_error_pct: float = VOLUME_ERROR_PCT,
) -> SinkModel:
    """Terms of the city's and districts' sinks from two years' group sums.

    Parameters
    ----------
    sums_from, sums_to : DataFrame
        :func:`group_sums` of the two years.
    year_from, year_to : int
        The inventory years (t₁ < t₂).
    parameters : SinkParameters
        :func:`resolve_sink_parameters`.
    conversion_mu : Series, optional (default: none)
        Arbor-forest area converted to non-forest land per district (mu).
    area_error_pct, volume_error_pct : float
        Relative measurement errors (1σ, %) of each group's yearly totals.

    Returns
    -------
    SinkModel
        Terms in t CO₂/yr (sinks; positive = removal) and t C (stocks).
    """
    span = float(year_to - year_from)
    adcodes = sorted(set(sums_from["adcode"]) | set(sums_to["adcode"]))
    index = {a: i for i, a in enumerate(adcodes)}
    n = len(adcodes) + 1
    inputs: dict[str, Input] = {}
    stock: dict[int, list[_Term]] = {year_from: [], year_to: []}
    gl: list[_Term] = []
    conversion: list[_Term] = []
    by_group = parameters.by_group

    def vec(frame: pd.DataFrame, column: str) -> np.ndarray:
        out = np.zeros(n)
        for adcode, value in zip(frame["adcode"], frame[column], strict=True):
            out[index[adcode]] += value
        out[-1] = out[:-1].sum()
        return out

    def use(inp: Input) -> str:
        inputs[inp.key] = inp
        return inp.key

    arbor_from = sums_from[sums_from["category"] == "arbor"]
    area_arbor_from = vec(arbor_from, "area_ha")
    conv = np.zeros(n)
    if conversion_mu is not None:
        for adcode, mu in conversion_mu.items():
            if adcode in index:
                conv[index[adcode]] += mu / MU_PER_HA
        conv[-1] = conv[:-1].sum()
    share = np.divide(conv, area_arbor_from, out=np.zeros(n), where=area_arbor_from > 0)
    for year, frame in ((year_from, sums_from), (year_to, sums_to)):
        for (category, group), part in frame.groupby(["category", "group"]):
            if category in ("not_counted", "no_biomass"):
                continue
            parts = by_group.get(group, {})
            root = (
                ((use(parts["R"]), "one_plus"),)
                if parameters.roots_excluded and "R" in parts
                else ()
            )
            area_key = use(activity_input("area", year, group, area_error_pct))
            if category == "arbor":
                if any(k not in parts for k in ("a", "b", "CF")):
                    continue  # reported as missing; no number invented
                vol_key = use(activity_input("volume", year, group, volume_error_pct))
                a, b, cf = use(parts["a"]), use(parts["b"]), use(parts["CF"])
                w, area = vec(part, "volume_area_m3"), vec(part, "area_ha")
                t_w = _Term(
                    w, ((a, "id"), (cf, "id"), (area_key, "id"), (vol_key, "id"), *root)
                )
                t_a = _Term(area, ((b, "clip0"), (cf, "id"), (area_key, "id"), *root))
                stock[year] += [t_w, t_a]
                if year == year_from:
                    for t in (t_w, t_a):
                        conversion.append(
                            _Term(-t.coeff * share * CO2_PER_C / span, t.factors)
                        )
                if "GR" in parts and "CR" in parts:
                    half = w / 2.0 * CO2_PER_C  # mean stock of the two years
                    base = ((a, "id"), (cf, "id"), (area_key, "id"), (vol_key, "id"))
                    gl.append(_Term(half, (*base, (use(parts["GR"]), "id"), *root)))
                    gl.append(_Term(-half, (*base, (use(parts["CR"]), "id"), *root)))
            elif "biomass_t_ha" in parts and "CF" in parts:
                p, cf = use(parts["biomass_t_ha"]), use(parts["CF"])
                stock[year].append(
                    _Term(
                        vec(part, "area_ha"), ((p, "id"), (cf, "id"), (area_key, "id"))
                    )
                )
    sd_terms = [
        _Term(t.coeff * sign * CO2_PER_C / span, t.factors)
        for year, sign in ((year_to, 1.0), (year_from, -1.0))
        for t in stock[year]
    ]
    return SinkModel(
        adcodes=adcodes,
        inputs=inputs,
        terms={STOCK_DIFFERENCE: sd_terms, GAIN_LOSS: gl + conversion},
        stock=stock,
        conversion=conversion,
    )
