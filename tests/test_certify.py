"""``renkei certify``: the plan, the proxy, the judges, the certificate,
and renkei's own apps playing the plan against the embedded sandbox.

Acceptance: the reference app passes every check; the misbehaving app fails
exactly the checks it breaks — each misbehaviour alone, and all four together,
where the missing PKCE keeps the app from ever linking so that every check
needing a link is "not judged" — and bad options are one clear line with exit
status 2.

The live runs go in parallel, each against an embedded sandbox of its own or
in a sandbox certify makes of a ``--target`` (INTERFACE.md §9), with a short
``--hold``: certify moves the sandbox clock rather than waiting, so a run takes
seconds. On a target, certify leaves the root's world and other sandboxes as
they were and deletes its own; ``--root`` certifies on the root as before.
"""

from __future__ import annotations

import io
import json
import re
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from servers import bank_without_sandboxes

from harness.certify.checks import SendsUnguessableState
from harness.certify.judge import Evidence, Result, SituationRun, decide
from harness.certify.plan import PLAN, Severity, checks, situation
from harness.certify.proxy import CertifyProxy, Recorder
from harness.certify.record import Exchange, fingerprint, masked
from harness.certify.reference import MISBEHAVIOURS, PLAYS
from harness.driver import Platform
from harness.embedded import Target, embedded_sandbox, free_port
from harness.requirements import load
from renkei.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "scenarios" / "default.yaml"
TRAFFIC = ROOT / "scenarios" / "traffic" / "weekday.yaml"  # YAML, but no scenario
REDIRECT = "http://127.0.0.1:8765/callback"
RFC = re.compile(r"RFC (6749|7636|6750|7009|9110) §\d+(\.\d+)*")

#: The checks each misbehaviour breaks, and only those (harness/certify/reference.py).
BROKEN: dict[str, set[str]] = {
    # Refused at authorization (RFC 7636): nothing else happens that could fail.
    "no-pkce": {"happy-path.pkce"},
    "ignores-state": {"forged-state.refused", "code-replay.once"},
    "no-backoff": {
        "cancel.no-loop",
        "locked.no-loop",
        "b84.no-loop",
        "closed-authorize.no-storm",
        "congested-authorize.no-storm",
        "closed-api.retry-after",
        "congested-api.retry-after",
        "moved.stops-old",
        "transactions.limit",
    },
    "ignores-invalid-grant": {
        "grant-ends.relink",
        "grant-ends.stops-old",
        "revoked.relink",
        "revoked.stops-old",
    },
}
#: Without PKCE the app never links: everything that needs a link, a code, a
#: token or the customer in the screens past ① cannot be judged.
UNJUDGED_WITHOUT_LINK = {c.id for c in checks()} - {
    "happy-path.pkce",
    "happy-path.state",
    "happy-path.fresh",
    "happy-path.redirect-uri",
    "token-expiry.rotation",
}


def certify_run(argv: list[str]) -> tuple[int, str]:
    """``renkei certify ARGV`` in this process, its output kept apart from other runs."""
    args = build_parser().parse_args(["certify", *argv])
    out = io.StringIO()
    status: int = args.handler(args, out)
    return status, out.getvalue()


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    """A sandbox started apart, for the runs with ``--target``."""
    with embedded_sandbox() as t:
        yield t


@pytest.fixture(scope="module")
def runs(target: Target, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The reference app, each misbehaviour alone, all four together, and an app
    nobody uses: one certificate each. Lanes run in parallel, each run of a lane
    after the other; the last lane speaks to ``--target``, each run in a sandbox
    of its own that it deletes at the end, but for the idle app's run, which
    certifies on the target's root (``--root``, which certify resets); the
    others to an embedded sandbox of their own."""
    plays: dict[str, str | None] = {
        "reference": "reference",
        "misbehaving": "misbehaving",
        **{fault: f"misbehaving:{fault}" for fault in MISBEHAVIOURS},
        "idle": None,  # nobody uses the app: every situation times out
    }
    lanes = [
        ["reference"],
        ["ignores-state"],
        ["no-backoff"],
        ["ignores-invalid-grant", "no-pkce", "misbehaving", "idle"],
    ]
    targeted = set(lanes[-1])

    def one(name: str) -> dict[str, Any]:
        out = tmp_path_factory.mktemp(name)
        play = plays[name]
        argv = ["--client-id", "creco", "--hold", "0.5", "--out", str(out)]
        argv += ["--timeout", "0.2"] if play is None else ["--play", play, "--timeout", "30"]
        if name in targeted:
            argv += ["--target", target.url, "--admin-token", target.admin_token]
        if name == "idle":
            argv += ["--root"]
        status, printed = certify_run(argv)
        data: dict[str, Any] = json.loads((out / "certificate.json").read_text("utf-8"))
        html = (out / "certificate.html").read_text("utf-8")
        return {"status": status, "printed": printed, "data": data, "html": html}

    def lane(names: list[str]) -> dict[str, dict[str, Any]]:
        return {name: one(name) for name in names}

    done: dict[str, dict[str, Any]] = {}
    with ThreadPoolExecutor(max_workers=len(lanes)) as pool:
        for finished in pool.map(lane, lanes):
            done.update(finished)
    assert set(done) == set(plays)
    for name in targeted - {"idle"}:
        shown = done[name]["data"]["target"]
        assert re.fullmatch(
            rf"{re.escape(target.url)}/s/[0-9a-f]{{16}} \(a sandbox of {re.escape(target.url)}, "
            r"scenario default\)",
            shown,
        ), shown
    assert done["idle"]["data"]["target"] == target.url
    # Every sandbox certify made is gone.
    assert listed(target) == []
    return done


def listed(target: Target) -> list[dict[str, Any]]:
    """The target's sandboxes (GET /sandboxes, INTERFACE.md §9)."""
    r = requests.get(
        target.url + "/sandboxes",
        headers={"Authorization": f"Bearer {target.admin_token}"},
        timeout=10,
    )
    r.raise_for_status()
    found: list[dict[str, Any]] = r.json()["sandboxes"]
    return found


def results(data: dict[str, Any]) -> dict[str, str]:
    return {c["id"]: c["result"] for s in data["situations"] for c in s["checks"]}


def with_result(data: dict[str, Any], result: str) -> set[str]:
    return {k for k, v in results(data).items() if v == result}


# -- the plan ------------------------------------------------------------------------------------


def test_renkeis_apps_know_what_to_do_in_every_situation() -> None:
    """What the player does is keyed by the situation objects themselves."""
    assert list(PLAYS) == list(PLAN)


def test_check_ids_are_unique_and_named_after_their_situation() -> None:
    ids = [c.id for c in checks()]
    assert len(ids) == len(set(ids))
    for s in PLAN:
        assert all(c.id.startswith(s.id + ".") for c in s.checks), s.id
    assert len({s.id for s in PLAN}) == len(PLAN)


def test_every_check_cites_requirements_that_exist() -> None:
    """Requirement IDs are REQUIREMENTS.md's; the rest are RFC sections."""
    known = set(load().ids())
    for c in checks():
        assert c.requirements, c.id
        for cited in c.requirements:
            assert cited in known or RFC.fullmatch(cited), (c.id, cited)


def test_the_plan_has_every_situation_of_the_issue_and_every_severity() -> None:
    wanted = {
        "happy-path",
        "cancel",
        "locked",
        "b84",
        "closed-authorize",
        "congested-authorize",
        "closed-api",
        "congested-api",
        "token-expiry",
        "grant-ends",
        "revoked",
        "moved",
        "transactions",
        "code-replay",
    }
    assert wanted <= {s.id for s in PLAN}
    assert {c.severity for c in checks()} == set(Severity)
    assert situation("moved").persona == "manual"


def test_the_docs_list_every_check_and_the_readme_points_to_them() -> None:
    docs = (ROOT / "docs" / "certify.md").read_text("utf-8")
    for c in checks():
        assert f"`{c.id}` {c.severity.value}" in docs, c.id
    readme = (ROOT / "README.md").read_text("utf-8")
    section = readme.split("## Certifying a partner app", 1)[1].split("\n## ", 1)[0]
    assert "docs/certify.md" in section and "renkei certify --client-id" in section
    assert readme.index("## Certifying a partner app") < readme.index("## Using the core")


# -- masking (R-AUTHZ-2) -----------------------------------------------------------------------


def test_evidence_masks_every_secret_but_keeps_reuse_visible() -> None:
    secret, code, token, pin = "creco-secret", "c0de-" * 8, "t0ken-" * 8, "1357"
    basic = "Basic Y3JlY286Y3JlY28tc2VjcmV0"  # creco:creco-secret
    token_call = Exchange(
        1,
        "happy-path",
        "act",
        0.1,
        "POST",
        "/oauth/token",
        {},
        {"Authorization": basic, "Cookie": "renkei_flow=abc"},
        form={"grant_type": "authorization_code", "code": code, "code_verifier": token},
        status=200,
        response_json={"access_token": token, "refresh_token": token + "r"},
    )
    redirect = Exchange(
        2,
        "happy-path",
        "act",
        0.2,
        "POST",
        "/connect/pin",
        {"client_secret": secret},
        {},
        form={"pin": pin, "csrf_token": "x" * 40},
        status=302,
        response_headers={"Location": f"http://127.0.0.1:8765/callback?code={code}&state=s"},
    )
    shown = json.dumps([masked(token_call), masked(redirect)], ensure_ascii=False)
    for raw in (secret, code, token, pin, "renkei_flow=abc", "Y3JlY286"):
        assert raw not in shown
    assert "Basic creco:***" in shown
    assert shown.count(fingerprint(code)) == 2  # the same code, recognisable in both places


# -- the judges on made-up records --------------------------------------------------------------


def api_call(seq: int, sent: float, status: int = 200, **query: str) -> Exchange:
    e = Exchange(seq, "transactions", "act", sent, "GET", "/v1/accounts/transactions", query, {})
    e.headers = {"Authorization": "Bearer t"}
    e.answered, e.status = sent + 0.01, status
    return e


def test_paging_is_judged_when_a_page_has_more() -> None:
    """R-ACCT-4: a page with more is followed with its nextItemKey and the same
    dates; a nextItemKey the bank never gave fails."""
    run = SituationRun(situation("transactions"), 14, began=0.0, act_began=0.0, ended=10.0)
    check = next(c for c in situation("transactions").checks if c.id == "transactions.paging")
    first = api_call(1, 1.0, dateFrom="2026-09-01", dateTo="2026-11-24")
    first.response_json = {"hasNext": True, "nextItemKey": "k500", "transactions": []}
    followed = api_call(2, 2.0, dateFrom="2026-09-01", dateTo="2026-11-24", nextItemKey="k500")
    followed.response_json = {"hasNext": False, "transactions": []}
    invented = api_call(3, 3.0, nextItemKey="k999")
    assert decide(check, run, Evidence("creco", [first])).result is Result.FAILED
    assert decide(check, run, Evidence("creco", [first, followed])).result is Result.PASSED
    outcome = decide(check, run, Evidence("creco", [first, followed, invented]))
    assert outcome.result is Result.FAILED and outcome.evidence == (3,)


def test_recovery_counts_an_answer_the_bank_gave_while_its_fault_was_being_lifted() -> None:
    """R-ERR-SYS-2: an app retrying at once can send its request while certify is
    still lifting the congestion, be answered 200 and send nothing more; that is
    recovering (it used to count only requests sent after the lift had ended)."""
    s = situation("congested-api")
    check = next(c for c in s.checks if c.id == "congested-api.recovers")

    def balance(seq: int, sent: float, status: int) -> Exchange:
        e = Exchange(seq, s.id, "act", sent, "GET", "/v1/accounts/balances", {}, {})
        e.headers = {"Authorization": "Bearer t"}
        e.answered, e.status = sent + 0.04, status
        return e

    run = SituationRun(s, 9, began=0.0, act_began=0.0, lifting=2.0, cleared=2.05, ended=3.0)
    refused, during_lift = balance(1, 1.0, 503), balance(2, 2.02, 200)
    assert decide(check, run, Evidence("creco", [refused])).result is Result.FAILED
    outcome = decide(check, run, Evidence("creco", [refused, during_lift]))
    assert outcome.result is Result.PASSED and outcome.evidence == (2,)


def test_redirect_uri_is_compared_exactly_when_the_registration_is_known() -> None:
    """RFC 6749 §3.1.2.2: a bank that lets a near miss through (a trailing slash)
    does not pass the app when certify knows the registered URI; without it, the
    bank's answer is all there is to judge by."""
    run = SituationRun(situation("happy-path"), 1, began=0.0, act_began=0.0, ended=10.0)
    check = next(c for c in situation("happy-path").checks if c.id == "happy-path.redirect-uri")
    query = {"response_type": "code", "client_id": "creco", "redirect_uri": REDIRECT + "/"}
    asked = Exchange(1, "happy-path", "act", 1.0, "GET", "/oauth/authorize", query, {})
    asked.answered, asked.status = 1.01, 200
    lenient = decide(check, run, Evidence("creco", [asked]))
    assert lenient.result is Result.PASSED, lenient.detail
    exact = decide(check, run, Evidence("creco", [asked], (REDIRECT,)))
    assert exact.result is Result.FAILED and exact.evidence == (1,), exact.detail
    asked.query = {**query, "redirect_uri": REDIRECT}
    assert decide(check, run, Evidence("creco", [asked], (REDIRECT,))).result is Result.PASSED


def test_a_rule_states_the_bound_its_judge_applies() -> None:
    """RFC 6749 §10.10: the state's bound is one set of constants, in the rule the
    certificate shows and in the judge alike."""
    default = next(c for c in situation("happy-path").checks if c.id == "happy-path.state")
    assert isinstance(default, SendsUnguessableState)
    assert "at least 22 characters (128 bits in base64url)" in default.rule
    assert "at least 8 different characters" in default.rule
    stricter = SendsUnguessableState(
        default.id, default.title, default.severity, default.requirements, bits=192, variety=12
    )
    assert "at least 32 characters (192 bits in base64url)" in stricter.rule
    assert "at least 12 different characters" in stricter.rule
    run = SituationRun(situation("happy-path"), 1, began=0.0, act_began=0.0, ended=10.0)
    state = "abcdefghijklmnopqrstuv"  # 22 characters, 22 different ones
    query = {"client_id": "creco", "state": state}
    asked = Exchange(1, "happy-path", "act", 1.0, "GET", "/oauth/authorize", query, {})
    asked.answered, asked.status = 1.01, 200
    assert decide(default, run, Evidence("creco", [asked])).result is Result.PASSED
    outcome = decide(stricter, run, Evidence("creco", [asked]))
    assert outcome.result is Result.FAILED and "under 32 characters" in outcome.detail


def test_missing_evidence_is_the_needs_verdict() -> None:
    """A check's declared needs decide 'not judged' and 'not applicable' before its
    judge; evidence that fails a check by itself waives a need."""
    s = situation("transactions")
    limit = next(c for c in s.checks if c.id == "transactions.limit")
    run = SituationRun(s, 14, began=0.0, act_began=0.0, ended=10.0)
    nothing = decide(limit, run, Evidence("creco", []))
    assert nothing.result is Result.NOT_JUDGED and nothing.detail == "the app did not read 明細"
    read = api_call(1, 1.0, dateFrom="2026-09-01", dateTo="2026-11-24")
    never = decide(limit, run, Evidence("creco", [read]))
    assert never.result is Result.NOT_APPLICABLE and never.evidence == (1,)
    # A fresh link comes first in this situation: without it nothing of its own is judged.
    unlinked = SituationRun(s, 14, began=0.0, ended=10.0)
    outcome = decide(limit, unlinked, Evidence("creco", [read]))
    assert outcome.result is Result.NOT_JUDGED and "did not link" in outcome.detail
    # No token request to judge, but the client secret in a URL fails client authentication.
    happy = situation("happy-path")
    auth = next(c for c in happy.checks if c.id == "happy-path.client-auth")
    run = SituationRun(happy, 1, began=0.0, act_began=0.0, ended=10.0)
    query = {"client_id": "creco", "client_secret": "creco-secret"}
    leak = Exchange(1, "happy-path", "act", 1.0, "GET", "/oauth/authorize", query, {})
    leak.answered, leak.status = 1.01, 302
    assert decide(auth, run, Evidence("creco", [])).result is Result.NOT_JUDGED
    leaked = decide(auth, run, Evidence("creco", [leak]))
    assert leaked.result is Result.FAILED and leaked.evidence == (1,)


def test_retry_after_counts_only_while_the_fault_is_on() -> None:
    """RFC 9110 §10.2.3: sooner than Retry-After is a failure; after certify lifted
    the fault the customer may try again at once."""
    s = situation("congested-api")
    check = s.checks[0]
    refusal = Exchange(1, s.id, "act", 1.0, "GET", "/v1/accounts", {}, {}, status=503)
    refusal.answered, refusal.response_headers = 1.01, {"Retry-After": "60"}
    early = Exchange(2, s.id, "act", 1.5, "GET", "/v1/accounts", {}, {}, status=503)
    early.answered = 1.51
    late = Exchange(3, s.id, "reopened", 5.0, "GET", "/v1/accounts", {}, {}, status=200)
    late.answered = 5.01
    run = SituationRun(s, 9, began=0.0, act_began=0.5, cleared=4.0, ended=6.0)
    assert decide(check, run, Evidence("creco", [refusal, late])).result is Result.PASSED
    outcome = decide(check, run, Evidence("creco", [refusal, early, late]))
    assert outcome.result is Result.FAILED and 2 in outcome.evidence
    run_never_met = SituationRun(s, 9, began=0.0, act_began=0.5, ended=6.0)
    assert decide(check, run_never_met, Evidence("creco", [late])).result is Result.NOT_JUDGED


# -- the proxy's own paths ------------------------------------------------------------------------


def test_status_done_and_a_bank_that_does_not_answer() -> None:
    recorder = Recorder()
    dead = f"http://127.0.0.1:{free_port()}"
    proxy = CertifyProxy(dead, recorder).start()
    try:
        before = requests.get(proxy.url + "/_certify/status", timeout=5).json()
        assert before["situation"] is None and before["finished"] is False
        recorder.show(situation="cancel", phase="act", instructions="press 中止する")
        # a long poll answers at once when the version has moved on
        asked = {"version": before["version"], "wait": 30}
        after = requests.get(proxy.url + "/_certify/status", params=asked, timeout=5).json()
        assert after["phase"] == "act" and after["version"] != before["version"]
        page = requests.get(proxy.url + "/_certify/", timeout=5)
        assert "press 中止する" in page.text and "<form" in page.text
        wrong = requests.post(proxy.url + "/_certify/done", json={"situation": "b84"}, timeout=5)
        assert wrong.status_code == 409 and not recorder.is_done("cancel")
        right = requests.post(proxy.url + "/_certify/done", json={"situation": "cancel"}, timeout=5)
        assert right.json()["accepted"] is True and recorder.is_done("cancel")
        r = requests.get(proxy.url + "/v1/accounts", timeout=5)
        assert r.status_code == 502 and r.json()["error"] == "bad_gateway"
        recorded = recorder.snapshot()
        assert [(e.path, e.situation, e.status) for e in recorded] == [
            ("/v1/accounts", "cancel", 502)
        ]
        assert recorded[0].failure
    finally:
        proxy.stop()


# -- bad options -------------------------------------------------------------------------------


def scenario_without_lockout(tmp_path: Path) -> Path:
    data = yaml.safe_load(DEFAULT.read_text("utf-8"))
    data["personas"] = [p for p in data["personas"] if p["id"] != "lockout"]
    path = tmp_path / "no-lockout.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    return path


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--client-id", "nobody"], "'nobody' is not registered"),
        (["--client-id", "creco", "--timeout", "0"], "--timeout must be more than 0"),
        (["--client-id", "creco", "--hold", "-1"], "--hold must be 0 seconds or more"),
        (["--client-id", "creco", "--port", "70000"], "--port must be 0 to 65535"),
        (["--client-id", "creco", "--play", "nice"], "--play must be"),
        (["--client-id", "creco", "--play", "misbehaving:rude"], "unknown misbehaviour 'rude'"),
        (["--client-id", "creco", "--scenario", "/nonexistent.yaml"], "no such file"),
        (["--client-id", "creco", "--scenario", str(TRAFFIC)], "no clients section"),
        (["--client-id", "creco", "--personas", str(DEFAULT)], "--personas is for --target"),
        (["--client-id", "creco", "--target", "http://127.0.0.1:9"], "needs --admin-token"),
        (
            ["--client-id", "creco", "--target", "http://x", "--root", "--scenario", str(DEFAULT)],
            "--scenario is for a sandbox certify makes; with --target --root use --personas",
        ),
        (
            [
                *("--client-id", "creco", "--target", "http://127.0.0.1:9", "--admin-token", "t"),
                *("--play", "reference", "--root"),
            ],
            "needs --client-secret and --redirect-uri",
        ),
        (["--client-id", "creco", "--root"], "--root is for --target"),
        (["--client-id", "creco", "--keep-sandbox"], "--keep-sandbox is for --target"),
        (
            [
                *("--client-id", "creco", "--target", "http://127.0.0.1:9", "--admin-token", "t"),
                *("--root", "--keep-sandbox"),
            ],
            "--keep-sandbox is for a new sandbox; --root makes none",
        ),
        (
            [
                *("--client-id", "creco", "--target", "http://127.0.0.1:9", "--admin-token", "t"),
                *("--client-secret", "s", "--redirect-uri", REDIRECT),
            ],
            "--client-secret and --redirect-uri are for --root",
        ),
        (
            [
                *("--client-id", "creco", "--target", "http://127.0.0.1:9", "--admin-token", "t"),
                *("--scenario", str(DEFAULT), "--personas", str(DEFAULT)),
            ],
            "--scenario and --personas both name the new sandbox's scenario",
        ),
        (
            [
                *("--client-id", "nobody", "--target", "http://127.0.0.1:9", "--admin-token", "t"),
            ],
            f"client 'nobody' is not registered in {DEFAULT}",
        ),
    ],
)
def test_bad_options_are_one_clear_line(
    argv: list[str],
    says: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RENKEI_TARGET", raising=False)
    monkeypatch.delenv("RENKEI_ADMIN_TOKEN", raising=False)
    assert main(["certify", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("renkei certify: ") and says in err, err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_a_scenario_without_the_plans_personas_or_a_target_that_is_not_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "certify",
        "--client-id",
        "creco",
        "--scenario",
        str(scenario_without_lockout(tmp_path)),
    ]
    assert main(argv) == 2
    assert "needs the persona(s) lockout" in capsys.readouterr().err
    nobody = f"http://127.0.0.1:{free_port()}"
    assert main(["certify", "--client-id", "creco", "--target", nobody, "--admin-token", "t"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"renkei certify: cannot reach {nobody}") and err.count("\n") == 1


def test_a_client_the_target_does_not_know(
    target: Target, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["certify", "--client-id", "nobody", "--target", target.url, "--root"]
    assert main([*argv, "--admin-token", target.admin_token]) == 2
    err = capsys.readouterr().err
    assert err == f"renkei certify: client 'nobody' is not registered at {target.url}\n"


def test_a_wrong_admin_token(target: Target, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["certify", "--client-id", "creco", "--target", target.url, "--admin-token", "wrong"]
    assert main([*argv, "--root"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("renkei certify: the sandbox refused certify's controls: ")
    assert "401" in err and err.count("\n") == 1
    # Without --root it is the operator's token that POST /sandboxes refuses.
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "renkei certify: the target made no sandbox: POST /sandboxes answered 401"
    )
    assert err.count("\n") == 1


def test_a_target_without_sandboxes_needs_root(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Certify does not reset a shared root by surprise: without --root, one line
    and exit 2; with it, certify speaks to the root (which here has no controls)."""
    with bank_without_sandboxes() as url:
        argv = ["certify", "--client-id", "creco", "--target", url, "--admin-token", "t"]
        assert main([*argv, "--out", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert err == (
            f"renkei certify: {url} does not serve POST /sandboxes (INTERFACE.md §9); add "
            "--root to certify on its root sandbox, which certify resets\n"
        )
        assert main([*argv, "--root", "--out", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("renkei certify: the sandbox refused certify's controls: ")
        assert "/sandbox/reset" in err and err.count("\n") == 1


def test_a_kept_sandbox_is_printed_and_the_root_is_left_alone(
    target: Target, tmp_path: Path
) -> None:
    """--keep-sandbox: the sandbox certify made is still there at the end, with the
    base URL and admin token printed; the root's clock was never frozen by it. A
    scenario that is not a shipped one goes inline (§9)."""
    controls = {"Authorization": f"Bearer {target.admin_token}"}
    free = requests.delete(target.url + "/sandbox/clock", headers=controls, timeout=10)
    assert free.status_code == 200 and free.json()["frozen"] is False
    argv = ["--client-id", "creco", "--target", target.url, "--admin-token", target.admin_token]
    own = tmp_path / "mine.yaml"
    own.write_text(DEFAULT.read_text("utf-8"), "utf-8")
    argv += ["--keep-sandbox", "--scenario", str(own), "--timeout", "0.2", "--hold", "0"]
    argv += ["--out", str(tmp_path)]
    status, printed = certify_run(argv)
    assert status == 1  # nobody used the app
    kept = re.search(r"^Sandbox kept: (\S+) \(admin token (\S+), telephony secret", printed, re.M)
    assert kept, printed[-2000:]
    base, token = kept.groups()
    own = requests.get(
        base + "/sandbox/clock", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert own.status_code == 200 and own.json()["frozen"] is True
    root = requests.get(target.url + "/sandbox/clock", headers=controls, timeout=10)
    assert root.json()["frozen"] is False
    (made,) = [s for s in listed(target) if s["base_url"] == base]
    assert made["scenario"] == "inline"
    assert Platform(target.url, target.admin_token).delete(made["id"]) is True


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["certify", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--client-id" in out and "--play" in out and "Exit status" in out


def test_a_scenario_the_sandbox_refuses_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The scenario's other faults are the sandbox's to find (the harness reads
    only its clients and personas); its one-line complaint is passed on."""
    data = yaml.safe_load(DEFAULT.read_text("utf-8"))
    data["bogus"] = 1
    path = tmp_path / "bogus.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    assert main(["certify", "--client-id", "creco", "--scenario", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("renkei certify: the embedded sandbox did not start: renkei: ")
    assert "bogus: unknown key" in err and err.count("\n") == 1


def test_a_taken_port_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["certify", "--client-id", "creco", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"renkei certify: the proxy cannot listen on port {port}")
    assert err.count("\n") == 1


# -- renkei's apps play the plan ---------------------------------------------------------------


def test_the_reference_app_passes_every_check(runs: dict[str, dict[str, Any]]) -> None:
    run = runs["reference"]
    assert run["status"] == 0, run["printed"]
    data = run["data"]
    assert data["verdict"] == "passed" and data["exit_status"] == 0
    assert "player_errors" not in data
    assert with_result(data, "passed") == {c.id for c in checks()}
    assert "Verdict: PASSED" in run["printed"]


@pytest.mark.parametrize("fault", MISBEHAVIOURS)
def test_each_misbehaviour_fails_exactly_the_checks_it_breaks(
    fault: str, runs: dict[str, dict[str, Any]]
) -> None:
    run = runs[fault]
    data = run["data"]
    assert run["status"] == 1 and data["verdict"] == "failed", run["printed"]
    assert "player_errors" not in data
    assert with_result(data, "failed") == BROKEN[fault]
    if fault != "no-pkce":
        # Everything it does not break, it passes.
        assert with_result(data, "not judged") == set()
        assert with_result(data, "not applicable") == set()


def test_the_misbehaving_app_fails_pkce_and_can_be_judged_on_nothing_that_needs_a_link(
    runs: dict[str, dict[str, Any]],
) -> None:
    """All four misbehaviours: the bank refuses every authorization request without
    PKCE (RFC 7636), so the app never links; the certificate says so rather than
    failing what it never reached, and is withheld."""
    for name in ("misbehaving", "no-pkce"):
        data = runs[name]["data"]
        assert runs[name]["status"] == 1 and data["verdict"] == "failed"
        assert with_result(data, "failed") == {"happy-path.pkce"}
        assert with_result(data, "not judged") == UNJUDGED_WITHOUT_LINK
        assert with_result(data, "not applicable") == {"token-expiry.rotation"}


def test_an_app_that_does_nothing_is_not_certified(runs: dict[str, dict[str, Any]]) -> None:
    """Every situation times out: nothing can be judged, and the certificate is
    withheld as incomplete rather than passed."""
    run = runs["idle"]
    data = run["data"]
    assert run["status"] == 1 and data["verdict"] == "incomplete"
    assert all(s["timed_out"] for s in data["situations"])
    assert with_result(data, "not applicable") == {"token-expiry.rotation"}
    assert with_result(data, "not judged") == {c.id for c in checks()} - {"token-expiry.rotation"}
    assert "stopped waiting" in run["printed"]


def test_the_certificate_shows_evidence_with_secrets_masked(
    runs: dict[str, dict[str, Any]],
) -> None:
    for name in ("reference", "ignores-state"):
        data, html = runs[name]["data"], runs[name]["html"]
        text = json.dumps(data, ensure_ascii=False)
        assert "creco-secret" not in text and "creco-secret" not in html
        pins = re.findall(r'"pin": "([^"]*)"', text)
        assert pins and set(pins) == {"***"}
        assert '"Authorization": "Basic creco:***"' in text
        shown = {r["seq"] for t in data["situations"] for r in t["requests"]}
        for s in data["situations"]:
            assert s["requests"], s["id"]  # every situation has its record
            for c in s["checks"]:
                assert set(c["evidence"]) <= shown, c["id"]  # evidence the certificate holds
                if c["result"] == "failed":
                    assert c["evidence"], c["id"]
        for c in checks():
            assert c.id in html
    forged = runs["ignores-state"]["data"]["situations"][1]
    assert forged["id"] == "forged-state"
    tampered = [r for r in forged["requests"] if "tampered" in r]
    assert len(tampered) == 1 and tampered[0]["tampered"]["code"].startswith("sha256:")
