"""Read a runner's message before answering it: the questions it asks, and what it tells about the person.

A long message (a story, its history, then one to three questions) loses its questions when it is embedded whole;
the asks are what retrieval and the answer's opening should serve, in the order asked. What the message tells (a
race date, where it hurts, since when, what was tried) is shown back in one plain line, so a misreading can be
corrected in the next message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from assistant.safety.triage import sentences

MAX_ASKS = 3
MAX_MENTIONS = 4
LONG_MESSAGE_WORDS = 40

_ASKING = re.compile(
    r"^\s*(?:(?:so|but|and|also|ok|okay|anyway|now|then|well|basically|my question is)[,:]?\s+)*"
    r"(?:should|shall|can|could|would|will|is|are|am|do|does|did|have|has|how|what|why|when|where|which|who|"
    r"any|anyone|anybody|need|must)\b",
    re.I,
)
_WONDERING = re.compile(r"\b(?:wondering|want to know|like to know|question is|advice on|tips on|help with)\b", re.I)
# Words of an ask that carry no topic ("any advice?", "can anyone help me with my issue?"): an ask made only of
# these leaves the message's story as the question.
_GENERIC = frozenset(
    "a about advice after all am an and any anybody anyone are as at be bit but by can could did do does doing for "
    "from gone had has have having help here hi hoping how i i'm if in injury is issue it its just kind know like "
    "look me my of offer on or out please problem question regarding situation so some someone something suggestion "
    "suggestions sure that the them there thanks think this thoughts through tips to tried up us want was we were "
    "what which who will with wondered wondering would you your experience similar ideas gone anyone's".split()
)
_WORD = re.compile(r"[a-z']+")
_RACE = re.compile(r"\b(race|marathon|half|10k|5k|ironman|triathlon|70\.3|parkrun|event)\b", re.I)
_TRIED = {"ic": "icing", "ibuprofen": "ibuprofen", "advil": "ibuprofen", "nsaid": "anti-inflammatories",
          "stretch": "stretching", "foam": "foam rolling", "physio": "physiotherapy", "rest": "rest",
          "strap": "strapping", "brace": "a brace", "knee support": "a knee support", "insoles": "insoles",
          "orthotics": "orthotics", "cortisone": "cortisone", "new shoes": "new shoes"}
_NUMBER = r"(?:\d+|a|an|one|two|three|four|five|six|seven|eight|nine|ten|a few|a couple of|couple of|several)"
# What was tried or is being considered: named as mentioned, never as "tried" (asking about cortisone is not having it).
_TRIED_PATTERN = re.compile(r"\b(ic(?:e|ed|ing)|ibuprofen|advil|nsaids?|stretch(?:ed|ing)?|foam roll(?:er|ing)?|"
                            r"physio(?:therapy)?|rest(?:ed|ing)?|strap(?:ped|ping)?|brace|knee support|insoles|"
                            r"orthotics|cortisone|new shoes)\b", re.I)
_NOT_AGE = r"(?:km|k\b|miles?|mins?|minutes|%|weeks?|days?|months?|years? (?:into|of|since)|hours?|lbs?|kg|kilos?)"
_NEGATED = re.compile(r"\b(?:no|not|never|don'?t|doesn'?t|didn'?t|isn'?t|without)\b[^.?!,;]{0,25}$", re.I)


def _side(words: str) -> re.Pattern[str]:
    """A side of the knee ("the outside of my right knee", "knee hurts on the outer side"), not "running outside"."""
    return re.compile(
        rf"\b(?:{words})(?: side| part| edge| bit| aspect)?(?: of)? (?:the |my |his |her |your |both )?"
        rf"(?:left |right )?knees?\b|\bknees?\b[^.?!]{{0,40}}\bon the (?:{words})(?: side| part| edge)?\b", re.I)


_MENTIONS: list[tuple[str, re.Pattern[str]]] = [
    ("a race {0}", re.compile(
        rf"\b(?:in|is|about|only|just|exactly)\s+({_NUMBER}\s+(?:days?|weeks?))|\b(tomorrow|this weekend|"
        rf"next (?:week|weekend|sunday|saturday))\b|\b({_NUMBER}\s+(?:days?|weeks?))\s+(?:away|before|out|to go)",
        re.I)),
    ("pain on the outside of the knee", _side("outside|outer|lateral")),
    ("pain on the inside of the knee", _side("inside|inner|medial")),
    ("pain around or under the kneecap", re.compile(r"\b(kneecap|knee cap|patella|front of (?:my|the) knee)", re.I)),
    ("pain on stairs", re.compile(r"\b(stairs?|steps)\b", re.I)),
    ("for {0}", re.compile(rf"\b(?:pain|hurt\w*|ach\w*|sore\w*|injur\w*|problem|issue|bother\w*)\b[^.?!]{{0,40}}"
                           rf"\bfor (?:the (?:past|last) )?({_NUMBER} (?:days?|weeks?|months?|years?))\b", re.I)),
    ("age {0}", re.compile(rf"\b(?:i['’]?m|i am|aged?)\s+(\d{{2}})\b(?!\s*{_NOT_AGE})|"
                           r"\b(\d{2})[- ]?(?:years?[- ]old|yo\b|y/o)|\b(\d{2})\s?[mf]\b", re.I)),
    ("new to running", re.compile(r"\b(c25k|couch to 5k|couch-to-5k|beginner|new runner|just started running)\b",
                                  re.I)),
    ("more running lately", re.compile(r"\b(increased|upped|added|ramped up|more) (?:my )?"
                                       r"(?:mileage|miles|distance|hills?|speed ?work|training)\b", re.I)),
    ("{0}", _TRIED_PATTERN),
]


# Treatments, products and circumstances runners ask about by name; when no retrieved passage names one, the answer
# says so rather than answering around it.
_NAMED = re.compile(
    r"\b(glucosamine|chondroitin|collagen|turmeric|curcumin|fish oil|omega[- ]3|vitamin [a-z]\d?|cbd|"
    r"prp|platelet[- ]rich plasma|hyaluronic(?: acid)?|stem cells?|shockwave|acupuncture|dry needling|cupping|"
    r"massage guns?|percussion massage|compression (?:sleeves?|socks|tights)|kinesio(?:logy)? tape|k-?tape|"
    r"ice baths?|cryotherapy|infrared|laser therapy|ultrasound therapy|tens machines?|magnet\w*|copper|"
    r"heat packs?|saunas?|yoga|pilates|creatine|menstrual (?:cycles?|periods?)|menstruation|"
    r"cold weather|altitude|pregnan\w*|"
    r"knee replacements?|hormone\w*|menopause)\b",
    re.I,
)


@dataclass
class Reading:
    """What a message asks (in order) and what it tells (short plain phrases)."""

    message: str
    asks: list[str] = field(default_factory=list)
    mentions: list[str] = field(default_factory=list)
    named: list[str] = field(default_factory=list)

    @property
    def long(self) -> bool:
        return len(self.message.split()) > LONG_MESSAGE_WORDS

    def mention_line(self) -> str:
        """One plain line of what was understood ("You mention: ..."), empty when nothing was."""
        return f"You mention: {'; '.join(self.mentions)}." if self.mentions and self.long else ""


def read_message(message: str) -> Reading:
    """The asks of ``message`` (question sentences with a topic, at most three) and what it mentions."""
    parts = sentences(message)
    asks = [s for s in parts if _is_ask(s)]
    topical = [s for s in asks if _topical(s)]
    named = list(dict.fromkeys(m.group(0).lower() for m in _NAMED.finditer(" ".join(topical) or message)))
    return Reading(message=message, asks=topical[:MAX_ASKS], mentions=_mentions(message, parts), named=named)


def not_covered(named: list[str], passages: list[str]) -> list[str]:
    """The names no passage mentions (compared by their first five letters, so "ice bath" meets "ice baths")."""
    text = " ".join(passages).lower()
    return [n for n in named if not all(w[:5] in text for w in n.split())]


def _is_ask(sentence: str) -> bool:
    if len(sentence.split()) > 45:
        return False
    return sentence.endswith("?") or bool(_ASKING.match(sentence) and not sentence.endswith(".")) or bool(
        _WONDERING.search(sentence))


def _topical(ask: str) -> bool:
    return len([w for w in _WORD.findall(ask.lower()) if w not in _GENERIC]) >= 2


def _mentions(message: str, parts: list[str]) -> list[str]:
    found: list[str] = []
    for template, pattern in _MENTIONS:
        # a race date counts only in a sentence about the race; anything counts only where it is not denied
        text = " ".join(s for s in parts if _RACE.search(s)) if template.startswith("a race") else message
        matches = [m for m in pattern.finditer(text) if not _NEGATED.search(text[: m.start()])]
        if "{0}" in template:
            hits = [next(g for g in m.groups() if g).lower() for m in matches if any(m.groups())]
            if pattern is _TRIED_PATTERN:
                hits = [next(v for k, v in _TRIED.items() if h.startswith(k)) for h in hits]
            elif template.startswith("a race"):
                hits = [h if (h[0].isalpha() and " " not in h) or h.startswith(("next", "this")) else f"in {h}"
                        for h in hits[:1]]
            values = list(dict.fromkeys(hits))
            if values:
                found.append(template.format(", ".join(values[:3])))
        elif matches:
            found.append(template)
    return found[:MAX_MENTIONS]
