"""``GET /openapi.json`` (docs/rules.md): a valid OpenAPI 3.1 document of every
endpoint of INTERFACE.md §1–§6, whose control bodies are the very models the
controls validate with (``simulator.web.schemas``), so that the document
Schemathesis fuzzes and the server's checks cannot drift apart; and a bad body
to each control (INTERFACE.md §6) and to the telephony gateway (§4) is refused
naming the field."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from pydantic import BaseModel, TypeAdapter

from renkei.contract import banks
from renkei.contract.controls import FAULT_SWITCHES
from renkei.contract.screens import SCREENS, Screen
from renkei.contract.telephony import CALLS_PATH, DIGITS_PATTERN, SECRET_HEADER
from simulator.scenario import load_scenario
from simulator.web.app import create_app
from simulator.web.controls import CONTROLS
from simulator.web.schemas import REF, Published
from simulator.web.schemas.controls import AccountRef, Faults, Move, SwitchFaults
from simulator.web.schemas.telephony import Call
from simulator.web.server import build
from simulator.web.service import ServiceConfig

ROOT = Path(__file__).resolve().parents[1]
INTERFACE = ROOT.parent / "shared" / "spec" / "INTERFACE.md"
ADMIN = {"Authorization": "Bearer openapi-admin-token"}
#: The gateway's secret (INTERFACE.md §4), which every report of a call carries.
CARRIER = {SECRET_HEADER: "openapi-telephony-secret"}
ACCOUNT = {"branch_no": "115", "account_type": "1", "account_no": "1100026"}

#: A body each control takes (the manual's customer, a Tuesday in service hours).
GOOD: dict[str, dict[str, Any]] = {
    "SetClock": {"now": "2026-11-24T10:15:00+09:00", "frozen": True},
    "AdvanceClock": {"seconds": 60},
    "SwitchFaults": {"congestion": False},
    "MaintenanceWindow": {
        "start": "2026-11-25T01:00:00+09:00",
        "end": "2026-11-25T02:00:00+09:00",
        "label": "テスト",
    },
    "Reset": {"today": "2026-11-24"},
    "Move": {"from": ACCOUNT, "to": {**ACCOUNT, "branch_no": "022"}},
}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlaskClient]:
    path = tmp_path_factory.mktemp("openapi") / "bank.db"
    config = ServiceConfig(
        database_url=f"sqlite:///{path}",
        admin_token=ADMIN["Authorization"][7:],
        pin_key=b"p" * 32,
        secret_key=b"s" * 32,
        telephony_secret=CARRIER[SECRET_HEADER],
    )
    bank, _ = build(config, load_scenario(ROOT / "scenarios/default.yaml"), embedded_mail=False)
    with create_app(bank).test_client() as client:
        yield client


@pytest.fixture(scope="module")
def document(client: FlaskClient) -> dict[str, Any]:
    answer = client.get("/openapi.json")
    assert answer.status_code == 200
    found: dict[str, Any] = answer.get_json()
    return found


def schema_of(document: dict[str, Any], name: str) -> dict[str, Any]:
    """A schema of the document's components, with the components its $refs reach."""
    return {**document["components"]["schemas"][name], "components": document["components"]}


def test_an_independent_validator_accepts_the_document(document: dict[str, Any]) -> None:
    validate(document)
    assert document["openapi"] == "3.1.0"


def interface_endpoints() -> set[tuple[str, str]]:
    """Every ``METHOD /path`` of INTERFACE.md §1–§6 and each screen's GET and POST,
    with path parameters written ``{}`` (§6 writes ``{branch_no}-{account_type}-…``)."""
    text = INTERFACE.read_text("utf-8").split("## 1.")[1].split("## 7.")[0]
    found = set(re.findall(r"\b(GET|POST|PUT|DELETE) (/[A-Za-z0-9_./{}-]+)", text))
    for path in re.findall(r"^\| [①-⑥].*?\| `(/connect/\w+)`", text, re.MULTILINE):
        found |= {("GET", path), ("POST", path)}
    return {(method.lower(), unnamed(path)) for method, path in found}


def unnamed(path: str) -> str:
    return re.sub(r"\{[^}]+\}(-\{[^}]+\})*", "{}", path)


def test_every_endpoint_of_the_interface_is_in_the_document(document: dict[str, Any]) -> None:
    if not INTERFACE.exists():
        pytest.skip("shared/spec/INTERFACE.md is not beside this checkout")
    expected = interface_endpoints()
    assert len(expected) >= 35  # the tables were read, not skipped
    documented = {
        (method, unnamed(path)) for path, ops in document["paths"].items() for method in ops
    }
    assert expected - documented == set()


def test_every_control_route_is_declared(client: FlaskClient, document: dict[str, Any]) -> None:
    """A control routed without :func:`simulator.web.controls.control` would be
    missing from the document: every route under /sandbox and /admin is in it."""
    assert client.application
    routes = {
        (method.lower(), re.sub(r"<(\w+)>", r"{\1}", rule.rule))
        for rule in client.application.url_map.iter_rules()
        if rule.endpoint.startswith(("sandbox.", "admin."))
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }
    assert len(routes) == len(CONTROLS) == 17
    for method, path in routes:
        operation = document["paths"][path][method]
        assert operation["security"] == [{"adminToken": []}]
        assert {"200", "401"} <= set(operation["responses"])


@pytest.mark.parametrize("control", [c for c in CONTROLS if c.body], ids=lambda c: c.path)
def test_control_bodies_are_the_models_schemas(document: dict[str, Any], control: Any) -> None:
    """The document's body of each control is its model's JSON Schema, $defs and
    all, and its answer the answer's declaration."""
    body = control.body
    assert issubclass(body, BaseModel)
    media = document["paths"][control.path][control.method]["requestBody"]["content"]
    assert media["application/json"]["schema"] == {"$ref": REF.format(model=body.__name__)}
    schema = body.model_json_schema(ref_template=REF, schema_generator=Published)
    components = document["components"]["schemas"]
    for name, definition in schema.pop("$defs", {}).items():
        assert components[name] == definition
    assert components[body.__name__] == schema
    answer = TypeAdapter(control.answer).json_schema(
        mode="serialization", ref_template=REF, schema_generator=Published
    )
    answer.pop("$defs", None)
    assert components[control.answer.__name__] == answer


def test_the_account_of_a_move_has_the_contracts_formats(document: dict[str, Any]) -> None:
    """What ① takes is what a move takes: its fields, with the contract's patterns
    and choices."""
    account = SCREENS[Screen.ACCOUNT]
    assert tuple(AccountRef.model_fields) == account.field_names
    properties = document["components"]["schemas"]["AccountRef"]["properties"]
    for field in account.fields:
        assert properties[field.name] == field.json_schema()


def test_the_fault_switches_are_the_contracts() -> None:
    """The switches, in the contract's order, then whom they are for (INTERFACE.md §10)."""
    assert tuple(SwitchFaults.model_fields) == (*FAULT_SWITCHES, banks.SCOPE)
    assert tuple(Faults.__annotations__) == (*FAULT_SWITCHES, banks.SCOPE)


def bad_bodies(model: type[BaseModel], good: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """Each field of ``model`` (nested ones by their path) with a value no field
    takes, a JSON array, beside good values for the others."""
    for name, field in model.model_fields.items():
        key = field.alias or name
        if isinstance(good.get(key), dict):
            for inner in AccountRef.model_fields:
                yield f"{key}.{inner}", {**good, key: {**good[key], inner: []}}
        yield key, {**good, key: []}


@pytest.mark.parametrize("control", [c for c in CONTROLS if c.body], ids=lambda c: c.path)
def test_a_bad_body_is_refused_naming_the_field(
    client: FlaskClient, document: dict[str, Any], control: Any
) -> None:
    """INTERFACE.md §6: 400 ``invalid_parameter`` whose message names the field; the
    document's schema refuses the same body, and takes the good one the server takes."""
    assert client.post("/sandbox/reset", headers=ADMIN).status_code == 200
    good = GOOD[control.body.__name__]
    validator = Draft202012Validator(schema_of(document, control.body.__name__))
    assert validator.is_valid(good)
    send = getattr(client, control.method)
    bad = list(bad_bodies(control.body, good))
    assert bad
    for field, body in bad:
        answer = send(control.path, json=body, headers=ADMIN)
        assert answer.status_code == 400, (field, answer.get_data(as_text=True))
        refusal = answer.get_json()
        assert set(refusal) == {"errorCode", "errorMessage"}
        assert refusal["errorCode"] == "invalid_parameter"
        assert f"'{field}'" in refusal["errorMessage"], refusal
        assert not validator.is_valid(body), field
    answer = send(control.path, json=good, headers=ADMIN)
    assert answer.status_code == 200, answer.get_data(as_text=True)


def test_every_body_model_has_a_good_example() -> None:
    assert {c.body.__name__ for c in CONTROLS if c.body} == set(GOOD)


@pytest.mark.parametrize(
    ("path", "body", "said"),
    [
        ("/sandbox/clock", {}, "'now': is required"),
        ("/sandbox/clock", {"now": "2026-11-24T10:15:00"}, "'now': must be an ISO-8601"),
        ("/sandbox/clock", {"now": "1999-12-31T23:59:59+09:00"}, "from 2000-01-01 to 2099-12-31"),
        ("/sandbox/clock", {"now": "2026-11-24T10:15:00+09:00", "frozen": "true"}, "true or false"),
        ("/sandbox/faults", {"meteor": True}, "'meteor': not a field of this body"),
        ("/sandbox/faults", {"congestion": 1}, "'congestion': must be true or false"),
        ("/admin/accounts/move", {"from": ACCOUNT}, "'to': is required"),
        ("/admin/accounts/move", {"from": ACCOUNT, "to": "022-1-1100026"}, "'to': must be an obj"),
        (
            "/admin/accounts/move",
            {"from": ACCOUNT, "to": {**ACCOUNT, "branch_no": "０２２"}},
            "'to.branch_no': must be 店番: 3 half-width digits",
        ),
        (
            "/admin/accounts/move",
            {"from": ACCOUNT, "to": {**ACCOUNT, "account_type": "3"}},
            "'to.account_type': must be one of 1, 2, 4, 9",
        ),
    ],
)
def test_refusals_say_what_the_field_must_be(
    client: FlaskClient, path: str, body: dict[str, Any], said: str
) -> None:
    method = next(c.method for c in CONTROLS if c.path == path and c.body)
    answer = getattr(client, method)(path, json=body, headers=ADMIN)
    assert answer.status_code == 400
    assert said in answer.get_json()["errorMessage"]


def test_a_body_that_is_not_an_object_is_refused(client: FlaskClient) -> None:
    for data, kind in (("[1]", "application/json"), ('{"seconds": NaN}', "application/json")):
        answer = client.post(
            "/sandbox/clock/advance", data=data, headers={**ADMIN, "Content-Type": kind}
        )
        assert answer.status_code == 400
        assert "the body must be a JSON object" in answer.get_json()["errorMessage"]


def test_a_hostile_body_gets_a_short_answer(client: FlaskClient) -> None:
    """Thousands of unknown members, each long: the message names a few and stays short."""
    body = {f"{n}{'x' * 1000}": True for n in range(50)}
    answer = client.put("/sandbox/faults", json=body, headers=ADMIN)
    assert answer.status_code == 400
    assert len(answer.get_json()["errorMessage"]) < 1000


def test_move_declares_its_accounts_by_alias() -> None:
    """``from`` and ``to`` as INTERFACE.md §6 names them (Python cannot name a field ``from``)."""
    assert set(Move.model_json_schema(by_alias=True)["properties"]) == {"from", "to"}


#: A call the gateway takes: the manual's customer dials the pool's first number.
CALL = {"from": "09011113333", "to": "0120111111", "caller_id": "shown", "call_id": "c-1"}


def test_the_gateways_body_is_the_models_schema(document: dict[str, Any]) -> None:
    """INTERFACE.md §4: the document's report of a call is the model the gateway
    validates with, and its number fields have the contract's pattern."""
    operation = document["paths"][CALLS_PATH]["post"]
    media = operation["requestBody"]["content"]["application/json"]
    assert media["schema"] == {"$ref": REF.format(model="Call")}
    schema = Call.model_json_schema(ref_template=REF, schema_generator=Published)
    assert document["components"]["schemas"]["Call"] == schema
    for name in ("from", "to"):
        assert schema["properties"][name]["pattern"] == f"^(?:{DIGITS_PATTERN})$"
    assert {"200", "400", "401"} <= set(operation["responses"])


def test_the_gateway_asks_for_the_secret_or_the_admin_token(
    client: FlaskClient, document: dict[str, Any]
) -> None:
    """INTERFACE.md §4: the document says the gateway takes either credential, as the
    gateway does; without one it is the 401 the document lists."""
    operation = document["paths"][CALLS_PATH]["post"]
    assert operation["security"] == [{"telephonySecret": []}, {"adminToken": []}]
    scheme = document["components"]["securitySchemes"]["telephonySecret"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", SECRET_HEADER)
    report = {name: value for name, value in CALL.items() if name != "call_id"}
    for headers in (CARRIER, ADMIN):
        answer = client.post(CALLS_PATH, json=report, headers=headers)
        assert answer.status_code == 200, answer.get_data(as_text=True)
    answer = client.post(CALLS_PATH, json=report)
    assert answer.status_code == 401
    assert answer.get_json()["errorCode"] == "unauthorized"


def test_a_bad_call_is_refused_naming_the_field(
    client: FlaskClient, document: dict[str, Any]
) -> None:
    """Each field of the report with a value no field takes: 400 ``invalid_parameter``
    naming it, as the controls say it, and the document's schema refuses the same
    body; the good report is taken by both."""
    validator = Draft202012Validator(schema_of(document, "Call"))
    assert validator.is_valid(CALL)
    bad = list(bad_bodies(Call, CALL))
    assert [field for field, _ in bad] == ["from", "to", "caller_id", "call_id"]
    for field, body in bad:
        answer = client.post(CALLS_PATH, json=body, headers=CARRIER)
        assert answer.status_code == 400, (field, answer.get_data(as_text=True))
        refusal = answer.get_json()
        assert set(refusal) == {"errorCode", "errorMessage"}
        assert refusal["errorCode"] == "invalid_parameter"
        assert f"'{field}'" in refusal["errorMessage"], refusal
        assert not validator.is_valid(body), field
    answer = client.post(CALLS_PATH, json=CALL, headers=CARRIER)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["answered"] is False


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ({**CALL, "from": "090-1111-3333"}, "'from': must be the calling number: 4 to 20"),
        ({**CALL, "to": "012"}, "'to': must be the digits dialled"),
        ({**CALL, "from": 9011113333}, "'from': must be text"),
        ({**CALL, "caller_id": "hidden"}, "'caller_id': must be one of shown, withheld"),
        ({**CALL, "call_id": "x" * 65}, "'call_id': must be the carrier's id of the call"),
        ({"to": CALL["to"]}, "'from': is required"),
        ([CALL], "the body must be a JSON object"),
    ],
)
def test_the_gateway_says_what_a_field_must_be(client: FlaskClient, body: Any, said: str) -> None:
    answer = client.post(CALLS_PATH, json=body, headers=CARRIER)
    assert answer.status_code == 400
    assert said in answer.get_json()["errorMessage"]


def test_the_gateway_refuses_a_body_that_is_not_json(client: FlaskClient) -> None:
    """Not JSON, JSON that is not RFC 8259's, a form, or nothing: 400
    ``invalid_parameter`` all the same, never the line's answer."""
    for data in ("{", '{"from": NaN}', "\u00ff"):
        answer = client.post(
            CALLS_PATH, data=data, headers={**CARRIER, "Content-Type": "application/json"}
        )
        assert answer.status_code == 400, data
        assert answer.get_json()["errorCode"] == "invalid_parameter"
        assert "the body must be a JSON object" in answer.get_json()["errorMessage"]
    # A form is read by Flask as a form, leaving no JSON: as if nothing was sent.
    for data in ({"from": CALL["from"], "to": CALL["to"]}, None):
        answer = client.post(CALLS_PATH, data=data, headers=CARRIER)
        assert answer.status_code == 400
        assert answer.get_json()["errorCode"] == "invalid_parameter"
        assert "'from': is required" in answer.get_json()["errorMessage"]
