"""Compare two demo output folders file by file: same tables, values, report numbers.

Used to show a restructuring changed no output (issue #21)::

    python scripts/compare_outputs.py BEFORE/maps AFTER/maps

Each file present in either folder is compared by what it carries, with the
parts that change from run to run masked (the tool version with its commit,
the time of the run, durations, random element ids of the interactive map):

* ``.csv`` — every cell, as text;
* ``.xlsx`` — every cell of every sheet (values, not styles);
* ``.html`` — the JSON data blocks parsed (so escaping differences do not
  count) and the visible text; embedded images by their decoded pixels;
* ``.png`` — the decoded pixels (PNG metadata names the software version);
* ``.pdf`` — the bytes with the creation date and producer masked;
* ``.txt`` — the lines, volatile parts masked.

Prints one line per file (``same`` or the first differences) and exits 1
when any file differs or is missing on one side. ``--rel``/``--abs`` let
numbers differ by floating-point noise (a change of projection library moves
areas in the 12th digit and the areas of overlay slivers by micro-mu); the
largest difference accepted is printed.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
from PIL import Image

VOLATILE = [
    # tool version with its commit: 0.1.0.dev251+g173117b0f(.d20261205)
    (re.compile(r"\d+\.\d+\.\d+(\.dev\d+)?(\+g[0-9a-f]+(\.d\d{8})?)?"), "<version>"),
    # times of the run
    (
        re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?([+-]\d\d:?\d\d|Z)?"),
        "<time>",
    ),
    (re.compile(r"\d{4}年\d{1,2}月\d{1,2}日 ?\d\d:\d\d"), "<time>"),
    # durations printed in logs: "in 3.2 s", "(0.41 s)", "12 ms"
    (re.compile(r"\b\d+(\.\d+)? ?(s|ms|秒)\b"), "<duration>"),
    # folium / branca element ids
    (re.compile(r"[0-9a-f]{32}"), "<id>"),
]


#: Relative difference below which two numbers count as the same (0 = exact);
#: set by ``--rel``. The largest difference seen is reported.
TOLERANCE = {"rel": 0.0, "abs": 0.0, "max_seen": 0.0, "max_abs_seen": 0.0}


def _num(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def same_value(a, b) -> bool:
    """Equal, or both numbers within the relative tolerance (the gap recorded)."""
    if a == b:
        return True
    x, y = _num(a), _num(b)
    if x is None or y is None or not (np.isfinite(x) and np.isfinite(y)):
        return False
    gap = abs(x - y) / max(abs(x), abs(y), 1e-300)
    if gap <= TOLERANCE["rel"]:
        TOLERANCE["max_seen"] = max(TOLERANCE["max_seen"], gap)
        return True
    if abs(x - y) <= TOLERANCE["abs"]:
        TOLERANCE["max_abs_seen"] = max(TOLERANCE["max_abs_seen"], abs(x - y))
        return True
    return False


def same_json(a, b) -> bool:
    """Deep equality of parsed JSON with numbers compared by :func:`same_value`."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(
            same_json(x, y) for x, y in zip(a, b, strict=True)
        )
    return same_value(a, b)


def mask(text: str) -> str:
    """Replace the parts of *text* that change from run to run."""
    for pattern, token in VOLATILE:
        text = pattern.sub(token, text)
    return text


def _cell(value) -> object:
    if isinstance(value, str):
        return mask(value)
    if hasattr(value, "isoformat"):
        return "<time>"
    return value


def compare_csv(a: Path, b: Path) -> list[str]:
    """Cell-by-cell differences of two CSV files (text, volatile parts masked)."""
    fa = pd.read_csv(a, dtype=str, keep_default_na=False).map(mask)
    fb = pd.read_csv(b, dtype=str, keep_default_na=False).map(mask)
    if list(fa.columns) != list(fb.columns):
        return [f"columns differ: {list(fa.columns)} vs {list(fb.columns)}"]
    if fa.shape != fb.shape:
        return [f"shape {fa.shape} vs {fb.shape}"]
    va, vb = fa.to_numpy(), fb.to_numpy()
    differs = np.vectorize(lambda x, y: not same_value(x, y), otypes=[bool])
    rows, cols = np.nonzero(differs(va, vb)) if va.size else ([], [])
    return [
        f"row {r + 2}, {fa.columns[c]}: {fa.iat[r, c]!r} vs {fb.iat[r, c]!r}"
        for r, c in zip(rows[:5], cols[:5], strict=True)
    ] + ([f"... {len(rows)} cells differ"] if len(rows) > 5 else [])


def compare_xlsx(a: Path, b: Path) -> list[str]:
    """Cell-by-cell differences of two workbooks (values of every sheet)."""
    wa = openpyxl.load_workbook(a, read_only=True, data_only=True)
    wb = openpyxl.load_workbook(b, read_only=True, data_only=True)
    if wa.sheetnames != wb.sheetnames:
        return [f"sheets differ: {wa.sheetnames} vs {wb.sheetnames}"]
    out: list[str] = []
    for name in wa.sheetnames:
        ra = [[_cell(v) for v in row] for row in wa[name].iter_rows(values_only=True)]
        rb = [[_cell(v) for v in row] for row in wb[name].iter_rows(values_only=True)]
        if len(ra) != len(rb):
            out.append(f"{name}: {len(ra)} rows vs {len(rb)}")
            continue
        for i, (x, y) in enumerate(zip(ra, rb, strict=True)):
            if len(x) != len(y) or not all(map(same_value, x, y)):
                out.append(f"{name} row {i + 1}: {x[:6]} vs {y[:6]}")
                if len(out) >= 5:
                    return out
    return out


def _pixels(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as im:
        return hashlib.sha256(np.asarray(im.convert("RGBA")).tobytes()).hexdigest()


def compare_png(a: Path, b: Path) -> list[str]:
    """Whether two images have the same pixels (metadata ignored)."""
    same = _pixels(a.read_bytes()) == _pixels(b.read_bytes())
    return [] if same else ["pixels differ"]


class _Html(HTMLParser):
    """Collect visible text, JSON script blocks and data-URI images."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.json: list[object] = []
        self.images: list[str] = []
        self._script: str | None = None
        self._buf: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "style"):
            self._script = (attrs.get("type") or tag) if tag == "script" else "style"
            self._buf = []
        src = attrs.get("src") or attrs.get("href") or ""
        if src.startswith("data:image/png;base64,"):
            self.images.append(_pixels(base64.b64decode(src.split(",", 1)[1])))

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._script is not None:
            body = "".join(self._buf)
            if "json" in self._script:
                try:
                    self.json.append(json.loads(body))
                except ValueError:
                    self.text.append(mask(body))
            self._script = None

    def handle_data(self, data):
        if self._script is not None:
            self._buf.append(data)
        elif data.strip():
            self.text.append(mask(data.strip()))


def _masked_json(obj):
    if isinstance(obj, dict):
        return {k: _masked_json(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_masked_json(v) for v in obj]
    if isinstance(obj, str):
        if obj.startswith("data:image/png;base64,"):
            return _pixels(base64.b64decode(obj.split(",", 1)[1]))
        return mask(obj)
    return obj


def compare_html(a: Path, b: Path) -> list[str]:
    """Compare visible text, parsed JSON blocks and image pixels of two pages."""
    pa, pb = _Html(), _Html()
    pa.feed(a.read_text(encoding="utf-8"))
    pb.feed(b.read_text(encoding="utf-8"))
    out = []
    if pa.text != pb.text:
        diff = [(x, y) for x, y in zip(pa.text, pb.text, strict=False) if x != y]
        out.append(f"visible text differs ({len(pa.text)} vs {len(pb.text)} pieces)")
        out += [f"  {x[:80]!r} vs {y[:80]!r}" for x, y in diff[:3]]
    if not same_json(_masked_json(pa.json), _masked_json(pb.json)):
        out.append(f"JSON data differs ({len(pa.json)} vs {len(pb.json)} blocks)")
    if pa.images != pb.images:
        out.append(f"images differ ({len(pa.images)} vs {len(pb.images)})")
    return out


def compare_pdf(a: Path, b: Path) -> list[str]:
    """Bytes of two PDFs with the creation date and producer masked."""

    def clean(data: bytes) -> bytes:
        data = re.sub(rb"/CreationDate \([^)]*\)", b"", data)
        return re.sub(rb"/(Producer|Creator) \([^)]*\)", b"", data)

    return [] if clean(a.read_bytes()) == clean(b.read_bytes()) else ["bytes differ"]


def compare_text(a: Path, b: Path) -> list[str]:
    """Lines of two text files with volatile parts masked."""
    la = mask(a.read_text(encoding="utf-8")).splitlines()
    lb = mask(b.read_text(encoding="utf-8")).splitlines()
    out = [
        f"line {i + 1}: {x!r} vs {y!r}"
        for i, (x, y) in enumerate(zip(la, lb, strict=False))
        if x != y
    ]
    if len(la) != len(lb):
        out.append(f"{len(la)} lines vs {len(lb)}")
    return out[:5]


COMPARERS = {
    ".csv": compare_csv,
    ".xlsx": compare_xlsx,
    ".png": compare_png,
    ".html": compare_html,
    ".pdf": compare_pdf,
    ".txt": compare_text,
}


def main(argv: list[str] | None = None) -> int:
    """Compare the folders; return 0 when every file is the same."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument(
        "--rel",
        type=float,
        default=0.0,
        help="numbers within this relative difference count as the same "
        "(default 0: exact); the largest difference accepted is printed",
    )
    parser.add_argument(
        "--abs",
        type=float,
        default=0.0,
        help="or within this absolute difference (in the file's unit, e.g. "
        "mu; default 0)",
    )
    args = parser.parse_args(argv)
    TOLERANCE["rel"], TOLERANCE["abs"] = args.rel, args.abs
    names = sorted(
        {p.name for p in args.before.iterdir()} | {p.name for p in args.after.iterdir()}
    )
    bad = 0
    for name in names:
        a, b = args.before / name, args.after / name
        if not (a.is_file() and b.is_file()):
            print(f"{name}: only in {'before' if a.is_file() else 'after'}")
            bad += 1
            continue
        compare = COMPARERS.get(a.suffix.lower())
        diffs = (
            compare(a, b)
            if compare
            else ([] if a.read_bytes() == b.read_bytes() else ["bytes differ"])
        )
        print(f"{name}: {'same' if not diffs else 'DIFFERENT'}")
        for line in diffs:
            print(f"    {line}")
        bad += bool(diffs)
    print(f"{len(names) - bad} of {len(names)} files the same")
    if args.rel or args.abs:
        print(
            f"numbers compared to a relative {args.rel:g} or an absolute "
            f"{args.abs:g}; largest accepted: relative {TOLERANCE['max_seen']:.3g}, "
            f"absolute (beyond the relative) {TOLERANCE['max_abs_seen']:.3g}"
        )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
