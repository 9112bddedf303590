"""How the campaign draws from a strategy: generation only, seeded or the same
sample every run, and a generator that finds nothing to send is no failure.

Nothing is raised to shrink (each fault is recorded in the census and the run
goes on) and no example database is replayed, so a run is fixed by its seed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import HypothesisException


def run_settings(examples: int, seed: int | None) -> Callable[[Any], Any]:
    """Hypothesis settings for ``examples`` draws (``seed`` None: derandomised)."""
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=seed is None,
        suppress_health_check=list(HealthCheck),
        phases=(Phase.generate,),
    )


def run_seeded(run: Callable[[], None], seed: int | None) -> None:
    """Run a ``@given`` test, with ``seed`` when one is given."""
    if seed is not None:
        run = _seed(seed)(run)
    try:
        run()
    except HypothesisException as error:
        # Unsatisfiable and the like: a generator that found nothing to send
        # is not a failure of the target (and should not stop the campaign).
        print(f"  ({error.__class__.__name__}: {str(error)[:100]})")


def _seed(seed: int) -> Callable[[Callable[[], None]], Callable[[], None]]:
    decorate: Callable[[Callable[[], None]], Callable[[], None]] = hypothesis_seed(seed)
    return decorate
