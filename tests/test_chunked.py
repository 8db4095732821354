"""Checking a large file chunk by chunk: helpers that fail change nothing."""

from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool

import pandas as pd
import pytest
from delivery_factory import frame, write

from forestsink.errors import DeliveryError
from forestsink.landing.chunked import checked_chunks, helper_count
from forestsink.reference import read_districts


class _BrokenHelpers:
    """An executor whose processes died: submit fails, or every job does."""

    def __init__(self, *, at_submit: bool) -> None:
        self.at_submit = at_submit
        self.submitted = 0

    def submit(self, *args, **kwargs):
        if self.at_submit:
            raise BrokenProcessPool("a helper process died")
        self.submitted += 1
        job = Future()
        job.set_exception(BrokenProcessPool("a helper process died"))
        return job


def _options():
    read = dict.fromkeys(("layer", "crs", "encoding", "year", "district", "rules"))
    check = {
        "districts": read_districts(),
        "period": (2011, 2015),
        "area_tolerance": 0.10,
        "fix": False,
    }
    return read, check


@pytest.mark.parametrize("at_submit", [True, False])
def test_broken_helpers_fall_back_to_checking_here(tmp_path, at_submit):
    gdf = frame(n=17, ids=[f"K{i}" for i in range(17)])
    gdf.loc[6, "工程类别"] = "森林康养"  # an error in chunk 1
    path = write(gdf, tmp_path / "d.gpkg")
    read, check = _options()
    alone = list(checked_chunks(path, 17, 5, read, check, None))
    helpers = _BrokenHelpers(at_submit=at_submit)
    chunks = list(
        checked_chunks(
            path,
            17,
            5,
            read,
            check,
            None,
            helpers=helpers,
            n_helpers=1,
            folder=tmp_path,
        )
    )
    assert len(chunks) == len(alone) == 4
    assert at_submit or helpers.submitted >= 1  # jobs were given, and failed
    for got, want in zip(chunks, alone, strict=True):
        assert got.ready is None  # all checked here
        pd.testing.assert_frame_equal(got.issues, want.issues)
        pd.testing.assert_frame_equal(got.ids, want.ids)
    assert 6 in set(chunks[1].issues["row"])
    assert list(tmp_path.glob("forestsink-chunks-*")) == []  # cleaned up


def test_helper_count_rules():
    assert helper_count(10, workers=2) == 2  # asked for: given
    assert helper_count(10) == 0  # small file: not worth starting one
    big = 10**6
    existing = pd.DataFrame(index=range(300_000))
    assert helper_count(big, existing) == 0  # each would copy the store
    assert helper_count(big, workers=0) == 0


def test_a_script_without_main_guard_runs_once(tmp_path):
    """Helpers do not run the calling script again (no ``__main__`` guard
    needed); its large file is still checked partly in a helper."""
    import subprocess
    import sys

    gdf = frame(n=20, ids=[f"S{i}" for i in range(20)])
    path = write(gdf, tmp_path / "d.gpkg")
    marks = tmp_path / "runs.txt"
    script = tmp_path / "unguarded.py"
    script.write_text(
        "from forestsink.landing import deliveries\n"
        "from forestsink.landing.deliveries import ingest_deliveries\n"
        "from forestsink.store import GeoPackageStore\n"
        f"open({str(marks)!r}, 'a').write('run\\n')\n"
        "original, helped = deliveries.checked_chunks, []\n"
        "def chunks(*a, **k):\n"
        "    for c in original(*a, **k):\n"
        "        helped.append(c.ready is not None)\n"
        "        yield c\n"
        "deliveries.checked_chunks = chunks\n"
        "from concurrent.futures import wait\n"
        "def ready(pool):\n"  # as the helpers_wait fixture
        "    wait(pool.started)\n"
        "    return True\n"
        "from forestsink.landing import chunked\n"
        "chunked.helpers_ready = ready\n"
        f"_, (out,) = ingest_deliveries([{str(path)!r}], "
        f"GeoPackageStore({str(tmp_path / 's.gpkg')!r}), chunk_size=5, workers=1)\n"
        "print(out['added'], any(helped))\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, str(script)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["20", "True"]
    assert marks.read_text().count("run") == 1
    assert "Traceback" not in done.stderr


def test_feature_count_of_a_shapefile_from_its_index(tmp_path):
    """The .shx count is what GDAL reports; a damaged .shx goes to GDAL."""
    import pyogrio

    from forestsink.ingest.read import count_features

    path = write(frame(n=7), tmp_path / "d.shp")  # GBK, no .cpg
    gdal = pyogrio.read_info(path, encoding="GBK")["features"]
    assert count_features(path) == 7 == gdal
    shx = path.with_suffix(".shx")
    shx.write_bytes(shx.read_bytes()[:-3])  # not 100 + 8k bytes: GDAL decides
    with pytest.raises(DeliveryError, match="cannot be read"):
        count_features(path)
    with pytest.raises(pyogrio.errors.DataSourceError):
        pyogrio.read_info(path, encoding="GBK")


def test_many_files_checked_with_a_helper_give_the_same_report(
    tmp_path, monkeypatch, helpers_wait
):
    """Whole files shared with a helper process (workers=1): the same issues,
    deliveries and notes, in file order, as checking them all here; an
    unreadable file is reported the same way."""
    from forestsink.landing import deliveries
    from forestsink.landing.deliveries import check_deliveries

    here = []
    original = deliveries.check_file

    def check(path, *args):
        here.append(path)
        return original(path, *args)

    monkeypatch.setattr(deliveries, "check_file", check)

    folder = tmp_path / "deliveries"
    folder.mkdir()
    for k in range(7):
        gdf = frame(n=4, ids=[f"F{k}-{i}" for i in range(4)])
        if k == 2:
            gdf.loc[1, "工程类别"] = "森林康养"  # unknown type
        if k == 5:
            gdf.loc[0, "小班号"] = "F5-3"  # duplicate within the file
        write(gdf, folder / f"d{k}.gpkg")
    (folder / "d3b.geojson").write_text("{not json", encoding="utf-8")
    reports = {}
    for w in (0, 1):
        here.clear()
        reports[w] = check_deliveries([folder], workers=w)
    assert 0 < len(here) < 8  # the helper checked some files
    alone, shared = reports[0], reports[1]
    key = ["file", "row", "code", "message"]
    pd.testing.assert_frame_equal(
        alone.issues.sort_values(key).reset_index(drop=True),
        shared.issues.sort_values(key).reset_index(drop=True),
    )
    codes = set(zip(shared.issues["file"], shared.issues["code"], strict=True))
    assert {
        ("d2.gpkg", "unknown_project_type"),
        ("d5.gpkg", "duplicate_id"),
        ("d3b.geojson", "unreadable_file"),
    } <= codes
    assert [d.name for d, _ in shared.deliveries] == [
        d.name for d, _ in alone.deliveries
    ]
    assert len(shared.deliveries) == 7
    for (d0, r0), (d1, r1) in zip(alone.deliveries, shared.deliveries, strict=True):
        pd.testing.assert_frame_equal(r0.frame, r1.frame)
        assert d0.notes == d1.notes and d0.sha256 == d1.sha256
    assert shared.notes == alone.notes


def test_cli_workers_option(tmp_path):
    """``--workers N`` reaches the check; a negative count is refused."""
    from click.testing import CliRunner

    from forestsink.cli.main import cli

    gdf = frame(n=3)
    gdf.loc[1, "工程类别"] = "森林康养"
    path = write(gdf, tmp_path / "d.gpkg")
    runner = CliRunner()
    outputs = {}
    for workers in ("0", "1"):
        done = runner.invoke(cli, ["validate", str(path), "--workers", workers])
        assert done.exit_code == 1, done.output  # the unknown type
        outputs[workers] = done.output
    assert "unknown_project_type" in outputs["1"]
    assert outputs["0"] == outputs["1"]
    bad = runner.invoke(cli, ["validate", str(path), "--workers", "-1"])
    assert bad.exit_code == 2 and "--workers" in bad.output


def test_ingest_result_table_shows_whole_numbers(tmp_path):
    """Batch numbers and counts print as integers, a skipped file's as blank."""
    from click.testing import CliRunner

    from forestsink.cli.main import cli

    good = write(frame(n=3), tmp_path / "a.gpkg")
    (tmp_path / "b.geojson").write_text("{broken", encoding="utf-8")
    done = CliRunner().invoke(
        cli,
        [
            "ingest",
            str(good),
            str(tmp_path / "b.geojson"),
            "--store",
            str(tmp_path / "s.gpkg"),
            "--skip-errors",
        ],
    )
    assert done.exit_code == 0, done.output
    table = done.output[done.output.index("Ingest result") :]
    row = next(line for line in table.splitlines() if "a.gpkg" in line)
    cells = [c.strip() for c in row.strip("│ ").split("│")]
    assert cells[1:5] == ["1", "3", "0", "0"]  # batch, added, changed, unchanged
    assert ".00" not in table


def test_rows_prepared_while_checking_land_as_frames_do(tmp_path, monkeypatch):
    """Small files' rows made ready during the check (hashes, blobs) land
    exactly as the checked frames would: same rows, versions and hashes."""
    from forestsink.landing import deliveries
    from forestsink.landing.deliveries import ingest_deliveries
    from forestsink.store import GeoPackageStore
    from forestsink.store.gpkg import StagedRows

    folder = tmp_path / "deliveries"
    folder.mkdir()
    for k in range(3):
        gdf = frame(n=5, ids=[f"R{k}-{i}" for i in range(5)])
        if k == 1:
            gdf.loc[2, "工程类别"] = "森林康养"  # left out with --skip-errors
        write(gdf, folder / f"d{k}.gpkg")
    seen = []
    original_write = GeoPackageStore.write_delivery
    original_writes = GeoPackageStore.write_deliveries

    def spy(self, data, **kw):
        seen.append(type(data))
        return original_write(self, data, **kw)

    def spy_many(self, items):
        seen.extend(type(item["rows"]) for item in items)
        return original_writes(self, items)

    monkeypatch.setattr(GeoPackageStore, "write_delivery", spy)
    monkeypatch.setattr(GeoPackageStore, "write_deliveries", spy_many)
    prepared = GeoPackageStore(tmp_path / "a.gpkg")
    ingest_deliveries([folder], prepared, skip_errors=True)
    assert seen == [StagedRows] * 3
    seen.clear()
    original_check = deliveries.check_file
    monkeypatch.setattr(
        deliveries,
        "check_file",
        lambda path, read, check, existing, prepare=False: original_check(
            path, read, check, existing, False
        ),
    )
    plain = GeoPackageStore(tmp_path / "b.gpkg")
    ingest_deliveries([folder], plain, skip_errors=True)
    assert StagedRows not in seen and len(seen) == 3
    a = prepared.current().drop(columns=["valid_from"])
    b = plain.current().drop(columns=["valid_from"])
    pd.testing.assert_frame_equal(a, b)  # content hashes included
    assert len(a) == 14 and "500101/R1-2" not in set(a["key"])
    counts = ["n_added", "n_changed", "n_unchanged"]
    pd.testing.assert_frame_equal(prepared.batches()[counts], plain.batches()[counts])


def test_with_skip_errors_files_land_while_later_ones_are_checked(
    tmp_path, monkeypatch
):
    """--skip-errors: each file's batch lands as soon as it is checked, in
    file order; the store ends as when every batch lands after the check."""
    from forestsink.landing import deliveries
    from forestsink.landing.deliveries import ingest_deliveries
    from forestsink.store import GeoPackageStore

    folder = tmp_path / "deliveries"
    folder.mkdir()
    for k in range(4):
        write(frame(n=3, ids=[f"E{k}-{i}" for i in range(3)]), folder / f"d{k}.gpkg")
    early = GeoPackageStore(tmp_path / "early.gpkg")
    landed_before = []
    original = deliveries.check_file

    def check(path, *args, **kwargs):
        landed_before.append(len(early.batches()) if early.exists else 0)
        return original(path, *args, **kwargs)

    monkeypatch.setattr(deliveries, "check_file", check)
    monkeypatch.setattr(deliveries, "LAND_GROUP", 1)
    ingest_deliveries([folder], early, skip_errors=True, workers=0)
    assert landed_before == [0, 1, 2, 3]  # file k-1 was in before file k's check
    landed_before.clear()  # in groups of two: 0 and 1 land together
    monkeypatch.setattr(deliveries, "LAND_GROUP", 2)
    grouped = GeoPackageStore(tmp_path / "grouped.gpkg")
    early, first = grouped, early
    ingest_deliveries([folder], grouped, skip_errors=True, workers=0)
    assert landed_before == [0, 0, 2, 2]
    assert len(grouped.batches()) == 4  # still one batch per file
    pd.testing.assert_frame_equal(
        first.current().drop(columns="valid_from"),
        grouped.current().drop(columns="valid_from"),
    )
    monkeypatch.setattr(deliveries, "check_file", original)
    late = GeoPackageStore(tmp_path / "late.gpkg")
    ingest_deliveries([folder], late, workers=0)  # no errors: lands at the end
    columns = ["batch_id", "source_name", "n_added"]
    pd.testing.assert_frame_equal(early.batches()[columns], late.batches()[columns])
    pd.testing.assert_frame_equal(
        early.current().drop(columns="valid_from"),
        late.current().drop(columns="valid_from"),
    )


@pytest.mark.parametrize("skip_errors", [False, True])
def test_batches_land_in_file_order(tmp_path, skip_errors):
    """A large file and a later small one re-delivering one of its polygons:
    the later file's version is live, with or without --skip-errors."""
    from forestsink.landing.deliveries import ingest_deliveries
    from forestsink.store import GeoPackageStore

    big = frame(n=12, ids=[f"K{i}" for i in range(12)])
    write(big, tmp_path / "a_big.gpkg")
    again = big.iloc[[5]].copy()
    again["面积(亩)"] = again["面积(亩)"] + 1.0  # changed attributes
    write(again, tmp_path / "b_small.gpkg")
    store = GeoPackageStore(tmp_path / "s.gpkg")
    _, outcomes = ingest_deliveries(
        [tmp_path / "a_big.gpkg", tmp_path / "b_small.gpkg"],
        store,
        chunk_size=5,  # a_big is read in chunks: a "large" file
        skip_errors=skip_errors,
        workers=0,
    )
    assert [o["file"] for o in outcomes] == ["a_big.gpkg", "b_small.gpkg"]
    batches = store.batches()
    assert list(batches["source_name"]) == ["a_big.gpkg", "b_small.gpkg"]
    assert list(batches["n_added"]) == [12, 0] and batches["n_changed"].iloc[1] == 1
    live = store.current().set_index("key")
    assert live.loc["500101/K5", "batch_id"] == 2


class _SlowDeadHelper:
    """A helper that is still busy while this process looks ahead, then dies."""

    class _Job:
        def done(self):
            return False

        def result(self):
            raise BrokenProcessPool("a helper process died")

        def cancel(self):
            return False

    def submit(self, *args, **kwargs):
        return self._Job()


def test_the_first_error_in_order_is_raised():
    """An error met while checking ahead waits for its turn: the earlier
    task's error is the one reported, after the results before it."""
    from forestsink.landing.chunked import in_order

    def here(k):
        if k in (1, 2):
            raise ValueError(f"task {k}")
        return k

    helper = _SlowDeadHelper()
    got = []
    with pytest.raises(ValueError, match="task 1"):
        for result in in_order(5, here, helper.submit, lambda r: r, 1):
            got.append(result)
    assert got == [0]


def test_helpers_get_work_only_once_started():
    """While the helpers start, every task is done here, none waits for
    them; once they are ready they take the next ones, results in order."""
    from concurrent.futures import Future

    from forestsink.landing.chunked import in_order

    done_here, submitted = [], []

    def here(k):
        done_here.append(k)
        return k

    def submit(k):
        submitted.append(k)
        job = Future()
        job.set_result(k * 10)
        return job

    started = {"after": 3}  # the helper is ready once 3 tasks are done here

    def ready():
        return len(done_here) >= started["after"]

    got = list(in_order(8, here, submit, lambda r: r // 10, 1, ready))
    assert got == list(range(8))
    assert done_here[:3] == [0, 1, 2]
    assert submitted and min(submitted) >= 3  # nothing queued before it started
    assert sorted(done_here + submitted) == list(range(8))
    done_here.clear(), submitted.clear()
    started["after"] = 99  # never ready: all here, nothing submitted
    got = list(in_order(5, here, submit, lambda r: r // 10, 1, ready))
    assert got == [0, 1, 2, 3, 4]
    assert submitted == [] and done_here == [0, 1, 2, 3, 4]


def test_a_failing_chunk_source_leaves_no_staging_file(tmp_path, monkeypatch):
    """write_delivery removes its staging file when the chunks fail midway;
    the store is unchanged."""
    import tempfile

    from forestsink.store import GeoPackageStore

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    store = GeoPackageStore(tmp_path / "s.gpkg")

    def chunks():
        from forestsink.validate import validate_delivery

        checked = validate_delivery(_read(write(frame(n=3), tmp_path / "d.gpkg")))
        yield checked.frame
        raise RuntimeError("the source went away")

    with pytest.raises(RuntimeError, match="went away"):
        store.write_delivery(chunks(), source_name="d.gpkg", source_sha256="x")
    assert list(scratch.glob("forestsink-staged-*")) == []
    assert not store.exists or store.batches().empty


def _read(path):
    from forestsink.ingest import read_delivery

    return read_delivery(path).frame


def test_small_files_are_not_opened_to_count_features(tmp_path, monkeypatch):
    """A GeoPackage too small to hold a chunk's features is not opened just
    to count them; one big enough is counted (and chunked)."""
    from forestsink.ingest import read as read_module
    from forestsink.ingest.read import MIN_FEATURE_BYTES, may_hold_more_than
    from forestsink.landing import deliveries

    path = write(frame(n=12, ids=[f"M{i}" for i in range(12)]), tmp_path / "d.gpkg")
    size = path.stat().st_size
    assert not may_hold_more_than(path, size // MIN_FEATURE_BYTES)
    assert may_hold_more_than(path, size // MIN_FEATURE_BYTES - 1)
    counted = []
    original = read_module.count_features
    monkeypatch.setattr(
        deliveries,  # imported there at the top
        "count_features",
        lambda p, **kw: counted.append(p) or original(p, **kw),
    )
    big = deliveries.check_deliveries([path], chunk_size=5, workers=0)
    assert counted == [path] and big.large  # 12 features > 5: chunked
    counted.clear()
    small = deliveries.check_deliveries([path], workers=0)  # default chunk size
    assert counted == [] and not small.large and len(small.deliveries) == 1


def test_stopped_skip_errors_ingest_lands_the_files_checked(tmp_path, monkeypatch):
    """Ctrl-C during a --skip-errors ingest: the files checked before it land
    (each its own batch), although they were waiting to land together."""
    from forestsink.landing import deliveries
    from forestsink.landing.deliveries import ingest_deliveries
    from forestsink.store import GeoPackageStore

    folder = tmp_path / "deliveries"
    folder.mkdir()
    for k in range(5):
        write(frame(n=2, ids=[f"C{k}-{i}" for i in range(2)]), folder / f"d{k}.gpkg")
    original = deliveries.check_file

    def check(path, *args, **kwargs):
        if path.name == "d3.gpkg":
            raise KeyboardInterrupt
        return original(path, *args, **kwargs)

    monkeypatch.setattr(deliveries, "check_file", check)
    store = GeoPackageStore(tmp_path / "s.gpkg")
    with pytest.raises(KeyboardInterrupt):
        ingest_deliveries([folder], store, skip_errors=True, workers=0)
    assert list(store.batches()["source_name"]) == ["d0.gpkg", "d1.gpkg", "d2.gpkg"]
    assert store.integrity_check() == "ok"
