"""Reading and checking forest-resource layers (一张图), and their change.

Oracles: areas from pyproj.Geod on the hand-made polygons; stock as
Σ HUO_LMGQXJ × ha computed by hand; transfer areas from rectangles whose
intersections are drawn by hand.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from pyproj import Geod
from real_files import real_file
from shapely.geometry import Polygon, box

from forestsink.errors import DeliveryError, InventoryError
from forestsink.ingest.inventory import read_inventory_layer
from forestsink.inventory.change import overlay_pieces, previous_class_agrees
from forestsink.inventory.checks import prepare_layer
from forestsink.inventory.stats import forest_statistics, transfer_matrix
from forestsink.reference import read_land_classes, read_value_ranges
from forestsink.units import M2_PER_MU

GEOD = Geod(ellps="GRS80")
CLASSES = read_land_classes()
RANGES = read_value_ranges()


def geod_mu(geom) -> float:
    return abs(GEOD.geometry_area_perimeter(geom)[0]) / M2_PER_MU


def cells(n: int, x0: float = 108.0, y0: float = 30.8, size: float = 0.01):
    return [box(x0 + i * size, y0, x0 + (i + 1) * size, y0 + size) for i in range(n)]


def pinyin_layer(**overrides) -> gpd.GeoDataFrame:
    data = {
        "XIAN": ["500101"] * 3,
        "XIANG": ["500101001"] * 3,
        "CUN": ["500101001001"] * 3,
        "LIN_BAN": ["0001"] * 3,
        "XIAO_BAN": ["0001", "0002", "0003"],
        "XI_BAN": ["", "", ""],
        "DI_LEI": ["0111", "0141", "0201"],
        "MIAN_JI": [120.0, 120.0, 120.0],
        "HUO_LMGQXJ": [85.5, None, None],
        "YOU_SHI_SZ": ["马尾松", "杉木", None],
        "QI_YUAN": ["21", "21", None],
        "LING_ZU": ["2", "1", None],
        "YU_BI_DU": [0.65, 0.1, None],
        "SEN_LIN_LB": ["12", "22", None],
    }
    data.update(overrides)
    n = len(data["XIAO_BAN"])
    geoms = data.pop("geometry", cells(n))
    return gpd.GeoDataFrame(data, geometry=geoms, crs=4490)


def write(gdf, tmp_path, name="layer.shp", encoding="gbk"):
    path = tmp_path / name
    gdf.to_file(path, encoding=encoding)
    return path


def load(path, **kw):
    layer = read_inventory_layer(path, year=kw.pop("year", 2015), **kw)
    return prepare_layer(
        layer.frame,
        classes=CLASSES,
        ranges=RANGES,
        display=layer.name,
        columns=layer.columns,
    )


def test_pinyin_gbk_layer_reads_keys_areas_and_classes(tmp_path):
    gdf = pinyin_layer()
    frame = load(write(gdf, tmp_path))
    assert frame["key"].tolist() == [
        f"500101/500101001/500101001001/0001/000{i}" for i in (1, 2, 3)
    ]
    for got, geom in zip(frame["area_mu"], gdf.geometry, strict=True):
        assert got == pytest.approx(geod_mu(geom), rel=1e-7)
    assert frame["area_reported_mu"].tolist() == pytest.approx([1800.0] * 3)  # ha x 15
    assert frame["land_group"].tolist() == ["arbor", "unestablished", "non_forest"]
    assert frame["is_forest"].tolist() == [1, 0, 0]
    assert frame["is_forest_land"].tolist() == [1, 1, 0]
    assert frame["species"].iloc[0] == "马尾松"  # GBK decoded
    assert frame["canopy"].iloc[0] == pytest.approx(0.65)


def test_stock_is_huo_lmgqxj_times_hectares_by_hand(tmp_path):
    gdf = pinyin_layer(HUO_LMGQXJ=[85.5, 12.0, None], DI_LEI=["0111", "0120", "0201"])
    frame = load(write(gdf, tmp_path))
    districts = pd.DataFrame(
        {
            "adcode": ["500101"],
            "name_zh": ["万州区"],
            "name_en": ["Wanzhou"],
            "total_area_mu": [1e6],
        }
    )
    row = forest_statistics(frame, classes=CLASSES, districts=districts).iloc[0]
    ha = [geod_mu(g) / 15 for g in gdf.geometry]
    assert row["stock_m3"] == pytest.approx(85.5 * ha[0] + 12.0 * ha[1], rel=1e-7)
    assert row["forest_stock_m3"] == pytest.approx(85.5 * ha[0], rel=1e-7)
    assert row["stock_basis"] == "per_ha_x_area"


def test_chinese_field_names_and_sandiao_names(tmp_path):
    gdf = gpd.GeoDataFrame(
        {
            "县": ["万州区", "万州区"],
            "乡镇": ["001", "001"],
            "村": ["01", "01"],
            "林班": [3, 3],
            "小班号": [7, 8],
            "地类": ["乔木林地", "030302"],
            "公顷蓄积": [60.0, None],
        },
        geometry=cells(2),
        crs=4490,
    )
    frame = load(write(gdf, tmp_path, encoding="utf-8"))
    assert frame["adcode"].tolist() == ["500101", "500101"]
    assert frame["key"].tolist() == ["500101/001/01/3/7", "500101/001/01/3/8"]
    assert frame["land_group"].tolist() == ["arbor", "other_shrub"]


def test_three_digit_codes_stored_as_numbers(tmp_path):
    gdf = pinyin_layer(DI_LEI=[111, 141, 250])
    frame = load(write(gdf, tmp_path))
    assert frame["land_code"].tolist() == ["0111", "0141", "02"]


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        (
            {"DI_LEI": ["0111", "0199", "0201"]},
            ["row 2", "'0199'", "unknown land-class", "0111 乔木林地"],
        ),
        ({"XIAO_BAN": ["0001", "0001", "0003"]}, ["duplicate key", "rows 1, 2"]),
        ({"HUO_LMGQXJ": [85.5, None, 40.0]}, ["row 3", "holds no stand", "02"]),
        ({"YU_BI_DU": [65.0, 0.1, None]}, ["row 1", "0.65, not 65"]),
        ({"XIAO_BAN": ["0001", "", "0003"]}, ["row 2", "no 小班 number"]),
        ({"HUO_LMGQXJ": [9000.0, None, None]}, ["row 1", "impossible"]),
    ],
)
def test_bad_layers_are_refused_naming_row_field_and_value(tmp_path, overrides, words):
    with pytest.raises(InventoryError) as err:
        load(write(pinyin_layer(**overrides), tmp_path))
    text = str(err.value)
    assert "not loaded" in text
    for word in words:
        assert word in text


def test_missing_polygon_is_refused(tmp_path):
    gdf = pinyin_layer()
    gdf.loc[1, "geometry"] = Polygon()
    path = write(gdf, tmp_path, name="empty.geojson", encoding="utf-8")
    with pytest.raises(InventoryError, match=r"row 2 .*no polygon"):
        load(path)


def test_overlapping_xiaoban_are_refused_with_the_overlap_area(tmp_path):
    a = box(108.00, 30.80, 108.02, 30.81)
    b = box(108.01, 30.80, 108.03, 30.81)  # overlaps a by 0.01 x 0.01 degrees
    c = box(108.05, 30.80, 108.06, 30.81)
    gdf = pinyin_layer(geometry=[a, b, c])
    with pytest.raises(InventoryError) as err:
        load(write(gdf, tmp_path))
    overlap_m2 = abs(GEOD.geometry_area_perimeter(box(108.01, 30.80, 108.02, 30.81))[0])
    assert "row 1" in str(err.value) and "row 2" in str(err.value)
    assert f"{overlap_m2:,.1f} m²" in str(err.value)


def test_a_sliver_overlap_within_tolerance_is_noted_not_refused(tmp_path):
    # 1e-6 degrees of overlap along one edge: ~1 m² of digitising noise
    a = box(108.00, 30.80, 108.010001, 30.81)
    b = box(108.01, 30.80, 108.02, 30.81)
    c = box(108.05, 30.80, 108.06, 30.81)
    path = write(pinyin_layer(geometry=[a, b, c]), tmp_path)
    layer = read_inventory_layer(path, year=2015)
    frame = prepare_layer(
        layer.frame, classes=CLASSES, ranges=RANGES, display="x", notes=layer.notes
    )
    assert len(frame) == 3
    noted = [n for n in layer.notes if "digitising noise" in n]
    sliver = abs(GEOD.geometry_area_perimeter(box(108.01, 30.80, 108.010001, 30.81))[0])
    assert noted and f"{sliver:,.1f} m²" in noted[0]


def test_a_required_column_missing_names_the_accepted_names(tmp_path):
    gdf = pinyin_layer().drop(columns="DI_LEI")
    with pytest.raises(DeliveryError, match=r"land_class.*DI_LEI"):
        load(write(gdf, tmp_path))


def test_unknown_county_is_refused(tmp_path):
    gdf = pinyin_layer(XIAN=["450102"] * 3)  # a Guangxi county code
    with pytest.raises(InventoryError, match=r"no Chongqing district"):
        load(write(gdf, tmp_path))


def test_real_forestmanager_export_is_refused_naming_what_is_missing():
    # the real 小班 export (GBK, Xi'an 80): XIAN and DI_LEI columns exist but
    # every key and class cell is empty
    with pytest.raises(InventoryError) as err:
        load(real_file("forestmanager", "intersect.shp"))
    assert "XIAN" in str(err.value)


def test_real_xbintersect_schema_without_features_is_refused():
    with pytest.raises(InventoryError, match="no 小班"):
        load(real_file("forestmanager", "xbintersect.shp"))


def test_real_file_without_land_class_is_refused():
    with pytest.raises(DeliveryError, match=r"land_class"):
        load(real_file("derived", "shamu_gbk_no_cpg", "sm.shp"))


def test_overlay_transfer_by_hand():
    # 2010: one arbor 小班 (left) and one shrub 小班 (right); 2015: the layer
    # is cut differently — a middle 小班 straddles both
    before = gpd.GeoDataFrame(
        {"land_group": ["arbor", "other_shrub"]},
        geometry=[box(108.00, 30.8, 108.02, 30.81), box(108.02, 30.8, 108.04, 30.81)],
        crs=4490,
    )
    after = gpd.GeoDataFrame(
        {
            "land_group": ["arbor", "arbor", "non_forest"],
            "change_reason": ["", "13", "41"],
        },
        geometry=[
            box(108.00, 30.8, 108.01, 30.81),
            box(108.01, 30.8, 108.03, 30.81),
            box(108.03, 30.8, 108.04, 30.81),
        ],
        crs=4490,
    )
    pieces = overlay_pieces(before, after)
    pieces["adcode"] = "500101"
    matrix = transfer_matrix(
        pieces.rename(
            columns={"group_from": "land_group_before", "group_to": "land_group"}
        ),
        classes=CLASSES,
    )
    got = matrix.groupby(["group_from", "group_to"])["area_mu"].sum().to_dict()
    reasons = set(matrix.loc[matrix.group_to == "non_forest", "change_reason"])
    assert reasons == {"41"}  # the change reason comes from the later layer
    arbor_kept = geod_mu(box(108.00, 30.8, 108.02, 30.81))
    shrub_to_arbor = geod_mu(box(108.02, 30.8, 108.03, 30.81))
    shrub_to_built = geod_mu(box(108.03, 30.8, 108.04, 30.81))
    assert got[("arbor", "arbor")] == pytest.approx(arbor_kept, rel=1e-7)
    assert got[("other_shrub", "arbor")] == pytest.approx(shrub_to_arbor, rel=1e-7)
    assert got[("other_shrub", "non_forest")] == pytest.approx(shrub_to_built, rel=1e-7)


def test_previous_class_route_needs_agreement_with_the_earlier_layer():
    earlier = pd.DataFrame(
        {"land_group": ["arbor", "other_shrub"], "area_mu": [100.0, 50.0]}
    )
    same = pd.DataFrame(
        {"land_group_before": ["arbor", "other_shrub"], "area_mu": [100.0, 50.0]}
    )
    other = pd.DataFrame(
        {"land_group_before": ["arbor", "other_shrub"], "area_mu": [130.0, 20.0]}
    )
    assert previous_class_agrees(earlier, same) == (True, 0.0)
    ok, diff = previous_class_agrees(earlier, other)
    assert not ok and diff == pytest.approx(30.0 / 150.0)


@pytest.mark.parametrize(
    ("parts", "words"),
    [
        (("forestmanager", "intersect.shp"), ["XIAN", "empty", "--district"]),
        (("forestmanager", "xbintersect.shp"), ["no 小班"]),
        (("derived", "fm_intersect_renamed", "intersect.shp"), ["XIAN", "empty"]),
        (
            ("derived", "meteva_boul_cq_lines", "boul_cq_lines.shp"),
            ["land_class", "DI_LEI"],
        ),
        (("derived", "shamu_gbk_no_cpg", "sm.shp"), ["land_class", "DI_LEI"]),
        (("derived", "zip_cp936", "delivery_cp936.zip"), ["land_class", "YOU_SHI_SZ"]),
    ],
)
def test_every_real_file_with_xiaoban_fields_is_refused_clearly(parts, words, tmp_path):
    # through the command: one message naming what is missing, no traceback,
    # no store created
    from click.testing import CliRunner

    from forestsink.cli.main import cli

    store = tmp_path / "s.gpkg"
    result = CliRunner().invoke(
        cli,
        [
            "inventory",
            "load",
            str(real_file(*parts)),
            "--year",
            "2015",
            "--store",
            str(store),
        ],
    )
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    for word in words:
        assert word in result.output, result.output
    assert not store.exists()


def test_real_forestmanager_export_with_its_county_given_names_the_empty_cells(
    tmp_path,
):
    with pytest.raises(InventoryError) as err:
        load(real_file("forestmanager", "intersect.shp"), district="万州区")
    text = str(err.value)
    assert "no land class" in text and "no 小班 number" in text
