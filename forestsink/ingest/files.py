"""Finding, checking, hashing, counting and copying delivered files."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pyogrio

from forestsink.errors import DeliveryError
from forestsink.ingest.shapefile import shapefile_parts

#: the suffixes of a deliverable file
SUFFIXES = (".shp", ".gpkg", ".geojson", ".json", ".zip")


def find_delivery_files(paths) -> list[Path]:
    """Expand files and folders into the list of deliverable files, sorted."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found.extend(
                sorted(
                    f
                    for f in p.rglob("*")
                    if f.suffix.lower() in SUFFIXES and f.is_file()
                )
            )
        elif p.exists():
            found.append(p)
        else:
            raise DeliveryError(f"{p}: 文件或文件夹不存在 / no such file or folder.")
    if not found:
        raise DeliveryError(
            "未找到上报文件 / "
            f"no .shp/.gpkg/.geojson/.zip files found in {[str(p) for p in paths]}."
        )
    return found


def file_sha256(path: Path) -> str:
    """SHA-256 of a delivery: the file, or all parts of a Shapefile."""
    digest = hashlib.sha256()

    def feed(file: Path) -> None:
        with file.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)

    if path.suffix.lower() == ".shp":
        for _, part in sorted(shapefile_parts(path).items()):
            digest.update(part.suffix.lower().encode())
            feed(part)
    else:
        feed(path)
    return digest.hexdigest()


#: fewer bytes than any stored feature takes (a GeoPackage row with empty
#: values and no geometry still takes several; GeoJSON text dozens)
MIN_FEATURE_BYTES = 4


def may_hold_more_than(path, n: int) -> bool:
    """Tell whether *path* is big enough to hold more than *n* features.

    Decided from the file size alone (a Shapefile by its .shx count, which
    costs no more): most county files are far below any chunk size, and
    counting a GeoPackage's or GeoJSON's features opens it with GDAL once
    more (a few milliseconds each).
    """
    path = Path(path)
    if path.suffix.lower() == ".shp":
        return True
    try:
        return path.stat().st_size > n * MIN_FEATURE_BYTES
    except OSError:
        return True  # the read reports it


def count_features(path, /, *, layer: str | None = None) -> int:
    """Return the number of features in a delivery file, without reading them.

    A Shapefile's count is its index's length (``.shx``: a 100-byte header,
    then 8 bytes per feature), without opening it through GDAL.
    """
    shapefile = Path(path).suffix.lower() == ".shp"
    shx = Path(path).with_suffix(".shx")
    if shapefile and shx.is_file():
        size = shx.stat().st_size
        if size >= 100 and (size - 100) % 8 == 0:
            return (size - 100) // 8
    # (a Shapefile's names may be in any code page: only the count is read)
    options = {"encoding": "latin-1"} if shapefile else {}
    try:
        return int(pyogrio.read_info(path, layer=layer, **options)["features"])
    except Exception as err:  # the full read reports it properly
        raise DeliveryError(f"{Path(path).name}: cannot be read ({err}).") from err


def check_layer_path(path) -> Path:
    """Return *path* as a Path if it is a readable layer file, else raise.

    Raises
    ------
    DeliveryError
        No such file, or a suffix other than :data:`SUFFIXES`.
    """
    path = Path(path)
    if not path.is_file():
        raise DeliveryError(f"{path}: 文件不存在 / no such file.")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DeliveryError(
            f"{path.name}: 不支持的文件类型 / "
            f"unsupported file type {suffix!r}; deliver a "
            "Shapefile "
            "(.shp with .shx/.dbf/.prj, or all of them zipped), a GeoPackage or "
            "GeoJSON."
        )
    return path


def copy_delivery(src: Path, dst_dir: Path) -> Path:
    """Copy a delivery (all Shapefile parts) into *dst_dir*; return the new path."""
    dst_dir.mkdir(parents=True, exist_ok=True)
    if src.suffix.lower() == ".shp":
        for part in shapefile_parts(src).values():
            shutil.copy2(part, dst_dir / part.name)
    else:
        shutil.copy2(src, dst_dir / src.name)
    return dst_dir / src.name
