"""The telephony gateway (INTERFACE.md §4): the carrier's report of one inbound
call, as the model ``POST /telephony/calls`` validates it with, and what the line
did.

The report is a strict :class:`~simulator.web.schemas.Body`, like the controls'
bodies: JSON's own types, each field of the form the contract gives it
(:mod:`renkei.contract.telephony`), members it does not declare ignored.
"""

from __future__ import annotations

from typing import Annotated, Literal, NotRequired

from pydantic import Field
from typing_extensions import TypedDict

from renkei.contract.screens import Field as FormField
from renkei.contract.telephony import CALL_ID_PATTERN, CALLER_ID, DIGITS_PATTERN, SHOWN
from simulator.web.schemas import Body, Form

#: The forms of the report's fields; a refusal says the field "must be" its description.
FROM = FormField("from", "the calling number: 4 to 20 half-width digits", DIGITS_PATTERN)
TO = FormField("to", "the digits dialled: 4 to 20, a 184/186 prefix included", DIGITS_PATTERN)
SHOWN_OR_WITHHELD = FormField(
    "caller_id", "whether the caller's number is shown", choices=CALLER_ID
)
CARRIER_ID = FormField(
    "call_id",
    "the carrier's id of the call: up to 64 of A-Z a-z 0-9 . _ : - (docs/rules.md)",
    CALL_ID_PATTERN,
)


class Call(Body):
    """``POST /telephony/calls``: one inbound call as the carrier reports it (§4)."""

    caller: Annotated[str, Form(FROM)] = Field(alias="from")
    dialled: Annotated[str, Form(TO)] = Field(alias="to")
    caller_id: Annotated[str, Form(SHOWN_OR_WITHHELD)] = SHOWN
    call_id: Annotated[str, Form(CARRIER_ID)] | None = None


class CallAnswer(TypedDict):
    """What the line did: it is never answered, and rings 2–3 times (0 for a
    report seen before, a replay)."""

    rings: Annotated[int, Field(ge=0, le=3)]
    answered: Literal[False]
    verified: bool
    replayed: NotRequired[bool]
