"""What the bank's HTTP interface reads and writes, declared once with pydantic.

* :mod:`.controls` — the JSON bodies of the sandbox and operator controls
  (INTERFACE.md §6) as models that validate what is posted, and their answers;
* :mod:`.telephony` — the telephony gateway's report of a call (§4), validated
  the same way, and its answer;
* :mod:`.answers` — the answers of the other endpoints (§1, §2, §5).

Bodies the bank validates are :class:`pydantic.BaseModel` classes; answers the
bank writes are ``TypedDict`` classes, so that mypy checks the dictionaries the
views build against the same declaration the document publishes.
``simulator.web.openapi`` builds ``/openapi.json`` from both: the document
Schemathesis fuzzes and the checks the server runs cannot drift apart. Field
formats, scopes, enumerations and paths come from :mod:`renkei.contract`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler, ValidationError, WithJsonSchema
from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import PydanticCustomError, core_schema

from renkei.contract.oauth import SCOPES
from renkei.contract.screens import Field

#: An instant as the bank writes it (``datetime.isoformat()``, always with an offset).
Timestamp = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
#: A day as the bank writes it (``date.isoformat()``).
Day = Annotated[str, WithJsonSchema({"type": "string", "format": "date"})]
#: A scope of INTERFACE.md §1.
Scope = Annotated[str, WithJsonSchema({"type": "string", "enum": list(SCOPES)})]
#: What a JSON object may hold when its members are not the contract's.
Anything = dict[str, Any]

#: Where ``$ref`` points in an OpenAPI document.
REF = "#/components/schemas/{model}"


class Published(GenerateJsonSchema):
    """JSON Schema as the document publishes it: a member is named by its key, with
    no title made up from it ("Branch No" for ``branch_no``)."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


@dataclass(frozen=True)
class Form:
    """A field's form as the contract declares it (a :class:`renkei.contract.screens.Field`)
    as pydantic metadata: the text must have that form, and its JSON Schema is the
    contract's."""

    field: Field

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(self, schema: Any, handler: Any) -> dict[str, object]:
        return self.field.json_schema()

    def check(self, value: str) -> str:
        if self.field.matches(value):
            return value
        if self.field.choices:
            raise PydanticCustomError("form", f"must be one of {', '.join(self.field.choices)}")
        raise PydanticCustomError("form", f"must be {self.field.description}")


#: pydantic's messages for the errors a client makes most, said the way the
#: controls' other errors are said (``'seconds': must be a number``).
PLAIN = {
    "missing": "is required",
    "bool_type": "must be true or false",
    "string_type": "must be text",
    "float_type": "must be a number",
    "int_type": "must be a whole number",
    "model_type": "must be an object",
    "dict_type": "must be an object",
    "model_attributes_type": "must be an object",
}
#: At most this many problems are listed, each field named in at most this many
#: characters: a hostile body may hold thousands of keys, each kilobytes long.
MOST_PROBLEMS, MOST_NAME = 5, 64


def explain(error: ValidationError, fields: tuple[str, ...] = ()) -> str:
    """A refusal in plain English, naming each field by its path in the body
    (``'to.branch_no': must be 店番: 3 half-width digits``); ``fields`` are the
    body's own, listed once when a member it does not have was sent."""
    problems = error.errors(include_url=False, include_context=False, include_input=False)
    said, unknown = [], []
    for problem in problems:
        where = ".".join(str(p) for p in problem["loc"]) or "the body"
        if len(where) > MOST_NAME:
            where = where[:MOST_NAME] + "…"
        if problem["type"] == "extra_forbidden":
            unknown.append(f"'{where}'")
            continue
        message = PLAIN.get(problem["type"], problem["msg"][:1].lower() + problem["msg"][1:])
        said.append(f"'{where}': {message}")
    if unknown:
        names = ", ".join(unknown[:MOST_PROBLEMS]) + (", …" if len(unknown) > MOST_PROBLEMS else "")
        said.append(f"{names}: not a field of this body (its fields: {', '.join(fields)})")
    more = len(said) - MOST_PROBLEMS
    return "; ".join(said[:MOST_PROBLEMS] + ([f"and {more} more"] if more > 0 else []))


class Body(BaseModel):
    """A JSON body the bank validates (a control's, INTERFACE.md §6, or the
    gateway's, §4): JSON's own types only (``"true"`` is not true, ``1`` is not
    ``"1"``), read after :class:`simulator.web.responses.StrictJSON` has refused
    what is not RFC 8259."""

    model_config = ConfigDict(strict=True, frozen=True)


B = TypeVar("B", bound=BaseModel)


class Refused(ValueError):
    """A body its model does not take; the message says why, naming the fields
    (answered 400 ``invalid_parameter``, docs/rules.md)."""


def read_body(model: type[B], data: object, sent: bool) -> B:
    """``data`` (the request's JSON as Flask read it, None when it could not) as
    ``model``. No body at all (``sent`` false) is an empty object; a body that is
    not JSON, or not an object, is refused, and so is one the model refuses, with
    :func:`explain`'s message."""
    if data is None and sent:
        # Not JSON, or not RFC 8259 JSON (StrictJSON refused it), or not sent as JSON.
        raise Refused("the body must be a JSON object (RFC 8259, as application/json)")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise Refused("the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        names = tuple(f.alias or name for name, f in model.model_fields.items())
        raise Refused(explain(error, names)) from None
