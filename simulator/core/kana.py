"""Kana names: what the customer may type on ② and how it is compared (R-FLOW-2).

The bank files names in half-width katakana, but customers type them the way
they say them: ｷｬﾉﾝ for a name on file as ｷﾔﾉﾝ (bank systems of the Zengin
character set have no small kana), ﾃﾞｰﾀ or ﾃﾞ-ﾀ, with or without the space
between family and given name. Both sides are normalised before comparing.
"""

from __future__ import annotations

import re

import jaconv

from renkei.contract.screens import KANA_NAME_PATTERN, MAX_NAME_LENGTH

__all__ = ["MAX_NAME_LENGTH", "is_half_width_kana_name", "normalise", "same_name", "to_half_width"]

# The characters a name may have on screen ② (INTERFACE.md §2); its length,
# MAX_NAME_LENGTH, counts half-width characters (R-FLOW-2: 「最大48文字まで」; a
# voiced mark such as ﾞ counts as a character, as on screen).
_HALF_WIDTH_NAME = re.compile(KANA_NAME_PATTERN)
_HAS_KANA = re.compile(r"[\uff66-\uff9d]")

_SMALL_TO_LARGE = str.maketrans("ァィゥェォッャュョヮヵヶ", "アイウエオツヤユヨワカケ")
_DASHES = str.maketrans(dict.fromkeys("-－‐‑‒–—―−ｰ", "ー"))
_SPACES = re.compile(r"[\s\u3000]+")


def is_half_width_kana_name(text: str) -> bool:
    """True for a name the screen accepts: half-width katakana (with space, ｰ, -)."""
    return bool(_HALF_WIDTH_NAME.fullmatch(text)) and bool(_HAS_KANA.search(text))


def normalise(name: str) -> str:
    """A comparison key: full-width katakana, small kana made large, one dash, no spaces."""
    text = jaconv.h2z(name, kana=True, ascii=False, digit=False)
    text = jaconv.hira2kata(text)
    text = text.translate(_SMALL_TO_LARGE).translate(_DASHES)
    return _SPACES.sub("", text)


def same_name(typed: str, on_file: str) -> bool:
    """R-FLOW-2 identity check of the name: equal after :func:`normalise`."""
    return normalise(typed) == normalise(on_file)


def to_half_width(name: str) -> str:
    """A full-width katakana or hiragana name as the bank files it (half-width)."""
    return jaconv.z2h(jaconv.hira2kata(name), kana=True, ascii=True, digit=True)
