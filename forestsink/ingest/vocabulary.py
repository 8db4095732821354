"""A user's own vocabulary (aliases file), merged over the shipped tables.

Deliveries name columns, districts, project types and programmes in ways no
shipped table can foresee. A bureau keeps its own words in an aliases file
(CSV in UTF-8 or GBK, or Excel) with the columns ``kind, alias, means, note``::

    kind,alias,means,note
    column,ZLLX,project_type,our county's 造林类型 field
    district,渝北,500112,
    project_type,封山育林,tending,
    programme,01,中央财政造林补贴,our G_CHENG_LB code 01

Where forestsink looks, later ones winning over earlier ones and every one
over the shipped tables:

1. the per-user file ``forestsink_aliases.csv`` in the platform's config
   folder (:func:`user_aliases_path`);
2. the per-store file ``forestsink_aliases.csv`` beside a GeoPackage store
   (:func:`store_aliases_path`), for ``ingest --store``;
3. every ``--aliases FILE`` given, in order.

Every row is checked; an error names the file, the row (as a spreadsheet
counts it, the header being row 1), the column and the value.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import click
import pandas as pd

from forestsink.errors import ReferenceDataError, UnknownNameError
from forestsink.ingest.columns import (
    ALL_CANONICAL,
    normalise_column,
    read_column_aliases,
)
from forestsink.ingest.values import normalise_word
from forestsink.reference import (
    PROJECT_TYPES,
    DistrictResolver,
    district_resolver,
    normalise_name,
    read_code_table,
    read_project_types,
    read_reference_csv,
)

#: what a row of a user's aliases file may name
VOCABULARY_KINDS: tuple[str, ...] = ("column", "district", "project_type", "programme")

#: file name of the per-store and per-user aliases files
ALIASES_FILE = "forestsink_aliases.csv"


def user_aliases_path() -> Path:
    r"""Return the per-user aliases file (it need not exist).

    ``<config folder>/forestsink_aliases.csv``, where the config folder is
    the platform's (``click.get_app_dir("forestsink")``: ``~/.config/
    forestsink`` on Linux, ``%APPDATA%\\forestsink`` on Windows).
    """
    return Path(click.get_app_dir("forestsink")) / ALIASES_FILE


def store_aliases_path(store: str | Path) -> Path | None:
    """Return the per-store aliases file: beside a GeoPackage store.

    None for a database store (``postgresql://…``): it has no folder.
    """
    text = str(store)
    if "://" in text:
        return None
    return Path(text).resolve().parent / ALIASES_FILE


@dataclass(frozen=True)
class Vocabulary:
    """The shipped vocabulary with a user's aliases files merged over it.

    Attributes
    ----------
    columns : pandas.DataFrame
        Column alias table in priority order (the user's rows first; a
        shipped row whose name the user redefined is dropped).
    districts : DistrictResolver
        District names and codes, the user's included.
    type_words : dict
        Normalised word -> project type, from the user's files.
    programme_words : dict
        Normalised word or code -> programme name (the G_CHENG_LB code table
        and the user's rows).
    files : tuple of Path
        The user's files merged, in order (later ones win).
    """

    columns: pd.DataFrame
    districts: DistrictResolver
    type_words: dict
    programme_words: dict
    files: tuple = ()


def read_vocabulary(paths=()) -> Vocabulary:
    """Return the shipped vocabulary with the user's aliases *paths* merged.

    Parameters
    ----------
    paths : iterable of str or Path, optional (default: none)
        User aliases files (CSV, UTF-8 or GBK, or Excel) with columns
        ``kind`` (``column``, ``district``, ``project_type``,
        ``programme``), ``alias`` (the word as deliveries write it),
        ``means`` (a canonical column; a district name or adcode; a project
        type code or name; a programme name) and optionally ``note``. Later
        files win over earlier ones, every file over the shipped tables.

    Raises
    ------
    ReferenceDataError
        Naming the file, the row (counted as a spreadsheet shows it, the
        header being row 1), the column and the value, then the fix.
    """
    files = tuple(Path(p) for p in paths if p)
    stamps = tuple((f, f.stat().st_mtime_ns if f.is_file() else 0) for f in files)
    return _vocabulary(stamps)


@functools.lru_cache(maxsize=8)
def _vocabulary(stamps: tuple) -> Vocabulary:
    shipped = read_column_aliases()
    district_rows, columns, types, programmes = [], [], {}, {}
    resolver = district_resolver()
    known_types = read_project_types()
    type_names = {
        normalise_word(w): code
        for code, row in known_types.iterrows()
        for w in (code, row["name_zh"], row["name_en"], *row["aliases_zh"])
    }
    for path, _ in stamps:
        table = _user_table(path)
        for i, rec in enumerate(table.to_dict("records")):
            where = f"{path}: 第{i + 2}行 row {i + 2}"
            kind, alias, means = rec["kind"], rec["alias"], rec["means"]
            if kind not in VOCABULARY_KINDS:
                raise ReferenceDataError(
                    f"{where}, column 'kind': value {kind!r} 不是已知类别 / is not "
                    f"one of {list(VOCABULARY_KINDS)}; correct the row."
                )
            if not alias or not means:
                empty = "alias" if not alias else "means"
                raise ReferenceDataError(
                    f"{where}, column '{empty}': 为空 / is empty; fill it or "
                    "delete the row."
                )
            if kind == "column":
                if means not in ALL_CANONICAL:
                    raise ReferenceDataError(
                        f"{where}, column 'means': value {means!r} 不是标准列名 / "
                        f"is not a canonical column; use one of {list(ALL_CANONICAL)}."
                    )
                columns.append({"canonical": means, "alias": alias, "note": ""})
            elif kind == "district":
                try:
                    code = resolver.resolve(means)
                except UnknownNameError as err:
                    raise ReferenceDataError(
                        f"{where}, column 'means': {err}"
                    ) from None
                district_rows.append((normalise_name(alias), code, alias))
            elif kind == "project_type":
                code = type_names.get(normalise_word(means))
                if code is None:
                    raise ReferenceDataError(
                        f"{where}, column 'means': value {means!r} 不是已知项目类型 "
                        f"/ is not a project type; use one of {list(PROJECT_TYPES)}."
                    )
                types[normalise_word(alias)] = code
            else:
                programmes[normalise_word(alias)] = means
    user_columns = pd.DataFrame(columns, columns=["canonical", "alias", "note"])
    user_columns["key"] = user_columns["alias"].map(normalise_column)
    if columns:  # (else the shipped table itself: its lookup is made once)
        keep = ~shipped["key"].isin(set(user_columns["key"]))
        merged = pd.concat(
            [user_columns[::-1].drop_duplicates("key"), shipped[keep]],
            ignore_index=True,
        )
    else:
        merged = shipped
    if district_rows:
        resolver = DistrictResolver(extra=district_rows)
    codes = read_code_table()
    words = {
        normalise_word(c): n
        for c, n in zip(
            codes.loc[codes["field"] == "G_CHENG_LB", "code"],
            codes.loc[codes["field"] == "G_CHENG_LB", "name_zh"],
            strict=True,
        )
    }
    words.update(programmes)
    return Vocabulary(
        columns=merged,
        districts=resolver,
        type_words=types,
        programme_words=words,
        files=tuple(p for p, _ in stamps),
    )


def _user_table(path: Path) -> pd.DataFrame:
    """Read one user aliases file (CSV in UTF-8 or GBK, or Excel)."""
    if not path.is_file():
        raise ReferenceDataError(f"{path}: 别名文件不存在 / aliases file not found.")
    try:
        if path.suffix.lower() in (".xlsx", ".xls"):
            table = pd.read_excel(path, dtype=str).fillna("")
        else:
            try:
                table = read_reference_csv(path)
            except ReferenceDataError:
                table = pd.read_csv(
                    path, dtype=str, keep_default_na=False, encoding="gb18030"
                )
    except (ValueError, OSError) as err:
        raise ReferenceDataError(
            f"{path}: 无法读取 / cannot be read as a table ({err}); save it as "
            "CSV (UTF-8) with columns kind, alias, means, note."
        ) from err
    table.columns = [str(c).strip() for c in table.columns]
    missing = [c for c in ("kind", "alias", "means") if c not in table.columns]
    if missing:
        raise ReferenceDataError(
            f"{path}: 缺少列 / column(s) {missing} missing (row 1, the header); "
            "the file needs the columns kind, alias, means (and optionally note)."
        )
    for column in ("kind", "alias", "means"):
        table[column] = table[column].astype(str).str.strip()
    return table
