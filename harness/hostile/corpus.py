"""What hostile input looks like: the sample texts the generators draw from.

Known attacks (SQL and HTML injection, template syntax), the width and encoding
mistakes a Japanese form meets (full-width digits, kana of both widths, the
ideographic space, zero-width characters), control characters and NUL, numbers
a parser may choke on, and flow cookies no server issued. The Hypothesis
strategies (:mod:`.strategies`) mix these with random text; the judge
(:mod:`.verdict`) looks for :data:`UNESCAPED` in every HTML answer.
"""

from __future__ import annotations

import re
from typing import Final

from renkei.contract.screens import FIELDS

SQL: Final = (
    "' OR '1'='1",
    "1' OR 1=1 --",
    "115; DROP TABLE accounts; --",
    "' UNION SELECT pin_hash, 1 FROM cards --",
    "1100026' AND SLEEP(5) --",
    '"; DELETE FROM grants; --',
    "1357' OR ''='",
)
MARKUP: Final = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "<svg onload=alert(1)>",
    "'><iframe src=javascript:alert(1)>",
    "javascript:alert(1)",
    "{{7*7}}",
    "${7*7}",
    "{% raw %}",
)
#: The markup of :data:`MARKUP` as it would run if it came back unescaped in HTML.
UNESCAPED: Final = re.compile(
    r"<script>alert|<img src=x onerror|<svg onload|<iframe src=javascript", re.I
)
#: The manual's values and names typed at the wrong width or with stray spaces.
WIDTH: Final = (
    "０１２",
    "１１５",
    "１１０００２６",
    "１３５７",
    "０９０１２３４３３３３",
    "１９８５",
    "ﾃﾞｰﾀ ﾀﾛｳ",
    "デ－タ タロウ",
    "データ　タロウ",
    "ﾃﾞｰﾀ　ﾀﾛｳ",
    "ﾃﾞｰﾀﾀﾛｳ",
    "ﾃ゙ｰﾀ ﾀﾛｳ",
    "ｷｬﾉﾝ ﾊﾅｺ",
    "ＡＢＣ",
    "115\u3000",
    "1357\u200b",
)
CONTROL: Final = (
    "\x00",
    "1357\x00",
    "\x00115",
    "\r\n",
    "\t",
    "\x1b[31m",
    "\x7f",
    "\u202e",
    "\ufeff",
    "\x85",
    "\u2028",
)
OTHER: Final = (
    "",
    " ",
    "null",
    "true",
    "-1",
    "1e309",
    "NaN",
    "0x10",
    "../../etc/passwd",
    "%00",
    "%ff",
    "😀",
    "a" * 1000,
    "9" * 400,
    "0001-01-01T00:00:00+00:00",
    "9999-12-31T23:59:59+09:00",
    "2026-02-30",
)
SAMPLES: Final = SQL + MARKUP + WIDTH + CONTROL + OTHER
#: Flow cookies no server issued: quoted with octal escapes (a cookie parser
#: decodes ``"\\000"`` to a NUL), injections, too long, percent-encoded.
FORGED_COOKIES: Final = (
    '"\\000"',
    '"ab\\000cd"',
    '"\\377\\376"',
    '"a\\"b"',
    "%00",
    "' OR '1'='1",
    "<script>alert(1)</script>",
    "0" * 32,
    "f" * 4000,
    "",
)

_NAME = FIELDS["name_kana"]
#: The characters a name of ② may hold by the contract's format (half-width kana
#: from U+FF66, then the half-width punctuation), and ``/``, which it may not:
#: text of these is mostly a well-formed name, so the deeper checks are reached.
HALF_KANA: Final = (
    "".join(c for c in map(chr, range(0xFF61, 0xFFA0)) if _NAME.matches(c))
    + "".join(c for c in map(chr, range(0x20, 0x7F)) if _NAME.matches(c))
    + "/"
)
#: Full-width katakana, the ideographic space and the long vowel mark: what a
#: customer types for a name that must be half-width.
FULL_KANA: Final = (
    "ァアィイゥウェエォオカガキギクグケゲコゴサザシジスズセゼソゾタダチヂッツヅテデトドナニヌ　ー"
)
FULL_DIGITS: Final = "０１２３４５６７８９"
#: What a header value can hold: Latin-1 without control characters.
LATIN1: Final = "".join(chr(c) for c in (*range(0x20, 0x7F), *range(0xA0, 0x100)))
CONTROLS: Final = "".join(chr(c) for c in (*range(0x20), 0x7F, 0x85, 0x2028, 0x202E, 0xFEFF))
