"""The texts of the bank's own pages, which every screen's footer links: the
catalogue's part for API利用規定, よくあるご質問 and お問い合わせ先 (R-PLAT-1).

The よくあるご質問 are the manual's (its last section but one), verbatim and in
full: the four sections, every question and every ☞ answer, line by line where
the manual breaks the line, with its own spelling (「A P I」 spaced,
「送信するめだけ」). The page numbers the questions of each section from 1, as
the manual does.

The manual does not print the API利用規定: it links the text on the credit
union's website. renkei's page says what the sandbox is instead, unless a
scenario gives the bank's own text or URL (``bank.terms_text``, ``bank.terms_url``).
The お問い合わせ先 values (department, phone, hours, e-mail) are bank data, in
:class:`simulator.core.bank.Contact`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from renkei.contract.docs import CONTACT, FAQ, TERMS


@dataclass(frozen=True)
class Question:
    """One question of よくあるご質問 and its ☞ answer, each as the lines the manual prints."""

    question: tuple[str, ...]
    answer: tuple[str, ...]


@dataclass(frozen=True)
class Section:
    """A numbered section of よくあるご質問, e.g. 「1. 認証前」."""

    heading: str
    questions: tuple[Question, ...]


#: The pages' titles: the footer's words for them in the manual.
TITLES: Final[dict[str, str]] = {
    TERMS: "API利用規定",
    FAQ: "よくあるご質問",
    CONTACT: "お問い合わせ先",
}

#: project: renkei's API利用規定, when the scenario gives the bank's neither as text nor URL.
TERMS_TEXT: Final = (
    "本サンドボックスは「API連携認証」の試験用模擬環境です。実在の口座・お客様の情報は一切扱いません。",
    "実際の金融機関のAPI利用規定は、その金融機関のホームページに掲載されています。",
)

#: manual: よくあるご質問, every section, question and answer.
FAQ_SECTIONS: Final = (
    Section(
        "1. 認証前",
        (
            Question(
                ("中ノ郷に届け出した電話番号がどれだか分からない(忘れた)。",),
                ("口座のある取扱い店までお問い合わせください。",),
            ),
        ),
    ),
    Section(
        "2. 認証完了後",
        (
            Question(
                (
                    "A P I 連携認証で、暗証番号を複数回間違えてロックされてしまった。"
                    "A T Mからの出金取引なども制限されてしまうのか。",
                ),
                (
                    "ロックされるのはA P I 連携認証だけです。",
                    "その他のお取引には制限はかかりません。",
                ),
            ),
            Question(
                (
                    "本人認証情報を複数回誤り「お取扱いができなくなりました。」"
                    "というメッセージが出力した。",
                ),
                (
                    "本人認証情報を複数回誤りますと一時的に閉塞状態となります。"
                    "閉塞状態は翌日0時に解除されます。",
                ),
            ),
            Question(
                ("認証操作が完了したがメールが届かない。",),
                (
                    "スマートフォンのメール受信設定等にて以下のドメインからの受信が"
                    "できるよう設定をお願い致します。",
                    "【@webcenter.anser.or.jp】",
                ),
            ),
            Question(
                (
                    "・ 誤ったカナ氏名で登録してしまったので修正したい。",
                    "・ 氏名が変わったので変更したい。",
                ),
                (
                    "A P I 連携認証時にご登録いただいた氏名(カナ)は、認証操作時の操作ログに"
                    "記録するためだけのものですので、認証完了後は、修正等する必要はありません。",
                ),
            ),
            Question(
                (
                    "・ 誤ったメールアドレスで登録してしまったので修正したい。",
                    "・ メールアドレスが変わったので変更したい。",
                ),
                (
                    "A P I 連携認証時にご登録いただいたメールアドレスは、認証操作完了後の"
                    "通知メールを送信するめだけのものですので、認証完了後は、修正等する"
                    "必要はありません。",
                ),
            ),
        ),
    ),
    Section(
        "3. サービスについて",
        (
            Question(
                ("API連携認証がサービス時間外となる時間を確認したい",),
                (
                    "以下の時間についてはサービス時間外となります。",
                    "①毎日0時から1分程度",
                    "②毎日4時から数分程度",
                    "③毎月第1および第3月曜日の2:00~6:00",
                    "④毎月第2および第4日曜日の前日23:50~翌7:00",
                    "⑤1月1日~3日の0:00~8:00、19:00~24:00",
                    "⑥その他システムメンテナンスの場合",
                ),
            ),
            Question(
                ("取引明細で照会できる取引日の範囲は。",),
                (
                    "当組合のシステムでは、約3か月分の取引明細を保有していますので、"
                    "その範囲の中で確認が可能です。",
                ),
            ),
            Question(
                ("アプリで一度照会した(取込んだ)取引明細はいつまで見れるのか。",),
                (
                    "各アプリの仕様によります。",
                    "スマホアプリ提供事業者にご確認ください。",
                ),
            ),
            Question(
                (
                    "これまで本アプリの認証で使っていた口座を別の店舗に移動(移管)した。"
                    "どうすればよいか。",
                    "例) いままで 011店舗 口座番号1111111",
                    "現 在 022店舗 口座番号2222222",
                ),
                (
                    "口座の移管後は、旧店舗・旧口座番号(011-111111)でのアプリ利用"
                    "(情報更新、API連携認証)は不可となります。",
                    "アプリを継続して利用する場合は、新店舗・新口座番号(022-2222222)で、"
                    "API連携認証を行う必要があります。",
                    "なお、旧店舗・旧口座番号で取得していた取引情報等の扱いは、"
                    "各アプリの仕様によります。",
                ),
            ),
        ),
    ),
    Section(
        "4. その他",
        (
            Question(
                (
                    "アプリをアンインストールした。"
                    "アプリ事業者と口座の連携は、即時に解除されるのか。",
                ),
                ("誤ってアンインストールした場合などを考慮し、一定期間は連携が継続されます。",),
            ),
            Question(
                ("スマートフォンの機種変更をする(した)。どうすればよいか。",),
                (
                    "各アプリによって引き継ぎ操作が異なります。"
                    "スマホアプリ提供事業者にご確認ください。",
                ),
            ),
        ),
    ),
)
