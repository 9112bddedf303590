"""The message catalogue: every code and every customer-facing text, once.

Texts marked "manual" are verbatim from the screen manual of 中ノ郷信用組合
(quoted in ``shared/spec/INTERFACE.md`` §3, byte for byte, including the ASCII
space where the manual breaks the line). Texts marked "project" fill a gap the
manual leaves (R-ERR-INPUT-2, R-ERR-CALL-2 and the flow's own refusals); they
are ours and documented as such in ``docs/messages.md``.
"""

from __future__ import annotations

from typing import Final

BANK_NAME: Final = "中ノ郷信用組合"
TITLE_PREFIX: Final = "API連携認証"

# -- Dialogs and per-field texts of the input checks (R-ERR-INPUT-1), manual.
DIALOG_TITLE: Final = "エラー"
REQUIRED_DIALOG: Final = "入力されていない項目があります。"
REQUIRED_FIELD: Final = "必ず入力して下さい。"

# -- Screen-level errors, by machine code (INTERFACE.md §3).
MESSAGES: Final[dict[str, str]] = {
    # R-ERR-HOST-1..4, manual (画面② 3/4).
    "account_unavailable": "ご指定の口座は、本サービスではお取り扱いできません。",
    "identity_mismatch": (
        "本人認証情報が誤っています。 本人認証項目をご確認のうえ、再度入力して下さい。"
    ),
    "locked_now": (
        "お取扱いができなくなりました。 詳しくは本サービスのお問合せ窓口へご照会下さい。"
    ),
    "B84": (
        "ただ今お取扱いできません。 詳しくは本サービスのお問合せ窓口へご照会下さい。"
        " 理由コードはB84です。"
    ),
    # R-ERR-SYS-1..4, manual (画面② 4/4).
    "out_of_hours": "ただ今の時間はサービスを行っておりません。ご了承ください。",
    "congested": "ただ今受付が混雑しておりますので、しばらくしてからご利用下さい。",
    "system_error": (
        "調整のため連絡ができなくなりました。"
        " なお、お急ぎの場合は本サービスのお問合せ窓口へご照会下さい。"
    ),
    "service_unavailable": "ご指定のサービスはただ今お取り扱いできません。",
    # R-ERR-CALL-1, manual (画面④ エラー事例).
    "call_pending": "認証中（認証着信待ち）",
    # R-ERR-CALL-2, project: the manual says only that the tap is void and the
    # customer must start from the beginning (画面④ 2/2).
    "call_expired": (
        "画面が表示されてから120秒を経過したため、電話番号認証を受け付けられませんでした。"
        " お手数ですが、API連携認証の最初から操作し直して下さい。"
    ),
    # R-FLOW-8, project: back button, replay or skipping ahead.
    "out_of_order": ("この操作は受け付けられません。 表示中の画面から操作を続けて下さい。"),
    # R-ERR-CALL-4, project: the browser session is gone or timed out.
    "flow_lost": (
        "お手続きの情報が見つかりません。 お手数ですが、API連携認証の最初から操作し直して下さい。"
    ),
    # A screen posted without its CSRF token (or another flow's), project.
    "csrf_failed": (
        "画面の有効期限が切れたか、不正な操作です。"
        " お手数ですが、表示中の画面から操作し直して下さい。"
    ),
    # R-ACCT-3, project: the account API answer to a link on a moved account.
    "account_moved": (
        "ご指定の口座は移管されたため、ご利用いただけません。"
        " 新しい店番・口座番号でAPI連携認証を行って下さい。"
    ),
    # R-ACCT-4, project: the host keeps about three months of history.
    "history_out_of_range": "照会できる取引明細は{earliest}以降の約3か月分です。",
    # The account API's bad parameters, project.
    "invalid_parameter": "指定された条件が正しくありません。（{detail}）",
    # R-FLOW-9 / R-AUTHZ-1,3,4, project: the link has ended.
    "grant_inactive": "API連携の認可期間が終了しているか、解除されています。",
}

# -- Per-field texts for a field in the wrong form (R-ERR-INPUT-2), project.
INVALID: Final[dict[str, str]] = {
    "branch_no": "店番は半角数字3桁で入力して下さい。",
    "account_type": "科目を一覧から選択して下さい。",
    "account_no": "口座番号は半角数字7桁で入力して下さい。",
    "name_kana": "お名前は半角カタカナ48文字以内で入力して下さい。",
    "birth_year": "生年月日の年は西暦（半角数字4桁）で入力して下さい。",
    "birth_month": "生年月日の月を選択して下さい。",
    "birth_day": "生年月日の日を選択して下さい。",
    "birth_date": "生年月日に存在しない日付が指定されています。",
    "phone": "電話番号は半角数字10桁または11桁（ハイフン無し）で入力して下さい。",
    "email": "メールアドレスは半角英数字記号64文字以内で正しく入力して下さい。",
    "email_confirm": "メールアドレスと確認用のメールアドレスが一致しません。",
    "pin": "暗証番号は半角数字4桁で入力して下さい。",
    "agree": "当信用組合のAPI利用規定を確認し、同意する場合はチェックして下さい。",
    "decision": "「許可する」または「拒否する」を選択して下さい。",
}

# -- Fixed texts of the screens (manual).
CANCELLED: Final = "API連携認証を中止しました。"
RETURN_TO_APP: Final = "連携元画面へ"
CONSENT_SCOPE: Final = "口座情報・明細情報へのアクセス"
CONSENT_SCOPE_DETAIL: Final = "お客様の口座の資産情報へのアクセスを許可します。"
CONSENT_AGREEMENT: Final = "当信用組合のAPI利用規定を確認し、同意します。"


def message(code: str, **values: str) -> str:
    """The text for ``code``; ``values`` fill the project's templated texts."""
    text = MESSAGES[code]
    return text.format(**values) if values else text
