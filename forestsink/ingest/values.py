"""Normalise delivered attribute values: project types, years, areas, ids."""

from __future__ import annotations

import functools
import unicodedata

import numpy as np
import pandas as pd

from forestsink.units import M2_PER_MU, MU_PER_HA


def _norm(value: object) -> str:
    text = unicodedata.normalize("NFKC", str(value)).strip().casefold()
    return "".join(text.split())


@functools.cache
def _type_lookup(
    rules_path: str | None,
) -> tuple[dict[str, str], list[tuple[str, str]]]:
    from forestsink.reference import read_project_types

    types = read_project_types(rules_path)
    exact: dict[str, str] = {}
    words: list[tuple[str, str]] = []
    for code, row in types.iterrows():
        for word in [
            code,
            row["name_zh"],
            row["name_en"],
            *row["aliases_zh"],
            *row["aliases_en"],
            *row["zao_lin_lb_codes"],
        ]:
            exact[_norm(word)] = code
        for word in [row["name_zh"], *row["aliases_zh"]]:
            if len(word) >= 2:
                words.append((_norm(word), code))
    words.sort(key=lambda w: -len(w[0]))  # longest word first
    return exact, words


def map_project_types(values: pd.Series, *, rules: str | None = None) -> pd.Series:
    """Map delivered project-type words to canonical codes; unknown → ``<NA>``.

    Exact match of a known word, code or name first; otherwise, if the value
    contains known words of exactly one type (``长防林三期低效林改造``), that
    type.

    Examples
    --------
    >>> words = pd.Series(["退耕还林", "长江防护林低效林改造", "森林康养"])
    >>> map_project_types(words).tolist()
    ['grain_to_green', 'renovation', <NA>]
    """
    exact, words = _type_lookup(str(rules) if rules else None)

    def one(value: object) -> object:
        if pd.isna(value):
            return pd.NA
        key = _norm(value)
        if key.endswith(".0") and key[:-2].isdigit():
            key = key[:-2]
        if key in exact:
            return exact[key]
        found = {code for word, code in words if word in key}
        return found.pop() if len(found) == 1 else pd.NA

    uniques = pd.Series(values.dropna().unique())
    lookup = dict(zip(uniques, uniques.map(one), strict=True))
    return values.map(lookup).astype("string")


def parse_years(values: pd.Series) -> pd.Series:
    """Parse years: ``2013``, ``"2013"``, ``2013.0``, ``"2013年"``, ``20130512``.

    Unparseable values become ``<NA>`` (reported by validation).
    """
    text = values.astype("string").str.strip().str.replace("年", "", regex=False)
    num = pd.to_numeric(text, errors="coerce")
    num = num.where(num < 10_000, num // 10_000)  # yyyymmdd
    num = num.where(num == np.floor(num))
    return num.astype("Int64")


def clean_ids(values: pd.Series) -> pd.Series:
    """Project ids as stripped strings; ``12.0`` (a float column) becomes ``12``."""
    text = values.astype("string").str.strip()
    is_float_int = text.str.fullmatch(r"\d+\.0") == True  # noqa: E712 (NA-safe)
    text = text.where(~is_float_int, text.str[:-2])
    return text.where(text != "", pd.NA)


AREA_FACTORS_TO_MU = {"mu": 1.0, "ha": MU_PER_HA, "m2": 1.0 / M2_PER_MU}


def infer_area_unit(reported: pd.Series, geometry_mu: np.ndarray) -> tuple[str, float]:
    """Guess whether an area column is in mu, ha or m² from the geometry.

    Returns the unit whose conversion brings the median ratio
    reported/geometry closest to 1, and that ratio.
    """
    values = pd.to_numeric(reported, errors="coerce").to_numpy(dtype="float64")
    ok = np.isfinite(values) & (values > 0) & (geometry_mu > 0)
    if not ok.any():
        return "mu", float("nan")
    best, best_err, best_ratio = "mu", np.inf, np.nan
    for unit, factor in AREA_FACTORS_TO_MU.items():
        ratio = float(np.median(values[ok] * factor / geometry_mu[ok]))
        err = abs(np.log(ratio))
        if err < best_err:
            best, best_err, best_ratio = unit, err, ratio
    return best, best_ratio
