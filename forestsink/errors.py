"""Exceptions and warnings raised by forestsink.

Every error is a :class:`ForestsinkError`; subclasses also inherit the builtin
they refine (``ValueError``, ``FileNotFoundError`` ...) so callers can catch
either. Messages name the file, the row or feature, the field and the value,
then say what to do. What to do is said in the library's words: a message
names the parameter to change (``crs``, ``max_cells``), never a command-line
flag, and carries it as ``option=`` so that the command line can add the flag
(``forestsink.cli.options.FLAGS``; tests/test_flag_hints.py).
"""

from __future__ import annotations


class ForestsinkError(Exception):
    """Root of all forestsink errors.

    Parameters
    ----------
    *args
        The message (and anything else the builtin it refines takes).
    option : str or sequence of str, optional (default: None)
        The library parameter(s) the caller can change to get past the error
        (``"crs"``, ``"max_cells"``), named in the message in the
        library's words. The message never names a command-line flag: the
        command line maps ``option`` to its flag and prints that as a hint
        (:data:`forestsink.cli.options.FLAGS`); the web app shows the message
        alone.

    Attributes
    ----------
    options : tuple of str
        The parameters given in ``option`` (empty when none).
    option : str or None
        The first of ``options``, or None.
    """

    def __init__(self, *args, option: str | tuple[str, ...] | list[str] | None = None):
        super().__init__(*args)
        self.options = _as_options(option)
        self.option = self.options[0] if self.options else None


def _as_options(option) -> tuple[str, ...]:
    """Return the parameter name(s) given as ``option=`` as a tuple."""
    if option is None:
        return ()
    if isinstance(option, str):
        return (option,)
    return tuple(option)


class ReferenceDataError(ForestsinkError, ValueError):
    """A shipped or user-supplied reference table is malformed."""


class UnknownNameError(ForestsinkError, KeyError):
    """A district, unit or project-type name does not resolve."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class CRSError(ForestsinkError, ValueError):
    """A coordinate reference system is missing, unknown or implausible."""


class DeliveryError(ForestsinkError, ValueError):
    """A delivered project file cannot be read or mapped."""


class OptionError(ForestsinkError, ValueError):
    """An option has a value it cannot take (NaN, infinite, out of range)."""


class ForestsinkWarning(UserWarning):
    """Root of forestsink warnings (recoverable data problems).

    Like :class:`ForestsinkError`, a warning may carry the library
    parameter(s) it advises changing as ``option=`` (``options``, ``option``);
    the command line prints their flags after the warning.
    """

    def __init__(self, *args, option: str | tuple[str, ...] | list[str] | None = None):
        super().__init__(*args)
        self.options = _as_options(option)
        self.option = self.options[0] if self.options else None


class GrowthTableError(ForestsinkError, ValueError):
    """A user-supplied growth (yield) table is malformed or incomplete."""


# --------------------------------------------------------------------------
# coverage, zone files, table files, the CLI (forestsink.coverage, forestsink.io)
# --------------------------------------------------------------------------


class CoverageError(ForestsinkError, ValueError):
    """A land-cover raster, class table or zone layer cannot be used."""


class GridMismatchError(CoverageError):
    """Two rasters are on different, non-aligned pixel grids."""


class NoOverlapError(CoverageError):
    """The raster does not overlap any zone."""


class UnknownClassError(CoverageError):
    """Too much of the zones holds codes the class table does not list."""


class ZoneFileError(CoverageError):
    """A zone file cannot be used (duplicate ids, unreadable, not polygons)."""


class TableFileError(ForestsinkError, ValueError):
    """A table file (CSV, Excel) cannot be read or written."""


class UnknownClassWarning(ForestsinkWarning):
    """The raster holds class codes the class table does not know."""


class PartialOverlapWarning(ForestsinkWarning):
    """Some zones lie partly or wholly outside the raster."""


# --------------------------------------------------------------------------
# hostile rasters (forestsink.coverage; issue 16 items 4 and 15)
# --------------------------------------------------------------------------


class RasterFileError(CoverageError):
    """A raster cannot be read (truncated, damaged, not a raster, VRT source gone)."""


class WorkLimitError(CoverageError):
    """A computation would need more memory than its stated, settable limit."""


class RasterWarning(ForestsinkWarning):
    """A raster is used on an assumption (one band of several, no-data ignored)."""


class InventoryError(ForestsinkError, ValueError):
    """A forest-resource layer (一张图) cannot be loaded or compared.

    The message names the file, the feature (row from 1), the field and the
    value, then says what to fix; nothing has been written to the store.
    """


# --------------------------------------------------------------------------
# reference samples (forestsink.sampling; issue 18)
# --------------------------------------------------------------------------


class SamplingError(ForestsinkError, ValueError):
    """A sample design or a labelled sample cannot be used (nothing is written).

    The message says, in Chinese and then in English, which file, point or
    stratum is at fault and what to fix.
    """


# --------------------------------------------------------------------------
# accounts and the web application (forestsink.store.users, forestsink.web)
# --------------------------------------------------------------------------


class AccountError(ForestsinkError, ValueError):
    """An account cannot be added or changed (unknown, duplicate, bad role...)."""


class UploadTooLargeError(ForestsinkError, ValueError):
    """An upload is larger than the web application's limit."""


class Denied(ForestsinkError, PermissionError):
    """A web request stopped with an HTTP status and a bilingual reason.

    ``status`` (401, 403, 404, 413, 429 …), ``zh`` and ``en`` (the reason),
    ``extra`` (more JSON fields); :func:`forestsink.web.security.denied_response`
    turns it into the JSON answer.
    """

    def __init__(self, status: int, zh: str, en: str, **extra) -> None:
        super().__init__(en)
        self.status, self.zh, self.en, self.extra = status, zh, en, extra


# --- store ---


class StoreError(ForestsinkError, OSError):
    """The store cannot do what was asked (locked, unknown key, ...)."""


class StoreBusyError(StoreError, TimeoutError):
    """Another process holds the store's write lock."""


# --- progress, carbon ---


class CarbonParameterError(ForestsinkError, ValueError):
    """A forest type lacks the parameters the method needs."""


# --- landing (forestsink.landing: deliveries, staging) ---


class IngestError(ForestsinkError, ValueError):
    """Deliveries have errors; nothing was written. ``report`` has them all.

    Parameters
    ----------
    message : str
        How many errors, and what to do.
    report : forestsink.landing.deliveries.CheckReport
        The report of every file checked (``report.issues``).
    option : str or tuple of str, optional
        The parameters that would let it land (``fix``, ``skip_errors``).
    """

    def __init__(self, message: str, report, *, option=None) -> None:
        super().__init__(message, option=option)
        self.report = report


class StagingRefused(ForestsinkError, ValueError):
    """Deliveries being staged have errors: the dataset is not written.

    Raised inside :func:`forestsink.landing.staging.stage_deliveries` to
    unwind the dataset write (the partly written folder is removed) and
    caught there: the caller gets a ``StageReport`` with ``written=None``
    and the errors in its ``issues``.
    """


# --- render, scale, progress: the former bare ForestsinkError raises ---


class MapError(ForestsinkError, ValueError):
    """A map or the report cannot be drawn from the inputs given."""


class FontError(ForestsinkError, LookupError):
    """No font with Chinese glyphs is found, or the one named cannot be used.

    Its parameter is always the font (``option="font"`` unless given).
    """

    def __init__(self, *args, option: str | tuple[str, ...] | None = "font"):
        super().__init__(*args, option=option)


class DatasetError(ForestsinkError, OSError):
    """A partitioned GeoParquet dataset is missing, exists already, or is read-only."""


class DependencyError(ForestsinkError, ImportError):
    """An optional dependency (Dask, psycopg) is needed and not installed."""


class NoDataError(ForestsinkError, LookupError):
    """The store or the inputs hold nothing for what was asked (no polygons …)."""


# --- plans ---


class PlanError(ForestsinkError, ValueError):
    """A plan file is malformed: the message names the file, row, column and fix."""
