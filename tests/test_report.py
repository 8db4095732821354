"""The offline report in real headless Chromium: no network, no console errors,
the same numbers as the CLI tables, popups, layers; and hostile strings."""

import re

import pytest
from browser import ARTIFACTS, driver, requested_urls, wait_ready
from delivery_factory import frame, write

from forestsink.landing.deliveries import ingest_deliveries
from forestsink.progress import carbon_tables, progress_tables
from forestsink.render.report import build_report
from forestsink.store import GeoPackageStore


@pytest.fixture(scope="module")
def report(sample_store, tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "report.html"
    build_report(sample_store, path, draws=10_000)
    return path


@pytest.fixture(scope="module")
def page(report):
    d = driver()
    d.get(report.resolve().as_uri())
    wait_ready(d)
    yield d
    d.quit()


def test_file_is_self_contained(report):
    html = report.read_text(encoding="utf-8")
    assert not re.search(r'<(script|link|img|iframe)[^>]+(src|href)="https?://', html)
    assert "default-src 'none'" in html  # the page may not fetch anything
    assert report.stat().st_size < 15e6


def test_no_network_and_no_console_errors(page):
    urls = requested_urls(page)
    assert urls, "performance log is empty"
    assert all(u.startswith(("file://", "data:")) for u in urls), urls
    severe = [e for e in page.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.save_screenshot(str(ARTIFACTS / "report.png"))


def test_headline_equals_the_cli_tables(page, sample_store):
    city = progress_tables(sample_store).tables["city_targets"]
    final = city.sort_values("year").groupby("target_id").tail(1).set_index("target_id")

    def card(target, what="dataset.value"):
        return page.execute_script(
            "return document.querySelector('[data-target=\"' + arguments[0] + "
            "'\"] .done')." + what,
            target,
        )

    # the plan's resource targets are no longer filled with project sums
    for target in ("new_forest_area", "new_stock_volume"):
        assert card(target) == ""
        assert "需森林资源一张图" in card(target, "textContent")
        assert "needs the forest-resource layers" in card(target, "textContent")
    shown = card("project_planted_area")
    assert float(shown) == pytest.approx(
        final.loc["project_planted_area", "cumulative"]
    )
    carbon = carbon_tables(sample_store).tables["carbon"].set_index("adcode")
    city = carbon.loc["500000"]
    if city["method"] == "not_estimable":
        assert card("project_increment_co2") == ""
        assert "不可估算" in card("project_increment_co2", "textContent")
    else:
        shown = card("project_increment_co2")
        assert float(shown) == pytest.approx(city["co2_t"])
    headline = page.execute_script(
        "return document.getElementById('headline').textContent"
    )
    assert "项目增量 CO₂" in headline
    assert "碳汇（项目）" not in headline and "Carbon sink" not in headline


def test_district_table_equals_progress(page, sample_store):
    base = progress_tables(sample_store).tables["district"]
    totals = base.groupby("adcode")["new_forest_area_mu"].sum()
    cells = page.execute_script("""
        var out = {};
        document.querySelectorAll('#districts-table tbody tr').forEach(function (tr) {
          out[tr.dataset.adcode] = tr.children[4].dataset.value; });
        return out;""")
    assert len(cells) == 38
    for adcode, value in totals.items():
        assert float(cells[adcode]) == pytest.approx(value)


def test_click_on_a_district_shows_its_popup(page):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    # 城口县 (north, large, no neighbours in the way): click its middle
    xy = page.execute_script("""
        var m = window.forestsinkMap;
        m.closePopup();
        m.setView([31.95, 108.66], 8, {animate: false});
        var p = m.latLngToContainerPoint([31.95, 108.66]);
        return [p.x, p.y];""")
    element = page.find_element(By.ID, "map")
    page.execute_script("arguments[0].scrollIntoView(true);", element)
    size = element.size
    ActionChains(page).move_to_element_with_offset(
        element, xy[0] - size["width"] / 2, xy[1] - size["height"] / 2
    ).click().perform()
    from selenium.webdriver.support.ui import WebDriverWait

    text = WebDriverWait(page, 10).until(
        lambda d: d.find_element(
            By.CSS_SELECTOR, ".leaflet-popup-content"
        ).get_attribute("textContent")
    )
    assert "城口县" in text and "Chengkou County" in text


def test_switching_a_layer_changes_the_legend(page):
    from selenium.webdriver.common.by import By

    legend = page.find_element(By.CSS_SELECTOR, ".leaflet-bottom.leaflet-right .legend")
    assert "项目造林面积" in legend.text
    labels = page.find_elements(By.CSS_SELECTOR, ".leaflet-control-layers-base label")
    assert not any("碳汇" in label.text for label in labels)
    carbon = next(label for label in labels if "项目增量" in label.text)
    carbon.click()
    assert "项目增量 CO₂" in legend.text and "t CO₂" in legend.text


def test_year_slider_filters(page):
    values = page.execute_script("""
        var s = document.getElementById('year');
        s.value = 2011; s.dispatchEvent(new Event('input'));
        var out = document.getElementById('yearout').textContent;
        s.value = 2015; s.dispatchEvent(new Event('input'));
        return out;""")
    assert values == "2011"


def test_hostile_strings_never_run(tmp_path):
    evil = '<img src=x onerror="window.__xss=1;alert(1)">'
    gdf = frame(n=2, ids=[evil, "P2"])
    gdf["树种"] = [evil, "</script><script>window.__xss=2</script>"]
    store = GeoPackageStore(tmp_path / "s.gpkg")
    ingest_deliveries([write(gdf, tmp_path / "evil.gpkg")], store)
    path = build_report(store, tmp_path / "r.html", draws=200)
    html = path.read_text(encoding="utf-8")
    assert evil not in html and "</script><script>window.__xss" not in html
    d = driver()
    try:
        d.get(path.resolve().as_uri())
        wait_ready(d)
        assert d.execute_script("return window.__xss === undefined")
        # switch the project layer on and open every project popup: the id is
        # shown as text, and nothing runs
        from selenium.webdriver.common.by import By

        d.find_element(
            By.CSS_SELECTOR, ".leaflet-control-layers-overlays input"
        ).click()
        shown = d.execute_script("""
            var m = window.forestsinkMap, out = [];
            m.eachLayer(function (l) {
              if (l.getPopup && l.getPopup() && l.getLatLng) {
                l.openPopup();
                out.push(document.querySelector('.leaflet-popup-content').textContent);
              }});
            return out;""")
        assert len(shown) == 2
        assert any(evil in text for text in shown)
        assert d.execute_script("return window.__xss === undefined")
    finally:
        d.quit()


def test_report_with_coverage_layers(sample_store, sample_dir, tmp_path):
    from selenium.webdriver.common.by import By

    from forestsink.coverage import compute_coverage
    from forestsink.render.coverage_layer import coverage_for_report

    rasters = sorted((sample_dir / "landcover").glob("clcd_*.tif"))
    table, overlay = coverage_for_report(rasters)
    # the same numbers `forestsink coverage` computes
    direct = compute_coverage(rasters).table
    city = direct[direct["adcode"] == "500000"].sort_values("year")
    assert table[table["adcode"] == "500000"]["coverage_pct"].tolist() == (
        pytest.approx(city["coverage_pct"].tolist())
    )
    path = build_report(
        sample_store, tmp_path / "r.html", coverage=table, overlay=overlay, draws=500
    )
    d = driver()
    try:
        d.get(path.resolve().as_uri())
        wait_ready(d)
        shown = d.execute_script(
            'return document.querySelector(\'[data-target="forest_coverage"] '
            ".done').dataset.value"
        )
        assert float(shown) == pytest.approx(city["coverage_pct"].iloc[-1])
        labels = [
            e.text
            for e in d.find_elements(
                By.CSS_SELECTOR, ".leaflet-control-layers-base label"
            )
        ]
        assert any("森林覆盖率" in t for t in labels)
        assert any("覆盖率变化" in t for t in labels)
        box = next(
            e
            for e in d.find_elements(
                By.CSS_SELECTOR, ".leaflet-control-layers-overlays label"
            )
            if "土地覆盖" in e.text
        )
        box.find_element(By.TAG_NAME, "input").click()
        images = d.find_elements(By.CSS_SELECTOR, "img.leaflet-image-layer")
        assert len(images) == 1
        assert images[0].get_attribute("src").startswith("data:image/png;base64,")
        assert all(u.startswith(("file://", "data:")) for u in requested_urls(d))
        assert [e for e in d.get_log("browser") if e["level"] == "SEVERE"] == []
    finally:
        d.quit()


def _tiny_estimate(tmp_path):
    """A labelled two-map sample estimated by `forestsink sample estimate`."""
    import pandas as pd
    from click.testing import CliRunner

    from forestsink.cli.main import cli

    refs = ["stable_forest"] * 3 + ["gain", "stable_non_forest", "gain"]
    refs += ["loss", "loss", "stable_forest"] + ["stable_non_forest"] * 3
    strata = ["stable_forest"] * 3 + ["gain"] * 3 + ["loss"] * 3
    strata += ["stable_non_forest"] * 3
    labels = pd.DataFrame(
        {
            "point_id": [f"P{i}" for i in range(12)],
            "stratum": strata,
            "map_class": strata,
            "ref_class": refs,
        }
    )
    labels.to_csv(tmp_path / "labels.csv", index=False)
    pd.DataFrame(
        {
            "stratum": ["stable_forest", "gain", "loss", "stable_non_forest"],
            "area_ha": [400.0, 80.0, 20.0, 500.0],
        }
    ).to_csv(tmp_path / "strata.csv", index=False)
    out = tmp_path / "estimate.json"
    result = CliRunner().invoke(
        cli,
        [
            "sample",
            "estimate",
            "--labels",
            str(tmp_path / "labels.csv"),
            "--strata",
            str(tmp_path / "strata.csv"),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    return out


def test_report_shows_the_sample_estimate(sample_store, tmp_path):
    import json

    from selenium.webdriver.common.by import By

    from forestsink.sampling.tools import read_estimate

    path_json = _tiny_estimate(tmp_path)
    doc = json.loads(path_json.read_text(encoding="utf-8"))
    path = build_report(
        sample_store,
        tmp_path / "r.html",
        draws=200,
        sample_estimate=read_estimate(path_json),
        settings={"sample_estimate": path_json.name},
    )
    d = driver()
    try:
        d.get(path.resolve().as_uri())
        wait_ready(d)
        rows = d.find_elements(By.CSS_SELECTOR, "#sample-shares tbody tr")
        assert [r.get_attribute("data-share") for r in rows] == [
            s["share"] for s in doc["shares"]
        ]
        text = d.find_element(By.ID, "sample-estimate").text
        for row, share in zip(rows, doc["shares"], strict=True):
            # the figures are the JSON's, not recomputed
            assert float(row.get_attribute("data-sample-pct")) == share["sample_pct"]
            assert float(row.get_attribute("data-map-pct")) == share["map_pct"]
            assert (
                float(row.get_attribute("data-half-width-pct"))
                == share["half_width_pct"]
            )
            cells = [c.text for c in row.find_elements(By.TAG_NAME, "td")]
            assert cells[1] == f"{share['map_pct']:.1f}"
            assert cells[2] == f"{share['sample_pct']:.1f}"
            if share.get("ci95_note"):  # zero width: the bound, not "± 0.0"
                low, high = share["bound_low_pct"], share["bound_high_pct"]
                assert cells[3] == f"— （界 bound {low:.1f}–{high:.1f}）"
            else:  # one decimal, two significant digits if that would read 0.0
                z = share["half_width_pct"]
                assert cells[3] == (f"± {z:.2g}" if 0 < z < 0.05 else f"± {z:.1f}")
            # the sentence, Chinese first, English alongside
            assert share["text_zh"] in text and share["text_en"] in text
            assert cells[4].index(share["text_zh"]) < cells[4].index(share["text_en"])
        year2 = next(s for s in doc["shares"] if s["share"] == "forest_year2")
        assert f"sample-based: {year2['sample_pct']:.1f} % ± " in text
        # the error matrix in area proportions, the JSON's
        matrix = d.find_elements(By.CSS_SELECTOR, "#sample-error-matrix tbody tr")
        proportions = doc["error_matrix"]["area_proportions"]
        for row, expected in zip(matrix, proportions, strict=True):
            shown = [c.text for c in row.find_elements(By.TAG_NAME, "td")][1:]
            assert shown == [f"{v:.4f}" for v in expected]
        assert [e for e in d.get_log("browser") if e["level"] == "SEVERE"] == []
    finally:
        d.quit()


def test_report_without_an_estimate_has_no_sample_section(report):
    assert 'id="sample-estimate"' not in report.read_text(encoding="utf-8")


def test_cli_report_refuses_a_csv_estimate(sample_store, tmp_path):
    from click.testing import CliRunner

    from forestsink.cli.main import cli

    bad = tmp_path / "estimate.csv"
    bad.write_text("class,area_ha\nforest,1\n", encoding="utf-8")
    out = tmp_path / "r.html"
    result = CliRunner().invoke(
        cli,
        [
            "report",
            "--store",
            str(sample_store.path),
            "--sample-estimate",
            str(bad),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code != 0
    assert "--sample-estimate" in result.output and ".json or .xlsx" in result.output
    assert not out.exists()
