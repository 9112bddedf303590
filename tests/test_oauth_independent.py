"""The OAuth 2.0 server to the letter of INTERFACE.md §1, over real HTTP.

``renkei serve`` in a process of its own (SQLite, and PostgreSQL when the suite
has one) with the shipped platform scenario and ``--issuer``, and three worlds
on it: the root sandbox (bank 9901 at ``/``), a sandbox of §9 (``/s/ID``) and
a bank of §10 in that sandbox (``/s/ID/banks/9902``, with its own customers and
認可期間).

The partner app of the first test is pyoidc (PyPI ``oic``), IdentityPython's
OAuth 2.0 and OpenID Connect library, which renkei does not use (renkei uses
Authlib on both sides). Pointed at each world through RFC 8414 discovery alone,
it checks the metadata's issuer against the one it was given (§3.3), builds the
authorization request with PKCE S256, checks the ``iss`` of the authorization
response (RFC 9207) and parses every answer into its own message types, which
refuse a missing required member, a wrong type or a repeated value. The
customer's browser and phone are the harness's driver. The other tests hold
the clauses of §1 one by one with plain requests: ``token_type_hint``
(RFC 7009 §2.1-2.2, RFC 7662 §2.1), repeated parameters (RFC 6749 §3.1,
§3.2), a refresh token's own ``exp``, the family ended by a reused refresh
token (RFC 9700 §4.14.2), and an issuer no ``Host`` header changes (RFC 8414
§3.3).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from bankdriver import Customer, PartnerApp, bank_config, query, walk_persona
from oic import rndstr
from oic.extension.client import Client as OicClient
from oic.extension.message import TokenIntrospectionResponse
from oic.oauth2.message import AccessTokenResponse, ASConfigurationResponse, AuthorizationResponse
from oic.utils.authn.client import CLIENT_AUTHN_METHOD
from sqlalchemy import create_engine
from test_server_processes import free_port, stop, wait_until_up

from harness.driver import Platform
from harness.personas import Persona, load_banks
from renkei import resources
from renkei.contract import banks, oauth
from renkei.contract.api import ACCOUNTS_PATH
from renkei.contract.controls import (
    CLOCK_ADVANCE_PATH,
    CLOCK_PATH,
    GRANTS_PATH,
    OPLOG_PATH,
    uninstall_path,
)
from renkei.contract.sandboxes import SANDBOXES_PATH
from simulator.scenario import load_scenario
from simulator.store.database import open_database
from simulator.store.schema import metadata
from simulator.store.tokens import REVOKED_ACCESS, SqlTokens, StoredToken, digest
from simulator.web.server import start_in_thread

OPERATOR = "independent-operator-token"
TELEPHONY = "independent-telephony-secret"
TUESDAY = "2026-11-24T10:15:00+09:00"
REDIRECT = "http://127.0.0.1:8765/callback"
BANKS = load_banks(resources.scenario("platform"))
#: The access token's life (ServiceConfig.access_token_seconds, INTERFACE.md §1).
ACCESS_SECONDS = 15 * 60
POSTGRES_URL = os.environ.get("RENKEI_TEST_DATABASE_URL", "")


@dataclass(frozen=True)
class World:
    """One issuer on the server: where it is, its customer, its phone's secret, and
    the base whose clock it runs on (a bank's is its sandbox's, INTERFACE.md §10)."""

    name: str
    base: str
    clock_base: str
    persona: Persona
    secret: str

    @property
    def discovery(self) -> str:
        """RFC 8414 §3.1: the well-known path between the issuer's host and its path."""
        parts = urlsplit(self.base)
        return f"{parts.scheme}://{parts.netloc}{oauth.METADATA_PATH}{parts.path.rstrip('/')}"

    def control(self, method: str, path: str, **json: Any) -> requests.Response:
        return requests.request(
            method,
            self.base + path,
            json=json or None,
            headers={"Authorization": f"Bearer {OPERATOR}"},
            timeout=10,
        )

    def set_clock(self, when: str = TUESDAY) -> None:
        r = requests.put(
            self.clock_base + CLOCK_PATH,
            json={"now": when, "frozen": True},
            headers={"Authorization": f"Bearer {OPERATOR}"},
            timeout=10,
        )
        assert r.status_code == 200, r.text

    def advance(self, seconds: float) -> None:
        r = requests.post(
            self.clock_base + CLOCK_ADVANCE_PATH,
            json={"seconds": seconds},
            headers={"Authorization": f"Bearer {OPERATOR}"},
            timeout=10,
        )
        assert r.status_code == 200, r.text

    def grants(self) -> list[dict[str, Any]]:
        r = self.control("GET", GRANTS_PATH)
        assert r.status_code == 200, r.text
        return list(r.json()["grants"])


def serve(data: Path, issuer: str | None, database_url: str | None = None) -> Any:
    """``renkei serve`` of the platform scenario on a free loopback port."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable, "-m", "simulator.serve", "--port", str(port), "--data-dir", str(data),
        "--scenario", "platform", "--admin-token", OPERATOR, "--telephony-secret", TELEPHONY,
        "--issuer", issuer or url,
    ]  # fmt: skip
    if database_url:
        command += ["--database-url", database_url]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    wait_until_up(url, process)
    return url, process


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def worlds(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, World]]:
    """One server per database for the module; its three worlds by name."""
    database_url = None
    if request.param == "postgresql":
        if not POSTGRES_URL:
            pytest.skip("no PostgreSQL: set RENKEI_TEST_DATABASE_URL (scripts/test does)")
        engine = create_engine(POSTGRES_URL)
        try:
            metadata.drop_all(engine)
        finally:
            engine.dispose()
        database_url = POSTGRES_URL
    url, process = serve(tmp_path_factory.mktemp("independent"), None, database_url)
    try:
        made = Platform(url, OPERATOR).create("platform")
        first, second = BANKS["9901"], BANKS["9902"]
        yield {
            "root": World("root", url, url, first.personas["manual"], TELEPHONY),
            "sandbox": World(
                "sandbox", made.base_url, made.base_url, first.personas["manual"],
                made.telephony_secret,
            ),
            "bank": World(
                "bank", made.base_url + banks.bank_base("9902"), made.base_url,
                second.personas["happy"], made.telephony_secret,
            ),
        }  # fmt: skip
    finally:
        stop(process)


@pytest.fixture(params=["root", "sandbox", "bank"])
def world(request: pytest.FixtureRequest, worlds: dict[str, World]) -> World:
    """Each world in turn, its clock frozen on a Tuesday morning (inside the hours)."""
    chosen = worlds[request.param]
    chosen.set_clock()
    return chosen


def walk(world: World, authorize_url: str) -> str:
    """The customer follows ``authorize_url`` through the six screens and allows:
    answers where ①–⑥ sent the browser back to the app."""
    return walk_persona(world.base, authorize_url, world.persona, world.secret)


def link(world: World) -> tuple[PartnerApp, dict[str, Any]]:
    """The harness's partner app links ``world``'s customer: the app and its tokens."""
    app = PartnerApp(world.base)
    return app, app.exchange(walk(world, app.authorize_url()))


def post(world: World, path: str, data: Any, app: str = "creco") -> requests.Response:
    """A form to one of ``world``'s OAuth endpoints, with client_secret_basic."""
    return requests.post(world.base + path, data=data, auth=(app, f"{app}-secret"), timeout=10)


def introspect(world: World, token: str, **hint: str) -> dict[str, Any]:
    r = post(world, oauth.INTROSPECT_PATH, {"token": token, **hint})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def refresh(world: World, token: str) -> requests.Response:
    return post(world, oauth.TOKEN_PATH, {"grant_type": "refresh_token", "refresh_token": token})


def api(world: World, access_token: str) -> int:
    r = requests.get(
        world.base + ACCOUNTS_PATH,
        headers={"Authorization": f"Bearer {access_token}"},
        timeout=10,
    )
    return r.status_code


def grant_of(world: World, token: dict[str, Any]) -> dict[str, Any]:
    """The operator's listing of the grant behind ``token`` (its ``sub``)."""
    sub = introspect(world, token["refresh_token"])["sub"]
    return next(g for g in world.grants() if g["grant_id"] == sub)


def instant(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).timestamp())


# -- the independent client ---------------------------------------------------------------


def test_an_independent_client_finds_no_deviation(world: World) -> None:
    """pyoidc, from the issuer's name alone: RFC 8414 discovery (§3.1 location, §3.3
    issuer), the authorization code flow with PKCE S256 (RFC 7636) and state, the
    ``iss`` of the authorization response (RFC 9207 §2), the token response
    (RFC 6749 §5.1, with ``Cache-Control: no-store``), refresh with a new refresh
    token (§6), introspection of both tokens (RFC 7662 §2.2) and revocation
    (RFC 7009 §2.2), each answer parsed and verified by pyoidc's own messages."""
    auth = "client_secret_post" if world.name == "sandbox" else "client_secret_basic"
    client = OicClient(
        client_authn_method=CLIENT_AUTHN_METHOD,
        config={"code_challenge": {"method": "S256", "length": 64}},
    )
    client.client_id, client.client_secret = "creco", "creco-secret"
    client.redirect_uris = [REDIRECT]

    found = requests.get(world.discovery, timeout=10)
    assert found.status_code == 200 and found.headers["Content-Type"].startswith("application/json")
    served = ASConfigurationResponse().from_json(found.text)
    assert served.verify()
    client.handle_provider_config(served, world.base, keys=False)  # refuses another issuer
    assert client.issuer == world.base
    assert served["authorization_response_iss_parameter_supported"] is True
    assert served["code_challenge_methods_supported"] == ["S256"]
    assert auth in served["token_endpoint_auth_methods_supported"]
    for endpoint in ("authorization", "token", "revocation", "introspection"):
        assert getattr(client, f"{endpoint}_endpoint").startswith(world.base + "/")

    state = rndstr(24)
    pkce, verifier = client.add_code_challenge()
    authorize_url, _, _, _ = client.request_info(
        client.message_factory.get_request_type("authorization_endpoint"),
        method="GET",
        request_args={
            "response_type": "code",
            "state": state,
            "redirect_uri": REDIRECT,
            "scope": "accounts transactions",
            **pkce,
        },
    )
    back = walk(world, authorize_url)
    answer = client.parse_response(AuthorizationResponse, info=back, sformat="urlencoded")
    assert isinstance(answer, AuthorizationResponse)
    assert answer["state"] == state
    assert answer["iss"] == world.base  # present, and pyoidc compared it with the issuer

    tokens = client.do_access_token_request(
        state=state,
        request_args={"code": answer["code"], "redirect_uri": REDIRECT, "code_verifier": verifier},
        authn_method=auth,
    )
    assert isinstance(tokens, AccessTokenResponse), tokens
    assert tokens["token_type"].lower() == "bearer" and tokens["expires_in"] == ACCESS_SECONDS
    last = client.get_token(state=state)
    assert last.access_token == tokens["access_token"]
    assert api(world, tokens["access_token"]) == 200

    renewed = client.do_access_token_refresh(state=state, authn_method=auth)
    assert isinstance(renewed, AccessTokenResponse), renewed
    assert renewed["refresh_token"] != tokens["refresh_token"]  # rotated
    assert api(world, renewed["access_token"]) == 200

    for token, kind in ((renewed["access_token"], "access_token"),
                        (renewed["refresh_token"], "refresh_token")):  # fmt: skip
        seen = client.do_token_introspection(
            request_args={"token": token, "token_type_hint": kind}, authn_method=auth
        )
        assert isinstance(seen, TokenIntrospectionResponse), seen
        assert seen["active"] is True and seen["client_id"] == "creco"
        assert seen["iss"] == world.base and set(seen["scope"]) == {"accounts", "transactions"}

    done = client.do_token_revocation(
        request_args={"token": renewed["refresh_token"], "token_type_hint": "refresh_token"},
        authn_method=auth,
    )
    assert done == 200
    for token in (renewed["access_token"], renewed["refresh_token"]):
        gone = client.do_token_introspection(request_args={"token": token}, authn_method=auth)
        assert isinstance(gone, TokenIntrospectionResponse) and gone["active"] is False
    assert api(world, renewed["access_token"]) == 401


def test_the_token_response_is_not_cached(world: World) -> None:
    """RFC 6749 §5.1: ``Cache-Control: no-store`` and ``Pragma: no-cache`` on the token
    response; §5.2: an error is JSON with ``error``."""
    app, token = link(world)
    r = refresh(world, token["refresh_token"])
    assert r.status_code == 200, r.text
    assert "no-store" in r.headers["Cache-Control"] and r.headers["Pragma"] == "no-cache"
    wrong = post(world, oauth.TOKEN_PATH, {"grant_type": "password"})
    assert wrong.status_code == 400 and wrong.json()["error"] == "unsupported_grant_type"
    app.close()


# -- iss in every authorization response --------------------------------------------------


def test_every_authorization_response_carries_iss(world: World) -> None:
    """RFC 9207 §2: success or error, every authorization response names the issuer:
    an error Authlib sends back (a ``plain`` challenge), a refusal at the start
    (out of hours, R-ERR-SYS-1), 「連携元画面へ」 after 中止 on ② (R-FLOW-7). The code's
    own response is the independent client's test above."""
    app = PartnerApp(world.base)
    plain = requests.get(
        app.authorize_url().replace("S256", "plain"), allow_redirects=False, timeout=10
    )
    assert plain.status_code == 302, plain.text
    back = query(plain.headers["Location"])
    assert back["error"] == "invalid_request" and back["iss"] == world.base, back

    world.set_clock("2026-11-25T04:01:00+09:00")  # R-HOURS-2
    closed = Customer(world.base).open(app.authorize_url())
    assert closed.status == 503 and closed.codes == ["out_of_hours"], closed
    back = query(closed.body["return_url"])
    assert back["error"] == "temporarily_unavailable" and back["iss"] == world.base, back
    assert back["state"] == app.state

    world.set_clock()
    customer = Customer(world.base)
    assert customer.session.get(app.authorize_url(), allow_redirects=False, timeout=10).ok
    assert customer.get("/connect/account").status == 200
    assert customer.post("/connect/account", world.persona.account).status == 303
    assert customer.get("/connect/customer").status == 200
    cancelled = customer.post("/connect/cancel")  # 「中止する」 on ②
    assert cancelled.status == 200, cancelled
    back = query(cancelled.body["return_url"])
    assert back == {"error": "access_denied", "state": app.state, "iss": world.base}
    app.close()


# -- token_type_hint ----------------------------------------------------------------------


def test_the_hint_only_orders_the_search(world: World) -> None:
    """RFC 7662 §2.1 and RFC 7009 §2.1: a token given under the other type's hint is
    found all the same; RFC 7009 §2.2: a hint the server does not know is ignored."""
    _, token = link(world)
    access, refreshing = token["access_token"], token["refresh_token"]
    seen = introspect(world, access, token_type_hint="refresh_token")
    assert seen["active"] is True and seen["token_type"] == "Bearer"
    assert seen["exp"] - seen["iat"] == ACCESS_SECONDS
    assert introspect(world, refreshing, token_type_hint="access_token")["active"] is True
    for hint in ("id_token", "bogus", ""):
        assert introspect(world, access, token_type_hint=hint)["active"] is True

    # An access token revoked under the refresh token's hint (and an unknown hint
    # besides) is revoked; the refresh token issued with it goes on working.
    r = post(world, oauth.REVOKE_PATH, {"token": access, "token_type_hint": "refresh_token"})
    assert r.status_code == 200, r.text
    assert api(world, access) == 401 and introspect(world, access) == {"active": False}
    again = post(world, oauth.REVOKE_PATH, {"token": access, "token_type_hint": "bogus"})
    assert again.status_code == 200, again.text
    renewed = refresh(world, refreshing)
    assert renewed.status_code == 200, renewed.text
    fresh = renewed.json()
    assert api(world, fresh["access_token"]) == 200

    # A refresh token revoked under the access token's hint ends the whole grant.
    r = post(
        world,
        oauth.REVOKE_PATH,
        {"token": fresh["refresh_token"], "token_type_hint": "access_token"},
    )
    assert r.status_code == 200, r.text
    assert api(world, fresh["access_token"]) == 401
    assert introspect(world, fresh["refresh_token"]) == {"active": False}
    ended = refresh(world, fresh["refresh_token"])
    assert ended.status_code == 400 and ended.json()["error"] == "invalid_grant"
    listed = [g for g in world.grants() if g["revoked_by"] == "app" and not g["active"]]
    assert listed, world.grants()


# -- repeated parameters ------------------------------------------------------------------


def test_a_repeated_parameter_is_invalid_request_at_every_endpoint(world: World) -> None:
    """RFC 6749 §3.1 (authorization endpoint) and §3.2 (token endpoint; RFC 7009 and
    RFC 7662 send theirs the same way): a parameter given twice is refused, and the
    first of the two is not used."""
    app = PartnerApp(world.base)
    asked = app.authorize_url()

    # Back to the app when its client and redirect URI are each given once.
    for extra in ("state=second", "code_challenge=" + "A" * 43, "scope=accounts"):
        r = requests.get(asked + "&" + extra, allow_redirects=False, timeout=10)
        assert r.status_code == 302, (extra, r.text)
        assert r.headers["Location"].startswith(REDIRECT + "?")
        back = query(r.headers["Location"])
        assert back["error"] == "invalid_request" and back["iss"] == world.base, back
        # The state echoed, unless it was the one repeated: which of two to echo?
        assert ("state" in back) is (not extra.startswith("state="))
    # An error page, never a redirect, when where to send it is unsure (§4.1.2.1).
    for extra in ("client_id=kakeibo", "redirect_uri=" + REDIRECT):
        r = requests.get(asked + "&" + extra, allow_redirects=False, timeout=10)
        assert r.status_code == 400 and "Location" not in r.headers, (extra, r.status_code)
        assert "invalid_request" in r.text

    # The token endpoint: code=A&code=B, a real code first. Refused; the code unspent.
    back = walk(world, app.authorize_url())
    code = query(back)["code"]
    form = [("grant_type", "authorization_code"), ("code", code), ("code", "B"),
            ("redirect_uri", REDIRECT), ("code_verifier", app.verifier)]  # fmt: skip
    r = post(world, oauth.TOKEN_PATH, form)
    assert r.status_code == 400 and r.json()["error"] == "invalid_request", r.text
    assert "'code'" in r.json()["error_description"]
    # The same parameter once in the query and once in the body is repeated too.
    r = requests.post(
        world.base + oauth.TOKEN_PATH + "?grant_type=authorization_code",
        data=dict(form[:2] + form[3:]),
        auth=("creco", "creco-secret"),
        timeout=10,
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_request", r.text
    token = app.exchange(back)  # the code was not spent by the refused requests
    assert token["access_token"]

    for path in (oauth.REVOKE_PATH, oauth.INTROSPECT_PATH):
        twice = [("token", token["refresh_token"]), ("token", "other")]
        r = post(world, path, twice)
        assert r.status_code == 400 and r.json()["error"] == "invalid_request", (path, r.text)
        hinted = [("token", token["access_token"]), ("token_type_hint", "access_token"),
                  ("token_type_hint", "refresh_token")]  # fmt: skip
        r = post(world, path, hinted)
        assert r.status_code == 400 and r.json()["error"] == "invalid_request", (path, r.text)
    # Nothing was revoked by the refused revocations.
    assert introspect(world, token["refresh_token"])["active"] is True
    assert api(world, token["access_token"]) == 200
    app.close()


# -- a refresh token's own life -----------------------------------------------------------


def test_a_refresh_token_introspects_with_its_own_exp(world: World) -> None:
    """A refresh token lives as long as its grant (30 days, or the bank's 認可期間,
    R-AUTHZ-1), not the access token's 15 minutes: it introspects with that ``exp``,
    active after the access token expired, inactive once the grant has ended; and
    from the uninstall notice, with the end of the grace period (R-AUTHZ-4)."""
    _, token = link(world)
    grant = grant_of(world, token)
    ends = instant(grant["ends_at"])
    seen = introspect(world, token["refresh_token"])
    assert seen["active"] is True and seen["exp"] == ends and "token_type" not in seen
    assert ends - seen["iat"] == (instant(grant["expires_at"]) - instant(grant["granted_at"]))
    assert ends - seen["iat"] >= 7 * 86400  # days, not the access token's minutes

    world.advance(ACCESS_SECONDS + 60)
    assert introspect(world, token["access_token"]) == {"active": False}
    assert api(world, token["access_token"]) == 401
    assert introspect(world, token["refresh_token"])["exp"] == ends  # still active
    renewed = refresh(world, token["refresh_token"])
    assert renewed.status_code == 200, renewed.text
    last = renewed.json()["refresh_token"]

    now = instant(TUESDAY) + ACCESS_SECONDS + 60
    world.advance(ends - now - 60)  # a minute before the grant ends
    seen = introspect(world, last)
    assert seen["active"] is True and seen["exp"] == ends
    world.advance(60)
    assert introspect(world, last) == {"active": False}
    ended = refresh(world, last)
    assert ended.status_code == 400 and ended.json()["error"] == "invalid_grant"

    world.set_clock()
    _, other = link(world)
    grant = grant_of(world, other)
    r = world.control("POST", uninstall_path(grant["grant_id"]))
    assert r.status_code == 200, r.text
    assert introspect(world, other["refresh_token"])["exp"] == instant(r.json()["ends_at"])


# -- the family of a rotated-out refresh token --------------------------------------------


def test_a_rotated_out_refresh_token_ends_the_whole_family(world: World) -> None:
    """RFC 9700 §4.14.2: the refresh token of two rotations ago comes back. The grant
    ends: the newest refresh token and every access token of it stop working, the
    operator's listing shows the grant revoked by the bank, and the operation log
    says why."""
    _, first = link(world)
    second = refresh(world, first["refresh_token"]).json()
    third = refresh(world, second["refresh_token"]).json()
    assert api(world, third["access_token"]) == 200

    reused = refresh(world, first["refresh_token"])
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    for token in (second, third):
        assert api(world, token["access_token"]) == 401
        assert introspect(world, token["access_token"]) == {"active": False}
        assert introspect(world, token["refresh_token"]) == {"active": False}
    newest = refresh(world, third["refresh_token"])
    assert newest.status_code == 400 and newest.json()["error"] == "invalid_grant"
    grant = next(g for g in world.grants() if g["revoked_by"] == "bank" and not g["active"])
    log = world.control("GET", OPLOG_PATH).json()["entries"]
    assert any(
        e["kind"] == "refresh_token_reuse" and grant["grant_id"] in str(e["detail"]) for e in log
    ), log


def test_two_refreshes_with_one_token_at_once_end_the_family(tmp_path: Path) -> None:
    """The race of two refreshes with one token, made certain: the second request
    read the token before the first rotated it (its store answers the stale row).
    Of the two, one rotates it; the other finds it rotated when it comes to rotate,
    and the family ends, the tokens just issued to the first included."""
    config = replace(bank_config(tmp_path, OPERATOR), telephony_secret=TELEPHONY)
    bank = start_in_thread(config, load_scenario(resources.scenario("default")))
    try:
        root = World("root", bank.url, bank.url, BANKS["9901"].personas["manual"], TELEPHONY)
        root.set_clock()
        _, token = link(root)
        tokens = bank.service.tokens
        stale = tokens.by_refresh(token["refresh_token"])
        assert stale is not None
        won = refresh(root, token["refresh_token"])
        assert won.status_code == 200, won.text
        real = tokens.by_refresh

        def before_the_rotation(secret: str) -> StoredToken | None:
            return stale if secret == token["refresh_token"] else real(secret)

        tokens.by_refresh = before_the_rotation  # type: ignore[method-assign]
        try:
            lost = refresh(root, token["refresh_token"])
        finally:
            tokens.by_refresh = real  # type: ignore[method-assign]
        assert lost.status_code == 400 and lost.json()["error"] == "invalid_grant", lost.text
        assert api(root, won.json()["access_token"]) == 401
        assert refresh(root, won.json()["refresh_token"]).json()["error"] == "invalid_grant"
        assert [g["revoked_by"] for g in root.grants()] == ["bank"]
    finally:
        bank.stop()


def test_the_store_rotates_once_and_forgets_a_revoked_access_token(database_url: str) -> None:
    """SqlTokens on SQLite and PostgreSQL: of two rotations of one row, one ends it;
    an access token revoked alone is unknown (even given as its own stored hash),
    and its refresh token is not."""
    engine = open_database(database_url)
    try:
        tokens = SqlTokens(engine)
        now = dt.datetime.fromisoformat(TUESDAY)
        stored = StoredToken(
            digest("access"), digest("refresh"), "g-1", "creco", "accounts", now,
            now + dt.timedelta(seconds=ACCESS_SECONDS),
        )  # fmt: skip
        tokens.add_token(stored)
        found = tokens.lookup("refresh")
        assert found is not None and found.kind == "refresh_token"
        assert tokens.by_access("refresh") is None and tokens.by_refresh("access") is None
        tokens.revoke_access(stored.access_hash)
        assert tokens.by_access("access") is None and tokens.find("access") is None
        assert tokens.by_access(stored.access_hash) is None  # the hash is no token
        kept = tokens.by_refresh("refresh")
        assert kept is not None and kept.revoked_at is None
        assert kept.access_hash.startswith(REVOKED_ACCESS) and len(kept.access_hash) == 64
        assert tokens.revoke(kept.access_hash, now) is True
        assert tokens.revoke(kept.access_hash, now) is False  # already rotated out
    finally:
        engine.dispose()


# -- the issuer ---------------------------------------------------------------------------


def test_the_issuer_comes_from_configuration_never_from_the_host_header(tmp_path: Path) -> None:
    """RFC 8414 §3.3, INTERFACE.md §1: ``renkei serve --issuer https://bank.example.jp``
    on a loopback port. ``Host: evil.example`` (and the forwarded headers) change
    neither the root's metadata nor a sandbox's or a bank's, at either place, nor
    any URL in them, nor a sandbox's ``base_url``, nor the ``iss`` of an
    authorization response, error or not."""
    issuer = "https://bank.example.jp"
    url, process = serve(tmp_path, issuer)
    evil = {"Host": "evil.example", "X-Forwarded-Host": "evil.example",
            "X-Forwarded-Proto": "http", "Forwarded": "host=evil.example"}  # fmt: skip
    try:
        r = requests.post(
            url + SANDBOXES_PATH,
            json={"scenario": "platform"},
            headers={"Authorization": f"Bearer {OPERATOR}", **evil},
            timeout=10,
        )
        assert r.status_code == 201, r.text
        made = r.json()
        sandbox = f"{issuer}/s/{made['id']}"
        assert made["base_url"] == made["issuer"] == sandbox
        places = {
            issuer: [oauth.METADATA_PATH],
            issuer + banks.bank_base("9903"): [
                banks.bank_base("9903") + oauth.METADATA_PATH,
                oauth.METADATA_PATH + banks.bank_base("9903"),
            ],
            sandbox: [
                f"/s/{made['id']}{oauth.METADATA_PATH}",
                f"{oauth.METADATA_PATH}/s/{made['id']}",
            ],
            sandbox + banks.bank_base("9902"): [
                f"/s/{made['id']}{banks.bank_base('9902')}{oauth.METADATA_PATH}",
                f"{oauth.METADATA_PATH}/s/{made['id']}{banks.bank_base('9902')}",
            ],
        }
        for expected, paths in places.items():
            for path in paths:
                served = requests.get(url + path, headers=evil, timeout=10)
                assert served.status_code == 200, (path, served.text)
                body = served.json()
                assert body["issuer"] == expected, (path, body)
                urls = [v for k, v in body.items() if k.endswith(("_endpoint", "_documentation"))]
                assert urls and all(u.startswith(expected + "/") for u in urls), (path, body)
                assert body["authorization_response_iss_parameter_supported"] is True

        app = PartnerApp(url)
        asked = app.authorize_url()
        for broken in (asked + "&state=again", asked.replace("S256", "plain")):
            r = requests.get(broken, headers=evil, allow_redirects=False, timeout=10)
            assert r.status_code == 302, r.text
            assert query(r.headers["Location"])["iss"] == issuer
        app.close()
    finally:
        stop(process)


def test_serve_takes_one_issuer_option(tmp_path: Path) -> None:
    """``--issuer`` is the option; ``--public-url``, its name before, is the same
    option; an issuer that is no origin is one line naming the option typed."""
    for option in ("--issuer", "--public-url"):
        r = subprocess.run(
            [sys.executable, "-m", "simulator.serve", "--port", str(free_port()),
             "--data-dir", str(tmp_path), option, "https://bank.example.jp/path"],
            check=False, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert r.returncode == 2
        assert r.stderr.strip() == (
            f"renkei: {option} wants an origin such as https://host[:port], "
            "not 'https://bank.example.jp/path'"
        )
    shown = subprocess.run(
        [sys.executable, "-m", "simulator.serve", "--help"],
        check=False, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert "--issuer URL" in shown.stdout and "--public-url" not in shown.stdout
