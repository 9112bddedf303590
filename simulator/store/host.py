"""The host's data in SQL: implements ``HostDirectory`` and ``LockLedger``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, func, insert, select, update

from simulator.core.history import Transaction
from simulator.core.host import (
    Account,
    AccountKey,
    AccountStatus,
    CashCard,
    Customer,
    move_account,
)
from simulator.core.lockout import Reservation
from simulator.core.memory import MemoryHost
from simulator.store.database import upsert, writing
from simulator.store.schema import ROOT, accounts, customers, failures, transactions


def _date(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def _account(row: Any) -> Account:
    card = None
    if row.card_id is not None:
        issued = _date(row.card_issued_on)
        assert issued is not None
        card = CashCard(row.card_id, issued, row.pin_hash)
    opened = _date(row.opened_on)
    assert opened is not None
    return Account(
        key=AccountKey.parse(row.account_key),
        customer_id=row.customer_id,
        opened_on=opened,
        status=AccountStatus(row.status),
        card=card,
        moved_to=AccountKey.parse(row.moved_to) if row.moved_to else None,
        balance=row.balance,
    )


def _account_values(account: Account) -> dict[str, Any]:
    card = account.card
    return {
        "account_key": str(account.key),
        "customer_id": account.customer_id,
        "opened_on": account.opened_on.isoformat(),
        "status": account.status.value,
        "moved_to": str(account.moved_to) if account.moved_to else None,
        "balance": account.balance,
        "card_id": card.card_id if card else None,
        "card_issued_on": card.issued_on.isoformat() if card else None,
        "pin_hash": card.pin_hash if card else None,
    }


# The statements every flow runs, built once: SQLAlchemy then skips building
# the expression and computing its cache key on each call.
ACCOUNT = select(accounts).where(
    accounts.c.sandbox == bindparam("sandbox"), accounts.c.account_key == bindparam("key")
)
CUSTOMER = select(customers).where(
    customers.c.sandbox == bindparam("sandbox"),
    customers.c.customer_id == bindparam("customer_id"),
)
FAILURES = select(failures.c.failed).where(
    failures.c.sandbox == bindparam("sandbox"),
    failures.c.account_key == bindparam("key"),
    failures.c.day == bindparam("day"),
)


class SqlHost:
    """Customers, accounts, history and the lockout ledger of one sandbox, shared by
    every process; another sandbox's rows are, to it, as if they did not exist."""

    def __init__(self, engine: Engine, *, sandbox: str = ROOT) -> None:
        self.engine = engine
        self.sandbox = sandbox

    # -- HostDirectory -------------------------------------------------------------------

    def account(self, key: AccountKey) -> Account | None:
        with self.engine.connect() as c:
            row = c.execute(ACCOUNT, {"sandbox": self.sandbox, "key": str(key)}).first()
        return _account(row) if row else None

    def customer(self, customer_id: str) -> Customer | None:
        with self.engine.connect() as c:
            row = c.execute(CUSTOMER, {"sandbox": self.sandbox, "customer_id": customer_id}).first()
        if row is None:
            return None
        birth = _date(row.birth_date)
        assert birth is not None
        return Customer(row.customer_id, row.name_kana, birth, row.phone, row.name_kanji)

    def transactions(self, key: AccountKey) -> list[Transaction]:
        query = (
            select(transactions)
            .where(transactions.c.sandbox == self.sandbox, transactions.c.account_key == str(key))
            .order_by(transactions.c.item_key)
        )
        with self.engine.connect() as c:
            rows = c.execute(query).all()
        return [
            Transaction(
                r.item_key,
                dt.date.fromisoformat(r.date),
                dt.date.fromisoformat(r.value_date),
                r.kind,
                r.amount,
                r.remarks,
                r.balance,
            )
            for r in rows
        ]

    # -- LockLedger ----------------------------------------------------------------------

    def failures(self, account: AccountKey, day: dt.date) -> int:
        with self.engine.connect() as c:
            found = c.execute(
                FAILURES, {"sandbox": self.sandbox, "key": str(account), "day": day.isoformat()}
            ).scalar()
        return int(found or 0)

    def add_failure(self, account: AccountKey, day: dt.date, ceiling: int) -> int | None:
        """One atomic INSERT … ON CONFLICT DO UPDATE … WHERE failed < ceiling
        RETURNING: the database, not this process, adds one, so concurrent failures
        are each counted once and never past the ceiling (no row comes back then)."""
        with writing(self.engine) as c:
            return self._count_one(c, account, day, ceiling)

    @contextmanager
    def reserve_failure(
        self, account: AccountKey, day: dt.date, ceiling: int
    ) -> Iterator[Reservation]:
        """:meth:`add_failure`'s statement in a transaction left open while the block
        judges, committed after it, or rolled back when the block gave the failure
        back or raised. The statement's row lock (PostgreSQL; SQLite's write lock)
        makes a concurrent reservation of the account wait for the commit or the
        rollback and count from what it left. A reservation that counted nothing
        holds the lock as briefly: it ends with the block, which does not judge."""
        with writing(self.engine) as c:
            reserved = Reservation(self._count_one(c, account, day, ceiling))
            try:
                yield reserved
            except BaseException:
                c.rollback()
                raise
            if reserved.given_back:
                c.rollback()

    def _count_one(
        self, c: Connection, account: AccountKey, day: dt.date, ceiling: int
    ) -> int | None:
        statement = upsert(self.engine, failures).values(
            sandbox=self.sandbox, account_key=str(account), day=day.isoformat(), failed=1
        )
        statement = statement.on_conflict_do_update(  # type: ignore[attr-defined]
            index_elements=["sandbox", "account_key", "day"],
            set_={"failed": failures.c.failed + 1},
            where=failures.c.failed < ceiling,
        ).returning(failures.c.failed)
        count = c.execute(statement).scalar_one_or_none()
        return None if count is None else int(count)

    def clear(self, account: AccountKey, day: dt.date) -> None:
        with writing(self.engine) as c:
            c.execute(
                delete(failures).where(
                    failures.c.sandbox == self.sandbox,
                    failures.c.account_key == str(account),
                    failures.c.day == day.isoformat(),
                )
            )

    def forget(self, account: AccountKey) -> None:
        """Every day's failure count of ``account``: an operator's unlock. A count of
        another day locks nothing in real time, but a sandbox clock set back to that
        day would find the account locked again by failures the operator cleared."""
        with writing(self.engine) as c:
            c.execute(
                delete(failures).where(
                    failures.c.sandbox == self.sandbox,
                    failures.c.account_key == str(account),
                )
            )

    def locks(self, day: dt.date, threshold: int) -> list[tuple[AccountKey, int]]:
        """Accounts locked on ``day`` (at least ``threshold`` failures), with their counts."""
        query = select(failures).where(
            failures.c.sandbox == self.sandbox,
            failures.c.day == day.isoformat(),
            failures.c.failed >= threshold,
        )
        with self.engine.connect() as c:
            return [(AccountKey.parse(r.account_key), r.failed) for r in c.execute(query)]

    # -- loading and the operator's changes ------------------------------------------------

    def is_empty(self) -> bool:
        with self.engine.connect() as c:
            query = select(func.count()).where(accounts.c.sandbox == self.sandbox)
            return not c.execute(query).scalar()

    def load(self, host: MemoryHost) -> None:
        """Replace the host's data with ``host`` (start from a scenario, or reset)."""
        with writing(self.engine) as c:
            for table in (transactions, accounts, customers, failures):
                c.execute(delete(table).where(table.c.sandbox == self.sandbox))
            if host.customers:
                c.execute(
                    insert(customers),
                    [
                        {
                            "sandbox": self.sandbox,
                            "customer_id": p.customer_id,
                            "name_kana": p.name_kana,
                            "name_kanji": p.name_kanji,
                            "birth_date": p.birth_date.isoformat(),
                            "phone": p.phone,
                        }
                        for p in host.customers.values()
                    ],
                )
            if host.accounts:
                c.execute(
                    insert(accounts),
                    [self._account_values(a) for a in host.accounts.values()],
                )
            rows = [
                {
                    "sandbox": self.sandbox,
                    "account_key": str(key),
                    "item_key": t.item_key,
                    "date": t.date.isoformat(),
                    "value_date": t.value_date.isoformat(),
                    "kind": t.kind,
                    "amount": t.amount,
                    "remarks": t.remarks,
                    "balance": t.balance,
                }
                for key, items in host.history.items()
                for t in items
            ]
            if rows:
                c.execute(insert(transactions), rows)

    def move(self, old: AccountKey, new: AccountKey, today: dt.date) -> Account:
        """移管 (R-ACCT-3) in one transaction; the history goes with the account."""
        account = self.account(old)
        if account is None:
            raise KeyError(f"no account {old}")
        if self.account(new) is not None:
            raise ValueError(f"account {new} exists already")
        moved, opened = move_account(account, new, today)
        with writing(self.engine) as c:
            c.execute(
                update(accounts).where(
                    accounts.c.sandbox == self.sandbox, accounts.c.account_key == str(old)
                ),
                self._account_values(moved),
            )
            c.execute(insert(accounts), self._account_values(opened))
            c.execute(
                update(transactions)
                .where(
                    transactions.c.sandbox == self.sandbox,
                    transactions.c.account_key == str(old),
                )
                .values(account_key=str(new))
            )
        return opened

    def _account_values(self, account: Account) -> dict[str, Any]:
        return {"sandbox": self.sandbox, **_account_values(account)}
