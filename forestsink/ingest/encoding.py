"""Text encoding of Shapefile attribute tables (.dbf).

A Shapefile without a ``.cpg`` is decoded by GDAL as ISO-8859-1, which turns
GBK Chinese into mojibake. Here the encoding is decided explicitly:

1. a ``.cpg`` file wins (``936``/``GBK``/``GB2312``/``GB18030`` → GB18030, a
   superset of GBK; ``UTF-8``/``65001`` → UTF-8; anything else is passed on);
2. otherwise the bytes of the .dbf records are tested: valid UTF-8 → UTF-8,
   else valid GB18030 → GB18030 (GBK files decode identically), else error;
3. pure ASCII → UTF-8.

The decision and its reason are returned so they can be told to the user and
recorded with the batch.
"""

from __future__ import annotations

import struct

from forestsink.errors import DeliveryError

_CPG_ALIASES = {
    "936": "GB18030",
    "cp936": "GB18030",
    "gbk": "GB18030",
    "gb2312": "GB18030",
    "gb18030": "GB18030",
    "utf-8": "UTF-8",
    "utf8": "UTF-8",
    "65001": "UTF-8",
}


def check_codec(name: str, *, source: str = "") -> str:
    """Return *name* if Python knows the codec, else raise a clear error."""
    import codecs

    key = name.strip().lower()
    if key in _CPG_ALIASES:
        return _CPG_ALIASES[key]
    try:
        codecs.lookup(name.strip())
    except LookupError as err:
        raise DeliveryError(
            f"{source} {name.strip()!r} is not a known code page; pass "
            "--encoding GBK or --encoding UTF-8."
        ) from err
    return name.strip()


def encoding_from_cpg(text: str) -> str:
    """Map the content of a ``.cpg`` file to a Python codec name.

    ``ANSI 936`` / ``CP936`` / ``936`` / ``GBK`` → GB18030; ``65001`` → UTF-8.
    """
    key = text.strip().lower()
    if key.startswith("ansi "):
        key = key[5:].strip()
    if key in _CPG_ALIASES:
        return _CPG_ALIASES[key]
    return check_codec(text, source=".cpg says")


def dbf_record_bytes(dbf: bytes) -> bytes:
    """Return the record area of a .dbf file (everything after the header)."""
    if len(dbf) < 32:
        raise DeliveryError("the .dbf file is truncated (shorter than its header).")
    header_len = struct.unpack("<H", dbf[8:10])[0]
    if header_len > len(dbf):
        raise DeliveryError("the .dbf header says it is longer than the file.")
    return dbf[header_len:]


def dbf_field_names(dbf: bytes) -> list[bytes]:
    """Return the raw (undecoded) field names of a .dbf header."""
    names = []
    pos = 32
    while pos + 32 <= len(dbf) and dbf[pos] != 0x0D:
        names.append(dbf[pos : pos + 11].split(b"\x00", 1)[0])
        pos += 32
    return names


def detect_dbf_encoding(dbf: bytes, cpg: str | None = None) -> tuple[str, str]:
    """Decide the encoding of a .dbf; return ``(codec, reason)``.

    Parameters
    ----------
    dbf : bytes
        The whole .dbf file.
    cpg : str, optional (default: None)
        Content of the ``.cpg`` file, if there is one.

    Examples
    --------
    >>> hdr = bytes(32)
    >>> detect_dbf_encoding(hdr, "936")
    ('GB18030', '.cpg says 936')
    """
    if cpg is not None and cpg.strip():
        codec = encoding_from_cpg(cpg)
        records = dbf_record_bytes(dbf)
        if codec == "GB18030" and not records.isascii():
            try:
                records.decode("utf-8")
            except UnicodeDecodeError:
                pass
            else:  # GBK decoding would "succeed" and store wrong characters
                raise DeliveryError(
                    f"the .cpg says {cpg.strip()} (GBK) but the text is UTF-8; fix "
                    "the .cpg (write UTF-8 in it) or pass --encoding UTF-8."
                )
        return codec, f".cpg says {cpg.strip()}"
    records = dbf_record_bytes(dbf)
    # field names are cut at 10 bytes, possibly inside a multi-byte character:
    # test them only when the records carry no non-ASCII text of their own
    sample = (
        records
        if not records.isascii()
        else b" ".join(_trim_partial(n) for n in dbf_field_names(dbf))
    )
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return "UTF-8", "no .cpg; the bytes are valid UTF-8"
    try:
        sample.decode("gb18030")
    except UnicodeDecodeError as err:
        raise DeliveryError(
            "the .dbf is neither UTF-8 nor GBK/GB18030 and has no .cpg "
            f"({err}); add a .cpg naming its code page or pass --encoding."
        ) from err
    return "GB18030", "no .cpg; the bytes are not UTF-8 but valid GBK/GB18030"


def _trim_partial(name: bytes, codecs=("utf-8", "gb18030")) -> bytes:
    """Drop a multi-byte character cut off at the end of a DBF field name."""
    for codec in codecs:
        for cut in range(4):
            candidate = name[: len(name) - cut] if cut else name
            try:
                candidate.decode(codec)
            except UnicodeDecodeError:
                continue
            return candidate
    return name


_MOJIBAKE_MARKERS = ("\ufffd", "Ã", "Â", "Ö", "Ð", "Ê", "Ë", "Î", "Ï", "Õ", "¹", "¿")


def looks_like_mojibake(text: str) -> bool:
    """Return True if *text* looks like Chinese decoded with the wrong codec.

    Chinese in GBK read as Latin-1 becomes runs of accented Latin letters
    (``ÖÐÎÄ``); a failed decode leaves U+FFFD.
    """
    if "\ufffd" in text:
        return True
    latin = sum(1 for ch in text if "\u00c0" <= ch <= "\u00ff" or ch in "¹¿")
    has_cjk = any("\u4e00" <= ch <= "\u9fff" for ch in text)
    return latin >= 2 and not has_cjk
