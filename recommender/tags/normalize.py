"""The one definition of a tag's spelling, shared by ETL, taggers and queries.

It lives in `recommender` (not `etl`) because queries such as `recsys recommend
--tag "Seen Live"` must spell tags exactly as the loader stored them.

Tags are matching keys typed by many people on many keyboards, so they get NFKC, not
just NFC: NFKC also folds width and compatibility forms that a CJK input method or a
word processor produces (`ｊａｚｚ` -> `jazz`, `ﬁlm` -> `film`, half-width `ｼﾞｬｽﾞ` ->
`ジャズ`), which nobody means as a different tag. The price is that a few symbols fold
too (`①` -> `1`, `²` -> `2`), which is what identifier matching (UAX #31) accepts as
well. Titles, artists and ids are not normalised: they are shown or matched as given.
Invisible characters (zero-width space, soft hyphen, BOM, direction marks, variation
selectors, Hangul fillers, control characters) are dropped, so a tag made only of them
normalises to "" and is rejected as empty; zero-width (non-)joiners are kept between
visible characters, where they change how emoji and Persian or Indic words render.
"""

from __future__ import annotations

import unicodedata

_JOINERS = frozenset("\u200c\u200d")  # ZWNJ, ZWJ
# Default-ignorable or blank-looking characters whose category is not Cc/Cf.
_BLANK = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u2800\u3164\uffa0")


def _invisible(char: str) -> bool:
    code = ord(char)
    return not char.isspace() and (
        unicodedata.category(char) in ("Cc", "Cf")
        or char in _BLANK
        or 0xFE00 <= code <= 0xFE0F  # variation selectors
        or 0xE0100 <= code <= 0xE01EF  # variation selectors supplement
    )


def normalize_tag(name: str) -> str:
    """NFKC, lower case, invisible characters dropped, whitespace runs collapsed.

    "  Seen   LIVE " -> "seen live"; "ｊａｚｚ" -> "jazz"; "e" + U+0301 -> "é";
    "\\u200b" -> "" (rejected as an empty tag by the ETL).
    """
    text = unicodedata.normalize("NFKC", str(name)).lower()
    if not text.isascii() or not text.isprintable():
        kept = [
            c
            for i, c in enumerate(text)
            if not _invisible(c) or (c in _JOINERS and _between_visible(text, i))
        ]
        # Dropping a character can bring a base letter and a combining mark together.
        text = unicodedata.normalize("NFC", "".join(kept))
    return " ".join(text.split())


def _between_visible(text: str, index: int) -> bool:
    return 0 < index < len(text) - 1 and _shown(text[index - 1]) and _shown(text[index + 1])


def _shown(char: str) -> bool:
    return not char.isspace() and not _invisible(char)
