"""Red flags by meaning, in urgency tiers (English, Spanish, French, German).

A sign counts only when it is reported, not asked about: a match is dropped when its clause is negated ("no
swelling"), hypothetical ("what if it locks?"), quoted ("what does 'giving way' mean?") or long past ("a fever
months ago"); an episode that has settled ("it locked but freed itself") moves to a lower tier. Each finding names
the sign in plain words, and the tier says how soon: emergency, same day or within days.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from assistant.safety.subject import RELATIVE_ADJECTIVES, RELATIVES, subject_of

Tier = Literal["emergency", "same_day", "within_days", "routine", "none"]
TIER_ORDER: tuple[Tier, ...] = ("emergency", "same_day", "within_days", "routine", "none")


@dataclass(frozen=True)
class Finding:
    """One red flag found in a message: what was found (plain words), what it may mean, how soon to act."""

    key: str
    tier: Tier
    found: str
    concern: str


def _p(*alternatives: str) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(a, re.I) for a in alternatives)


# -- signs ---------------------------------------------------------------------------------------------------------
TRAUMA = _p(
    r"\b(fell|fall(en|ing)?|slipped|twist(ed|ing)?|pop(ped)?|popping sound|crack(ed)?|snap(ped)?|came off|collid\w*|"
    r"collision|tackl\w*|crash\w*|accident|landed (awkward|awkwardly|badly|wrong|funny)|hit by|kicked|bang(ed)?|knocked|"
    r"went over|rolled|pivot\w*|clunk|felt (something|it) (tear|give|go|pop|shift))\b",
    r"\b(ca[ií]d[ao]|me ca[ií]|torc[ií]\w*|chasquido|golpe|accidente)",
    r"\b(chute|tomb[ée]\w*|tordu\w*|torsion|craqu\w*|choc|accident)",
    r"\b(gest[üu]rzt|sturz|verdreht|umgeknickt|knall|unfall|zusammenprall)",
)
SWELLING = _p(
    r"\b(swell\w*|swollen|swolen|sweling|puff(y|ed) up|puffy|ballooned|blew up|blown up|balloon\w*|fluid on)\b",
    r"\b(hinchad[ao]|hinchaz[oó]n|inflamad[ao])", r"\b(gonfl\w*|enfl[ée]\w*)", r"\b(geschwollen|schwellung|dick geworden)",
)
BIG = _p(r"\b(massive\w*|huge|big|really|very|badly|like a (balloon|grapefruit|melon)|ballooned|blew up|"
         r"(\d+|one|two|three|a few|a couple of) hours? (later|after)|that (evening|night|afternoon)|by (the )?evening|"
         r"twice the size|double|so swollen|straight away|immediately|within (an|the|a few|a couple of) hours?|"
         r"right away|instantly|minutes)\b",
         r"\b(muy|enorme|mucho)\b", r"\b(tr[èe]s|[ée]norme|beaucoup)\b", r"\b(stark|sehr|riesig|sofort)\b")
RECURRENT = _p(r"\b(after (every|each|my|long|longer|most)?\s*runs?|every time|each time|any ?time|keeps? (coming back|swelling|"
               r"getting)|comes? (back|and goes)|on and off|again and again|recurr\w*|whenever|after (long|longer) "
               r"(runs|ones)|the day after|after running)\b",
               r"\bdespu[ée]s de (correr|cada)", r"\bapr[èe]s (chaque|mes|les) (course|sortie)", r"\bnach (jedem|dem) lauf")
BREATH = _p(
    r"\b(breathless\w*|short of breath|shortness of breath|out of breath (just |when |while |from |by )?(walking|at rest|"
    r"sitting|climbing|going up|on the stairs|up the stairs|doing nothing|lying)|can'?t (catch|get) (my|a|her|his) (full )?"
    r"breath|struggl\w* to breathe|hard to breathe|difficulty breathing|trouble breathing|can'?t breathe|"
    r"chest (pain|hurts?|tight\w*|feels (tight|heavy)|is tight)|breathing (is |got |went )?(suddenly )?(fast|shallow|"
    r"hard|laboured|labored)|blood[- ]tinged|pain (in|on) (my|the|her|his) chest|(sharp|stabbing|tight) pain [^.!?\n]{0,30}\bchest|"
    r"chest [^.!?\n]{0,20}\b(when|as) (i|she|he) breathe|cough\w* (up )?blood|heart (is )?racing|racing heart|feel faint|"
    r"fainted|passed out)\b",
    r"\b(falta de aire|me ahogo|dolor (en el|de) pecho|no puedo respirar)",
    r"\b(essouffl\w*|mal (à|a) respirer|douleur (dans la|à la|a la) poitrine|du mal (à|a) respirer)",
    r"\b(atemnot|kurzatmig|brustschmerz\w*|schmerzen in der brust|keine luft)",
)
CALF_SWOLLEN = _p(
    r"\b(calf|calves)\b(?! raise)(?! stretch)[^.!?\n]{0,60}\b(swell\w*|swollen|red|warm|hot|fatter|bigger|puffy|tender to "
    r"(the )?touch|cramp that (won'?t|will not|doesn'?t) go)\b",
    r"\b(swollen|swelling|hot|red|warm|puffy)\b[^.!?\n]{0,25}\b(in|of) (my|the|his|her|their) (left |right )?(calf|calves)\b",
    r"\b(swollen|red|hot|warm|puffy)\b[\w ,]{0,20}\b(calf|calves)\b(?! raise)(?! stretch)",
    r"\b(leg|calf) (below|under) (the|my|her|his) knee [^.!?\n]{0,40}\b(swollen|red|warm)",
    r"\bswollen [^.!?\n]{0,20}\b(red )?behind the knee",
    r"\bpantorrilla\w*[^.!?\n]{0,50}(hinchad|roja|caliente)|(hinchad)\w*[^.!?\n]{0,20}pantorrilla",
    r"\bmollet[^.!?\n]{0,50}(gonfl|rouge|chaud)|(gonfl)\w*[^.!?\n]{0,20}mollet",
    r"\bwade[^.!?\n]{0,50}(geschwollen|rot|warm)|(geschwollen)\w*[^.!?\n]{0,20}\bwade",
)
CLOT_RISK = _p(r"\b(flight|flew|plane|long drive|surgery|operation|operated|op\b|scope|arthroscop\w*|cast|brace for weeks|"
               r"immobil\w*|the pill|contracepti\w*|pregnan\w*|postpartum|bed ?rest|laid up|hospital|clot)")
CALF = _p(
    r"\b(calf|calves)\b(?! raise)(?! stretch)(?! muscles? (are|is|were) tight)[^.!?\n]{0,60}\b(swell\w*|swollen|tender\w*|"
    r"pain\w*|hurt\w*|red|warm|hot|cramp that (won'?t|will not|doesn'?t) go|aching|aches?|fatter|bigger|puffy)\b",
    r"\b(swollen|swelling|pain\w*|tender\w*|sore|hot|red|warm|puffy)\b[^.!?\n]{0,25}\b(in|of) (my|the|his|her|their) "
    r"(left |right )?(calf|calves)\b",
    r"\b(swollen|painful|tender|sore|red|hot|warm|puffy|aching)\b[\w ,]{0,20}\b(calf|calves)\b(?! raise)(?! stretch)",
    r"\b(leg|calf) (below|under) (the|my|her|his) knee [^.!?\n]{0,40}\b(swollen|red|warm|tender)",
    r"\bswollen [^.!?\n]{0,20}\b(red )?behind the knee",
    r"\bpantorrilla\w*[^.!?\n]{0,30}(hinchad|dolor|roja|caliente)|(hinchad|dolor)\w*[^.!?\n]{0,20}pantorrilla",
    r"\bmollet[^.!?\n]{0,30}(gonfl|douleur|rouge|chaud)|(gonfl|douleur)\w*[^.!?\n]{0,20}mollet",
    r"\bwade[^.!?\n]{0,30}(geschwollen|schmerz|rot|warm)|(geschwollen|schmerz)\w*[^.!?\n]{0,20}\bwade",
)
COLD_LEG = _p(
    r"\b(leg|foot|feet|toes|shin)\b[^.!?\n]{0,40}\b(cold|pale|white|blue|grey|gray|mottled|no pulse|numb|dead)\b",
    r"\b(cold|pale|white|blue|mottled|numb)\b[^.!?\n]{0,25}\b(leg|foot|feet|toes)\b",
    r"\bcan'?t feel (my|his|her|the) (foot|toes|leg)\b|\bno pulse\b",
    r"\b(pierna|pie)\b[^.!?\n]{0,30}\b(fr[ií]a|fr[ií]o|p[áa]lid[oa]|azul)", r"\b(jambe|pied)\b[^.!?\n]{0,30}\b(froid|p[âa]le|bleu)",
    r"\b(bein|fu[ßs])\b[^.!?\n]{0,30}\b(kalt|blass|blau)",
)
DEFORMED = _p(
    r"\bdeform\w*|\bout of (place|position|joint)\b|\bdislocat\w*|\b(looks?|looking|is|was) ((totally|completely|really|very|clearly|visibly|all|so|just) )?"
    r"(bent (sideways|the wrong way)|wrong|misshapen|crooked|twisted|all wrong|shifted)\b|\b(bent|twisted) at a (weird|strange|odd|funny|wrong|horrible) "
    r"angle|\b(weird|odd|strange|funny) angle|\bwent sideways|\b(it'?s|is) still out\b|\bstill out of|"
    r"\b(couldn'?t|can'?t|could not|won'?t) (get|put|pop) it back|\bhas ?n'?t (moved|gone|popped) back|\blump where|\bshifted sideways|\b(big |deep )?dent (above|below|in|just above)|"
    r"\bbone (is )?sticking|\bwrong shape\b|\bbent (sideways|the wrong way)|"
    r"\bmisshapen\b|\bsideways\b[^.!?\n]{0,20}\bkneecap|\bkneecap\b[^.!?\n]{0,40}\b(to the side|on the outside|moved|shifted|"
    r"slipped|popped out|came out|sitting (on the )?(outside|wrong)|stuck (on|to) the (side|outside)|on the side|sitting (way )?(over )?(on|to) the (outside|side))",
    r"\bdeformad\w*|\bdislocad\w*|\bluxaci|\bfuera de (su )?sitio", r"\bd[ée]form\w*|\bluxation|\bd[ée]bo[îi]t",
    r"\bverformt|\bausgerenkt|\bluxation|\brausgesprungen",
)
TRAUMA_NOW = _p(r"\b(today|tonight|this (morning|afternoon|evening)|an hour ago|hours ago|just now|just (fell|twisted|"
                r"landed|slipped))\b")
RELOCATED = _p(r"\b(popped|went|slid|clicked|snapped|moved|put it|pushed it) back (in|into place|on)|back in place|"
               r"went back on its own|relocat\w*|(by|on) itself")
FEVER = _p(
    r"\b(fever\w*|high temperature|chills|shivering|the shivers|rigors|sweats|freezing then (boiling|hot)|hot and cold)"
    r"\b(?!ly)|\b(got|have|has|had|running|with) a (high )?temp(erature)?\b|\btemp(erature)?( of| is| was)? ?3[89]|"
    r"\b3[89]([.,]\d)? ?°? ?c\b|\b10[0-4]([.,]\d)? ?°? ?f\b",
    r"\bfiebre|escalofr[ií]os", r"\bfi[èe]vre|frissons", r"\bfieber|sch[üu]ttelfrost",
)
HOT_JOINT = _p(
    r"\b(hot|warm)\s*(,|and|&)?\s*(red|swollen|puffy)|\b(red|swollen|puffy)\b[^.!?\n]{0,30}\b(hot|warm) to (the )?"
    r"touch|\bred and puffy|\bred,? (hot|warm)\b|"
    r"\bred( and| ,|,)( \w+ and| \w+,)? (hot|warm)\b|\bred and (hot|warm|swollen|"
    r"angry)|\b(swollen|puffy),? (hot|red) and\b|\b(knee|joint) (is|feels|looks|has gone|went) (very |really )?(hot|"
    r"red)\b|\bburning hot\b",
    r"\bcaliente y (roja|hinchada)|\b(roja|hinchada) y caliente", r"\bchaud(e)? et (rouge|gonfl)|rouge et chaud",
    r"\b(hei[ßs]|warm) und (rot|geschwollen)|\brot und (hei[ßs]|warm)",
)
UNWELL = _p(r"\b(very |really |so )?(unwell|ill|sick|poorly|awful|terrible|rough|dreadful)\b|\bvomit\w*|\bthrow\w* up|"
            r"\bconfus\w*|\bdrows\w*|\bcan'?t get out of bed|\bflu-?like|\bshaking|\brigors|\bchills",
            r"\b(mal|enferm[oa])\b", r"\bmalade\b", r"\bkrank\b|\belend\b")
NO_WEIGHT = _p(
    r"\b(can'?t|cant|cannot|can not|unable to|could ?n[o']?t|couldn'?t|impossible to|won'?t let me|refuses? to) "
    r"(even )?(bear|bare|put (any |much |my )?weight|take (any |much )?weight|put (it|(my|his|her|their|the) (foot|leg)) "
    r"down|stand (on (it|that leg|the leg|(my|his|her|their) (\w+ )?leg)|up)|walk|weight ?bear)\b"
    r"(?!( \w+){0,2} (to run|to race|running|the thought|the idea|it any longer|another|waiting|far|more than|as far))",
    r"\b(can |could )?(barely|hardly) (walk|stand|put weight|bear weight|take weight|weight ?bear)",
    r"\b(any )?weight (on|through) (it|the knee|the leg|my knee|his knee|her knee) is (agony|impossible|unbearable)|"
    r"\bcrawl(ing|ed)? (up ?stairs|around)|\b(can'?t|cannot|couldn'?t) take a (single )?step|\b(hopped|hobbled|hopping) "
    r"(home |back )?on one leg|\bno weight on it|\bon crutches\b|\b(had|have|having) to hop\b|\bhopped (home|back|off)|\b(walking|standing) is (almost |nearly )?"
    r"impossible|\bcan'?t (even )?(lift|raise) (my|the|her|his) leg",
    r"\bno (puedo|logro|puede) (apoyar|caminar|andar|pisar)",
    r"\bne (peux|peut|parviens) (pas|plus) (marcher|poser|m'appuyer|appuyer)|\bimpossible de (marcher|poser|m'appuyer)",
    r"\bkann (\w+ )?(nicht|kaum) (mehr )?(auftreten|gehen|stehen|belasten)|\bnicht (mehr )?belasten",
)
LOCKED = _p(
    r"\block(s|ed|ing)?\b(?!-)(?! in\b)(?! out\b)(?! down\b)(?! up the)(?! (my|the|your) (car|door|phone|bike|house))"
    r"(?! (my|your|the) knees? (out|straight|back))",
    r"\b(can'?t|cant|cannot|can not|unable to|won'?t|wont|will not|couldn'?t|could not|would ?n'?t|doesn'?t|does not) "
    r"(fully |completely )?"
    r"(straighten|extend|go (fully |all the way )?straight)\b(?! out)"
    r"(?!\s+(my|the|a|her|his)\s+(training|schedule|plan|runs?|distance|mileage|arm|elbow|back|fingers?))",
    r"\b(can'?t|cannot|can not|unable to|won'?t) (get|make) (it|my knee|the knee|my leg|her knee|his knee) (fully |"
    r"all the way |completely )?straight",
    r"\b(knee|it) (keeps |still )?catch(es|ing)?\b", r"\bstuck (a bit |slightly |partly |half )?(bent|in a bent|at an angle)",
    r"\b(got|gets|was|is|went) stuck\b",
    r"\bbloque(a|ada|ado|o)\b|\bno puedo (estirar|extender)",
    r"\bbloqu[ée]e?\b|\bne (peux|peut) (pas|plus) (tendre|[ée]tendre|d[ée]plier)",
    r"\bblockiert|\bklemmt\b|\b(kann|l[äa]sst sich) \w* ?(nicht|kaum) (mehr )?(strecken|durchstrecken)",
)
GIVING_WAY = _p(
    r"\b(has|have|had|keeps?|kept)( \w+)? giv(en|ing) (way|out)\b",
    r"\b(knees?|it|kneecap|leg)\b[^.!?\n]{0,25}\b(giv(es|ing|en)|gave) (way|out)\b|\bgiving way\b|\bgave way\b|"
    r"\bgives way\b|"
    r"\b(knees?|it|leg)\b[^.!?\n]{0,20}\b(buckl\w*|collaps\w*)|\bbuckled under me|\bwent (out )?from under me",
    r"\bse me (va|dobla|cede|fue)\b|\bfalla la rodilla|\bcede la rodilla",
    r"\bse d[ée]robe|\bl[âa]ch(e|é) (sous|brusquement)?", r"\bknickt (\w+ )?weg|\bgibt (pl[öo]tzlich )?nach",
)
NUMB = _p(
    r"\bnumb(ness)?\b|\btingl\w*|\bpins and needles\b|\bdead (leg|foot)\b|\bburning (sensation )?(down|in) (my|the) "
    r"(shin|foot|leg)",
    r"\bentumecid\w*|\bhormigue\w*|\bsin sensibilidad", r"\bengourdi\w*|\bfourmill\w*", r"\btaub(heit)?\b|\bkribbel\w*|\bameisenlaufen",
)
WEAK = _p(r"\bfoot drop\b|\b(can'?t|cannot|unable to) (lift|raise|pull up) (my|the|her|his) (foot|toes)\b|"
          r"\b(foot|toes) (is |are )?(dragging|slapping|flopping)\b|\b(leg|foot) (feels|is|went|goes|has gone) (weak|dead"
          r"|floppy)\b|\bsudden(ly)? weak")
NIGHT = _p(
    r"\b(wakes? (me|her|him|them)\b|waking (me|her|him) (up)?|woke (me|her|him) up|(aches?|hurts?|pain|throbs?)\b"
    r"[\w ]{0,20}\bat night|keeps (me|her|him) (up|awake)|"
    r"(pain|hurts?|aches?|throbs?|throbbing) (\w+ )?(at|all|every|through the) night|night pain|at night [^.!?\n]{0,30}"
    r"\b(pain|hurts?|aches?|throb\w*)|can'?t sleep (because|for|with) (of )?(the )?(pain|knee))\b",
    r"\b(at rest|resting|constant|even sitting still)\b[^.!?\n]{0,60}\b(weight loss|losing weight|lost weight|night sweats|unwell)",
    r"\bnight sweats\b|\b(unexplained|unintentional) weight loss\b|\blost [^.!?\n]{0,15}\b(kg|kilos?|pounds|lbs|stone|weight) "
    r"without (trying|meaning to|dieting)",
    r"\bpor la noche|\bdolor nocturno|\bme despierta", r"\bla nuit\b|\bme r[ée]veille", r"\bnachts\b|\bweckt mich",
)
LIMP = _p(r"\blimp(s|ing|ed)?\b", r"\bcojea\w*|\bcojera", r"\bboit(e|ent|ait)\b|\bboiterie", r"\bhinkt\b|\bhinken")
CHILD = _p(
    r"\b(child|kid|son|daughter|boy|girl|teen\w*|adolescent|youth|junior|toddler|"
    r"([4-9]|1[0-7])[- ]?(year|yr)s?[- ]?old|(age|aged) ([4-9]|1[0-7])|([4-9]|1[0-7]) ?y/?o|u1[0-8]s?|lad|lass|"
    r"(he|she)('s| is) ([4-9]|1[0-7]))\b",
    r"\b(hij[oa]|niñ[oa]|adolescente)", r"\b(fils|fille|enfant|ado)\b", r"\b(sohn|tochter|mein kind|unser kind|das kind|jugendlich\w*)",
)

# -- meaning checks ------------------------------------------------------------------------------------------------
_NEGATION = re.compile(
    r"\b(no|not|never|without|nor|don'?t|doesn'?t|didn'?t|isn'?t|wasn'?t|aren'?t|haven'?t|hasn'?t|zero|free of|"
    r"absence of|neither|nothing like|sin|ni|nunca|pas|sans|jamais|aucun\w*|kein\w*|nicht|ohne|nie)\b",
    re.I,
)
_CLAUSE = re.compile(r"[.;!?\n()]|\band since\b|,\s*(but|yet|though|although|and now|pero|mais|aber)\b|\bbut\b|\bpero\b|\bmais\b|"
                     r"\baber\b|\band (then|now)\b", re.I)
_HYPOTHETICAL = re.compile(
    r"\b(if|what if|in case|unless|whether|could (it|this|that) be|should i (worry|be worried)|"
    r"(signs?|symptoms?|red flags?|warning signs?) (of|that|to)|watch (out )?for|how (do|would|will) i know|"
    r"what happens if|risk of|chance of|prevent\w*|avoid\w*|"
    r"what (does|do|is|are) [^.!?\n]{0,30}\bmean|meaning of|definition|wenn|ob)\b", re.I)
_PAST = re.compile(
    r"\b((\d+|a|one|two|three|four|five|six|a few|few|several|couple of|a couple of|many)\s+(months?|years?)\s+(ago|back|"
    r"before)|last (year|summer|winter|spring|autumn|fall|season)|years ago|(in|back in) (19|20)\d\d|as a (kid|child|"
    r"teen\w*)|when (i|she|he) was (younger|a kid|little|a child|in school|at school|\d+)|used to|back in (the day|"
    r"school|college|university)|ages ago|long time ago|in the past|previously|once before|hace (meses|años)|"
    r"il y a (des mois|\d+ ans)|vor (monaten|jahren))\b", re.I)
_SETTLED = re.compile(
    r"\b((went|gone|has gone|had gone|going) away|(swelling|it|that|swollen)( has| had)? (gone|went|going|come) down|(is|it'?s|its|has|completely|totally|all) gone"
    r"( now| completely| again| within [\w ]{1,20})?(?=\s*([.,!;]|$|and\b|but\b))|released|settled|"
    r"(feeling|sensation) came back|no problems since|(hasn'?t|has not|never) (come|came) back|"
    r"regained|(got|have) (back )?(full|my full|all my) (range|movement|motion|bend)|full (range|movement|motion)"
    r"( of (motion|movement))? (back|again|now|since|returned)|back to full|resolved|cleared( up)?|(fine|ok|okay|better|normal|"
    r"good) (now|again|since)|(fine|ok|okay|normal) when (i|she|he|they) (stop|rest|loosen\w*)|let go|came free|"
    r"popped free|clicked (free|back)|straightens (fully|normally|all the way)|(doesn'?t|does not|don'?t|hasn'?t|isn'?t|wasn'?t) (\w+ ){0,2}any ?more|unlock\w*|freed (itself|up)|came (unstuck|free|loose)|"
    r"popped back|clicked back|went back (in|into place|to normal)|back to normal|recovered|since then [^.!?\n]{0,20}fine|"
    r"only (happened|lasted) (once|a (few )?(seconds|minutes))|for a (second|moment|few seconds)|seconds later|"
    r"straightened (it )?(out|again)|could straighten (it )?again|walked it off)\b",
    re.I)
_QUOTED = re.compile(r"(?:(?<=\s)|^)(['\"“‘])([^'\"”’\n]{2,30})(['\"”’])(?=[\s.,;:?!]|$)")
_SENTENCE = re.compile(r"[^.!?\n]+[.!?\n]*")


@dataclass(frozen=True)
class _Hit:
    start: int
    sentence: str
    after: str  # the rest of the sentence and the next three
    someone_else: bool = False  # the sentence is about another person than the one the message is about


def _sentences(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _SENTENCE.finditer(text)]


_NOT_NEGATION = re.compile(r"\b(no idea|no clue|no reason|no wonder|no matter|not sure|not certain|don'?t know|"
                           r"without (trying|meaning to|dieting|reason|warning|any reason)|not wearing off|"
                           r"didn'?t know|not only|can'?t tell|doesn'?t matter|no one|nobody|not long)\b", re.I)
_PERSONAL = re.compile(r"\b(i|i'm|im|i've|ive|i'd|my|me|mine|we|our|he|she|his|her|him|hers|they|their|them|it|it's|its|"
                       r"the (knee|leg|calf|foot|joint|kneecap)|mi|me|mon|ma|mes|je|j|ich|mein\w*|mir|mich|su|sa|son|sein\w*"
                       r"|ihr\w*)\b", re.I)


def _general_question(sentence: str) -> bool:
    """A question about a sign in general ("is swelling after long runs normal?"), with nobody's body in it."""
    return sentence.rstrip().endswith("?") and not _PERSONAL.search(sentence)


def _negated(text: str, start: int) -> bool:
    window = _NOT_NEGATION.sub(" ", text[max(0, start - 60) : start])
    cut = [m.end() for m in _CLAUSE.finditer(window)]
    clause = window[cut[-1] :] if cut else window
    return bool(_NEGATION.search(clause))


_GENERAL_AFTER = re.compile(r"^[\w ]{0,15}\b(can|could|may|might|would|means?|is a sign|are signs)\b ?(mean|be a sign|"
                            r"indicate|suggest|signal|point to)?", re.I)
_ANOTHER = re.compile(
    rf"\b(my|our|a|his|her) ({RELATIVE_ADJECTIVES}|work )?({RELATIVES}|cousin|teammate|club ?mate)s?\b"
    r"|\b(he|she|they) (had|has had|once had|used to)\b",
    re.I)


def _hits(patterns: tuple[re.Pattern[str], ...], text: str, spans: list[tuple[int, int]],
          self_message: bool = True) -> list[_Hit]:
    """Reported (not negated, not hypothetical, not a general statement) matches, each with its sentence.

    ``self_message``: the message is about the writer, so a sentence about someone else does not count."""
    out = []
    for pattern in patterns:
        for m in pattern.finditer(text):
            if _negated(text, m.start()) or _NEGATION.search(_NOT_NEGATION.sub(" ", _strip_verbs(m.group(0)))):
                continue
            if _GENERAL_AFTER.match(text[m.end() : m.end() + 40]) and not _PERSONAL_NEAR.search(text[max(0, m.start() - 25) : m.start()]):
                continue
            i = next((n for n, (a, b) in enumerate(spans) if a <= m.start() < b), len(spans) - 1)
            a, b = spans[i] if spans else (0, len(text))
            if _HYPOTHETICAL.search(text[a : m.start()]) or _general_question(text[a:b]):
                continue
            nxt = text[b : spans[min(i + 3, len(spans) - 1)][1]] if i + 1 < len(spans) else ""
            other = self_message and bool(_ANOTHER.search(text[a:b]))
            out.append(_Hit(m.start(), text[a:b], text[m.end() : b] + " " + nxt, other))
    return out


_OWN_VERBS = re.compile(r"\b(can'?t|cant|cannot|can not|won'?t|wont|will not|unable to|couldn'?t|could not|doesn'?t|"
                        r"does not|no weight|no pulse|not go|no (puedo|logro|puede)|ne (peux|peut|parviens) (pas|plus)|"
                        r"(kann|l[äa]sst sich) (\w+ )?(nicht|kaum)( mehr)?|nicht (mehr )?belasten)\b", re.I)
_PERSONAL_NEAR = re.compile(r"\b(my|her|his|their|our|mine)\b", re.I)


def _strip_verbs(match: str) -> str:
    """A pattern's own negative verbs ("can't bear", "won't straighten") are the sign, not a negation of it."""
    return _OWN_VERBS.sub(" ", match)


_SINCE_AGO = re.compile(r"\b(since|ever since|after)\b[^.!?\n]{0,40}\b(ago|operation|surgery|graft|arthroscopy|scope)\b",
                        re.I)
_WEEKS_AGO = re.compile(r"\b(\d+|a|one|two|three|a few|few|couple of|a couple of) weeks? (ago|back)\b", re.I)
_STILL = re.compile(r"\b(still|since|ever since|now|today|tonight|this morning)\b", re.I)


def _current(hits: list[_Hit]) -> list[_Hit]:
    """Drop what happened long ago ("a fever months ago", "as a kid my knee locked", "swelled up two weeks ago" when
    nothing says it is still there) and what happened to someone else the message is not about."""
    return [h for h in hits if not (_PAST.search(h.sentence) and not _SINCE_AGO.search(h.sentence)) and not h.someone_else
            and not (_WEEKS_AGO.search(h.sentence) and not _STILL.search(h.sentence))]


def _settled(hit: _Hit) -> bool:
    """The sign has passed ("it freed itself", "the swelling went down"); questions ("how do I unlock it?") don't
    count."""
    return bool(_SETTLED.search(_recent(hit)))


_BEFORE = re.compile(r"\b(once before|(the|that) (last|other) time|that time|last time|before at \d+|at \d+\b|"
                     r"happened (once )?before)", re.I)


def _recent(hit: _Hit) -> str:
    """The hit's sentence and the next ones, without questions and without what happened on an earlier occasion
    ("it popped back by itself last time")."""
    parts = [p for p in _SENTENCE.findall(hit.sentence + " " + hit.after)
             if not p.rstrip().endswith("?") and not _PAST.search(p) and not _BEFORE.search(p)]
    return " ".join(parts)


def _near(a: list[_Hit], b: list[_Hit], chars: int = 400) -> bool:
    return any(abs(x.start - y.start) <= chars for x in a for y in b)


# -- the rules -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Reader:
    text: str
    spans: list[tuple[int, int]]
    about_self: bool

    def hits(self, patterns: tuple[re.Pattern[str], ...]) -> list[_Hit]:
        return _hits(patterns, self.text, self.spans, self.about_self)


Rule = Callable[[_Reader], list[Finding]]


def _clot(r: _Reader) -> list[Finding]:
    calf = _current(r.hits(CALF)) + _current(r.hits(CALF_SWOLLEN))
    if not calf:
        return []
    if _current(r.hits(BREATH)):
        return [Finding("clot_lung", "emergency", "a painful or swollen calf with breathlessness or chest pain",
                        "a blood clot in the leg that may have moved to the lungs")]
    swollen = _current(r.hits(CALF_SWOLLEN))
    if all(_settled(h) for h in calf) or not (swollen or _current(r.hits(CLOT_RISK))):
        return []
    return [Finding("clot_leg", "same_day", "a painful, swollen or tender calf", "a blood clot in the leg (DVT)")]


def _circulation(r: _Reader) -> list[Finding]:
    cold = _current(r.hits(COLD_LEG))
    if cold and (r.hits(TRAUMA) or r.hits(DEFORMED)) and not all(_settled(h) for h in cold):
        return [Finding("circulation", "emergency", "a cold, pale or numb leg or foot after an injury",
                        "damage to the blood supply or nerves of the leg")]
    return []


def _deformity(r: _Reader) -> list[Finding]:
    hits = _current(r.hits(DEFORMED))
    if not hits:
        return []
    if all(_relocated_or_settled(h) for h in hits):
        return [Finding("kneecap_relocated", "same_day", "a kneecap that came out of place and went back",
                        "a kneecap dislocation, which can damage cartilage and needs to be examined")]
    return [Finding("deformity", "emergency", "a knee that looks deformed or a kneecap out of place",
                    "a dislocation or a fracture")]


def _relocated_or_settled(hit: _Hit) -> bool:
    told = _recent(hit)
    back = [m for p in RELOCATED for m in p.finditer(told) if not _negated(told, m.start())]
    return bool(back) or _settled(hit)


def _infection(r: _Reader) -> list[Finding]:
    hot = _current(r.hits(HOT_JOINT))
    swollen = _current(r.hits(SWELLING))
    fever = _current(r.hits(FEVER))
    if fever and (hot or swollen):
        return [Finding("septic", "emergency", "a fever with a hot or swollen joint",
                        "an infected joint, which needs emergency treatment")]
    if hot and not all(_settled(h) for h in hot):
        return [Finding("hot_joint", "same_day", "a hot, red, swollen joint",
                        "an infection or inflammation in the joint")]
    return []


def _weight(r: _Reader) -> list[Finding]:
    hits = _current(r.hits(NO_WEIGHT))
    if hits and not all(_settled(h) for h in hits):
        return [Finding("no_weight", "same_day", "a leg that cannot take weight",
                        "a fracture or a serious injury inside the knee")]
    return []


_EPISODES = re.compile(r"\b(sometimes|now and then|occasionally|every so often|from time to time|keeps? (locking|"
                       r"catching) (on|during) (runs|hills)|episodes?|every (few|couple of) (runs|weeks|days)|once or twice|twice|a few times|several times|\d+ times)\b",
                       re.I)
_NOT_KNEE = re.compile(r"\b(ankle|foot|feet|toes?|hand|wrist|finger|elbow|shoulder|calf|calves|shin|heel|achilles)\b", re.I)
_KNEE = re.compile(r"\b(knee|kneecap|patell\w*|rodilla|genou|knie)\b", re.I)


def _locking(r: _Reader) -> list[Finding]:
    hits = _current(r.hits(LOCKED))
    if not hits:
        return []
    if all(_settled(h) or _EPISODES.search(h.sentence) for h in hits):
        return [Finding("locking_settled", "within_days", "a locking episode that has settled",
                        "a torn meniscus or a loose piece of cartilage")]
    return [Finding("locked", "same_day", "a knee that is locked or cannot straighten",
                    "a torn meniscus or a loose piece of cartilage blocking the joint")]


def _giving_way(r: _Reader) -> list[Finding]:
    if _current(r.hits(GIVING_WAY)):
        return [Finding("giving_way", "within_days", "a knee that gives way",
                        "a ligament or meniscus injury, or a kneecap that slips")]
    return []


def _swelling(r: _Reader) -> list[Finding]:
    reported = [h for h in _current(r.hits(SWELLING)) if _KNEE.search(h.sentence) or not _NOT_KNEE.search(h.sentence)]
    if any(p.search(h.sentence + " " + h.after) for h in reported for p in RECURRENT) and not r.hits(TRAUMA_NOW):
        return [Finding("swelling_recurrent", "within_days", "swelling that keeps coming back after runs",
                        "a problem inside the joint, such as a meniscus or cartilage injury")]
    hits = [h for h in reported if not _settled(h)]
    if not hits:
        return []
    trauma = _current(r.hits(TRAUMA))
    quick = any(p.search(h.sentence) for h in hits for p in BIG)
    days = _DAYS.search(" ".join(h.sentence for h in hits))
    if trauma and _near(hits, trauma) and (quick or not days):
        return [Finding("swelling_after_injury", "same_day", "a knee that swelled quickly after a twist, pop or fall",
                        "bleeding inside the joint from a ligament, meniscus or bone injury")]
    if any(p.search(h.sentence + " " + h.after) for h in hits for p in RECURRENT):
        return [Finding("swelling_recurrent", "within_days", "swelling that keeps coming back after runs",
                        "a problem inside the joint, such as a meniscus or cartilage injury")]
    return [Finding("swelling", "within_days", "a knee that is swollen",
                    "a problem inside the joint rather than an overuse ache")]


_DAYS = re.compile(r"\b(days|a week|weeks|last (week|month)|since (monday|tuesday|wednesday|thursday|friday|saturday|"
                   r"sunday|last)|next (morning|day)|the day after|still|(monday|tuesday|wednesday|thursday|friday|"
                   r"saturday|sunday)'?s?)\b", re.I)


def _nerves(r: _Reader) -> list[Finding]:
    if _current([h for h in r.hits(WEAK) if not _settled(h)]):
        return [Finding("weakness", "same_day", "weakness of the foot or leg", "a nerve being pressed or damaged")]
    numb = [h for h in _current(r.hits(NUMB)) if not _settled(h)]
    if numb:
        return [Finding("numbness", "within_days", "numbness or tingling in the leg or foot",
                        "an irritated nerve, which should be examined")]
    return []


def _night(r: _Reader) -> list[Finding]:
    hits = [h for h in _current(r.hits(NIGHT)) if not _ONCE.search(h.sentence)]
    if hits:
        return [Finding("night_pain", "within_days", "pain at night or at rest",
                        "a cause other than overuse, such as a bone problem or inflammation")]
    return []


_ONCE = re.compile(r"\b(once|one night|last night only|the night after (the|my|a) (race|marathon|long run))\b", re.I)


def _child_limp(r: _Reader) -> list[Finding]:
    if _current(r.hits(LIMP)) and r.hits(CHILD):
        return [Finding("child_limp", "within_days", "a child or teenager with knee pain and a limp",
                        "a hip problem felt in the knee (such as a slipped growth plate), so the hip must be checked")]
    return []


RULES: tuple[Rule, ...] = (_clot, _circulation, _deformity, _infection, _weight, _locking, _swelling, _giving_way,
                           _nerves, _night, _child_limp)


def _unquote(m: re.Match[str]) -> str:
    """A quoted term asked about ("what does 'giving way' mean?") is dropped; quoted words someone said are kept."""
    rest = m.string[m.end() : m.end() + 40]
    return " " if re.match(r"^[\w ]{0,12}\b(mean|means|meaning|stand for|is that)\b", rest, re.I) else m.group(0)


def find_findings(text: str) -> list[Finding]:
    """Every red flag reported in the message, most urgent first (one per kind)."""
    text = _QUOTED.sub(_unquote, text)
    reader = _Reader(text, _sentences(text), subject_of(text).who == "self")
    found: dict[str, Finding] = {}
    for rule in RULES:
        for finding in rule(reader):
            found.setdefault(finding.key, finding)
    return sorted(found.values(), key=lambda f: TIER_ORDER.index(f.tier))


def for_today(findings: list[Finding]) -> list[Finding]:
    """The findings that need care today (emergency or same day)."""
    return [f for f in findings if f.tier in ("emergency", "same_day")]


def find_red_flags(text: str) -> list[str]:
    """What was found, in plain words, for the findings that need care today."""
    return [f.found for f in for_today(find_findings(text))]


def tier_of(findings: list[Finding]) -> Tier:
    return findings[0].tier if findings else "routine"
