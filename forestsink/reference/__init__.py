"""Loaders and validation for the reference data shipped under ``data/``.

Every table is read through one function here, checked (columns, types,
ranges, codes) and returned as a DataFrame. A malformed table raises
:class:`~forestsink.errors.ReferenceDataError` naming the file, the row and
the column, so a user who supplies their own rules or parameter file knows
what to fix.

Files (see ``data/README.md`` for sources, licences and dates):

==========================  =====================================================
``districts.csv``           38 county-level units: adcode, names, kind, region
``districts.gpkg``          their boundaries, EPSG:4490 (CGCS2000)
``district_aliases.csv``    every known way of naming a district -> adcode
``assessment_units.csv``    annex 1 of 渝府发〔2012〕102号: 39 units + city row
``plan_targets.csv``        numeric forest targets of sections 二 and 三(四)
``project_types.csv``       the seven project types and the area/volume rules
``carbon_parameters.csv``   D, BEF, R, CF per forest type group, with sources
``code_tables.csv``         ZAO_LIN_LB / G_CHENG_LB codes of 小班 exports
==========================  =====================================================

A user's own aliases file is merged over these tables by
:func:`forestsink.ingest.vocabulary.read_vocabulary`.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from forestsink.errors import ReferenceDataError, TableFileError, UnknownNameError
from forestsink.io import read_table

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "PROJECT_TYPES",
    "REGIONS",
    "DistrictResolver",
    "data_dir",
    "normalise_name",
    "read_assessment_units",
    "read_carbon_parameters",
    "read_district_aliases",
    "read_district_table",
    "read_districts",
    "read_plan_targets",
    "read_project_types",
    "resolve_district",
    "resolve_district_column",
    "validate_reference_data",
]

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

REGIONS: tuple[str, ...] = ("一小时经济圈", "渝东北翼", "渝东南翼")
"""The three regions of annex 1 of the plan."""

REGION_EN: dict[str, str] = {
    "一小时经济圈": "One-hour economic circle",
    "渝东北翼": "Northeast wing",
    "渝东南翼": "Southeast wing",
}


def data_dir() -> Path:
    """Return the folder holding the reference data.

    An installed wheel carries it as ``forestsink/_data``; a source checkout
    (editable install) reads the repository's ``data/`` folder.
    """
    here = Path(__file__).resolve().parent.parent  # the forestsink package
    for candidate in (here / "_data", here.parent / "data"):
        if (candidate / "districts.csv").is_file():
            return candidate
    raise ReferenceDataError(
        "forestsink reference data not found (looked in "
        f"{here / '_data'} and {here.parent / 'data'}); reinstall the package."
    )


def _path(name: str) -> Path:
    return data_dir() / name


#: validated reference tables by (loader, file): each is read and checked
#: (pandera) once per process
_TABLES: dict[tuple[str, Path], pd.DataFrame] = {}


def _table_cache(loader):
    """Keep what *loader* returns per file (see :func:`loaded_tables`)."""

    @functools.wraps(loader)
    def cached(path: Path) -> pd.DataFrame:
        key = (loader.__name__, Path(path))
        if key not in _TABLES:
            _TABLES[key] = loader(path)
        return _TABLES[key]

    return cached


def loaded_tables() -> dict:
    """Return the reference tables this process has read and validated."""
    return dict(_TABLES)


def preload_tables(tables: dict) -> None:
    """Take tables another process validated (:func:`loaded_tables`).

    A helper process (:mod:`forestsink.landing.chunked`) starts with these instead
    of validating the same files again (importing pandera alone takes about
    half a second).
    """
    _TABLES.update(tables)


# --------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------


def _read_csv(path: Path, *, dtype: dict | None = None) -> pd.DataFrame:
    """Read a UTF-8 CSV (BOM tolerated) with string defaults."""
    path = Path(path)
    if not path.is_file():
        raise ReferenceDataError(f"{path}: file not found.")
    try:
        return read_table(path, dtype=dtype or str)
    except TableFileError as err:
        raise ReferenceDataError(str(err)) from err


def _validate(df: pd.DataFrame, schema, path: Path) -> pd.DataFrame:
    """Validate *df* with a pandera schema; raise one readable error."""
    import pandera.errors as pa_errors

    try:
        return schema.validate(df, lazy=True)
    except pa_errors.SchemaErrors as err:
        cases = err.failure_cases
        lines = []
        for rec in cases.head(20).to_dict("records"):
            row = rec.get("index")
            where = f"row {int(row) + 2}" if pd.notna(row) else "table"
            column = rec.get("column") or rec.get("schema_context")
            lines.append(
                f"  {where}, column '{column}': value {rec.get('failure_case')!r}"
                f" fails {rec.get('check')}"
            )
        more = len(cases) - 20
        if more > 0:
            lines.append(f"  ... and {more} more")
        raise ReferenceDataError(
            f"{path}: {len(cases)} problem(s) in this reference table "
            "(row numbers count the header as row 1):\n"
            + "\n".join(lines)
            + "\nFix the table and run `forestsink check-data` again."
        ) from err


def _bool_column(df: pd.DataFrame, column: str, path: Path) -> pd.Series:
    mapping = {
        "true": True,
        "false": False,
        "1": True,
        "0": False,
        "yes": True,
        "no": False,
        "是": True,
        "否": False,
    }
    values = df[column].str.strip().str.lower()
    bad = ~values.isin(mapping)
    if bad.any():
        row = int(bad.idxmax())
        raise ReferenceDataError(
            f"{path}: row {row + 2}, column '{column}': value "
            f"{df[column].iloc[row]!r} is not a boolean; use true or false."
        )
    return values.map(mapping).astype(bool)


# --------------------------------------------------------------------------
# districts, names
# --------------------------------------------------------------------------


@_table_cache
def _district_table(path: Path) -> pd.DataFrame:
    import pandera.pandas as pa

    df = _read_csv(path)
    schema = pa.DataFrameSchema(
        {
            "adcode": pa.Column(str, pa.Check.str_matches(r"^500\d{3}$"), unique=True),
            "name_zh": pa.Column(str, pa.Check.str_length(2, 20), unique=True),
            "name_en": pa.Column(str, pa.Check.str_length(3, 60), unique=True),
            "kind": pa.Column(
                str, pa.Check.isin(["district", "county", "autonomous_county"])
            ),
            "region": pa.Column(str, pa.Check.isin(list(REGIONS))),
            "annex1_no": pa.Column(int, pa.Check.in_range(1, 39), coerce=True),
            "adcode_2011_2015": pa.Column(str, pa.Check.str_matches(r"^500\d{3}$")),
            "name_2012": pa.Column(str),
        },
        strict=True,
    )
    return _validate(df, schema, path)


def read_district_table() -> pd.DataFrame:
    """Return the 38 county-level units of Chongqing as a plain table.

    Returns
    -------
    pandas.DataFrame
        Columns ``adcode`` (6-digit str), ``name_zh``, ``name_en``, ``kind``
        (district / county / autonomous_county), ``region`` (annex 1 region),
        ``annex1_no``, ``adcode_2011_2015``, ``name_2012``. Sorted by adcode.
    """
    return _district_table(_path("districts.csv")).copy()


def read_districts() -> gpd.GeoDataFrame:
    """Return the 38 district boundaries as a GeoDataFrame.

    CRS is EPSG:4490 (CGCS2000 geographic, degrees). Converted from GCJ-02
    at extraction time (see ``data/README.md`` for the residual error).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``adcode``, ``name_zh``, ``name_en``, ``kind``, ``region``,
        ``region_en``, ``geometry`` (MultiPolygon).
    """
    import geopandas as gpd

    path = _path("districts.gpkg")
    if not path.is_file():
        raise ReferenceDataError(
            f"{path}: district boundaries missing; run scripts/extract_districts.py"
        )
    gdf = gpd.read_file(path, layer="districts", engine="pyogrio")
    table = read_district_table()
    if sorted(gdf["adcode"]) != sorted(table["adcode"]):
        raise ReferenceDataError(
            f"{path}: adcodes differ from districts.csv; re-run the extraction."
        )
    if gdf.crs is None or gdf.crs.to_epsg() != 4490:
        raise ReferenceDataError(f"{path}: expected EPSG:4490, found {gdf.crs}.")
    gdf["region_en"] = gdf["region"].map(REGION_EN)
    return gdf.sort_values("adcode").reset_index(drop=True)


_SPACE_RE = re.compile(r"\s+")


def normalise_name(name: object) -> str:
    """Normalise a district name for lookup.

    NFKC (full-width to half-width), strip all whitespace (annex 1 prints
    ``忠  县``), drop a leading ``重庆市`` / ``重庆``, lower-case Latin.

    Examples
    --------
    >>> normalise_name(" 重庆市开  县 ")
    '开县'
    >>> normalise_name("Kaizhou DISTRICT")
    'kaizhoudistrict'
    """
    text = unicodedata.normalize("NFKC", str(name))
    text = _SPACE_RE.sub("", text).lower()
    for prefix in ("重庆市", "重庆"):
        if text.startswith(prefix) and len(text) > len(prefix):
            text = text[len(prefix) :]
            break
    if text.endswith(".0") and text[:-2].isdigit():  # 500101.0 from a float column
        text = text[:-2]
    return text


@_table_cache
def _alias_table(path: Path) -> pd.DataFrame:
    import pandera.pandas as pa

    df = _read_csv(path)
    known = set(read_district_table()["adcode"])
    schema = pa.DataFrameSchema(
        {
            "alias": pa.Column(str, pa.Check.str_length(1, 60)),
            "adcode": pa.Column(str, pa.Check.isin(sorted(known))),
            "kind": pa.Column(
                str,
                pa.Check.isin(
                    [
                        "name",
                        "adcode",
                        "adcode_2011_2015",
                        "name_2012",
                        "short",
                        "pinyin",
                        "merged_unit",
                        "former_name",
                        "former_adcode",
                    ]
                ),
            ),
            "in_force": pa.Column(str, pa.Check.str_matches(r"^(\d{4}–(\d{4})?)?$")),
            "note": pa.Column(str),
            "source": pa.Column(str, pa.Check.str_length(3, 400)),
        },
        strict=True,
    )
    df = _validate(df, schema, path)
    df["key"] = df["alias"].map(normalise_name)
    clash = df.groupby("key")["adcode"].nunique()
    if (clash > 1).any():
        key = clash[clash > 1].index[0]
        raise ReferenceDataError(
            f"{path}: alias {key!r} points to several adcodes; make it unique."
        )
    return df


def read_district_aliases() -> pd.DataFrame:
    """Return the alias table: ``alias``, ``adcode``, ``kind``, ``note``, ``key``.

    ``key`` is :func:`normalise_name` of the alias. Kinds: ``name`` (today's
    full name), ``adcode``, ``adcode_2011_2015`` (code in force during the
    plan period), ``name_2012`` (name printed in the plan), ``short``,
    ``pinyin``, ``merged_unit`` (万盛 / 双桥, reported with 綦江区 / 大足区),
    ``former_name`` / ``former_adcode`` (every name and code in force since
    1997: 江津市 500381 … until 2006). ``in_force`` gives the years
    (``1997–2006``; ``2016–`` for a name still in force), ``source`` where
    each row comes from.
    """
    return _alias_table(_path("district_aliases.csv")).copy()


class DistrictResolver:
    """Resolve any known form of a district name or code to its adcode.

    Examples
    --------
    >>> r = DistrictResolver()
    >>> r.resolve("开县"), r.resolve("石柱"), r.resolve("500234")
    ('500154', '500240', '500154')
    """

    def __init__(
        self, aliases: pd.DataFrame | None = None, *, extra: list | None = None
    ) -> None:
        table = read_district_aliases() if aliases is None else aliases
        keys = table["key"].tolist()  # plain lists: Arrow values iterate slowly
        self._lookup: dict[str, str] = dict(
            zip(keys, table["adcode"].tolist(), strict=True)
        )
        self._display: dict[str, str] = dict(
            zip(keys, table["alias"].tolist(), strict=True)
        )
        if {"kind", "in_force"} <= set(table.columns):  # an old code: its old name
            old = table[table["kind"].isin(["former_name", "name_2012"])]
            pairs = zip(old["adcode"], old["in_force"], strict=True)
            named = dict(zip(pairs, old["alias"], strict=True))
            codes = table[table["kind"].isin(["former_adcode", "adcode_2011_2015"])]
            for key, code, alias, years in zip(
                codes["key"],
                codes["adcode"],
                codes["alias"],
                codes["in_force"],
                strict=True,
            ):
                if (code, years) in named:
                    self._display[key] = f"{alias} {named[code, years]} {years}"
        for key, code, alias in extra or ():  # a user's names: (key, adcode, alias)
            self._lookup[key] = code
            self._display[key] = alias
        districts = read_district_table().set_index("adcode")
        self.name_zh: dict[str, str] = districts["name_zh"].to_dict()
        self.name_en: dict[str, str] = districts["name_en"].to_dict()

    def resolve(self, name: object, *, where: str = "") -> str:
        """Return the 6-digit adcode for *name*.

        Parameters
        ----------
        name : str or int
            A district name in any known form (today's, 2012's, short,
            pinyin) or an adcode (today's or the one in force 2011–2015).
        where : str, optional (default: "")
            Context for the error message (file, row, column).

        Raises
        ------
        UnknownNameError
            If *name* is not known; the message lists the closest names.
        """
        key = normalise_name(name)
        try:
            return self._lookup[key]
        except KeyError:
            close = difflib.get_close_matches(key, list(self._lookup), n=5, cutoff=0.4)
            hint = ", ".join(self._hint(c) for c in close) or "(none close)"
            prefix = f"{where}: " if where else ""
            raise UnknownNameError(
                f"{prefix}未知区县 / unknown district {str(name)!r}. Closest known "
                f"names and codes: {hint}. Use a name or adcode from "
                "`forestsink districts`."
            ) from None

    def _hint(self, key: str) -> str:
        """Show a known alias with the code and name it stands for."""
        code = self._lookup[key]
        alias = self._display[key]
        name = self.name_zh.get(code, "")
        if alias in (code, name):
            return f"{code} {name}"
        return f"{alias} (→ {code} {name})"

    def lookup(self, name: object) -> str | None:
        """Return the adcode for *name*, or None when it is not known."""
        return self._lookup.get(normalise_name(name))

    def resolve_many(self, names: pd.Series) -> pd.Series:
        """Vectorised :meth:`resolve`; unknown names become ``<NA>``."""
        return map_uniques(names, lambda u: self._lookup.get(normalise_name(u)))


@functools.cache
def district_resolver() -> DistrictResolver:
    """Return the resolver of the shipped alias table (made once)."""
    return DistrictResolver()


def resolve_district_column(values, *, source: str) -> list[str]:
    """Resolve a column of district names; errors name the file row.

    Parameters
    ----------
    values : iterable
        District names or codes, one per table row (row 2 onwards).
    source : str
        File name for messages.
    """
    resolver = district_resolver()
    return [
        resolver.resolve(v, where=f"{source}: row {i + 2}")
        for i, v in enumerate(values)
    ]


def resolve_district(name: object) -> str:
    """Return the adcode for a district name in any known form.

    Examples
    --------
    >>> resolve_district("潼南县")
    '500152'
    """
    return district_resolver().resolve(name)


# --------------------------------------------------------------------------
# plan
# --------------------------------------------------------------------------


@_table_cache
def _units(path: Path) -> pd.DataFrame:
    import pandera.pandas as pa

    df = _read_csv(path)
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
    return _validate(df, schema, path)


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
    return _units(_path("assessment_units.csv")).copy()


@_table_cache
def _targets(path: Path) -> pd.DataFrame:
    import pandera.pandas as pa

    df = _read_csv(path)
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
    return _validate(df, schema, path)


def read_plan_targets() -> pd.DataFrame:
    """Return the plan's numeric forest targets, one row each with its section.

    Units: ``%`` for coverage, ``mu`` (亩) for areas, ``m3`` for stock volume.
    """
    return _targets(_path("plan_targets.csv")).copy()


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
    return _project_types(Path(path) if path else _path("project_types.csv")).copy()


@_table_cache
def _project_types(path: Path) -> pd.DataFrame:
    import pandera.pandas as pa

    df = _read_csv(path)
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
    df = _validate(df, schema, path)
    missing = set(PROJECT_TYPES) - set(df["project_type"])
    if missing:
        raise ReferenceDataError(
            f"{path}: project type(s) {sorted(missing)} missing; every one of "
            f"{list(PROJECT_TYPES)} needs a row."
        )
    for column in ("adds_forest_area", "adds_stock_volume"):
        df[column] = _bool_column(df, column, path)
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
    return _carbon(Path(path) if path else _path("carbon_parameters.csv")).copy()


def read_biomass_volume() -> pd.DataFrame:
    """Return the biomass–volume functions B = a·V + b per forest-type group.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`read_carbon_parameters`; ``parameter`` ``a``
        (t/m³), ``b`` (t/ha), and the ``default`` ``CF`` and ``R`` rows with
        the spread the whole-forest sink uses (``data/biomass_volume.csv``).
    """
    return _carbon(_path("biomass_volume.csv")).copy()


def read_parameter_sources() -> set[str]:
    """Source ids documented in ``carbon_parameters_sources.md`` (``## id:``)."""
    text = _path("carbon_parameters_sources.md").read_text(encoding="utf-8")
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


@_table_cache
def _carbon(path: Path) -> pd.DataFrame:
    import pandera.pandas as pa

    df = _read_csv(path)
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
    df = _validate(df, schema, path)
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
    if params or _path("carbon_parameters.csv").is_file():
        counts["carbon_parameters.csv"] = len(read_carbon_parameters(params))
    if _path("districts.gpkg").is_file():
        counts["districts.gpkg"] = len(read_districts())
    return counts


# --------------------------------------------------------------------------
# code tables of 小班 exports
# --------------------------------------------------------------------------


@_table_cache
def _code_table(path: Path) -> pd.DataFrame:
    import pandera.pandas as pa

    df = _read_csv(path)
    schema = pa.DataFrameSchema(
        {
            "field": pa.Column(str, pa.Check.isin(["ZAO_LIN_LB", "G_CHENG_LB"])),
            "code": pa.Column(str, pa.Check.str_matches(r"^\d{2,3}$")),
            "name_zh": pa.Column(str, pa.Check.str_length(1, 30)),
            "source": pa.Column(str, pa.Check.str_length(3, 400)),
        },
        strict=True,
    )
    return _validate(df, schema, path)


def read_code_table() -> pd.DataFrame:
    """Return the code tables of 小班 fields (``field, code, name_zh, source``).

    ``ZAO_LIN_LB`` (造林类别) and ``G_CHENG_LB`` (工程类别) codes and their
    names, from the forestmanager code table (``data/code_tables.csv``).
    """
    return _code_table(_path("code_tables.csv")).copy()


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
    return _value_ranges(_path("value_ranges.csv")).copy()


@_table_cache
def _value_ranges(path: Path) -> pd.DataFrame:
    import pandera.pandas as pa

    df = _read_csv(path)
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
    return _validate(df, schema, path).set_index("quantity")


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
    return _land_classes(Path(path) if path else _path("land_classes.csv")).copy()


@_table_cache
def _land_classes(path: Path) -> pd.DataFrame:
    import pandera.pandas as pa

    df = _read_csv(path)
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
    df = _validate(df, schema, path)
    for column in ("forest_land", "counts_as_forest"):
        df[column] = _bool_column(df, column, path)
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


def _data(name: str) -> pd.DataFrame:
    return _read_csv(data_dir() / name)


def read_forest_types() -> pd.DataFrame:
    """Forest-type groups with fallback chain and species words."""
    return _data("forest_types.csv")


def read_labels() -> pd.DataFrame:
    """Bilingual column labels with units (for Excel and the report)."""
    return _data("labels.csv").set_index("column")


def read_stock_attr_aliases() -> pd.DataFrame:
    """Delivered column names of before/after volumes and per-hectare stock."""
    return _data("stock_attr_aliases.csv")


def map_uniques(values, fn, dtype: str = "string") -> pd.Series:
    """Apply *fn* to each distinct non-missing value; missing stays ``<NA>``.

    Work is per distinct value (a delivery repeats a few district and type
    names thousands of times) and in plain Python, without a pandas step per
    value kind: a county's file of forty features costs microseconds, not the
    milliseconds of a dozen vectorised string operations. *fn* returns
    ``None`` for "no value".

    Parameters
    ----------
    values : array-like (Series, numpy array or list)
    fn : callable
    dtype : str, optional (default: "string")
        pandas dtype of the result (``"string"``, ``"Int64"`` ...).
    """
    try:
        codes, uniques = pd.factorize(values)
    except TypeError:  # unhashable values (lists from GeoJSON): one by one
        mapped = [None if _missing(v) else fn(v) for v in values]
        return pd.Series(pd.array(mapped, dtype=dtype))
    mapped = np.empty(len(uniques) + 1, dtype=object)
    # (numpy scalars kept: str(float32 1.1) is "1.1", as pandas writes it)
    mapped[:-1] = [fn(u) for u in list(uniques)]
    mapped[-1] = None  # code -1: missing
    return pd.Series(pd.array(mapped[np.asarray(codes)], dtype=dtype))


def _missing(value: object) -> bool:
    if isinstance(value, float):
        return math.isnan(value)
    return value is None or value is pd.NA
