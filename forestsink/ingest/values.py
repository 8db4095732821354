"""Normalise delivered attribute values: project types, years, areas, ids."""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
import unicodedata

import numpy as np
import pandas as pd

from forestsink.reference import (
    map_uniques,
    read_code_table,
    read_plan_targets,
    read_project_types,
)
from forestsink.units import M2_PER_MU, MU_PER_HA


def normalise_word(value: object) -> str:
    """Return *value* as a lookup key: NFKC, case-folded, without whitespace."""
    text = unicodedata.normalize("NFKC", str(value)).strip().casefold()
    return "".join(text.split())


@functools.cache
def _type_lookup(
    rules_path: str | None,
) -> tuple[dict[str, str], dict[str, str]]:
    """Exact words -> type, and the words a longer value may be made of -> type."""
    types = read_project_types(rules_path)
    exact: dict[str, str] = {}
    words: dict[str, str] = {}
    for code, row in types.iterrows():
        for word in [
            code,
            row["name_zh"],
            row["name_en"],
            *row["aliases_zh"],
            *row["aliases_en"],
            *row["zao_lin_lb_codes"],
        ]:
            exact[normalise_word(word)] = code
        for word in [row["name_zh"], *row["aliases_zh"]]:
            if len(word) >= 2:
                words[normalise_word(word)] = code
    return exact, words


#: programme names shorter than this are not used as a word by their prefix
_MIN_PREFIX = 4
#: characters that separate words in a value (kept out of the vocabulary)
_SEPARATORS = frozenset("-_/\\·・、,，.。:：;；()（）[]【】<>《》+&|")


@functools.cache
def _shipped_programme_words() -> frozenset[str]:
    """Programme words from the shipped tables (plan targets, G_CHENG_LB)."""
    codes = read_code_table()
    names = [
        *read_plan_targets()["programme_zh"].dropna().tolist(),
        *codes.loc[codes["field"] == "G_CHENG_LB", "name_zh"].tolist(),
    ]
    return frozenset(_programme_forms(names))


def _programme_forms(names) -> set[str]:
    """Normalised forms of programme names a value may contain as a word.

    Each name, each of its space-separated parts (``天然林保护 国家重点
    公益林``), each without a trailing ``工程``, and each prefix of at least
    four characters of those (``三峡库区`` of ``三峡库区生态屏障工程``,
    ``长防林三期`` of ``长防林三期工程``).
    """
    forms: set[str] = set()
    for name in names:
        text = unicodedata.normalize("NFKC", str(name)).strip().casefold()
        for part in [text, *text.split()]:
            word = "".join(part.split())
            for whole in {word, word.removesuffix("工程")}:
                if len(whole) >= 2:
                    forms.add(whole)
                forms.update(whole[:k] for k in range(_MIN_PREFIX, len(whole)))
    return forms


def _segment(key: str, tokens: dict[str, str | None]) -> set[str] | None:
    """Split *key* into vocabulary words (fewest words); return their types.

    *tokens* maps each known word to its type (``None`` for a programme
    word). Separators between words are allowed. Returns None when some part
    of *key* is no known word (a negation such as 非, 未实施 or 失败, a
    control character, any other word).
    """
    n = len(key)
    longest = max(map(len, tokens), default=0)
    best: list[tuple[int, frozenset] | None] = [None] * (n + 1)
    best[0] = (0, frozenset())
    for i in range(n):
        if best[i] is None:
            continue
        count, kinds = best[i]
        steps = []
        if key[i] in _SEPARATORS:
            steps.append((i + 1, kinds))
        for j in range(i + 2, min(n, i + longest) + 1):
            if key[i:j] in tokens:
                kind = tokens[key[i:j]]
                steps.append((j, kinds | {kind} if kind else kinds))
        for j, found in steps:
            if best[j] is None or best[j][0] > count + 1:
                best[j] = (count + 1, found)
    return None if best[n] is None else set(best[n][1])


def as_text(values) -> pd.Series:
    """Values as text (``str()`` of each, as pandas' ``astype("string")``)."""
    return map_uniques(values, str)


def map_project_types(
    values,
    *,
    rules: str | None = None,
    words: dict | None = None,
    programmes=None,
) -> pd.Series:
    """Map delivered project-type words to canonical codes; unknown → ``<NA>``.

    A value is matched as a whole, never by a word somewhere inside it:

    1. a user's own word (*words*, normalised word -> type);
    2. a known word, code or name of a type (``data/project_types.csv``:
       name, aliases, ZAO_LIN_LB codes);
    3. a value made *entirely* of known words: type words of exactly one
       type, and programme names (``长防林三期低效林改造``,
       ``三峡库区生态屏障低效林改造`` = renovation). Programme words come from
       the shipped tables (``data/plan_targets.csv`` programmes,
       ``data/code_tables.csv`` G_CHENG_LB names: each name, its parts, the
       name without ``工程`` and its prefixes of 4 or more characters) and
       from *programmes* (the user's aliases file); separators such as
       ``-``, ``/`` or brackets may stand between words.

    Anything else is unknown and reported as such: a negation or outcome
    (``非人工造林``, ``人工造林(未实施)``, ``退耕还林失败``, ``...取消``), a
    control character inside a word (U+0001 in ``人工造林``), any word outside
    the vocabulary. Text is compared after NFKC normalisation, case folding
    and removal of spaces.

    Parameters
    ----------
    values : array-like
        Delivered values.
    rules : str, optional (default: shipped ``data/project_types.csv``)
        Project-type rules file.
    words : dict, optional (default: none)
        The user's type words (normalised word -> type code).
    programmes : iterable of str, optional (default: none)
        The user's programme words and names (the keys and values of
        ``Vocabulary.programme_words``).

    Returns
    -------
    pandas.Series
        Type codes (``string`` dtype), ``<NA>`` where unknown or missing.

    Examples
    --------
    >>> words = pd.Series(["退耕还林", "长防林三期低效林改造", "森林康养",
    ...                    "非人工造林", "人工造林(未实施)", "退耕还林失败"])
    >>> map_project_types(words).tolist()
    ['grain_to_green', 'renovation', <NA>, <NA>, <NA>, <NA>]
    """
    exact, type_words = _type_lookup(str(rules) if rules else None)
    own = words or {}
    tokens: dict[str, str | None] = dict.fromkeys(_shipped_programme_words())
    tokens.update(dict.fromkeys(_programme_forms(programmes or ())))
    tokens.update(type_words)
    tokens.update(own)

    def one(value: object) -> str | None:
        key = normalise_word(value)
        if key.endswith(".0") and key[:-2].isdigit():
            key = key[:-2]
        if key in own:
            return own[key]
        if key in exact:
            return exact[key]
        found = _segment(key, tokens)
        return found.pop() if found is not None and len(found) == 1 else None

    return map_uniques(values, one)


def map_programmes(values, words: dict) -> pd.Series:
    """Programme names: a code or word in *words* becomes its name.

    *words* maps normalised codes and words to programme names (the
    G_CHENG_LB code table and a user's rows); anything else is kept as
    written.

    Examples
    --------
    >>> map_programmes(["30", "天保工程"], {"30": "退耕还林"}).tolist()
    ['退耕还林', '天保工程']
    """

    def one(value: object) -> str | None:
        text = str(value).strip()
        key = normalise_word(text)
        if key.endswith(".0") and key[:-2].isdigit():
            key = key[:-2]
        return words.get(key, text) or None

    return map_uniques(values, one)


#: a year as text: up to 4 digits (2013, "2013年", "2013.0"), or a date
#: written yyyymmdd (20130512); nothing else (no exponents, no "2_013")
_YEAR_TEXT = re.compile(r"(\d{1,4}|\d{8})(?:\.0+)?年?")


def _year_number(value: object) -> int | None:
    """Return the whole number a delivered year value holds, or None."""
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        whole = math.isfinite(value) and float(value).is_integer()
        return int(value) if whole else None
    match = _YEAR_TEXT.fullmatch(unicodedata.normalize("NFKC", str(value)).strip())
    return int(match.group(1)) if match else None


def parse_year(value: object) -> int | None:
    """Return the year a delivered cell gives, or None.

    A year (``2014``, ``2014年``) or a date as ``yyyymmdd`` (only a real
    date); anything else, and a negative number, is None.
    """
    number = _year_number(value)
    if number is None or number < 0:
        return None
    if number < 10_000:
        return number
    try:  # yyyymmdd: only a real date
        return dt.datetime.strptime(f"{number:08d}", "%Y%m%d").year
    except ValueError:
        return None


def parse_years(values) -> pd.Series:
    """Parse years: ``2013``, ``"2013"``, ``2013.0``, ``"2013年"``, ``20130512``.

    Unparseable values become ``<NA>`` (reported by validation): also text
    that Python's ``float`` would read but no one writes as a year
    (``"2.013e3"``, ``"2_013"``) and eight digits that are not a date
    (``20139999``).

    Examples
    --------
    >>> parse_years(pd.Series(["2013年", 2013.0, "20130512", "2.013e3", "2_013",
    ...                        20139999, "２０１３"])).tolist()
    [2013, 2013, 2013, <NA>, <NA>, <NA>, 2013]
    """
    return map_uniques(values, parse_year, "Int64")


def _project_id(value: object) -> str | None:
    text = str(value).strip()
    if text.endswith(".0") and text[:-2].isdecimal():  # from a float column
        text = text[:-2]
    return text or None


def clean_ids(values) -> pd.Series:
    """Project ids as stripped strings; ``12.0`` (a float column) becomes ``12``."""
    return map_uniques(values, _project_id)


AREA_FACTORS_TO_MU = {"mu": 1.0, "ha": MU_PER_HA, "m2": 1.0 / M2_PER_MU}


def infer_area_unit(reported, geometry_mu: np.ndarray) -> tuple[str, float]:
    """Guess whether an area column is in mu, ha or m² from the geometry.

    Returns the unit whose conversion brings the median ratio
    reported/geometry closest to 1, and that ratio.
    """
    values = np.asarray(pd.to_numeric(reported, errors="coerce"), dtype="float64")
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
