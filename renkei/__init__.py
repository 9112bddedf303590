"""renkei: a sandbox credit union for 「API連携認証」, its conformance harness and its twin.

The distribution holds two programs and what they agree on:

* :mod:`simulator` — the bank: the pure rules of the manual, the sandbox
  server, the store and the SimPy twin;
* :mod:`harness` — its tester: the conformance features, certification, the
  replayer and the hostile-input campaign, speaking only HTTP;
* :mod:`renkei.contract` — INTERFACE.md as data, imported by both and
  importing neither;
* :mod:`renkei.cli` — the ``renkei`` command, the one place that composes them.

Neither side imports the other (``tests/test_core_purity.py``). This module
imports nothing, so that reading the contract or a shipped scenario does not
pull in either side.
"""

__version__ = "0.1.0"
