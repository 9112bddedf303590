"""Steps of features/input.feature (R-ERR-INPUT-*): empty and malformed fields, per field."""

from __future__ import annotations

from pytest_bdd import parsers, then, when

from harness.driver import Answer
from harness.steps.helpers import (
    REQUIRED_FIELD,
    SEPARATOR,
    Visit,
    changed,
    field_errors,
    fields,
    form_of,
    named_invalid,
    submit,
)


@when(parsers.parse('画面 "{screen}" で項目 "{names}" を空にして「次へ」を押す'))
def leave_empty(visit: Visit, screen: str, names: str) -> None:
    submit(visit, screen, form_of(visit, screen, **dict.fromkeys(fields(names), "")))


@when(parsers.parse('画面 "{screen}" で項目 "{name}" を "{value}" にして「次へ」を押す'))
def enter_value(visit: Visit, screen: str, name: str, value: str) -> None:
    submit(visit, screen, changed(visit, screen, name, value))


@when(
    parsers.parse('画面 "{screen}" で項目 "{name}" に "{values}" をひとつずつ入れて「次へ」を押す'),
    target_fixture="answers",
)
def enter_values(visit: Visit, screen: str, name: str, values: str) -> list[Answer]:
    """Each of ``values`` (separated by 「／」) in turn, the rest of the form right;
    an input error leaves the customer on ``screen``, so each is tried there."""
    return [
        submit(visit, screen, changed(visit, screen, name, value))
        for value in values.split(SEPARATOR)
    ]


@then(parsers.parse("ダイアログ「{text}」が出る"))
def dialog(visit: Visit, text: str) -> None:
    """R-ERR-INPUT-1: one screen-level error (``field`` null), code ``required``."""
    screen_level = [e for e in visit.last.body.get("errors", []) if e.get("field") is None]
    assert screen_level == [{"code": "required", "field": None, "message": text}], visit.last.body


@then(parsers.parse('項目 "{names}" の下にだけ「必ず入力して下さい。」が出る'))
def required_under(visit: Visit, names: str) -> None:
    errors = field_errors(visit.last)
    assert sorted(e["field"] for e in errors) == sorted(fields(names)), errors
    for e in errors:
        assert (e["code"], e["message"]) == ("required", REQUIRED_FIELD), e


@then(
    parsers.parse(
        'どの回も項目 "{name}" の下にだけ、「{word}」を名指しする誤りが出て、画面 "{screen}" のままだった'
    )
)
def invalid_every_time(answers: list[Answer], name: str, word: str, screen: str) -> None:
    assert answers
    for answer in answers:
        named_invalid(answer, screen, name, word)
