"""The longest value renkei accepts of each free parameter (issue 16: nothing a caller
sends is kept without a bound).

A parameter longer than its limit is refused with a clear error and nothing of the
request is stored: at ``/oauth/authorize`` an error page (``state`` and
``redirect_uri``, which cannot be sent back to the app safely, and ``client_id``)
or ``invalid_request`` back to the app (the others, as RFC 6749 §4.1.2.1 says);
at the token, revocation and introspection endpoints ``invalid_request`` (RFC
6749 §5.2). Parameters not named here are read by nobody and kept nowhere
(``nonce`` and any other extra of the authorization request). The screens' fields
have their lengths in :mod:`renkei.contract.screens` (``MAX_NAME_LENGTH``,
``MAX_EMAIL_LENGTH``; every other field has a pattern of fixed length), the
sandboxes' label and inline scenario in :mod:`renkei.contract.sandboxes`
(``LABEL_MAX``, ``YAML_MAX``). Lengths are counted in characters, after the
percent-decoding of the query or form.

What the bank refuses and what the tester sends to see it refused: both sides
read these.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

#: ``state``: opaque to the bank, echoed to the app; 1,024 characters hold any
#: CSRF token or the small JSON some apps put there.
STATE_MAX: Final = 1024
#: ``redirect_uri``: the longest URL browsers and proxies carry everywhere.
REDIRECT_URI_MAX: Final = 2048
#: ``scope``: the scopes of INTERFACE.md §1, each given a few times over at most.
SCOPE_MAX: Final = 256
#: ``client_id``: a partner app's id, as the store keeps it (64 characters).
CLIENT_ID_MAX: Final = 64
#: ``client_secret`` (``client_secret_post``).
CLIENT_SECRET_MAX: Final = 256
#: ``code_challenge`` and ``code_verifier``: RFC 7636 §4.1-4.2, 43 to 128 characters
#: of the unreserved set (the form is checked too: ``CODE_VERIFIER_PATTERN``).
PKCE_MIN: Final = 43
PKCE_MAX: Final = 128
#: A code, an access token or a refresh token given back to the bank (``code``,
#: ``refresh_token``, ``token``): the bank's own are 42 to 48 characters.
TOKEN_MAX: Final = 256
#: The parameters whose values are one of a few words (``response_type``,
#: ``code_challenge_method``, ``grant_type``, ``token_type_hint``).
WORD_MAX: Final = 64
#: The ``label`` of an ad-hoc maintenance window (``POST /sandbox/maintenance``),
#: which the closed screen names.
MAINTENANCE_LABEL_MAX: Final = 200

#: ``/oauth/authorize``'s parameters and their limits.
AUTHORIZE_LIMITS: Final[dict[str, int]] = {
    "response_type": WORD_MAX,
    "client_id": CLIENT_ID_MAX,
    "redirect_uri": REDIRECT_URI_MAX,
    "scope": SCOPE_MAX,
    "state": STATE_MAX,
    "code_challenge": PKCE_MAX,
    "code_challenge_method": WORD_MAX,
}
#: Those that cannot be sent back to the app when too long: an error page instead
#: (an unknown ``client_id`` gets one anyway).
AUTHORIZE_NOT_SENT_BACK: Final = ("client_id", "redirect_uri", "state")
#: The parameters of ``/oauth/token``, ``/oauth/revoke`` and ``/oauth/introspect``
#: (query and body together) and their limits.
TOKEN_LIMITS: Final[dict[str, int]] = {
    "grant_type": WORD_MAX,
    "code": TOKEN_MAX,
    "redirect_uri": REDIRECT_URI_MAX,
    "code_verifier": PKCE_MAX,
    "refresh_token": TOKEN_MAX,
    "scope": SCOPE_MAX,
    "client_id": CLIENT_ID_MAX,
    "client_secret": CLIENT_SECRET_MAX,
    "token": TOKEN_MAX,
    "token_type_hint": WORD_MAX,
}


def too_long(name: str, limit: int) -> str:
    """The ``error_description`` of a parameter over its limit."""
    return f"The parameter '{name}' is longer than {limit} characters."


def first_too_long(values: Mapping[str, str], limits: Mapping[str, int]) -> str | None:
    """The first parameter of ``limits`` whose value in ``values`` is over its limit."""
    return next((n for n, most in limits.items() if len(values.get(n) or "") > most), None)
