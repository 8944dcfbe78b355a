"""Red-flag patterns (English, Spanish, French, German) with clause-level negation handling."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class RedFlag:
    reason: str
    patterns: tuple[re.Pattern[str], ...]
    needs: tuple[re.Pattern[str], ...] = ()  # another sign that must also appear (un-negated) in the message


def _p(*alternatives: str) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(a, re.I) for a in alternatives)


_TRAUMA = _p(
    r"\b(fell|fall(en|ing)?|slipped|twist(ed|ing)?|pop(ped)?|popping sound|crack(ed)?|came off|collid\w*|collision|tackl\w*|crash\w*|"
    r"accident|landed (awkwardly|badly|wrong)|hit by|kicked|bang(ed)?|knocked)\b",
    r"\b(ca[ií]d[ao]|me ca[ií]|torc[ií]\w*|chasquido|golpe|accidente)",
    r"\b(chute|tomb\w*|tordu\w*|torsion|craqu\w*|choc|accident)",
    r"\b(gest[üu]rzt|sturz|verdreht|umgeknickt|knall|unfall|zusammenprall)",
)
_SWELLING = _p(
    r"\b(swell\w*|swollen|swolen|sweling|puff(y|ed) up|ballooned|blew up like)\b",
    r"\b(hinchad[ao]|hinchaz[oó]n|inflamad[ao])", r"\b(gonfl\w*|enfl\w*)", r"\b(geschwollen|schwellung|dick geworden)",
)

FLAGS: tuple[RedFlag, ...] = (
    RedFlag("the knee locking or not straightening", _p(
        r"\block(s|ed|ing)?\b(?!-)(?! in\b)", r"\b(can'?t|cannot|can not|unable to|won'?t) (fully )?(straighten|extend)\b(?! out)(?!\s+(my|the|a)\s+(training|schedule|plan|runs?|distance|mileage))",
        r"\b(can'?t|cannot|can not|unable to|won'?t) (get|make) (it|my knee|the knee|my leg) (fully |all the way )?straight",
        r"\b(knee|it) (keeps |still )?catch(es|ing)?\b",
        r"\bstuck (bent|in a bent)", r"\bbloque(a|ada|ado|o)\b|\bno puedo (estirar|extender)",
        r"\bbloqu[ée]e?\b|\bne (peux|peut) (pas|plus) (tendre|[ée]tendre|d[ée]plier)",
        r"\bblockiert|\bklemmt\b|\b(kann|l[äa]sst sich) \w* ?(nicht|kaum) (mehr )?(strecken|durchstrecken)",
    )),
    RedFlag("the knee giving way", _p(
        r"\b(giv(es|ing|en)|gave) (way|out)\b|\bbuckl(e|es|ed|ing)\b|\bcollaps(es|ed|ing)\b",
        r"\bse me (va|dobla|cede)\b|\bfalla la rodilla|\bcede la rodilla",
        r"\bse d[ée]robe|\bl[âa]ch(e|é) (sous|brusquement)?", r"\bknickt (\w+ )?weg|\bgibt (pl[öo]tzlich )?nach",
    )),
    RedFlag("not being able to bear weight", _p(
        r"\b(can'?t|cant|cannot|can not|unable to|could ?n[o']?t|impossible to) (even )?"
        r"(bear|bare|put|take|stand|walk|put any|take any)\b(?!.{0,20}\b(run|sprint|jog)\w*)",
        r"\b(can |could )?(barely|hardly) (walk|stand|put weight|bear weight|take weight)",
        r"\bno (puedo|logro) (apoyar|caminar|andar|pisar)", r"\bne (peux|peut|parviens) (pas|plus) (marcher|poser|m'appuyer|appuyer)|\bimpossible de (marcher|poser|m'appuyer)",
        r"\bkann (\w+ )?(nicht|kaum) (mehr )?(auftreten|gehen|stehen|belasten)|\bnicht (mehr )?belasten",
    )),
    RedFlag("swelling after a fall, twist or pop", _SWELLING, needs=_TRAUMA),
    RedFlag("fever or a hot, red, swollen joint (possible infection)", _p(
        r"\b(fever|high temperature|chills|shivering|the shivers|rigors)\b|\bfeverish\b(?!ly)|\b(got|have|had|running) a temperature\b",
        r"\b(hot|warm)\s*(,|and)?\s*(red|swollen|puffy|to the touch)|\bred,? hot\b|\bred and (hot|warm)",
        r"\bfiebre|\bcaliente y (roja|hinchada)", r"\bfi[èe]vre|\bchaud(e)? et (rouge|gonfl)", r"\bfieber|\b(hei[ßs]|warm) und (rot|geschwollen)",
    )),
    RedFlag("calf pain or swelling (possible blood clot)", _p(
        r"\b(calf|calves)\b(?! raise)(?! stretch).{0,40}\b(swell\w*|swollen|tender|pain\w*|hurts?|red|warm|hot)\b",
        r"\b(swollen|swelling|pain\w*|tender|sore|hot|red)\b.{0,20}\b(in|of) (my|the|his|her) (calf|calves)\b",
        r"\bpantorrilla\w*.{0,30}(hinchad|dolor|roja|caliente)|(hinchad|dolor)\w*.{0,20}pantorrilla",
        r"\bmollet.{0,30}(gonfl|douleur|rouge|chaud)|(gonfl|douleur)\w*.{0,20}mollet",
        r"\bwade.{0,30}(geschwollen|schmerz|rot|warm)|(geschwollen|schmerz)\w*.{0,20}\bwade",
    )),
    RedFlag("numbness, tingling or weakness in the leg or foot", _p(
        r"\bnumb(ness)?\b|\btingl\w*|\bpins and needles\b|\bfoot drop\b|\bcan'?t lift my (foot|toes)\b",
        r"\b(leg|foot) (feels|is|went|goes|has gone) (weak|dead)\b|\bsudden(ly)? weak",
        r"\bentumecid\w*|\bhormigue\w*|\bsin sensibilidad", r"\bengourdi\w*|\bfourmill\w*",
        r"\btaub(heit)?\b|\bkribbel\w*|\bameisenlaufen",
    )),
    RedFlag("pain at night or at rest with weight loss or feeling unwell", _p(
        r"\b(wakes? me|waking me|keeps me (up|awake)|(pain|hurts?|aches?|throbs?) (\w+ )?(at|all|every) night|night pain)\b"
        r"|\b(at rest|resting|constant)\b.{0,60}\b(weight loss|losing weight|lost weight|night sweats|unwell)",
        r"\bnight sweats\b|\b(unexplained|unintentional) weight loss\b|\blost .{0,15}\b(kg|kilos?|pounds|lbs|stone|weight) without (trying|meaning to|dieting)",
        r"\bpor la noche|\bdolor nocturno|\bme despierta", r"\bla nuit\b|\bme r[ée]veille", r"\bnachts\b|\bweckt mich",
    )),
    RedFlag("a child or teenager with knee pain and a limp (the hip must be checked)", _p(
        r"\blimp(s|ing|ed)?\b", r"\bcojea\w*|\bcojera", r"\bboit(e|ent|ait)\b|\bboiterie", r"\bhinkt\b|\bhinken",
    ), needs=_p(
        r"\b(child|kid|son|daughter|boy|girl|teen\w*|adolescent|youth|junior|"
        r"(8|9|10|11|12|13|14|15|16)[- ]?(year|yr)s?[- ]?old)\b",
        r"\b(hij[oa]|niñ[oa]|adolescente)", r"\b(fils|fille|enfant|ado)\b", r"\b(sohn|tochter|kind|jugendlich\w*)",
    )),
    RedFlag("a visible deformity or a kneecap out of place", _p(
        r"\bdeform\w*|\bdislocat\w*|\bout of place\b|\b(looks|look) (bent|wrong|misshapen|crooked)\b|\bbone sticking|\bwrong shape\b|\bbent sideways\b|\bmisshapen\b",
        r"\bdeformad\w*|\bdislocad\w*|\bluxaci", r"\bd[ée]form\w*|\bluxation|\bd[ée]bo[îi]t", r"\bverformt|\bausgerenkt|\bluxation",
    )),
)

_NEGATION = re.compile(
    r"\b(no|not|never|without|nor|don'?t|doesn'?t|didn'?t|isn'?t|wasn'?t|haven'?t|hasn'?t|zero|free of|absence of|"
    r"sin|ni|nunca|pas|sans|jamais|aucun\w*|kein\w*|nicht|ohne|nie)\b",
    re.I,
)
_CLAUSE = re.compile(r"[.;!?\n]|,\s*(but|yet|though|although|and now|pero|mais|aber)\b|\bbut\b|\bpero\b|\bmais\b|\baber\b", re.I)


def _negated(text: str, start: int) -> bool:
    """A negation word earlier in the same clause ("no swelling", "never locks") cancels the flag."""
    window = text[max(0, start - 60) : start]
    cut = [m.end() for m in _CLAUSE.finditer(window)]
    clause = window[cut[-1] :] if cut else window
    return bool(_NEGATION.search(clause))


def _present(patterns: tuple[re.Pattern[str], ...], text: str) -> bool:
    return any(not _negated(text, m.start()) for p in patterns for m in p.finditer(text))


_QUOTED = re.compile(r"(?:(?<=\s)|^)(['\"“‘])([^'\"”’\n]{2,30})(['\"”’])(?=[\s.,;:?!]|$)")


def find_red_flags(text: str) -> list[str]:
    """Reasons of every un-negated red flag in the message, in a fixed order.

    A term in quotes ("what does 'giving way' mean?") is being asked about, not reported, so it does not count.
    """
    text = _QUOTED.sub(" ", text)
    return [f.reason for f in FLAGS if _present(f.patterns, text) and (not f.needs or _present(f.needs, text))]
