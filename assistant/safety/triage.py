"""Triage before retrieval and before any model call: red flags by tier, injection, dosing, scope, vague questions.

Red flags and doses are exact rules (``redflags``, the dosing pattern); whether a message is about a runner's knee
at all is the learned scope router's call (``router``). A message is read in sentences, so an instruction-override
or an off-topic request wrapped around a knee question loses only its own part.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from assistant.safety.redflags import Finding, Tier, find_findings, for_today, tier_of
from assistant.safety.router import KNEE_WORD, Route
from assistant.safety.subject import Subject, subject_of
from assistant.schema import Behavior, Decision

_INJECTION = re.compile(
    r"\b(ignore|disregard|forget|override|bypass)\b.{0,40}\b(instructions?|rules?|guidelines?|prompt|restrictions?|"
    r"safety|policy|policies|previous|above)\b"
    r"|\b(system|developer|hidden|initial) (prompt|message|instructions?)\b|^\s*(system|assistant|developer)\s*:"
    r"|\[(system|inst)\]|<\|?(system|im_start)\|?>|\b(developer|god|dan|jailbreak|unrestricted) mode\b|\bjailbreak"
    r"|\b(pretend|act|role-?play|behave) (to be|as|like|you(?:'re| are))\b|\byou are (now|no longer)\b"
    r"|\breveal (your|the)\b|\bprint (your|the) (rules|instructions|prompt)|\bsystem[_ ]?prompt\b"
    r"|\byour (full |complete |exact |original )?(instructions|rules|guidelines)\b"
    r"|\b(base64|rot13|decode (this|the following))\b|\b(rules|instructions) you (were|have been|got) given\b"
    r"|\b(list|tell me|show me|what are) (all |every one of |each of )?(your|the) (rules|instructions)\b"
    r"|\blet'?s play a game\b|\bfrom now on,? you\b|\bnew rules?\b.{0,40}\byou (must|should|will|are)\b"
    r"|\b(i'?m|i am) (the|a|your) (developer|admin\w*|engineer|owner|creator)\b|\bauthori[sz]\w* you\b"
    r"|\b(drop|remove|lift|disable|turn off) (the |your |all )?(\w+ )?(restrictions?|filters?|safety|rules)\b"
    r"|\bconfirm (you understand|the new rule|that you|by saying)\b|\byou are ['\"“‘]"
    r"|\b(character|persona) (in|for|from) my (novel|story|game|book)\b"
    r"|\bignora (las|tus) instrucciones|\bignore[sz]? (les|tes|vos) (instructions|r[èe]gles)|\bignoriere (alle|deine)",
    re.I | re.M,
)
_MEDICINE = (
    r"(ibuprofen|naproxen|paracetamol|acetaminophen|tylenol|advil|motrin|aleve|aspirin|diclofenac|voltaren|"
    r"nsaids?|anti-?inflammator\w*|painkillers?|pain killers?|pain ?relievers?|steroids?|cortisone|corticosteroids?|"
    r"codeine|predniso\w+|co-?codamol|cocodamol|nurofen|panadol|solpadeine|tramadol|opioids?|celecoxib|prednisone|meloxicam|"
    r"glucosamine|chondroitin|turmeric|curcumin|collagen|fish oil|omega-?3|vitamin \w+|magnesium|supplements?|"
    r"medication|medicines?|meds|drugs?|pills?|"
    r"tablets?|capsules?|prp|hyaluronic|ibuprofeno|paracetamol|m[ée]dicament\w*|medikament\w*|schmerzmittel)"
)
_DOSING = re.compile(
    rf"\b(how (much|many|often|frequently)|dose|doses|dosage|dosing|\d+\s*(mg|milligrams?|g|ml)\b|maximum|max\b|"
    rf"how long (can|should) i (take|stay on)|per day|a day|daily|twice|prescri\w*|dosis|posolog\w*|dosierung|"
    rf"cu[aá]nt[oa]s?|combien|wie viel\w*).{{0,60}}\b{_MEDICINE}"
    rf"|\b{_MEDICINE}.{{0,60}}\b(how (much|many|often)|dose|doses|dosage|\d+\s*(mg|milligrams?)|per day|a day|"
    rf"daily|twice|maximum|max\b|dosis|posolog\w*|dosierung|cu[aá]nt[oa]s?|combien|wie viel\w*)"
    rf"|\b(prescribe|write me a prescription|prescription for)\b"
    rf"|\b(can|should|could|may) i (take|have|use|pop) (\d+|one|two|three|four|a couple|a few)\b"
    rf"[^.!?\n]{{0,20}}{_MEDICINE}"
    rf"|\bhow (to|do i|can i|should i|would i) (inject|give (myself|him|her|them) (an? )?(injection|shot|jab))\b"
    rf"|\b(\d+|one|two|three|four|five|six|a couple of|a few)\s+(of (the|my|those|these) )?{_MEDICINE}\b"
    rf"[^.!?\n]{{0,40}}\b(ok|okay|safe|fine|too (much|many)|enough|at once|together|reasonable)\b"
    rf"|\b(sensible|safe|right|correct|max\w*|how much of an?) amount\b[^.!?]{{0,80}}|\bwhen should i take (them|it)\b"
    rf"|\bhow (much|many)\b[^.!?\n]{{0,30}}\b(take|carry|pop|have|use|rub|apply)\b[^.!?\n]{{0,30}}\b{_MEDICINE}",
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
    tier: Tier = "routine"
    reason: str = ""
    findings: list[Finding] = field(default_factory=list)
    subject: Subject = field(default_factory=lambda: Subject("self"))
    question: str = ""  # what to answer: the message without an instruction-override or off-topic part
    decline: str = "out_of_scope"  # which decline template: out_of_scope, _injury, _animal, _health or chat
    part: str = ""  # the other body part an injury decline names
    foot: bool = False  # the injury is in the foot or heel (a podiatrist can help too)
    refused_instruction: bool = False
    off_topic_part: bool = False
    asks: list[str] = field(default_factory=list)
    diagnosis_demand: bool = False
    decisions: list[Decision] = field(default_factory=list)

    @property
    def red_flags(self) -> list[str]:
        """The findings that need care today, in plain words."""
        return [f.found for f in for_today(self.findings)]

    def note(self, stage: str, outcome: str, reason: str) -> None:
        self.decisions.append(Decision(stage=stage, outcome=outcome, reason=reason))


Router = Callable[[str], Route]
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")
_REQUEST = re.compile(
    r"^\W*(what|who|where|when)('?s| is| are| was| were| does| did)\b|^\W*(can|could|would|will) you\b|"
    r"^\W*(please|pls|help me|write|find|recommend|give me|tell me|send|"
    r"book|translate|what'?s the best|which|where can i (buy|get|find))\b", re.I)
_KNEE_WORD = KNEE_WORD
_PARTS = re.compile(r"\b(shin|foot|feet|heel|achilles|ankle|calf|calves|hamstring|groin|hip|lower back|back pain|"
                    r"buttock|glute|toe|toenail|arch|neck|shoulder|thigh|quad|plantar)\w*", re.I)
_FOOT = re.compile(r"\b(foot|feet|heel|toe\w*|arch|plantar|bunion|morton)", re.I)


_ANIMAL = re.compile(r"\b(dog|dogs|puppy|pup|cat|kitten|horse|pony|mare|gelding|rabbit|greyhound|labrador|collie|"
                     r"spaniel|terrier|retriever|vet)\b", re.I)
_ASKS_OR_TELLS = re.compile(r"\?|\b(i|i'm|im|i've|ive|my|me|mine|she|he|her|his)\b", re.I)


_MEDICINE_NAMED = re.compile(rf"\b{_MEDICINE}\b", re.I)
_CONCERN = re.compile(r"\b(stomach|gut|ulcer\w*|bleed\w*|kidney\w*|heart|blood pressure|sodium|race|racing|marathon|"
                      r"ultra|heal\w*|tendon\w*|cartilage|asthma|child|teen\w*|pregnan\w*|alcohol|colitis|"
                      r"long[- ]term|every day|daily)\b", re.I)


def dosing_topic(text: str) -> str:
    """What a dosing refusal's cited facts are about: the medicines and the concerns named ("naproxen stomach"),
    so a question about prescribed tablets does not get race-day figures; empty when nothing is named."""
    named = dict.fromkeys(m.group(0).lower() for m in _MEDICINE_NAMED.finditer(text))
    concerns = dict.fromkeys(m.group(0).lower() for m in _CONCERN.finditer(text))
    if not named:
        return ""
    return " ".join([*named, *concerns, "risks and side effects for runners"])


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.findall(text) if s.strip()]


_CLAUSE_CUT = re.compile(r"[,;:]\s*(?:then|and then|and|also|but|separately)?\b,?|\s+(?:and )?then\b,?", re.I)


def clauses(text: str) -> list[str]:
    """Sentences cut at commas and "then", so that an instruction and a question in one sentence come apart."""
    return [c.strip() for s in sentences(text) for c in _CLAUSE_CUT.split(s) if c and c.strip()]


def keyword_scope(text: str) -> Route:
    """The rule-only scope check, for callers without the embedding model (the outage reply)."""
    knee = 1.0 if _KNEE_WORD.search(text) or _SCOPE.search(text) else 0.0
    return Route("knee" if knee else "off_topic", knee, {"knee": knee, "off_topic": 1.0 - knee})


def triage(question: str, context: str = "", route: Router = keyword_scope) -> Triage:
    """Decide the behaviour and the tier; a red flag for today wins over everything else.

    ``context`` (earlier user turns) lets a short follow-up ("what helps?") stay in a knee conversation.
    """
    t = Triage(question=question, subject=subject_of(question))
    t.findings = find_findings(question)
    t.tier = tier_of(t.findings)
    for f in t.findings:
        t.note("triage.red_flags", f.tier, f"{f.found} ({f.key})")
    parts = clauses(question) or [question]
    injected = [s for s in parts if _INJECTION.search(s)]
    if t.tier in ("emergency", "same_day") and _ANIMAL.search(question) and route(question).label == "animal":
        t.findings, t.tier = [], "routine"  # an animal's injury: a vet, not a human emergency department
    if t.tier in ("emergency", "same_day"):
        t.behavior, t.reason = "urgent_referral", "; ".join(t.red_flags)
        if injected:
            t.note("triage.injection", "rules kept", "instruction-override attempt ignored: a red flag comes first")
        return t
    if injected:
        rest = " ".join(s for s in parts if s not in injected)
        t.note("triage.injection", "rules kept", f"instruction-override attempt: '{injected[0][:60]}'")
        if not (len(rest.split()) >= 4 and _ASKS_OR_TELLS.search(rest) and _KNEE_WORD.search(rest)
                and route(rest).in_scope):
            t.behavior, t.tier, t.reason = "out_of_scope", "none", "attempt to change the assistant's rules"
            return t
        t.refused_instruction, t.question = True, rest
        t.findings = find_findings(rest)
        t.tier = tier_of(t.findings)
    if _DOSING.search(t.question):
        t.behavior, t.reason = "refuse_dosing", "asks for a medicine dose, frequency or prescription"
        t.tier = "within_days" if t.tier == "within_days" else "routine"
        t.note("triage.dosing", "refuse_dosing", t.reason)
        return t
    if not context and (_too_short(t.question) or _bare_choice(t.question)):
        return _clarify(t)
    if not _scoped(t, context, route, signs=_knee_signs(t)):
        return t
    if t.tier == "within_days":
        t.reason = "; ".join(f.found for f in t.findings if f.tier == "within_days")
    elif not context and (asks := vague_asks(t.question)):
        t.asks = asks
        return _clarify(t)
    if _DIAGNOSIS.search(t.question):
        t.diagnosis_demand = True
        t.note("triage.diagnosis", "no definitive diagnosis", "asks for a diagnosis; possibilities only")
    t.note("triage", "answer", f"in scope, tier {t.tier}")
    return t


_KNEE_SIGNS = frozenset({"locked", "locking_settled", "giving_way", "swelling", "swelling_recurrent",
                         "swelling_after_injury", "kneecap_relocated", "deformity"})


def _knee_signs(t: Triage) -> bool:
    """A knee sign (locking, giving way, swelling) keeps a message in scope whatever the router makes of its words."""
    return any(f.key in _KNEE_SIGNS for f in t.findings)


def _scoped(t: Triage, context: str, route: Router, signs: bool = False) -> bool:
    """Route the message (and, when the whole is not a knee question, each sentence); False when declined."""
    whole = route(t.question)
    t.note("triage.scope", whole.label, whole.reason())
    if whole.in_scope:
        # A request of its own ("can you book me a hotel?"), not a question about the knee story ("what could it be?").
        others = [s for s in sentences(t.question) if _REQUEST.search(s) and not _KNEE_WORD.search(s)
                  and len(content_words(s)) >= 3 and (r := route(s)).label in ("off_topic", "animal")
                  and r.probabilities[r.label] >= 0.8]
        if others:
            t.off_topic_part = True
            t.question = " ".join(s for s in sentences(t.question) if s not in others)
            t.note("triage.scope", "mixed", f"an off-topic request beside the knee question: '{others[0][:60]}'")
        return True
    if signs and whole.label != "animal":
        t.note("triage.scope", "knee", "a knee sign was reported")
        return True
    if context and route(f"{context} {t.question}").in_scope and whole.label not in ("animal",):
        t.note("triage.scope", "knee", "follow-up in a knee conversation")
        return True
    knee_parts = [s for s in sentences(t.question) if _KNEE_WORD.search(s) and route(s).in_scope]
    if knee_parts and whole.label in ("off_topic", "chat", "other_health"):
        t.question, t.off_topic_part = " ".join(knee_parts), True
        t.note("triage.scope", "mixed", "a knee question inside an off-topic message: the knee part is answered")
        return True
    t.behavior, t.tier, t.reason = "out_of_scope", "none", whole.reason()
    t.decline = {"other_injury": "out_of_scope_injury", "animal": "out_of_scope_animal",
                 "other_health": "out_of_scope_health", "chat": "chat"}.get(whole.label, "out_of_scope")
    if t.decline == "out_of_scope_injury":
        found = _PARTS.search(t.question)
        t.part = f"the {found.group(0).lower()}" if found else ""
        t.foot = bool(_FOOT.search(t.question))
    return False


_GENERIC = frozenset(
    "a about am an and any anyone are be can could do does doing for get getting going help helps i i'm if im is "
    "it it's its keep keeps knee knees me my now of on or please really should so sore still that the this to "
    "what what's when whenever why will with wrong run runs running ran jog jogging hurt hurts hurting pain "
    "painful pains ache aches aching idea ideas".split()
)
_SYMPTOM = re.compile(r"\b(hurts?|hurting|pain\w*|aches?|aching|sore)\b", re.I)
_WHAT_DO = re.compile(r"^\W*what (should|can|do) i do (about|with|for) my knees?\W*$", re.I)


def _clarify(t: Triage) -> Triage:
    t.behavior, t.reason = "clarify", "too little detail to say anything specific"
    t.asks = t.asks or asks_for(t.question)
    t.note("triage.clarify", "clarify", t.reason)
    return t


def content_words(question: str) -> list[str]:
    return [w for w in re.findall(r"[a-z']+", question.lower()) if w not in _GENERIC]


def _too_short(question: str) -> bool:
    """A few words pointing at nothing ("is this bad?", "can I race on it?") cannot be placed in or out of scope."""
    words = question.split()
    return len(words) <= 6 and bool(re.search(r"\b(this|it|that)\b", question, re.I)) and len(
        content_words(question)) <= 1


def _vague(question: str) -> bool:
    """Symptom-only messages ("it hurts when I run", "my knee hurts, what is it?") need more detail first."""
    if _VAGUE.match(question) or _WHAT_DO.match(question):
        return True
    return bool(_SYMPTOM.search(question)) and not content_words(question)


_PERSONAL = re.compile(r"\b(i|i'm|im|i've|my|me|she|he|her|his|him|they|their|we|our)\b", re.I)
_DECIDE = re.compile(
    r"\b(should (i|she|he|we|they)|can (i|she|he|we|they)|is (it|that|this) (ok|okay|safe|bad|normal|fine|worth|"
    r"serious)|is my [\w ]{0,15}(serious|bad|normal|ok)|safe to|"
    r"which (one|is|should|of)|what (should|can|do) (i|she|he|we|they)|do (i|you) (need|recommend)|will (it|i)|"
    r"how long|any (advice|tips|ideas)|what (do you|would you) (think|recommend|suggest)|or (should|not)|"
    r"worth (it|seeing))\b",
    re.I)
_DETAIL = {
    "where": re.compile(r"\b(front|(outside|outer|inside|inner) (of|part|edge|side)|on the (outside|inside)|lateral|"
                        r"medial|below|under|underneath|behind|back of|above|around|kneecap\w*|patell\w*|tendon|"
                        r"it ?band|itb\w*|side of)\b", re.I),
    "when": re.compile(r"\b(\d+|a|one|two|three|few|couple of|several) (days?|weeks?|months?|years?)\b|\bsince\b|"
                       r"\byesterday|\blast (week|month|run|night)|\bthis (week|morning)|\bsuddenly|\bgradually|"
                       r"\bfor ages|\bstarted\b", re.I),
    "training": re.compile(r"\b(\d+\s*(k|km|miles?|mi)\b|mileage|miles|hills?|downhill|speed|intervals|long runs?|"
                           r"increased|added|new shoes|started running|couch to|c25k|marathon training|stairs|"
                           r"sitting|squat\w*|kneel\w*)", re.I),
    "signs": re.compile(r"\b(swell\w*|swollen|click\w*|grind\w*|pop\w*|lock\w*|giv\w* way|sharp|dull|ache|"
                        r"aching|burn\w*|stiff\w*|throb\w*|crunch\w*|numb\w*)\b", re.I),
    "named": re.compile(r"\b(runner'?s knee|pfps?|patellofemoral|itbs|it band syndrome|tendin\w*|jumper'?s knee|"
                        r"osgood\w*|menisc\w*|arthritis|acl|mcl|chondromalacia|bursitis|surgery|operation|scope|mri|x-?ray)\b",
                        re.I),
}
_RACE = re.compile(r"\b(race|racing|marathon|half|10k|5k|parkrun|event)\b", re.I)
_AIDS = re.compile(r"\b(brace|strap|sleeve|tape|taping|kt|support|insoles?|orthotics?)\b", re.I)


_OWN_PROBLEM = re.compile(r"\b(my|his|her|their|our)( \w+'?s?)?( \w+)? (knees?|kneecap|itb|it band|tendon|pain)\b|"
                          r"\b(a|my) (sore|bad|painful|dodgy|niggly|achy) knee\b|\b\w+'s knee\b|"
                          r"^\W*(my )?knee'?s? (is |are )?(a bit |bit |kinda |really |so |still )?(sore|hurting|achy|"
                          r"aching|painful|playing up|bad|niggly)|\b(race|run|train) on it\b|\bit hurts\b|"
                          r"\bknee'?s? (is |are |has been |keeps )?(bugging|feels? off|feel(s|ing)? funny|playing up|"
                          r"annoying|acting up|grumbling|giving (me|her|him|them) (grief|trouble))|"
                          r"\bknee (problem|issue|trouble|niggle)s?\b|"
                          r"^\W*my knee\W|\bwhat'?s wrong with (my|her|his|their) knee", re.I)
_CHOICE = re.compile(r"\b(\w+) or (\w+)\b|\bwhich \w+", re.I)
# Words that say nothing specific about the knee: who, the decision asked about, the aid or action weighed.
_UNSPECIFIC = frozenset(
    "son daughter husband wife partner boyfriend girlfriend friend mate coach athlete athletes runner runners kid "
    "child teen teenager he she he's she's they one here his her their bad serious normal ok okay safe worth fine "
    "today tomorrow tonight again bit little playing up train training rest resting race racing brace tape taping "
    "ice heat shoes shoe strap sleeve which or stretch stretching physio doctor see someone do go knee's better till "
    "until long need scan mri xray x-ray keep going carry on funny feels feel says said marathon half 5k 10k parkrun "
    "weeks days week day run runs running be bit will hurts hurt sore sometimes sometime bother bothers bothering "
    "trouble niggle niggling issue issues problem problems outside help".split())
_AID_OR_ACTION = re.compile(r"\b(brace|strap|sleeve|tape|taping|insoles?|orthotics?|ice|heat|rest|run|race|train|"
                            r"shoes?|stretch|physio|doctor)\b", re.I)


def _bare_choice(question: str) -> bool:
    """"brace or tape?", "ice or heat?": a choice between two things with nothing about the knee in question."""
    words = question.split()
    return len(words) <= 4 and bool(_CHOICE.search(question)) and len(_AID_OR_ACTION.findall(question)) >= 2


_OPEN_ASK = re.compile(r"\b(any (advice|ideas|tips|suggestions)|what (can|should|do) (i|she|he|we|they) do|"
                       r"help( me| her| him)?\W*$|what now|ideas\W*$|recommend (something|anything)|"
                       r"advice( please)?\W*$|thoughts\W*$|keep (training|running)|what'?s wrong)", re.I)


def vague_asks(question: str) -> list[str]:
    """The two or three things to ask when a short personal question gives too little to go on ("is it bad?",
    "can I race on it?", "which shoes for my bad knee?"); empty when it gives enough or asks for general facts."""
    if _vague(question):
        return asks_for(question)
    words = len(question.split())
    have = {key for key, pattern in _DETAIL.items() if pattern.search(question)}
    specific = [w for w in content_words(question) if w not in _UNSPECIFIC]
    asked = _DECIDE.search(question) or _CHOICE.search(question) or _OPEN_ASK.search(question)
    if not _OWN_PROBLEM.search(question) or not asked:
        return []
    # Vague: a short question with at most one detail and nothing else specific, or a longer one that never says
    # where the knee hurts, what it does or what it is ("she's tried everything, any advice?").
    short_and_bare = words <= 20 and ((not have and len(specific) <= 2) or (len(have) <= 1 and len(specific) <= 1))
    undescribed = words > 20 and not have & {"where", "signs", "named", "training"} and bool(_OPEN_ASK.search(question))
    if not (short_and_bare or undescribed):
        return []
    return asks_for(question)


def asks_for(question: str) -> list[str]:
    """Up to three questions: about the race or the aid named first, then the details the message lacks."""
    have = {key for key, pattern in _DETAIL.items() if pattern.search(question)}
    asks = [k for k, hit in (("race", _RACE.search(question)), ("aids", _AIDS.search(question))) if hit]
    asks += [k for k in ("where", "when", "signs", "training") if k not in have]
    return asks[:3]
