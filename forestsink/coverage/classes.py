"""Land-cover class tables: which code counts as forest, land, water or excluded.

Presets for CLCD, ESA WorldCover and GlobeLand30 live in
``data/landcover_classes.csv`` (one row per product and code, with its
``counts_as`` and a ``source``); a user's class file (CSV in UTF-8 or GBK,
Excel, JSON; columns ``code, counts_as``) overrides the preset
(``product="custom"`` needs one). :class:`ClassScheme` is the validated table
the counting and the tables use. Nothing here reads rasters.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from forestsink.errors import CoverageError
from forestsink.io import read_table
from forestsink.reference import data_dir

PRODUCTS: tuple[str, ...] = ("clcd", "worldcover", "globeland30", "custom")
"""Land-cover products with a class preset (``custom``: your class file only)."""


COUNTS_AS: tuple[str, ...] = ("forest", "shrub_forest", "land", "water", "excluded")
"""What a class counts as: forest and shrub_forest are forest; land is the rest
of the denominator; water and excluded are outside it."""


FOREST_KINDS: tuple[str, ...] = ("forest", "shrub_forest")


@dataclass(frozen=True)
class ClassScheme:
    """Which land-cover code counts as forest, land, water or excluded.

    Class *i* (0 ≤ i < n) is ``codes[i]``; index ``n`` is the raster's no-data
    value and ``n + 1`` any code the table does not know. Both count as
    ``excluded``.

    Attributes
    ----------
    product : str
        ``clcd``, ``worldcover``, ``globeland30`` or ``custom``.
    codes : tuple of int
        Raster values, sorted.
    name_zh, name_en : tuple of str
        Class names.
    counts_as : tuple of str
        One of :data:`COUNTS_AS` per code.
    source : tuple of str
        Where each row comes from.
    """

    product: str
    codes: tuple[int, ...]
    name_zh: tuple[str, ...]
    name_en: tuple[str, ...]
    counts_as: tuple[str, ...]
    source: tuple[str, ...] = ()

    @property
    def n(self) -> int:
        """Number of listed codes."""
        return len(self.codes)

    @property
    def size(self) -> int:
        """Number of class indices: listed codes, no data, unknown."""
        return self.n + 2

    @property
    def nodata_index(self) -> int:
        """Class index of the raster's no-data value."""
        return self.n

    @property
    def unknown_index(self) -> int:
        """Class index of codes the table does not list."""
        return self.n + 1

    def kinds(self) -> np.ndarray:
        """Return what each class index counts as (length :attr:`size`)."""
        return np.array([*self.counts_as, "excluded", "excluded"], dtype=object)

    def labels(self) -> tuple[list[str], list[str], list[str]]:
        """Return (code text, Chinese name, English name) per class index."""
        codes = [str(c) for c in self.codes] + ["nodata", "unknown"]
        return (
            codes,
            [*self.name_zh, "无数据", "未知代码"],
            [*self.name_en, "no data", "unknown code"],
        )

    def lut(self, nodata: float | None, *, max_code: int) -> np.ndarray:
        """Return a lookup table raster value -> class index.

        Parameters
        ----------
        nodata : float or None
            The raster's no-data value; it maps to :attr:`nodata_index` unless
            the table lists it (then the table's row wins).
        max_code : int
            Largest value the raster's data type can hold (255 or 65535).

        Returns
        -------
        numpy.ndarray
            ``uint8`` (or ``uint16``) array of length ``max_code + 1``.
        """
        dtype = np.uint8 if self.size < 256 else np.uint16
        lut = np.full(max_code + 1, self.unknown_index, dtype=dtype)
        if nodata is not None and float(nodata).is_integer():
            if 0 <= int(nodata) <= max_code:
                lut[int(nodata)] = self.nodata_index
        for i, code in enumerate(self.codes):
            if code <= max_code:
                lut[code] = i
        return lut

    def table(self) -> pd.DataFrame:
        """Return the scheme as a table (product, code, names, counts_as, source)."""
        return pd.DataFrame(
            {
                "product": self.product,
                "code": list(self.codes),
                "name_zh": list(self.name_zh),
                "name_en": list(self.name_en),
                "counts_as": list(self.counts_as),
                "source": list(self.source) or [""] * self.n,
            }
        )


def _classes_csv() -> Path:
    return data_dir() / "landcover_classes.csv"


def _read_class_file(path: Path) -> pd.DataFrame:
    """Read a class table (CSV in UTF-8 or GBK, Excel, JSON) as text."""
    if not path.is_file():
        raise CoverageError(f"{path}: class file not found.")
    return read_table(path, dtype=str)


def class_scheme_from_table(
    table: pd.DataFrame, *, product: str, source: str = "class table"
) -> ClassScheme:
    """Validate a class table and return a :class:`ClassScheme`.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``code`` (integer 0–65535, unique) and ``counts_as`` (one of
        :data:`COUNTS_AS`); optional ``name_zh``, ``name_en``, ``source``.
    product : str
        Product name recorded in the scheme.
    source : str, optional (default: "class table")
        Name of the table in error messages (usually its path).

    Returns
    -------
    ClassScheme

    Raises
    ------
    CoverageError
        Naming the row (header = row 1), the column and the value.
    """
    table = table.copy()
    table.columns = [str(c).strip().lower() for c in table.columns]
    for column in ("code", "counts_as"):
        if column not in table.columns:
            raise CoverageError(
                f"{source}: column '{column}' missing; a class table needs "
                "code, counts_as (and optionally name_zh, name_en, source)."
            )
    for column in ("name_zh", "name_en", "source"):
        if column not in table.columns:
            table[column] = ""
    codes = []
    for i, value in enumerate(table["code"].astype(str).str.strip()):
        try:
            code = int(float(value))
            if code != float(value) or not 0 <= code <= 65535:
                raise ValueError
        except ValueError as err:
            raise CoverageError(
                f"{source}: row {i + 2}, column 'code': value {value!r} is not an "
                "integer between 0 and 65535."
            ) from err
        codes.append(code)
    table["code"] = codes
    kinds = table["counts_as"].astype(str).str.strip().str.lower()
    kinds = kinds.replace({"nodata": "excluded", "nodata_excluded": "excluded"})
    bad = ~kinds.isin(COUNTS_AS)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise CoverageError(
            f"{source}: row {i + 2}, column 'counts_as': value "
            f"{table['counts_as'].iloc[i]!r} is not one of {', '.join(COUNTS_AS)}."
        )
    table["counts_as"] = kinds
    dup = table["code"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise CoverageError(
            f"{source}: row {i + 2}, column 'code': code {table['code'].iloc[i]} "
            "is listed twice; keep one row per code."
        )
    if not table["counts_as"].isin(FOREST_KINDS).any():
        raise CoverageError(
            f"{source}: no code counts as forest or shrub_forest; coverage would "
            "be zero. Set counts_as of the forest classes."
        )
    table = table.sort_values("code")
    return ClassScheme(
        product=product,
        codes=tuple(int(c) for c in table["code"]),
        name_zh=tuple(str(v) for v in table["name_zh"]),
        name_en=tuple(str(v) for v in table["name_en"]),
        counts_as=tuple(table["counts_as"]),
        source=tuple(str(v) for v in table["source"]),
    )


def read_class_scheme(
    product: str = "clcd",
    classes: str | Path | None = None,
    *,
    water_in_land: bool = False,
) -> ClassScheme:
    """Return the class scheme of a product, with a user's overrides.

    Parameters
    ----------
    product : str, optional (default: "clcd")
        One of :data:`PRODUCTS`. ``custom`` needs *classes*.
    classes : str or Path, optional (default: None)
        A CSV/XLSX class table (``code``, ``counts_as``, optional names). For a
        preset product its rows replace the preset's rows with the same code
        and add new codes; for ``custom`` it is the whole table. A ``product``
        column, if present, selects the rows of *product* when any match.
    water_in_land : bool, optional (default: False)
        Count water as land (in the denominator) instead of excluding it.

    Returns
    -------
    ClassScheme
    """
    product = product.strip().lower()
    if product not in PRODUCTS:
        raise CoverageError(
            f"unknown land-cover product {product!r}; use one of {', '.join(PRODUCTS)}"
            " (custom: pass your class table as classes=FILE).",
            option=("product", "classes"),
        )
    frames = []
    if product != "custom":
        preset = _read_class_file(_classes_csv())
        frames.append(preset[preset["product"].str.strip().str.lower() == product])
    elif classes is None:
        raise CoverageError(
            "product 'custom' needs a class table: pass classes=FILE with columns "
            "code, counts_as (forest, shrub_forest, land, water, excluded).",
            option="classes",
        )
    source = str(_classes_csv()) if classes is None else str(classes)
    if classes is not None:
        user = _read_class_file(Path(classes))
        user.columns = [str(c).strip().lower() for c in user.columns]
        if "product" in user.columns:
            mine = user["product"].astype(str).str.strip().str.lower() == product
            if mine.any():
                user = user[mine]
        if frames and "code" in user.columns:
            preset = frames[0]
            keep = ~preset["code"].astype(str).str.strip().isin(
                user["code"].astype(str).str.strip()
            )
            frames = [preset[keep]]
        user = user.assign(source=user.get("source", f"user file {Path(classes).name}"))
        frames.append(user)
    table = pd.concat(frames, ignore_index=True)
    scheme = class_scheme_from_table(table, product=product, source=source)
    if water_in_land:
        kinds = tuple("land" if k == "water" else k for k in scheme.counts_as)
        scheme = ClassScheme(
            scheme.product,
            scheme.codes,
            scheme.name_zh,
            scheme.name_en,
            kinds,
            scheme.source,
        )
    return scheme


def preset_codes() -> dict[str, set[int]]:
    """Codes each preset product's class table lists.

    Returns
    -------
    dict of str to set of int
        For every preset product (``clcd``, ``worldcover``, ``globeland30``)
        the class codes its table in ``data/landcover_classes.csv`` lists.
    """
    table = _read_class_file(_classes_csv())
    product = table["product"].str.strip().str.lower()
    codes = pd.to_numeric(table["code"], errors="coerce")
    return {
        p: {int(c) for c in codes[product == p].dropna()}
        for p in PRODUCTS
        if p != "custom"
    }
