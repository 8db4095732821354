"""The as-of and diff page in headless Chromium against uvicorn on loopback.

Reuses the server (a free port chosen by the OS) and browser fixtures of
``test_web_browser.py``. The store: batch 1 = 万州区 P1-P3 by wz, batch 2 =
涪陵区 F1-F2 by admin, batch 3 = P1 withdrawn by wz.
"""

from __future__ import annotations

import pytest
from browser import ARTIFACTS
from delivery_factory import FULING, WANZHOU, frame, squares, write
from test_web_browser import _login, _only_own_urls, _wait, chrome, server

from forestsink.landing.deliveries import ingest_deliveries
from forestsink.store import GeoPackageStore

__all__ = ["chrome", "server"]  # fixtures used here

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.slow,  # a real server and browser
]


def _more_batches(store, folder):
    target = GeoPackageStore(store)
    fl = write(
        frame(FULING, district="涪陵区", n=2, ids=["F1", "F2"]), folder / "f.gpkg"
    )
    ingest_deliveries([fl], target, user="admin")
    target.withdraw("500101/P1", reason="重复 duplicate", user="wz")


def test_viewer_sees_asof_map_table_and_diff(server, chrome, tmp_path):
    from selenium.webdriver.common.by import By

    base, store = server
    _more_batches(store, tmp_path)
    d = chrome
    _login(d, base, "viewer")
    d.get(base + "/asof?as_of=1")
    _wait(d, lambda x: "万州区" in x.find_element(By.ID, "asof-table").text)
    rows = d.find_elements(By.CSS_SELECTOR, "#asof-table tbody tr")
    assert len(rows) == 1 and "3" in rows[0].text.split()  # 3 polygons at batch 1
    # the three polygons are drawn (plus the district outlines)
    _wait(
        d,
        lambda x: (
            len(
                x.find_elements(
                    By.CSS_SELECTOR, ".leaflet-overlay-pane path[stroke='#2f5d34']"
                )
            )
            == 3
        ),
    )
    d.find_element(By.ID, "diff-a").send_keys("1")
    d.find_element(By.ID, "diff-b").send_keys("3")
    d.find_element(By.CSS_SELECTOR, "#diff-form button").click()
    _wait(d, lambda x: x.find_elements(By.CSS_SELECTOR, "#diff-changes tbody tr a"))
    text = d.find_element(By.ID, "diff-changes").text
    assert "500102/F1" in text and "withdrawn" in text and "500101/P1" in text
    link = d.find_element(By.LINK_TEXT, "500101/P1").get_attribute("href")
    assert link.endswith("/history?key=500101%2FP1")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    d.save_screenshot(str(ARTIFACTS / "web-asof.png"))
    _only_own_urls(d, base)


def test_editor_page_offers_only_their_district(server, chrome, tmp_path):
    from selenium.webdriver.common.by import By

    base, store = server
    _more_batches(store, tmp_path)
    d = chrome
    _login(d, base, "wz")
    d.get(base + "/asof")
    _wait(d, lambda x: "万州区" in x.find_element(By.ID, "asof-table").text)
    options = d.find_elements(By.CSS_SELECTOR, "#district option")
    assert [o.get_attribute("value") for o in options] == ["500101"]
    assert "涪陵区" not in d.find_element(By.ID, "asof-table").text


def test_editor_checks_and_lands_several_files_in_turn(server, chrome, tmp_path):
    """Several files chosen at once: each sent in turn with its own bar."""
    from selenium.webdriver.common.by import By
    from test_web_browser import _defective

    base, store = server
    d = chrome
    _login(d, base, "wz")
    good = write(frame(ids=["M1", "M2"], n=2), tmp_path / "good.gpkg")
    bad = _defective(tmp_path)
    d.find_element(By.ID, "file").send_keys(f"{good}\n{bad}")
    rows = d.find_elements(By.CSS_SELECTOR, "#queue li")
    assert (
        len(rows) == 2 and len(d.find_elements(By.CSS_SELECTOR, "#queue progress")) == 2
    )
    d.find_element(By.ID, "btn-validate").click()
    _wait(
        d,
        lambda x: (
            len(
                x.find_elements(
                    By.CSS_SELECTOR, "#queue li span.ok, #queue li span.error"
                )
            )
            == 2
        ),
    )
    notes = [li.text for li in d.find_elements(By.CSS_SELECTOR, "#queue li")]
    assert "errors 0" in notes[0] and "errors 0" not in notes[1]
    # the report shown is the one with errors (B1's bow tie)
    _wait(d, lambda x: x.find_elements(By.CSS_SELECTOR, "#issues tbody tr.error"))
    values = [
        p.get_attribute("value")
        for p in d.find_elements(By.CSS_SELECTOR, "#queue progress")
    ]
    assert values == ["100", "100"]
    # landing both: the good one lands, the defective one is refused
    d.find_element(By.ID, "file").send_keys(f"{good}\n{bad}")
    d.find_element(By.ID, "btn-land").click()
    _wait(d, lambda x: "已入库" in x.find_element(By.ID, "queue").text)
    _wait(
        d, lambda x: len(x.find_elements(By.CSS_SELECTOR, "#queue li span.error")) == 1
    )
    batches = GeoPackageStore(store).batches()
    assert batches["source_name"].tolist()[-1] == "good.gpkg" and len(batches) == 2


def test_batches_page_newest_first_then_older(server, chrome, tmp_path):
    """More batches than a page (100): newest first, the rest on 'older'."""
    from selenium.webdriver.common.by import By

    base, store = server
    target = GeoPackageStore(store)
    ids = [f"Q{i:03d}" for i in range(101)]
    many = frame(ids=ids, n=101)
    many["geometry"] = squares(WANZHOU, 101, size=0.0004, step=0.001)
    ingest_deliveries([write(many, tmp_path / "q.gpkg")], target, user="wz")
    for key in ids[:100]:  # batches 3-102: one withdrawal each
        target.withdraw(f"500101/{key}", reason="test", user="wz")
    d = chrome
    _login(d, base, "viewer")
    d.get(base + "/batches")
    _wait(d, lambda x: len(x.find_elements(By.CSS_SELECTOR, "#batches tbody tr")) > 1)

    def first_cells():  # read in one go (the table is redrawn on "older")
        return d.execute_script(
            "return [...document.querySelectorAll('#batches tbody tr')]"
            ".map((r) => r.cells[0].textContent)"
        )

    shown = first_cells()
    assert len(shown) == 100 and shown[0] == "102" and shown[-1] == "3"
    older = d.find_element(By.ID, "batches-older")
    assert older.is_displayed()
    older.click()
    _wait(d, lambda x: len(first_cells()) == 102)
    assert first_cells()[-2:] == ["2", "1"]
    assert not older.is_displayed()
    d.save_screenshot(str(ARTIFACTS / "web-batches.png"))
