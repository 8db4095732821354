"""Project increment of stock volume and its CO₂, with a parametric interval.

What this module computes is a **project increment**, not the forest's carbon
sink. The city's sink is a whole-forest balance (stock difference between two
inventories, or the provincial guideline's gain–loss with losses and
conversion emissions; ``official-statistics.md`` §4) over two inventory
years of the forest-resource layers (一张图): :mod:`forestsink.carbon`.
Nothing here follows the provincial inventory guideline (省级温室气体清单编制指南).

A delivered 蓄积 (``stock_volume_m3``: 小班蓄积, HUO_LMXJ, ZXJ …) is the
**standing stock** of a stand, mostly wood that stood there before the
project. It is never an increment and never feeds a CO₂ figure. The
increment attributable to a project comes only from

``project_increment_measured``
    two measurements of the same land that the delivery supplies explicitly
    (改造前蓄积 / 改造后蓄积, before and after the work): ΔV = after − before;
``project_increment_model``
    a growth (yield) table by project type, species group and years since
    the work, supplied by the user with a source per row
    (:func:`validate_growth_table`), net of the baseline growth the land
    would have had without the project:
    ΔV = area (ha) × Σ_{a=1..n} (growth(a) − baseline(a)), n = end year −
    work year;

and is ``not_estimable`` (NaN, never 0 and never invented) otherwise. No
flat all-age growth rate is applied: a new planting is not forest in its
first years (未成林造林地).

CO₂ of an increment: ΔCO₂ (t) = ΔV (m³) × D (t/m³) × BEF × (1 + R) × CF ×
44/12, or with a Chinese biomass–volume slope a (``BVF``, t/m³; B = a·V + b,
Fang et al.) replacing D × BEF: for a stock *change* the intercept cancels
(ΔB = a·ΔV). Whether Fang's B includes roots is not settled
(``data/carbon_parameters_sources.md``); by default (1 + R) is not applied
on top of BVF (``bvf_includes_roots=True``). Parameters missing for a forest
type are taken from its ``fallback`` type (``data/forest_types.csv``).

Uncertainty: Monte Carlo over the conversion parameters whose sources give a
spread (normal, uniform, triangular), seeded and vectorised; the increment
itself is held fixed, so the interval covers only the stated parametric
uncertainty of the conversion, not the activity data or the growth model.
The IPCC approach-1 figure is given beside it at the same 90 % level.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from forestsink.errors import CarbonParameterError, GrowthTableError
from forestsink.ingest.stock import (
    STOCK_ATTRS,
    read_stock_attrs,
    stock_attr_columns,
    stock_attr_lookup,
)
from forestsink.ingest.values import map_project_types
from forestsink.io import read_bureau_table
from forestsink.reference import read_forest_types, read_project_types

__all__ = [
    "CO2_PER_C",
    "GROWTH_COLUMNS",
    "GROWTH_RANGE",
    "MAX_DRAWS",
    "MEASURED",
    "MODEL",
    "NOT_ESTIMABLE",
    "STOCK_ATTRS",
    "Z90",
    "CarbonParameterError",
    "Param",
    "carbon_by_group",
    "check_draws",
    "classify_species",
    "factor",
    "factor_draws",
    "factor_rel_sd",
    "net_increment_curves",
    "project_increment",
    "read_growth_table",
    "read_stock_attrs",
    "resolve_growth",
    "resolve_parameters",
    "species_lookup",
    "stock_attr_columns",
    "stock_attr_lookup",
    "validate_growth_table",
]

CO2_PER_C = 44.0 / 12.0
"""Molecular-weight ratio CO₂ : C."""

Z90 = 1.6448536269514722
"""Two-sided 90 % normal quantile (5 % in each tail)."""


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


#: Ways a piece's project increment was obtained (the ``method`` column).
MEASURED = "project_increment_measured"
MODEL = "project_increment_model"
NOT_ESTIMABLE = "not_estimable"

#: Columns of a growth (yield) table; see :func:`validate_growth_table`.
GROWTH_COLUMNS = (
    "project_type",
    "forest_type",
    "age_from",
    "age_to",
    "growth_m3_ha_yr",
    "baseline_m3_ha_yr",
    "source",
)
#: Plausible range of a per-hectare annual volume growth (m³/ha/yr).
GROWTH_RANGE = (0.0, 60.0)


def validate_growth_table(
    table: pd.DataFrame,
    *,
    source: str,
    project_types,
    forest_types,
    rules: str | None = None,
    species: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Check a growth (yield) table row by row; return it typed.

    Parameters
    ----------
    table : DataFrame
        Cells as text, row *i* being row *i + 2* of the file. Columns
        :data:`GROWTH_COLUMNS`: ``project_type`` (a code of
        ``project_types.csv``), ``forest_type`` (a code of
        ``forest_types.csv``; ``default`` applies to every species group
        without rows of its own, following the fallback chain), ``age_from``
        and ``age_to`` (years since the work, inclusive, from 1; year 1 is
        the first growing season after the work year), ``growth_m3_ha_yr``
        (stand volume growth with the project, m³/ha/yr), ``baseline_m3_ha_yr``
        (growth the same land would have had without the project, m³/ha/yr;
        0 for planting on bare land) and ``source`` (the publication or
        survey the row comes from).
    source : str
        File name used in messages.
    project_types, forest_types : iterable of str
        Known codes.
    rules : str, optional (default: the shipped project-type rules)
        Project-type rules: a ``project_type`` cell may be any word ``--type``
        accepts (``人工造林``, ``低效林改造`` …), resolved to its code through
        :func:`forestsink.ingest.values.map_project_types`.
    species : dict, optional (default: none)
        Species word → forest-type code (:func:`species_lookup`): a
        ``forest_type`` cell may be a species word (``马尾松``), matched whole.

    Returns
    -------
    pandas.DataFrame
        The same rows, ages as int and growth as float.

    Raises
    ------
    GrowthTableError
        Naming the file, row, column and value, and what to write instead.
    """
    missing = [c for c in GROWTH_COLUMNS if c not in table.columns]
    if missing:
        raise GrowthTableError(
            f"{source}: 缺少列 {missing} / missing column(s) {missing}; a growth "
            f"table needs {', '.join(GROWTH_COLUMNS)} (see "
            "data/growth_table.EXAMPLE.csv)."
        )
    if table.empty:
        raise GrowthTableError(f"{source}: 没有数据行 / no rows.")
    known_p, known_f = set(project_types), set(forest_types)
    type_codes = _growth_project_types(table["project_type"], known_p, rules)
    words = {k.casefold(): v for k, v in (species or {}).items()}
    out = table[list(GROWTH_COLUMNS)].copy()
    for name in ("age_from", "age_to"):
        out[name] = 0
    for name in ("growth_m3_ha_yr", "baseline_m3_ha_yr"):
        out[name] = 0.0
    for i, row in enumerate(table.itertuples(index=False)):
        where = f"{source}: 第{i + 2}行 row {i + 2}"
        cells = row._asdict()
        given_ft = str(cells["forest_type"]).strip()
        ft = given_ft if given_ft in known_f else words.get(given_ft.casefold())
        _check_growth_codes(cells, type_codes[i], ft, known_p, known_f, where)
        out.iloc[i, 0:6] = [type_codes[i], ft, *_growth_row_numbers(cells, where)]
    out = out.astype({"age_from": int, "age_to": int})
    out = out.astype({"growth_m3_ha_yr": float, "baseline_m3_ha_yr": float})
    _check_growth_ages(out, source)
    return out.reset_index(drop=True)


def _check_growth_codes(cells, pt, ft, known_p, known_f, where) -> None:
    """Refuse a row whose project type *pt* or forest type *ft* is unknown."""
    given_pt = str(cells["project_type"]).strip()
    given_ft = str(cells["forest_type"]).strip()
    if pt not in known_p:
        raise GrowthTableError(
            f"{where}, column project_type: 未知项目类型 {given_pt!r} / "
            f"{given_pt!r} is not a project type; use a code or word of the "
            f"project types ({', '.join(sorted(known_p))}, or 人工造林, 低效林改造 …).",
            option="project_type",
        )
    if ft not in known_f:
        raise GrowthTableError(
            f"{where}, column forest_type: 未知森林类型 {given_ft!r} / "
            f"{given_ft!r} is not a forest type; use one of "
            f"{sorted(known_f)} or a species word of data/forest_types.csv "
            "(马尾松, 杉木 …; default = all species groups)."
        )


def _growth_row_numbers(cells, where) -> list:
    """Return ``age_from``, ``age_to`` (years) and both growths (m³/ha/yr) of a row.

    Raises
    ------
    GrowthTableError
        An age that is not a whole number ≥ 1, ages in the wrong order, a
        growth outside :data:`GROWTH_RANGE` or an empty source.
    """
    ages = []
    for name in ("age_from", "age_to"):
        text = str(cells[name]).strip()
        if not (text.isascii() and text.isdigit()) or int(text) < 1:
            raise GrowthTableError(
                f"{where}, column {name}: {text!r} 不是 ≥ 1 的整年数 / is not "
                "a whole number of years ≥ 1 (years since the work; 1 = "
                "first growing season)."
            )
        ages.append(int(text))
    if ages[0] > ages[1]:
        raise GrowthTableError(
            f"{where}: 起始年龄晚于终止年龄 / age_from {ages[0]} is after "
            f"age_to {ages[1]}."
        )
    lo, hi = GROWTH_RANGE
    values = []
    for name in ("growth_m3_ha_yr", "baseline_m3_ha_yr"):
        text = str(cells[name]).strip()
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not (np.isfinite(value) and lo <= value <= hi):
            raise GrowthTableError(
                f"{where}, column {name}: {text!r} 不是 {lo:g}–{hi:g} "
                f"m³/ha/yr 的生长量 / is not a growth between "
                f"{lo:g} and {hi:g} m³/ha/yr"
                + (
                    "; 无项目时不生长则填 0 / write 0 where the land grew "
                    "nothing without the project"
                    if name == "baseline_m3_ha_yr"
                    else ""
                )
                + "."
            )
        values.append(value)
    if not str(cells["source"]).strip():
        raise GrowthTableError(
            f"{where}, column source: 来源为空 / empty; name the publication "
            "or survey the growth comes from."
        )
    return [*ages, *values]


def _check_growth_ages(out: pd.DataFrame, source: str) -> None:
    """Refuse gaps and overlaps of ages per project type and forest type."""
    for (pt, ft), group in out.groupby(["project_type", "forest_type"], sort=False):
        expect = 1
        for row in group.sort_values("age_from").itertuples():
            if row.age_from != expect:
                kind = "overlap" if row.age_from < expect else "gap"
                zh = "重叠" if kind == "overlap" else "缺年"
                raise GrowthTableError(
                    f"{source}: {pt}/{ft}: 第{expect}年{zh} / ages {kind} at year "
                    f"{expect} (row {int(row.Index) + 2} starts at "
                    f"{row.age_from}); give each year since the work once, from "
                    "1 without gaps."
                )
            expect = row.age_to + 1


def _growth_project_types(cells: pd.Series, known: set, rules) -> list:
    """Project-type code of each cell: a code as is, else ``--type``'s words."""
    text = cells.astype(str).str.strip()
    mapped = map_project_types(text.tolist(), rules=rules)
    return [
        t if t in known else (None if pd.isna(m) else str(m))
        for t, m in zip(text.tolist(), list(mapped), strict=True)
    ]


def read_growth_table(path, *, rules=None) -> pd.DataFrame:
    """Read and check a user growth (yield) table (CSV in UTF-8/GBK, or Excel).

    Parameters
    ----------
    path : str or Path
        The table: forest type, age (years) and stock volume (m³/ha).
    rules : str or Path, optional
        A project-type table replacing ``data/project_types.csv``.

    Format: :func:`validate_growth_table`; an illustrative example is
    ``data/growth_table.EXAMPLE.csv``. Errors name the file, row and column.
    """
    path = Path(path)
    if not path.is_file():
        raise GrowthTableError(f"{path}: 生长表不存在 / no such file (growth table).")
    return validate_growth_table(
        read_bureau_table(path),
        source=path.name,
        project_types=read_project_types(rules).index,
        forest_types=read_forest_types()["forest_type"],
        rules=rules,
        species=species_lookup(read_forest_types()),
    )


def resolve_growth(growth, rules) -> tuple[str | None, pd.DataFrame | None]:
    """Return (what to show in the settings, checked table or None).

    *growth*: None, a checked table (DataFrame) or a growth-table file
    (:func:`read_growth_table`).
    """
    if growth is None:
        return None, None
    if isinstance(growth, pd.DataFrame):
        return "(table given in code)", growth
    return str(growth), read_growth_table(growth, rules=rules)


def net_increment_curves(growth: pd.DataFrame) -> dict[tuple[str, str], np.ndarray]:
    """Cumulative net increment per hectare by years since the work.

    Returns
    -------
    dict
        (project_type, forest_type) → array *c* with ``c[n]`` = Σ_{a=1..n}
        (growth(a) − baseline(a)) in m³/ha (``c[0]`` = 0), up to the last
        age the table covers.
    """
    curves: dict[tuple[str, str], np.ndarray] = {}
    for key, group in growth.groupby(["project_type", "forest_type"], sort=False):
        last = int(group["age_to"].max())
        net = np.zeros(last + 1)
        for row in group.itertuples():
            net[row.age_from : row.age_to + 1] = (
                row.growth_m3_ha_yr - row.baseline_m3_ha_yr
            )
        curves[(str(key[0]), str(key[1]))] = np.cumsum(net)
    return curves


def project_increment(
    pieces: pd.DataFrame,
    *,
    types: pd.DataFrame,
    forest_type: pd.Series,
    fallback: dict[str, str],
    growth: pd.DataFrame | None,
    end_year: int,
) -> pd.DataFrame:
    """Project increment ΔV (m³) of each piece, and how it was obtained.

    Parameters
    ----------
    pieces : DataFrame
        ``project_type``, ``year``, ``gross_area_mu`` (mu) and, when the
        delivery gave them, ``stock_before_m3`` and ``stock_after_m3``
        (m³, already multiplied by the piece's share of its polygon). The
        delivered standing stock ``stock_volume_m3`` is **not** used.
    types : DataFrame
        Project-type rules; types that add no stock volume (nurseries) get
        ΔV 0 and method ``none``.
    forest_type : Series
        Forest-type code of each piece (:func:`classify_species`).
    fallback : dict
        Forest type → its fallback type (``forest_types.csv``).
    growth : DataFrame or None
        A table checked by :func:`validate_growth_table`; None: no model.
    end_year : int
        Last growing season counted: a piece worked in year Y has grown
        ``end_year - Y`` seasons (at least 0).

    Returns
    -------
    pandas.DataFrame
        ``increment_m3`` (NaN where not estimable) and ``method``
        (:data:`MEASURED`, :data:`MODEL`, :data:`NOT_ESTIMABLE` or ``none``).

    Examples
    --------
    A before/after pair gives after − before:

    >>> import pandas as pd
    >>> from forestsink.reference import read_project_types
    >>> p = pd.DataFrame({"project_type": ["renovation"], "year": [2012],
    ...     "gross_area_mu": [15.0], "stock_before_m3": [40.0],
    ...     "stock_after_m3": [55.0]})
    >>> project_increment(p, types=read_project_types(),
    ...     forest_type=pd.Series(["masson_pine"]), fallback={}, growth=None,
    ...     end_year=2015)["increment_m3"].tolist()
    [15.0]
    """
    n = len(pieces)
    adds = types["adds_stock_volume"].reindex(pieces["project_type"]).fillna(False)
    adds = adds.to_numpy(dtype=bool)
    out = np.full(n, np.nan)
    method = np.full(n, NOT_ESTIMABLE, dtype=object)
    if growth is not None and n:
        curves = net_increment_curves(growth)
        years = np.clip(end_year - pieces["year"].astype("float64").to_numpy(), 0, None)
        area_ha = pieces["gross_area_mu"].to_numpy(dtype="float64") / 15.0
        ptypes = pieces["project_type"].astype(str).to_numpy()
        ftypes = pd.Series(forest_type).astype(str).to_numpy()
        for pt, ft in set(zip(ptypes, ftypes, strict=True)):
            code, seen = ft, set()
            while code and code not in seen and (pt, code) not in curves:
                seen.add(code)
                code = fallback.get(code) or ""
                code = "" if isinstance(code, float) else code
            curve = curves.get((pt, code))
            if curve is None:
                continue
            rows = np.flatnonzero((ptypes == pt) & (ftypes == ft) & np.isfinite(years))
            n_years = years[rows].astype(int)
            inside = n_years < len(curve)
            rows, n_years = rows[inside], n_years[inside]
            out[rows] = area_ha[rows] * curve[n_years]
            method[rows] = MODEL
    if {"stock_before_m3", "stock_after_m3"} <= set(pieces.columns):
        before = pd.to_numeric(pieces["stock_before_m3"], errors="coerce").to_numpy()
        after = pd.to_numeric(pieces["stock_after_m3"], errors="coerce").to_numpy()
        pair = np.isfinite(before) & np.isfinite(after)
        out[pair] = after[pair] - before[pair]
        method[pair] = MEASURED
    out[~adds] = 0.0
    method[~adds] = "none"
    return pd.DataFrame({"increment_m3": out, "method": method}, index=pieces.index)


#: Most Monte Carlo draws accepted. The draws are held in memory as arrays of
#: groups × draws and forest types × draws float64 (8 bytes each): for the 41
#: districts and city of Chongqing, 1,000,000 draws take 41 × 10⁶ × 8 B ≈
#: 330 MB, which a desktop still holds; more ends in a MemoryError.
MAX_DRAWS = 1_000_000


def check_draws(draws: int) -> None:
    """Refuse a Monte Carlo draw count below 1 or above :data:`MAX_DRAWS`."""
    if draws < 1:
        raise CarbonParameterError(
            f"draws {draws}: 蒙特卡洛次数至少为 1 / the draws must be at least 1 "
            "(10,000 is the default)."
        )
    if draws > MAX_DRAWS:
        raise CarbonParameterError(
            f"draws {draws:,}: 蒙特卡洛次数至多 {MAX_DRAWS:,} / at most "
            f"{MAX_DRAWS:,} draws: memory grows as groups × draws × 8 bytes "
            f"(about {41 * MAX_DRAWS * 8 / 1e6:,.0f} MB for the districts at "
            f"{MAX_DRAWS:,}); 10,000 draws give the 5 % and 95 % quantiles to "
            "well under 1 %."
        )


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
    check_draws(draws)
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
