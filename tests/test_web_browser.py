"""End to end in headless Chromium against ``uvicorn`` on loopback.

The server runs in a thread of the test (uvicorn, the production server,
on 127.0.0.1 and a free port); Chromium is driven by Selenium
(``tests/browser.py``). Every URL the pages ask for must be the server's own
(nothing from the internet), and the browser must report no CSP violation.
"""

from __future__ import annotations

import socket
import threading
import time
import warnings

import pytest
from browser import ARTIFACTS, driver, requested_urls
from delivery_factory import frame, write
from shapely.geometry import Polygon
from web_helpers import PASSWORD, SECRET, build_store

from forestsink.store import GeoPackageStore

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.slow,  # a real server (and browser)
]


@pytest.fixture
def server(tmp_path):
    import uvicorn

    from forestsink.web.app import create_app

    store = build_store(tmp_path)
    app = create_app(store, settings={"secret": SECRET})
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", store
    finally:
        srv.should_exit = True
        thread.join(10)


@pytest.fixture
def chrome():
    d = driver()
    # the server is on loopback: let the browser reach it (tests/browser.py
    # cuts the network); requested_urls checks that nothing else was asked
    d.execute_cdp_cmd(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 0,
            "downloadThroughput": -1,
            "uploadThroughput": -1,
        },
    )
    try:
        yield d
    finally:
        d.quit()


def _wait(d, condition, timeout=30):
    from selenium.webdriver.support.ui import WebDriverWait

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return WebDriverWait(d, timeout).until(condition)


def _login(d, base, name):
    from selenium.webdriver.common.by import By

    d.get(base + "/login")
    d.find_element(By.NAME, "username").send_keys(name)
    d.find_element(By.NAME, "password").send_keys(PASSWORD)
    d.find_element(By.CSS_SELECTOR, "#login-form button").click()
    _wait(d, lambda x: not x.current_url.endswith("/login"))


def _defective(folder):
    gdf = frame(ids=["B1", "B2", "B3"])
    x, y = gdf.geometry.iloc[0].bounds[:2]
    gdf.loc[0, "geometry"] = Polygon(
        [(x, y), (x + 0.004, y + 0.004), (x + 0.004, y), (x, y + 0.004)]
    )
    return write(gdf, folder / "defects.gpkg")


def _only_own_urls(d, base):
    urls = [u for u in requested_urls(d) if u.startswith("http")]
    assert urls and all(u.startswith(base) for u in urls), urls
    csp = [e for e in d.get_log("browser") if "Content Security Policy" in e["message"]]
    assert not csp, csp


def test_editor_uploads_fixes_lands_sees_history(server, chrome, tmp_path):
    from selenium.webdriver.common.by import By

    base, store = server
    d = chrome
    _login(d, base, "wz")
    assert d.current_url.endswith("/upload")
    d.find_element(By.ID, "file").send_keys(str(_defective(tmp_path)))
    d.find_element(By.ID, "btn-validate").click()
    _wait(d, lambda x: x.find_elements(By.CSS_SELECTOR, "#issues tbody tr.error"))
    row = d.find_element(By.CSS_SELECTOR, "#issues tbody tr.error")
    assert "B1" in row.text
    # the problem feature is drawn on the map in the error colour
    _wait(
        d,
        lambda x: x.find_elements(
            By.CSS_SELECTOR, ".leaflet-overlay-pane path[stroke='#c0392b']"
        ),
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    d.save_screenshot(str(ARTIFACTS / "web-upload.png"))  # the README's picture
    # landing the defective file is refused; the fixed file lands
    fixed = write(frame(ids=["B1", "B2", "B3"]), tmp_path / "fixed.gpkg")
    d.find_element(By.ID, "file").send_keys(str(fixed))
    d.find_element(By.ID, "btn-land").click()
    _wait(d, lambda x: "已入库" in x.find_element(By.ID, "status").text)
    batches = GeoPackageStore(store).batches()
    assert batches["user"].tolist() == ["wz", "wz"]
    d.get(base + "/history?key=500101/B2")
    _wait(d, lambda x: "wz" in x.find_element(By.ID, "versions").text)
    _only_own_urls(d, base)


def test_viewer_reads_progress_and_report_but_not_upload(server, chrome):
    from selenium.webdriver.common.by import By

    base, _ = server
    d = chrome
    _login(d, base, "viewer")
    assert d.current_url.endswith("/progress")
    _wait(d, lambda x: x.find_elements(By.CSS_SELECTOR, "#table-district tbody tr"))
    status = d.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch('/report').then(r => done(r.status + ' ' + "
        "r.headers.get('content-disposition')));"
    )
    assert status.startswith("200 attachment")
    d.get(base + "/upload")
    assert "403" in d.find_element(By.TAG_NAME, "h1").text
    status = d.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "const fd = new FormData(); fd.append('file', new Blob(['x']), 'a.gpkg');"
        "fetch('/api/deliveries', {method: 'POST', body: fd, headers: "
        "{'X-CSRF-Token': document.querySelector('meta[name=csrf-token]')"
        ".content}}).then(r => done(r.status));"
    )
    assert status == 403
    _only_own_urls(d, base)


def test_editor_of_wanzhou_refused_fuling_in_browser(server, chrome, tmp_path):
    from delivery_factory import FULING
    from selenium.webdriver.common.by import By

    base, store = server
    d = chrome
    _login(d, base, "wz")
    before = store.read_bytes()
    path = write(frame(FULING, district="涪陵区", ids=["F1"], n=1), tmp_path / "f.gpkg")
    d.find_element(By.ID, "file").send_keys(str(path))
    d.find_element(By.ID, "btn-land").click()
    _wait(d, lambda x: "涪陵区" in x.find_element(By.ID, "status").text)
    assert store.read_bytes() == before
