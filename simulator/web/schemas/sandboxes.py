"""The bodies and answers of the sandbox endpoints (INTERFACE.md §9).

``POST /sandboxes`` takes a :class:`CreateSandbox`; its answer is a
:class:`Created`; ``GET /sandboxes`` and ``GET /sandboxes/{id}`` answer
:class:`Sandboxes` and :class:`Sandbox`. The members, the limits of
``ttl_seconds`` and the label's length are the contract's
(:mod:`renkei.contract.sandboxes`).
"""

from __future__ import annotations

from typing import Annotated, NotRequired

from pydantic import ConfigDict, Discriminator, Field, Tag, WithJsonSchema, field_validator
from pydantic_core import PydanticCustomError
from typing_extensions import TypedDict

from renkei import resources
from renkei.contract import sandboxes as contract
from simulator.web.schemas import Body, Timestamp

#: A sandbox's id, in the document.
SandboxId = Annotated[str, WithJsonSchema({"type": "string", "pattern": contract.ID_PATTERN})]


class InlineScenario(Body):
    """A scenario sent with the request: the text of a scenario file."""

    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")

    yaml: str = Field(min_length=1, max_length=contract.YAML_MAX)


#: A shipped scenario's name, in the document.
ScenarioName = Annotated[
    str, WithJsonSchema({"type": "string", "enum": resources.scenario_names()})
]
#: How an inline scenario is sent, as the errors say it.
INLINE_FORM = f'{{"{contract.YAML}": TEXT}}'


def _scenario_kind(value: object) -> str | None:
    """Which form ``scenario`` has: a name (text) or inline YAML (an object)."""
    if isinstance(value, str):
        return "name"
    if isinstance(value, dict | InlineScenario):
        return contract.INLINE
    return None


class CreateSandbox(Body):
    """``POST /sandboxes``: the scenario (a shipped one's name, or inline YAML), a
    label for the operator's list, and how long the sandbox lives."""

    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")

    scenario: Annotated[
        Annotated[ScenarioName, Tag("name")] | Annotated[InlineScenario, Tag(contract.INLINE)],
        Discriminator(
            _scenario_kind,
            custom_error_type="scenario",
            custom_error_message=f"must be a shipped scenario's name or {INLINE_FORM}",
        ),
    ] = resources.DEFAULT_SCENARIO
    label: str = Field(default="", max_length=contract.LABEL_MAX)
    ttl_seconds: int = Field(default=contract.TTL_DEFAULT, ge=contract.TTL_MIN, le=contract.TTL_MAX)

    @field_validator("scenario")
    @classmethod
    def shipped(cls, value: str | InlineScenario) -> str | InlineScenario:
        """A name is one of the scenarios the server ships (``renkei scenario check NAME``)."""
        names = resources.scenario_names()
        if isinstance(value, str) and value not in names:
            raise PydanticCustomError(
                "scenario",
                f"no shipped scenario {value[:40]!r}: one of {', '.join(names)}, or {INLINE_FORM}",
            )
        return value


class Created(TypedDict):
    """The new sandbox: where it is served, and its secrets (shown once, never again)."""

    id: SandboxId
    base_url: str
    issuer: str
    admin_token: str
    telephony_secret: str
    expires_at: Timestamp
    scenario: str


class Counts(TypedDict):
    """What a sandbox holds: flows in progress or ended, grants, mails."""

    flows: int
    grants: int
    mails: int


class Sandbox(TypedDict):
    """A sandbox as the operator lists it."""

    id: SandboxId
    label: str
    scenario: str
    base_url: str
    created: Timestamp
    expires: Timestamp
    counts: Counts


class Sandboxes(TypedDict):
    """``GET /sandboxes``: oldest first."""

    sandboxes: list[Sandbox]


class ScenarioRefused(TypedDict):
    """400 of ``POST /sandboxes``: the controls' error, and for an inline scenario the
    field it names (``personas[0].phone``) and the line of the YAML it is on."""

    errorCode: str
    errorMessage: str
    field: NotRequired[str]
    line: NotRequired[int | None]
