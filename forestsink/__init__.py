"""forestsink: track forest carbon sinks against plan targets on a map.

重庆市森林碳汇跟踪工具 — the library behind the ``forestsink`` command.
"""

from __future__ import annotations

from forestsink.errors import (
    CRSError,
    DeliveryError,
    ForestsinkError,
    ForestsinkWarning,
    GrowthTableError,
    ReferenceDataError,
    UnknownNameError,
)
from forestsink.reference import (
    DistrictResolver,
    read_assessment_units,
    read_carbon_parameters,
    read_district_table,
    read_districts,
    read_plan_targets,
    read_project_types,
    resolve_district,
    validate_reference_data,
)
from forestsink.units import M2_PER_MU, MU_PER_HA, m2_to_mu, mu_to_m2
from forestsink.version import __version__


def __getattr__(name: str):
    """Load the heavier tools on first use (keeps ``import forestsink`` light)."""
    lazy = {
        "open_store": "forestsink.store",
        "ingest_deliveries": "forestsink.landing.deliveries",
        "check_deliveries": "forestsink.landing.deliveries",
        "progress_tables": "forestsink.progress",
        "carbon_tables": "forestsink.progress",
        "read_growth_table": "forestsink.progress",
        "compute_coverage": "forestsink.coverage",
        "build_report": "forestsink.render.report",
        "read_delivery": "forestsink.ingest",
    }
    if name in lazy:
        import importlib

        return getattr(importlib.import_module(lazy[name]), name)
    raise AttributeError(f"module 'forestsink' has no attribute {name!r}")



__all__ = [
    "M2_PER_MU",
    "MU_PER_HA",
    "CRSError",
    "DeliveryError",
    "DistrictResolver",
    "ForestsinkError",
    "ForestsinkWarning",
    "GrowthTableError",
    "ReferenceDataError",
    "UnknownNameError",
    "__version__",
    "build_report",
    "carbon_tables",
    "check_deliveries",
    "compute_coverage",
    "ingest_deliveries",
    "m2_to_mu",
    "mu_to_m2",
    "open_store",
    "progress_tables",
    "read_assessment_units",
    "read_carbon_parameters",
    "read_delivery",
    "read_district_table",
    "read_districts",
    "read_growth_table",
    "read_plan_targets",
    "read_project_types",
    "resolve_district",
    "validate_reference_data",
]
