"""Steps of features/platform.feature (R-PLAT-4): sandboxes are isolated worlds.

Each scenario makes sandboxes of its own with ``POST /sandboxes`` (INTERFACE.md
§9), with the operator's token, and the ``worlds`` fixture deletes every one of
them after the scenario, whether its steps passed or not. They are not the
sandbox the features run in: in ``renkei conform -n N`` each worker's ``target``
is a sandbox of its own whose admin token works on that sandbox alone (§9: it
cannot create), so the operator's URL and token are read from the options, as
harness.plugin was given them.

A target without §9 (``POST /sandboxes`` answers 404 or 405) fails each
scenario at its first step, with a message saying that the target does not
conform to R-PLAT-4, rather than an error of the harness.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from pytest_bdd import given, parsers, then, when

from harness.driver import (
    TIMEOUT,
    NoSandboxes,
    PartnerApp,
    Platform,
    Sandbox,
    SandboxInfo,
    SandboxRefused,
)
from harness.embedded import Target
from harness.personas import DEFAULT_FILE, Persona
from harness.steps.helpers import (
    FAULTS,
    WEEKDAY,
    WEEKDAYS,
    Visit,
    header,
    lock,
    lock_of,
    retry_after_is,
    sandbox_now,
    start_visit,
    walk_to,
)
from renkei.contract import api, oauth
from renkei.contract.screens import SCREEN_PATHS, Screen

#: How long a sandbox made here lives if a run dies before deleting it (§9's
#: ``ttl_seconds``): long enough for any scenario, short enough that the
#: server removes what a killed run left behind within minutes.
TTL_SECONDS: Final = 900
#: The answers a screen of a deleted sandbox may give: the flow is unknown (403
#: ``flow_lost``, as a cookie the bank never issued, INTERFACE.md §2) or the whole
#: sandbox is (404, docs/sandboxes.md: ``sandbox_not_found``).
UNKNOWN_STATUSES: Final = (403, 404)


@dataclass(repr=False)
class World:
    """One sandbox a scenario made: where it is, its controls (§6 with its own admin
    token) and the customers' visits in it, the newest last. Shown (in a failed
    assertion, so in the report) by name and base URL, never with its secrets."""

    name: str
    info: SandboxInfo
    target: Target
    controls: Sandbox
    visits: list[Visit] = field(default_factory=list)
    deleted: bool = False

    @property
    def visit(self) -> Visit:
        """The newest visit: the one whose screen the steps look at."""
        assert self.visits, f"no customer has started API連携認証 in sandbox {self.name!r}"
        return self.visits[-1]

    @property
    def with_tokens(self) -> Visit:
        """The newest visit whose partner app received tokens."""
        done = [v for v in self.visits if v.tokens]
        assert done, f"no partner app received tokens in sandbox {self.name!r}"
        return done[-1]

    def __repr__(self) -> str:
        return f"World({self.name!r}, {self.info.base_url!r}, deleted={self.deleted})"

    def close(self) -> None:
        for visit in self.visits:
            visit.close()
        self.controls.close()


@pytest.fixture(scope="session")
def platform(request: pytest.FixtureRequest, target: Target) -> Iterator[Platform]:
    """The operator's hand on the target's sandboxes (§9).

    Asking for ``target`` first means the server answers by now (the embedded one
    has started, a worker's own sandbox exists). With ``--sandbox-each``
    (harness.plugin) that target is the worker's sandbox and its token works there
    alone, so the server's URL and the operator's token are the options';
    otherwise the target is the server itself, with the operator's token."""
    config = request.config
    url = config.getoption("--target")
    if url and config.getoption("--sandbox-each"):
        hand = Platform(str(url).rstrip("/"), str(config.getoption("--admin-token")))
    else:
        hand = Platform(target.url, target.admin_token)
    yield hand
    hand.close()


@pytest.fixture(scope="session")
def platform_scenario(request: pytest.FixtureRequest) -> str | None:
    """The scenario the sandboxes are made from: ``--personas`` sent inline, so that
    the customers the steps name are there (None: the server's shipped ``default``)."""
    given = Path(request.config.getoption("--personas"))
    return None if given == DEFAULT_FILE else given.read_text("utf-8")


@pytest.fixture
def worlds(platform: Platform) -> Iterator[dict[str, World]]:
    """The sandboxes this scenario made, by the name the feature gives them; each is
    deleted after the scenario, passed or failed. One that cannot be deleted fails
    the scenario's teardown: it would hold the server's room until its TTL."""
    made: dict[str, World] = {}
    yield made
    problems = delete_worlds(platform, made)
    assert not problems, "could not delete: " + "; ".join(problems)


def delete_worlds(platform: Platform, worlds: dict[str, World]) -> list[str]:
    """Close every sandbox's sessions and delete those not deleted yet, each tried
    whatever the one before answered; what went wrong with each that failed."""
    problems = []
    for world in worlds.values():
        world.close()
        if world.deleted:
            continue
        try:
            platform.delete(world.info.id)
        except (SandboxRefused, requests.RequestException) as e:
            problems.append(f"sandbox {world.name!r} ({world.info.id}): {e}")
        else:
            world.deleted = True
    return problems


def make_world(
    platform: Platform,
    scenario: str | None,
    worlds: dict[str, World],
    name: str,
    *,
    requirement: str = "R-PLAT-4",
) -> World:
    """A new sandbox named ``name`` in the feature, its clock on a weekday morning
    and its faults off (a new sandbox's clock is the server's; the steps say when
    they want another). A target without §9 fails here, with the reason and the
    ``requirement`` the sandbox was for."""
    assert name not in worlds, f"sandbox {name!r} is made twice in one scenario"
    try:
        info = platform.create(
            yaml=scenario, label=f"{requirement} {name}", ttl_seconds=TTL_SECONDS
        )
    except NoSandboxes as e:
        raise AssertionError(
            f"the target does not conform to {requirement}: it serves no sandboxes "
            f"(INTERFACE.md §9): {e}"
        ) from None
    except SandboxRefused as e:
        # The status first: the report shows the start of the message.
        raise AssertionError(f"the target refused a sandbox for {requirement}: {e}") from None
    except requests.RequestException as e:
        raise AssertionError(
            f"the target did not answer POST /sandboxes ({requirement}): {e}"
        ) from None
    base = info.base_url.rstrip("/")
    world = World(
        name,
        info,
        Target(base, info.admin_token, info.telephony_secret),
        Sandbox(base, info.admin_token),
    )
    worlds[name] = world  # from here on the fixture deletes it, whatever follows
    world.controls.faults_off()
    world.controls.set_clock(WEEKDAY)
    return world


def world_of(worlds: dict[str, World], name: str) -> World:
    assert name in worlds, f"no sandbox {name!r} in this scenario (made: {sorted(worlds)})"
    return worlds[name]


def introspect_at(base: str, app: PartnerApp, token: str) -> requests.Response:
    """RFC 7662 introspection of ``token`` at the sandbox at ``base``, as ``app``
    (registered in every sandbox of the same scenario under the same credentials)."""
    return app.http.post(
        base + oauth.INTROSPECT_PATH,
        data={"token": token},
        auth=(app.client_id, app.client_secret),
        timeout=TIMEOUT,
    )


# -- making sandboxes and setting them ------------------------------------------------------


@given(parsers.parse('サンドボックス "{first}" と "{second}" がある'))
def two_worlds(
    platform: Platform,
    platform_scenario: str | None,
    worlds: dict[str, World],
    first: str,
    second: str,
) -> None:
    for name in (first, second):
        make_world(platform, platform_scenario, worlds, name)


@given(parsers.parse('サンドボックス "{name}" の時計が {weekday}曜日の "{instant}" を指している'))
def world_clock(worlds: dict[str, World], name: str, weekday: str, instant: str) -> None:
    """The example's weekday is checked first, as features/hours.feature does."""
    moment = dt.datetime.fromisoformat(instant)
    assert moment.utcoffset() == dt.timedelta(hours=9), f"{instant} is not JST"
    actual = WEEKDAYS[moment.weekday()]
    assert actual == weekday, f"{instant} is a {actual}曜日, not a {weekday}曜日"
    world_of(worlds, name).controls.set_clock(instant)


@given(parsers.parse('サンドボックス "{name}" で障害 "{fault}" が起きている'))
def world_fault(worlds: dict[str, World], name: str, fault: str) -> None:
    world_of(worlds, name).controls.faults(**{FAULTS[fault]: True})


@when(parsers.parse('サンドボックス "{name}" の障害が解消する'))
def world_faults_off(worlds: dict[str, World], name: str) -> None:
    world_of(worlds, name).controls.faults()


@when(parsers.parse('サンドボックス "{name}" を削除する'))
def delete_world(platform: Platform, worlds: dict[str, World], name: str) -> None:
    """``DELETE /sandboxes/{id}`` answers 204 (§9)."""
    world = world_of(worlds, name)
    assert platform.delete(world.info.id), f"sandbox {world.info.id} was already gone"
    world.deleted = True


@given(
    parsers.parse(
        'お客様 "{persona_id}" の口座がサンドボックス "{name}" で本人認証の誤り {failures:d} 回で'
        "ロックされている"
    )
)
def locked_in(
    worlds: dict[str, World],
    personas: dict[str, Persona],
    persona_id: str,
    name: str,
    failures: int,
) -> None:
    """R-ERR-HOST-3's lockout, in a browser of its own; the sandbox is deleted after
    the scenario, so nothing needs unlocking."""
    lock(world_of(worlds, name).target, personas[persona_id], failures)


# -- customers in a sandbox -----------------------------------------------------------------


@given(parsers.parse('お客様 "{persona_id}" がサンドボックス "{name}" で API連携認証を始める'))
@when(parsers.parse('お客様 "{persona_id}" がサンドボックス "{name}" で API連携認証を始める'))
def begin_in(
    worlds: dict[str, World], personas: dict[str, Persona], persona_id: str, name: str
) -> None:
    world = world_of(worlds, name)
    world.visits.append(start_visit(world.target, personas[persona_id]))


@when(parsers.parse('サンドボックス "{name}" で画面 "{screen}" まで正しく進む'))
def walk_in(worlds: dict[str, World], name: str, screen: str) -> None:
    walk_to(world_of(worlds, name).visit, screen)


@when(
    parsers.parse(
        'お客様 "{persona_id}" がサンドボックス "{name}" で API連携認証を最後まで済ませ、'
        "連携元アプリがトークンを受け取る"
    )
)
def complete_in(
    worlds: dict[str, World], personas: dict[str, Persona], persona_id: str, name: str
) -> None:
    """Screens ① to ⑥ with the right answers, 「許可する」, and the code exchanged."""
    world = world_of(worlds, name)
    visit = start_visit(world.target, personas[persona_id])
    world.visits.append(visit)
    walk_to(visit, Screen.CONSENT.value)
    visit.press(SCREEN_PATHS[Screen.CONSENT.value], {"decision": "allow", "agree": "1"})
    assert visit.returned, (visit.last.status, visit.last.body)
    assert "code" in dict(parse_qsl(urlsplit(visit.returned).query)), visit.returned
    visit.tokens = visit.app.exchange(visit.returned)
    assert visit.tokens.get("access_token"), visit.tokens


@when(parsers.parse('サンドボックス "{name}" の画面②でお客様情報を正しく入力して「次へ」を押す'))
def enter_details_in(worlds: dict[str, World], name: str) -> None:
    visit = world_of(worlds, name).visit
    visit.press(SCREEN_PATHS[Screen.CUSTOMER.value], visit.persona.details())


# -- what a sandbox answers -----------------------------------------------------------------


@then(parsers.parse('サンドボックス "{name}" では画面 "{screen}" が表示される'))
def shown_in(worlds: dict[str, World], name: str, screen: str) -> None:
    answer = world_of(worlds, name).visit.last
    assert (answer.status, answer.screen_id) == (200, screen), (answer.status, answer.body)
    assert not answer.codes, answer.body


@then(
    parsers.parse(
        'サンドボックス "{name}" ではステータス {status:d} でエラー "{code}" が表示される'
    )
)
def error_in(worlds: dict[str, World], name: str, status: int, code: str) -> None:
    answer = world_of(worlds, name).visit.last
    assert (answer.status, answer.codes) == (status, [code]), (answer.status, answer.body)


@then(parsers.parse('サンドボックス "{name}" の Retry-After は "{expected}" である'))
def retry_after_in(worlds: dict[str, World], name: str, expected: str) -> None:
    retry_after_is(world_of(worlds, name).visit.last, expected)


@then(parsers.parse('サンドボックス "{name}" の時計は "{instant}" を指している'))
def clock_in(worlds: dict[str, World], name: str, instant: str) -> None:
    """GET /sandbox/clock of that sandbox: the instant it was frozen at, whatever
    another sandbox's clock was set to after it."""
    now = sandbox_now(world_of(worlds, name).controls)
    assert now == dt.datetime.fromisoformat(instant), f"{name}: {now.isoformat()}"


@then(
    parsers.parse(
        'サンドボックス "{issuer}" のアクセストークンでサンドボックス "{name}" の口座照会ができる'
    )
)
def can_read_in(worlds: dict[str, World], issuer: str, name: str) -> None:
    visit = world_of(worlds, issuer).with_tokens
    base = world_of(worlds, name).target.url
    r = visit.app.http.get(
        base + api.ACCOUNTS_PATH,
        timeout=TIMEOUT,
        headers={"Authorization": f"Bearer {visit.tokens['access_token']}"},
    )
    assert r.status_code == 200, (r.status_code, r.text)
    assert r.json()["accounts"][0]["accountId"] == visit.persona.account_id, r.text


@then(
    parsers.parse(
        'サンドボックス "{issuer}" のアクセストークンはサンドボックス "{name}" の口座APIで '
        '{status:d} "{code}" で断られる'
    )
)
def refused_in(worlds: dict[str, World], issuer: str, name: str, status: int, code: str) -> None:
    """The token is unknown there: 401 ``invalid_token`` with a Bearer challenge
    (INTERFACE.md §5), as a token that sandbox never issued."""
    visit = world_of(worlds, issuer).with_tokens
    base = world_of(worlds, name).target.url
    r = visit.app.http.get(
        base + api.ACCOUNTS_PATH,
        timeout=TIMEOUT,
        headers={"Authorization": f"Bearer {visit.tokens['access_token']}"},
    )
    assert r.status_code == status, (r.status_code, r.text)
    assert r.json().get("errorCode") == code, r.text
    assert (header(r, "WWW-Authenticate") or "").startswith("Bearer"), r.headers


@then(
    parsers.parse(
        'サンドボックス "{issuer}" のアクセストークンはサンドボックス "{name}" の'
        "イントロスペクションで{state}である"
    )
)
def introspected_in(worlds: dict[str, World], issuer: str, name: str, state: str) -> None:
    """RFC 7662: 有効 = ``active`` true for this client; 無効 = ``active`` false."""
    assert state in ("有効", "無効"), f"イントロスペクションで 有効 or 無効, not {state}"
    visit = world_of(worlds, issuer).with_tokens
    r = introspect_at(world_of(worlds, name).target.url, visit.app, visit.tokens["access_token"])
    assert r.status_code == 200, (r.status_code, r.text)
    body: dict[str, Any] = r.json()
    if state == "有効":
        assert body.get("active") is True, body
        assert body.get("client_id") == visit.app.client_id, body
    else:
        assert body.get("active") is False, body


@then(
    parsers.parse(
        'お客様 "{persona_id}" の口座はサンドボックス "{locked}" ではロックされ、'
        'サンドボックス "{free}" ではロックされていない'
    )
)
def locked_only_in(
    worlds: dict[str, World], personas: dict[str, Persona], persona_id: str, locked: str, free: str
) -> None:
    """GET /admin/locks of each sandbox: the lock is the one sandbox's alone."""
    account = personas[persona_id].account_id
    there = lock_of(world_of(worlds, locked).controls, account)
    elsewhere = lock_of(world_of(worlds, free).controls, account)
    assert there is not None, f"{account} is not locked in sandbox {locked!r}"
    assert elsewhere is None, f"{account} is locked in sandbox {free!r} too: {elsewhere}"


@then(
    parsers.parse(
        'お客様 "{persona_id}" への完了メールはサンドボックス "{has}" に1通だけあり、'
        'サンドボックス "{none}" にはない'
    )
)
def mail_only_in(
    worlds: dict[str, World], personas: dict[str, Persona], persona_id: str, has: str, none: str
) -> None:
    """GET /sandbox/mail of each sandbox (R-AUTHZ-5's completion mail): each
    sandbox's mailbox holds what was sent in it alone."""
    email = personas[persona_id].email
    sent = [m for m in world_of(worlds, has).controls.mail() if m["to"] == email]
    leaked = [m for m in world_of(worlds, none).controls.mail() if m["to"] == email]
    assert len(sent) == 1, f"mail to {email} in sandbox {has!r}: {sent}"
    assert leaked == [], f"mail to {email} in sandbox {none!r}: {leaked}"


@then(
    parsers.parse(
        '削除したサンドボックス "{name}" のアクセストークンは、その口座APIでも'
        "イントロスペクションでも断られる"
    )
)
def refused_when_deleted(worlds: dict[str, World], name: str) -> None:
    """At the deleted sandbox's own base URL the token works no more (§9: its tokens
    answer as unknown): the account API refuses it (401, or 404 for the sandbox
    itself) and introspection says it is not active, or refuses to answer at all."""
    world = world_of(worlds, name)
    assert world.deleted, f"sandbox {name!r} has not been deleted"
    visit = world.with_tokens
    token = visit.tokens["access_token"]
    r = visit.app.http.get(
        world.target.url + api.ACCOUNTS_PATH,
        timeout=TIMEOUT,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code in (401, 404), (r.status_code, r.text)
    seen = introspect_at(world.target.url, visit.app, token)
    if seen.status_code == 200:
        assert seen.json().get("active") is False, seen.text
    else:
        assert seen.status_code in (401, 404), (seen.status_code, seen.text)


@then(
    parsers.parse(
        '削除したサンドボックス "{name}" の画面は、フロー cookie のあるブラウザでも'
        "知らないものとして断られる"
    )
)
def screens_gone(worlds: dict[str, World], name: str) -> None:
    """The browser that was on a screen of the sandbox keeps its flow cookie; the
    screen it was on, asked again with it, is not shown (403 ``flow_lost`` or 404)."""
    world = world_of(worlds, name)
    assert world.deleted, f"sandbox {name!r} has not been deleted"
    visit = world.visit
    path = visit.current_path()
    assert visit.browser.session.cookies, "the browser holds no flow cookie to present"
    answer = visit.show(path)
    assert answer.status in UNKNOWN_STATUSES, (answer.status, answer.body or answer.text[:300])
    assert answer.screen_id is None, answer.body
    if answer.status == 403:
        assert answer.codes == ["flow_lost"], answer.body
