"""Unpacking zipped deliveries safely.

The zip's directory is checked before anything is written (member count,
zip-slip, symbolic links, duplicate names, one layer, unpacked size, packing
ratio), and only the layer's files are extracted, with a running byte count.
"""

from __future__ import annotations

import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from forestsink.errors import DeliveryError

#: default limit of the bytes a zip's needed members may unpack to
#: (``--max-unzipped``): 2 GiB, ten times the largest county delivery seen
MAX_UNZIPPED_BYTES = 2 << 30
#: more members than any delivery has (a Shapefile is 3-8 files)
MAX_ZIP_MEMBERS = 1000
#: a member that unpacks to more than ZIP_RATIO_MIN_BYTES and more than
#: MAX_ZIP_RATIO times its packed size is a zip bomb: real layers pack 2-20:1
MAX_ZIP_RATIO = 200
ZIP_RATIO_MIN_BYTES = 4 << 20
#: the members a delivery needs: layer files and a Shapefile's sidecars
LAYER_MEMBER_SUFFIXES = (
    ".shp",
    ".shx",
    ".dbf",
    ".prj",
    ".cpg",
    ".gpkg",
    ".geojson",
    ".json",
)
_LAYER_SUFFIXES = (".shp", ".gpkg", ".geojson")
_S_IFMT, _S_IFLNK = 0o170000, 0o120000


def _zip_refused(zpath: Path, what: str, option: str | None = None) -> DeliveryError:
    return DeliveryError(f"{zpath.name}: {what}", option=option)


def _check_members(zpath: Path, infos: list) -> None:
    """Refuse a zip's directory: too many, unsafe, duplicate or linked members."""
    if len(infos) > MAX_ZIP_MEMBERS:
        raise _zip_refused(
            zpath,
            f"zip成员过多 / the zip holds {len(infos)} members (limit "
            f"{MAX_ZIP_MEMBERS}; a delivery is one layer of a few files). Zip "
            "only the layer's files.",
        )
    seen: set[str] = set()
    for info in infos:
        name = info.filename.replace("\\", "/")
        member = PurePosixPath(name)
        if member.is_absolute() or ".." in member.parts or ":" in info.filename:
            raise _zip_refused(
                zpath,
                f"不安全的zip / member {info.filename!r} would be written "
                "outside the extraction folder; refusing this zip. Ask the "
                "sender for a zip with plain relative paths.",
            )
        if (info.external_attr >> 16) & _S_IFMT == _S_IFLNK:
            raise _zip_refused(
                zpath,
                f"zip成员是符号链接 / member {info.filename!r} is a symbolic link "
                "(it would point outside the delivery); refusing this zip. Zip "
                "the files themselves.",
            )
        key = str(member).casefold()
        if key in seen and not info.is_dir():
            raise _zip_refused(
                zpath,
                f"zip成员重名 / the zip holds member {info.filename!r} twice: "
                "which one is meant cannot be told. Zip the layer again.",
            )
        seen.add(key)


def _needed_members(zpath: Path, infos: list) -> list:
    """Return the members of the zip's one layer (refusing none or several)."""
    files = [i for i in infos if not i.is_dir()]
    layers = [
        i for i in files if PurePosixPath(i.filename).suffix.lower() in _LAYER_SUFFIXES
    ]
    if not layers:
        inner = [i.filename for i in files if i.filename.lower().endswith(".zip")]
        if inner:
            raise _zip_refused(
                zpath,
                f"zip内还有zip / the zip holds an inner zip ({inner[0]!r}) and no "
                "layer; zips are not unpacked inside zips. Deliver the inner "
                "zip itself.",
            )
    if len(layers) != 1:
        raise _zip_refused(
            zpath,
            "zip内应只有一个图层 / expected exactly one .shp/.gpkg/.geojson "
            f"inside, found {[PurePosixPath(i.filename).name for i in layers]}. "
            "Deliver one layer per zip.",
        )
    layer = PurePosixPath(layers[0].filename.replace("\\", "/"))
    if layer.suffix.lower() != ".shp":
        return [layers[0]]
    return [
        i
        for i in files
        if (m := PurePosixPath(i.filename.replace("\\", "/"))).parent == layer.parent
        and m.stem == layer.stem
        and m.suffix.lower() in LAYER_MEMBER_SUFFIXES
    ]


def _check_sizes(zpath: Path, members: list, max_unzipped: int) -> None:
    """Refuse from the directory: too much unpacked, or a member packed too well."""
    total = sum(i.file_size for i in members)
    if total > max_unzipped:
        raise _zip_refused(
            zpath,
            f"解压后过大 / the layer's files unpack to {total} bytes, more than "
            f"the limit of {max_unzipped} (max_unzipped); raise the limit if "
            "the delivery is really this large.",
            "max_unzipped",
        )
    for info in members:
        packed = max(info.compress_size, 1)
        if (
            info.file_size > ZIP_RATIO_MIN_BYTES
            and info.file_size > MAX_ZIP_RATIO * packed
        ):
            raise _zip_refused(
                zpath,
                f"疑似zip炸弹 / member {info.filename!r} unpacks to "
                f"{info.file_size} bytes from {info.compress_size}: a "
                f"compression ratio of {info.file_size // packed}:1 (limit "
                f"{MAX_ZIP_RATIO}:1) that no map layer has; refusing this zip.",
            )


def _safe_extract(
    zpath: Path, target: Path, *, max_unzipped: int = MAX_UNZIPPED_BYTES
) -> Path:
    """Extract the one layer of a zip into *target*; return its path.

    Before anything is written the zip's directory is checked: at most
    ``MAX_ZIP_MEMBERS`` members, none outside *target* (zip-slip), none a
    symbolic link, no name twice, exactly one layer (.shp/.gpkg/.geojson),
    and that layer's files (a Shapefile's sidecars beside it) unpacking to at
    most *max_unzipped* bytes with no member packed more than
    ``MAX_ZIP_RATIO``:1. Only those files are extracted, streamed with a
    running byte count, so a directory that understates a size cannot pass.

    Parameters
    ----------
    zpath : Path
        The zip.
    target : Path
        Empty folder to extract into.
    max_unzipped : int, optional (default: MAX_UNZIPPED_BYTES, 2 GiB)
        Limit of the bytes the layer's files may unpack to.

    Returns
    -------
    Path
        The extracted layer file.
    """
    archive = _open_zip(zpath)
    with archive:
        infos = archive.infolist()
        _check_members(zpath, infos)
        members = _needed_members(zpath, infos)
        _check_sizes(zpath, members, max_unzipped)
        return _extract_members(archive, zpath, members, target, max_unzipped)[0]


def _open_zip(zpath: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(zpath)
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise _zip_refused(
            zpath, f"不是有效的zip / not a valid zip file ({err})."
        ) from err


def _extract_members(
    archive: zipfile.ZipFile, zpath: Path, members: list, target: Path, budget: int
) -> list[Path]:
    """Stream *members* into *target* with a running byte count; return layers."""
    layers = []
    for info in members:
        out = target / PurePosixPath(info.filename.replace("\\", "/"))
        out.parent.mkdir(parents=True, exist_ok=True)
        left = info.file_size
        try:
            with archive.open(info) as src, out.open("wb") as dst:
                while block := src.read(1 << 20):
                    left -= len(block)
                    budget -= len(block)
                    if left < 0 or budget < 0:
                        raise _zip_refused(
                            zpath,
                            f"zip已损坏 / member {info.filename!r} is damaged: "
                            "it unpacks to more bytes than the zip's "
                            "directory says; refusing this zip.",
                        )
                    dst.write(block)
        except DeliveryError:
            raise
        except (
            zipfile.BadZipFile,
            EOFError,
            NotImplementedError,
            RuntimeError,
            ValueError,
            zlib.error,
        ) as err:
            raise _zip_refused(
                zpath,
                f"zip已损坏 / member {info.filename!r} is damaged or "
                f"cannot be unpacked ({err}); ask for the zip again.",
            ) from err
        if PurePosixPath(info.filename).suffix.lower() in _LAYER_SUFFIXES:
            layers.append(out)
    return layers


def zip_layer_count(zpath: Path, /) -> int:
    """Return how many layers (.shp/.gpkg/.geojson) a zip holds (0 if unreadable)."""
    try:
        with zipfile.ZipFile(zpath) as archive:
            return sum(
                1
                for i in archive.infolist()
                if not i.is_dir()
                and PurePosixPath(i.filename).suffix.lower() in _LAYER_SUFFIXES
            )
    except (zipfile.BadZipFile, OSError, ValueError):
        return 0


def extract_zip_layers(
    zpath: Path, target: Path, /, *, max_unzipped: int = MAX_UNZIPPED_BYTES
) -> list[Path]:
    """Extract every layer of a zip of several deliveries into *target*.

    The checks of :func:`_safe_extract` (member count, zip-slip, links,
    duplicates, unpacked size over all layers, compression ratio, a running
    byte count) on each layer's files (a Shapefile's sidecars beside it);
    other members are not extracted. Zips inside the zip are not unpacked.

    Returns
    -------
    list of Path
        The extracted layer files, in the zip's order.
    """
    archive = _open_zip(zpath)
    with archive:
        infos = archive.infolist()
        _check_members(zpath, infos)
        files = [i for i in infos if not i.is_dir()]
        wanted = []
        for info in files:
            layer = PurePosixPath(info.filename.replace("\\", "/"))
            if layer.suffix.lower() not in _LAYER_SUFFIXES:
                continue
            if layer.suffix.lower() != ".shp":
                wanted.append(info)
                continue
            wanted.extend(
                i
                for i in files
                if (m := PurePosixPath(i.filename.replace("\\", "/"))).parent
                == layer.parent
                and m.stem == layer.stem
                and m.suffix.lower() in LAYER_MEMBER_SUFFIXES
            )
        if not wanted:
            raise _zip_refused(
                zpath, "zip内没有图层 / no .shp/.gpkg/.geojson inside the zip."
            )
        _check_sizes(zpath, wanted, max_unzipped)
        return _extract_members(archive, zpath, wanted, target, max_unzipped)


@contextmanager
def layer_file(path: Path, *, max_unzipped: int | None = None) -> Iterator[Path]:
    """Yield the layer file itself, unpacked into a temporary folder from a ``.zip``.

    The zip is checked as ``_safe_extract`` says (member count, packing
    ratio, links, nested zips, *max_unzipped* bytes; default
    ``MAX_UNZIPPED_BYTES``); the temporary folder is removed on exit.
    """
    if path.suffix.lower() != ".zip":
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="forestsink-zip-") as tmp:
        limit = MAX_UNZIPPED_BYTES if max_unzipped is None else max_unzipped
        yield _safe_extract(path, Path(tmp), max_unzipped=limit)
