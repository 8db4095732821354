"""The shipped reference tables other than the districts, each read and checked.

The plan (annex 1 assessment units, numeric targets), project types and
their rules, carbon parameters and biomass–volume functions, the code tables
of 小班 exports, value ranges of delivered numbers, land-class codes, forest
types, column labels and stock-attribute aliases; and
:func:`validate_reference_data`, which loads and checks them all.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from forestsink.errors import ReferenceDataError
from forestsink.reference.data import (
    bool_column,
    data_path,
    pandera,
    read_reference_csv,
    read_shipped_csv,
    table_cache,
    validate_table,
)
from forestsink.reference.districts import (
    REGIONS,
    read_district_aliases,
    read_district_table,
    read_districts,
)

PROJECT_TYPES: tuple[str, ...] = (
    "afforestation",
    "renovation",
    "grain_to_green",
    "rocky_desertification",
    "public_welfare",
    "tending",
    "nursery",
)
"""Canonical project-type codes (see ``data/project_types.csv``)."""


# --------------------------------------------------------------------------
# plan
# --------------------------------------------------------------------------


@table_cache
def _units(path: Path) -> pd.DataFrame:
    pa = pandera()
    df = read_reference_csv(path)
    known = set(read_district_table()["adcode"]) | {"all"}
    schema = pa.DataFrameSchema(
        {
            "unit_no": pa.Column(
                int, pa.Check.in_range(0, 39), unique=True, coerce=True
            ),
            "name_printed": pa.Column(str),
            "name_zh": pa.Column(str, unique=True),
            "name_en": pa.Column(str),
            "region": pa.Column(str, pa.Check.isin([*REGIONS, ""])),
            "co2_reduction_printed": pa.Column(str),
            "co2_reduction_pct": pa.Column(
                float, pa.Check.in_range(0, 100), coerce=True
            ),
            "co2_reduction_qualifier": pa.Column(str, pa.Check.isin(["eq", "gt"])),
            "energy_reduction_printed": pa.Column(str),
            "energy_reduction_pct": pa.Column(
                float, pa.Check.in_range(0, 100), coerce=True
            ),
            "adcodes": pa.Column(
                str,
                pa.Check(
                    lambda s: s.str.split("|").map(lambda xs: set(xs) <= known),
                    element_wise=False,
                    error="unknown adcode",
                ),
            ),
            "polygon_relation": pa.Column(
                str, pa.Check.isin(["city", "same", "includes", "inside"])
            ),
            "source": pa.Column(str),
            "note": pa.Column(str),
        },
        strict=True,
    )
    return validate_table(df, schema, path)


def read_assessment_units() -> pd.DataFrame:
    """Return annex 1 of the plan: the city row (``unit_no`` 0) and 39 units.

    ``co2_reduction_printed`` / ``energy_reduction_printed`` keep the text
    exactly as printed (``＞17``); ``*_pct`` are numbers and
    ``co2_reduction_qualifier`` is ``gt`` where the plan says "more than".
    ``adcodes`` lists the district polygon(s) a unit is reported on;
    ``polygon_relation`` says how: ``same``, ``includes`` (大足区 includes
    双桥经开区), ``inside`` (万盛经开区 lies inside 綦江区 and has no boundary of
    its own, so it is reported together with 綦江区 and flagged).
    """
    return _units(data_path("assessment_units.csv")).copy()


@table_cache
def _targets(path: Path) -> pd.DataFrame:
    pa = pandera()
    df = read_reference_csv(path)
    schema = pa.DataFrameSchema(
        {
            "target_id": pa.Column(
                str, pa.Check.str_matches(r"^[a-z0-9_]+$"), unique=True
            ),
            "metric": pa.Column(
                str,
                pa.Check.isin(
                    [
                        "forest_coverage_pct",
                        "new_forest_area_mu",
                        "new_stock_volume_m3",
                        "project_area_mu",
                        "protected_area_mu",
                    ]
                ),
            ),
            "value": pa.Column(float, pa.Check.gt(0), coerce=True),
            "unit": pa.Column(str, pa.Check.isin(["%", "mu", "m3"])),
            "qualifier": pa.Column(str, pa.Check.isin(["eq", "about", "gt"])),
            "period_start": pa.Column(int, pa.Check.in_range(2000, 2100), coerce=True),
            "period_end": pa.Column(int, pa.Check.in_range(2000, 2100), coerce=True),
            "scope": pa.Column(str, pa.Check.isin(["city", "programme", "protection"])),
            "programme_zh": pa.Column(str),
            "programme_en": pa.Column(str),
            "project_type": pa.Column(str, pa.Check.isin([*PROJECT_TYPES, ""])),
            "section": pa.Column(str, pa.Check.str_length(1, 20)),
            "quote": pa.Column(str, pa.Check.str_length(2, 200)),
        },
        strict=True,
    )
    return validate_table(df, schema, path)


def read_plan_targets() -> pd.DataFrame:
    """Return the plan's numeric forest targets, one row each with its section.

    Units: ``%`` for coverage, ``mu`` (亩) for areas, ``m3`` for stock volume.
    """
    return _targets(data_path("plan_targets.csv")).copy()


# --------------------------------------------------------------------------
# project types and rules
# --------------------------------------------------------------------------


def read_project_types(path: str | Path | None = None) -> pd.DataFrame:
    """Return the project types and which of them add forest area or volume.

    Parameters
    ----------
    path : str or Path, optional (default: the shipped ``project_types.csv``)
        A user's own rules file with the same columns overrides the default.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``project_type``; columns ``name_zh``, ``name_en``,
        ``adds_forest_area`` (bool), ``adds_stock_volume`` (bool),
        ``aliases_zh`` and ``aliases_en`` (lists of words deliveries use),
        ``zao_lin_lb_codes`` (list), ``rationale``.
    """
    return _project_types(Path(path) if path else data_path("project_types.csv")).copy()


@table_cache
def _project_types(path: Path) -> pd.DataFrame:
    pa = pandera()
    df = read_reference_csv(path)
    schema = pa.DataFrameSchema(
        {
            "project_type": pa.Column(
                str, pa.Check.isin(list(PROJECT_TYPES)), unique=True
            ),
            "name_zh": pa.Column(str, pa.Check.str_length(1, 30)),
            "name_en": pa.Column(str, pa.Check.str_length(1, 80)),
            "adds_forest_area": pa.Column(str),
            "adds_stock_volume": pa.Column(str),
            "aliases_zh": pa.Column(str),
            "aliases_en": pa.Column(str),
            "zao_lin_lb_codes": pa.Column(
                str, pa.Check.str_matches(r"^(\d+(\|\d+)*)?$")
            ),
            "rationale": pa.Column(str, pa.Check.str_length(10, 1000)),
        },
        strict=True,
    )
    df = validate_table(df, schema, path)
    missing = set(PROJECT_TYPES) - set(df["project_type"])
    if missing:
        raise ReferenceDataError(
            f"{path}: project type(s) {sorted(missing)} missing; every one of "
            f"{list(PROJECT_TYPES)} needs a row."
        )
    for column in ("adds_forest_area", "adds_stock_volume"):
        df[column] = bool_column(df, column, path)
    for column in ("aliases_zh", "aliases_en", "zao_lin_lb_codes"):
        df[column] = df[column].map(lambda s: [w.strip() for w in s.split("|") if w])
    words = df.explode("aliases_zh").dropna(subset=["aliases_zh"])
    dup = words[words.duplicated("aliases_zh", keep=False)]
    if not dup.empty:
        raise ReferenceDataError(
            f"{path}: the word {dup['aliases_zh'].iloc[0]!r} is listed for several "
            f"types ({sorted(set(dup['project_type']))}); each word must map to one."
        )
    return df.set_index("project_type")


# --------------------------------------------------------------------------
# carbon parameters
# --------------------------------------------------------------------------

CARBON_PARAMETERS: tuple[str, ...] = ("D", "BEF", "R", "CF")


def read_carbon_parameters(path: str | Path | None = None) -> pd.DataFrame:
    """Return carbon parameters per forest type group, one row per parameter.

    Parameters
    ----------
    path : str or Path, optional (default: the shipped ``carbon_parameters.csv``)
        A user's parameter file with the same columns.

    Returns
    -------
    pandas.DataFrame
        Columns ``forest_type``, ``name_zh``, ``name_en``, ``parameter``
        (D t/m³, BEF, R, CF dimensionless; ``BVF`` t/m³, the slope of a
        biomass–volume function B = a·V + b that replaces D × BEF; or
        ``growth_m3_ha_yr``),
        ``value``, ``unit``, ``low``, ``high``, ``sd`` (floats, NaN where the
        source gives none), ``distribution``, ``source_id``, ``note``.
    """
    return _carbon(Path(path) if path else data_path("carbon_parameters.csv")).copy()


def read_biomass_volume() -> pd.DataFrame:
    """Return the biomass–volume functions B = a·V + b per forest-type group.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`read_carbon_parameters`; ``parameter`` ``a``
        (t/m³), ``b`` (t/ha), and the ``default`` ``CF`` and ``R`` rows with
        the spread the whole-forest sink uses (``data/biomass_volume.csv``).
    """
    return _carbon(data_path("biomass_volume.csv")).copy()


def read_parameter_sources() -> set[str]:
    """Source ids documented in ``carbon_parameters_sources.md`` (``## id:``)."""
    text = data_path("carbon_parameters_sources.md").read_text(encoding="utf-8")
    return set(re.findall(r"^## ([A-Za-z0-9_.]+):", text, flags=re.MULTILINE))


_PARAM_RANGES = {
    "D": (0.1, 1.2),
    "BEF": (1.0, 4.0),
    "R": (0.05, 1.0),
    "CF": (0.3, 0.6),
    "BVF": (0.2, 2.0),
    "growth_m3_ha_yr": (0.0, 60.0),
    # whole-forest sink (forestsink.carbon): B = a·V + b, gain–loss rates,
    # per-area biomass of bamboo and shrub
    "a": (0.2, 2.0),
    "b": (0.0, 100.0),
    "GR": (0.0, 0.5),
    "CR": (0.0, 0.5),
    "biomass_t_ha": (0.0, 500.0),
}


@table_cache
def _carbon(path: Path) -> pd.DataFrame:
    pa = pandera()
    df = read_reference_csv(path)
    num = {"nullable": True, "coerce": True}
    schema = pa.DataFrameSchema(
        {
            "forest_type": pa.Column(str, pa.Check.str_matches(r"^[a-z_]+$")),
            "name_zh": pa.Column(str),
            "name_en": pa.Column(str),
            "parameter": pa.Column(str, pa.Check.isin(list(_PARAM_RANGES))),
            "value": pa.Column(float, coerce=True),
            "unit": pa.Column(str),
            "low": pa.Column(float, **num),
            "high": pa.Column(float, **num),
            "sd": pa.Column(float, pa.Check.ge(0), **num),
            "distribution": pa.Column(
                str, pa.Check.isin(["", "normal", "uniform", "triangular"])
            ),
            "source_id": pa.Column(str, pa.Check.str_length(1, 80)),
            "note": pa.Column(str),
        },
        strict=True,
    )
    df = df.replace({"low": {"": None}, "high": {"": None}, "sd": {"": None}})
    df = validate_table(df, schema, path)
    for i, row in df.iterrows():
        lo, hi = _PARAM_RANGES[row["parameter"]]
        where = f"{path}: row {int(i) + 2} ({row['forest_type']}, {row['parameter']})"
        if not lo <= row["value"] <= hi:
            raise ReferenceDataError(
                f"{where}: value {row['value']} outside the plausible range "
                f"[{lo}, {hi}]; check the unit (D in t/m³, CF as a fraction)."
            )
        if (
            pd.notna(row["low"])
            and pd.notna(row["high"])
            and not (row["low"] <= row["value"] <= row["high"])
        ):
            raise ReferenceDataError(
                f"{where}: value {row['value']} not inside [low, high] = "
                f"[{row['low']}, {row['high']}]."
            )
    dup = df.duplicated(["forest_type", "parameter"], keep=False)
    if dup.any():
        row = df[dup].iloc[0]
        raise ReferenceDataError(
            f"{path}: {row['forest_type']} / {row['parameter']} given twice; keep one."
        )
    return df


# --------------------------------------------------------------------------


def validate_reference_data(
    *, rules: str | Path | None = None, params: str | Path | None = None
) -> dict[str, int]:
    """Load and check every reference table; return row counts per table.

    Parameters
    ----------
    rules : str or Path, optional
        A project-type table replacing ``data/project_types.csv``.
    params : str or Path, optional
        A carbon-parameter table replacing ``data/carbon_parameters.csv``.

    Raises
    ------
    ReferenceDataError
        On the first malformed table, naming the file, row and column.
    """
    counts = {
        "districts.csv": len(read_district_table()),
        "district_aliases.csv": len(read_district_aliases()),
        "assessment_units.csv": len(read_assessment_units()),
        "plan_targets.csv": len(read_plan_targets()),
        "project_types.csv": len(read_project_types(rules)),
        "code_tables.csv": len(read_code_table()),
        "value_ranges.csv": len(read_value_ranges()),
        "land_classes.csv": len(read_land_classes()),
    }
    if params or data_path("carbon_parameters.csv").is_file():
        counts["carbon_parameters.csv"] = len(read_carbon_parameters(params))
    if data_path("districts.gpkg").is_file():
        counts["districts.gpkg"] = len(read_districts())
    return counts


# --------------------------------------------------------------------------
# code tables of 小班 exports
# --------------------------------------------------------------------------


@table_cache
def _code_table(path: Path) -> pd.DataFrame:
    pa = pandera()
    df = read_reference_csv(path)
    schema = pa.DataFrameSchema(
        {
            "field": pa.Column(str, pa.Check.isin(["ZAO_LIN_LB", "G_CHENG_LB"])),
            "code": pa.Column(str, pa.Check.str_matches(r"^\d{2,3}$")),
            "name_zh": pa.Column(str, pa.Check.str_length(1, 30)),
            "source": pa.Column(str, pa.Check.str_length(3, 400)),
        },
        strict=True,
    )
    return validate_table(df, schema, path)


def read_code_table() -> pd.DataFrame:
    """Return the code tables of 小班 fields (``field, code, name_zh, source``).

    ``ZAO_LIN_LB`` (造林类别) and ``G_CHENG_LB`` (工程类别) codes and their
    names, from the forestmanager code table (``data/code_tables.csv``).
    """
    return _code_table(data_path("code_tables.csv")).copy()


def read_value_ranges() -> pd.DataFrame:
    """Return the plausible and possible ranges of delivered numbers.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``quantity`` (``stock_volume_per_ha`` in m³/ha,
        ``area_reported_mu`` in mu), with float columns
        ``impossible_below``, ``implausible_above``, ``impossible_above``
        (NaN: no bound), ``unit``, ``rationale`` and ``source_id``. Values
        outside the impossible bounds are errors, above the implausible bound
        warnings (see :func:`forestsink.validate.validate_delivery`).
    """
    return _value_ranges(data_path("value_ranges.csv")).copy()


@table_cache
def _value_ranges(path: Path) -> pd.DataFrame:
    pa = pandera()
    df = read_reference_csv(path)
    num = {"nullable": True, "coerce": True}
    schema = pa.DataFrameSchema(
        {
            "quantity": pa.Column(str, unique=True),
            "unit": pa.Column(str),
            "impossible_below": pa.Column(float, **num),
            "implausible_above": pa.Column(float, pa.Check.gt(0), **num),
            "impossible_above": pa.Column(float, pa.Check.gt(0), **num),
            "rationale": pa.Column(str),
            "source_id": pa.Column(str),
        },
        strict=True,
    )
    bounds = ("impossible_below", "implausible_above", "impossible_above")
    df = df.replace({c: {"": None} for c in bounds})
    return validate_table(df, schema, path).set_index("quantity")


LAND_SCHEMES = ("ldbg", "sandiao", "legacy")
"""Land-class code schemes in ``data/land_classes.csv``: the forest-land
change survey / forest-resource map (林地变更调查, 4 digits, 0111 …), the
third land survey's forestry subdivision (三调, 0301 / 030301 …) and the older
forest-inventory codes (1111 …)."""


def read_land_classes(path: str | Path | None = None) -> pd.DataFrame:
    """Return the land-class code tables, one row per code and scheme.

    Parameters
    ----------
    path : str or Path, optional (default: the shipped ``land_classes.csv``)
        A user's table with the same columns (codes of another scheme).

    Returns
    -------
    pandas.DataFrame
        Columns ``scheme`` (see :data:`LAND_SCHEMES`), ``code`` (text, as
        written in the scheme; a code of one or two digits is a prefix:
        ``02`` is every 02xx code), ``name_zh``, ``name_en``, ``land_group``,
        ``forest_land`` and ``counts_as_forest`` (bool: in the forest area
        that coverage counts), ``source_id``, ``note``.
    """
    return _land_classes(Path(path) if path else data_path("land_classes.csv")).copy()


@table_cache
def _land_classes(path: Path) -> pd.DataFrame:
    pa = pandera()
    df = read_reference_csv(path)
    schema = pa.DataFrameSchema(
        {
            "scheme": pa.Column(str, pa.Check.isin(list(LAND_SCHEMES))),
            "code": pa.Column(str, pa.Check.str_matches(r"^\d{1,6}$")),
            "name_zh": pa.Column(str, pa.Check.str_length(1, 40)),
            "name_en": pa.Column(str),
            "land_group": pa.Column(str, pa.Check.str_matches(r"^[a-z_]+$")),
            "forest_land": pa.Column(str),
            "counts_as_forest": pa.Column(str),
            "source_id": pa.Column(str, pa.Check.str_length(1, 80)),
            "note": pa.Column(str),
        },
        strict=True,
    )
    df = validate_table(df, schema, path)
    for column in ("forest_land", "counts_as_forest"):
        df[column] = bool_column(df, column, path)
    twice = df.duplicated(["scheme", "code"], keep=False)
    if twice.any():
        rows = [int(i) + 2 for i in df.index[twice]]
        raise ReferenceDataError(
            f"{path}: rows {rows}: the same scheme and code twice; give each "
            "code once per scheme."
        )
    wrong = df["counts_as_forest"] & ~df["forest_land"]
    if wrong.any():
        rows = [int(i) + 2 for i in df.index[wrong]]
        raise ReferenceDataError(
            f"{path}: rows {rows}: counts_as_forest is true but forest_land "
            "false; forest is always forest land."
        )
    return df


def read_forest_types() -> pd.DataFrame:
    """Forest-type groups with fallback chain and species words."""
    return read_shipped_csv("forest_types.csv")


def read_labels() -> pd.DataFrame:
    """Bilingual column labels with units (for Excel and the report)."""
    return read_shipped_csv("labels.csv").set_index("column")


@table_cache
def _stock_attr_aliases(path: Path) -> pd.DataFrame:
    return read_reference_csv(path)


def read_stock_attr_aliases() -> pd.DataFrame:
    """Delivered column names of before/after volumes and per-hectare stock.

    Read once per process (every delivery's check asks for it: 4 % of a
    web worker's samples under the load test when read each time). The
    frame is shared: do not change it.
    """
    return _stock_attr_aliases(data_path("stock_attr_aliases.csv"))
