"""The completion e-mail of 「許可する」 (R-AUTHZ-5, FAQ 2-Q3/Q5).

It goes to the address given on ②, which is used for nothing else; if it
cannot be delivered the authorization still stands (the mail adapter reports
the failure to the operation log, never to the flow). The manual does not
print the text, so the wording is renkei's; the sender is the bank's setting.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.core.bank import BankRules
from simulator.core.clock import to_jst
from simulator.core.grants import Grant
from simulator.core.telephony import mask_phone

SUBJECT = "【{bank}】API連携認証完了のお知らせ"

BODY = """\
{bank}をご利用いただきありがとうございます。

以下の内容でAPI連携認証が完了しました。

連携先　　：{client}
口座　　　：店番 {branch} {kind} {number}
認可日時　：{granted}
認可期間　：{expires}まで（{days}日）

お心当たりのない場合や、連携を解除したい場合は、下記までご連絡下さい。
{bank} お問い合わせ先 {contact}

※本メールは送信専用です。ご返信いただいてもお答えできません。
"""


@dataclass(frozen=True)
class Mail:
    sender: str
    to: str
    subject: str
    body: str


def completion_mail(rules: BankRules, grant: Grant, client_name: str, to: str) -> Mail:
    """The notice sent after 「許可する」; shows the account number but no secret."""
    granted, expires = to_jst(grant.granted_at), to_jst(grant.expires_at)
    body = BODY.format(
        bank=rules.name,
        client=client_name,
        branch=grant.account.branch_no,
        kind=grant.account.type_name,
        # The number is masked like the phone on ③: a mail may be read by others.
        number=mask_phone(grant.account.account_no),
        granted=granted.strftime("%Y年%m月%d日 %H:%M"),
        expires=expires.strftime("%Y年%m月%d日 %H:%M"),
        days=rules.grants.days,
        contact=rules.contact_phone,
    )
    return Mail(rules.mail_from, to, SUBJECT.format(bank=rules.name), body)
