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
