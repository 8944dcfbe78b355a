"""Reading grade of plain English text (Flesch-Kincaid), offline and dependency-free.

Syllables are counted by vowel groups with the usual English corrections (a silent final "e", "-le", "-ed"), which
agrees with dictionary counts for most everyday words; the grade is a guide for writers, not a precise measure.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
_SENTENCE_END = re.compile(r"[.!?]+(?:\s|$)")
_VOWELS = re.compile(r"[aeiouy]+")
# Endings whose vowel is usually silent ("make", "jumped", "takes"), except after these letters ("table", "lifted").
_SILENT = {
    "es": ("ses", "xes", "zes", "ces", "ges", "shes", "ches"),
    "ed": ("ted", "ded"),
    "e": ("le", "ee", "ie", "ye"),
}


def syllables(word: str) -> int:
    """Syllables in one word (at least one)."""
    w = word.lower().split("'")[0]
    if len(w) <= 3:
        return 1
    count = len(_VOWELS.findall(w))
    silent = next((ending for ending in _SILENT if w.endswith(ending)), None)
    if silent and not w.endswith(_SILENT[silent]):
        count -= 1
    return max(1, count)


def grade(text: str) -> float:
    """Flesch-Kincaid grade level of ``text`` (0 for text without words)."""
    words = _WORD.findall(text)
    if not words:
        return 0.0
    sentences = max(1, len(_SENTENCE_END.findall(text.strip() + " ")))
    per_sentence = len(words) / sentences
    per_word = sum(syllables(w) for w in words) / len(words)
    return round(0.39 * per_sentence + 11.8 * per_word - 15.59, 1)
