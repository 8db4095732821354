"""The one issue list of a validation and its columns.

Every check group (:mod:`~forestsink.validate.geometry`,
:mod:`~forestsink.validate.placement`, :mod:`~forestsink.validate.attributes`,
:mod:`~forestsink.validate.values`, :mod:`~forestsink.validate.overlap`) adds
its findings to one :class:`Issues` collector; :meth:`Issues.table` turns
them into the report, one vocabulary of columns (:data:`ISSUE_COLUMNS`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ISSUE_COLUMNS = (
    "severity",
    "code",
    "file",
    "row",
    "fid",
    "project_id",
    "field",
    "value",
    "message",
    "action",
    "option",  # the parameter(s) that would resolve it (crs, layer …), if any
)

SEVERITIES = ("error", "warning", "fixed")


class Issues:
    """The problems found in one delivery frame, in the order found.

    Parameters
    ----------
    frame : geopandas.GeoDataFrame
        The delivery being checked (``source_file``, ``source_row``,
        ``project_id`` and, for GeoPackages, ``source_fid``): where each
        issue is, is taken from it when the table is made.
    """

    def __init__(self, frame) -> None:
        self.rows: list[dict] = []
        self.at: list[int] = []  # feature position of each row
        self.frame = frame

    def add(self, i, severity, code, field, value, message, action, option=None):
        """Record one problem of feature *i* (its 0-based position in the frame).

        Parameters
        ----------
        i : int
            Position of the feature in the frame.
        severity : str
            One of :data:`SEVERITIES`.
        code : str
            Short, stable name of the problem (``invalid_geometry`` ...).
        field : str or None
            The column (or ``geometry``) at fault.
        value : object or None
            The value at fault, kept as text.
        message, action : str
            What is wrong, and what to do (Chinese first, then English).
        option : str, optional
            The parameter that would resolve it (``fix``, ``district`` …);
            the command line shows its flag.
        """
        self.at.append(int(i))
        self.rows.append(
            {
                "severity": severity,
                "code": code,
                "field": field,
                "value": None if value is None else str(value),
                "message": message,
                "action": action,
                "option": option,
            }
        )

    def table(self) -> pd.DataFrame:
        """Return the issues in file, row and severity order (one data frame)."""
        if not self.rows:
            return pd.DataFrame([], columns=list(ISSUE_COLUMNS))
        at = np.asarray(self.at, dtype=np.int64)
        frame = self.frame
        files = frame["source_file"].to_numpy(dtype=object)[at]
        rows = frame["source_row"].to_numpy(dtype=np.int64)[at]
        ids = frame["project_id"].to_numpy(dtype=object, na_value=None)[at]
        fids = (
            frame["source_fid"].to_numpy(dtype=object, na_value=None)[at]
            if "source_fid" in frame
            else [None] * len(at)
        )
        for r, f, row, fid, pid in zip(self.rows, files, rows, fids, ids, strict=True):
            r["file"] = str(f)
            r["row"] = int(row)
            r["fid"] = None if fid is None else int(fid)
            r["project_id"] = None if pid is None else str(pid)
        order = {s: i for i, s in enumerate(SEVERITIES)}
        ranked = sorted(  # stable: issues of one row keep the order found
            self.rows, key=lambda r: (r["file"], r["row"], order[r["severity"]])
        )
        return pd.DataFrame(ranked, columns=list(ISSUE_COLUMNS))
