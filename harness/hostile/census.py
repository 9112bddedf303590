"""The count of a hostile-input run: requests and status codes per endpoint, and
each distinct fault found with its first example; the table and report the
campaign prints (``benchmarks/campaign_hostile.py``)."""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass, field

from tabulate import tabulate


@dataclass
class Finding:
    """One kind of fault at one endpoint: the first example, and how often."""

    endpoint: str
    problem: str
    example: str
    count: int = 1


@dataclass
class Census:
    """Requests, status codes and findings, per endpoint."""

    requests: Counter[str] = field(default_factory=Counter)
    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    findings: dict[tuple[str, str], Finding] = field(default_factory=dict)
    #: Requests that set the stage (walking flows, linking, restoring the state).
    support: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    def record(self, endpoint: str, status: int, faults: list[str], example: str) -> None:
        """One generated request to ``endpoint``: its answer's status and faults."""
        self.requests[endpoint] += 1
        self.statuses.setdefault(endpoint, Counter())[status] += 1
        for fault in faults:
            # One finding per endpoint and kind of fault (numbers aside), with its
            # first example.
            key = (endpoint, re.sub(r"[0-9]+", "N", fault)[:80])
            if key in self.findings:
                self.findings[key].count += 1
            else:
                self.findings[key] = Finding(endpoint, fault, example[:600])

    def table(self) -> str:
        rows = []
        for endpoint in sorted(self.requests):
            statuses = self.statuses[endpoint]
            failures = sum(f.count for f in self.findings.values() if f.endpoint == endpoint)
            rows.append(
                [
                    endpoint,
                    self.requests[endpoint],
                    " ".join(f"{s}×{n}" for s, n in sorted(statuses.items())),
                    failures,
                ]
            )
        rows.append(["total", self.total, "", sum(f.count for f in self.findings.values())])
        return tabulate(rows, headers=["endpoint", "requests", "status codes", "failures"])

    def report(self) -> str:
        lines = [self.table(), ""]
        seconds = time.monotonic() - self.started
        lines.append(
            f"{self.total} generated requests (+{self.support} to set the stage) "
            f"in {seconds:.0f} s; {len(self.findings)} distinct failures"
        )
        for finding in self.findings.values():
            lines.append(f"\nFAILURE {finding.endpoint}: {finding.problem} (×{finding.count})")
            lines.append(f"  e.g. {finding.example}")
        return "\n".join(lines)
