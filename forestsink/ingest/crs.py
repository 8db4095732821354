"""Coordinate reference systems of deliveries: normalise, infer, refuse.

Everything is stored in EPSG:4490 (CGCS2000 geographic). A file's own CRS is
used when it has one. Without one, a CRS is inferred only where the
coordinates leave no doubt:

* degrees inside Chongqing's extent (longitude 105–111 °E, latitude 28–33 °N)
  → EPSG:4490 (WGS 84 and CGCS2000 differ by well under a metre);
* a 3° Gauss-Krüger easting with the zone prefix (35xxxxxx, 36xxxxxx,
  37xxxxxx) and a northing of Chongqing → CGCS2000 3° zone 35/36/37
  (EPSG:4523/4524/4525). The datum (CGCS2000 vs Xi'an 1980) cannot be told
  from coordinates; CGCS2000 is assumed and said (the two differ by tens of
  metres at most here, well under the validation tolerance).

Anything else (an unprefixed easting: CM 105, 108 or 111 °E? CGCS2000, Xi'an
1980 or Beijing 1954?) is refused with the EPSG codes to try via ``--crs``.
"""

from __future__ import annotations

import functools
import math

from pyproj import CRS
from pyproj.exceptions import CRSError as ProjCRSError

from forestsink.errors import CRSError

STORE_CRS = "EPSG:4490"

#: lon/lat box that contains Chongqing with a margin (degrees)
CHONGQING_LONLAT = (105.0, 28.0, 111.0, 33.0)

#: zone-prefixed CGCS2000 3° GK zones covering Chongqing: zone -> EPSG
PREFIXED_ZONES = {35: 4523, 36: 4524, 37: 4525}

#: what to suggest when an unprefixed GK file has no .prj
UNPREFIXED_CANDIDATES = (
    "EPSG:4544 (CGCS2000 3° GK CM 105E)",
    "EPSG:4545 (CGCS2000 3° GK CM 108E)",
    "EPSG:4546 (CGCS2000 3° GK CM 111E)",
    "EPSG:2380 / 2381 (Xi'an 1980 3° GK CM 105E / 108E)",
    "EPSG:2432 / 2433 (Beijing 1954 3° GK CM 105E / 108E)",
)


@functools.lru_cache(maxsize=256)
def file_crs(text: str) -> CRS:
    """Return the :class:`pyproj.CRS` of a file's CRS text (as GDAL gives it).

    The same few CRSs recur in every county's files; parsing one (and finding
    its transformation to EPSG:4490, which is cached by the CRS object) costs
    milliseconds each time.
    """
    return CRS.from_user_input(text)


def normalise_crs(value, *, source: str = "") -> CRS:
    """Return a :class:`pyproj.CRS` for anything ``CRS.from_user_input`` takes.

    Raises
    ------
    CRSError
        With the offending value and how to write a valid one.
    """
    try:
        return CRS.from_user_input(value)
    except ProjCRSError as err:
        where = f"{source}: " if source else ""
        raise CRSError(
            f"{where}unknown coordinate reference system {value!r} ({err}). "
            "Give an EPSG code such as EPSG:4490 or EPSG:4545.",
            option="crs",
        ) from err


def infer_crs(bounds: tuple[float, float, float, float], *, source: str = ""):
    """Infer a CRS from coordinate bounds; return ``(crs, reason)``.

    Parameters
    ----------
    bounds : tuple of float
        ``(minx, miny, maxx, maxy)`` of the layer in its (unknown) units.
    source : str, optional (default: "")
        File name for messages.

    Raises
    ------
    CRSError
        When the coordinates do not identify a CRS unambiguously.
    """
    minx, miny, maxx, maxy = bounds
    where = f"{source}: " if source else ""
    if not all(map(math.isfinite, bounds)):
        raise CRSError(f"{where}no .prj and no finite coordinates to infer a CRS from.")
    lo_x, lo_y, hi_x, hi_y = CHONGQING_LONLAT
    if lo_x <= minx and maxx <= hi_x and lo_y <= miny and maxy <= hi_y:
        return (
            CRS.from_epsg(4490),
            "no .prj; coordinates are degrees inside Chongqing: assumed "
            "EPSG:4490 (CGCS2000)",
        )
    if lo_y <= minx and maxx <= hi_y and lo_x <= miny and maxy <= hi_x:
        raise CRSError(
            f"{where}no .prj, and the coordinates look like latitude/longitude "
            "in swapped order (x≈28–33, y≈105–111). Swap the axes in your GIS "
            "and re-export, or give the CRS as crs.",
            option="crs",
        )
    zone_lo, zone_hi = int(minx // 1_000_000), int(maxx // 1_000_000)
    if (
        zone_lo == zone_hi
        and zone_lo in PREFIXED_ZONES
        and 3_000_000 <= miny
        and maxy <= 3_700_000
    ):
        epsg = PREFIXED_ZONES[zone_lo]
        return (
            CRS.from_epsg(epsg),
            f"no .prj; eastings carry the Gauss-Krüger zone prefix {zone_lo}: "
            f"assumed EPSG:{epsg} (CGCS2000 3° zone {zone_lo}); if the file "
            "is Xi'an 1980, pass its CRS as crs",
        )
    if 100_000 <= minx and maxx <= 900_000 and 3_000_000 <= miny and maxy <= 3_700_000:
        raise CRSError(
            f"{where}no .prj, and the coordinates are Gauss-Krüger metres "
            "without a zone prefix, which fit several central meridians and "
            "datums. Pass the right one as crs, e.g. "
            + "; ".join(UNPREFIXED_CANDIDATES)
            + ".",
            option="crs",
        )
    raise CRSError(
        f"{where}no .prj, and coordinates ({', '.join(f'{v:.6f}' for v in bounds)})"
        " are neither degrees inside "
        "Chongqing nor zone-prefixed Gauss-Krüger metres. Pass the CRS with "
        "crs (for example EPSG:4490, EPSG:4545, EPSG:4524).",
        option="crs",
    )
