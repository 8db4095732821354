"""Static maps (PNG/SVG/PDF): CJK font, page size, legend, scale bar, output."""

import itertools
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from delivery_factory import FULING, WANZHOU, frame, write
from matplotlib import font_manager
from PIL import Image
from pyproj import Geod, Transformer

import forestsink as fs
from forestsink.errors import ForestsinkError
from forestsink.render import classification, fonts, static
from forestsink.render.static import (
    MAP_CRS,
    class_breaks,
    find_cjk_font,
    read_coverage_table,
    render_static_map,
    static_map,
    write_static_map,
)

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def districts():
    return fs.read_districts()


@pytest.fixture(scope="module")
def progress_values(districts):
    """Made-up new forest area per district (mu); 渝中区 has no row (no data)."""
    rng = np.random.default_rng(7)
    codes = [c for c in districts["adcode"] if c != "500103"]
    return pd.DataFrame(
        {
            "adcode": codes,
            "new_forest_area_mu": rng.uniform(2_000, 720_000, len(codes)).round(1),
        }
    )


@pytest.fixture(scope="module")
def progress_fig(districts, progress_values):
    return static_map("progress", districts=districts, values=progress_values)


@pytest.fixture(scope="module")
def font_file():
    """The regular face of the CJK font (a path, with ``face_index`` for .ttc)."""
    font = find_cjk_font()
    return font_manager.fontManager.findfont(font, fallback_to_default=False)


def _entry(font_path):
    """The font manager's entry (family name, file, face) for a found font."""
    index = getattr(font_path, "face_index", 0)
    return next(
        f
        for f in font_manager.fontManager.ttflist
        if f.fname == str(font_path) and f.index == index
    )


def _has_hanzi(font_path, chars="重庆森林"):
    from matplotlib.ft2font import FT2Font

    font = FT2Font(str(font_path), face_index=getattr(font_path, "face_index", 0))
    return all(font.get_char_index(ord(c)) for c in chars if not c.isspace())


def _title(fig):
    (title,) = [t for t in fig.texts if t.get_gid() == "title"]
    return title


def _glyph(char, prop):
    """Render one character with *prop* into a small grey bitmap."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(0.6, 0.6), dpi=100)
    canvas = FigureCanvasAgg(fig)
    fig.text(0.5, 0.5, char, fontproperties=prop, size=28, ha="center", va="center")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Glyph ... missing from font(s)"
        canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., 0].copy()


# --------------------------------------------------------------------------
# the CJK font
# --------------------------------------------------------------------------


def test_cjk_font_is_found_and_used_by_the_title(progress_fig, font_file):
    family = find_cjk_font().get_family()[0]
    assert _entry(font_file).name == family
    assert _has_hanzi(font_file)
    title = _title(progress_fig)
    assert CJK.search(title.get_text())
    used = font_manager.fontManager.findfont(
        title.get_fontproperties(), fallback_to_default=False
    )
    assert _entry(used).name == family  # the bold face of the same family
    assert _has_hanzi(used, title.get_text())


def test_chinese_does_not_render_as_boxes(progress_fig):
    dejavu = font_manager.FontProperties(family="DejaVu Sans")
    # DejaVu Sans has no hanzi: both characters come out as the same tofu box
    assert np.array_equal(_glyph("森", dejavu), _glyph("林", dejavu))
    # the map's own title font draws two different glyphs, unlike the tofu
    prop = _title(progress_fig).get_fontproperties()
    sen, lin = _glyph("森", prop), _glyph("林", prop)
    assert not np.array_equal(sen, lin)
    assert not np.array_equal(sen, _glyph("森", dejavu))
    assert (sen < 128).sum() > 50  # ink on the page


def test_missing_font_is_a_clear_error(monkeypatch, districts, progress_values):
    monkeypatch.setattr(fonts, "_matplotlib_cjk_fonts", list)
    monkeypatch.setattr(fonts, "_fc_list_cjk_fonts", list)
    with pytest.raises(ForestsinkError, match=r"fonts-noto-cjk.*font file"):
        find_cjk_font()
    with pytest.raises(ForestsinkError, match="fonts-noto-cjk"):
        static_map("progress", districts=districts, values=progress_values)


def test_font_option_takes_a_file_and_refuses_fonts_without_hanzi(font_file, tmp_path):
    prop = find_cjk_font(str(font_file))
    found = font_manager.fontManager.findfont(prop, fallback_to_default=False)
    assert str(found) == str(font_file)
    dejavu = font_manager.findfont("DejaVu Sans", fallback_to_default=False)
    with pytest.raises(ForestsinkError, match="no Chinese glyphs"):
        find_cjk_font(dejavu)
    with pytest.raises(ForestsinkError, match="does not exist"):
        find_cjk_font(tmp_path / "nope.ttf")
    with pytest.raises(ForestsinkError, match="not installed"):
        find_cjk_font("No Such Font Family")
    with pytest.raises(ForestsinkError, match="no Chinese glyphs"):
        find_cjk_font("DejaVu Sans")
    by_file = font_manager.FontProperties(fname=str(font_file))
    assert find_cjk_font(by_file).get_family() == prop.get_family()


# --------------------------------------------------------------------------
# page, formats
# --------------------------------------------------------------------------


def test_png_is_a4_landscape_at_200_dpi(progress_fig, tmp_path):
    path = write_static_map(progress_fig, tmp_path / "p.png")
    assert 50_000 < path.stat().st_size < 3_000_000
    with Image.open(path) as image:
        width, height = image.size
        assert abs(width - 297 / 25.4 * 200) <= 1
        assert abs(height - 210 / 25.4 * 200) <= 1
        assert image.info["dpi"] == pytest.approx((200, 200), abs=0.01)
        colours = image.convert("RGB").getcolors(maxcolors=100_000)
    assert colours is not None and len(colours) > 20  # not blank
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    assert path.stat().st_mode == plain.stat().st_mode  # umask, not 0600


def test_svg_has_text_as_paths(progress_fig, tmp_path):
    svg = write_static_map(progress_fig, tmp_path / "p.svg").read_text("utf-8")
    assert "<text" not in svg  # no text that needs a font where it is opened
    assert "font-family" not in svg
    assert svg.count("<path") > 100
    # Chinese appears only in the metadata title and comments, never as text
    body = re.sub(r"<!--.*?-->", "", svg.split("</metadata>", 1)[1], flags=re.S)
    assert not CJK.search(body)


def test_pdf_embeds_the_cjk_font(progress_fig, font_file, tmp_path):
    from matplotlib.ft2font import FT2Font

    data = write_static_map(progress_fig, tmp_path / "p.pdf").read_bytes()
    assert data.startswith(b"%PDF")
    assert b"/FontFile2" in data  # TrueType program embedded (Type 42)
    assert b"/CIDFontType2" in data
    index = getattr(font_file, "face_index", 0)
    name = FT2Font(str(font_file), face_index=index).postscript_name
    assert name.encode() in data  # e.g. NotoSansCJKsc-Regular


def test_unsupported_suffix_is_refused(progress_fig, tmp_path):
    for name in ("map.jpg", "map.html", "map"):
        with pytest.raises(ForestsinkError, match=r"\.png, \.svg, \.pdf"):
            write_static_map(progress_fig, tmp_path / name)
        with pytest.raises(ForestsinkError, match=r"\.png, \.svg, \.pdf"):
            render_static_map("progress", tmp_path / name, progress=pd.DataFrame())
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_the_old_file(progress_fig, tmp_path, monkeypatch):
    path = tmp_path / "p.svg"
    path.write_text("old")

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(progress_fig, "savefig", boom)
    with pytest.raises(RuntimeError):
        write_static_map(progress_fig, path)
    assert path.read_text() == "old"
    assert list(tmp_path.iterdir()) == [path]


# --------------------------------------------------------------------------
# scale bar, north arrow, legend, labels
# --------------------------------------------------------------------------


def _bar(fig, gid):
    (ax,) = [a for a in fig.axes if any(p.get_gid() == gid for p in a.patches)]
    patches = [p for p in ax.patches if p.get_gid() == gid]
    x0 = min(p.get_x() for p in patches)
    x1 = max(p.get_x() + p.get_width() for p in patches)
    (label,) = [t for t in ax.texts if t.get_gid() == f"{gid}-km"]
    return ax, x0, x1, patches[0].get_y(), float(label.get_text())


@pytest.mark.parametrize("gid", ["scale-bar", "inset-scale-bar"])
def test_scale_bar_length_is_what_it_claims(progress_fig, gid):
    _, x0, x1, y, km = _bar(progress_fig, gid)
    assert km in {1, 2, 2.5, 5, 10, 20, 25, 50, 100, 200}
    assert x1 - x0 == pytest.approx(km * 1000, rel=1e-12)  # metres of MAP_CRS
    # and on the ground: the geodesic between the bar's ends
    to_geo = Transformer.from_crs(MAP_CRS, "EPSG:4490", always_xy=True)
    (lon0, lon1), (lat0, lat1) = to_geo.transform([x0, x1], [y, y])
    ground = Geod(ellps="GRS80").inv(lon0, lat0, lon1, lat1)[2]
    assert ground == pytest.approx(km * 1000, rel=0.005)


def test_main_scale_bar_is_a_sensible_share_of_the_map(progress_fig):
    ax, x0, x1, _, _ = _bar(progress_fig, "scale-bar")
    left, right = ax.get_xlim()
    assert 0.1 < (x1 - x0) / (right - left) <= 0.25


def test_north_arrow_points_north(progress_fig):
    ax = progress_fig.axes[0]
    arrows = [p for p in ax.patches if p.get_gid() == "north-arrow"]
    assert len(arrows) == 2
    tip = arrows[0].get_xy()[0]
    base = (arrows[0].get_xy()[1] + arrows[1].get_xy()[2]) / 2
    to_geo = Transformer.from_crs(MAP_CRS, "EPSG:4490", always_xy=True)
    (lon_tip, lon_base), (lat_tip, lat_base) = to_geo.transform(
        [tip[0], base[0]], [tip[1], base[1]]
    )
    assert lat_tip > lat_base
    assert lon_tip == pytest.approx(lon_base, abs=1e-4)  # true north, not grid


def _legend_classes(fig):
    legend = fig.legends[0]
    rows = []
    for text in legend.get_texts():
        m = re.fullmatch(r"([\d,.]+) – ([\d,.]+)\s+\((\d+)\)", text.get_text())
        if m:
            lo, hi, n = (float(g.replace(",", "")) for g in m.groups())
            rows.append((lo, hi, int(n)))
    return legend, rows


def test_legend_classes_cover_the_values_with_units(progress_fig, progress_values):
    legend, rows = _legend_classes(progress_fig)
    shown = progress_values["new_forest_area_mu"] / 10_000  # legend is in 万亩
    assert 3 <= len(rows) <= 5
    assert rows[0][0] <= shown.min()
    assert rows[-1][1] >= shown.max()
    for (_, hi, _), (lo, _, _) in itertools.pairwise(rows):
        assert hi == lo  # contiguous
    counts = [n for *_, n in rows]
    assert sum(counts) == len(progress_values)
    edges = np.array([rows[0][0]] + [hi for _, hi, _ in rows])
    expected = np.bincount(
        np.clip(np.searchsorted(edges, shown, side="left") - 1, 0, None),
        minlength=len(rows),
    )
    assert counts == expected.tolist()
    title = legend.get_title().get_text()
    assert "万亩" in title and "10,000 mu" in title
    texts = [t.get_text() for t in legend.get_texts()]
    assert "无数据 / no data  (1)" in texts  # 渝中区 has no row


def test_district_colours_follow_the_classes(progress_fig, progress_values):
    """Each district is filled with its class's legend colour."""
    from matplotlib.colors import to_hex

    legend, rows = _legend_classes(progress_fig)
    class_colours = [to_hex(h.get_facecolor()) for h in legend.legend_handles]
    edges = np.array([rows[0][0]] + [hi for _, hi, _ in rows])
    collection = progress_fig.axes[0].collections[0]
    faces = [to_hex(c) for c in collection.get_facecolors()]
    order = fs.read_districts()["adcode"].tolist()  # drawing order
    values = progress_values.set_index("adcode")["new_forest_area_mu"] / 10_000
    for code, face in zip(order, faces, strict=True):
        if code not in values.index:
            assert face == class_colours[-1]  # no data
            continue
        i = max(int(np.searchsorted(edges, values[code], side="left")) - 1, 0)
        assert face == class_colours[i], code


def test_labels_are_bilingual_and_do_not_overlap(progress_fig):
    from shapely.geometry import box

    renderer = progress_fig.canvas.get_renderer()
    for ax in progress_fig.axes:
        boxes, names = [], []
        for text in ax.texts:
            if CJK.search(text.get_text()) and text.get_gid() is None:
                if text.get_text() in ("千米 km", "北\nN"):
                    continue
                b = text.get_window_extent(renderer)
                boxes.append(box(b.x0, b.y0, b.x1, b.y1))
                names.append(text.get_text().replace("\n", ""))
        for i, a in enumerate(boxes):
            for b in boxes[i + 1 :]:
                assert a.intersection(b).area < 1.0, names
    labelled = {
        t.get_text().replace("\n", "") for ax in progress_fig.axes for t in ax.texts
    }
    assert set(fs.read_districts()["name_zh"]) <= labelled  # all 38, main or inset
    assert {"Wanzhou", "Yuzhong", "Zhong County"} <= labelled


def test_class_breaks():
    assert class_breaks([1, 2, 3, 10, 11, 12], k=2).tolist() == [1.0, 3.0, 12.0]
    assert class_breaks([5, 5, 5]).tolist() == [5.0, 5.0]
    q = class_breaks(np.arange(101), k=4, method="quantiles")
    assert q.tolist() == [0, 25, 50, 75, 100]
    with pytest.raises(ForestsinkError, match="quantiles"):
        class_breaks([1, 2], method="equal")
    rng = np.random.default_rng(1)
    for _ in range(20):
        x = rng.lognormal(3, 1.5, 38)
        edges, _ = classification.display_breaks(x, 1.0, k=5, method="natural_breaks")
        assert edges[0] <= x.min() and edges[-1] >= x.max()
        assert np.all(np.diff(edges) > 0)


# --------------------------------------------------------------------------
# the other maps, and the tool
# --------------------------------------------------------------------------


def test_projects_map_has_all_types_bilingual(districts):
    projects = pd.concat(
        [
            frame(WANZHOU, n=2).assign(project_type="afforestation"),
            frame(FULING, n=2).assign(project_type="tending"),
        ]
    )[["project_type", "geometry"]]
    fig = static_map("projects", districts=districts, projects=projects)
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    types = fs.read_project_types()
    assert len(texts) == len(types)
    for ptype, row in types.iterrows():
        n = 2 if ptype in ("afforestation", "tending") else 0
        assert f"{row['name_zh']} {row['name_en']}  ({n})" in texts
    drawn = [c for c in fig.axes[0].collections if len(c.get_paths()) == 2]
    assert len(drawn) == 2
    with pytest.raises(ForestsinkError, match="project_type"):
        static_map("projects", districts=districts, projects=None)


def test_values_table_is_checked(districts, progress_values):
    twice = pd.concat([progress_values, progress_values.head(1)])
    with pytest.raises(ForestsinkError, match="more than once"):
        static_map("progress", districts=districts, values=twice)
    with pytest.raises(ForestsinkError, match="new_forest_area_mu"):
        static_map("progress", districts=districts, values=pd.DataFrame({"a": [1]}))
    with pytest.raises(ForestsinkError, match="unknown kind"):
        static_map("rivers", districts=districts, values=progress_values)


def test_coverage_map_from_a_csv_picks_the_latest_year(districts, tmp_path):
    rows = [
        {"adcode": code, "year": year, "coverage_pct": 30 + i + (year - 2010)}
        for i, code in enumerate(districts["adcode"])
        for year in (2010, 2015)
    ]
    rows.append({"adcode": "500000", "year": 2015, "coverage_pct": 45.2})
    csv = tmp_path / "coverage.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    table = read_coverage_table(csv)
    assert table["adcode"].str.len().eq(6).all()
    as_json = tmp_path / "coverage.json"  # `forestsink coverage --out x.json`
    table.to_json(as_json, orient="records", force_ascii=False)
    pd.testing.assert_frame_equal(read_coverage_table(as_json), table)
    with pytest.raises(ForestsinkError, match="does not exist"):
        read_coverage_table(tmp_path / "missing.csv")

    captured = {}
    real = static.static_map

    def spy(what, **kw):
        captured.update(kw, what=what)
        return real(what, **kw)

    import unittest.mock

    with unittest.mock.patch.object(static, "static_map", spy):
        out = render_static_map("coverage", tmp_path / "c.png", coverage=csv)
    assert out.is_file()
    values = captured["values"]
    assert set(values["year"]) == {2015}
    assert "2015" in captured["subtitle"] and "45.2 %" in captured["subtitle"]
    assert "45 %" in captured["subtitle"]  # the plan's target, from the data
    _, rows_ = _legend_classes(
        static_map("coverage", districts=districts, values=values)
    )
    assert rows_[0][0] <= 35 and rows_[-1][1] >= 35 + 37


def test_render_from_a_small_store(tmp_path):
    from forestsink.landing.deliveries import ingest_deliveries
    from forestsink.store import GeoPackageStore

    store = GeoPackageStore(tmp_path / "store.gpkg")
    for center, name in ((WANZHOU, "万州区"), (FULING, "涪陵区")):
        path = write(frame(center, district=name), tmp_path / f"{name}.gpkg")
        ingest_deliveries([path], store, user="tests")
    from forestsink.reference import data_dir

    growth = data_dir() / "growth_table.EXAMPLE.csv"
    for what in ("progress", "carbon", "projects"):
        out = render_static_map(
            what, tmp_path / f"{what}.png", store=store, growth=growth
        )
        with Image.open(out) as image:
            assert image.size[0] > image.size[1]
    # no before/after volumes and no growth table: nothing is estimable, and
    # the map says so instead of mapping standing stocks as a sink (#22)
    with pytest.raises(ForestsinkError, match="不可估算"):
        render_static_map("carbon", tmp_path / "c0.png", store=store)
    with pytest.raises(ForestsinkError, match="coverage"):
        render_static_map("coverage", tmp_path / "c.png", store=store)
    with pytest.raises(ForestsinkError, match="no project polygons as of 2000-01-01"):
        render_static_map(
            "progress", tmp_path / "p.png", store=store, as_of="2000-01-01"
        )


def test_a_value_on_a_class_edge_is_in_the_lower_class():
    # the legend reads "0 – 10", "10 – 20": 10 belongs to the first class
    edges = np.array([0.0, 10.0, 20.0])
    got = classification.classify(np.array([0, 10, 10.001, 20, np.nan]), edges)
    assert got.tolist() == [0, 0, 1, 1, -1]
