"""The refusal of a source that sent too many wrong credentials (issue 16; the bank's
rule is :mod:`simulator.core.throttle`, docs/hardening.md "Throttling wrong
credentials").

Client authentication at the token, revocation and introspection endpoints
(INTERFACE.md §1), bearer tokens at the account API (§5), the admin token at the
controls (§6, §9) and the gateway's credential (§4) are throttled per source:
while a source is over its budget of failures, its requests of that kind answer
:data:`STATUS` with ``Retry-After`` (whole seconds until one is judged again) and
the error body of the endpoint's family, unjudged: :data:`OAUTH_ERROR` as RFC
6749 §5.2's ``error`` at the OAuth endpoints, :data:`ERROR_CODE` as the
``errorCode`` of ``{"errorCode", "errorMessage"}`` elsewhere.

What the bank answers and what the tester expects: both sides read these.
"""

from __future__ import annotations

from typing import Final

STATUS: Final = 429
#: The header that says when to try again, in whole seconds (RFC 9110 §10.2.3).
RETRY_AFTER: Final = "Retry-After"
#: ``errorCode`` at the account API, the controls, ``/sandboxes`` and the gateway.
ERROR_CODE: Final = "too_many_failures"
#: ``error`` at the OAuth endpoints: RFC 6749's code for "try again later".
OAUTH_ERROR: Final = "temporarily_unavailable"
