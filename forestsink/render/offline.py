"""Make folium output self-contained: no request leaves the page.

folium writes ``<script src="https://cdn...">`` and ``<link href=...>`` tags.
Officials open the report from a USB stick on machines without internet, so
every such resource is replaced by its content, taken from the
``folium-offline`` package (MIT, Sandia National Laboratories), which ships
the exact CDN files folium refers to (Leaflet 1.9.3 with its images as data
URIs). A resource it does not carry is an error, not a silent network
request.

Layers: imports only :mod:`forestsink.errors`; folium is imported inside
:func:`offline_map_class` (an optional heavy dependency).
"""

from __future__ import annotations

import re
from typing import ClassVar

from offlinefolium.elements import _res as _OFFLINE_COPIES

from forestsink.errors import MapError

__all__ = ["inline_assets", "leaflet_assets", "offline_map_class", "script_safe"]

#: Leaflet as folium refers to it; the report inlines the same files.
LEAFLET_JS_URL = "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js"
LEAFLET_CSS_URL = "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css"

_SCRIPT_RE = re.compile(r'<script\s+src="(https?://[^"]+)"\s*>\s*</script>')
_LINK_RE = re.compile(r'<link\s+rel="stylesheet"\s+href="(https?://[^"]+)"\s*/?>')


def script_safe(text: str) -> str:
    r"""Return JavaScript *text* safe to place inside a ``<script>`` element.

    A literal ``</script`` inside inlined code would close the tag early; it
    becomes ``<\/script`` (the same string to JavaScript).
    """
    return text.replace("</script", "<\\/script")


def leaflet_assets() -> tuple[str, str]:
    """Return Leaflet's JavaScript (script-safe) and CSS, from folium-offline."""
    js = _OFFLINE_COPIES[LEAFLET_JS_URL]
    return script_safe(js), _OFFLINE_COPIES[LEAFLET_CSS_URL]


def inline_assets(html: str) -> str:
    """Replace external script and stylesheet links in *html* by their content.

    Raises
    ------
    ForestsinkError
        If the page refers to a resource that is not available offline.
    """
    res = _OFFLINE_COPIES

    def script(match: re.Match) -> str:
        url = match.group(1)
        if url not in res:
            raise MapError(f"no offline copy of {url}; remove that plugin.")
        return f"<script>{script_safe(res[url])}</script>"

    def link(match: re.Match) -> str:
        url = match.group(1)
        if url not in res:
            raise MapError(f"no offline copy of {url}; remove that plugin.")
        return f"<style>{res[url]}</style>"

    html = _SCRIPT_RE.sub(script, html)
    return _LINK_RE.sub(link, html)


def offline_map_class():
    """Return a ``folium.Map`` subclass that loads only Leaflet itself.

    folium's default page also pulls jQuery, Bootstrap, Font Awesome and
    glyphicons from CDNs; the maps here need none of them.
    """
    import folium  # noqa: PLC0415 (optional heavy dependency)

    class OfflineMap(folium.Map):
        default_js: ClassVar[list] = [
            (n, u) for n, u in folium.Map.default_js if n == "leaflet"
        ]
        default_css: ClassVar[list] = [
            (n, u) for n, u in folium.Map.default_css if n == "leaflet_css"
        ]

    return OfflineMap
