"""Forgiving phrase matching for must_mention / must_not: case, punctuation, plurals and simple stems.

An alternative matches when its words appear in a row in the text, each word equal after normalisation and
stemming; its last word may also be the start of a longer word ("tendin" matches "tendinopathy"), and a one-word
alternative of five or more letters may sit anywhere inside a word ("arthritis" in "osteoarthritis"). Shorter words
must start a word, so "hip" does not match "relationship".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_APOSTROPHES = re.compile(r"['’‘`´]")
_DIGIT_LETTER = re.compile(r"(?<=\d)(?=[a-z])|(?<=[a-z])(?=\d)")
_NON_WORD = re.compile(r"[^a-z0-9]+")
_VOWEL = re.compile(r"[aeiouy]")
INSIDE_MIN = 5  # letters a one-word alternative needs before it may match inside a longer word


@dataclass(frozen=True)
class Words:
    """A text as normalised words and their stems, side by side."""

    raw: tuple[str, ...]
    stems: tuple[str, ...]


def words(text: str) -> Words:
    folded = unicodedata.normalize("NFKD", text.lower())
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    folded = _DIGIT_LETTER.sub(" ", _APOSTROPHES.sub("", folded))
    raw = tuple(_NON_WORD.sub(" ", folded).split())
    return Words(raw=raw, stems=tuple(stem(w) for w in raw))


def stem(word: str) -> str:
    """A deliberately small stemmer: plurals, -ing, -ed and a final -e, so "stairs"/"stair" and "tape"/"taping" meet."""
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif re.search(r"(s|x|z|ch|sh)es$", word):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        base = word[: -len(suffix)]
        if word.endswith(suffix) and not word.endswith("eed") and len(base) >= 3 and _VOWEL.search(base):
            word = base[:-1] if len(base) > 3 and base[-1] == base[-2] and base[-1] not in "lsz" else base
            break
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word


def contains(text: Words, phrase: str) -> bool:
    """Whether ``phrase`` occurs in ``text`` (see the module docstring for what counts)."""
    want = words(phrase)
    n = len(want.raw)
    if n == 0:
        return False
    if n == 1 and len(want.raw[0]) >= INSIDE_MIN and want.raw[0].isalpha():
        return want.stems[0] in text.stems or any(want.raw[0] in w for w in text.raw)
    for i in range(len(text.raw) - n + 1):
        if all(text.stems[i + j] == want.stems[j] for j in range(n - 1)) and _last_matches(
            text.raw[i + n - 1], text.stems[i + n - 1], want.raw[-1], want.stems[-1]
        ):
            return True
    return False


def _last_matches(raw: str, stemmed: str, want_raw: str, want_stem: str) -> bool:
    return stemmed == want_stem or (want_raw.isalpha() and raw.startswith(want_raw))


def first_alternative(text: Words, item: str) -> str | None:
    """The first of ``item``'s '|'-separated alternatives found in ``text``, or None."""
    for alternative in item.split("|"):
        if alternative.strip() and contains(text, alternative):
            return alternative.strip()
    return None
