# ruff: noqa: E501
"""A verbatim copy of ``shared/spec/REQUIREMENTS.md`` (generated; do not edit).

Used by :func:`harness.requirements.load` when the specification is not beside
the checkout. Regenerate with ``python -m harness.requirements --write``;
``tests/test_conform.py`` checks that it matches the specification.
"""

from typing import Final

TEXT: Final = r"""# What the manual requires

Source: `../seed/000_3291a03ddaccfb0b.txt`, the screen manual of 中ノ郷信用組合 for
「API連携認証」, the identity check that a credit union runs when a partner
smartphone app (a 電子決済等代行業者, here 「しんくみアプリwithCRECO」) is linked to a
customer's account through the bank API. The screens are the bank's own, not the
app's. Every requirement below has an ID; features, tests and reports refer to it,
so that the conformance report can say, requirement by requirement, what was
shown to hold.

Messages are quoted verbatim from the manual. Where the manual leaves a value
open (the lockout count, the screen ID of screen ②), the project chooses a
default, makes it configurable, and says so in its own docs.

## R-FLOW: the three stages and six screens

| ID | screen (画面ID) | what it does |
|---|---|---|
| R-FLOW-1 | ① ご利用口座情報入力 (SOA201) | 店番 (3 half-width digits, e.g. 005), 科目 (select; 普通預金 …), 口座番号 (half-width digits, 7: e.g. 0000123). Disclaimer (免責事項) and phishing warning (注意事項). Footer: screen ID, links API利用規定 / よくあるご質問 / お問い合わせ先 (phone). 「次へ」. |
| R-FLOW-2 | ② お客様情報入力 (ID not printed in the manual; SOA202 here, see INTERFACE.md) | shows the account chosen on ① (e.g. 店番 115 普通預金 1100026); お名前 in half-width katakana, at most 48 characters (e.g. ﾃﾞｰﾀ ﾀﾛｳ); 生年月日 (Western year typed, month and day selected); 電話番号 registered at the bank, half-width digits, no hyphens, 10 or 11 digits; メールアドレス twice (at most 64 characters, both must match). 「次へ」 checks everything against the host; 「中止する」. |
| R-FLOW-3 | ③ 電話番号の確認 (SOA208) | shows the registered phone masked except the last 4 digits (`*******3333`); 「電話番号の決定」 / 「中止する」. |
| R-FLOW-4 | ④ 電話番号認証 (SOA209) | 発信元: the registered phone (masked); 発信先: a toll-free 認証先電話番号 chosen at random, per attempt, from a pool of several. The customer must call within 120 s of the screen being shown, from the registered phone, with caller ID shown (withheld = not authenticated; dialling with the prefix 186 shows it). No announcement; the line rings 2–3 times and hangs up by itself; the call is free. Then 「確定する」 → ⑤. |
| R-FLOW-5 | ⑤ キャッシュカード暗証番号認証 (SOA211) | 4 half-width digits. Wrong PIN → the identity error of R-ERR-HOST-2, counted towards lockout. |
| R-FLOW-6 | ⑥ 情報連携認可 (SOA206) | 「XXX事業者が以下の許可を求めています」: 口座情報・明細情報へのアクセス; 認可期間 30日; cautions; a checkbox 「当信用組合のAPI利用規定を確認し、同意します。」 that must be ticked; 「許可する」 / 「拒否する」. |
| R-FLOW-7 | 中止 | 「中止する」 on ②③④⑤ and 「拒否する」 on ⑥ show 「API連携認証を中止しました。」 with 「連携元画面へ」, which returns to the app (an OAuth error return, `access_denied`). |
| R-FLOW-8 | order | a screen can be reached only after the one before it succeeded; back-button, replay and skipping ahead are refused. |
| R-FLOW-9 | periodic re-authentication | the link lasts the 認可期間 (30 days); then the app must send the customer through the flow again. The flow also runs again "regularly for security", not only at first use. |

## R-ACCT: which accounts can be used

| ID | rule |
|---|---|
| R-ACCT-1 | only 普通預金 accounts that have a cash card issued. |
| R-ACCT-2 | a newly opened account has no card on the day it opens and for some days after; until the card exists the account cannot be used. |
| R-ACCT-3 | after an account moves to another branch (移管: 011-1111111 → 022-2222222), the old branch/number can no longer be linked or refreshed; the app must link the new one. |
| R-ACCT-4 | the host keeps about 3 months of transaction history; queries can reach only that far back. |
| R-ACCT-5 | the lockout blocks only API連携認証, never the customer's other dealings (ATM withdrawals etc.). |

## R-ERR: every error the manual shows

Input checks (screens ①②⑤):

| ID | message | when |
|---|---|---|
| R-ERR-INPUT-1 | dialog 「エラー」「入力されていない項目があります。」 with 「必ず入力して下さい。」 under each empty field | 「次へ」 with a required field empty |
| R-ERR-INPUT-2 | (the manual shows none; the project writes a clear message per field) | a field in the wrong form: not half-width digits, wrong length, not half-width katakana, over 48/64 chars, e-mails differ, impossible date |

Host checks (screens ② and ⑤):

| ID | message | when |
|---|---|---|
| R-ERR-HOST-1 | ご指定の口座は、本サービスではお取り扱いできません。 | 科目/口座番号 do not match an account in use (wrong number, wrong 科目, no cash card, moved, closed) |
| R-ERR-HOST-2 | 本人認証情報が誤っています。 本人認証項目をご確認のうえ、再度入力して下さい。 | account right, other details wrong (name, birth date, phone on ②; PIN on ⑤) |
| R-ERR-HOST-3 | お取扱いができなくなりました。 詳しくは本サービスのお問合せ窓口へご照会下さい。 | R-ERR-HOST-2 repeated the set number of times: locked for the rest of the day; unlocked automatically at the next 0:00 (JST) |
| R-ERR-HOST-4 | ただ今お取扱いできません。 詳しくは本サービスのお問合せ窓口へご照会下さい。 理由コードはB84です。 | any attempt on a locked account |

System state (any screen):

| ID | message | when |
|---|---|---|
| R-ERR-SYS-1 | ただ今の時間はサービスを行っておりません。ご了承ください。 | out of service hours (R-HOURS) |
| R-ERR-SYS-2 | ただ今受付が混雑しておりますので、しばらくしてからご利用下さい。 | the host is congested (too many partner-app transactions at once) |
| R-ERR-SYS-3 | 調整のため連絡ができなくなりました。 なお、お急ぎの場合は本サービスのお問合せ窓口へご照会下さい。 | system error |
| R-ERR-SYS-4 | ご指定のサービスはただ今お取り扱いできません。 | the service asked for is not offered now (the manual gives no cause: e.g. the partner app or the API service suspended) |

Phone verification (screen ④):

| ID | message / behaviour | when |
|---|---|---|
| R-ERR-CALL-1 | 「認証中（認証着信待ち）」 | 「確定する」 before the call arrived |
| R-ERR-CALL-2 | the call and 「確定する」 are no longer accepted; the customer must start again from the first screen | more than 120 s since ④ was shown |
| R-ERR-CALL-3 | not authenticated | call with caller ID withheld, or from a number other than the registered one, or to a number other than the one shown |
| R-ERR-CALL-4 | the flow is lost; start again from the first screen | the customer closed the app (the browser session) while calling from another phone |

## R-HOURS: when the service is closed (FAQ 3-Q1, 2/4 of screen ②)

All times JST (Asia/Tokyo); each window is closed at its start and open at its end:

| ID | closed |
|---|---|
| R-HOURS-1 | every day from 0:00 for about 1 minute |
| R-HOURS-2 | every day from 4:00 for a few minutes |
| R-HOURS-3 | the 1st and 3rd Monday of each month, 2:00–6:00 |
| R-HOURS-4 | the day before the 2nd and 4th Sunday, 23:50 until 7:00 the next morning (when a month starts on a Sunday, that day before is its 1st Saturday) |
| R-HOURS-5 | 1–3 January, 0:00–8:00 and 19:00–24:00 |
| R-HOURS-6 | other maintenance, announced ad hoc |

## R-AUTHZ: after the flow

| ID | rule |
|---|---|
| R-AUTHZ-1 | 「許可する」 grants the partner app access to account and transaction information for 30 days. |
| R-AUTHZ-2 | the PIN and other credentials are never disclosed to the partner; traffic to it is encrypted. |
| R-AUTHZ-3 | the customer can end the app's access by contacting the credit union (revocation by the bank). |
| R-AUTHZ-4 | uninstalling the app does not end the link at once: it goes on for a while. |
| R-AUTHZ-5 | a completion e-mail goes to the address given on ②; it is used for nothing else; if it cannot be delivered, the authorization still stands. The sender's address is the bank's configuration (the manual's system sends from the domain `webcenter.anser.or.jp`, which customers are told to allow). |
| R-AUTHZ-6 | the name (kana) and e-mail given on ② are kept only for the operation log and that e-mail; they need no later correction. |

## R-PLAT: the shared system, its banks and its sandboxes

Not rules of the manual's screens but of what stands behind them: the manual's
system serves many credit unions (the completion mail comes from the shared
`webcenter.anser.or.jp`, congestion is 「金融機関API対象アプリの取引が集中している」),
and a sandbox of it serves many partners at once. INTERFACE.md §9–§10 give the
URLs.

| ID | rule |
|---|---|
| R-PLAT-1 | each credit union on the platform is its own bank: its name, branches, customers, contact, API利用規定 and よくあるご質問 pages, 認証先電話番号 pool, lockout threshold and 認可期間; the screens and pages show that bank's, and the よくあるご質問 page holds the manual's questions and answers. |
| R-PLAT-2 | a partner app registered on the platform links customers of any bank; each grant, code and token belongs to one bank and is refused by every other. |
| R-PLAT-3 | congestion counts the partner apps' flows in progress on the whole platform, all banks together; an out-of-hours window or fault may be one bank's or the platform's. |
| R-PLAT-4 | sandboxes are isolated worlds: one sandbox's clock, faults, data, locks, flows, tokens, mails and log never change what another answers. |
"""
