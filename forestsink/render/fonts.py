"""CJK font discovery for the static maps (matplotlib).

Chinese needs a CJK font. :func:`find_cjk_font` looks for one (Noto Sans CJK,
Source Han Sans, WenQuanYi, Microsoft YaHei ...) and fails with the fix when
none is installed, rather than drawing boxes (豆腐块/tofu). :func:`font_rc`
gives the matplotlib settings that draw with it and embed it in SVG and PDF.

Layers: imports only :mod:`forestsink.errors`; matplotlib is imported inside
the functions (an optional heavy dependency).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from forestsink.errors import FontError, ForestsinkError

if TYPE_CHECKING:
    from matplotlib.font_manager import FontProperties

__all__ = ["CJK_FAMILIES", "find_cjk_font", "font_rc"]

logger = logging.getLogger(__name__)

# Fonts with Chinese glyphs, best first: simplified-Chinese sans serifs, then
# other CJK sans serifs (same glyphs for almost all hanzi), then serifs.
CJK_FAMILIES: tuple[str, ...] = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "Noto Sans SC",
    "Microsoft YaHei",
    "PingFang SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Sarasa Gothic SC",
    "SimHei",
    "Heiti SC",
    "Noto Sans CJK TC",
    "Noto Sans CJK JP",
    "Source Han Sans",
    "Droid Sans Fallback",
    "AR PL UMing CN",
    "Noto Serif CJK SC",
    "Source Han Serif SC",
    "SimSun",
)

_FONT_HINT = (
    "install fonts-noto-cjk (Debian/Ubuntu: sudo apt-get install fonts-noto-cjk; "
    "Fedora: google-noto-sans-cjk-fonts) or name a .ttf/.otf/.ttc font file "
    "with Chinese glyphs (font)"
)

# glyphs a usable font must have (森林 forest, 碳 carbon, 覆 coverage, 渝 Chongqing)
_PROBE = "森林碳覆渝"

_FONT_SUFFIXES = (".ttf", ".otf", ".ttc", ".otc")


def _has_cjk_glyphs(path: str, index: int = 0) -> bool:
    from matplotlib.ft2font import FT2Font  # noqa: PLC0415 (optional heavy dependency)

    try:
        font = FT2Font(path, face_index=index)
    except (OSError, RuntimeError, ValueError):
        return False
    return all(font.get_char_index(ord(c)) for c in _PROBE)


def _matplotlib_cjk_fonts() -> list[tuple[str, str, int]]:
    """Fonts matplotlib knows whose family is a known CJK family.

    Returns (family, file, face index) in :data:`CJK_FAMILIES` order.
    """
    from matplotlib import font_manager  # noqa: PLC0415 (optional heavy dependency)

    entries = [
        f for f in font_manager.fontManager.ttflist if f.name in set(CJK_FAMILIES)
    ]
    rank = {name: i for i, name in enumerate(CJK_FAMILIES)}
    entries.sort(key=lambda f: (rank[f.name], abs(_weight(f.weight) - 400)))
    return [(f.name, f.fname, getattr(f, "index", 0)) for f in entries]


def _weight(weight) -> int:
    from matplotlib import font_manager  # noqa: PLC0415 (optional heavy dependency)

    if isinstance(weight, int | float):
        return int(weight)
    return int(font_manager.weight_dict.get(str(weight), 400))


def _fc_list_cjk_fonts() -> list[str]:
    """Font files fontconfig says cover Chinese (``fc-list :lang=zh``)."""
    exe = shutil.which("fc-list")
    if exe is None:
        return []
    try:
        out = subprocess.run(
            [exe, ":lang=zh", "file", "family"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    files = []
    for line in out.splitlines():
        path, _, family = line.partition(":")
        path = path.strip()
        if path.lower().endswith(_FONT_SUFFIXES):
            serif = "serif" in family.lower() or "ming" in family.lower()
            files.append((serif, "bold" in path.lower(), path))
    return [p for *_, p in sorted(set(files))]


def _register(path: str) -> str:
    """Add a font file to matplotlib and return the family name to use."""
    from matplotlib import font_manager  # noqa: PLC0415 (optional heavy dependency)

    path = str(Path(path).resolve())
    try:
        font_manager.fontManager.addfont(path)
    except (OSError, RuntimeError, ValueError) as err:
        raise FontError(
            f"font file {path}: matplotlib cannot read it ({err}); {_FONT_HINT}."
        ) from err
    faces = [f for f in font_manager.fontManager.ttflist if f.fname == path]
    if not faces:  # pragma: no cover - addfont always adds at least one face
        raise FontError(f"font file {path}: no font face found; {_FONT_HINT}.")
    rank = {name: i for i, name in enumerate(CJK_FAMILIES)}
    faces.sort(key=lambda f: (rank.get(f.name, len(rank)), getattr(f, "index", 0)))
    best = faces[0]
    if not _has_cjk_glyphs(path, getattr(best, "index", 0)):
        raise FontError(
            f"font file {path} ({best.name}) has no Chinese glyphs "
            f"(checked {_PROBE}); {_FONT_HINT}."
        )
    return best.name


def find_cjk_font(font: str | os.PathLike | FontProperties | None = None):
    """Return a font that draws Chinese, as matplotlib font properties.

    Parameters
    ----------
    font : str, path or FontProperties, optional (default: search)
        A font file (``.ttf``, ``.otf``, ``.ttc``) or an installed family name
        to use instead of searching. Without it, the fonts matplotlib knows are
        searched for a CJK family (Noto Sans CJK SC, Source Han Sans,
        Microsoft YaHei, WenQuanYi ...), then the files ``fc-list :lang=zh``
        lists.

    Returns
    -------
    matplotlib.font_manager.FontProperties
        With one family name registered in matplotlib's font manager, whose
        file has glyphs for Chinese; ``fontManager.findfont`` on it returns
        that file.

    Raises
    ------
    ForestsinkError
        When no font with Chinese glyphs is installed (the message says to
        install ``fonts-noto-cjk`` or pass ``--font PATH``), or *font* is not
        a readable font with Chinese glyphs.
    """
    from matplotlib import font_manager  # noqa: PLC0415 (optional heavy dependency)

    if isinstance(font, font_manager.FontProperties):
        if font.get_file() is not None:
            return find_cjk_font(font.get_file())
        font = font.get_family()[0]
    if font is not None:
        text = os.fspath(font)
        if Path(text).suffix.lower() in _FONT_SUFFIXES:
            if not Path(text).is_file():
                raise FontError(f"font file {text} does not exist; {_FONT_HINT}.")
            return font_manager.FontProperties(family=_register(text))
        faces = [f for f in font_manager.fontManager.ttflist if f.name == text]
        if not faces:
            raise FontError(
                f"font {text!r} is not installed (matplotlib knows no family of "
                f"that name); {_FONT_HINT}."
            )
        if not _has_cjk_glyphs(faces[0].fname, getattr(faces[0], "index", 0)):
            raise FontError(
                f"font {text!r} has no Chinese glyphs (checked {_PROBE}); {_FONT_HINT}."
            )
        return font_manager.FontProperties(family=text)
    for family, path, index in _matplotlib_cjk_fonts():
        if _has_cjk_glyphs(path, index):
            logger.debug("CJK font: %s (%s)", family, path)
            return font_manager.FontProperties(family=family)
    for path in _fc_list_cjk_fonts():
        try:
            family = _register(path)
        except ForestsinkError:
            continue
        logger.debug("CJK font from fc-list: %s (%s)", family, path)
        return font_manager.FontProperties(family=family)
    raise FontError(
        "no font with Chinese glyphs found (searched matplotlib's fonts for "
        f"{', '.join(CJK_FAMILIES[:6])} ... and `fc-list :lang=zh`); without one "
        f"Chinese would print as boxes. Fix: {_FONT_HINT}."
    )


def font_rc(family: str) -> dict:
    """Return rcParams for drawing and saving with *family* (DejaVu for the rest).

    SVG text is written as paths and PDF/PS embed the font as TrueType, so
    Chinese shows on machines without the font.
    """
    return {
        "font.family": [family, "DejaVu Sans"],
        "axes.unicode_minus": False,
        "svg.fonttype": "path",
        "pdf.fonttype": 42,
        "ps.fonttype": 42,
        "svg.hashsalt": "forestsink",
        "path.simplify": True,
    }
