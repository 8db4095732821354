"""Coverage inputs that real files break (issue 15 defects 8 and 9).

Real files are read from ``../shared/real`` (SOURCES.md there); oracles are
exactextract called directly and hand counts.
"""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine
from click.testing import CliRunner
from exactextract import exact_extract
from pyproj import CRS
from real_files import REAL, real_file

from forestsink import coverage as cov
from forestsink.area import CHONGQING_ALBERS
from forestsink.cli.main import cli
from forestsink.errors import UnknownClassError

ALBERS = CRS.from_user_input(CHONGQING_ALBERS)
LC100 = REAL / "mapme_lc100"


real = real_file


def write_tif(path, array, *, transform=None, crs=ALBERS, dtype="uint8", nodata=0):
    array = np.asarray(array, dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(
            path,
            "w",
            driver="GTiff",
            dtype=dtype,
            count=1,
            width=array.shape[1],
            height=array.shape[0],
            transform=transform or Affine(10, 0, 0, 0, -10, 40),
            crs=crs,
            nodata=nodata,
        ) as dst:
            dst.write(array, 1)
    return path


def zone_file(path, geoms, crs=ALBERS, **columns):
    gpd.GeoDataFrame(columns, geometry=list(geoms), crs=crs).to_file(path)
    return path


# --------------------------------------------------------------------------
# defect 8: a wrong --product is refused
# --------------------------------------------------------------------------


def _exactextract_coverage(raster, zone, forest_codes, land_codes):
    """Coverage (%) from exactextract's coverage-weighted pixel counts."""
    frames = exact_extract(raster, zone, ["unique", "frac"], output="pandas")
    share = dict(zip(frames["unique"][0], frames["frac"][0], strict=True))
    forest = sum(v for c, v in share.items() if int(c) in forest_codes)
    land = forest + sum(v for c, v in share.items() if int(c) in land_codes)
    return 100.0 * forest / land


def test_real_lc100_with_worldcover_is_refused(tmp_path):
    tif = real("mapme_lc100", "W080N20_LC100_v3.0.1_2015.tif")
    zones = real("mapme_lc100", "sierra_de_neiba_478140.gpkg")
    with pytest.raises(UnknownClassError) as err:
        cov.compute_coverage([tif], product="worldcover", zones=zones)
    text = str(err.value)
    for code in ("112", "115", "126"):
        assert code in text
    assert "88.2%" in text  # share of the zone: unknown codes / measured area
    assert "product" in text and "max_unknown_pct" in text and "--" not in text
    assert err.value.options == ("product", "classes", "max_unknown_pct")
    assert "none of clcd, worldcover, globeland30" in text
    out = tmp_path / "cov.csv"
    args = ["coverage", str(tif), "--product", "worldcover", "--zones", str(zones)]
    result = CliRunner().invoke(cli, [*args, "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert "上限 5%" in result.output and not out.exists()
    hint = "命令行 / on the command line: --product NAME; --classes FILE; --max-unknown"
    assert hint in result.output
    # settable: with --max-unknown 90 it lands, warning
    result = CliRunner().invoke(cli, [*args, "--max-unknown", "90", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.exists()


def test_real_lc100_with_its_class_table_gives_exactextract_figure(tmp_path):
    tif = real("mapme_lc100", "W080N20_LC100_v3.0.1_2015.tif")
    zones = real("mapme_lc100", "sierra_de_neiba_478140.gpkg")
    classes = real("derived", "lc100", "lc100_classes.csv")
    table = cov.read_class_scheme("custom", classes).table()
    forest = set(table["code"][table["counts_as"].isin(["forest", "shrub_forest"])])
    land = set(table["code"][table["counts_as"] == "land"])
    want = _exactextract_coverage(str(tif), gpd.read_file(zones), forest, land)
    res = cov.compute_coverage(
        [tif], product="custom", classes=classes, zones=zones, years=[2015]
    )
    got = res.table["coverage_pct"].iloc[0]
    assert want == pytest.approx(90.8, abs=0.05)
    # pixel areas vary by < 0.1 % over the zone; exactextract counts pixels
    assert got == pytest.approx(want, abs=0.05)


def test_clcd_codes_with_worldcover_name_the_preset_that_fits(tmp_path):
    tif = write_tif(tmp_path / "lc_2015.tif", [[1, 2, 2], [2, 3, 4], [5, 2, 2]])
    zones = zone_file(tmp_path / "z.gpkg", [shapely.box(0, 10, 30, 40)])
    with pytest.raises(UnknownClassError, match=r"every code found: clcd\."):
        cov.compute_coverage([tif], product="worldcover", zones=zones)
    # under the limit: counted as excluded, with a warning
    with pytest.warns(cov.UnknownClassWarning, match=r"1 \(11\.1%, 1 px\)"):
        cov.compute_coverage(
            [tif], product="worldcover", zones=zones, max_unknown_pct=100
        )


# --------------------------------------------------------------------------
# defect 9: zone files and class raster types
# --------------------------------------------------------------------------


def test_real_duplicate_zone_ids_refused_naming_ids_and_features(tmp_path):
    zones = real("rasterstats", "polygons_partial_overlap.shp")
    tif = write_tif(tmp_path / "lc_2015.tif", [[2, 1], [1, 2]])
    with pytest.raises(cov.ZoneFileError) as err:
        cov.read_zones(zones)
    text = str(err.value)
    assert "column 'id'" in text and "'3' (features 1, 2, 3, 4, 5, 6, 7, 8, 9)" in text
    assert "区域编号重复" in text and "zone_id" in text and "--zone-id" not in text
    out = tmp_path / "o.csv"
    result = CliRunner().invoke(
        cli, ["coverage", str(tif), "--zones", str(zones), "--out", str(out)]
    )
    assert result.exit_code == 1 and "duplicate zone ids" in result.output
    assert "命令行 / on the command line: --zone-id COLUMN" in result.output
    assert not out.exists()


def test_real_float_ids_print_as_integers():
    zones = cov.read_zones(
        real("mapme_lc100", "sierra_de_neiba_478140.gpkg"), id_column="WDPAID"
    )
    assert zones.rows["zone_id"].tolist() == ["total", "478140"]


def test_name_column_reaches_name_zh_and_ids_keep_fractions(tmp_path):
    path = zone_file(
        tmp_path / "z.gpkg",
        [shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 10)],
        zone_id=[1.5, 2.0],
        name=["东林场", "西林场"],
        adcode=[500101.0, 500102.0],
    )
    rows = cov.read_zones(path).rows
    assert rows["zone_id"].tolist() == ["total", "1.5", "2.0"]
    assert rows["adcode"].tolist() == ["", "500101", "500102"]
    assert rows["name_zh"].tolist() == ["合计", "东林场", "西林场"]


def test_gbk_zone_shapefile_without_cpg_keeps_its_names(tmp_path):
    path = tmp_path / "zones.shp"
    gpd.GeoDataFrame(
        {"zone_id": [1, 2], "name": ["万州区", "杉木林场"]},
        geometry=[shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 10)],
        crs=ALBERS,
    ).to_file(path, encoding="GBK", engine="pyogrio")
    path.with_suffix(".cpg").unlink(missing_ok=True)
    rows = cov.read_zones(path).rows
    assert rows["name_zh"].tolist() == ["合计", "万州区", "杉木林场"]


def test_custom_zone_transitions_are_not_titled_city_wide(tmp_path):
    a = write_tif(tmp_path / "lc_2010.tif", [[2, 2], [1, 1]])
    b = write_tif(tmp_path / "lc_2015.tif", [[2, 1], [1, 2]])
    zones = zone_file(tmp_path / "z.gpkg", [shapely.box(0, 20, 20, 40)], zone_id=[7])
    out = tmp_path / "o.csv"
    result = CliRunner().invoke(
        cli,
        ["coverage", str(a), str(b), "--zones", str(zones), "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    flat = "".join(result.output.split())  # the title wraps
    assert "全部区域合计" in flat and "allzones(sum)" in flat
    assert "全市" not in flat and "city-wide" not in flat


def test_real_float32_class_raster_refused_saying_how_to_convert(tmp_path):
    src = real("rasterstats", "slope_classes.tif")
    with pytest.raises(cov.CoverageError) as err:
        cov.inspect_raster(src)
    text = str(err.value)
    assert "float32" in text and "--type=Byte" in text and "gdal_calc.py" in text
    # the rasterio recipe of the message gives the derived uint8 file's pixels
    recipe = text.split("with rasterio: `", 1)[1].split("`", 1)[0]
    out = tmp_path / "u8.tif"
    exec(recipe, {"rasterio": rasterio, "IN": str(src), "OUT": str(out)})
    with (
        rasterio.open(out) as got,
        rasterio.open(
            real("derived", "rasterstats_u8", "slope_classes_u8.tif")
        ) as want,
    ):
        assert got.dtypes[0] == "uint8" and got.nodata == want.nodata == 255
        np.testing.assert_array_equal(got.read(1), want.read(1))
    cov.inspect_raster(out)  # now accepted


def test_int16_class_raster_refused_with_gdal_translate_when_no_nodata(tmp_path):
    tif = write_tif(tmp_path / "c.tif", [[1, 2]], dtype="int16", nodata=None)
    with pytest.raises(cov.CoverageError, match=r"gdal_translate -ot Byte c\.tif"):
        cov.inspect_raster(tif)


def test_partial_overlap_warning_names_the_zone_ids(tmp_path):
    tif = write_tif(tmp_path / "lc_2015.tif", [[2, 1], [1, 2]])  # x 0..20, y 20..40
    zones = zone_file(
        tmp_path / "z.gpkg",
        [shapely.box(0, 20, 20, 40), shapely.box(10, 20, 30, 40)],
        zone_id=["inside", "half-out"],
    )
    with pytest.warns(cov.PartialOverlapWarning, match=r"half-out \(50\.0%\)"):
        cov.compute_coverage([tif], zones=zones)
