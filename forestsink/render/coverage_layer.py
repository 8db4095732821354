"""Coverage for the report: the table and the map overlay, from rasters.

Layers: imports :mod:`forestsink.coverage` (below ``render``).
"""

from __future__ import annotations

from forestsink.coverage import OVERLAY_LEGEND, compute_coverage, make_overlay


def coverage_for_report(
    rasters, *, product: str = "clcd", classes=None, band: int | None = None
):
    """Compute district coverage and the overlay image for the report.

    Parameters
    ----------
    rasters : list of path
        One or two land-cover rasters (first and last year).
    product : str, optional (default: "clcd")
        Class preset (see :mod:`forestsink.coverage`).
    classes : path, optional (default: None)
        A user's class table.
    band : int, optional (default: None, band 1)
        Band holding the class codes; several bands and no *band*: band 1,
        with a :class:`~forestsink.errors.RasterWarning`.

    Returns
    -------
    (pandas.DataFrame, dict)
        The coverage table exactly as ``forestsink coverage`` writes it
        (district rows and the city row ``500000``), and the overlay for
        :class:`forestsink.render.report.ReportInputs`: ``bounds`` and one
        layer (forest / non-forest, and gain / loss with two years) as PNG.
    """
    result = compute_coverage(
        list(rasters),
        product=product,
        classes=classes,
        zones="districts",
        band=band,
    )
    table = result.table[result.table["level"].isin(["city", "district"])].copy()
    overlay = make_overlay(
        result.rasters, result.scheme, result.zones, years=result.years
    )
    s, w, n, e = overlay.bounds
    two = len(result.years) > 1
    name = (
        "土地覆盖：森林与增减 / Land cover: forest, gain and loss"
        if two
        else "土地覆盖：森林 / Land cover: forest"
    )
    legend = [
        {
            "colour": "rgba({},{},{},{:.2f})".format(*rgba[:3], rgba[3] / 255),
            "name_zh": zh,
            "name_en": en,
        }
        for value, (rgba, zh, en) in OVERLAY_LEGEND.items()
        if value and (two or value < 4)
    ]
    layer = {
        "name": f"{name} ({'–'.join(map(str, result.years))})",
        "png": overlay.png(),
        "legend": legend,
    }
    return table.reset_index(drop=True), {"bounds": [[s, w], [n, e]], "layers": [layer]}
