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
``plan.csv``                the seed plan's header: name, document, period, base year
``plan_targets.csv``        numeric forest targets of sections 二 and 三(四)
``project_types.csv``       the seven project types and the area/volume rules
``carbon_parameters.csv``   D, BEF, R, CF per forest type group, with sources
``code_tables.csv``         ZAO_LIN_LB / G_CHENG_LB codes of 小班 exports
==========================  =====================================================

A user's own aliases file is merged over these tables by
:func:`forestsink.ingest.vocabulary.read_vocabulary`.

Modules: :mod:`~forestsink.reference.data` (where the data lies, reading a
CSV, checking it against a schema, the per-process cache),
:mod:`~forestsink.reference.districts` (districts, boundaries, names,
aliases, the resolver), :mod:`~forestsink.reference.plans` (a plan as
data: :func:`read_plan`, :func:`check_plan`),
:mod:`~forestsink.reference.tables` (plan targets, project types, carbon
parameters, code tables, value ranges, land classes, labels …) and
:mod:`~forestsink.reference.uniques` (:func:`map_uniques`).

Layer: reference may import ``errors``, ``units``, ``version``, ``io``,
``scale`` and ``area``, nothing above (checked by import-linter).
"""

from forestsink.reference.data import (
    bool_column,
    data_dir,
    data_path,
    loaded_tables,
    pandera,
    preload_tables,
    read_reference_csv,
    read_shipped_csv,
    table_cache,
    validate_table,
)
from forestsink.reference.districts import (
    REGION_EN,
    REGIONS,
    DistrictResolver,
    district_resolver,
    normalise_name,
    read_district_aliases,
    read_district_table,
    read_districts,
    resolve_district,
    resolve_district_column,
)
from forestsink.reference.plans import (
    METRICS,
    Plan,
    check_plan,
    read_plan,
    read_transfers,
)
from forestsink.reference.tables import (
    CARBON_PARAMETERS,
    LAND_SCHEMES,
    PROJECT_TYPES,
    read_assessment_units,
    read_biomass_volume,
    read_carbon_parameters,
    read_code_table,
    read_forest_types,
    read_labels,
    read_land_classes,
    read_parameter_sources,
    read_plan_targets,
    read_project_types,
    read_stock_attr_aliases,
    read_value_ranges,
    validate_reference_data,
)
from forestsink.reference.uniques import (
    map_uniques,
)

__all__ = [
    "CARBON_PARAMETERS",
    "LAND_SCHEMES",
    "METRICS",
    "PROJECT_TYPES",
    "REGIONS",
    "REGION_EN",
    "DistrictResolver",
    "Plan",
    "bool_column",
    "check_plan",
    "data_dir",
    "data_path",
    "district_resolver",
    "loaded_tables",
    "map_uniques",
    "normalise_name",
    "pandera",
    "preload_tables",
    "read_assessment_units",
    "read_biomass_volume",
    "read_carbon_parameters",
    "read_code_table",
    "read_district_aliases",
    "read_district_table",
    "read_districts",
    "read_forest_types",
    "read_labels",
    "read_land_classes",
    "read_parameter_sources",
    "read_plan",
    "read_plan_targets",
    "read_project_types",
    "read_reference_csv",
    "read_shipped_csv",
    "read_stock_attr_aliases",
    "read_transfers",
    "read_value_ranges",
    "resolve_district",
    "resolve_district_column",
    "table_cache",
    "validate_reference_data",
    "validate_table",
]

#: old private names, kept for callers outside the package
_path = data_path
_read_csv = read_reference_csv
