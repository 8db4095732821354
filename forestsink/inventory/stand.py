"""Area and standing stock by dominant species group × age group × origin.

The stand-structure table of the forest-resource statistics: for the arbor
forest (乔木林) of each district, area (mu) and standing stock (m³, Σ
HUO_LMGQXJ × ha or the 小班's own volume) per species group, age group and
origin. Pure computation over the per-class sums the store aggregates.

Decisions
---------
- **Species group**: the delivered dominant species (YOU_SHI_SZ) is matched
  to the groups of ``data/forest_types.csv`` by its words (马尾松, 杉木, 柏木,
  栎类 …; exact word first, then the longest word it contains). A value no
  group names — regional numeric SHU_ZHONG codes among them, whose table is
  not shipped — stays ``unrecognised`` with the value shown, never guessed.
- **Age group** (LING_ZU): 1–5 or the names 幼龄林 … 过熟林.
- **Origin** (QI_YUAN): codes 1x (and 1) natural, 2x (and 2) planted, 3x
  coppice (萌生), or the names 天然 / 人工; anything else ``unrecognised``.
"""

from __future__ import annotations

import pandas as pd

from forestsink.progress.growth import species_lookup

AGE_GROUPS = {
    "1": ("young", "幼龄林"),
    "2": ("middle", "中龄林"),
    "3": ("near_mature", "近熟林"),
    "4": ("mature", "成熟林"),
    "5": ("over_mature", "过熟林"),
}
ORIGINS = {"1": ("natural", "天然"), "2": ("planted", "人工"), "3": ("coppice", "萌生")}
UNRECOGNISED = "unrecognised"

STAND_COLUMNS = (
    "adcode",
    "year",
    "species_group",
    "species_group_zh",
    "species_values",
    "age_group",
    "age_group_zh",
    "origin",
    "origin_zh",
    "n_xiaoban",
    "area_mu",
    "stock_m3",
)


def _text(value) -> str:
    if value is None or pd.isna(value):
        return ""
    text = str(value).strip()
    return text[:-2] if text.endswith(".0") and text[:-2].isdigit() else text


def age_group(value) -> tuple[str, str]:
    """Return (code, Chinese name) of a LING_ZU value."""
    text = _text(value)
    if text in AGE_GROUPS:
        return AGE_GROUPS[text]
    for code, zh in AGE_GROUPS.values():
        if text and text in (zh, zh[:-1]):
            return code, zh
    return UNRECOGNISED, "未识别"


def origin(value) -> tuple[str, str]:
    """Return (code, Chinese name) of a QI_YUAN value."""
    text = _text(value)
    if text.isdigit() and text[0] in ORIGINS and len(text) <= 2:
        return ORIGINS[text[0]]
    for key, zh in (("1", "天然"), ("2", "人工"), ("3", "萌生")):
        if text and zh in text:
            return ORIGINS[key]
    return UNRECOGNISED, "未识别"


def species_groups(values: pd.Series, forest_types: pd.DataFrame) -> pd.Series:
    """Forest-type group of each dominant-species value, or ``unrecognised``."""
    lookup = species_lookup(forest_types)
    words = sorted(lookup, key=len, reverse=True)

    def one(value) -> str:
        text = _text(value).casefold()
        if not text:
            return UNRECOGNISED
        if text in lookup:
            return lookup[text]
        return next((lookup[w] for w in words if w in text), UNRECOGNISED)

    mapping = {u: one(u) for u in values.dropna().unique()}
    mapped = values.astype(object).map(mapping).astype(object)
    return mapped.where(mapped.notna(), UNRECOGNISED).astype(str)


def stand_table(
    sums: pd.DataFrame, *, forest_types: pd.DataFrame, year: int
) -> pd.DataFrame:
    """Area and stock of arbor forest by species group × age group × origin.

    Parameters
    ----------
    sums : pandas.DataFrame
        The store's ``inventory_sums`` by ``adcode, land_group, species,
        age_group, origin`` (or :func:`forestsink.inventory.stats.sums_by_class`).
    forest_types : pandas.DataFrame
        ``data/forest_types.csv`` (:func:`forestsink.progress.read_forest_types`).
    year : int
        Written into the ``year`` column.

    Returns
    -------
    pandas.DataFrame
        :data:`STAND_COLUMNS`, per district and for the city (500000);
        ``species_values`` lists the delivered values of each group.
    """
    arbor = sums[sums["land_group"] == "arbor"].copy()
    names = forest_types.set_index("forest_type")["name_zh"].to_dict()
    arbor["species_group"] = species_groups(arbor["species"], forest_types)
    ages = arbor["age_group"].map(age_group)
    origins = arbor["origin"].map(origin)
    arbor["age_group"] = [a for a, _ in ages]
    arbor["age_group_zh"] = [z for _, z in ages]
    arbor["origin"] = [o for o, _ in origins]
    arbor["origin_zh"] = [z for _, z in origins]
    arbor["stock_m3"] = arbor["stock_per_ha_m3"] + arbor["stock_total_m3"]
    arbor["species"] = arbor["species"].map(_text)
    keys = ["species_group", "age_group", "age_group_zh", "origin", "origin_zh"]

    def summarise(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
        out = frame.groupby(by, as_index=False).agg(
            n_xiaoban=("n_xiaoban", "sum"),
            area_mu=("area_mu", "sum"),
            stock_m3=("stock_m3", "sum"),
            species_values=(
                "species",
                lambda s: "、".join(sorted({v for v in s if v})[:8]),
            ),
        )
        return out

    districts = summarise(arbor, ["adcode", *keys])
    city = summarise(arbor, keys)
    city.insert(0, "adcode", "500000")
    out = pd.concat([districts, city], ignore_index=True)
    out["species_group_zh"] = out["species_group"].map(names).fillna("未识别")
    out["year"] = year
    return out[list(STAND_COLUMNS)].sort_values(
        ["adcode", "species_group", "age_group", "origin"], ignore_index=True
    )
