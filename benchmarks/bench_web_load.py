"""A bounded load test of the web application on loopback (issue #20).

N concurrent users (default 20) for S seconds (default 60) against
``forestsink serve`` with W uvicorn workers on 127.0.0.1: a mix of page views,
progress queries, batch lists (the newest 100, as the batches page asks)
and small uploads that land (40 features
each, unique ids, so every upload is one new batch). Afterwards the store is
checked: one batch per successful upload, no batch lost or duplicated
(by SHA-256 and by account), every uploaded key live exactly once.

    .venv/bin/python benchmarks/bench_web_load.py                # PostGIS
    .venv/bin/python benchmarks/bench_web_load.py --store s.gpkg # GeoPackage

Without ``--store`` it starts a throwaway PostgreSQL + PostGIS server with
``scripts/pg_test_server.sh`` (under /tmp) and stops it afterwards. Prints
p50/p95 latency per kind of request; exit status 1 on any failed request
or a store check that fails.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

import geopandas as gpd
import httpx
import numpy as np
import psutil
import pyogrio
from shapely.geometry import box

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from forestsink.landing.deliveries import ingest_deliveries  # noqa: E402
from forestsink.store import open_store  # noqa: E402
from forestsink.store.users import add_user  # noqa: E402

PASSWORD = "bench-password-1"
SECRET = "bench-secret-" + "z" * 40
MIX = [("page", 0.35), ("progress", 0.25), ("batches", 0.15), ("upload", 0.25)]


def delivery(
    user: int, k: int, n: int = 40, *, place: int | None = None, step: float = 0.0008
) -> bytes:
    """A clean 40-feature GeoJSON delivery of 万州区 with unique ids.

    Placed by *place* (default: *user*): users 0-29 never overlap, as long
    as *k* × *step* stays below 0.0497 (a place's row is 0.05° high, a
    delivery 0.0003°).
    """
    place = user if place is None else place
    x0 = 108.25 + 0.02 * (place % 10)
    y0 = 30.65 + 0.05 * (place // 10) + step * k
    geoms = [
        box(x0 + 0.0004 * i, y0, x0 + 0.0004 * i + 0.0003, y0 + 0.0003)
        for i in range(n)
    ]
    gdf = gpd.GeoDataFrame(
        {
            "小班号": [f"L{user:02d}-{k:03d}-{i:02d}" for i in range(n)],
            "区县": ["万州区"] * n,
            "年度": [2013] * n,
            "工程类别": ["人工造林"] * n,
        },
        geometry=geoms,
        crs=4490,
    )
    buf = io.BytesIO()
    pyogrio.write_dataframe(gdf, buf, driver="GeoJSON")
    return buf.getvalue()


def tree_cpu(pid: int) -> float:
    """CPU seconds of process *pid*, its live children and its reaped ones."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
        t = root.cpu_times()
    except psutil.NoSuchProcess:
        return 0.0
    total = t.children_user + t.children_system  # e.g. ended postgres backends
    for p in procs:
        try:
            t = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += t.user + t.system
    return total


def postmaster(pg_dir: str | None) -> int | None:
    """The pid of the bench's own PostgreSQL server (its data folder)."""
    if pg_dir is None:
        return None
    for p in psutil.process_iter(["cmdline"]):
        if pg_dir in " ".join(p.info["cmdline"] or []):
            return p.pid
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def user_loop(i, base, deadline, uploads, stats, landed, unsure):
    """One user: log in, then requests of the MIX until *deadline*.

    A request that fails in transport (no HTTP answer) is counted as failed
    with the error's name; an upload that failed so may or may not have
    landed: it goes into *unsure* (user, number) for the store check.
    """
    async with httpx.AsyncClient(base_url=base, timeout=60) as c:
        r = await c.post(
            "/api/login", json={"username": f"bench{i:02d}", "password": PASSWORD}
        )
        r.raise_for_status()
        token = r.json()["csrf_token"]
        rng = random.Random(i)
        k = 0
        while time.monotonic() < deadline:
            kind = rng.choices([m for m, _ in MIX], [w for _, w in MIX])[0]
            if kind == "upload" and k >= len(uploads[i]):
                continue
            t = time.perf_counter()
            try:
                if kind == "page":
                    r = await c.get(rng.choice(["/upload", "/batches", "/progress"]))
                elif kind == "progress":
                    r = await c.get("/api/progress?by=district")
                elif kind == "batches":  # as the batches page asks (a page of 100)
                    r = await c.get("/api/batches?limit=100")
                else:
                    r = await c.post(
                        "/api/deliveries?land=1",
                        files={"file": (f"u{i}-{k}.geojson", uploads[i][k])},
                        headers={"X-CSRF-Token": token},
                    )
                status = r.status_code
            except httpx.TransportError as err:
                status = type(err).__name__
                if kind == "upload":
                    unsure.append((i, k))
            if kind == "upload":
                if status == 200:
                    landed.append((i, k, r.json()["batches"], r.json()["sha256"]))
                k += 1
            stats[kind].append((time.perf_counter() - t, status))


def solo_uploads(base: str, n: int, landed: list) -> dict[str, list[float]]:
    """Time *n* uploads by one user alone: validate only, then validate + land.

    The landed ones are user 99's (uploads distinct from the load's) and
    go into *landed* for the store check.
    """
    times: dict[str, list[float]] = {"validate": [], "validate+land": []}
    with httpx.Client(base_url=base, timeout=60) as c:
        r = c.post("/api/login", json={"username": "solo", "password": PASSWORD})
        r.raise_for_status()
        token = r.json()["csrf_token"]
        for k in range(n):
            for kind, query in (("validate", ""), ("validate+land", "?land=1")):
                data = delivery(99, k, place=25)
                t = time.perf_counter()
                r = c.post(
                    "/api/deliveries" + query,
                    files={"file": (f"solo-{k}.geojson", data)},
                    headers={"X-CSRF-Token": token},
                )
                times[kind].append(time.perf_counter() - t)
                r.raise_for_status()
                if query:
                    landed.append((99, k, r.json()["batches"], r.json()["sha256"]))
    return times


def check_store(location, landed, unsure, uploads) -> list[str]:
    """Compare the store with the answers: no batch lost or duplicated.

    *unsure* uploads (no answer) may have landed once or not at all; found
    by their SHA-256, they count as landed.
    """
    store = open_store(location)
    batches = store.batches()
    problems = []
    ours = batches[batches["user"].str.match(r"bench|solo", na=False)]
    if ours["source_sha256"].duplicated().any():
        problems.append("a delivery landed twice (duplicate SHA-256)")
    shas = set(ours["source_sha256"])
    found = [
        (i, k) for i, k in unsure if hashlib.sha256(uploads[i][k]).hexdigest() in shas
    ]
    if len(ours) != len(landed) + len(found):
        problems.append(
            f"{len(landed)} uploads landed (+{len(found)} unanswered found) but "
            f"{len(ours)} batches"
        )
    answered = {b for _, _, bs, _ in landed for b in bs}
    if not answered <= set(ours["batch_id"]):
        problems.append("batch ids answered are missing from the store")
    current = store.current()
    keys = current["key"]
    if keys.duplicated().any():
        problems.append("a key is live twice")
    done = [(i, k) for i, k, _, _ in landed] + found
    want = {f"500101/L{i:02d}-{k:03d}-{j:02d}" for i, k in done for j in range(40)}
    missing = want - set(keys)
    if missing:
        problems.append(f"{len(missing)} uploaded keys missing")
    if unsure:
        problems.append(
            f"{len(unsure)} upload(s) got no answer ({len(found)} of them landed)"
        )
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", help="a .gpkg or postgresql:// URL (default: PostGIS)")
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 2,
        help="server worker processes (default: one per core, as the README advises)",
    )
    ap.add_argument(
        "--solo",
        type=int,
        default=5,
        help="uploads timed by one user alone before the load (default: 5)",
    )
    ap.add_argument("--log", help="write the server's output to this file")
    args = ap.parse_args()
    pg_dir = None
    location = args.store
    if location is None:
        pg_dir = tempfile.mkdtemp(prefix="forestsink-bench-pg-")
        run = subprocess.run(
            ["bash", str(ROOT / "scripts/pg_test_server.sh"), "start", pg_dir],
            capture_output=True,
            text=True,
            check=True,
        )
        url = run.stdout.strip().splitlines()[-1]
        location = f"{url}?schema=bench_{uuid.uuid4().hex[:8]}"
    proc = None
    try:
        store = open_store(location)
        add_user(store, "solo", role="editor", districts=["万州区"], password=PASSWORD)
        for i in range(args.users):
            add_user(
                store,
                f"bench{i:02d}",
                role="editor",
                districts=["万州区"],
                password=PASSWORD,
            )
        seed = Path(tempfile.mkdtemp()) / "seed.geojson"
        seed.write_bytes(delivery(98, 0, n=2, place=29))
        ingest_deliveries([seed], store, user="seed")  # progress needs a batch
        print("preparing deliveries …", flush=True)
        # enough for a user who uploads every time it draws an upload, at
        # 0.1 s a request: none runs out (one that did would ask only for
        # pages and queries from then on, a lighter mix than MIX)
        per_user = int(args.seconds * 2.5) + 10
        step = min(0.0008, 0.0497 / per_user)
        uploads = {
            i: [delivery(i, k, step=step) for k in range(per_user)]
            for i in range(args.users)
        }
        port = free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT), "FORESTSINK_SECRET": SECRET}
        upload_dir = tempfile.mkdtemp(prefix="forestsink-bench-uploads-")
        log = open(args.log, "w") if args.log else subprocess.DEVNULL
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "forestsink",
                "serve",
                "--store",
                location,
                "--port",
                str(port),
                "--workers",
                str(args.workers),
            ],
            env=env,
            cwd=upload_dir,
            start_new_session=True,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if httpx.get(base + "/login", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        stats: dict[str, list] = defaultdict(list)
        landed: list = []
        unsure: list = []
        solo = solo_uploads(base, args.solo, landed) if args.solo else {}
        load0 = os.getloadavg()[0]
        pg_pid = postmaster(pg_dir)
        cpu0 = tree_cpu(proc.pid)
        pg0 = tree_cpu(pg_pid) if pg_pid else 0.0
        deadline = time.monotonic() + args.seconds
        client0 = time.process_time()

        async def run_all():
            await asyncio.gather(
                *(
                    user_loop(i, base, deadline, uploads, stats, landed, unsure)
                    for i in range(args.users)
                )
            )

        asyncio.run(run_all())
        server_cpu = tree_cpu(proc.pid) - cpu0
        # the load generator shares the cores: its own CPU is part of the picture
        client_cpu = time.process_time() - client0
        pg_cpu = tree_cpu(pg_pid) - pg0 if pg_pid else 0.0
        load1 = os.getloadavg()[0]
        failed = 0
        print(
            f"{args.users} users, {args.seconds:g} s, {args.workers} workers, "
            f"store {open_store(location).path}"
        )
        n_requests = sum(len(rows) for rows in stats.values())
        print(
            f"machine: {os.cpu_count()} cores, load average {load0:.1f} before, "
            f"{load1:.1f} after; server CPU {server_cpu:.1f} s "
            f"({1000 * server_cpu / max(n_requests, 1):.0f} ms a request)"
            + (f", postgres CPU {pg_cpu:.1f} s" if pg_pid else "")
            + f", load generator (this process) CPU {client_cpu:.1f} s"
        )
        print(f"{'kind':10} {'n':>6} {'failed':>6} {'p50 ms':>8} {'p95 ms':>8}")
        for kind, rows in sorted(stats.items()):
            times = np.array([t for t, _ in rows]) * 1000
            bad = [s for _, s in rows if s != 200]
            failed += len(bad)
            print(
                f"{kind:10} {len(rows):6d} {len(bad):6d} "
                f"{np.percentile(times, 50):8.0f} {np.percentile(times, 95):8.0f}"
                + (f"  failed: {dict(Counter(bad))}" if bad else "")
            )
        for kind, times in solo.items():
            ms = np.array(times) * 1000
            print(
                f"one user alone, 40-feature upload, {kind}: n {len(ms)}, "
                f"p50 {np.percentile(ms, 50):.0f} ms, max {ms.max():.0f} ms"
            )
        used = sorted(
            sum(1 for u, _, _, _ in landed if u == i) for i in range(args.users)
        )
        ran_out = sum(1 for count in used if count >= per_user)
        print(
            f"landing uploads per user: min {used[0]}, max {used[-1]} (of "
            f"{per_user} prepared; users that ran out: {ran_out})"
        )
        problems = check_store(location, landed, unsure, uploads)
        print(
            f"landed uploads: {len(landed)}; store check: "
            + ("; ".join(problems) if problems else "ok (no lost or duplicated batch)")
        )
        return 1 if failed or problems else 0
    finally:
        if proc is not None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
        if pg_dir is not None:
            subprocess.run(
                ["bash", str(ROOT / "scripts/pg_test_server.sh"), "stop", pg_dir],
                check=False,
                capture_output=True,
            )


if __name__ == "__main__":
    sys.exit(main())
