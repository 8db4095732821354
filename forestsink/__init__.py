"""forestsink: track forest carbon sinks against plan targets on a map.

重庆市森林碳汇跟踪工具 — the library behind the ``forestsink`` command.

The names of :data:`__all__` are the notebook API (``dir(forestsink)``
lists them). The light ones are imported here; the heavier tools
(:func:`open_store`, :func:`compute_coverage`, :func:`ingest_deliveries` …)
load on first use, so ``import forestsink`` does not load rasterio, the
store, folium, matplotlib, psycopg or dask. :func:`progress_tables`,
:func:`carbon_tables` and :func:`build_report` take a store path (``.gpkg``,
``postgresql://…``, a GeoParquet dataset folder) or an opened store.
"""

from __future__ import annotations

import importlib
import os

from forestsink.errors import (
    CRSError,
    DeliveryError,
    ForestsinkError,
    ForestsinkWarning,
    GrowthTableError,
    OptionError,
    PlanError,
    ReferenceDataError,
    UnknownNameError,
)
from forestsink.reference import (
    DistrictResolver,
    Plan,
    check_plan,
    read_assessment_units,
    read_carbon_parameters,
    read_district_table,
    read_districts,
    read_plan,
    read_plan_targets,
    read_project_types,
    read_transfers,
    resolve_district,
    validate_reference_data,
)
from forestsink.units import M2_PER_MU, MU_PER_HA, m2_to_mu, mu_to_m2
from forestsink.version import __version__

#: Heavier tools, loaded on first use (keeps ``import forestsink`` light).
_LAZY = {
    "open_store": "forestsink.store",
    "ingest_deliveries": "forestsink.landing.deliveries",
    "check_deliveries": "forestsink.landing.deliveries",
    "read_growth_table": "forestsink.progress",
    "compute_coverage": "forestsink.coverage",
    "read_delivery": "forestsink.ingest",
}


def __getattr__(name: str):
    """Load the heavier tools on first use (keeps ``import forestsink`` light)."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'forestsink' has no attribute {name!r}")


def __dir__() -> list[str]:
    """Return the public names (:data:`__all__`), lazily loaded ones included."""
    return sorted(__all__)


def _opened(store):
    """Return *store* opened: a path or URL is opened, a store passes through.

    A ``.gpkg`` path, a ``postgresql://`` URL or a GeoParquet dataset folder
    (str or :class:`os.PathLike`) is opened with
    :func:`forestsink.store.open_store`; anything else is taken to be an
    opened store.
    """
    if isinstance(store, str | os.PathLike):
        return importlib.import_module("forestsink.store").open_store(store)
    return store


def progress_tables(store, /, **options):
    """All progress tables for a store (the ``progress`` tool).

    Parameters
    ----------
    store : str, Path or Store
        A ``.gpkg`` path, a ``postgresql://`` URL, a GeoParquet dataset
        folder, or a store opened with :func:`open_store`.
    **options
        As for :func:`forestsink.progress.progress_tables` (``as_of``,
        ``by``, ``year``, ``targets``, ``coverage``, ``growth`` …).

    Returns
    -------
    forestsink.progress.Tables
        Areas in mu (亩), CO₂ in t; the geometry is not returned.

    Raises
    ------
    OptionError
        ``by`` is not one of the views (``district``, ``region``, ``unit``,
        ``city``): refused before anything is read or computed.
    """
    progress = importlib.import_module("forestsink.progress")
    by = options.get("by", "district")
    if by not in progress.VIEWS:
        raise OptionError(
            f"by={by!r}: 不支持的汇总方式 / not a view; use one of "
            f"{', '.join(progress.VIEWS)}."
        )
    return progress.progress_tables(_opened(store), **options)


def progress_frame(store, /, *, year: int | None = None, **options):
    """Project work per district as a GeoDataFrame, ready to map.

    Parameters
    ----------
    store : str, Path or Store
        As for :func:`progress_tables`.
    year : int, optional
        Only that year's work; default every year of the plan.
    **options
        As for :func:`progress_tables` (``as_of``, ``growth`` …; ``by`` is
        always ``district`` here).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per district with project work: ``adcode``, ``name_zh``,
        ``name_en``, ``region``, the summed figures of the district view
        (areas in mu (亩), volumes in m³) and the district boundary in
        EPSG:4490 (CGCS2000 longitude/latitude).

    Examples
    --------
    >>> frame = progress_frame("store.gpkg")  # doctest: +SKIP
    >>> frame.explore(column="net_area_mu")  # doctest: +SKIP
    """
    views = importlib.import_module("forestsink.progress.views")
    options = {**options, "by": "district", "year": year}
    table = progress_tables(store, **options).tables["district"]
    sums = [c for c in views.SUM_COLUMNS if c in table.columns]
    per_district = table.groupby(
        ["adcode", "name_zh", "name_en", "region"], as_index=False
    )[sums].sum(min_count=1)
    boundaries = read_districts()[["adcode", "geometry"]]
    return boundaries.merge(per_district, on="adcode", how="inner")


def progress_map(store, /, column: str = "net_area_mu", **options):
    """One-call choropleth of project work per district (an interactive map).

    Parameters
    ----------
    store : str, Path or Store
        As for :func:`progress_tables`.
    column : str, default ``"net_area_mu"``
        A column of :func:`progress_frame` (areas in mu, volumes in m³).
    **options
        ``year`` and the options of :func:`progress_tables`; ``explore_*``
        keys (prefix removed) go to :meth:`geopandas.GeoDataFrame.explore`.
        Classes are Fisher–Jenks breaks (mapclassify); no base-map tiles
        unless ``explore_tiles`` names some (the office may be offline).

    Returns
    -------
    folium.Map
    """
    explore = {k[8:]: v for k, v in options.items() if k.startswith("explore_")}
    options = {k: v for k, v in options.items() if not k.startswith("explore_")}
    frame = progress_frame(store, **options)
    if column not in frame.columns:
        raise OptionError(
            f"column {column!r}: 不是进度表的列 / not a column of the progress "
            f"frame; use one of {', '.join(frame.columns.drop('geometry'))}."
        )
    k = max(1, min(5, frame[column].nunique()))
    explore = {"scheme": "FisherJenks", "k": k, "tiles": None, **explore}
    return frame.explore(
        column=column, tooltip=["name_zh", "name_en", column], **explore
    )


def carbon_tables(store, /, **options):
    """CO₂ of the project increment per district and city-wide (``carbon``).

    Parameters
    ----------
    store : str, Path or Store
        A ``.gpkg`` path, a ``postgresql://`` URL, a GeoParquet dataset
        folder, or a store opened with :func:`open_store`.
    **options
        As for :func:`forestsink.progress.carbon_tables` (``as_of``,
        ``params``, ``growth``, ``draws``, ``seed`` …).

    Returns
    -------
    forestsink.progress.Tables
        CO₂ in t (the project increment, not the forest's sink).
    """
    progress = importlib.import_module("forestsink.progress")
    return progress.carbon_tables(_opened(store), **options)


def compare_plans(store, plans, /, **options):
    """Several plans side by side from one store, each over its own period.

    Parameters
    ----------
    store : str, Path or Store
        A ``.gpkg`` path, a ``postgresql://`` URL, a GeoParquet dataset
        folder, or a store opened with :func:`open_store`.
    plans : list of Plan, path or None
        The plans, one column group each (None: the shipped plan).
    **options
        As for :func:`forestsink.progress.compare.compare_plans` (``as_of``,
        ``inventory``, ``coverage``, ``rules``, ``growth``).

    Returns
    -------
    pandas.DataFrame
        One row per kind of target; per plan its target, done, % done and
        what measured it (areas in mu, stock in m³, coverage in %);
        ``无数据 / no data`` where the store holds nothing for its years.

    Examples
    --------
    >>> compare_plans("store.gpkg", [None, "plan_2021.csv"])  # doctest: +SKIP
    """
    progress = importlib.import_module("forestsink.progress")
    return progress.compare_plans(_opened(store), list(plans), **options)


def build_report(store, out, /, **options):
    """Write the offline HTML report of a store (the ``report`` tool).

    Parameters
    ----------
    store : str, Path or Store
        A ``.gpkg`` path, a ``postgresql://`` URL, a GeoParquet dataset
        folder, or a store opened with :func:`open_store`.
    out : str or Path
        The ``.html`` file to write.
    **options
        As for :func:`forestsink.render.report.build_report`.

    Returns
    -------
    Path
        The report written.
    """
    report = importlib.import_module("forestsink.render.report")
    return report.build_report(_opened(store), out, **options)


__all__ = [
    "M2_PER_MU",
    "MU_PER_HA",
    "CRSError",
    "DeliveryError",
    "DistrictResolver",
    "ForestsinkError",
    "ForestsinkWarning",
    "GrowthTableError",
    "OptionError",
    "Plan",
    "PlanError",
    "ReferenceDataError",
    "UnknownNameError",
    "__version__",
    "build_report",
    "carbon_tables",
    "check_deliveries",
    "check_plan",
    "compare_plans",
    "compute_coverage",
    "ingest_deliveries",
    "m2_to_mu",
    "mu_to_m2",
    "open_store",
    "progress_frame",
    "progress_map",
    "progress_tables",
    "read_assessment_units",
    "read_carbon_parameters",
    "read_delivery",
    "read_district_table",
    "read_districts",
    "read_growth_table",
    "read_plan",
    "read_plan_targets",
    "read_project_types",
    "read_transfers",
    "resolve_district",
    "validate_reference_data",
]
