"""The 95 % interval of a mean across replications: Student's t, without SciPy.

For N replications of a day, each count (granted at 13:00, ``congested`` in
all, …) has N values x₁…x_N, one per seed. Its interval is Student's t
interval of the mean::

    x̄ ± t(0.975, N − 1) · s / √N

with ``s`` the sample standard deviation (N − 1 in its denominator). The seeds
are independent draws of the same day, so the interval covers the day's true
mean count with 95 % confidence, under the t interval's assumption that a
count's spread across days is close enough to normal (for N of 20 or more the
mean is, by the central limit theorem, whatever a count's own spread).

The quantile ``t(p, ν)`` is computed here, exactly, rather than by adding SciPy
for one number. For an integer ν the t distribution's central probability
``A(t | ν) = P(|T| ≤ t)`` is a finite sum (Abramowitz & Stegun 26.7.3 and
26.7.4, with θ = atan(t / √ν)), which :func:`t_quantile` inverts by bisection
to well below the printed precision. Beyond :data:`SERIES_DF` degrees of
freedom it uses the Cornish–Fisher expansion of t about the normal quantile
(A&S 26.7.5, four terms), whose error there is below 10⁻¹⁰.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

#: The interval's confidence.
CONFIDENCE: Final = 0.95
#: The most degrees of freedom :func:`t_quantile` sums A&S 26.7.3/4 for (about
#: ν / 2 terms a step of the bisection); above, the expansion is exact enough.
SERIES_DF: Final = 1000
#: Bisection steps: the bracket [0, 10⁶] halves to below 10⁻¹¹.
_STEPS: Final = 60


def central(t: float, df: int) -> float:
    """``P(|T| ≤ t)`` for Student's t with ``df`` degrees of freedom (A&S 26.7.3-4)."""
    theta = math.atan(t / math.sqrt(df))
    s, c2 = math.sin(theta), math.cos(theta) ** 2
    if df % 2 == 1:
        # ν odd: (2/π)(θ + sin θ (cos θ + 2/3 cos³θ + … + 2·4…(ν−3)/(1·3…(ν−2)) cos^(ν−2)θ))
        term, total = math.cos(theta), 0.0
        if df > 1:
            total = term
            for k in range(3, df, 2):
                term *= c2 * (k - 1) / k
                total += term
        return 2 / math.pi * (theta + s * total)
    # ν even: sin θ (1 + 1/2 cos²θ + 1·3/(2·4) cos⁴θ + … + 1·3…(ν−3)/(2·4…(ν−2)) cos^(ν−2)θ)
    term = total = 1.0
    for k in range(2, df, 2):
        term *= c2 * (k - 1) / k
        total += term
    return s * total


def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile of Student's t with ``df`` (≥ 1) degrees of freedom, for
    ``p`` in (0.5, 1): ``t_quantile(0.975, 19)`` is 2.093. ValueError otherwise."""
    if df < 1 or not 0.5 < p < 1:
        raise ValueError(f"t_quantile needs df ≥ 1 and 0.5 < p < 1 (got p={p}, df={df})")
    if df > SERIES_DF:
        z = statistics.NormalDist().inv_cdf(p)
        z3, z5, z7 = z**3, z**5, z**7
        return (
            z
            + (z3 + z) / (4 * df)
            + (5 * z5 + 16 * z3 + 3 * z) / (96 * df**2)
            + (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * df**3)
        )
    target = 2 * p - 1  # the central probability of the two-sided quantile
    low, high = 0.0, 1e6
    for _ in range(_STEPS):
        middle = (low + high) / 2
        if central(middle, df) < target:
            low = middle
        else:
            high = middle
    return (low + high) / 2


@dataclass(frozen=True)
class Interval:
    """A count's mean across the replications and its 95 % interval (``low``,
    ``high``): symmetric about the mean, so a rare count's ``low`` may be below 0."""

    mean: float
    low: float
    high: float

    @property
    def half(self) -> float:
        """The half-width: t · s / √N."""
        return (self.high - self.low) / 2


def interval(values: Sequence[float]) -> Interval:
    """Student's t interval of the mean of ``values`` (two or more, one per
    replication) at :data:`CONFIDENCE`. ValueError for fewer than two."""
    n = len(values)
    if n < 2:
        raise ValueError("an interval needs two replications or more")
    mean = statistics.fmean(values)
    half = t_quantile((1 + CONFIDENCE) / 2, n - 1) * statistics.stdev(values, mean) / math.sqrt(n)
    return Interval(mean, mean - half, mean + half)
