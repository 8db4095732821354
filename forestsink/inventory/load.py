"""Load forest-resource layers into the store, and compute from what it holds.

The library verbs the ``forestsink inventory`` commands wrap:

:func:`load_inventory`
    Read every file, check every layer, then write all of them as one batch
    (all or nothing: a problem in any file leaves the store as it was).
:func:`inventory_statistics`
    Official statistics of one year per district and city.
:func:`inventory_change`
    Net and gross change between two years, with the transfer matrix.

Areas in mu (ellipsoidal), volumes in m³, geometries in EPSG:4490.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from forestsink.area import area_mu
from forestsink.errors import InventoryError
from forestsink.ingest.inventory import InventoryLayer, read_inventory_layer
from forestsink.ingest.read import find_delivery_files
from forestsink.inventory.change import (
    change_table,
    city_matrix,
    describe_transfers,
    overlay_pieces,
    previous_class_agrees,
)
from forestsink.inventory.checks import prepare_layer
from forestsink.inventory.classes import forest_groups
from forestsink.inventory.stand import stand_table
from forestsink.inventory.stats import SUM_COLUMNS, statistics_from_sums
from forestsink.reference import (
    read_districts,
    read_forest_types,
    read_land_classes,
    read_value_ranges,
)

logger = logging.getLogger(__name__)


@dataclass
class LoadResult:
    """What :func:`load_inventory` did.

    Attributes
    ----------
    batch_id : int or None
        The store batch (None when every layer was already loaded).
    loaded, replaced, unchanged : list of dict
        Per county layer: ``adcode``, ``year``, ``snapshot_id``,
        ``n_xiaoban``, ``source_name`` (as the store reports them).
    files : list of InventoryLayer
        The files read, with their notes (encoding, CRS, columns).
    """

    batch_id: int | None
    loaded: list[dict] = field(default_factory=list)
    replaced: list[dict] = field(default_factory=list)
    unchanged: list[dict] = field(default_factory=list)
    files: list[InventoryLayer] = field(default_factory=list)


def load_inventory(
    paths,
    *,
    store,
    year: int,
    district: str | None = None,
    crs=None,
    encoding: str | None = None,
    layer: str | None = None,
    aliases=(),
    replace: bool = False,
    user: str | None = None,
    note: str | None = None,
    on_file: Callable[[str], None] | None = None,
) -> LoadResult:
    """Read, check and store one year's forest-resource layers.

    Parameters
    ----------
    paths : iterable of path
        Files or folders (every .shp/.gpkg/.geojson/.zip inside is a layer).
    store : Store
        A GeoPackage store (:func:`forestsink.store.open_store`).
    year : int
        The year the layers describe (their state at 31 December).
    district, crs, encoding, layer, aliases : optional
        As for :func:`forestsink.ingest.inventory.read_inventory_layer`.
    replace : bool, optional (default: False)
        Replace a county's layer already loaded for *year* (the old one is
        kept in the store's history); without it, such a layer is refused.
    user, note : str, optional
        Recorded with the batch.
    on_file : callable, optional
        Called with each file name before it is read (progress).

    Returns
    -------
    LoadResult

    Raises
    ------
    InventoryError, DeliveryError, CRSError, StoreError
        Naming the file, feature and field; nothing was written.
    """
    _check_year(year)
    files = find_delivery_files(paths)
    classes = read_land_classes()
    ranges = read_value_ranges()
    read: list[InventoryLayer] = []
    layers: dict[str, dict] = {}
    for path in files:
        if on_file is not None:
            on_file(path.name)
        item = read_inventory_layer(
            path,
            year=year,
            district=district,
            crs=crs,
            encoding=encoding,
            layer=layer,
            aliases=aliases,
        )
        item.frame = prepare_layer(
            item.frame,
            classes=classes,
            ranges=ranges,
            display=item.name,
            columns=item.columns,
            notes=item.notes,
        )
        read.append(item)
        for adcode, part in item.frame.groupby("adcode", sort=True):
            if adcode in layers:
                raise InventoryError(
                    f"{item.name}: 区县 {adcode} 的 {year} 年图层已在 "
                    f"{layers[adcode]['source_name']} 中 / county {adcode} is "
                    f"also in {layers[adcode]['source_name']} for {year}; a "
                    "county's layer of one year is one file. Nothing was "
                    "loaded: merge the files, or load them one at a time with "
                    "replace=True.",
                    option="replace",
                )
            layers[adcode] = {
                "adcode": adcode,
                "year": int(year),
                "frame": part.reset_index(drop=True),
                "source_name": item.name,
                "source_sha256": item.sha256,
                "note": "; ".join(item.notes),
            }
            logger.info("%s: county %s, %d 小班", item.name, adcode, len(part))
    result = store.write_inventory(
        list(layers.values()), replace=replace, user=user, note=note
    )
    return LoadResult(
        batch_id=result.get("batch_id"),
        loaded=list(result.get("loaded", [])),
        replaced=list(result.get("replaced", [])),
        unchanged=list(result.get("unchanged", [])),
        files=read,
    )


def _check_year(year) -> None:
    if not isinstance(year, int) or not 1949 <= year <= 2100:
        raise InventoryError(
            f"year {year!r}: 年份不合理 / not a plausible layer year; give the "
            "year whose 31 December state the layer describes (e.g. 2015)."
        )


@functools.cache
def _district_areas() -> pd.DataFrame:
    """Each district's total administrative area (ellipsoidal, mu)."""
    districts = read_districts()
    out = districts[["adcode", "name_zh", "name_en"]].copy()
    out["total_area_mu"] = area_mu(districts)
    return out


def district_areas() -> pd.DataFrame:
    """Return ``adcode, name_zh, name_en, total_area_mu`` of the 38 districts.

    ``total_area_mu``: the district polygon of ``data/districts.gpkg`` on
    the GRS80 ellipsoid, water included (the denominator of coverage).
    """
    return _district_areas().copy()


def require_year(store, year: int, *, as_of=None) -> None:
    """Refuse a store that holds no forest-resource layer for *year*.

    Parameters
    ----------
    store : forestsink.store.Store
        An open store with forest-resource layers (``inventory_years``).
    year : int
        The inventory year (the layer's state at 31 December).
    as_of : int or str, optional (default: None, now)
        Batch number or date: the state of the store then.

    Raises
    ------
    InventoryError
        The store holds no layer for *year*; the message names the years it
        holds.
    """
    years = store.inventory_years(as_of=as_of)
    if year not in years:
        held = ", ".join(map(str, years)) or "none"
        raise InventoryError(
            f"{store.path}: 没有 {year} 年的森林资源图层 / the store holds no "
            f"forest-resource layer for {year} (years held: {held}). Load it "
            f"first (load_inventory, year={year}, into this store).",
            option=("year", "store"),
        )


def inventory_statistics(store, *, year: int, as_of=None) -> pd.DataFrame:
    """Official statistics of one year per district and city.

    Returns
    -------
    pandas.DataFrame
        :data:`forestsink.inventory.stats.STAT_COLUMNS`, computed from the
        store's per-class sums (aggregated in the database).
    """
    require_year(store, year, as_of=as_of)
    sums = store.inventory_sums(year, as_of=as_of, by=("adcode", "land_group"))
    return statistics_from_sums(
        sums, classes=read_land_classes(), districts=district_areas(), year=year
    )


@dataclass
class ChangeResult:
    """:func:`inventory_change`: per-district table and transfer matrix."""

    districts: pd.DataFrame
    matrix: pd.DataFrame


def inventory_change(
    store, *, year_from: int, year_to: int, as_of=None
) -> ChangeResult:
    """Change of forest area and stock between two years per district and city.

    The route per district (previous class or overlay) is chosen as
    :mod:`forestsink.inventory.change` explains, and named in ``method``.
    """
    check_years(year_from, year_to)
    for y in (year_from, year_to):
        require_year(store, y, as_of=as_of)
    sums_from = store.inventory_sums(
        year_from, as_of=as_of, by=("adcode", "land_group")
    )
    sums_to, transfer = _sums_and_transfer(store, year_to, as_of=as_of)

    def overlay(codes: list[str]) -> dict[str, pd.DataFrame]:
        out = {}
        for code in codes:
            before = store.inventory_xiaoban(year_from, as_of=as_of, adcodes=[code])
            after = store.inventory_xiaoban(year_to, as_of=as_of, adcodes=[code])
            out[code] = overlay_pieces(before, after)
        return out

    return change_from_sums(
        sums_from,
        sums_to,
        transfer,
        overlay=overlay,
        year_from=year_from,
        year_to=year_to,
    )


#: the later year's sums are grouped by these in one pass over its 小班
_FINE = ("adcode", "land_group_before", "land_group", "change_reason")


def _sums_and_transfer(store, year: int, *, as_of=None):
    """Return the later year's class sums and its transfers, in one SQL pass.

    The same tables as ``store.inventory_sums(year, by=("adcode",
    "land_group"))`` and ``store.inventory_transfer(year)`` (to summation
    order), from one grouped scan of the year's 小班 instead of two: on a
    province's millions of 小班 each scan costs seconds.
    """
    fine = store.inventory_sums(year, as_of=as_of, by=_FINE)
    sums = fine.groupby(["adcode", "land_group"], as_index=False, dropna=False)[
        list(SUM_COLUMNS)
    ].sum()
    rows = fine[fine["land_group_before"].notna()]
    transfer = rows.groupby(list(_FINE), as_index=False, dropna=False)[
        ["area_mu", "n_xiaoban"]
    ].sum()
    return sums, transfer


def check_years(year_from: int, year_to: int) -> None:
    """Refuse a later year that does not come after the earlier one."""
    if year_to <= year_from:
        raise InventoryError(
            f"{year_from} → {year_to}: 起止年份颠倒 / the later year "
            "must come after the earlier one."
        )


def change_from_sums(
    sums_from: pd.DataFrame,
    sums_to: pd.DataFrame,
    transfer: pd.DataFrame,
    *,
    overlay: Callable[[list[str]], dict[str, pd.DataFrame]],
    year_from: int,
    year_to: int,
) -> ChangeResult:
    """Choose each district's route and assemble the change (both engines).

    Parameters
    ----------
    sums_from, sums_to : pandas.DataFrame
        Per ``adcode`` and ``land_group`` of each year: the columns of
        :data:`~forestsink.inventory.stats.SUM_COLUMNS` (the store's
        ``inventory_sums``, or :func:`~forestsink.inventory.stats.sums_by_class`).
    transfer : pandas.DataFrame
        The later year's ``adcode``, ``land_group_before``, ``land_group``,
        ``change_reason``, ``area_mu`` over the 小班 with a previous class (the
        store's ``inventory_transfer``).
    overlay : callable
        ``overlay(codes)`` returns, per district code, the
        :func:`~forestsink.inventory.change.overlay_pieces` of its two years
        (called once, with every district that needs the overlay route).
    year_from, year_to : int

    Returns
    -------
    ChangeResult
        Areas in mu (ellipsoidal), volumes in m³.
    """
    classes = read_land_classes()
    forest, _ = forest_groups(classes)
    areas = district_areas()
    stats_from = statistics_from_sums(
        sums_from, classes=classes, districts=areas, year=year_from
    )
    stats_to = statistics_from_sums(
        sums_to, classes=classes, districts=areas, year=year_to
    )
    both = sorted(set(sums_from["adcode"]) & set(sums_to["adcode"]))
    methods: dict[str, str] = {}
    notes: dict[str, str] = {}
    pieces: dict[str, pd.DataFrame] = {}
    for code in both:
        t = transfer[transfer["adcode"] == code]
        area_to = sums_to.loc[sums_to["adcode"] == code, "area_mu"].sum()
        covered = t["area_mu"].sum() / area_to if area_to else 0.0
        agrees, diff = (
            previous_class_agrees(sums_from[sums_from["adcode"] == code], t)
            if len(t)
            else (False, 1.0)
        )
        if covered >= 0.999 and agrees:
            methods[code] = "previous_class"
            notes[code] = (
                f"由 {year_to} 年图层的前期地类(Q_DI_LEI)与变化原因汇总 / from the "
                f"{year_to} layer's previous class and change reason"
            )
            pieces[code] = t.rename(
                columns={
                    "land_group_before": "group_from",
                    "land_group": "group_to",
                }
            )[["adcode", "group_from", "group_to", "change_reason", "area_mu"]]
            continue
        methods[code] = "overlay"
        why = (
            "无前期地类字段 / the later layer has no previous class"
            if not len(t) or covered < 0.999
            else f"前期地类与 {year_from} 年图层不符 ({diff:.1%}) / its previous class "
            f"does not match the {year_from} layer ({diff:.1%} of the area)"
        )
        notes[code] = f"两期图层叠加 / overlay of the two layers: {why}"
    overlaid = [c for c in both if methods[c] == "overlay"]
    if overlaid:
        for code, part in overlay(overlaid).items():
            pieces[code] = part.copy()
            pieces[code].insert(0, "adcode", code)
    parts = [pieces[c] for c in both if c in pieces]
    frame = (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame(
            columns=["adcode", "group_from", "group_to", "change_reason", "area_mu"]
        )
    )
    frame["change_reason"] = frame["change_reason"].astype("string").fillna("")
    matrix = describe_transfers(frame, forest=forest)
    table = change_table(
        stats_from,
        stats_to,
        matrix,
        methods=methods,
        notes=notes,
        year_from=year_from,
        year_to=year_to,
    )
    matrix = city_matrix(matrix)
    names = areas.set_index("adcode")["name_zh"].to_dict()
    matrix.insert(1, "name_zh", matrix["adcode"].map(names).fillna("重庆市"))
    matrix.insert(2, "year_from", year_from)
    matrix.insert(3, "year_to", year_to)
    return ChangeResult(districts=table, matrix=matrix)


def statistics_by_year(store, *, as_of=None) -> dict[int, pd.DataFrame]:
    """Statistics of every inventory year the store holds (none: empty dict).

    For progress and the report: with the year before the plan and a plan
    year, the plan's resource targets are measured from these. A store or
    dataset that cannot hold forest-resource layers gives an empty dict.
    """
    years_of = getattr(store, "inventory_years", None)
    if years_of is None:
        return {}
    return {
        year: inventory_statistics(store, year=year, as_of=as_of)
        for year in years_of(as_of=as_of)
    }


def inventory_stand_table(store, *, year: int, as_of=None) -> pd.DataFrame:
    """Arbor forest by species group × age group × origin (see ``stand``)."""
    require_year(store, year, as_of=as_of)
    sums = store.inventory_sums(
        year,
        as_of=as_of,
        by=("adcode", "land_group", "species", "age_group", "origin"),
    )
    return stand_table(sums, forest_types=read_forest_types(), year=year)
