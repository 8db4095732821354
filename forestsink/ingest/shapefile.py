"""The parts of a Shapefile, checked before GDAL opens them.

A Shapefile is several files (``.shp .shx .dbf .prj .cpg``): their counts
must agree (GDAL reads the smallest and drops the rest silently), sidecars
must be sidecar-sized, and the ``.dbf``'s start is sampled to detect its
text encoding.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from forestsink.errors import DeliveryError


def shapefile_parts(shp: Path) -> dict[str, Path]:
    """Return the files of the Shapefile *shp*: suffix (lower case) -> path."""
    parts = {}
    for sibling in shp.parent.glob(shp.stem + ".*"):
        if sibling.stem == shp.stem:
            parts[sibling.suffix.lower()] = sibling
    return parts


DBF_SAMPLE_BYTES = 32 << 20

#: sidecar files of a Shapefile are a few bytes (.cpg) or a few KB (.prj);
#: anything this large is not one, and GDAL would parse all of it
MAX_SIDECAR_BYTES = 64 << 10


def check_sidecars(parts: dict[str, Path], display: str) -> None:
    """Refuse a .prj or .cpg far larger than any real one (before GDAL reads it)."""
    for suffix in (".prj", ".cpg"):
        if suffix in parts:
            size = parts[suffix].stat().st_size
            if size > MAX_SIDECAR_BYTES:
                raise DeliveryError(
                    f"{display}: {suffix} 文件过大 / the {suffix} is {size} bytes "
                    f"({parts[suffix].name}; a real one is under 2 KB, the limit "
                    f"is {MAX_SIDECAR_BYTES}): it is not a {suffix}. Export the "
                    "Shapefile again."
                )


def read_cpg(cpg: Path) -> str:
    """Return the text of a .cpg (ASCII; other bytes shown as escapes)."""
    return cpg.read_bytes()[:MAX_SIDECAR_BYTES].decode("ascii", "backslashreplace")


def dbf_sample(dbf: Path) -> bytes:
    """Header and whole records from the start of a .dbf (at most ~32 MB)."""
    with dbf.open("rb") as f:
        head = f.read(32)
        if len(head) < 32:
            return head
        header_len = int.from_bytes(head[8:10], "little")
        record_len = max(int.from_bytes(head[10:12], "little"), 1)
        n = max((DBF_SAMPLE_BYTES - header_len) // record_len, 1)
        return head + f.read(header_len - 32 + n * record_len)


def check_parts_present(parts: dict[str, Path], display: str) -> None:
    """Refuse a Shapefile without its ``.shx`` or ``.dbf`` beside it."""
    for needed in (".shx", ".dbf"):
        if needed not in parts:
            restore = (
                " If only the .shx was lost, GDAL can rebuild it: ogr2ogr "
                "--config SHAPE_RESTORE_SHX YES fixed.shp the.shp"
                if needed == ".shx"
                else ""
            )
            raise DeliveryError(
                f"{display}: 缺少 {needed} 文件 / the Shapefile has no {needed} "
                "file beside it. A Shapefile is several files (.shp .shx .dbf "
                ".prj .cpg); ask for all of them, ideally zipped." + restore
            )


def _check_shp_complete(shp: Path, shx: Path, display: str) -> None:
    """Refuse a .shp cut short: its index (.shx) points past its end."""
    index_size = shx.stat().st_size
    size = shp.stat().st_size
    if index_size < 100 or size < 100:
        raise DeliveryError(
            f"{display}: the .shp or .shx is shorter than a Shapefile header; "
            "the file is truncated. Ask the county to export it again."
        )
    if index_size > 100:
        with shx.open("rb") as f:
            f.seek(index_size - 8)
            offset, length = struct.unpack(">ii", f.read(8))
        end = 2 * (offset + length + 4)
        if end > size:
            raise DeliveryError(
                f"{display}: the .shp is truncated ({size} bytes, its index "
                f"needs {end}); features would be lost. Ask the county to "
                "export it again."
            )


#: what to do when the parts of a Shapefile disagree
SHAPEFILE_AGAIN = "the parts come from different exports; export the Shapefile again"


def shapefile_counts(parts: dict[str, Path], display: str) -> int:
    """Check that the parts of a Shapefile agree; return the number of features.

    Three counts are compared: the index's (``.shx``: a 100-byte header,
    then 8 bytes per shape), the ``.shp``'s records walked by their headers
    (record number and content length, ESRI Shapefile Technical Description,
    1998) and the ``.dbf`` header's record count (bytes 4-7), which must also
    fit in the ``.dbf``'s size. GDAL reads the smallest of them and drops the
    rest silently: any disagreement is refused with the numbers.

    Parameters
    ----------
    parts : dict
        Suffix (``".shp"``, ``".shx"``, ``".dbf"``) -> path.
    display : str
        File name shown in messages.

    Returns
    -------
    int
        The number of features all three parts hold.

    Raises
    ------
    DeliveryError
        The parts disagree or one is damaged.
    """
    shp, shx, dbf = parts[".shp"], parts[".shx"], parts[".dbf"]
    _check_shp_complete(shp, shx, display)
    index_size = shx.stat().st_size
    if (index_size - 100) % 8:
        raise DeliveryError(
            f"{display}: .shx 已截断 / the .shx is truncated ({index_size} bytes is "
            "a 100-byte header and not a whole number of 8-byte entries); "
            f"{SHAPEFILE_AGAIN}."
        )
    n_shx = (index_size - 100) // 8
    n_shp = _walk_shp(shp, shx, n_shx, display)
    if n_shp != n_shx:
        raise DeliveryError(
            f"{display}: 各部分记录数不一致 / the .shp holds {n_shp} shapes but "
            f"the .shx indexes {n_shx}: {SHAPEFILE_AGAIN}."
        )
    with dbf.open("rb") as f:
        head = f.read(12)
    dbf_size = dbf.stat().st_size
    if len(head) < 12:
        raise DeliveryError(
            f"{display}: the .dbf is shorter than its header ({dbf_size} bytes); "
            f"{SHAPEFILE_AGAIN}."
        )
    n_dbf = int.from_bytes(head[4:8], "little")
    header_len = int.from_bytes(head[8:10], "little")
    record_len = max(int.from_bytes(head[10:12], "little"), 1)
    held = max(dbf_size - header_len, 0) // record_len
    if held < n_dbf:
        raise DeliveryError(
            f"{display}: .dbf 已截断 / the .dbf header says {n_dbf} records but "
            f"the file holds only {held} ({dbf_size} bytes, {record_len} bytes a "
            f"record); {SHAPEFILE_AGAIN}."
        )
    if n_dbf != n_shp:
        raise DeliveryError(
            f"{display}: 各部分记录数不一致 / the .shp holds {n_shp} shapes but "
            f"the .dbf {n_dbf} records: features would be lost; {SHAPEFILE_AGAIN}."
        )
    return n_shp


def _walk_shp(shp: Path, shx: Path, n_shx: int, display: str) -> int:
    """Count the records of a .shp by walking their headers.

    The usual file is checked at once: the index's offsets are contiguous,
    each record header there gives the index's length, and the last record
    ends at the file's end. Otherwise the records are walked one by one from
    the file header.
    """
    size = shp.stat().st_size
    if n_shx:
        index = np.fromfile(shx, dtype=">i4", offset=100).reshape(-1, 2)
        offsets = index[:, 0].astype(np.int64) * 2
        lengths = index[:, 1].astype(np.int64) * 2
        chained = (
            offsets[0] == 100
            and (offsets[1:] == offsets[:-1] + 8 + lengths[:-1]).all()
            and offsets[-1] + 8 + lengths[-1] == size
            and (lengths >= 4).all()
        )
        if chained:
            data = np.memmap(shp, dtype=np.uint8, mode="r")
            heads = data[offsets[:, None] + np.arange(4, 8)].copy()
            del data
            if (heads.view(">i4").ravel().astype(np.int64) * 2 == lengths).all():
                return n_shx
    elif size == 100:
        return 0
    count, at = 0, 100
    with shp.open("rb") as f:
        f.seek(100)
        while at < size:
            head = f.read(8)
            if len(head) < 8:
                raise DeliveryError(
                    f"{display}: the .shp ends inside the header of record "
                    f"{count + 1} ({size} bytes); the file is truncated. "
                    f"{SHAPEFILE_AGAIN}."
                )
            _, words = struct.unpack(">ii", head)
            end = at + 8 + 2 * words
            if words < 2 or end > size:
                raise DeliveryError(
                    f"{display}: .shp 记录越界 / record {count + 1} of the .shp "
                    f"claims {2 * words} bytes and runs past the end of the file "
                    f"(ends at {end}, the file has {size} bytes); the file is "
                    f"truncated or damaged: {SHAPEFILE_AGAIN}."
                )
            f.seek(end)
            at = end
            count += 1
    return count
