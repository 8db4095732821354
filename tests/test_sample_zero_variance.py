"""Intervals of zero width (issue 18): flagged, with a conservative bound.

When every labelled point of each stratum agrees with the map the stratified
variance is 0. The expected bounds are computed by hand from the exact
Clopper-Pearson upper 97.5 % limit for 0 events in n trials, 1 - 0.025^(1/n)
(n = 10: 0.025^0.1 = exp(-0.368888) = 0.691503, so b = 0.308497).
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from forestsink.render.sample_section import sample_section
from forestsink.sampling.estimators import NOT_ESTIMABLE, estimate_areas
from forestsink.sampling.statement import share_statement, share_statements
from forestsink.sampling.tools import estimate_tool, read_estimate

B10 = 0.308497  # 1 - 0.025 ** (1 / 10), by hand (see the module docstring)


def agreeing(n: int = 10) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Forest 60 ha and non-forest 40 ha, n points each, all labelled as mapped."""
    classes = ["forest"] * n + ["non_forest"] * n
    points = pd.DataFrame(
        {
            "point_id": [f"P{i}" for i in range(2 * n)],
            "stratum": classes,
            "map_class": classes,
            "ref_class": classes,
        }
    )
    strata = pd.DataFrame(
        {
            "stratum": ["forest", "non_forest"],
            "map_class": ["forest", "non_forest"],
            "area_ha": [60.0, 40.0],
        }
    )
    return points, strata


def test_zero_variance_area_is_flagged_with_a_conservative_bound():
    est = estimate_areas(*agreeing())
    table = est.table().set_index("class")
    assert table.loc["forest", "area_ha_ci95"] == 0.0  # the contract's field
    assert (table["ci95_note"] == NOT_ESTIMABLE).all()
    # forest: 60 ha; at most b of the forest stratum is not forest (60 - 60 b)
    # and at most b of the non-forest stratum is forest (60 + 40 b)
    low, high = 60 - 60 * B10, 60 + 40 * B10  # 41.49, 72.34 ha
    assert table.loc["forest", "area_ha_bound_low"] == pytest.approx(low, abs=1e-3)
    assert table.loc["forest", "area_ha_bound_high"] == pytest.approx(high, abs=1e-3)
    assert est.zero_variance_bound({"forest": 1}) == pytest.approx(
        (41.490, 72.340), abs=1e-3
    )


def test_zero_variance_share_prints_no_interval():
    s = share_statement(estimate_areas(*agreeing()), "forest")
    assert s.ci95_note == NOT_ESTIMABLE
    assert "± 0.0" not in s.text_en and "± 0.0" not in s.text_zh
    assert s.text_en.startswith(
        "map: 60.0 %; sample-based: 60.0 % (95 % interval not estimable"
    )
    assert "conservative bound 41.5 to 72.3 %" in s.text_en
    assert "保守界 41.5 至 72.3%" in s.text_zh
    assert (s.bound_low_pct, s.bound_high_pct) == pytest.approx(
        (41.490, 72.340), abs=1e-3
    )


def test_one_disagreeing_point_gives_an_ordinary_interval():
    points, strata = agreeing()
    points.loc[0, "ref_class"] = "non_forest"
    est = estimate_areas(points, strata)
    s = share_statement(est, "forest")
    assert s.ci95_note == "" and s.bound_low_pct is None
    # by hand: forest stratum p = 0.9, s² = 0.1 (ddof 1, 10 points: 9 × 0.01
    # + 0.81 over 9 = 0.1), V = 60² × 0.1 / 10 = 36 ha², SE 6 ha; 1.96 × 6
    # = 11.76 ha of 100 ha
    assert s.half_width_pct == pytest.approx(11.76, abs=1e-6)
    table = est.table().set_index("class")
    assert table.loc["forest", "ci95_note"] == NOT_ESTIMABLE  # the user's
    # accuracy of non-forest (all 10 right) still has zero width
    assert (
        table.loc["forest", "area_ha_bound_low"]
        != table.loc["forest", "area_ha_bound_low"]
    )  # NaN: the area's interval is an ordinary one


@pytest.mark.parametrize("suffix", [".json", ".xlsx"])
def test_estimate_files_carry_the_note_and_the_bound(tmp_path, suffix):
    points, strata = agreeing()
    points.to_csv(tmp_path / "labels.csv", index=False)
    strata.to_csv(tmp_path / "strata.csv", index=False)
    out, _ = estimate_tool(
        tmp_path / "labels.csv", tmp_path / "strata.csv", out=tmp_path / f"e{suffix}"
    )
    doc = read_estimate(out)
    share = {s["share"]: s for s in doc["shares"]}["forest"]
    assert share["ci95_note"] == NOT_ESTIMABLE
    assert share["bound_low_pct"] == pytest.approx(41.490, abs=1e-3)
    if suffix == ".json":
        raw = json.loads(out.read_text(encoding="utf-8"))
        forest = {c["class"]: c for c in raw["classes"]}["forest"]
        assert forest["area_ha_ci95"] == 0.0
        assert forest["ci95_note"] == NOT_ESTIMABLE
        assert forest["area_ha_bound_high"] == pytest.approx(72.340, abs=1e-3)


def test_report_leaves_a_zero_width_interval_out():
    est = estimate_areas(*agreeing())
    fine_points, strata = agreeing()
    fine_points.loc[0, "ref_class"] = "non_forest"
    fine = estimate_areas(fine_points, strata)
    doc = {
        "shares": share_statements(fine),
        "error_matrix": {"classes": [], "area_proportions": []},
        "zone_column": "adcode",
        "zones": [
            {"adcode": "500106", "n_points": 20, "shares": share_statements(est)},
            {"adcode": "500107", "n_points": 20, "shares": share_statements(fine)},
        ],
    }
    section = sample_section(doc)
    assert [d["zone"] for d in section["districts"]] == ["500107"]
    (refused,) = section["refused"]
    assert refused["zone"] == "500106" and "zero" in refused["reason"]
    assert refused["bounds"][0]["bound_high_pct"] == pytest.approx(72.34, abs=1e-2)


def test_cli_prints_the_bound_not_a_zero_interval(tmp_path):
    from click.testing import CliRunner

    from forestsink.cli.main import cli

    points, strata = agreeing()
    points.to_csv(tmp_path / "labels.csv", index=False)
    strata.to_csv(tmp_path / "strata.csv", index=False)
    args = ["sample", "estimate", "--labels", str(tmp_path / "labels.csv")]
    args += [
        "--strata",
        str(tmp_path / "strata.csv"),
        "--out",
        str(tmp_path / "e.json"),
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "± 0.0" not in result.output
    # the hand-computed bound of the module docstring: 60 - 60 b, 60 + 40 b
    assert "41.5–72.3 ha" in result.output
    # overall accuracy 1: at least 1 - (0.6 b + 0.4 b) = 1 - b = 0.692
    assert "≥ 0.692" in result.output


def test_a_narrow_interval_is_not_printed_as_zero():
    from forestsink.sampling.statement import half_width_text

    # one decimal unless it would round a non-zero half-width to 0.0
    assert half_width_text(1.26) == "1.3"
    assert half_width_text(0.0064) == "0.0064"
    assert half_width_text(0.049) == "0.049"
    # forest 60 ha / non-forest 40 ha, 10 points each; one non-forest point
    # is forest: p = 0.1 in that stratum, so by hand the forest share's
    # half-width is 1.96 * 40 * sqrt(0.1 * 0.9 / 9) / 100 ha = 7.84 points
    points, strata = agreeing()
    points.loc[10, "ref_class"] = "forest"
    share = share_statement(estimate_areas(points, strata), "forest")
    assert share.half_width_pct == pytest.approx(7.84, abs=1e-2)
    assert "± 7.8 (95 % interval)" in share.text_en
    assert "very narrow" not in share.text_en


def test_a_very_narrow_interval_says_so():
    # forest 99.9 ha (10 points, all forest), non-forest 0.1 ha (10 points,
    # one forest): half-width by hand 1.96 * 0.1 * sqrt(0.1 * 0.9 / 9) = 0.0196
    # points of the 100 ha: printed "0.02" with the caveat, never "± 0.0"
    points, strata = agreeing()
    points.loc[10, "ref_class"] = "forest"
    strata["area_ha"] = [99.9, 0.1]
    share = share_statement(estimate_areas(points, strata), "forest")
    assert share.half_width_pct == pytest.approx(0.0196, abs=1e-4)
    assert "± 0.02 (95 % interval)" in share.text_en
    assert "very narrow" in share.text_en and "区间极窄" in share.text_zh
