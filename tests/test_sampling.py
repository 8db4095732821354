"""Reference samples and design-based estimates (forestsink.sampling, issue 18).

Oracles are independent of the code: the worked example of Olofsson et al.
2014 (section 5) with values typed from the paper, and simulations on
synthetic maps whose true areas are known.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forestsink.sampling import Z95, estimate_areas, sample_size_eq13

# ---------------------------------------------------------------------------
# Olofsson et al. 2014, RSE 148:42-57, section 5 (Tables 8 and 9, p. 53-54).
# Sample counts: rows = map stratum, columns = reference class, in the order
# deforestation, forest gain, stable forest, stable non-forest.
# ---------------------------------------------------------------------------
PAPER_CLASSES = ["deforestation", "forest_gain", "stable_forest", "stable_non_forest"]
PAPER_COUNTS = [
    [66, 0, 5, 4],
    [0, 55, 8, 12],
    [1, 0, 153, 11],
    [2, 1, 9, 313],
]
PAPER_PIXELS = [200_000, 150_000, 3_200_000, 6_450_000]
PIXEL_HA = 0.09


def paper_points() -> pd.DataFrame:
    rows = []
    for i, counts in enumerate(PAPER_COUNTS):
        for j, count in enumerate(counts):
            rows += [(PAPER_CLASSES[i], PAPER_CLASSES[i], PAPER_CLASSES[j])] * count
    return pd.DataFrame(rows, columns=["stratum", "map_class", "ref_class"])


def paper_strata() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "stratum": PAPER_CLASSES,
            "area_ha": np.array(PAPER_PIXELS) * PIXEL_HA,
        }
    )


@pytest.fixture(scope="module")
def paper():
    return estimate_areas(paper_points(), paper_strata())


def test_paper_sample_is_the_papers():
    points = paper_points()
    assert len(points) == 640
    assert points.groupby("stratum").size().to_dict() == {
        "deforestation": 75,
        "forest_gain": 75,
        "stable_forest": 165,
        "stable_non_forest": 325,
    }


def test_paper_deforestation_area_and_interval(paper):
    # printed: 21,158 ha ± 6158 ha (95 % CI)
    i = paper.classes.index("deforestation")
    assert round(paper.area_ha[i]) == 21_158
    assert round(Z95 * paper.area_se_ha[i]) == 6_158
    # mapped deforestation: 200,000 pixels × 0.09 ha
    assert paper.map_area_ha[i] == pytest.approx(18_000.0)
    assert not paper.map_area_estimated


def test_paper_other_areas(paper):
    # printed with the same precision: 11,686 ± 3756; 285,770 ± 15,510;
    # 581,386 ± 16,281 ha
    expected = {
        "forest_gain": (11_686, 3_756),
        "stable_forest": (285_770, 15_510),
        "stable_non_forest": (581_386, 16_281),
    }
    for name, (area, half) in expected.items():
        i = paper.classes.index(name)
        assert round(paper.area_ha[i]) == area
        # z = 1.96 or 1.95996 moves the last printed digit of the larger ones
        assert Z95 * paper.area_se_ha[i] == pytest.approx(half, abs=1.0)


def test_paper_accuracies(paper):
    # printed to two decimals: user's 0.88 ± 0.07, 0.73 ± 0.10, 0.93 ± 0.04,
    # 0.96 ± 0.02; producer's 0.75 ± 0.21, 0.85 ± 0.25, 0.93 ± 0.03,
    # 0.96 ± 0.02; overall 0.95 ± 0.02
    ua = [0.88, 0.73, 0.93, 0.96]
    ua_ci = [0.07, 0.10, 0.04, 0.02]
    pa = [0.75, 0.85, 0.93, 0.96]
    pa_ci = [0.21, 0.25, 0.03, 0.02]
    assert np.round(paper.users, 2).tolist() == ua
    assert np.round(Z95 * paper.users_se, 2).tolist() == ua_ci
    assert np.round(paper.producers, 2).tolist() == pa
    assert np.round(Z95 * paper.producers_se, 2).tolist() == pa_ci
    assert round(paper.overall, 2) == 0.95
    assert round(Z95 * paper.overall_se, 2) == 0.02


def test_paper_matrix_in_area_proportions(paper):
    # Table 9, first row: 0.0176 0.0000 0.0013 0.0011 (W = 0.020)
    assert np.round(paper.matrix[0], 4).tolist() == [0.0176, 0.0, 0.0013, 0.0011]
    assert paper.matrix.sum() == pytest.approx(1.0)
    assert paper.matrix.sum(axis=1) == pytest.approx([0.02, 0.015, 0.32, 0.645])


def test_paper_sample_size_eq13():
    # section 5.1.1: U = 0.60, 0.70, 0.90, 0.95, S(O) = 0.01 -> n = 641.3
    n = sample_size_eq13([0.02, 0.015, 0.32, 0.645], [0.6, 0.7, 0.9, 0.95], 0.01)
    assert n == 642  # 641.3 rounded up (the paper prints 641)


def test_olofsson_closed_forms_equal_the_general_estimator(paper):
    # Olofsson eqs. 5 and 7, computed directly, against the ratio estimator
    counts = np.array(PAPER_COUNTS, dtype=float)
    w = np.array(PAPER_PIXELS) / sum(PAPER_PIXELS)
    n_i = counts.sum(axis=1)
    p = w[:, None] * counts / n_i[:, None]
    u = np.diag(p) / p.sum(axis=1)
    assert paper.users == pytest.approx(u)
    assert paper.users_se == pytest.approx(np.sqrt(u * (1 - u) / (n_i - 1)))
    nj = (w[:, None] * counts / n_i[:, None]).sum(axis=0)  # p.j as proportions
    big_n = np.array(PAPER_PIXELS, dtype=float)
    n_hat_j = (big_n[:, None] * counts / n_i[:, None]).sum(axis=0)
    prod = np.diag(p) / nj
    se = []
    for j in range(4):
        first = big_n[j] ** 2 * (1 - prod[j]) ** 2 * u[j] * (1 - u[j]) / (n_i[j] - 1)
        second = prod[j] ** 2 * sum(
            big_n[i] ** 2
            * counts[i, j]
            / n_i[i]
            * (1 - counts[i, j] / n_i[i])
            / (n_i[i] - 1)
            for i in range(4)
            if i != j
        )
        se.append(np.sqrt((first + second) / n_hat_j[j] ** 2))
    assert paper.producers == pytest.approx(prod)
    assert paper.producers_se == pytest.approx(se)


# ---------------------------------------------------------------------------
# simulation: known truth, many samples
# ---------------------------------------------------------------------------


def synthetic_map(seed: int = 7):
    """A 'map' of 200,000 pixels of 0.09 ha with known reference classes."""
    rng = np.random.default_rng(seed)
    n = 200_000
    map_class = rng.choice(3, size=n, p=[0.08, 0.30, 0.62])
    # confusion: rows map class, reference class drawn from these rows
    confusion = np.array([[0.70, 0.20, 0.10], [0.10, 0.80, 0.10], [0.05, 0.05, 0.90]])
    u = rng.random(n)
    cum = confusion.cumsum(axis=1)[map_class]
    ref = (u[:, None] > cum).sum(axis=1)
    return map_class, ref


def test_simulation_unbiased_and_covering():
    map_class, ref = synthetic_map()
    names = np.array(["loss", "forest", "other"])
    true_area = np.bincount(ref, minlength=3) * PIXEL_HA
    map_area = np.bincount(map_class, minlength=3) * PIXEL_HA
    strata = pd.DataFrame({"stratum": names, "area_ha": map_area})
    by_stratum = [np.flatnonzero(map_class == k) for k in range(3)]
    n_h = [60, 80, 100]
    rng = np.random.default_rng(2014)
    runs = 300
    est = np.empty((runs, 3))
    covered = np.zeros((runs, 3), dtype=bool)
    ua_est = np.empty(runs)
    for run in range(runs):
        picks = np.concatenate(
            [
                rng.choice(ix, size=n, replace=False)
                for ix, n in zip(by_stratum, n_h, strict=True)
            ]
        )
        points = pd.DataFrame(
            {
                "stratum": names[map_class[picks]],
                "map_class": names[map_class[picks]],
                "ref_class": names[ref[picks]],
            }
        )
        result = estimate_areas(points, strata, classes=list(names))
        est[run] = result.area_ha
        covered[run] = np.abs(result.area_ha - true_area) <= Z95 * result.area_se_ha
        ua_est[run] = result.users[0]
    # unbiased: the mean of 300 estimates is within 3 Monte Carlo SEs of truth
    mc_se = est.std(axis=0, ddof=1) / np.sqrt(runs)
    assert np.all(np.abs(est.mean(axis=0) - true_area) < 3 * mc_se)
    # the map's own count is biased by more than that for the rare class
    assert abs(map_area[0] - true_area[0]) > 10 * mc_se[0]
    # the 95 % interval covers the truth in about 95 % of runs
    coverage = covered.mean(axis=0)
    assert np.all((coverage >= 0.91) & (coverage <= 0.98)), coverage
    true_ua = np.mean(ref[map_class == 0] == 0)
    assert abs(ua_est.mean() - true_ua) < 0.01


def test_strata_that_are_not_map_classes():
    # strata = two regions; map classes cut across them (Stehman 2014)
    map_class, ref = synthetic_map(seed=11)
    region = (np.arange(len(map_class)) % 5 == 0).astype(int)  # 20 % / 80 %
    names = np.array(["loss", "forest", "other"])
    strata = pd.DataFrame(
        {
            "stratum": ["a", "b"],
            "area_ha": np.bincount(region, minlength=2) * PIXEL_HA,
        }
    )
    true_area = np.bincount(ref, minlength=3) * PIXEL_HA
    true_map = np.bincount(map_class, minlength=3) * PIXEL_HA
    rng = np.random.default_rng(3)
    runs = 200
    est, cover, maps = np.empty((runs, 3)), np.zeros((runs, 3), bool), []
    for run in range(runs):
        picks = np.concatenate(
            [
                rng.choice(np.flatnonzero(region == g), size=150, replace=False)
                for g in (0, 1)
            ]
        )
        points = pd.DataFrame(
            {
                "stratum": np.array(["a", "b"])[region[picks]],
                "map_class": names[map_class[picks]],
                "ref_class": names[ref[picks]],
            }
        )
        r = estimate_areas(points, strata, classes=list(names))
        assert r.map_area_estimated
        est[run] = r.area_ha
        cover[run] = np.abs(r.area_ha - true_area) <= Z95 * r.area_se_ha
        maps.append(r.map_area_ha)
    mc_se = est.std(axis=0, ddof=1) / np.sqrt(runs)
    assert np.all(np.abs(est.mean(axis=0) - true_area) < 3 * mc_se)
    # a class of 12 % from 300 points: the normal interval under-covers a little
    assert np.all(cover.mean(axis=0) >= 0.88), cover.mean(axis=0)
    maps = np.array(maps)
    map_mc_se = maps.std(axis=0, ddof=1) / np.sqrt(runs)
    assert np.all(np.abs(maps.mean(axis=0) - true_map) < 4 * map_mc_se)


def test_reference_class_no_stratum_maps():
    points = paper_points()
    # relabel three stable non-forest points as water: no stratum maps water
    idx = points.index[points["ref_class"] == "stable_non_forest"][:3]
    points.loc[idx, "ref_class"] = "water"
    r = estimate_areas(points, paper_strata())
    w = r.classes.index("water")
    assert r.classes[-1] == "water"
    assert r.map_area_ha[w] == 0.0
    assert r.area_ha[w] > 0
    assert np.isnan(r.users[w])
    assert r.producers[w] == 0.0
    assert r.area_ha.sum() == pytest.approx(r.total_area_ha)


# ---------------------------------------------------------------------------
# design on tiny rasters (CLCD codes: 2 forest, 1 cropland, 5 water, 0 no data)
# ---------------------------------------------------------------------------

import json  # noqa: E402
import warnings  # noqa: E402

import geopandas as gpd  # noqa: E402
import rasterio  # noqa: E402
import shapely  # noqa: E402
from affine import Affine  # noqa: E402
from click.testing import CliRunner  # noqa: E402
from pyproj import Geod, Transformer  # noqa: E402

from forestsink.cli.main import cli  # noqa: E402
from forestsink.sampling.design import allocate, design_sample  # noqa: E402

# a corner of 沙坪坝/九龙坡 in EPSG:4545 (CGCS2000 / 3-degree GK CM 108E)
X0, Y0 = Transformer.from_crs(4490, 4545, always_xy=True).transform(106.40, 29.60)
X0, Y0 = round(X0, -2), round(Y0, -2)
TRANSFORM = Affine(30.0, 0.0, X0, 0.0, -30.0, Y0)


def write_tif(
    path, array, transform=TRANSFORM, crs="EPSG:4545", nodata=0, dtype="uint8"
):
    array = np.asarray(array, dtype=dtype)
    profile = {
        "driver": "GTiff",
        "dtype": dtype,
        "count": 1,
        "width": array.shape[1],
        "height": array.shape[0],
        "transform": transform,
        "nodata": nodata,
        "crs": crs,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(array, 1)
    return path


def landcover(seed: int, shape=(300, 400)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    codes = rng.choice([2, 1, 5], size=shape, p=[0.5, 0.45, 0.05]).astype(np.uint8)
    codes[:10, :] = 0  # a strip of no data
    return codes


@pytest.fixture
def maps(tmp_path):
    a = landcover(1)
    b = a.copy()
    flip = np.random.default_rng(2).random(a.shape) < 0.05
    b[flip & (a == 2)] = 1  # loss
    b[flip & (a == 1)] = 2  # gain
    return (
        write_tif(tmp_path / "clcd_2010.tif", a),
        write_tif(tmp_path / "clcd_2015.tif", b),
        a,
        b,
    )


def test_allocation_rules():
    area = [20.0, 30.0, 950.0]
    pix = [10**6] * 3
    assert allocate(area, pix, n=100).tolist() == [2, 3, 95]
    assert allocate(area, pix, n=100, min_per_stratum=10).tolist() == [10, 10, 80]
    assert allocate(area, pix, n=99, allocation="equal").tolist() == [33, 33, 33]
    ney = allocate(
        area, pix, n=100, allocation="neyman", users_accuracy=[0.5, 0.5, 0.99]
    )
    assert ney.sum() == 100 and ney[0] > 2
    # never more points than pixels
    assert allocate(area, [3, 10**6, 10**6], n=100, min_per_stratum=10)[0] == 3


def test_design_one_map(maps):
    path, _, a, _ = maps
    d = design_sample([path], n=300, seed=5)
    pts = d.points
    assert len(pts) == 300
    assert pts["point_id"].is_unique
    code = a[pts["row"], pts["col"]]
    assert np.all(np.where(code == 2, "forest", "non_forest") == pts["map_class"])
    assert not np.any(code == 0)
    # strata pixel counts and areas
    s = d.strata.set_index("stratum")
    assert s.loc["forest", "n_pixels"] == np.sum(a == 2)
    assert s.loc["non_forest", "n_pixels"] == np.sum((a == 1) | (a == 5))
    assert s["n_points"].sum() == 300
    # ellipsoidal area of one pixel by pyproj.Geod, independent of the code
    to_ll = Transformer.from_crs(4545, 4490, always_xy=True)
    xs = np.array([X0, X0 + 30, X0 + 30, X0]) + 200 * 30
    ys = np.array([Y0, Y0, Y0 - 30, Y0 - 30]) - 150 * 30
    lon, lat = to_ll.transform(xs, ys)
    pixel_ha = abs(Geod(ellps="GRS80").polygon_area_perimeter(lon, lat)[0]) / 1e4
    assert s["pixel_area_ha"].to_numpy() == pytest.approx(pixel_ha, rel=1e-4)
    assert s["area_mu"].to_numpy() == pytest.approx(s["area_ha"].to_numpy() * 15)
    # x, y are pixel centres; lon, lat their CGCS2000 coordinates
    assert np.allclose(pts["x"], X0 + 30 * (pts["col"] + 0.5))
    assert np.allclose(pts["y"], Y0 - 30 * (pts["row"] + 0.5))
    lon, lat = to_ll.transform(pts["x"].to_numpy(), pts["y"].to_numpy())
    assert np.allclose(pts["lon"], lon, atol=1e-6)
    # districts looked up when no zones are given
    assert pts["adcode"].str.startswith("500").mean() > 0.9


def test_design_is_seeded_and_independent_of_the_window(maps):
    path, _, _, _ = maps
    one = design_sample([path], n=200, seed=9)
    two = design_sample([path], n=200, seed=9, window_pixels=64 * 400)
    other = design_sample([path], n=200, seed=10)
    assert one.meta["bands_read"] == 1 and two.meta["bands_read"] == 5
    pd.testing.assert_frame_equal(one.points, two.points)
    assert not one.points[["row", "col"]].equals(other.points[["row", "col"]])


def test_design_draws_uniformly(maps):
    # many points from a stratum: rows and columns are uniform over its pixels
    path, _, a, _ = maps
    d = design_sample([path], n=6000, seed=3, min_per_stratum=0)
    pts = d.points[d.points["map_class"] == "forest"]
    rows, cols = np.nonzero(a == 2)
    n = len(pts)
    assert n > 2500
    assert not pts[["row", "col"]].duplicated().any()
    for drawn, pool in ((pts["row"], rows), (pts["col"], cols)):
        assert abs(drawn.mean() - pool.mean()) < 4 * pool.std() / np.sqrt(n)
    # by quarter of the raster, chi-square with 3 df below 16.3 (p = 0.001)
    q = (pts["row"] >= 155).astype(int) * 2 + (pts["col"] >= 200)
    pool_q = (rows >= 155).astype(int) * 2 + (cols >= 200)
    expected = np.bincount(pool_q, minlength=4) / len(rows) * n
    chi2 = (((np.bincount(q, minlength=4) - expected) ** 2) / expected).sum()
    assert chi2 < 16.3


def test_design_two_maps(maps):
    p1, p2, a, b = maps
    d = design_sample([p1, p2], n=400, seed=1, min_per_stratum=20)
    pts = d.points
    f1 = a[pts["row"], pts["col"]] == 2
    f2 = b[pts["row"], pts["col"]] == 2
    expect = np.select(
        [f1 & f2, ~f1 & f2, f1 & ~f2],
        ["stable_forest", "gain", "loss"],
        "stable_non_forest",
    )
    assert (pts["map_class"].to_numpy() == expect).all()
    s = d.strata.set_index("stratum")
    assert s.loc["loss", "n_pixels"] == np.sum((a == 2) & (b != 2) & (b != 0))
    assert s["n_points"].min() >= 20
    assert (pts["map_code2"] == b[pts["row"], pts["col"]]).all()


def test_design_with_zone_file(maps, tmp_path):
    path, _, a, _ = maps
    west = shapely.box(X0, Y0 - 300 * 30, X0 + 200 * 30, Y0)
    east = shapely.box(X0 + 200 * 30, Y0 - 300 * 30, X0 + 300 * 30, Y0)
    zones = gpd.GeoDataFrame(
        {"zone_id": ["w", "e"]}, geometry=[west, east], crs=4545
    ).to_crs(4490)
    zones.to_file(tmp_path / "zones.gpkg")
    d = design_sample([path], n=200, seed=2, zones=str(tmp_path / "zones.gpkg"))
    small = design_sample(
        [path], n=200, seed=2, zones=str(tmp_path / "zones.gpkg"), window_pixels=1
    )
    pd.testing.assert_frame_equal(d.points, small.points)
    pd.testing.assert_frame_equal(d.strata, small.strata)
    pts = d.points
    assert set(d.strata["stratum"]) == {
        "w_forest",
        "w_non_forest",
        "e_forest",
        "e_non_forest",
    }
    assert (pts.loc[pts["adcode"] == "w", "col"] < 200).all()
    assert (pts.loc[pts["adcode"] == "e", "col"].between(200, 299)).all()
    s = d.strata.set_index("stratum")
    # centre rule: columns 0-199 west, 200-299 east, the rest in no zone
    assert s.loc["e_forest", "n_pixels"] == np.sum(a[:, 200:300] == 2)
    assert s.loc["w_non_forest", "n_pixels"] == np.sum(np.isin(a[:, :200], [1, 5]))


# ---------------------------------------------------------------------------
# CLI: design -> label -> estimate, and bad input
# ---------------------------------------------------------------------------


def label(sample_csv, out, *, flip=0.1, seed=0):
    frame = pd.read_csv(sample_csv, dtype=str, keep_default_na=False)
    rng = np.random.default_rng(seed)
    other = {"forest": "non_forest", "non_forest": "forest"}
    wrong = rng.random(len(frame)) < flip
    frame["ref_class"] = np.where(
        wrong, frame["map_class"].map(other), frame["map_class"]
    )
    frame.to_csv(out, index=False)
    return out


@pytest.fixture
def designed(maps, tmp_path):
    path = maps[0]
    out = tmp_path / "design"
    result = CliRunner().invoke(
        cli,
        ["sample", "design", str(path), "--n", "150", "--seed", "4", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    return out


def test_cli_design_writes_everything(designed):
    names = sorted(p.name for p in designed.iterdir())
    assert names == [
        "design.json",
        "sample.csv",
        "sample.gpkg",
        "sample.kml",
        "strata.csv",
    ]
    sample = pd.read_csv(designed / "sample.csv", dtype=str, keep_default_na=False)
    assert list(sample.columns[:8]) == [
        "point_id",
        "stratum",
        "map_class",
        "lon",
        "lat",
        "x",
        "y",
        "adcode",
    ]
    layer = gpd.read_file(designed / "sample.gpkg")
    assert len(layer) == len(sample) == 150 and layer.crs.to_epsg() == 4490
    assert (designed / "sample.kml").read_text().count("<Placemark>") == 150
    strata = pd.read_csv(designed / "strata.csv")
    assert {"area_ha", "area_mu", "n_pixels", "pixel_area_ha"} <= set(strata.columns)


@pytest.mark.parametrize("suffix", [".json", ".csv", ".xlsx"])
def test_cli_estimate_contract(designed, tmp_path, suffix):
    labels = label(designed / "sample.csv", tmp_path / "labels.csv")
    out = tmp_path / f"estimate{suffix}"
    result = CliRunner().invoke(
        cli,
        [
            "sample",
            "estimate",
            "--labels",
            str(labels),
            "--strata",
            str(designed / "strata.csv"),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "overall accuracy" in result.output
    if suffix == ".json":
        doc = json.loads(out.read_text(encoding="utf-8"))
        assert {"classes", "overall_accuracy", "overall_accuracy_ci95"} <= set(doc)
        keys = {
            "class",
            "map_area_ha",
            "area_ha",
            "area_ha_ci95",
            "users_accuracy",
            "users_accuracy_ci95",
            "producers_accuracy",
            "producers_accuracy_ci95",
        }
        assert all(keys <= set(c) for c in doc["classes"])
        assert [c["class"] for c in doc["classes"]] == ["forest", "non_forest"]
        total = sum(c["area_ha"] for c in doc["classes"])
        assert total == pytest.approx(sum(c["map_area_ha"] for c in doc["classes"]))
        assert 0.8 < doc["overall_accuracy"] < 0.97
    elif suffix == ".xlsx":
        sheets = pd.read_excel(out, sheet_name=None)
        assert {"classes", "error_matrix", "sample_counts", "strata"} <= set(sheets)
    else:
        table = pd.read_csv(out, encoding="utf-8-sig")
        assert table["area_ha_ci95"].notna().all()


def run_estimate(labels, strata, out, *extra):
    return CliRunner().invoke(
        cli,
        [
            "sample",
            "estimate",
            "--labels",
            str(labels),
            "--strata",
            str(strata),
            "--out",
            str(out),
            *extra,
        ],
    )


def bad_case(designed, tmp_path, edit_labels=None, edit_strata=None):
    labels = pd.read_csv(
        label(designed / "sample.csv", tmp_path / "l.csv"),
        dtype=str,
        keep_default_na=False,
    )
    strata = pd.read_csv(designed / "strata.csv", dtype=str, keep_default_na=False)
    if edit_labels:
        labels = edit_labels(labels)
    if edit_strata:
        strata = edit_strata(strata)
    labels.to_csv(tmp_path / "bad_labels.csv", index=False)
    strata.to_csv(tmp_path / "bad_strata.csv", index=False)
    out = tmp_path / "never.json"
    result = run_estimate(tmp_path / "bad_labels.csv", tmp_path / "bad_strata.csv", out)
    assert result.exit_code == 1, result.output
    assert not out.exists()
    assert not list(tmp_path.glob(".never*"))
    return result.output


def test_bad_unknown_class(designed, tmp_path):
    def edit(t):
        t.loc[3, "ref_class"] = "forrest"
        return t

    text = bad_case(designed, tmp_path, edit)
    assert "forrest" in text and "--extra-class" in text
    assert text.index("错误") < text.index("not a known class")


def test_extra_class_is_declared(designed, tmp_path):
    labels = pd.read_csv(
        label(designed / "sample.csv", tmp_path / "l.csv"),
        dtype=str,
        keep_default_na=False,
    )
    labels.loc[:4, "ref_class"] = "water"
    labels.to_csv(tmp_path / "w.csv", index=False)
    out = tmp_path / "w.json"
    result = run_estimate(
        tmp_path / "w.csv", designed / "strata.csv", out, "--extra-class", "water"
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    water = next(c for c in doc["classes"] if c["class"] == "water")
    assert water["map_area_ha"] == 0 and water["area_ha"] > 0
    assert water["users_accuracy"] is None


def test_bad_point_outside_every_stratum(designed, tmp_path):
    def edit(t):
        t.loc[0, "stratum"] = "wetland"
        return t

    assert "no stratum" in bad_case(designed, tmp_path, edit)


def test_bad_duplicate_point_ids(designed, tmp_path):
    def edit(t):
        t.loc[5, "point_id"] = t.loc[4, "point_id"]
        return t

    assert "duplicate point_id" in bad_case(designed, tmp_path, edit)


def test_bad_stratum_with_one_point(designed, tmp_path):
    def edit(t):
        keep = t[t["stratum"] == "forest"].index[:1]
        return t[(t["stratum"] != "forest") | t.index.isin(keep)]

    assert "fewer than 2" in bad_case(designed, tmp_path, edit)


def test_bad_strata_areas_do_not_match(designed, tmp_path):
    def edit(s):
        s.loc[0, "area_ha"] = str(float(s.loc[0, "area_ha"]) * 1.1)
        return s

    assert "does not match" in bad_case(designed, tmp_path, edit_strata=edit)


def test_bad_map_class_edited(designed, tmp_path):
    def edit(t):
        i = t.index[t["stratum"] == "forest"][0]
        t.loc[i, "map_class"] = "non_forest"
        return t

    assert "map_class does not match" in bad_case(designed, tmp_path, edit)


def test_strata_from_pixels(designed, tmp_path):
    labels = label(designed / "sample.csv", tmp_path / "l.csv")
    strata = pd.read_csv(designed / "strata.csv")[
        ["stratum", "n_pixels", "pixel_area_ha"]
    ]
    strata.to_csv(tmp_path / "px.csv", index=False)
    out = tmp_path / "px.json"
    assert run_estimate(labels, tmp_path / "px.csv", out).exit_code == 0
    full = tmp_path / "full.json"
    assert run_estimate(labels, designed / "strata.csv", full).exit_code == 0
    a = json.loads(out.read_text(encoding="utf-8"))
    b = json.loads(full.read_text(encoding="utf-8"))
    assert a["classes"][0]["area_ha"] == pytest.approx(b["classes"][0]["area_ha"])


def test_per_district_estimates_and_refusals(maps, tmp_path):
    path = maps[0]
    west = shapely.box(X0, Y0 - 300 * 30, X0 + 200 * 30, Y0)
    east = shapely.box(X0 + 200 * 30, Y0 - 300 * 30, X0 + 400 * 30, Y0)
    gpd.GeoDataFrame({"zone_id": ["w", "e"]}, geometry=[west, east], crs=4545).to_file(
        tmp_path / "z.gpkg"
    )
    out = tmp_path / "d"
    result = CliRunner().invoke(
        cli,
        [
            "sample",
            "design",
            str(path),
            "--zones",
            str(tmp_path / "z.gpkg"),
            "--n",
            "200",
            "--min-per-stratum",
            "5",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    labels = pd.read_csv(
        label(out / "sample.csv", tmp_path / "l.csv"), dtype=str, keep_default_na=False
    )
    # thin the east's forest stratum to 5 points: the east is refused
    east_forest = labels.index[labels["stratum"] == "e_forest"]
    labels = labels.drop(east_forest[5:])
    labels.to_csv(tmp_path / "l2.csv", index=False)
    est = tmp_path / "e.json"
    result = run_estimate(
        tmp_path / "l2.csv", out / "strata.csv", est, "--zones", "adcode"
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(est.read_text(encoding="utf-8"))
    zones = {z["adcode"]: z for z in doc["zones"]}
    assert "refused" in zones["e"] and "classes" not in zones["e"]
    assert "fewer than 10" in zones["e"]["refused"]
    assert zones["w"]["overall_accuracy"] > 0.5
    # city-wide strata cannot give districts
    flat = tmp_path / "flat"
    CliRunner().invoke(
        cli, ["sample", "design", str(path), "--n", "60", "--out", str(flat)]
    )
    flat_labels = label(flat / "sample.csv", tmp_path / "fl.csv")
    result = run_estimate(
        flat_labels, flat / "strata.csv", tmp_path / "x.json", "--zones", "districts"
    )
    assert result.exit_code == 1 and "nested" in result.output


def test_sum_of_classes_uses_covariances(paper):
    # forest at the end = stable forest + gain; its SE from the covariances
    # equals the SE of the class made by merging the labels
    mapped, area, se = paper.combined_area({"stable_forest": 1, "forest_gain": 1})
    points = paper_points()
    merge = {"stable_forest": "forest_end", "forest_gain": "forest_end"}
    points["ref_class"] = points["ref_class"].replace(merge)
    merged = estimate_areas(
        points, paper_strata(), classes=[*PAPER_CLASSES, "forest_end"]
    )
    i = merged.classes.index("forest_end")
    assert area == pytest.approx(merged.area_ha[i])
    assert se == pytest.approx(merged.area_se_ha[i])
    assert mapped == pytest.approx((150_000 + 3_200_000) * PIXEL_HA)
    # and the net change gain - loss
    _, net, net_se = paper.combined_area({"forest_gain": 1, "deforestation": -1})
    assert net == pytest.approx(paper.area_ha[1] - paper.area_ha[0])
    assert net_se > 0


def test_share_statement(paper):
    from forestsink.sampling.statement import share_statement

    s = share_statement(paper, {"deforestation": 1})
    assert s.map_pct == pytest.approx(2.0)
    assert s.sample_pct == pytest.approx(21_157.76 / 9_000, rel=1e-4)
    assert s.text_en.startswith("map: 2.0 %; sample-based: 2.4 % ± 0.7")
    assert s.text_zh.startswith("地图：2.0%；样本估计：2.4% ± 0.7")
    assert "inside" in s.text_en


def test_make_sample_labels_cover_the_truth(maps, tmp_path, make_sample):
    # the demo's path: design on two years, labels from the generator's truth
    # with deliberate map errors, estimate; the interval holds the truth
    p1, p2, _, _ = maps
    out = tmp_path / "demo"
    result = CliRunner().invoke(
        cli,
        [
            "sample",
            "design",
            str(p1),
            str(p2),
            "--n",
            "900",
            "--min-per-stratum",
            "100",
            "--seed",
            "8",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    labels, truth = make_sample.label_sample(out, seed=3)
    est = tmp_path / "est.json"
    assert run_estimate(labels, out / "strata.csv", est).exit_code == 0
    doc = json.loads(est.read_text(encoding="utf-8"))
    hits = [
        abs(c["area_ha"] - truth["true_area_ha"][c["class"]]) <= c["area_ha_ci95"]
        for c in doc["classes"]
    ]
    assert sum(hits) >= 3  # 95 % intervals: one miss in four is possible
    loss = next(c for c in doc["classes"] if c["class"] == "loss")
    assert loss["users_accuracy"] == pytest.approx(0.60, abs=0.15)


def test_cli_design_target_se_neyman(maps, tmp_path):
    p1, p2, _, _ = maps
    out = tmp_path / "se"
    result = CliRunner().invoke(
        cli,
        [
            "sample",
            "design",
            str(p1),
            str(p2),
            "--target-se",
            "0.02",
            "--allocation",
            "neyman",
            "--min-per-stratum",
            "0",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "design.json").read_text(encoding="utf-8"))
    strata = pd.read_csv(out / "strata.csv")
    w = strata["area_ha"] / strata["area_ha"].sum()
    u = strata["map_class"].map(
        {"stable_forest": 0.9, "gain": 0.7, "loss": 0.6, "stable_non_forest": 0.95}
    )
    expected = int(np.ceil(((w * np.sqrt(u * (1 - u))).sum() / 0.02) ** 2))
    assert meta["n_eq13"] == expected
    assert strata["n_points"].sum() == expected
    assert f"n from eq. 13: {expected}" in result.output
    # neither --n nor --target-se: a usage error
    bad = CliRunner().invoke(cli, ["sample", "design", str(p1), "--out", str(out)])
    assert bad.exit_code == 2


# --- the report's shares (issue 18: "map: x %; sample-based: y % ± z") ---

# Two maps, strata = map classes, 2 points each; areas 40/10/10/40 ha (100 ha).
# Hand computation: stable_forest 40 ha (both points SF); gain stratum 10 ha,
# points (gain, stable_non_forest) -> gain 5 ha; loss 10 ha (both loss).
# Forest in year 2 = SF + gain: 45 ha (map 50); its SE comes from the gain
# stratum only: y = (1, 0), s^2 = 0.5, V = 10^2 * 0.5 / 2 = 25 ha^2 -> SE 5 ha,
# half-width 1.96 * 5 = 9.8 ha = 9.8 % of 100 ha. Year 1 = SF + loss: 50 ha,
# no variance (map 50). Net change gain - loss: 5 - 10 = -5 % (map 0),
# y = (1, 0) in gain and (-1, -1) in loss -> SE 5, half-width 9.8.
TINY_LABELS = pd.DataFrame(
    {
        "point_id": [f"P{i}" for i in range(8)],
        "stratum": ["stable_forest"] * 2
        + ["gain"] * 2
        + ["loss"] * 2
        + ["stable_non_forest"] * 2,
        "map_class": ["stable_forest"] * 2
        + ["gain"] * 2
        + ["loss"] * 2
        + ["stable_non_forest"] * 2,
        "ref_class": [
            "stable_forest",
            "stable_forest",
            "gain",
            "stable_non_forest",
            "loss",
            "loss",
            "stable_non_forest",
            "stable_non_forest",
        ],
    }
)
TINY_STRATA = pd.DataFrame(
    {
        "stratum": ["stable_forest", "gain", "loss", "stable_non_forest"],
        "area_ha": [40.0, 10.0, 10.0, 40.0],
    }
)


def test_share_statements_two_maps_by_hand():
    from forestsink.sampling.statement import share_statements

    est = estimate_areas(TINY_LABELS, TINY_STRATA)
    shares = {s["share"]: s for s in share_statements(est)}
    assert list(shares) == ["forest_year1", "forest_year2", "net_change"]
    y2 = shares["forest_year2"]
    assert (y2["map_pct"], y2["sample_pct"]) == pytest.approx((50.0, 45.0))
    assert y2["half_width_pct"] == pytest.approx(9.8, abs=0.01)
    assert y2["text_en"].startswith("map: 50.0 %; sample-based: 45.0 % ± 9.8")
    assert y2["text_zh"].startswith("地图：50.0%；样本估计：45.0% ± 9.8")
    y1 = shares["forest_year1"]
    assert (y1["map_pct"], y1["sample_pct"], y1["half_width_pct"]) == pytest.approx(
        (50.0, 50.0, 0.0)
    )
    net = shares["net_change"]
    assert (net["map_pct"], net["sample_pct"]) == pytest.approx((0.0, -5.0))
    assert net["half_width_pct"] == pytest.approx(9.8, abs=0.01)


@pytest.mark.parametrize("suffix", [".json", ".xlsx"])
def test_read_estimate_gives_the_written_figures(tmp_path, suffix):
    from forestsink.sampling.tools import estimate_tool, read_estimate

    labels, strata = tmp_path / "labels.csv", tmp_path / "strata.csv"
    TINY_LABELS.to_csv(labels, index=False)
    TINY_STRATA.to_csv(strata, index=False)
    out, _ = estimate_tool(labels, strata, out=tmp_path / f"est{suffix}")
    doc = read_estimate(out)
    shares = {s["share"]: s for s in doc["shares"]}
    assert shares["forest_year2"]["sample_pct"] == pytest.approx(45.0)
    assert shares["forest_year2"]["half_width_pct"] == pytest.approx(9.8, abs=0.01)
    assert doc["error_matrix"]["classes"] == [
        "stable_forest",
        "gain",
        "loss",
        "stable_non_forest",
    ]
    # area proportions: row gain = (0, 0.05, 0, 0.05), by hand (10 ha of 100)
    gain_row = doc["error_matrix"]["area_proportions"][1]
    assert gain_row == pytest.approx([0.0, 0.05, 0.0, 0.05])


def test_read_estimate_refuses_other_files(tmp_path):
    from forestsink.errors import SamplingError
    from forestsink.sampling.tools import read_estimate

    bad = tmp_path / "est.csv"
    bad.write_text("class,area_ha\nforest,1\n", encoding="utf-8")
    with pytest.raises(SamplingError, match=r"\.json or \.xlsx"):
        read_estimate(bad)
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"classes": []}), encoding="utf-8")
    with pytest.raises(SamplingError, match="shares"):
        read_estimate(old)


def test_a_coverage_change_is_stated_in_percentage_points():
    from forestsink.sampling.estimators import estimate_areas
    from forestsink.sampling.statement import share_statement

    # every point labelled as mapped: gain 10 ha, loss 5 ha of 100 ha
    classes = ["gain"] * 2 + ["loss"] * 2 + ["stable_forest"] * 2
    pts = pd.DataFrame({"stratum": classes, "map_class": classes, "ref_class": classes})
    strata = pd.DataFrame(
        {"stratum": ["gain", "loss", "stable_forest"], "area_ha": [10.0, 5.0, 85.0]}
    )
    s = share_statement(estimate_areas(pts, strata), "net_change")
    # hand: (10 - 5) / 100 = 5.0 points; every point agrees, so the variance
    # is 0 and no interval is printed, but a conservative bound: b = 1 -
    # 0.025^(1/2) = 0.841886 per stratum of 2 points, y from -1 to 1; low =
    # 5 - (10 b (1 + 1) + 85 b) = -83.40 ha, high = 5 + (5 b (1 + 1) + 85 b)
    # = 84.98 ha, of 100 ha
    assert s.text_en.startswith(
        "map: 5.0 pp; sample-based: 5.0 pp (95 % interval not estimable"
    )
    assert "conservative bound -83.4 to 85.0 pp" in s.text_en
    assert s.text_zh.startswith("地图：5.0个百分点；样本估计：5.0个百分点")
    assert "保守界 -83.4 至 85.0个百分点" in s.text_zh
