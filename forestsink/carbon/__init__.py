"""The whole forest's carbon sink between two inventory years (issue #22).

Two routes, per district and for the city, from the forest-resource layers
(一张图) the store holds:

**Stock difference** (IPCC 2006 Vol. 4 Eq. 2.8)
    ΔC = (C₂ − C₁)/(t₂ − t₁), sink = ΔC × 44/12 (t CO₂/yr). The carbon stock
    of a year, C (t C), sums over species groups g of the arbor forest
    (乔木林) the biomass of the per-hectare biomass–volume function
    B = a_g·V + b_g (B t/ha, V m³/ha; 李银 et al. 2016 Table 1,
    ``data/biomass_volume.csv``) applied to each 小班::

        C = Σ_g [a_g·Σ(area·V) + b_g·Σ area] × (1 + R, only if B excludes
            roots) × CF_g

    Because B is linear in V, Σ over the 小班 of a group needs only the two
    sums the store aggregates in SQL (area in ha, Σ area·V in m³), so the
    computation never touches a 小班. Bamboo (竹林) and state-specified shrub
    (特灌) enter by area × a per-area biomass (t/ha) only when a
    ``biomass_t_ha`` row is supplied (none is shipped: no checkable source
    was found); otherwise their area is listed as not counted. Sparse forest,
    scattered and 四旁 trees are not counted (listed). Forest converted to
    another land class leaves C₂ and so appears as a loss.

    **Sign convention:** positive = removal from the atmosphere (a sink);
    negative = a net emission.

**Gain–loss** (the provincial guideline's route, IPCC Eq. 2.7)
    When gross growth and consumption rates GR and CR (1/yr, by species
    group) are supplied with ``--params``: gains − losses =
    Σ_g a_g·V̄_g·(GR_g − CR_g) × (1 + R?) × CF_g, V̄ the mean of the two
    years' standing stock (m³), minus the emission of arbor forest converted
    to non-forest land (area recorded with a previous class, Q_DI_LEI, in the
    later layer × the district's arbor carbon density of the first year,
    spread over the period). Without GR/CR the rows say not estimable and
    which parameters are missing.

Roots: whether Fang's B includes roots is disputed
(``data/carbon_parameters_sources.md``). Default: B is read as **total**
stand biomass (roots included, the weight of Fang's own wording), flagged;
``roots_excluded=True`` applies (1 + R). Every row also gives the central
figure under the other reading (``co2_t_per_yr_other_roots``).

Uncertainty
    Monte Carlo (seeded, default 10,000 draws) over every input: a (OLS
    slope standard error implied by the published n and R²), b (spread
    between candidate functions), CF, R, per-area values, GR/CR, and the
    activity data: area and volume of each group's total, as relative
    measurement errors (1σ, defaults :data:`AREA_ERROR_PCT` and
    :data:`VOLUME_ERROR_PCT`, project assumptions: no published precision
    of Chongqing's 一张图 was found). **Correlations:** a parameter draw is
    the same for every 小班 and district of a group and for both years;
    groups that take a value from the same published figure share one draw;
    the activity errors are one draw per year and group (shared by its
    小班 and districts), independent between years and groups. Draws act
    on group totals, never on 小班. The IPCC Approach 1 (error propagation,
    first order) is given beside it, and a sensitivity table: each input's
    share of the variance of the city sink by **one-at-a-time variance**
    (the Monte Carlo variance of the city sink with only that input drawn,
    the others at their central values), normalised to sum to 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forestsink.inventory.stand import UNRECOGNISED, species_groups
from forestsink.progress.growth import (
    CO2_PER_C,
    Z90,
    CarbonParameterError,
    Param,
    check_draws,
)
from forestsink.units import MU_PER_HA

STOCK_DIFFERENCE = "stock_difference"
GAIN_LOSS = "gain_loss"
METHODS = (STOCK_DIFFERENCE, GAIN_LOSS)

#: default relative measurement error (1σ, %) of a group's total area in a
#: year: a project assumption (no published precision of the 一张图 found)
AREA_ERROR_PCT = 5.0
#: default relative measurement error (1σ, %) of a group's total volume in a
#: year: a project assumption (小班 volumes are field estimates; no published
#: precision for Chongqing found)
VOLUME_ERROR_PCT = 10.0

#: land groups counted by the biomass–volume function / by a per-area value;
#: the rest of the forest land is listed as not counted
ARBOR_GROUPS = ("arbor",)
PER_AREA_CATEGORY = {"bamboo": "bamboo", "special_shrub": "shrub"}
NOT_COUNTED_GROUPS = ("sparse", "other_shrub", "unestablished", "nursery")
#: land groups that are forest: leaving them for another group is conversion
FOREST_GROUPS = ("arbor", "bamboo", "special_shrub")

SINK_COLUMNS = (
    "adcode",
    "name_zh",
    "name_en",
    "method",
    "year_from",
    "year_to",
    "co2_t_per_yr",
    "co2_t_per_yr_p05",
    "co2_t_per_yr_p95",
    "co2_t_per_yr_mc_mean",
    "co2_t_per_yr_ipcc_low",
    "co2_t_per_yr_ipcc_high",
    "interval_pct",
    "co2_t_per_yr_other_roots",
    "carbon_t_from",
    "carbon_t_to",
    "area_counted_from_mu",
    "area_counted_to_mu",
    "area_not_counted_from_mu",
    "area_not_counted_to_mu",
    "area_species_unrecognised_mu",
    "n_arbor_no_volume_from",
    "n_arbor_no_volume_to",
    "conversion_area_mu",
    "conversion_co2_t_per_yr",
    "note",
)

#: Excel headers of the sink tables (override labels.csv's project-increment
#: wording of the co2_t_per_yr columns)
SINK_LABELS = {
    "method": ("方法", "Method", ""),
    "co2_t_per_yr": (
        "森林碳汇 CO₂（年均，正值=移除）",
        "Forest sink CO₂ per year (positive = removal)",
        "t CO₂/yr",
    ),
    "co2_t_per_yr_p05": ("森林碳汇 5% 分位", "Forest sink 5th percentile", "t CO₂/yr"),
    "co2_t_per_yr_p95": (
        "森林碳汇 95% 分位",
        "Forest sink 95th percentile",
        "t CO₂/yr",
    ),
    "co2_t_per_yr_mc_mean": ("蒙特卡洛均值", "Monte Carlo mean", "t CO₂/yr"),
    "co2_t_per_yr_ipcc_low": (
        "IPCC 方法1 下限",
        "IPCC approach 1 low (90 %)",
        "t CO₂/yr",
    ),
    "co2_t_per_yr_ipcc_high": (
        "IPCC 方法1 上限",
        "IPCC approach 1 high (90 %)",
        "t CO₂/yr",
    ),
    "interval_pct": ("90% 区间半宽", "Half-width of the 90 % interval", "%"),
    "co2_t_per_yr_other_roots": (
        "另一种根系读法",
        "Other reading of roots",
        "t CO₂/yr",
    ),
    "carbon_t_from": ("起始年碳储量", "Carbon stock, first year", "t C"),
    "carbon_t_to": ("终止年碳储量", "Carbon stock, last year", "t C"),
    "area_counted_from_mu": ("计入面积（起）", "Area counted, first year", "mu"),
    "area_counted_to_mu": ("计入面积（止）", "Area counted, last year", "mu"),
    "area_not_counted_from_mu": (
        "未计入林地面积（起）",
        "Forest land not counted, first year",
        "mu",
    ),
    "area_not_counted_to_mu": (
        "未计入林地面积（止）",
        "Forest land not counted, last year",
        "mu",
    ),
    "area_species_unrecognised_mu": (
        "树种未识别面积（按针阔混）",
        "Species unrecognised (as mixed)",
        "mu",
    ),
    "n_arbor_no_volume_from": (
        "无蓄积乔木林小班数（起，仅按截距 b 计）",
        "Arbor 小班 without volume, first year (counted with b only)",
        "",
    ),
    "n_arbor_no_volume_to": (
        "无蓄积乔木林小班数（止，仅按截距 b 计）",
        "Arbor 小班 without volume, last year (counted with b only)",
        "",
    ),
    "conversion_area_mu": (
        "乔木林转非林地面积",
        "Arbor forest converted to non-forest",
        "mu",
    ),
    "conversion_co2_t_per_yr": (
        "转化排放（年均）",
        "Conversion emission per year",
        "t CO₂/yr",
    ),
    "variance_share": ("方差占比", "Share of variance", ""),
    "ipcc_share": ("方法1 方差占比", "Approach-1 share", ""),
    "carbon_t": ("碳储量", "Carbon stock", "t C"),
}


@dataclass(frozen=True)
class Input:
    """One uncertain input: its draw key, distribution and where it came from."""

    key: str
    parameter: str
    forest_type: str
    param: Param
    source_id: str
    origin: str
    note: str = ""

    def central(self) -> float:
        """Central value (the published figure; 1 for an activity factor)."""
        return float(self.param.value)

    def mean(self) -> float:
        """Return the expected value (the central one but for uniform/triangular)."""
        p = self.param
        if p.distribution == "triangular":
            return float((p.low + p.value + p.high) / 3.0)
        if p.distribution == "uniform":
            return float((p.low + p.high) / 2.0)
        return float(p.value)


@dataclass
class SinkParameters:
    """Resolved parameters per species group (after the fallback chain)."""

    by_group: dict[str, dict[str, Input]]
    roots_excluded: bool
    missing: dict[str, list[str]] = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """One row per (group, parameter): value, spread, source, origin."""
        rows = []
        for group, parts in sorted(self.by_group.items()):
            for name, inp in sorted(parts.items()):
                p = inp.param
                rows.append(
                    {
                        "forest_type": group,
                        "parameter": name,
                        "value": p.value,
                        "distribution": p.distribution or "fixed",
                        "sd": p.std(),
                        "low": p.low,
                        "high": p.high,
                        "from_row": inp.forest_type,
                        "source_id": inp.source_id,
                        "origin": inp.origin,
                        "draw_key": inp.key,
                    }
                )
        return pd.DataFrame(rows)


def _param(row) -> Param:
    def num(v):
        return float(v) if pd.notna(v) and str(v) != "" else float("nan")

    return Param(
        value=float(row["value"]),
        distribution=str(row["distribution"] or ""),
        low=num(row["low"]),
        high=num(row["high"]),
        sd=num(row["sd"]),
    )


def resolve_sink_parameters(
    shipped: pd.DataFrame,
    *,
    forest_types: pd.DataFrame,
    known_sources,
    user: pd.DataFrame | None = None,
    user_name: str = "--params",
    roots_excluded: bool = False,
) -> SinkParameters:
    """Parameters of the whole-forest sink per species group, with provenance.

    Parameters
    ----------
    shipped : DataFrame
        Rows of ``carbon_parameters.csv`` then ``biomass_volume.csv`` (later
        rows override earlier ones of the same group and parameter), with a
        ``origin`` column naming the file. Every shipped row must name a
        source of *known_sources*; one that does not is refused.
    forest_types : DataFrame
        ``data/forest_types.csv`` (fallback chain).
    known_sources : set of str
        Source ids documented in ``carbon_parameters_sources.md``.
    user : DataFrame, optional (default: None)
        The user's ``--params`` rows (same columns); they override shipped
        rows and may add ``GR``, ``CR`` (1/yr) and ``biomass_t_ha`` (t/ha).
        A user row is accepted with the source it names (required).
    user_name : str, optional (default: "--params")
        Name of the user's file, shown as the origin of its rows.
    roots_excluded : bool, optional (default: False)
        Read B = a·V + b as above-ground only: apply (1 + R).

    Returns
    -------
    SinkParameters
        ``by_group``: group → {``a``, ``b``, ``CF``, ``R`` (when applied),
        ``GR``, ``CR``, ``biomass_t_ha`` where found}; ``missing``: group →
        the names of ``a``, ``b``, ``CF`` it lacks.

    Raises
    ------
    CarbonParameterError
        A shipped parameter without a checkable source.
    """
    known = set(known_sources)
    table: dict[tuple[str, str], Input] = {}
    frames = [(shipped, False)]
    if user is not None:
        frames.append((user.assign(origin=user_name), True))
    for frame, from_user in frames:
        for _, row in frame.iterrows():
            source = str(row["source_id"]).strip()
            if not from_user and source not in known:
                raise CarbonParameterError(
                    f"{row.get('origin', 'shipped data')}: {row['forest_type']} / "
                    f"{row['parameter']} = {row['value']}：来源 {source!r} 无法核查 "
                    f"/ source {source!r} is not documented in "
                    "data/carbon_parameters_sources.md; an unsourced parameter is "
                    "refused: supply it with --params FILE, naming your source."
                )
            p = _param(row)
            key = "|".join(
                str(x)
                for x in (
                    row["parameter"],
                    source,
                    p.value,
                    p.distribution,
                    p.sd,
                    p.low,
                    p.high,
                    "user" if from_user else "shipped",
                )
            )
            table[(str(row["forest_type"]), str(row["parameter"]))] = Input(
                key=key,
                parameter=str(row["parameter"]),
                forest_type=str(row["forest_type"]),
                param=p,
                source_id=source,
                origin=str(row.get("origin", "")) if not from_user else user_name,
                note=str(row.get("note", "") or ""),
            )
    fallback = dict(
        zip(forest_types["forest_type"], forest_types["fallback"], strict=True)
    )

    def find(code: str, name: str) -> Input | None:
        seen = set()
        while code and code not in seen:
            seen.add(code)
            if (code, name) in table:
                return table[(code, name)]
            nxt = fallback.get(code)
            code = "" if nxt is None or isinstance(nxt, float) else str(nxt)
        if name in ("CF", "R"):  # the IPCC default is for all species
            return table.get(("default", name))
        return None

    out: dict[str, dict[str, Input]] = {}
    missing: dict[str, list[str]] = {}
    for code in forest_types["forest_type"]:
        parts = {}
        names = ["a", "b", "CF", "GR", "CR", "biomass_t_ha"]
        if roots_excluded:
            names.append("R")
        for name in names:
            found = find(code, name)
            if found is not None:
                parts[name] = found
        lacking = [n for n in ("a", "b", "CF") if n not in parts]
        if roots_excluded and "R" not in parts:
            lacking.append("R")
        if lacking:
            missing[code] = lacking
        out[code] = parts
    return SinkParameters(by_group=out, roots_excluded=roots_excluded, missing=missing)


def group_sums(sums: pd.DataFrame, forest_types: pd.DataFrame) -> pd.DataFrame:
    """Per district × category × species group: area (ha) and Σ area·V (m³).

    Parameters
    ----------
    sums : DataFrame
        The store's ``inventory_sums`` by ``adcode, land_group, species``
        (areas in mu, stock in m³).
    forest_types : DataFrame
        ``data/forest_types.csv``.

    Returns
    -------
    pandas.DataFrame
        ``adcode``, ``category`` (``arbor``; ``bamboo`` and ``shrub``
        (特灌), counted by area only with a per-area value; ``not_counted``:
        sparse forest, other shrub, unestablished land and nurseries, which
        hold biomass the method does not estimate, listed; ``no_biomass``:
        non-forest, treeless, suitable and auxiliary land, taken as 0),
        ``land_group``, ``group`` (species group; arbor
        with an unknown species → ``mixed``, bamboo species on arbor land →
        category ``bamboo``), ``area_ha``, ``area_mu``, ``volume_area_m3``
        (Σ area·V: per-hectare volumes × ha plus the totals of 小班 that
        carry only a total), ``n_xiaoban``, ``n_no_volume`` (arbor 小班
        with neither), ``area_unrecognised_mu``.
    """
    frame = sums.copy()
    if frame.empty:
        return pd.DataFrame(
            columns=[
                "adcode",
                "category",
                "land_group",
                "group",
                "area_ha",
                "area_mu",
                "volume_area_m3",
                "n_xiaoban",
                "n_no_volume",
                "area_unrecognised_mu",
            ]
        )
    groups = species_groups(frame["species"], forest_types)
    unrecognised = groups == UNRECOGNISED
    groups = groups.where(~unrecognised, "mixed")
    lg = frame["land_group"].astype(str)
    category = np.where(
        lg.isin(ARBOR_GROUPS),
        np.where(groups == "bamboo", "bamboo", "arbor"),
        lg.map(PER_AREA_CATEGORY).fillna(
            pd.Series(
                np.where(lg.isin(NOT_COUNTED_GROUPS), "not_counted", "no_biomass"),
                index=lg.index,
            )
        ),
    )
    frame["category"] = category
    frame["group"] = np.where(
        frame["category"] == "arbor",
        groups,
        np.where(
            frame["category"].isin(["not_counted", "no_biomass"]), lg, frame["category"]
        ),
    )
    frame["area_unrecognised_mu"] = np.where(
        unrecognised & (frame["category"] == "arbor"), frame["area_mu"], 0.0
    )
    frame["volume_area_m3"] = frame["stock_per_ha_m3"] + frame["stock_total_m3"]
    frame["n_no_volume"] = frame["n_xiaoban"] - frame["n_per_ha"] - frame["n_total"]
    out = frame.groupby(
        ["adcode", "category", "land_group", "group"], as_index=False
    ).agg(
        area_mu=("area_mu", "sum"),
        volume_area_m3=("volume_area_m3", "sum"),
        n_xiaoban=("n_xiaoban", "sum"),
        n_no_volume=("n_no_volume", "sum"),
        area_unrecognised_mu=("area_unrecognised_mu", "sum"),
    )
    out["area_ha"] = out["area_mu"] / MU_PER_HA
    return out


# --------------------------------------------------------------------------
# the model: sums of terms coefficient × product of inputs
# --------------------------------------------------------------------------


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


def _activity_input(kind: str, year: int, group: str, pct: float) -> Input:
    name = "area_error" if kind == "area" else "volume_error"
    return Input(
        key=f"{name}|{year}|{group}",
        parameter=name,
        forest_type=group,
        param=Param(value=1.0, distribution="normal", sd=pct / 100.0)
        if pct > 0
        else Param(value=1.0),
        source_id="assumption_forestsink",
        origin=f"--{name.replace('_', '-')} {pct:g} %",
    )


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
            area_key = use(_activity_input("area", year, group, area_error_pct))
            if category == "arbor":
                if any(k not in parts for k in ("a", "b", "CF")):
                    continue  # reported as missing; no number invented
                vol_key = use(_activity_input("volume", year, group, volume_error_pct))
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


# --------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------

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


def choose_years(years, year_from=None, year_to=None, *, plan=(2010, 2015)):
    """Return the two inventory years to compare, or None (project increment).

    With *year_from*/*year_to* given, those; else, with two or more years
    held, the year before the plan and the last plan year if both are held,
    else the first and the last year; else None.
    """
    years = sorted(int(y) for y in years)
    if year_from is not None or year_to is not None:
        first = year_from if year_from is not None else (years[0] if years else None)
        last = year_to if year_to is not None else (years[-1] if years else None)
        return first, last
    if len(years) < 2:
        return None
    if plan[0] in years and plan[1] in years:
        return plan
    return years[0], years[-1]


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


def sink_table(
    model: SinkModel,
    results: dict[str, SinkResult | None],
    *,
    year_from: int,
    year_to: int,
    names: pd.DataFrame,
    sums_from: pd.DataFrame,
    sums_to: pd.DataFrame,
    conversion_mu: pd.Series,
    other_roots: SinkModel | None,
    per_area_counted=(),
    missing: dict[str, str],
    notes: dict[str, str],
) -> pd.DataFrame:
    """Build the main table: one row per district and the city per method.

    Figures in t CO₂/yr (positive = removal from the atmosphere), stocks in
    t C, areas in mu; ``interval_pct`` = half the 90 % Monte Carlo interval
    as a percentage of the central figure.
    """
    adcodes = [*model.adcodes, "500000"]
    central = model.central_values()
    stock_from = model.evaluate(central, model.stock[year_from])[:, 0]
    stock_to = model.evaluate(central, model.stock[year_to])[:, 0]

    def per(frame: pd.DataFrame, mask) -> np.ndarray:
        s = frame[mask].groupby("adcode")["area_mu"].sum()
        v = s.reindex(model.adcodes, fill_value=0.0).to_numpy()
        return np.append(v, v.sum())

    counted = {"arbor"} | set(per_area_counted)
    areas = {}
    for year, frame in ((year_from, sums_from), (year_to, sums_to)):
        areas[(year, "in")] = per(frame, frame["category"].isin(counted))
        areas[(year, "out")] = per(
            frame, ~frame["category"].isin([*counted, "no_biomass"])
        )
    novol = {}
    for year, frame in ((year_from, sums_from), (year_to, sums_to)):
        arb = frame[frame["category"] == "arbor"].groupby("adcode")["n_no_volume"].sum()
        arb = arb.reindex(model.adcodes, fill_value=0).to_numpy()
        novol[year] = np.append(arb, arb.sum())
    unrec = sums_to.groupby("adcode")["area_unrecognised_mu"].sum()
    unrec = unrec.reindex(model.adcodes, fill_value=0.0).to_numpy()
    conv = conversion_mu.reindex(model.adcodes, fill_value=0.0).to_numpy()
    conv_co2 = model.evaluate(central, model.conversion)[:, 0]
    rows = []
    for method, res in results.items():
        other = (
            other_roots.evaluate(
                other_roots.central_values(), other_roots.terms[method]
            )[:, 0]
            if other_roots is not None and res is not None
            else np.full(len(adcodes), np.nan)
        )
        for i, adcode in enumerate(adcodes):
            row = {
                "adcode": adcode,
                "method": method,
                "year_from": year_from,
                "year_to": year_to,
                "carbon_t_from": stock_from[i],
                "carbon_t_to": stock_to[i],
                "area_counted_from_mu": areas[(year_from, "in")][i],
                "area_counted_to_mu": areas[(year_to, "in")][i],
                "area_not_counted_from_mu": areas[(year_from, "out")][i],
                "area_not_counted_to_mu": areas[(year_to, "out")][i],
                "area_species_unrecognised_mu": np.append(unrec, unrec.sum())[i],
                "n_arbor_no_volume_from": int(novol[year_from][i]),
                "n_arbor_no_volume_to": int(novol[year_to][i]),
                "conversion_area_mu": np.append(conv, conv.sum())[i],
                "conversion_co2_t_per_yr": -conv_co2[i] + 0.0,
            }
            if res is None:
                row.update(
                    dict.fromkeys(
                        [
                            "co2_t_per_yr",
                            "co2_t_per_yr_p05",
                            "co2_t_per_yr_p95",
                            "co2_t_per_yr_mc_mean",
                            "co2_t_per_yr_ipcc_low",
                            "co2_t_per_yr_ipcc_high",
                            "interval_pct",
                            "co2_t_per_yr_other_roots",
                        ],
                        np.nan,
                    )
                )
                row["note"] = missing.get(method, "")
            else:
                c = res.central[i]
                p05, p95 = np.percentile(res.mc[i], [5, 95])
                row.update(
                    co2_t_per_yr=c,
                    co2_t_per_yr_p05=p05,
                    co2_t_per_yr_p95=p95,
                    co2_t_per_yr_mc_mean=float(res.mc[i].mean()),
                    co2_t_per_yr_ipcc_low=c - Z90 * res.ipcc_sd[i],
                    co2_t_per_yr_ipcc_high=c + Z90 * res.ipcc_sd[i],
                    interval_pct=(p95 - p05) / 2 / abs(c) * 100 if c else np.nan,
                    co2_t_per_yr_other_roots=other[i],
                    note=notes.get(method, ""),
                )
            rows.append(row)
    out = pd.DataFrame(rows)
    labels = names.set_index("adcode")
    out["name_zh"] = out["adcode"].map(labels["name_zh"]).fillna("重庆市")
    out["name_en"] = (
        out["adcode"].map(labels["name_en"]).fillna("Chongqing (city-wide)")
    )
    return out[list(SINK_COLUMNS)]


def conversion_area(transfer: pd.DataFrame) -> pd.Series:
    """Arbor forest turned into non-forest land per district (mu).

    From the later layer's transfer rows (previous class Q_DI_LEI → class):
    previous ``arbor``, now any group that is not forest.
    """
    if transfer.empty:
        return pd.Series(dtype="float64")
    t = transfer[
        (transfer["land_group_before"] == "arbor")
        & ~transfer["land_group"].isin(FOREST_GROUPS)
    ]
    return t.groupby("adcode")["area_mu"].sum()


def compute_sink(
    sums_from: pd.DataFrame,
    sums_to: pd.DataFrame,
    *,
    year_from: int,
    year_to: int,
    shipped: pd.DataFrame,
    known_sources,
    forest_types: pd.DataFrame,
    names: pd.DataFrame,
    transfer: pd.DataFrame | None = None,
    user: pd.DataFrame | None = None,
    user_name: str = "--params",
    method: str = "both",
    roots_excluded: bool = False,
    area_error_pct: float = AREA_ERROR_PCT,
    volume_error_pct: float = VOLUME_ERROR_PCT,
    draws: int = 10_000,
    seed: int = 2012,
) -> dict[str, pd.DataFrame]:
    """Compute the whole-forest sink from two years' SQL sums (pure).

    Parameters
    ----------
    sums_from, sums_to : DataFrame
        ``inventory_sums`` by ``adcode, land_group, species`` (mu, m³).
    year_from, year_to : int
        The inventory years, ``year_from < year_to``.
    shipped, known_sources, forest_types, user, user_name, roots_excluded
        See :func:`resolve_sink_parameters`.
    names : DataFrame
        ``adcode``, ``name_zh``, ``name_en`` of the districts.
    transfer : DataFrame, optional (default: none)
        The later year's ``inventory_transfer`` (areas in mu).
    method : {"stock-difference", "gain-loss", "both"}
        Which routes to report.
    area_error_pct, volume_error_pct : float
        Relative measurement errors (1σ, %) of the group totals per year.
    draws, seed : int
        Monte Carlo settings.

    Returns
    -------
    dict of DataFrame
        ``sink`` (:data:`SINK_COLUMNS`, t CO₂/yr, positive = removal),
        ``sensitivity``, ``sources`` (every parameter used: value, spread,
        source, origin), ``not_counted`` (area by district, year and
        category), ``by_group`` (city stock per species group, t C) and
        ``drivers`` (top three input kinds of the city sink per method).
    """
    if year_to <= year_from:
        raise CarbonParameterError(
            f"--from {year_from} --to {year_to}: 起止年份颠倒 / the later year "
            "must come after the earlier one."
        )
    for value, name in (
        (area_error_pct, "--area-error"),
        (volume_error_pct, "--volume-error"),
    ):
        if not (np.isfinite(value) and 0 <= value <= 100):
            raise CarbonParameterError(
                f"{name} {value}: 应为 0–100 之间的百分数 / give a percentage "
                "between 0 and 100 (1σ relative error of a group's yearly total)."
            )
    wanted = METHODS if method == "both" else (method.replace("-", "_"),)
    check_draws(draws)
    params = resolve_sink_parameters(
        shipped,
        forest_types=forest_types,
        known_sources=known_sources,
        user=user,
        user_name=user_name,
        roots_excluded=roots_excluded,
    )
    other = resolve_sink_parameters(
        shipped,
        forest_types=forest_types,
        known_sources=known_sources,
        user=user,
        user_name=user_name,
        roots_excluded=not roots_excluded,
    )
    g_from = group_sums(sums_from, forest_types)
    g_to = group_sums(sums_to, forest_types)
    conv = conversion_area(transfer if transfer is not None else pd.DataFrame())
    kw = {
        "year_from": year_from,
        "year_to": year_to,
        "conversion_mu": conv,
        "area_error_pct": area_error_pct,
        "volume_error_pct": volume_error_pct,
    }
    model = build_model(g_from, g_to, parameters=params, **kw)
    other_model = build_model(g_from, g_to, parameters=other, **kw)
    arbor_groups = sorted(
        set(g_from.loc[g_from["category"] == "arbor", "group"])
        | set(g_to.loc[g_to["category"] == "arbor", "group"])
    )
    lacking_sd = {g: params.missing[g] for g in arbor_groups if g in params.missing}
    lacking_gl = {
        g: [n for n in ("GR", "CR") if n not in params.by_group.get(g, {})]
        for g in arbor_groups
    }
    lacking_gl = {g: v for g, v in lacking_gl.items() if v}
    per_area = [
        c
        for c in ("bamboo", "shrub")
        if {"biomass_t_ha", "CF"} <= set(params.by_group.get(c, {}))
    ]
    roots_word = (
        "B 按不含根读，乘 (1+R) / B read as above-ground: × (1 + R)"
        if roots_excluded
        else "B 按含根读（有争议，未核实），不乘 (1+R) / B read as total stand "
        "biomass incl. roots (disputed, unverified): no (1 + R); the other "
        "reading is in co2_t_per_yr_other_roots"
    )
    if per_area:
        not_counted_word = (
            f"按面积计入 {', '.join(per_area)}；疏林、其他灌木林、未成林地未计入（见 "
            f"not_counted）/ counted by area: {', '.join(per_area)}; sparse "
            "forest, other shrub and unestablished land not counted"
        )
    else:
        not_counted_word = (
            "竹林、特灌无有来源的单位面积生物量，与疏林、其他灌木林、"
            "未成林地一并未计入（见 "
            "not_counted）/ bamboo and state-specified shrub not counted (no "
            "sourced per-area biomass; supply biomass_t_ha with --params), nor "
            "sparse forest, other shrub and unestablished land"
        )
    notes = {
        STOCK_DIFFERENCE: (
            f"存量差法 IPCC 2006 第4卷 式2.8，(C{year_to}−C{year_from})/"
            f"{year_to - year_from} 年 × 44/12；正值=从大气移除（碳汇），"
            "负值=净排放；转为非林地的森林离开 C₂，计为损失 / stock "
            "difference, IPCC 2006 Vol. 4 Eq. 2.8; positive = removal from the "
            f"atmosphere. {roots_word}. {not_counted_word}. 区间：蒙特卡洛 90 % "
            "覆盖所有输入 / interval: 90 % Monte Carlo over every input."
        ),
    }
    results: dict[str, SinkResult | None] = {}
    missing_words: dict[str, str] = {}
    sens_frames = []
    for m in wanted:
        lacking = lacking_sd if m == STOCK_DIFFERENCE else {**lacking_sd, **lacking_gl}
        if lacking:
            listed = "; ".join(
                f"{g}: {', '.join(v)}" for g, v in sorted(lacking.items())
            )
            missing_words[m] = (
                f"不可估算：缺少参数 / not estimable: missing parameters ({listed}); "
                "supply them, with their source, in --params FILE"
                + (
                    " (format: data/gain_loss.EXAMPLE.csv; the provincial "
                    "guideline's GR/CR tables were not found)"
                    if m == GAIN_LOSS
                    else ""
                )
            )
            results[m] = None
            continue
        res = simulate(model, m, draws=draws, seed=seed)
        results[m] = res
        sens = res.sensitivity.copy()
        sens.insert(0, "method", m)
        sens_frames.append(sens)
    if GAIN_LOSS in results and results[GAIN_LOSS] is not None:
        gl_src = sorted(
            {
                f"{params.by_group[g][n].origin}: {params.by_group[g][n].source_id}"
                for g in arbor_groups
                for n in ("GR", "CR")
            }
        )
        diff = ""
        if results.get(STOCK_DIFFERENCE) is not None:
            d = results[GAIN_LOSS].central[-1] - results[STOCK_DIFFERENCE].central[-1]
            diff = (
                " 全市差值 / city difference gain-loss − stock difference = "
                f"{d:,.0f} t CO₂/yr."
            )
        notes[GAIN_LOSS] = (
            "增减法（省级清单指南的做法）：a·V̄·(GR−CR)·CF×44/12 "
            f"减去乔木林转非林地排放（转化面积 × {year_from} 年碳密度 / 年数）；"
            f"GR/CR 来自 {', '.join(gl_src)} / "
            "gain-loss (the provincial guideline's route): growth minus consumption "
            "of the mean standing stock, minus emissions of arbor forest converted "
            "to non-forest land. It differs from the stock difference because it "
            "counts no new forest area (stock difference books new arbor land with "
            "its intercept b·area and its volume), it applies rates to the stock "
            "rather than measuring it twice, and its conversion term needs the "
            "layer's previous class (Q_DI_LEI)." + diff
        )
    sink = sink_table(
        model,
        results,
        year_from=year_from,
        year_to=year_to,
        names=names,
        sums_from=g_from,
        sums_to=g_to,
        conversion_mu=conv,
        other_roots=other_model,
        per_area_counted=per_area,
        missing=missing_words,
        notes=notes,
    )
    sensitivity = (
        pd.concat(sens_frames, ignore_index=True) if sens_frames else pd.DataFrame()
    )
    sources = params.table()
    used_groups = set(arbor_groups) | set(per_area)
    sources = (
        sources[sources["forest_type"].isin(used_groups)] if len(sources) else sources
    )
    activity = pd.DataFrame(
        [
            {
                "forest_type": "all",
                "parameter": name,
                "value": pct,
                "distribution": "normal",
                "sd": pct,
                "low": np.nan,
                "high": np.nan,
                "from_row": "",
                "source_id": "assumption_forestsink",
                "origin": f"--{name.replace('_', '-')} (%, 1σ of a group's yearly "
                "total; 项目假设，无已发表的一张图精度 / project assumption, no "
                "published precision of the 一张图 found)",
                "draw_key": f"{name}|year|group",
            }
            for name, pct in (
                ("area_error", area_error_pct),
                ("volume_error", volume_error_pct),
            )
        ]
    )
    sources = pd.concat([sources, activity], ignore_index=True)
    not_counted = pd.concat(
        [
            g.assign(year=y)[~g["category"].isin(["arbor", "no_biomass", *per_area])]
            for y, g in ((year_from, g_from), (year_to, g_to))
        ],
        ignore_index=True,
    )
    not_counted = (
        not_counted.groupby(["adcode", "year", "land_group"], as_index=False)[
            ["area_mu", "volume_area_m3", "n_xiaoban"]
        ].sum()
        if len(not_counted)
        else pd.DataFrame(columns=["adcode", "year", "land_group", "area_mu"])
    )
    central = model.central_values()
    by_group = []
    for year in (year_from, year_to):
        for t in model.stock[year]:
            group = next(
                (
                    model.inputs[k].forest_type
                    for k, _ in t.factors
                    if k.startswith("area_error")
                ),
                "",
            )
            value = model.evaluate(central, [t])[-1, 0]
            by_group.append({"year": year, "forest_type": group, "carbon_t": value})
    by_group = (
        pd.DataFrame(by_group).groupby(["forest_type", "year"], as_index=False).sum()
        if by_group
        else pd.DataFrame(columns=["forest_type", "year", "carbon_t"])
    )
    top = []
    for m, res in results.items():
        if res is not None:
            d = drivers(res.sensitivity)
            d.insert(0, "method", m)
            top.append(d)
    return {
        "sink": sink,
        "sensitivity": sensitivity,
        "sources": sources,
        "not_counted": not_counted,
        "by_group": by_group,
        "drivers": pd.concat(top, ignore_index=True) if top else pd.DataFrame(),
    }


def forest_sink_tables(
    store,
    *,
    year_from: int,
    year_to: int,
    method: str = "both",
    params=None,
    as_of=None,
    roots_excluded: bool = False,
    area_error_pct: float = AREA_ERROR_PCT,
    volume_error_pct: float = VOLUME_ERROR_PCT,
    draws: int = 10_000,
    seed: int = 2012,
):
    """Return the whole-forest sink of a store's two inventory years (``carbon``).

    The one place that reads the store: two ``inventory_sums`` by
    ``adcode, land_group, species`` (aggregated in SQL, one row per group,
    however many 小班) and the later year's ``inventory_transfer``; the rest
    is :func:`compute_sink`.

    Parameters
    ----------
    store : Store
        An open store holding both years' forest-resource layers.
    year_from, year_to : int
        The inventory years.
    method : {"stock-difference", "gain-loss", "both"}, optional (default: both)
        Routes reported.
    params : path, optional (default: None)
        The user's parameter file (columns of ``carbon_parameters.csv``):
        its rows override the shipped ones and may add ``GR``, ``CR``
        (1/yr) and ``biomass_t_ha`` (t/ha); each names its source.
    as_of : int or str, optional (default: None, now)
        Batch number or time of the store's state.
    roots_excluded, area_error_pct, volume_error_pct, draws, seed
        See :func:`compute_sink`.

    Returns
    -------
    forestsink.progress.Tables
        ``sink`` (main: t CO₂/yr per district and city, positive = removal),
        ``sensitivity``, ``sources``, ``not_counted``, ``by_group``, with
        the settings.
    """
    from forestsink.inventory.load import _require_year, district_areas
    from forestsink.progress import Tables, read_forest_types, shown_path
    from forestsink.reference import (
        read_biomass_volume,
        read_carbon_parameters,
        read_parameter_sources,
    )

    if year_from is None or year_to is None:
        held = ", ".join(map(str, store.inventory_years(as_of=as_of))) or "none"
        raise CarbonParameterError(
            f"--from {year_from} --to {year_to}: 全森林碳汇需要两期森林资源图层 / "
            f"the whole-forest sink needs two inventory years (held: {held}); "
            "load them with: forestsink inventory load PATH --year Y --store FILE"
        )
    for year in (year_from, year_to):
        _require_year(store, year, as_of=as_of)
    shipped = pd.concat(
        [
            read_carbon_parameters().assign(origin="data/carbon_parameters.csv"),
            read_biomass_volume().assign(origin="data/biomass_volume.csv"),
        ],
        ignore_index=True,
    )
    shipped = shipped[shipped["parameter"].isin(["CF", "R", "a", "b"])]
    user = read_carbon_parameters(params) if params else None
    by = ("adcode", "land_group", "species")
    out = compute_sink(
        store.inventory_sums(year_from, as_of=as_of, by=by),
        store.inventory_sums(year_to, as_of=as_of, by=by),
        year_from=year_from,
        year_to=year_to,
        shipped=shipped,
        known_sources=read_parameter_sources(),
        forest_types=read_forest_types(),
        names=district_areas(),
        transfer=store.inventory_transfer(year_to, as_of=as_of),
        user=user,
        user_name=f"--params {shown_path(params)}" if params else "--params",
        method=method,
        roots_excluded=roots_excluded,
        area_error_pct=area_error_pct,
        volume_error_pct=volume_error_pct,
        draws=draws,
        seed=seed,
    )
    settings = {
        "what": "全森林碳汇（两期森林资源一张图），非项目增量 / the whole forest's "
        "carbon sink from two forest-resource inventories, not the project "
        "increment",
        "store": shown_path(getattr(store, "path", store)),
        "year_from": str(year_from),
        "year_to": str(year_to),
        "method": method,
        "sign": "正值 = 从大气移除（碳汇）/ positive = removal from the atmosphere",
        "units": "co2_t_per_yr: t CO₂/yr; carbon_t_*: t C; *_mu: mu (15 mu = 1 ha)",
        "params": shown_path(params) if params else "shipped only",
        "roots": "excluded: × (1 + R)"
        if roots_excluded
        else "included (default, disputed): no (1 + R)",
        "area_error_pct": f"{area_error_pct:g} (1σ, assumption)",
        "volume_error_pct": f"{volume_error_pct:g} (1σ, assumption)",
        "draws": str(draws),
        "seed": str(seed),
        "correlations": "参数对同一树种组的所有小班、区县和两期取同一抽样；"
        "同一来源的数值共用一次抽样；"
        "面积/蓄积误差按年×树种组抽样，年间、组间独立 / a parameter draw is "
        "shared by every 小班 and district of a group and both years; groups "
        "taking a value from one published figure share a draw; activity "
        "errors are drawn per year × group, independent between years and "
        "groups",
        "sensitivity": "one-at-a-time Monte Carlo variance of the city sink, "
        "normalised to sum to 1 (ipcc_share: the Approach-1 first-order terms)",
        "coefficients": "a: OLS slope SE from the published n and R²; b: spread "
        "between candidate functions (data/biomass_volume.csv)",
    }
    for _, row in out["drivers"].iterrows():
        settings[f"driver_{row['method']}_{row.name}"] = (
            f"{row['zh']} / {row['en']}: {row['variance_share']:.0%}"
        )
    tables = {k: v for k, v in out.items() if k != "drivers"}
    tables["drivers"] = out["drivers"]
    return Tables(tables=tables, settings=settings, labels=SINK_LABELS)
