"""Project work and project increment: the tables every output uses.

``progress_tables`` and ``carbon_tables`` turn the polygons of a store (as of
a date or batch) into plain DataFrames. The CLI writes them as CSV, JSON or
Excel; the report renders them. Nothing here recomputes a number another
output shows differently: every view is a group-by of the same pieces.

Views (``by``):

``district``
    one row per district × year × project type;
``region``
    the three annex-1 regions;
``unit``
    the 39 assessment units of annex 1: 双桥经开区 is inside 大足区;
    万盛经开区 has no boundary of its own, so its row carries no figures and
    a note, and 綦江区's row (which includes it) says so;
``city``
    the city total per year and type.

``share_of_city`` is a row's net area divided by the city's net area for the
same year and project type.

What the figures are. Project polygons measure **project work**: the area
treated by type (``gross_area_mu``, ``net_area_mu``; ``new_forest_area_mu`` is
the net area *planted* by the types that create forest, 项目造林面积, not the
resource statistic 新增森林面积). ``stock_volume_m3`` is the delivered
**standing stock** (现存蓄积: 小班蓄积, HUO_LMXJ …) of the pieces, never an
increment; ``stock_m3_per_ha`` divides it by the area that delivered it. The
project increment (``increment_measured_m3`` from before/after volumes,
``increment_model_m3`` from a user growth table net of its baseline; the area
where neither is available in ``increment_not_estimable_mu``) comes from
:func:`forestsink.progress.growth.project_increment`.

City targets: the plan's headline targets (new forest area, new stock volume,
forest coverage) are whole-forest resource statistics from the
forest-resource map (一张图), which the tool does not read yet: their ``done``
is empty and ``status`` says ``needs_resource_layers`` (coverage: measured
from land-cover rasters when a coverage table is given). Project work is
listed apart (``status`` ``project_work``), never as a percent of those
targets. Programme targets (area of renovation, tending … to treat) are
project work and are compared per project type (targets of several
programmes for the same type are added), because deliveries rarely say which
programme a polygon belongs to. Protection of existing public-welfare forest
is not delivered as polygons and is listed as not tracked.

Modules: :mod:`~forestsink.progress.areas` (the store's pieces by district),
:mod:`~forestsink.progress.netting` (splitting and netting of overlaps),
:mod:`~forestsink.progress.growth` (growth tables, project increment, its
CO₂), :mod:`~forestsink.progress.views` (the base table, its views and the
:class:`Tables` bundle), :mod:`~forestsink.progress.targets` (plan and
district targets), :mod:`~forestsink.progress.duties` (indicator transfers
and the duty balance), :mod:`~forestsink.progress.status` (``plan status``),
:mod:`~forestsink.progress.compare` (plans side by side),
:mod:`~forestsink.progress.provenance` (settings sheet),
:mod:`~forestsink.progress.partitioned` (by district groups, on Dask),
:mod:`~forestsink.progress.tables` (``progress_tables``) and
:mod:`~forestsink.progress.carbon_tables` (``carbon_tables``). This package
re-exports their public names; its modules import each other's defining
module, never this package.

Layers: ``progress`` may import ``landing``, ``store``, ``validate``,
``ingest``, ``reference``, ``io``, ``scale``, ``area``, ``errors``, ``units``
and ``version``; never ``coverage`` (its sibling) or anything above.
"""

from forestsink.progress.areas import (
    add_stock_attrs,
    increment_of_pieces,
    pieces_from_store,
)
from forestsink.progress.carbon_tables import CARBON_COLUMNS, carbon_tables
from forestsink.progress.compare import (
    NO_DATA,
    compare_plans,
    plans_side_by_side,
    progress_tables_compared,
)
from forestsink.progress.duties import duty_accounting
from forestsink.progress.growth import read_growth_table
from forestsink.progress.provenance import as_of_label, plan_label, shown_path
from forestsink.progress.status import (
    STATUS_COLUMNS,
    duty_balance,
    plan_status,
    status_table,
)
from forestsink.progress.tables import progress_tables
from forestsink.progress.targets import (
    NEEDS_RESOURCE_LAYERS,
    NEEDS_RESOURCE_NOTE,
    RESOURCE_STATISTICS,
    city_targets,
    district_targets,
    read_district_targets,
)
from forestsink.progress.views import (
    PROGRESS_COLUMNS,
    VIEWS,
    Tables,
    district_keys,
    progress_by_district,
    view,
)
from forestsink.reference import (
    read_forest_types,
    read_labels,
    read_stock_attr_aliases,
)

__all__ = [
    "CARBON_COLUMNS",
    "NEEDS_RESOURCE_LAYERS",
    "NEEDS_RESOURCE_NOTE",
    "NO_DATA",
    "PROGRESS_COLUMNS",
    "RESOURCE_STATISTICS",
    "STATUS_COLUMNS",
    "VIEWS",
    "Tables",
    "add_stock_attrs",
    "as_of_label",
    "carbon_tables",
    "city_targets",
    "compare_plans",
    "district_keys",
    "district_targets",
    "duty_accounting",
    "duty_balance",
    "increment_of_pieces",
    "pieces_from_store",
    "plan_label",
    "plan_status",
    "plans_side_by_side",
    "progress_by_district",
    "progress_tables",
    "progress_tables_compared",
    "read_district_targets",
    "read_forest_types",
    "read_growth_table",
    "read_labels",
    "read_stock_attr_aliases",
    "shown_path",
    "status_table",
    "view",
]
