"""INTERFACE.md §1: what the authorization server supports, as its metadata says it.

The bank configures Authlib and writes its RFC 8414 metadata from these; the
tester's partner app, certification and the hostile-input campaign send them.
"""

from __future__ import annotations

from typing import Final

#: ``accounts`` (the account list and balances), ``transactions`` (明細).
SCOPES: Final = ("accounts", "transactions")
#: How a partner app authenticates at the token, revocation and introspection endpoints.
CLIENT_AUTH_METHODS: Final = ("client_secret_basic", "client_secret_post")
GRANT_TYPES: Final = ("authorization_code", "refresh_token")
RESPONSE_TYPES: Final = ("code",)
#: PKCE is required; ``plain`` is refused (RFC 7636 §4.2).
CODE_CHALLENGE_METHODS: Final = ("S256",)
#: The ``token_type_hint`` values the server knows. A hint only orders the search: a
#: token given under the other hint is revoked or introspected all the same, and any
#: other value is ignored (RFC 7009 §2.1-2.2, RFC 7662 §2.1).
TOKEN_TYPE_HINTS: Final = ("access_token", "refresh_token")
#: RFC 7636 §4.1: 43 to 128 characters of the unreserved set.
CODE_VERIFIER_PATTERN: Final = r"[A-Za-z0-9._~-]{43,128}"
#: An S256 challenge: BASE64URL of a SHA-256 digest (32 bytes), without padding.
CODE_CHALLENGE_LENGTH: Final = 43
CODE_CHALLENGE_PATTERN: Final = rf"[A-Za-z0-9_-]{{{CODE_CHALLENGE_LENGTH}}}"
METADATA_PATH: Final = "/.well-known/oauth-authorization-server"
AUTHORIZE_PATH: Final = "/oauth/authorize"
TOKEN_PATH: Final = "/oauth/token"
REVOKE_PATH: Final = "/oauth/revoke"
INTROSPECT_PATH: Final = "/oauth/introspect"
