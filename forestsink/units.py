"""Area units used by Chinese forestry statistics.

1 mu (亩) = 10000/15 m² ≈ 666.667 m²; 15 mu = 1 ha; 1 万亩 = 10 000 mu.

Examples
--------
>>> m2_to_mu(10_000.0)
15.0
>>> round(mu_to_m2(1.0), 3)
666.667
"""

from __future__ import annotations

import numpy as np

M2_PER_MU: float = 10_000.0 / 15.0
"""Square metres in one mu (亩)."""

MU_PER_HA: float = 15.0
"""Mu in one hectare."""

MU_PER_WAN_MU: float = 10_000.0
"""Mu in one 万亩 (ten thousand mu)."""

M2_PER_KM2: float = 1_000_000.0


def m2_to_mu(area_m2):
    """Convert square metres to mu (亩); works on scalars and arrays.

    Parameters
    ----------
    area_m2 : float or array-like
        Area in m² (1 mu = 10,000/15 m²).

    Examples
    --------
    >>> float(m2_to_mu(10_000))
    15.0
    """
    return (
        np.asarray(area_m2, dtype="float64") * (15.0 / 10_000.0)
        if np.ndim(area_m2)
        else float(area_m2) * 15.0 / 10_000.0
    )


def mu_to_m2(area_mu):
    """Convert mu (亩) to square metres; works on scalars and arrays.

    Parameters
    ----------
    area_mu : float or array-like
        Area in mu (亩).

    Examples
    --------
    >>> float(mu_to_m2(15))
    10000.0
    """
    return (
        np.asarray(area_mu, dtype="float64") * M2_PER_MU
        if np.ndim(area_mu)
        else float(area_mu) * M2_PER_MU
    )


def ha_to_mu(area_ha):
    """Convert hectares to mu (亩)."""
    return area_ha * MU_PER_HA
