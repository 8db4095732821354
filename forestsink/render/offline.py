"""Make folium output self-contained: no request leaves the page.

folium writes ``<script src="https://cdn...">`` and ``<link href=...>`` tags.
Officials open the report from a USB stick on machines without internet, so
every such resource is replaced by its content, taken from the
``folium-offline`` package (MIT, Sandia National Laboratories), which ships
the exact CDN files folium refers to (Leaflet 1.9.3 with its images as data
URIs). A resource it does not carry is an error, not a silent network
request.
"""

from __future__ import annotations

import re
from typing import ClassVar

from forestsink.errors import ForestsinkError

_SCRIPT_RE = re.compile(r'<script\s+src="(https?://[^"]+)"\s*>\s*</script>')
_LINK_RE = re.compile(r'<link\s+rel="stylesheet"\s+href="(https?://[^"]+)"\s*/?>')


def _resources() -> dict[str, str]:
    try:
        from offlinefolium.elements import _res
    except ImportError as err:  # pragma: no cover - declared dependency
        raise ForestsinkError(
            "the folium-offline package is needed to inline map assets; "
            "install it with `pip install folium-offline`."
        ) from err
    return _res


def _safe_script(text: str) -> str:
    # a literal "</script" inside inlined code would close the tag early
    return text.replace("</script", "<\\/script")


def inline_assets(html: str) -> str:
    """Replace external script and stylesheet links in *html* by their content.

    Raises
    ------
    ForestsinkError
        If the page refers to a resource that is not available offline.
    """
    res = _resources()

    def script(match: re.Match) -> str:
        url = match.group(1)
        if url not in res:
            raise ForestsinkError(f"no offline copy of {url}; remove that plugin.")
        return f"<script>{_safe_script(res[url])}</script>"

    def link(match: re.Match) -> str:
        url = match.group(1)
        if url not in res:
            raise ForestsinkError(f"no offline copy of {url}; remove that plugin.")
        return f"<style>{res[url]}</style>"

    html = _SCRIPT_RE.sub(script, html)
    return _LINK_RE.sub(link, html)


def offline_map_class():
    """Return a ``folium.Map`` subclass that loads only Leaflet itself.

    folium's default page also pulls jQuery, Bootstrap, Font Awesome and
    glyphicons from CDNs; the maps here need none of them.
    """
    import folium

    class OfflineMap(folium.Map):
        default_js: ClassVar[list] = [
            (n, u) for n, u in folium.Map.default_js if n == "leaflet"
        ]
        default_css: ClassVar[list] = [
            (n, u) for n, u in folium.Map.default_css if n == "leaflet_css"
        ]

    return OfflineMap
