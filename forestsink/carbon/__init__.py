"""The whole forest's carbon sink between two inventory years (issue #22).

Two routes, per district and for the city, from the forest-resource layers
(一张图) the store holds:

**Stock difference** (IPCC 2006 Vol. 4 Eq. 2.8)
    ΔC = (C₂ − C₁)/(t₂ − t₁), sink = ΔC × 44/12 (t CO₂/yr). The carbon stock
    of a year, C (t C), sums over species groups g of the arbor forest
    (乔木林) the biomass of the per-hectare biomass–volume function
    B = a_g·V + b_g (B t/ha, V m³/ha; 李银 et al. 2016 Table 1,
    ``data/biomass_volume.csv``) applied to each 小班::

        C = Σ_g [a_g·Σ(area·V) + b_g·Σ area] × (1 + R, only if B excludes
            roots) × CF_g

    Because B is linear in V, Σ over the 小班 of a group needs only the two
    sums the store aggregates in SQL (area in ha, Σ area·V in m³), so the
    computation never touches a 小班. Bamboo (竹林) and state-specified shrub
    (特灌) enter by area × a per-area biomass (t/ha) only when a
    ``biomass_t_ha`` row is supplied (none is shipped: no checkable source
    was found); otherwise their area is listed as not counted. Sparse forest,
    scattered and 四旁 trees are not counted (listed). Forest converted to
    another land class leaves C₂ and so appears as a loss.

    **Sign convention:** positive = removal from the atmosphere (a sink);
    negative = a net emission.

**Gain–loss** (the provincial guideline's route, IPCC Eq. 2.7)
    When gross growth and consumption rates GR and CR (1/yr, by species
    group) are supplied with ``--params``: gains − losses =
    Σ_g a_g·V̄_g·(GR_g − CR_g) × (1 + R?) × CF_g, V̄ the mean of the two
    years' standing stock (m³), minus the emission of arbor forest converted
    to non-forest land (area recorded with a previous class, Q_DI_LEI, in the
    later layer × the district's arbor carbon density of the first year,
    spread over the period). Without GR/CR the rows say not estimable and
    which parameters are missing.

Roots: whether Fang's B includes roots is disputed
(``data/carbon_parameters_sources.md``). Default: B is read as **total**
stand biomass (roots included, the weight of Fang's own wording), flagged;
``roots_excluded=True`` applies (1 + R). Every row also gives the central
figure under the other reading (``co2_t_per_yr_other_roots``).

Uncertainty
    Monte Carlo (seeded, default 10,000 draws) over every input: a (OLS
    slope standard error implied by the published n and R²), b (spread
    between candidate functions), CF, R, per-area values, GR/CR, and the
    activity data: area and volume of each group's total, as relative
    measurement errors (1σ, defaults :data:`AREA_ERROR_PCT` and
    :data:`VOLUME_ERROR_PCT`, project assumptions: no published precision
    of Chongqing's 一张图 was found). **Correlations:** a parameter draw is
    the same for every 小班 and district of a group and for both years;
    groups that take a value from the same published figure share one draw;
    the activity errors are one draw per year and group (shared by its
    小班 and districts), independent between years and groups. Draws act
    on group totals, never on 小班. The IPCC Approach 1 (error propagation,
    first order) is given beside it, and a sensitivity table: each input's
    share of the variance of the city sink by **one-at-a-time variance**
    (the Monte Carlo variance of the city sink with only that input drawn,
    the others at their central values), normalised to sum to 1.

Modules: :mod:`~forestsink.carbon.parameters` (parameters per species group,
with sources), :mod:`~forestsink.carbon.activity` (group sums, conversion
areas), :mod:`~forestsink.carbon.model` (the terms of both routes),
:mod:`~forestsink.carbon.uncertainty` (Monte Carlo, Approach 1,
sensitivity), :mod:`~forestsink.carbon.tables` (the main table and its
headers) and :mod:`~forestsink.carbon.sink` (:func:`compute_sink`,
:func:`forest_sink_tables`). This package re-exports their public names; its
modules import each other's defining module, never this package.

Layers: ``carbon`` may import ``inventory``, ``sampling``, ``progress``,
``coverage`` and every layer below them; never ``render``, ``web`` or
``cli``.
"""

from forestsink.carbon.activity import (
    ARBOR_GROUPS,
    FOREST_GROUPS,
    NOT_COUNTED_GROUPS,
    PER_AREA_CATEGORY,
    conversion_area,
    group_sums,
)
from forestsink.carbon.model import (
    GAIN_LOSS,
    METHODS,
    STOCK_DIFFERENCE,
    SinkModel,
    build_model,
)
from forestsink.carbon.parameters import (
    AREA_ERROR_PCT,
    VOLUME_ERROR_PCT,
    Input,
    SinkParameters,
    resolve_sink_parameters,
)
from forestsink.carbon.sink import choose_years, compute_sink, forest_sink_tables
from forestsink.carbon.tables import SINK_COLUMNS, SINK_LABELS, sink_table
from forestsink.carbon.uncertainty import SinkResult, draw_inputs, drivers, simulate
from forestsink.errors import CarbonParameterError

__all__ = [
    "ARBOR_GROUPS",
    "AREA_ERROR_PCT",
    "FOREST_GROUPS",
    "GAIN_LOSS",
    "METHODS",
    "NOT_COUNTED_GROUPS",
    "PER_AREA_CATEGORY",
    "SINK_COLUMNS",
    "SINK_LABELS",
    "STOCK_DIFFERENCE",
    "VOLUME_ERROR_PCT",
    "CarbonParameterError",
    "Input",
    "SinkModel",
    "SinkParameters",
    "SinkResult",
    "build_model",
    "choose_years",
    "compute_sink",
    "conversion_area",
    "draw_inputs",
    "drivers",
    "forest_sink_tables",
    "group_sums",
    "resolve_sink_parameters",
    "simulate",
    "sink_table",
]
