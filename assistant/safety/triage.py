"""Triage before retrieval: red flags, injection attempts, dosing, scope, vague questions, diagnosis demands."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from assistant.safety.redflags import find_red_flags
from assistant.schema import Behavior, Decision

_INJECTION = re.compile(
    r"\b(ignore|disregard|forget|override|bypass)\b.{0,40}\b(instructions?|rules?|guidelines?|prompt|restrictions?|"
    r"safety|policy|policies|previous|above)\b"
    r"|\b(system|developer|hidden|initial) (prompt|message|instructions?)\b|^\s*(system|assistant|developer)\s*:"
    r"|\[(system|inst)\]|<\|?(system|im_start)\|?>|\b(developer|god|dan|jailbreak|unrestricted) mode\b|\bjailbreak"
    r"|\b(pretend|act|role-?play|behave) (to be|as|like|you(?:'re| are))\b|\byou are (now|no longer)\b"
    r"|\breveal (your|the)\b|\bprint (your|the) (rules|instructions|prompt)|\bsystem[_ ]?prompt\b"
    r"|\byour (full |complete |exact |original )?(instructions|rules|guidelines)\b"
    r"|\b(base64|rot13|decode (this|the following))\b"
    r"|\bignora (las|tus) instrucciones|\bignore[sz]? (les|tes|vos) (instructions|r[èe]gles)|\bignoriere (alle|deine)",
    re.I | re.M,
)
_MEDICINE = (
    r"(ibuprofen|naproxen|paracetamol|acetaminophen|tylenol|advil|motrin|aleve|aspirin|diclofenac|voltaren|"
    r"nsaids?|anti-?inflammator\w*|painkillers?|pain killers?|pain ?relievers?|steroids?|cortisone|corticosteroids?|"
    r"codeine|tramadol|opioids?|celecoxib|prednisone|meloxicam|medication|medicines?|meds|drugs?|pills?|"
    r"tablets?|capsules?|prp|hyaluronic|ibuprofeno|paracetamol|m[ée]dicament\w*|medikament\w*|schmerzmittel)"
)
_DOSING = re.compile(
    rf"\b(how (much|many|often|frequently)|dose|doses|dosage|dosing|\d+\s*(mg|milligrams?|g|ml)\b|maximum|max\b|"
    rf"how long (can|should) i (take|stay on)|per day|a day|daily|twice|prescri\w*|dosis|posolog\w*|dosierung|"
    rf"cu[aá]nt[oa]s?|combien|wie viel\w*).{{0,60}}\b{_MEDICINE}"
    rf"|\b{_MEDICINE}.{{0,60}}\b(how (much|many|often)|dose|doses|dosage|\d+\s*(mg|milligrams?)|per day|a day|"
    rf"daily|twice|maximum|max\b|dosis|posolog\w*|dosierung|cu[aá]nt[oa]s?|combien|wie viel\w*)"
    rf"|\b(prescribe|write me a prescription|prescription for)\b",
    re.I,
)
_SCOPE = re.compile(
    r"\b(knee\w*|kneecap|patell\w*|run\w*|jog\w*|marathon\w*|sprint\w*|race|races|racing|parkrun|5k|10k|"
    r"it ?band|itb\w*|iliotibial|shin\w*|hip|hips|glute\w*|quad\w*|hamstring\w*|calf|calves|ankle\w*|foot|feet|"
    r"shoe\w*|footwear|trainers|orthotic\w*|orthos[ie]s|insoles?|tap(e|ing)|brace\w*|sleeve|stretch\w*|squat\w*|"
    r"lunge\w*|stairs?|steps|tendon\w*|tendin\w*|cartilage|menisc\w*|ligament\w*|acl|physio\w*|injur\w*|pain\w*|"
    r"ache\w*|aching|sore\w*|training|mileage|miles|cadence|stride|step rate|gait|warm[- ]?up|cool[- ]?down|"
    r"cross[- ]?train\w*|cycling|bike|swim\w*|strength\w*|exercise\w*|arthritis|osteoarthritis|osgood\w*|"
    r"scfe|injection\w*|steroid\w*|prp|mri|x-?ray|scan|barefoot|minimalist|treadmill|hill\w*|trail\w*|downhill|"
    r"crepitus|grinding|clicking|swelling|limp\w*|leg|legs|thigh\w*|lower limb|sports? medicine|orthopa?edic\w*|"
    r"ibuprofen|naproxen|paracetamol|nsaids?|painkillers?|medication|medicine|rest|recovery|rodilla\w*|correr|"
    r"dolor|genou\w*|courir|douleur|knie\w*|laufen|schmerz\w*)\b",
    re.I,
)
_VAGUE = re.compile(
    r"^\W*(help\W*)?(my )?(knee|knees)( (really|still|kind of|kinda))? "
    r"(hurts?|pain|is (sore|painful|hurting|killing me)|aches?|sore)\W*"
    r"((what|why)( is it| is this| is that| could it be| do i have|'s wrong)?|help( me)?|please|any ideas|"
    r"what should i do|what now)?\W*$"
    r"|^\W*(knee (pain|hurts?|ache)|sore knee|painful knee)\W*(help|please|\?)*\W*$",
    re.I,
)
_DIAGNOSIS = re.compile(
    r"\b(tell me (exactly|precisely|for sure|definitively)? ?what (i have|is wrong|it is)|diagnose me|"
    r"what('s| is) my diagnosis|give me a diagnosis|do i have (an? )?\w+|what do i have|is it definitely)\b",
    re.I,
)


@dataclass
class Triage:
    """What the guardrails decided before retrieval; ``behavior`` None means: go on and answer."""

    behavior: Behavior | None = None
    reason: str = ""
    red_flags: list[str] = field(default_factory=list)
    diagnosis_demand: bool = False
    decisions: list[Decision] = field(default_factory=list)

    def note(self, stage: str, outcome: str, reason: str) -> None:
        self.decisions.append(Decision(stage=stage, outcome=outcome, reason=reason))


ScopeCheck = Callable[[str], tuple[bool, str]]


def keyword_scope(text: str) -> tuple[bool, str]:
    """The rule-only scope check (used when no classifier is given)."""
    return (True, "knee or running term found") if _SCOPE.search(text) else (False, "no knee or running term found")


def triage(question: str, context: str = "", scope: ScopeCheck = keyword_scope) -> Triage:
    """Decide the behaviour; red flags win over everything else.

    ``context`` (earlier user turns) only widens the scope check, so "what helps?" after a knee question is in scope.
    """
    t = Triage()
    flags = find_red_flags(question)
    if flags:
        t.behavior, t.red_flags, t.reason = "urgent_referral", flags, "; ".join(flags)
        t.note("triage.red_flags", "urgent_referral", t.reason)
    injection = _INJECTION.search(question)
    if injection:
        t.note("triage.injection", "rules kept", f"instruction-override attempt: '{injection.group(0)[:60]}'")
        if t.behavior is None:
            t.behavior, t.reason = "out_of_scope", "attempt to change the assistant's rules"
            return t
    if t.behavior:
        return t
    if _DOSING.search(question):
        t.behavior, t.reason = "refuse_dosing", "asks for a medicine dose, frequency or prescription"
        t.note("triage.dosing", "refuse_dosing", t.reason)
        return t
    if not context and _too_short(question):
        return _clarify(t)
    in_scope, why = scope(f"{question} {context}".strip())
    if not in_scope:
        t.behavior, t.reason = "out_of_scope", why
        t.note("triage.scope", "out_of_scope", t.reason)
        return t
    if not context and _vague(question):
        return _clarify(t)
    if _DIAGNOSIS.search(question):
        t.diagnosis_demand = True
        t.note("triage.diagnosis", "no definitive diagnosis", "asks for a diagnosis; possibilities only")
    t.note("triage", "answer", "in scope, no red flag")
    return t


_GENERIC = frozenset(
    "a about am an and any anyone are be can could do does doing for get getting going help helps i i'm if im is "
    "it it's its keep keeps knee knees me my now of on or please really should so sore still that the this to "
    "what what's when whenever why will with wrong run runs running ran jog jogging hurt hurts hurting pain "
    "painful pains ache aches aching idea ideas".split()
)
_SYMPTOM = re.compile(r"\b(hurts?|hurting|pain\w*|aches?|aching|sore)\b", re.I)
_WHAT_DO = re.compile(r"^\W*what (should|can|do) i do (about|with|for) my knees?\W*$", re.I)


def _clarify(t: Triage) -> Triage:
    t.behavior, t.reason = "clarify", "too little detail to say anything useful"
    t.note("triage.clarify", "clarify", t.reason)
    return t


def _content_words(question: str) -> list[str]:
    return [w for w in re.findall(r"[a-z']+", question.lower()) if w not in _GENERIC]


def _too_short(question: str) -> bool:
    """A few words pointing at nothing ("is this bad?") cannot be placed in or out of scope."""
    words = question.split()
    return len(words) <= 3 and bool(re.search(r"\b(this|it|that)\b", question, re.I)) and len(
        _content_words(question)) <= 1


def _vague(question: str) -> bool:
    """Symptom-only messages ("it hurts when I run", "my knee hurts, what is it?") need more detail first."""
    if _VAGUE.match(question) or _WHAT_DO.match(question):
        return True
    return bool(_SYMPTOM.search(question)) and not _content_words(question)
