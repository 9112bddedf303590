"""INTERFACE.md §5: the account API's calls, the scope each needs, its paging.

JSON in camelCase, in the style Japanese bank APIs use; errors are
``{"errorCode", "errorMessage"}`` (read with :func:`renkei.contract.answers.error_code`).
"""

from __future__ import annotations

from typing import Final

ACCOUNTS_PATH: Final = "/v1/accounts"
BALANCES_PATH: Final = "/v1/accounts/balances"
TRANSACTIONS_PATH: Final = "/v1/accounts/transactions"
#: The scope each call needs (INTERFACE.md §1).
SCOPE_OF: Final[dict[str, str]] = {
    ACCOUNTS_PATH: "accounts",
    BALANCES_PATH: "accounts",
    TRANSACTIONS_PATH: "transactions",
}
#: At most this many 明細 a page, oldest first; ``nextItemKey`` asks for the next.
PAGE_SIZE: Final = 500
#: ``transactionType`` of a 明細.
TRANSACTION_TYPES: Final[dict[str, str]] = {"1": "入金", "2": "出金"}
