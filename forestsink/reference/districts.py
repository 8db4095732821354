"""Districts of Chongqing: their table, boundaries, names and aliases.

:func:`read_district_table` (``districts.csv``), :func:`read_districts`
(``districts.gpkg``, EPSG:4490), :func:`read_district_aliases`
(``district_aliases.csv``), and :class:`DistrictResolver`, which turns any
known form of a district's name or code into its 6-digit adcode.
"""

from __future__ import annotations

import difflib
import functools
import re
import unicodedata
from pathlib import Path

import geopandas as gpd
import pandas as pd

from forestsink.errors import ReferenceDataError, UnknownNameError
from forestsink.reference.data import (
    data_path,
    pandera,
    read_reference_csv,
    table_cache,
    validate_table,
)
from forestsink.reference.uniques import map_uniques

REGIONS: tuple[str, ...] = ("一小时经济圈", "渝东北翼", "渝东南翼")
"""The three regions of annex 1 of the plan."""

REGION_EN: dict[str, str] = {
    "一小时经济圈": "One-hour economic circle",
    "渝东北翼": "Northeast wing",
    "渝东南翼": "Southeast wing",
}
"""English names of :data:`REGIONS`."""


@table_cache
def _district_table(path: Path) -> pd.DataFrame:
    pa = pandera()
    df = read_reference_csv(path)
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
    return validate_table(df, schema, path)


def read_district_table() -> pd.DataFrame:
    """Return the 38 county-level units of Chongqing as a plain table.

    Returns
    -------
    pandas.DataFrame
        Columns ``adcode`` (6-digit str), ``name_zh``, ``name_en``, ``kind``
        (district / county / autonomous_county), ``region`` (annex 1 region),
        ``annex1_no``, ``adcode_2011_2015``, ``name_2012``. Sorted by adcode.
    """
    return _district_table(data_path("districts.csv")).copy()


def read_districts() -> gpd.GeoDataFrame:
    """Return the 38 district boundaries as a GeoDataFrame.

    CRS is EPSG:4490 (CGCS2000 geographic, degrees). Converted from GCJ-02
    at extraction time (see ``data/README.md`` for the residual error).
    Read once per process and file version (path, modification time and
    size): each call returns a copy.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``adcode``, ``name_zh``, ``name_en``, ``kind``, ``region``,
        ``region_en``, ``geometry`` (MultiPolygon).
    """
    path = data_path("districts.gpkg")
    if not path.is_file():
        raise ReferenceDataError(
            f"{path}: district boundaries missing; run scripts/extract_districts.py"
        )
    stat = path.stat()
    # a copy: the caller may change it; the geometries (immutable) are shared,
    # so the checks recognise the same boundaries (validate.placement)
    return _district_layer(path, stat.st_mtime_ns, stat.st_size).copy()


@functools.lru_cache(maxsize=4)
def _district_layer(path: Path, mtime_ns: int, size: int) -> gpd.GeoDataFrame:
    """Read and check the boundaries once per file and version (mtime, size)."""
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


@table_cache
def _alias_table(path: Path) -> pd.DataFrame:
    pa = pandera()
    df = read_reference_csv(path)
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
    df = validate_table(df, schema, path)
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
    return _alias_table(data_path("district_aliases.csv")).copy()


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

    Parameters
    ----------
    name : str
        A name in Chinese or English, current or old (县 before it became a
        区), or a 6-digit adcode.

    Examples
    --------
    >>> resolve_district("潼南县")
    '500152'
    """
    return district_resolver().resolve(name)
