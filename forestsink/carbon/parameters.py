"""Parameters of the whole-forest sink: resolved per species group, with sources.

:func:`resolve_sink_parameters` reads the shipped rows (``carbon_parameters.csv``
then ``biomass_volume.csv``) and the user's ``params`` rows into one
:class:`Input` per group and parameter (a, b in B = a·V + b, t/ha and m³/ha;
CF; R; GR, CR in 1/yr; per-area biomass in t/ha), following the fallback
chain of ``data/forest_types.csv``; an unsourced shipped value is refused.
The activity data's relative measurement errors are inputs too
(:func:`activity_input`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from forestsink.errors import CarbonParameterError
from forestsink.progress.growth import Param

#: default relative measurement error (1σ, %) of a group's total area in a
#: year: a project assumption (no published precision of the 一张图 found)
AREA_ERROR_PCT = 5.0
#: default relative measurement error (1σ, %) of a group's total volume in a
#: year: a project assumption (小班 volumes are field estimates; no published
#: precision for Chongqing found)
VOLUME_ERROR_PCT = 10.0


@dataclass(frozen=True)
class Input:
    """One uncertain input: its draw key, distribution and where it came from."""

    key: str
    parameter: str
    forest_type: str
    param: Param
    source_id: str
    origin: str
    note: str = ""

    def central(self) -> float:
        """Central value (the published figure; 1 for an activity factor)."""
        return float(self.param.value)

    def mean(self) -> float:
        """Return the expected value (the central one but for uniform/triangular)."""
        p = self.param
        if p.distribution == "triangular":
            return float((p.low + p.value + p.high) / 3.0)
        if p.distribution == "uniform":
            return float((p.low + p.high) / 2.0)
        return float(p.value)


@dataclass
class SinkParameters:
    """Resolved parameters per species group (after the fallback chain)."""

    by_group: dict[str, dict[str, Input]]
    roots_excluded: bool
    missing: dict[str, list[str]] = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """One row per (group, parameter): value, spread, source, origin."""
        rows = []
        for group, parts in sorted(self.by_group.items()):
            for name, inp in sorted(parts.items()):
                p = inp.param
                rows.append(
                    {
                        "forest_type": group,
                        "parameter": name,
                        "value": p.value,
                        "distribution": p.distribution or "fixed",
                        "sd": p.std(),
                        "low": p.low,
                        "high": p.high,
                        "from_row": inp.forest_type,
                        "source_id": inp.source_id,
                        "origin": inp.origin,
                        "draw_key": inp.key,
                    }
                )
        return pd.DataFrame(rows)


def _param(row) -> Param:
    def num(v):
        return float(v) if pd.notna(v) and str(v) != "" else float("nan")

    return Param(
        value=float(row["value"]),
        distribution=str(row["distribution"] or ""),
        low=num(row["low"]),
        high=num(row["high"]),
        sd=num(row["sd"]),
    )


def resolve_sink_parameters(
    shipped: pd.DataFrame,
    *,
    forest_types: pd.DataFrame,
    known_sources,
    user: pd.DataFrame | None = None,
    user_name: str = "params",
    roots_excluded: bool = False,
) -> SinkParameters:
    """Parameters of the whole-forest sink per species group, with provenance.

    Parameters
    ----------
    shipped : DataFrame
        Rows of ``carbon_parameters.csv`` then ``biomass_volume.csv`` (later
        rows override earlier ones of the same group and parameter), with a
        ``origin`` column naming the file. Every shipped row must name a
        source of *known_sources*; one that does not is refused.
    forest_types : DataFrame
        ``data/forest_types.csv`` (fallback chain).
    known_sources : set of str
        Source ids documented in ``carbon_parameters_sources.md``.
    user : DataFrame, optional (default: None)
        The user's ``params`` rows (same columns); they override shipped
        rows and may add ``GR``, ``CR`` (1/yr) and ``biomass_t_ha`` (t/ha).
        A user row is accepted with the source it names (required).
    user_name : str, optional (default: "params")
        Name of the user's file, shown as the origin of its rows.
    roots_excluded : bool, optional (default: False)
        Read B = a·V + b as above-ground only: apply (1 + R).

    Returns
    -------
    SinkParameters
        ``by_group``: group → {``a``, ``b``, ``CF``, ``R`` (when applied),
        ``GR``, ``CR``, ``biomass_t_ha`` where found}; ``missing``: group →
        the names of ``a``, ``b``, ``CF`` it lacks.

    Raises
    ------
    CarbonParameterError
        A shipped parameter without a checkable source.
    """
    known = set(known_sources)
    table: dict[tuple[str, str], Input] = {}
    frames = [(shipped, False)]
    if user is not None:
        frames.append((user.assign(origin=user_name), True))
    for frame, from_user in frames:
        for _, row in frame.iterrows():
            source = str(row["source_id"]).strip()
            if not from_user and source not in known:
                raise CarbonParameterError(
                    f"{row.get('origin', 'shipped data')}: {row['forest_type']} / "
                    f"{row['parameter']} = {row['value']}：来源 {source!r} 无法核查 "
                    f"/ source {source!r} is not documented in "
                    "data/carbon_parameters_sources.md; an unsourced parameter is "
                    "refused: supply it in your parameter file (params=FILE), "
                    "naming your source.",
                    option="params",
                )
            p = _param(row)
            key = "|".join(
                str(x)
                for x in (
                    row["parameter"],
                    source,
                    p.value,
                    p.distribution,
                    p.sd,
                    p.low,
                    p.high,
                    "user" if from_user else "shipped",
                )
            )
            table[(str(row["forest_type"]), str(row["parameter"]))] = Input(
                key=key,
                parameter=str(row["parameter"]),
                forest_type=str(row["forest_type"]),
                param=p,
                source_id=source,
                origin=str(row.get("origin", "")) if not from_user else user_name,
                note=str(row.get("note", "") or ""),
            )
    fallback = dict(
        zip(forest_types["forest_type"], forest_types["fallback"], strict=True)
    )

    def find(code: str, name: str) -> Input | None:
        seen = set()
        while code and code not in seen:
            seen.add(code)
            if (code, name) in table:
                return table[(code, name)]
            nxt = fallback.get(code)
            code = "" if nxt is None or isinstance(nxt, float) else str(nxt)
        if name in ("CF", "R"):  # the IPCC default is for all species
            return table.get(("default", name))
        return None

    out: dict[str, dict[str, Input]] = {}
    missing: dict[str, list[str]] = {}
    for code in forest_types["forest_type"]:
        parts = {}
        names = ["a", "b", "CF", "GR", "CR", "biomass_t_ha"]
        if roots_excluded:
            names.append("R")
        for name in names:
            found = find(code, name)
            if found is not None:
                parts[name] = found
        lacking = [n for n in ("a", "b", "CF") if n not in parts]
        if roots_excluded and "R" not in parts:
            lacking.append("R")
        if lacking:
            missing[code] = lacking
        out[code] = parts
    return SinkParameters(by_group=out, roots_excluded=roots_excluded, missing=missing)


def activity_input(kind: str, year: int, group: str, pct: float) -> Input:
    """Return the measurement-error factor of a group's yearly area or volume.

    A factor around 1 (normal, sd *pct* / 100; fixed at 1 when *pct* is 0)
    multiplying the group's total of *year*; *kind* is ``area`` or
    ``volume``. One draw per year and group.
    """
    name = "area_error" if kind == "area" else "volume_error"
    return Input(
        key=f"{name}|{year}|{group}",
        parameter=name,
        forest_type=group,
        param=Param(value=1.0, distribution="normal", sd=pct / 100.0)
        if pct > 0
        else Param(value=1.0),
        source_id="assumption_forestsink",
        origin=f"--{name.replace('_', '-')} {pct:g} %",
    )
