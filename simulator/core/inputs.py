"""Input rules of screens ①, ②, ⑤ and ⑥ (R-ERR-INPUT-1, R-ERR-INPUT-2).

Each ``read_*`` function takes the posted form as strings and answers the
parsed entry, or raises :class:`~simulator.core.errors.InputRejected` listing
every field at fault: 「必ず入力して下さい。」 under each empty one
(R-ERR-INPUT-1) and a clear message under each one in the wrong form
(R-ERR-INPUT-2). Digits are half-width ASCII only: Python's ``\\d`` would also
take full-width ０-９, which the screens refuse.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from renkei.contract.screens import FIELDS
from simulator.core import kana, messages
from simulator.core.errors import FieldError, InputRejected
from simulator.core.host import AccountKey

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

Form = Mapping[str, object]


def _form_of(field: str) -> Callable[[str], bool]:
    """The contract's format of ``field`` (INTERFACE.md §2)."""
    return FIELDS[field].matches


def field_text(form: Form, field: str) -> str:
    """A posted field as the input rules read it: text, trimmed; "" when absent."""
    raw = form.get(field)
    return raw.strip() if isinstance(raw, str) else "" if raw is None else str(raw)


class _Reader:
    """Collects the errors of one form so that all are reported at once."""

    def __init__(self, form: Form) -> None:
        self.form = form
        self.errors: list[FieldError] = []

    def text(self, field: str) -> str | None:
        """The field's text, trimmed; None (and a ``required`` error) when empty."""
        value = field_text(self.form, field)
        if not value:
            self.errors.append(FieldError("required", messages.REQUIRED_FIELD, field))
            return None
        return value

    def invalid(self, field: str, message_key: str | None = None) -> None:
        message = messages.INVALID[message_key or field]
        self.errors.append(FieldError("invalid", message, field))

    def check(self, field: str, rule: Callable[[str], bool]) -> str | None:
        value = self.text(field)
        if value is None:
            return None
        if _CONTROL.search(value) or not rule(value):
            self.invalid(field)
            return None
        return value

    def done(self) -> None:
        if self.errors:
            raise InputRejected.of(self.errors)


@dataclass(frozen=True)
class CustomerEntry:
    """What the customer typed on ② (R-FLOW-2)."""

    name_kana: str
    birth_date: dt.date
    phone: str
    email: str


def read_account(form: Form) -> AccountKey:
    """① SOA201: 店番 (3 digits), 科目 (a Zengin code), 口座番号 (7 digits)."""
    r = _Reader(form)
    branch = r.check("branch_no", _form_of("branch_no"))
    kind = r.check("account_type", _form_of("account_type"))
    number = r.check("account_no", _form_of("account_no"))
    r.done()
    assert branch and kind and number  # done() raised otherwise
    return AccountKey(branch, kind, number)


def read_customer(form: Form, today: dt.date) -> CustomerEntry:
    """② SOA202: name in half-width kana, birth date, registered phone, e-mail twice."""
    r = _Reader(form)
    # The form of a name, and at least one kana in it (a name of spaces and dots is none).
    name = r.check(
        "name_kana", lambda v: _form_of("name_kana")(v) and kana.is_half_width_kana_name(v)
    )
    year = r.check("birth_year", _form_of("birth_year"))
    month = r.check("birth_month", _form_of("birth_month"))
    day = r.check("birth_day", _form_of("birth_day"))
    phone = r.check("phone", _form_of("phone"))
    email = r.check("email", _form_of("email"))
    confirm = r.text("email_confirm")
    if email is not None and confirm is not None and confirm != email:
        r.invalid("email_confirm")
    birth: dt.date | None = None
    if year and month and day:
        try:
            birth = dt.date(int(year), int(month), int(day))
        except ValueError:
            r.invalid("birth_day", "birth_date")
        else:
            if not dt.date(1900, 1, 1) <= birth <= today:
                r.invalid("birth_year")
    r.done()
    assert name and birth and phone and email
    return CustomerEntry(name, birth, phone, email)


def read_pin(form: Form) -> str:
    """⑤ SOA211: the cash-card PIN, 4 half-width digits."""
    r = _Reader(form)
    pin = r.check("pin", _form_of("pin"))
    r.done()
    assert pin
    return pin


def read_consent(form: Form) -> bool:
    """⑥ SOA206: ``decision`` allow or deny; allowing needs the ticked ``agree`` box.

    Answers True for 「許可する」 and False for 「拒否する」.
    """
    r = _Reader(form)
    decision = r.check("decision", _form_of("decision"))
    if decision == "allow" and str(form.get("agree") or "").strip() != "1":
        r.errors.append(FieldError("required", messages.INVALID["agree"], "agree"))
    r.done()
    return decision == "allow"
