"""The interactive district map: self-contained, bilingual, escaped."""

import json
import re

import geopandas as gpd
from shapely.geometry import box

from forestsink.render.map import district_map, write_district_map, write_map_html


def _shows(html: str, text: str) -> bool:
    """Text appears raw or as JSON-escaped in a script."""
    return text in html or json.dumps(text)[1:-1] in html


def test_district_map_is_offline_and_bilingual(tmp_path):
    path = write_district_map(tmp_path / "d.html")
    html = path.read_text(encoding="utf-8")
    # no external resource is loaded by any tag (links in text are fine)
    assert not re.search(r'<(script|link|img|iframe)[^>]+(src|href)="https?://', html)
    assert "<script src=" not in html
    assert "L.map(" in html  # Leaflet inlined and used
    for text in ("开州区", "Kaizhou District", "渝东南翼", "Southeast wing"):
        assert _shows(html, text), text
    assert not path.with_suffix(".html.part").exists()


def test_hostile_names_are_escaped(tmp_path):
    evil = "<img src=x onerror=alert(1)>"
    gdf = gpd.GeoDataFrame(
        {
            "adcode": ["500101"],
            "name_zh": [evil],
            "name_en": ["x"],
            "region": ["渝东北翼"],
        },
        geometry=[box(108, 30, 108.5, 30.5)],
        crs=4490,
    )
    html = write_map_html(district_map(gdf), tmp_path / "e.html").read_text("utf-8")
    assert evil not in html
    assert "\\u0026lt;img src=x onerror=alert(1)\\u0026gt;" in html
