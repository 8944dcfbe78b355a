"""Who a message is about (the runner, a child, an athlete or someone else), so replies address the right person."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Who = Literal["self", "child", "athlete", "other"]

_CHILD = re.compile(
    r"\b(my|our) (\d+[- ]?(year|yr)[- ]?old |little |teenage |eldest |youngest )?(son|daughter|kid|child|boy|girl|"
    r"teen|teenager|lad|stepson|stepdaughter)s?\b|\b(my|our) \d+[- ]?((year|yr)s?[- ]?old|yo)\b|"
    r"\b(mi|nuestro|nuestra) (hij[oa]|niñ[oa])|\b(mon|ma|notre) (fils|"
    r"fille|enfant)|\b(mein|meine|unser|unsere) (sohn|tochter|kind)", re.I)
_ATHLETE = re.compile(
    r"\b(i coach|i'm a coach|im a coach|as a coach|as (her|his|their) coach|coaching|my (athletes?|runners?|players?|"
    r"clients?|pupils?|students?|squad|team)|one of my (athletes|runners|players|clients|girls|boys))\b", re.I)
# The people a runner writes about (also read by redflags.py, to tell the writer's signs from someone else's).
RELATIVES = (r"wife|husband|partner|girlfriend|boyfriend|friend|mate|buddy|pal|mum|mom|mother|dad|father|brother|"
             r"sister|colleague|neighbou?r|flatmate|roommate|grandad|grandma|uncle|aunt")
RELATIVE_ADJECTIVES = "running |training |best |old |gym "
_OTHER = re.compile(
    rf"\b(my|our) ({RELATIVE_ADJECTIVES})?({RELATIVES}|fianc[ée]e?|training partner)\b|"
    r"\b(asking|writing|posting) for (a|my) \w+", re.I)


@dataclass(frozen=True)
class Subject:
    who: Who

    @property
    def whom(self) -> str:
        return {"self": "you", "child": "your child", "athlete": "your athlete", "other": "them"}[self.who]

    @property
    def whose(self) -> str:
        return {"self": "your", "child": "your child's", "athlete": "your athlete's", "other": "their"}[self.who]

    def wording(self) -> dict[str, str]:
        """The variables the prompt templates take."""
        return {"who": self.who, "whom": self.whom, "whose": self.whose}


def subject_of(text: str) -> Subject:
    """A coach or parent writing about someone else is detected by how they name that person; a runner who
    mentions a friend in passing still writes about themselves when their own knee comes first."""
    child, athlete, other = _CHILD.search(text), _ATHLETE.search(text), _OTHER.search(text)
    if re.search(r"\bmy (left |right |bad |sore |dodgy |good )?(knees?|kneecap|leg|calf)\b", text, re.I):
        return Subject("self")  # "my knee" (not "my son's knee"): the writer's own
    own = re.search(r"\bi (have|get|got|feel)\b", text, re.I)
    firsts = [(m.start(), who) for m, who in ((child, "child"), (athlete, "athlete"), (other, "other")) if m]
    if not firsts:
        return Subject("self")
    start, who = min(firsts)
    if own and own.start() < start:
        return Subject("self")
    return Subject(who)  # type: ignore[arg-type]
