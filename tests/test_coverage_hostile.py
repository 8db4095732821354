"""Hostile and broken rasters for ``forestsink coverage`` (issue 16 items 4, 15).

Every case asserts the message, the exit code and that no Python traceback
reaches the user. Expected figures are hand counts of the pixels written
here (never the code under test). The huge-header case runs the command in a
subprocess under a memory limit.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from affine import Affine
from click.testing import CliRunner
from pyproj import CRS, Geod
from rasterio.control import GroundControlPoint
from rasterio.errors import RasterioIOError
from real_files import REAL, real_file

from forestsink import coverage as cov
from forestsink.cli.main import cli
from forestsink.coverage import fractions, rasters
from forestsink.errors import RasterWarning, WorkLimitError

SLOPE_U8 = REAL / "derived" / "rasterstats_u8" / "slope_classes_u8.tif"

#: 1e-4° pixels; the zone covers columns 50-149 of code 10 (tree cover) and
#: 150-199 of code 60 (bare): a hand count gives 100 / 150 forest in every
#: row, and pixel areas do not vary along a row, so coverage is 2/3.
T = Affine(1e-4, 0, 106.5, 0, -1e-4, 29.6)
ZONE = shapely.box(106.505, 29.585, 106.52, 29.595)
TWO_THIRDS = 100.0 * 2.0 / 3.0
#: South-up grid (row 0 at 29.58 N): the zone's north half (29.59-29.595 N)
#: is tree cover; expected share from pyproj.Geod areas of the two boxes.
SOUTH_UP = Affine(1e-4, 0, 106.5, 0, 1e-4, 29.58)
_GEOD = Geod(ellps="GRS80")  # CGCS2000's ellipsoid, to 1e-4 m in b
NORTH_HALF = (
    100.0
    * abs(_GEOD.geometry_area_perimeter(shapely.box(106.505, 29.59, 106.52, 29.595))[0])
    / abs(_GEOD.geometry_area_perimeter(ZONE)[0])
)


def _tif(path: Path, array, *, count=1, crs="EPSG:4490", transform=T, **kw):
    array = np.asarray(array)
    stack = array if array.ndim == 3 else np.repeat(array[None], count, axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(
            path,
            "w",
            driver=kw.pop("driver", "GTiff"),
            width=stack.shape[2],
            height=stack.shape[1],
            count=stack.shape[0],
            dtype=kw.pop("dtype", "uint8"),
            crs=crs,
            transform=transform,
            **kw,
        ) as dst:
            dst.write(stack)
    return path


def _vrt(path: Path, source: Path, *, gt="106.5, 0.0001, 0, 29.6, 0, -0.0001", w=300):
    path.write_text(
        f"""<VRTDataset rasterXSize="{w}" rasterYSize="200">
  <SRS>EPSG:4490</SRS>
  <GeoTransform>{gt}</GeoTransform>
  <VRTRasterBand dataType="Byte" band="1">
    <NoDataValue>0</NoDataValue>
    <SimpleSource>
      <SourceFilename relativeToVRT="0">{source}</SourceFilename>
      <SourceBand>1</SourceBand>
    </SimpleSource>
  </VRTRasterBand>
</VRTDataset>
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> dict:
    """Build every hostile raster once; return name -> (args, zones file)."""
    d = tmp_path_factory.mktemp("hostile")
    zones = d / "zones.gpkg"
    gpd.GeoDataFrame({"zid": ["a"]}, geometry=[ZONE], crs=4490).to_file(zones)
    zones_3857 = d / "zones_3857.gpkg"
    gpd.read_file(zones).to_crs(3857).to_file(zones_3857)
    a = np.full((200, 300), 10, np.uint8)
    a[:, 150:] = 60
    good = _tif(
        d / "good_2020.tif", a, nodata=0, tiled=True, blockxsize=64, blockysize=64
    )
    raw = good.read_bytes()
    (d / "cut_2020.tif").write_bytes(raw[: len(raw) // 2])
    (d / "cut_header_2020.tif").write_bytes(raw[:200])
    layers = np.stack([a, np.full_like(a, 60), np.full_like(a, 10)])
    _tif(d / "bands_2020.tif", layers, nodata=0)
    _tif(d / "nocrs_2020.tif", a, crs=None, nodata=0)
    _tif(
        d / "one_2020.tif",
        np.array([[10]], np.uint8),
        transform=Affine(0.1, 0, 106.5, 0, -0.1, 29.6),
    )
    _tif(
        d / "rotated_2020.tif",
        a,
        transform=Affine(1e-4, 1e-5, 106.5, 1e-5, -1e-4, 29.6),
    )
    png = _tif(d / "image.png", a, driver="PNG", crs=None, transform=Affine.identity())
    (d / "image_2020.tif").write_bytes(png.read_bytes())
    (d / "text_2020.tif").write_text("not a raster\n", encoding="utf-8")
    # a no-data value the data type cannot hold (GDAL_NODATA tag "300", "nan")
    nd = _tif(d / "nd255.tif", a, nodata=255).read_bytes()
    assert nd.count(b"255\x00") == 1
    (d / "nd300_2020.tif").write_bytes(nd.replace(b"255\x00", b"300\x00"))
    # south-up (row 0 at the south edge): south half bare, north half tree
    south = np.full((200, 300), 10, np.uint8)
    south[:100] = 60
    _tif(d / "south_up_2020.tif", south, nodata=0, transform=SOUTH_UP)
    gcps = [
        GroundControlPoint(r, c, 106.5 + c * 1e-4, 29.6 - r * 1e-4)
        for r, c in ((0, 0), (0, 300), (200, 0), (200, 300))
    ]
    _tif(d / "gcps_2020.tif", a, nodata=0, transform=None, gcps=gcps)
    _vrt(d / "vrt_2020.vrt", good)
    _vrt(d / "vrt_gone_2020.vrt", d / "gone.tif")
    _vrt(d / "nan_2020.vrt", good, gt="nan, 0.0001, 0, 29.6, 0, -0.0001")
    _vrt(d / "inf_2020.vrt", good, gt="106.5, inf, 0, 29.6, 0, -0.0001")
    _vrt(d / "zero_px_2020.vrt", good, gt="106.5, 0, 0, 29.6, 0, -0.0001")
    _vrt(d / "empty_2020.vrt", good, w=0)
    return {"dir": d, "zones": zones, "zones_3857": zones_3857}


CUT = ("文件被截断或已损坏", "the file is truncated or damaged", "copy it again")
# name: (file, extra args, exit code, fragments, coverage % of zone "a" or None)
CASES = {
    "truncated mid-file": ("cut_2020.tif", [], 1, (*CUT, "cut_2020.tif"), None),
    "truncated header": ("cut_header_2020.tif", [], 1, CUT, None),
    "truncated header, --crs": (
        "cut_header_2020.tif",
        ["--crs", "EPSG:4490"],
        1,
        CUT,
        None,
    ),
    "text named .tif": (
        "text_2020.tif",
        [],
        1,
        ("不是 GDAL 能读的栅格文件", "is not a raster file GDAL can read"),
        None,
    ),
    "PNG renamed .tif": (
        "image_2020.tif",
        [],
        1,
        ("PNG", "no georeferencing", "没有地理参考"),
        None,
    ),
    "PNG renamed .tif, --crs": (
        "image_2020.tif",
        ["--crs", "EPSG:4490"],
        1,
        ("in fact a PNG image", "no georeferencing"),
        None,
    ),
    "multi-band, no --band": (
        "bands_2020.tif",
        [],
        0,
        ("3 个波段", "has 3 bands; band 1 is used", "--band N"),
        TWO_THIRDS,
    ),
    "multi-band, --band 2": ("bands_2020.tif", ["--band", "2"], 0, (), 0.0),
    "multi-band, --band 3": ("bands_2020.tif", ["--band", "3"], 0, (), 100.0),
    "multi-band, --band 5": (
        "bands_2020.tif",
        ["--band", "5"],
        1,
        ("没有第 5 波段", "there is no band 5", "band=1 to 3", "line: --band N"),
        None,
    ),
    "no CRS, zones in EPSG:3857": (
        "nocrs_2020.tif",
        ["--zones", "ZONES_3857"],
        1,
        ("没有坐标参考系", "no coordinate reference system", "--crs"),
        None,
    ),
    "no CRS, --crs given": (
        "nocrs_2020.tif",
        ["--crs", "EPSG:4490"],
        0,
        (),
        TWO_THIRDS,
    ),
    "one pixel": ("one_2020.tif", [], 0, (), 100.0),
    "rotated": (
        "rotated_2020.tif",
        [],
        1,
        ("旋转或错切", "rotated or sheared", "gdalwarp"),
        None,
    ),
    "south-up rows": ("south_up_2020.tif", [], 0, (), NORTH_HALF),
    "GCPs only": (
        "gcps_2020.tif",
        [],
        1,
        ("地面控制点", "ground control points only", "gdalwarp"),
        None,
    ),
    "GCPs only, --crs": (
        "gcps_2020.tif",
        ["--crs", "EPSG:4490"],
        1,
        ("ground control points only",),
        None,
    ),
    "no-data 300 in uint8": ("nd300_2020.tif", [], 0, (), TWO_THIRDS),
    "VRT": ("vrt_2020.vrt", [], 0, (), TWO_THIRDS),
    "VRT source missing": (
        "vrt_gone_2020.vrt",
        [],
        1,
        ("VRT 引用的源文件缺失", "source files are missing", "gone.tif"),
        None,
    ),
    "NaN in geotransform": (
        "nan_2020.vrt",
        [],
        1,
        ("NaN 或无穷大", "NaN or infinite"),
        None,
    ),
    "inf in geotransform": ("inf_2020.vrt", [], 1, ("NaN or infinite",), None),
    "zero pixel size": ("zero_px_2020.vrt", [], 1, ("pixel size is zero",), None),
    "zero-size raster": (
        "empty_2020.vrt",
        [],
        1,
        ("empty_2020.vrt", "0 x 200"),
        None,
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_raster(hostile, name, tmp_path):
    file, extra, code, fragments, expected = CASES[name]
    d = hostile["dir"]
    extra = [str(hostile["zones_3857"]) if e == "ZONES_3857" else e for e in extra]
    zones = [] if "--zones" in extra else ["--zones", str(hostile["zones"])]
    out = tmp_path / "out.csv"
    args = [
        "coverage",
        str(d / file),
        "--product",
        "worldcover",
        "--zone-id",
        "zid",
        *zones,
        *extra,
        "--out",
        str(out),
    ]
    result = CliRunner().invoke(cli, args)
    text = result.output
    assert result.exit_code == code, text
    assert "Traceback" not in text
    for fragment in fragments:
        assert fragment in text
    if code:
        assert "错误 / Error" in text and "意外出错" not in text
        assert not out.exists()
    if expected is not None:
        table = pd.read_csv(out, dtype={"zone_id": str})
        pct = table.loc[table["zone_id"] == "a", "coverage_pct"].iloc[0]
        assert pct == pytest.approx(expected, abs=1e-6)


def test_real_truncated_geotiff_names_the_file(tmp_path):
    real_file("derived", "rasterstats_u8", "slope_classes_u8.tif")
    raw = SLOPE_U8.read_bytes()
    cut = tmp_path / "slope_2020.tif"
    cut.write_bytes(raw[: int(len(raw) * 0.6)])
    with rasterio.open(SLOPE_U8) as src:
        zone = shapely.box(*src.bounds)
        crs = src.crs
    zones = tmp_path / "z.gpkg"
    gpd.GeoDataFrame({"zid": ["a"]}, geometry=[zone], crs=crs).to_file(zones)
    result = CliRunner().invoke(
        cli,
        ["coverage", str(cut), "--zones", str(zones), "--out", str(tmp_path / "o.csv")],
    )
    assert result.exit_code == 1
    assert "slope_2020.tif" in result.output and "truncated or damaged" in result.output
    assert "Traceback" not in result.output


def test_nodata_the_dtype_cannot_hold_is_dropped_with_a_warning(tmp_path):
    for bad in (300.0, -1.0, 0.5, float("nan")):
        with pytest.warns(RasterWarning, match="cannot occur in its data type"):
            got = rasters._valid_nodata(tmp_path / "x.tif", bad, "uint8", 1)
        assert got is None
    assert rasters._valid_nodata(tmp_path / "x.tif", 255.0, "uint8", 1) == 255.0


def test_warnings_and_gdal_logs_stay_off_stderr_without_v(hostile, tmp_path):
    """A run that writes a GeoPackage (pyogrio warns about the temporary
    name) and reads a multi-band raster prints forestsink's warning only."""
    d = hostile["dir"]
    args = [
        sys.executable,
        "-m",
        "forestsink",
        "coverage",
        str(d / "bands_2020.tif"),
        "--product",
        "worldcover",
        "--zones",
        str(hostile["zones"]),
        "--zone-id",
        "zid",
        "--out",
        str(tmp_path / "o.gpkg"),
        "--overlay",
        str(tmp_path / "o.png"),
    ]
    run = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    lines = [ln for ln in run.stderr.splitlines() if ln.strip()]
    # each warning, and after one that names a parameter its flag
    hint = "命令行 / on the command line: "
    assert lines and all(
        "警告 / Warning" in ln or ln.startswith(hint) for ln in lines
    ), run.stderr
    assert "警告 / Warning" in lines[0]
    assert (tmp_path / "o.png").exists() and (tmp_path / "o.json").exists()
    assert not list(tmp_path.glob(".*.part*"))


# --------------------------------------------------------------------------
# a header that claims 10^12 pixels (issue 16 item 4)
# --------------------------------------------------------------------------

HUGE = 1_000_000
HUGE_PX = 5e-6  # degrees, about 0.5 m; 5 degrees a side over Chongqing
MEMORY_LIMIT = 3 << 30  # bytes of address space for the subprocess


def _huge_raster(path: Path, *, patch=None) -> Path:
    """A sparse GeoTIFF of 10^6 x 10^6 pixels; *patch*: (row, col, array)."""
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=HUGE,
        height=HUGE,
        count=1,
        dtype="uint8",
        crs="EPSG:4490",
        transform=Affine(HUGE_PX, 0, 105.2, 0, -HUGE_PX, 32.3),
        tiled=True,
        blockxsize=4096,
        blockysize=4096,
        compress="deflate",
        sparse_ok=True,
        nodata=0,
        BIGTIFF="YES",
    ) as dst:
        if patch is not None:
            row, col, array = patch
            window = rasterio.windows.Window(col, row, array.shape[1], array.shape[0])
            dst.write(array, 1, window=window)
    assert path.stat().st_size < 5_000_000
    return path


def _limited() -> None:  # runs in the child before exec
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _run_limited(args: list[str], timeout: float):
    env = {**os.environ, "PYTHONWARNINGS": "default"}
    start = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "forestsink", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=_limited,
        env=env,
    )
    return run, time.monotonic() - start


def test_huge_header_is_refused_before_allocating_under_3_gb(tmp_path):
    raster = _huge_raster(tmp_path / "huge_2020.tif")
    run, seconds = _run_limited(
        ["coverage", str(raster), "--out", str(tmp_path / "o.csv")], timeout=120
    )
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    assert "huge_2020.tif" in run.stderr
    assert "1,000,000 x 1,000,000" in run.stderr
    assert "超过上限 30,000,000" in run.stderr
    assert "above the limit of 30,000,000 cells" in run.stderr
    assert "--max-boundary-cells" in run.stderr
    assert "MemoryError" not in run.stderr and "意外出错" not in run.stderr
    assert seconds < 60
    assert not (tmp_path / "o.csv").exists()


def test_huge_header_with_a_small_zone_and_overlay_succeeds_under_3_gb(tmp_path):
    # 2000 x 2000 pixels of data at rows/cols 600,000: left 1500 columns are
    # tree cover (10), the rest bare (60); the zone is 1000 x 1000 pixels
    # inside, 750 columns of them tree cover: a hand count gives 75 %.
    patch = np.full((2000, 2000), 10, np.uint8)
    patch[:, 1500:] = 60
    raster = _huge_raster(tmp_path / "huge_2020.tif", patch=(600_000, 600_000, patch))
    x0 = 105.2 + (600_000 + 750) * HUGE_PX
    y1 = 32.3 - (600_000 + 500) * HUGE_PX
    zone = shapely.box(x0, y1 - 1000 * HUGE_PX, x0 + 1000 * HUGE_PX, y1)
    zones = tmp_path / "z.gpkg"
    gpd.GeoDataFrame({"zid": ["a"]}, geometry=[zone], crs=4490).to_file(zones)
    out = tmp_path / "o.csv"
    run, seconds = _run_limited(
        [
            "coverage",
            str(raster),
            "--product",
            "worldcover",
            "--zones",
            str(zones),
            "--zone-id",
            "zid",
            "--out",
            str(out),
            "--overlay",
            str(tmp_path / "o.png"),
        ],
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    table = pd.read_csv(out, dtype={"zone_id": str})
    pct = table.loc[table["zone_id"] == "a", "coverage_pct"].iloc[0]
    # rows differ in area by < 1e-6 over 1000 rows at 0.5 m: 75 % to 1e-4
    assert pct == pytest.approx(75.0, abs=1e-4)
    # the overlay reads only the zones' extent, not the 10^12 pixels
    assert (tmp_path / "o.png").exists()
    assert seconds < 240


def test_work_limit_is_settable_and_checked_before_the_band(monkeypatch):
    grid = cov.Grid(
        CRS.from_epsg(4490),
        Affine(HUGE_PX, 0, 105.2, 0, -HUGE_PX, 32.3),
        HUGE,
        HUGE,
    )
    zones = gpd.GeoSeries([shapely.box(106.0, 29.0, 106.1, 29.1)], crs=4490)

    def boom(*_a, **_k):  # the band must not be computed when refused
        raise AssertionError("band computed")

    monkeypatch.setattr(fractions, "_band_cells", boom)
    # boundary 4 x 20,000 px: about 80,000 x 7.66 band cells + 20,000 rows
    with pytest.raises(WorkLimitError, match="above the limit of 100,000 cells"):
        cov.zone_weights(zones, grid, max_cells=100_000)
    assert 600_000 < cov.check_work(zones, grid, max_cells=10**9) < 700_000


def test_read_error_wording_follows_gdal():
    def said(message, name="x_2020.tif"):
        return str(cov.raster_read_error(Path(name), RasterioIOError(message)))

    assert "no permission" in said("x_2020.tif: Permission denied")
    assert "not a raster file" in said("not recognized as being in a supported file")
    assert "truncated or damaged" in said("TIFFReadDirectory: failed")
    vrt = said("/data/gone.tif: No such file or directory", "x_2020.vrt")
    assert "source files are missing" in vrt and "/data/gone.tif" in vrt
