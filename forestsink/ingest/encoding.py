"""Text encoding of Shapefile attribute tables (.dbf).

A Shapefile without a ``.cpg`` is decoded by GDAL as ISO-8859-1, which turns
GBK Chinese into mojibake. Here the encoding is decided explicitly:

1. a ``.cpg`` file wins (``936``/``GBK``/``GB2312``/``GB18030`` → GB18030, a
   superset of GBK; ``UTF-8``/``65001`` → UTF-8; anything else is passed on);
2. else the .dbf's language-driver byte (byte 29, the LDID ArcGIS writes:
   ``0x4D`` = code page 936, GBK), looked up in
   ``data/dbf_language_drivers.csv``; 0 and ``0x57`` ("ANSI": whatever the
   writer's system code page was) say nothing and fall through. A GBK LDID
   over text that reads better as UTF-8 (see 3) is overruled, with a note;
3. else the bytes of the .dbf records are decoded both as UTF-8 and as
   GB18030 and the readings are scored: the share of the non-ASCII
   characters that are CJK. GBK bytes of ``杉木`` are also valid UTF-8
   (``ɼľ``, Latin letters): validity alone picks the wrong reading, the
   score does not. Ties go to UTF-8; neither decodes → error;
4. pure ASCII → UTF-8.

The decision and its reason are returned so they can be told to the user and
recorded with the batch.
"""

from __future__ import annotations

import codecs
import functools
import struct

from forestsink.errors import DeliveryError
from forestsink.reference import data_path, read_reference_csv

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


#: text codecs that still cannot name a code page of a .dbf: they encode
#: domain names (and ``idna`` refuses most bytes), not attribute text
_NOT_CODE_PAGES = frozenset({"idna", "punycode"})

#: a .cpg names a code page in a few bytes; more is not a .cpg
MAX_CPG_CHARS = 200


def check_codec(name: str, *, source: str = "") -> str:
    """Return *name* if it is a text encoding Python knows, else raise.

    Only codecs that decode bytes to text are accepted: ``zlib``, ``base64``,
    ``hex``, ``uu``, ``bz2`` (bytes to bytes), ``rot13`` (text to text),
    ``idna`` and ``punycode`` (domain names) are refused with the same
    :class:`~forestsink.errors.DeliveryError` as an unknown name.

    Examples
    --------
    >>> check_codec("936")
    'GB18030'
    >>> check_codec("zlib", source=".cpg says")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    forestsink.errors.DeliveryError: .cpg says 'zlib' 不是文本编码 / is not a text ...
    """
    text = name.strip()
    key = text.lower()
    if key in _CPG_ALIASES:
        return _CPG_ALIASES[key]
    shown = text if len(text) <= MAX_CPG_CHARS else text[:MAX_CPG_CHARS] + "…"
    try:
        info = codecs.lookup(text)
    except (LookupError, ValueError) as err:  # (ValueError: a NUL in the name)
        raise DeliveryError(
            f"{source} {shown!r} 不是已知的代码页 / is not a known code page; "
            'pass encoding="GBK" or encoding="UTF-8".',
            option="encoding",
        ) from err
    usable = getattr(info, "_is_text_encoding", True) and info.name not in (
        _NOT_CODE_PAGES
    )
    if usable:
        try:
            usable = isinstance(b"abc \xe6\x9d\x89".decode(info.name, "replace"), str)
        except Exception:  # any codec failure: not usable
            usable = False
    if not usable:
        raise DeliveryError(
            f"{source} {shown!r} 不是文本编码 / is not a text encoding (a "
            "bytes-to-bytes or special codec); write the code page in the .cpg "
            '(936, GBK or UTF-8) or pass encoding="GBK" or encoding="UTF-8".',
            option="encoding",
        )
    return text


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


@functools.cache
def language_drivers() -> dict[int, tuple[str, str]]:
    """Return the .dbf language-driver table: LDID -> (codec, language).

    Read from ``data/dbf_language_drivers.csv`` (a source on every row).
    """
    table = read_reference_csv(data_path("dbf_language_drivers.csv"))
    return {
        int(ldid, 16): (codec, language)
        for ldid, codec, language in zip(
            table["ldid"], table["codec"], table["language"], strict=True
        )
    }


def _cjk_share(text: str) -> float:
    """Share of the non-ASCII characters of *text* that are CJK (0 if none).

    CJK: unified ideographs and extension A, CJK symbols and punctuation,
    full-width forms. Chinese read with the wrong codec gives Latin letters,
    Greek, Cyrillic or rare ideographs mixed with them: a lower share.
    """
    wide = [ch for ch in text if ord(ch) > 0x7F]
    if not wide:
        return 0.0
    cjk = sum(
        1
        for ch in wide
        if "\u4e00" <= ch <= "\u9fff"
        or "\u3400" <= ch <= "\u4dbf"
        or "\u3000" <= ch <= "\u303f"
        or "\uff00" <= ch <= "\uffef"
    )
    return cjk / len(wide)


def _readings(sample: bytes) -> dict[str, float]:
    """Score each codec that decodes *sample* (UTF-8, GB18030)."""
    scores = {}
    for codec in ("UTF-8", "GB18030"):
        try:
            text = sample.decode(codec)
        except UnicodeDecodeError:
            continue
        scores[codec] = _cjk_share(text)
    return scores


def detect_dbf_encoding(dbf: bytes, cpg: str | None = None) -> tuple[str, str]:
    """Decide the encoding of a .dbf; return ``(codec, reason)``.

    Parameters
    ----------
    dbf : bytes
        The whole .dbf file (or its header and first records).
    cpg : str, optional (default: None)
        Content of the ``.cpg`` file, if there is one.

    Examples
    --------
    >>> hdr = bytes(32)
    >>> detect_dbf_encoding(hdr, "936")
    ('GB18030', '.cpg says 936')
    >>> gbk = bytearray(32); gbk[29] = 0x4D
    >>> detect_dbf_encoding(bytes(gbk) + "杉木".encode("gbk"))[0]
    'GB18030'
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
                    f".cpg 写的是 {cpg.strip()} (GBK)，但文本是 UTF-8 / the .cpg "
                    f"says {cpg.strip()} (GBK) but the text is UTF-8; fix "
                    'the .cpg (write UTF-8 in it) or pass encoding="UTF-8".',
                    option="encoding",
                )
        return codec, f".cpg says {cpg.strip()}"
    records = dbf_record_bytes(dbf)
    # field names are cut at 10 bytes, possibly inside a multi-byte character:
    # test them only when the records carry no non-ASCII text of their own
    sample = (
        records
        if not records.isascii()
        else b" ".join(trim_partial(n) for n in dbf_field_names(dbf))
    )
    scores = _readings(sample)
    ldid = dbf[29] if len(dbf) > 29 else 0
    driver = language_drivers().get(ldid)
    if driver is not None:
        codec, language = driver
        reason = f"no .cpg; the .dbf language driver 0x{ldid:02X} says {language}"
        if sample.isascii():
            return codec, reason
        if codec == "GB18030" and scores.get("UTF-8", -1) > scores.get(codec, -1):
            return "UTF-8", (
                f"no .cpg; the .dbf language driver 0x{ldid:02X} says {language}, "
                "but the text reads as Chinese only in UTF-8"
            )
        try:
            sample.decode(codec)
        except UnicodeDecodeError:
            pass  # the driver byte is wrong: guess below
        else:
            return codec, reason
    if not scores:
        raise DeliveryError(
            ".dbf 既不是 UTF-8 也不是 GBK，且没有 .cpg / the .dbf is neither UTF-8 "
            "nor GBK/GB18030 and has no .cpg; add a .cpg naming its code page "
            'or pass the encoding (encoding="GBK" or "UTF-8").',
            option="encoding",
        )
    best = max(scores, key=lambda c: (scores[c], c == "UTF-8"))
    if len(scores) == 1:
        other = "GBK/GB18030" if best == "UTF-8" else "UTF-8"
        return best, f"no .cpg; the bytes are valid {best}, not {other}"
    return best, (
        "no .cpg; the bytes decode as UTF-8 and as GBK; "
        f"{scores[best]:.0%} of the non-ASCII characters are Chinese in {best}"
    )


def trim_partial(name: bytes, codecs=("utf-8", "gb18030")) -> bytes:
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
