"""Hostile input against a running sandbox bank, over HTTP only.

Every malformed or malicious request must get a clear error or a success: no
5xx but a deliberate 503, no traceback, injected markup escaped, no redirect
off the bank but to the registered redirect URI (:func:`faults_of`). Two
generators send such requests to a target:

* :func:`fuzz_forms` — Hypothesis builds what the OpenAPI document does not
  describe: the screen forms (INTERFACE.md §2) with and without a valid flow
  cookie and CSRF token, the OAuth endpoints (§1), the account API (§5), the
  telephony gateway (§4) and the sandbox controls (§6), with random strings,
  control characters, NUL bytes, full-width digits and kana, SQL and HTML
  injection, wrong JSON types, duplicated parameters, invalid UTF-8 and wrong
  content types; :func:`huge_bodies` sends 5 MB bodies to every endpoint;
* :func:`fuzz_openapi` — Schemathesis reads the target's ``/openapi.json`` and
  generates positive and negative requests for every operation it documents,
  checking each answer against the document as well.

The modules, one job each: :mod:`.corpus` (the sample texts of hostile input),
:mod:`.baseline` (the right requests they are made from), :mod:`.strategies`
(Hypothesis strategies for values and bodies), :mod:`.endpoints` (a request
strategy per group of endpoints), :mod:`.verdict` (the rule every answer
keeps), :mod:`.census` (requests, statuses and findings per endpoint, and the
report), :mod:`.bench` (the stateful HTTP bench that sends, judges and puts the
target back to its baseline), :mod:`.sampling` (how a strategy is drawn from),
:mod:`.form_run` and :mod:`.schema_run` (the two halves of the campaign).
``benchmarks/campaign_hostile.py`` runs them at scale against ``renkei serve``;
``tests/test_hostile_input.py`` runs a small sample in the suite.
"""

from .baseline import ACCOUNT, CLIENT_ID, REDIRECT, SCREEN_FIELDS
from .bench import Bench, FlowKeys, TargetGone
from .census import Census, Finding
from .form_run import fuzz_forms, huge_bodies
from .schema_run import fuzz_openapi
from .verdict import Seen, error_codes, faults_of

__all__ = [
    "ACCOUNT",
    "CLIENT_ID",
    "REDIRECT",
    "SCREEN_FIELDS",
    "Bench",
    "Census",
    "Finding",
    "FlowKeys",
    "Seen",
    "TargetGone",
    "error_codes",
    "faults_of",
    "fuzz_forms",
    "fuzz_openapi",
    "huge_bodies",
]
