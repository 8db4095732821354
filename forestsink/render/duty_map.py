"""The static duty choropleth: districts coloured by fixed duty classes.

``forestsink map --what duties`` draws the districts' duty balance after
indicator transfers in the fixed classes of
:mod:`forestsink.render.duty_section` (met, over, short by how much; not
measured; no duty, grey and hatched). The layout, labels and furniture are
:func:`forestsink.render.static.static_map`'s; only the fill is here.

Layers: :mod:`forestsink.render.duty_section`; matplotlib is imported inside
the function (an optional heavy dependency).
"""

from __future__ import annotations

import pandas as pd

from forestsink.errors import MapError
from forestsink.render.duty_section import DUTY_CLASSES, duty_legend

__all__ = ["fill_duty_classes"]

_EDGE = "#4d4d4d"


def fill_duty_classes(gdf, values: pd.DataFrame | None) -> list:
    """Colour the districts by duty class; return the legend handles.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        The districts being drawn (``adcode``); gains ``fill_colour`` and
        ``no_data`` (True where hatched: no duty), in place.
    values : pandas.DataFrame
        :func:`forestsink.render.duty_section.duty_classes`: ``adcode`` and
        ``duty_class``; ``attrs["metric"]`` names the duty metric.

    Returns
    -------
    list
        One legend patch per class, with its bilingual label and count.
    """
    from matplotlib.patches import Patch  # noqa: PLC0415 (optional heavy dependency)

    if values is None or "duty_class" not in values:
        raise MapError("duty map: no duty classes to draw (values.duty_class).")
    classes = values.set_index(values["adcode"].astype(str))["duty_class"]
    shown = gdf["adcode"].astype(str).map(classes).fillna("no_duty")
    gdf["fill_colour"] = shown.map(DUTY_CLASSES).to_numpy()
    gdf["no_data"] = (shown == "no_duty").to_numpy()
    handles = []
    for row in duty_legend(values.attrs.get("metric", "new_forest_area_mu")):
        count = int((shown == row["key"]).sum())
        handles.append(
            Patch(
                facecolor=row["colour"],
                edgecolor="#9a9a9a" if row["key"] == "no_duty" else _EDGE,
                hatch="////" if row["key"] == "no_duty" else None,
                linewidth=0.5,
                label=f"{row['label']}  ({count})",
            )
        )
    return handles
