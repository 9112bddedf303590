"""OAuth 2.0 (INTERFACE.md §1) with Authlib's authorization server.

Authorization code with PKCE S256 required of every client (RFC 7636),
refresh (RFC 6749 §6), revocation (RFC 7009), introspection (RFC 7662),
metadata (RFC 8414). Authlib does the protocol; this module fills in its
storage hooks and reads time only from the sandbox clock, so that advancing
the clock 30 days ends a grant here just as it does in the core.

Where Authlib's defaults stop short of the RFCs (INTERFACE.md §1), this module
goes on: ``token_type_hint`` only orders a search and an unknown one is ignored
(RFC 7009 §2.1-2.2, RFC 7662 §2.1); a refresh token introspects with its own
``exp``, the end of its grant; a refresh token used after it was rotated out
ends its grant and with it every token of the family (RFC 9700 §4.14.2).
"""

from __future__ import annotations

import datetime as dt
import hmac
from typing import Any, ClassVar

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2 import OAuth2Request
from authlib.oauth2.base import invalid_error_characters
from authlib.oauth2.rfc6749 import (
    AuthorizationCodeMixin,
    ClientMixin,
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    TokenMixin,
    UnsupportedResponseTypeError,
    grants,
)
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from flask import Flask

from renkei.contract.oauth import CLIENT_AUTH_METHODS, SCOPES
from simulator.core.errors import RenkeiError
from simulator.core.grants import Grant
from simulator.scenario_model import Client
from simulator.store.tokens import StoredCode, StoredToken, TokenKind, digest
from simulator.web.service import Service

TOKEN_AUTH_METHODS = list(CLIENT_AUTH_METHODS)


class OAuthClient(ClientMixin):  # type: ignore[misc]
    """A partner app of the scenario, as Authlib sees it."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def get_client_id(self) -> str:
        return str(self.client.client_id)

    def get_default_redirect_uri(self) -> str:
        return str(self.client.redirect_uris[0])

    def get_allowed_scope(self, scope: str | None) -> str:
        """The asked scopes this client may have; none asked means all of its own
        (RFC 6749 §3.3: scope is optional)."""
        allowed = set(self.client.scopes)
        if not scope:
            return " ".join(self.client.scopes)
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.client.redirect_uris  # exact match, no prefixes

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(client_secret.encode(), self.client.client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in TOKEN_AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")


class Code(AuthorizationCodeMixin):  # type: ignore[misc]
    def __init__(self, stored: StoredCode, now: dt.datetime) -> None:
        self.stored, self.now = stored, now
        self.code_challenge = stored.code_challenge
        self.code_challenge_method = stored.code_challenge_method

    def get_redirect_uri(self) -> str:
        return self.stored.redirect_uri

    def get_scope(self) -> str:
        return self.stored.scope

    def is_expired(self) -> bool:
        return self.now >= self.stored.expires_at


class Token(TokenMixin):  # type: ignore[misc]
    """A row of the store as Authlib sees it, through one of its two secrets: the
    access token (``kind`` ``access_token``, living ``access_token_seconds``) or
    the refresh token, which lives as long as its grant does (``ends_at``: the end
    of the 認可期間 or of the uninstall grace, R-AUTHZ-1/4; None for a grant that
    no longer holds)."""

    def __init__(
        self,
        stored: StoredToken,
        now: dt.datetime,
        kind: TokenKind = "access_token",
        ends_at: dt.datetime | None = None,
    ) -> None:
        self.stored, self.now, self.kind, self.ends_at = stored, now, kind, ends_at

    def check_client(self, client: OAuthClient) -> bool:
        return self.stored.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return self.stored.scope

    def get_expires_in(self) -> int:
        return int((self.expires_at() - self.stored.issued_at).total_seconds())

    def expires_at(self) -> dt.datetime:
        """When this secret stops working, whatever else ends it sooner."""
        if self.kind == "access_token":
            return self.stored.access_expires_at
        return self.ends_at if self.ends_at is not None else self.stored.issued_at

    def is_expired(self) -> bool:
        return self.now >= self.expires_at()

    def is_revoked(self) -> bool:
        return self.stored.revoked_at is not None


class S256Required(CodeChallenge):  # type: ignore[misc]
    """PKCE with S256 for every client, confidential ones included.

    Authlib's ``CodeChallenge(required=True)`` insists only for public clients
    and lets ``plain`` through; the sandbox refuses both gaps (INTERFACE.md §1).
    """

    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: missing 'code_challenge'")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("PKCE is required with code_challenge_method=S256")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        if not grant.request.form.get("code_verifier"):
            raise InvalidRequestError("Missing 'code_verifier'")
        super().validate_code_verifier(grant, result)


class RenkeiServer(AuthorizationServer):  # type: ignore[misc]
    """Authlib's Flask server that also takes a prepared request (for ⑥'s 「許可する」)."""

    service: Service

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        if isinstance(request, OAuth2Request):
            return request
        return super().create_oauth2_request(request)

    def now(self) -> dt.datetime:
        return self.service.clock().now()

    def authenticate_client(
        self, request: OAuth2Request, methods: list[str], endpoint: str = "token"
    ) -> Any:
        """Authlib's, with ``invalid_client`` for Basic credentials that are not
        ASCII base64 or not UTF-8 once decoded, which Authlib lets through as a
        ``ValueError`` or ``UnicodeDecodeError`` (a 500; found by the hostile-input
        campaign)."""
        try:
            return super().authenticate_client(request, methods, endpoint)
        except ValueError:  # UnicodeDecodeError is one
            raise InvalidClientError(
                status_code=401, description="The client credentials cannot be read."
            ) from None

    def get_authorization_grant(self, request: OAuth2Request) -> Any:
        """Authlib's, except for an unsupported ``response_type`` that holds a
        character RFC 6749 §5.2 forbids in an ``error_description``: Authlib quotes
        it there and then refuses its own error (a ``ValueError``, so a 500; found
        by the hostile-input campaign). The same error, quoting
        only the characters allowed, back to the app as Authlib would send it."""
        try:
            return super().get_authorization_grant(request)
        except ValueError:
            pass
        payload = request.payload
        redirect_uri = None
        client = self.query_client(payload.client_id) if payload.client_id else None
        if client is not None:
            if not payload.redirect_uri:
                redirect_uri = client.get_default_redirect_uri()
            elif client.check_redirect_uri(payload.redirect_uri):
                redirect_uri = payload.redirect_uri
        asked = str(payload.response_type or "")
        printable = "".join(c for c in asked if not invalid_error_characters(c))
        raise UnsupportedResponseTypeError(
            "The response type is not supported by the server.",
            printable,
            redirect_uri=redirect_uri,
        )

    def active_grant(self, grant_id: str) -> Grant | None:
        """The grant behind a code or token, if it can still be used (R-AUTHZ, R-ACCT-3)."""
        grant = self.service.grants.get(grant_id)
        if grant is None:
            return None
        try:
            self.service.rules.grants.check(
                grant, self.service.host.account(grant.account), self.now()
            )
        except RenkeiError:
            return None
        return grant

    def token(self, stored: StoredToken, kind: TokenKind) -> Token:
        """``stored`` as Authlib sees it through its ``kind`` of secret; a refresh
        token ends with its grant."""
        grant = self.active_grant(stored.grant_id) if kind == "refresh_token" else None
        ends_at = self.service.rules.grants.ends_at(grant) if grant else None
        return Token(stored, self.now(), kind, ends_at)

    def end_family(self, stored: StoredToken) -> None:
        """RFC 9700 §4.14.2: a refresh token came back after it was rotated out, so
        either the app or someone who stole it holds a copy. The bank ends the grant
        and every token of it; the operator's listing shows it revoked by the bank,
        the operation log says why (``refresh_token_reuse``), and the customer links
        the app again through the six screens (R-FLOW-9)."""
        if self.active_grant(stored.grant_id) is None:
            return  # already over: nothing of the family works any more
        self.service.revoke_grant(stored.grant_id, by="bank")
        self.service.note("refresh_token_reuse", grant_id=stored.grant_id)


class CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    """RFC 6749 §4.1 with the codes in the store. Authlib makes one per request and
    hands it the server it serves (``self.server``), and through it the bank."""

    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS
    server: RenkeiServer

    @staticmethod
    def validate_authorization_redirect_uri(request: OAuth2Request, client: OAuthClient) -> Any:
        """Authlib's, without quoting a redirect URI that is not registered: Authlib
        puts it in the ``error_description`` and refuses its own error (a 500) when
        it holds a character RFC 6749 §5.2 forbids there (hostile-input campaign)."""
        asked = request.payload.redirect_uri
        if asked and not client.check_redirect_uri(asked):
            raise InvalidRequestError("The redirect_uri is not registered for this client.")
        return grants.AuthorizationCodeGrant.validate_authorization_redirect_uri(request, client)

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        now = self.server.now()
        data = request.payload.data
        grant: Grant = request.user
        self.server.service.tokens.add_code(
            StoredCode(
                digest(code),
                grant.grant_id,
                request.client.get_client_id(),
                data.get("redirect_uri") or request.client.get_default_redirect_uri(),
                " ".join(grant.scopes),
                data["code_challenge"],
                data["code_challenge_method"],
                now,
                now + dt.timedelta(seconds=self.server.service.config.code_seconds),
            )
        )

    def query_authorization_code(self, code: str, client: OAuthClient) -> Code | None:
        """Burn the code on its first use; a replay revokes what it issued."""
        now = self.server.now()
        stored, replay = self.server.service.tokens.take_code(digest(code), now)
        if replay:
            grant_id = self.server.service.tokens.grant_of_code(digest(code))
            if grant_id:
                self.server.service.tokens.revoke_grant(grant_id, now)
                self.server.service.note("code_replay", grant_id=grant_id)
            return None
        if stored is None or stored.client_id != client.get_client_id():
            return None
        found = Code(stored, now)
        return None if found.is_expired() else found

    def delete_authorization_code(self, authorization_code: Code) -> None:
        """Nothing left to do: :meth:`query_authorization_code` burnt it."""

    def authenticate_user(self, authorization_code: Code) -> Grant | None:
        return self.server.active_grant(authorization_code.stored.grant_id)


class RefreshGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    """RFC 6749 §6, only while the grant holds (R-FLOW-9); ``self.server`` as for
    :class:`CodeGrant`."""

    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotate: the old refresh token is revoked
    server: RenkeiServer

    def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
        stored = self.server.service.tokens.by_refresh(refresh_token)
        if stored is None:
            return None
        if stored.revoked_at is not None:  # rotated out, or its grant ended
            self.server.end_family(stored)
            return None
        # R-FLOW-9: after the 認可期間 (or a revocation, or a move) refresh stops working.
        if self.server.active_grant(stored.grant_id) is None:
            return None
        return self.server.token(stored, "refresh_token")

    def authenticate_user(self, refresh_token: Token) -> Grant | None:
        return self.server.active_grant(refresh_token.stored.grant_id)

    def revoke_old_credential(self, refresh_token: Token) -> None:
        """Rotate the refresh token out (RFC 9700 §4.14.2). When another request with
        the same token rotated it first, this one is a reuse as well: the family ends,
        the tokens just saved with it, and the app is answered ``invalid_grant``."""
        if not self.server.service.tokens.revoke(
            refresh_token.stored.access_hash, self.server.now()
        ):
            self.server.end_family(refresh_token.stored)
            raise InvalidGrantError("The refresh token was used already.")


class _FindsTokens:
    """Both RFC 7009 and RFC 7662 look a token up by either of its secrets, whatever
    ``token_type_hint`` says: the hint may only speed the search, and one that names
    no type the server knows is ignored (RFC 7009 §2.1-2.2, RFC 7662 §2.1). Authlib
    gives each endpoint the server it is registered on (``self.server``)."""

    server: RenkeiServer

    def check_params(self, request: OAuth2Request, client: OAuthClient) -> None:
        """Authlib's, without refusing a hint it does not know (``unsupported_token_type``)."""
        if "token" not in request.form:
            raise InvalidRequestError("Missing 'token' in request.")

    def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
        found = self.server.service.tokens.lookup(token_string)
        return self.server.token(found.stored, found.kind) if found else None


class Revocation(_FindsTokens, RevocationEndpoint):  # type: ignore[misc]
    """RFC 7009. Revoking a refresh token ends the whole grant, every access token
    of it too (§2.1); revoking an access token ends that access token alone, and the
    app may go on refreshing."""

    CLIENT_AUTH_METHODS = TOKEN_AUTH_METHODS

    def revoke_token(self, token: Token, request: OAuth2Request) -> None:
        if token.kind == "refresh_token":
            self.server.service.revoke_grant(token.stored.grant_id, by="app")
        else:
            self.server.service.tokens.revoke_access(token.stored.access_hash)


class Introspection(_FindsTokens, IntrospectionEndpoint):  # type: ignore[misc]
    """RFC 7662, for the partner app's own resource servers. Each secret answers for
    itself: an access token with its 15 minutes, a refresh token with its grant's
    end (``exp``) and without a ``token_type``, which names access tokens only
    (RFC 7662 §2.2, RFC 6749 §7.1)."""

    CLIENT_AUTH_METHODS = TOKEN_AUTH_METHODS

    def introspect_token(self, token: Token) -> dict[str, Any]:
        grant = self.server.active_grant(token.stored.grant_id)
        active = grant is not None and not token.is_revoked() and not token.is_expired()
        if not active:
            return {"active": False}
        assert grant is not None
        answer: dict[str, Any] = {
            "active": True,
            "client_id": token.stored.client_id,
            "scope": token.stored.scope,
            "iat": int(token.stored.issued_at.timestamp()),
            "exp": int(token.expires_at().timestamp()),
            "sub": grant.grant_id,
            "iss": self.server.service.config.issuer,
        }
        if token.kind == "access_token":
            answer["token_type"] = "Bearer"
        return answer

    def check_permission(self, token: Token, client: OAuthClient, request: Any) -> bool:
        return token.check_client(client)


def init_oauth(app: Flask, service: Service) -> RenkeiServer:
    """Authlib's server on ``app``, its hooks bound to ``bank``."""

    def query_client(client_id: str) -> OAuthClient | None:
        client = service.clients.get(client_id)
        return OAuthClient(client) if client else None

    def save_token(token: dict[str, Any], request: OAuth2Request) -> None:
        now = service.clock().now()
        grant: Grant = request.user
        service.tokens.add_token(
            StoredToken(
                digest(token["access_token"]),
                digest(token["refresh_token"]) if token.get("refresh_token") else None,
                grant.grant_id,
                request.client.get_client_id(),
                token.get("scope", ""),
                now,
                now + dt.timedelta(seconds=int(token["expires_in"])),
            )
        )

    app.config["OAUTH2_REFRESH_TOKEN_GENERATOR"] = True
    app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {
        "authorization_code": service.config.access_token_seconds,
        "refresh_token": service.config.access_token_seconds,
    }
    app.config["OAUTH2_SCOPES_SUPPORTED"] = list(SCOPES)
    server = RenkeiServer(app, query_client=query_client, save_token=save_token)
    server.service = service
    server.register_grant(CodeGrant, [S256Required(required=True)])
    server.register_grant(RefreshGrant)
    server.register_endpoint(Revocation)
    server.register_endpoint(Introspection)
    app.extensions["renkei.oauth"] = server
    return server
