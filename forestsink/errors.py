"""Exceptions and warnings raised by forestsink.

Every error is a :class:`ForestsinkError`; subclasses also inherit the builtin
they refine (``ValueError``, ``FileNotFoundError`` ...) so callers can catch
either. Messages name the file, the row or feature, the field and the value,
then say what to do.
"""

from __future__ import annotations


class ForestsinkError(Exception):
    """Root of all forestsink errors."""


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
    """Root of forestsink warnings (recoverable data problems)."""


class GrowthTableError(ForestsinkError, ValueError):
    """A user-supplied growth (yield) table is malformed or incomplete."""
