"""The budget of wrong credentials a source may send (issue 16, docs/hardening.md,
"Throttling wrong credentials").

A client secret, a bearer token, an admin token or the telephony gateway's secret
can be guessed only as fast as wrong ones are judged. Each source has a bucket of
``burst`` failures that refills at ``rate`` failures a second; a failed
authentication takes one, a successful one takes nothing and gives nothing back
(an attacker who holds one good token cannot interleave it to keep guessing). While
less than one failure is left, the source's requests of that kind are refused
unjudged, and told the whole seconds until one is back.

The bound: over any span of ``t`` seconds a source has at most ``burst + rate * t``
wrong credentials judged, plus those already being judged when its bucket ran out
(requests in flight at once: at most the server's threads). A source that never
fails never spends anything, so it is never refused.

Pure: times are seconds on any steady clock the caller reads (the adapter uses
the process's monotonic clock, never a sandbox's clock, which testers move).
"""

from __future__ import annotations

from dataclasses import dataclass

#: ``burst`` and ``rate`` unless told (``renkei serve --auth-throttle``).
BURST = 20
RATE = 2.0
#: How close to one failure counts as one: float sums of refills fall short by a
#: rounding error where the arithmetic is exact.
_EPSILON = 1e-9


@dataclass(frozen=True)
class Bucket:
    """What is left of a source's budget: ``tokens`` failures, as of ``at``."""

    tokens: float
    at: float


@dataclass(frozen=True)
class FailureBudget:
    """``burst`` failures at once, then ``rate`` a second; ``burst`` 0 is no throttle."""

    burst: int = BURST
    rate: float = RATE

    def __post_init__(self) -> None:
        if self.burst < 0:
            raise ValueError(f"a burst of failures is 0 or more, not {self.burst}")
        if self.burst and not self.rate > 0:
            raise ValueError(f"failures come back at a rate above 0 a second, not {self.rate}")

    @property
    def enabled(self) -> bool:
        return self.burst > 0

    def refilled(self, bucket: Bucket | None, now: float) -> Bucket:
        """``bucket`` at ``now``, with what came back since; a source never seen has
        its whole burst. A clock that went back gives nothing back."""
        if bucket is None:
            return Bucket(float(self.burst), now)
        earned = max(0.0, now - bucket.at) * self.rate
        return Bucket(min(float(self.burst), bucket.tokens + earned), max(now, bucket.at))

    def wait(self, bucket: Bucket | None, now: float) -> int | None:
        """None when a request may be judged at ``now``; else the whole seconds (1 or
        more) after which the bucket holds one failure again: truthful, a request
        sent then is judged."""
        if not self.enabled:
            return None
        left = self.refilled(bucket, now).tokens
        if left + _EPSILON >= 1:
            return None
        seconds = (1 - left) / self.rate
        whole = int(seconds)
        return max(1, whole if whole >= seconds - _EPSILON else whole + 1)

    def spent(self, bucket: Bucket | None, now: float) -> Bucket:
        """``bucket`` after one failure judged at ``now``. It may go below zero when
        several requests were judged at once: the source then waits for all of them."""
        refilled = self.refilled(bucket, now)
        return Bucket(refilled.tokens - 1, refilled.at)

    def is_full(self, bucket: Bucket, now: float) -> bool:
        """Whether ``bucket`` is back to the whole burst: it then says nothing a source
        never seen would not, and need not be kept."""
        return self.refilled(bucket, now).tokens + _EPSILON >= self.burst
