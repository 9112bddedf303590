"""The test customers the features use, read from a scenario file's ``personas``.

The harness reads the YAML as data (it imports nothing of ``simulator``), so
against another implementation a tester points ``--personas FILE`` at a file
describing that bank's test customers in the same shape; the default is
renkei's shipped default scenario (``scenarios/default.yaml``, found through
:mod:`renkei.resources`). ``manual`` is the customer every implementation has
(INTERFACE.md §8). A file that cannot be read as personas is a
:class:`PersonasError` naming the file and the entry, so that ``renkei
conform`` and ``renkei certify`` stop on one line before anything runs.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from renkei import resources

DEFAULT_FILE = resources.scenario()


@dataclass(frozen=True)
class Persona:
    id: str
    branch_no: str
    account_type: str
    account_no: str
    name_kana: str
    birth: tuple[str, str, str]
    phone: str
    pin: str
    #: Where the account moved (移管, R-ACCT-3), as BRANCH-TYPE-NUMBER.
    moved_to: str | None = None
    email: str = "customer@example.jp"

    @property
    def account(self) -> dict[str, str]:
        return {
            "branch_no": self.branch_no,
            "account_type": self.account_type,
            "account_no": self.account_no,
        }

    @property
    def account_id(self) -> str:
        return f"{self.branch_no}-{self.account_type}-{self.account_no}"

    def details(self, **changes: str) -> dict[str, str]:
        """The form of ② with this persona's answers, ``changes`` applied."""
        year, month, day = self.birth
        form = {
            "name_kana": self.name_kana,
            "birth_year": year,
            "birth_month": month,
            "birth_day": day,
            "phone": self.phone,
            "email": self.email,
            "email_confirm": self.email,
        }
        return {**form, **changes}

    def at(self, account_id: str) -> Persona:
        """The same person answering for another of their accounts."""
        branch, kind, number = account_id.split("-")
        return Persona(
            self.id,
            branch,
            kind,
            number,
            self.name_kana,
            self.birth,
            self.phone,
            self.pin,
            None,
            self.email,
        )


class PersonasError(ValueError):
    """A personas file that cannot be read; the message is the one line to show."""


def _persona(entry: dict[str, Any]) -> Persona:
    account = entry["accounts"][0]
    birth = str(entry["birth_date"])
    year, month, day = birth.split("-")
    card = account.get("card") or {}
    return Persona(
        id=str(entry["id"]),
        branch_no=str(account["branch_no"]),
        account_type=str(account["account_type"]),
        account_no=str(account["account_no"]),
        name_kana=str(entry["name_kana"]),
        birth=(year, month, day),
        phone=str(entry["phone"]),
        pin=str(card.get("pin", "")),
        moved_to=str(account["moved_to"]) if account.get("moved_to") else None,
    )


def _why(error: Exception) -> str:
    if isinstance(error, KeyError):
        return f"no {error.args[0]}"
    if isinstance(error, ValueError):  # a birth_date that is not YYYY-MM-DD
        return "birth_date is not YYYY-MM-DD"
    if isinstance(error, IndexError):
        return "accounts is empty"
    return f"not a persona ({type(error).__name__})"


#: libyaml's safe loader where PyYAML was built with it (it reads the same YAML
#: about ten times faster than the pure-Python one).
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.lru_cache(maxsize=8)
def _read(path: Path, stamp: tuple[float, int]) -> Any:
    """A file's YAML, read once for each version of it (``stamp``: mtime and size)."""
    return yaml.load(path.read_text("utf-8"), Loader=_LOADER)


def scenario_data(path: Path) -> Any:
    """A scenario YAML as plain data (the harness reads the scenario as the target's
    tester would, importing nothing of the bank): read once per run, however many
    scenarios ask. Raises OSError, yaml.YAMLError or UnicodeDecodeError."""
    status = path.stat()
    data = _read(path, (status.st_mtime, status.st_size))
    return copy.deepcopy(data)


def _data(path: Path) -> Any:
    """A scenario file's YAML, or :class:`PersonasError` saying why it cannot be read."""
    try:
        return scenario_data(path)
    except OSError as error:
        raise PersonasError(f"{path}: {error.strerror or error}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise PersonasError(f"{path}: not YAML ({' '.join(str(error).split())})") from None


def _personas_in(entries: list[Any], where: str) -> dict[str, Persona]:
    """The entries of a ``personas`` list by id; :class:`PersonasError` naming the
    entry (``where``: the file and the list) that lacks what the features use."""
    found: dict[str, Persona] = {}
    for index, entry in enumerate(entries):
        try:
            if not isinstance(entry, dict):
                raise TypeError(entry)
            persona = _persona(entry)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as error:
            raise PersonasError(f"{where}[{index}]: {_why(error)}") from None
        found[persona.id] = persona
    return found


def load_personas(path: Path = DEFAULT_FILE) -> dict[str, Persona]:
    """The personas of a scenario YAML by id; :class:`PersonasError` when the file
    is missing, is not YAML, or an entry lacks what the features use."""
    data = _data(path)
    entries = data.get("personas") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise PersonasError(f"{path}: no personas list (a scenario YAML's personas section)")
    return _personas_in(entries, f"{path}: personas")


#: INTERFACE.md §8: what a bank that does not say otherwise has.
DEFAULT_THRESHOLD = 5
DEFAULT_POOL = ("0120111111", "0120222222", "0120333333")


@dataclass(frozen=True)
class BankPeople:
    """One credit union of a platform scenario (INTERFACE.md §10), as the features
    expect it: what its screens show, what the manual leaves to it, its customers."""

    code: str
    name: str
    #: お問い合わせ先's phone, in every screen's footer.
    phone: str
    lockout_threshold: int
    call_pool: tuple[str, ...]
    personas: dict[str, Persona]


def load_banks(path: Path) -> dict[str, BankPeople]:
    """The banks of a platform scenario by 金融機関コード, in the file's order: each
    item of ``banks``, or the one-bank file a ``scenario: NAME`` item takes whole
    (a scenario the package ships, renkei.resources). :class:`PersonasError` when
    the file has no ``banks`` or an item lacks what the features use."""
    data = _data(path)
    items = data.get("banks") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise PersonasError(f"{path}: no banks list (a platform scenario's banks section)")
    found: dict[str, BankPeople] = {}
    for index, item in enumerate(items):
        try:
            found[str(item["code"])] = _bank_people(item)
        except (KeyError, TypeError, ValueError, PersonasError) as error:
            raise PersonasError(f"{path}: banks[{index}]: {error}") from None
    return found


def _bank_people(item: dict[str, Any]) -> BankPeople:
    whole = item.get("scenario")
    source = scenario_data(resources.scenario(str(whole))) if whole else item
    bank = source.get("bank") or {}
    contact = bank.get("contact") or {}
    personas = _personas_in(list(source.get("personas") or []), "personas")
    return BankPeople(
        code=str(item["code"]),
        name=str(bank["name"]),
        phone=str(contact.get("phone") or bank.get("contact_phone") or ""),
        lockout_threshold=int(bank.get("lockout_threshold", DEFAULT_THRESHOLD)),
        call_pool=tuple(str(n) for n in bank.get("call_pool", DEFAULT_POOL)),
        personas=personas,
    )
