"""Scope check: keyword rules plus a nearest-exemplar classifier over the embedding model."""

from __future__ import annotations

import re

import numpy as np

from assistant.providers.embeddings import LocalEmbeddings

IN_SCOPE = [
    "Why does the front of my knee hurt when I run?",
    "What is runner's knee?",
    "How do I treat IT band syndrome?",
    "Pain on the outside of my knee on long runs",
    "Should I stop running with knee pain?",
    "What exercises help patellofemoral pain?",
    "Which running shoes are best for sore knees?",
    "Does increasing my cadence help knee pain?",
    "Is running bad for my knees in the long run?",
    "Can a knee brace or tape help when running?",
    "How do I return to running after a knee injury?",
    "My knee aches after a marathon",
    "Do steroid injections work for knee tendon pain?",
    "Should I get an MRI for my knee?",
    "Is cycling good cross-training for runners?",
    "How much should I increase my weekly mileage?",
    "My teenager gets pain below the kneecap after football",
    "Does hip strength matter for knee pain?",
    "Stiff knee in the morning as an older runner",
    "Is foam rolling useful for the IT band?",
    "What do physios do for runner's knee?",
    "Ankle and foot strength for runners",
    "How long does runner's knee take to heal?",
    "Can I run a race with patellar tendinopathy?",
]
OUT_OF_SCOPE = [
    "What is the capital of France?",
    "Write a Python function to sort a list",
    "Give me a recipe for banana bread",
    "How do I file my tax return?",
    "How should I adjust my insulin dose?",
    "My shoulder hurts after swimming, what is wrong?",
    "I have a sore throat and a cough",
    "What is the best stock to buy?",
    "Translate this sentence into German",
    "My back pain radiates into my neck",
    "What should I eat to lose weight?",
    "Tell me a joke",
    "Help me write a cover letter",
    "My elbow hurts when I play tennis",
    "How do I treat a migraine?",
    "Which laptop should I buy?",
    "What is the weather tomorrow?",
    "Explain how vaccines work",
    "How do I fix a flat bicycle tyre?",
    "My wrist is sore from typing",
    "Is my blood pressure too high?",
    "Plan a holiday in Italy",
]
_OTHER_BODY = re.compile(
    r"\b(shoulder|elbow|wrist|hand|finger|neck|head|headache|migraine|chest|stomach|throat|tooth|teeth|eye|ear|"
    r"skin|rash|back pain|lower back|spine)\b", re.I)
_LOWER_LIMB = re.compile(r"\b(knee|kneecap|patell\w*|leg|thigh|shin|calf|hip|it ?band|itb|ankle|foot|feet|run\w*)\b",
                         re.I)
_OFF_TOPIC = re.compile(
    r"\b(python|javascript|code|function|program|recipe|tax|stock|crypto|insulin|diabetes|blood pressure|"
    r"translate|poem|joke|cover letter|essay|homework|weather|holiday|laptop)\b", re.I)


class ScopeClassifier:
    """In scope: knee pain, running, training and related lower-limb questions."""

    def __init__(self, embeddings: LocalEmbeddings) -> None:
        self._embeddings = embeddings
        self._exemplars: tuple[np.ndarray, np.ndarray] | None = None

    def _vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """Exemplar vectors, embedded on first use: commands that never ask (ingest, index ...) skip the cost."""
        if self._exemplars is None:
            self._exemplars = (self._embeddings.encode(IN_SCOPE), self._embeddings.encode(OUT_OF_SCOPE))
        return self._exemplars

    def check(self, text: str, vector: np.ndarray, follow_up: bool = False) -> tuple[bool, str]:
        """(in scope?, reason). ``vector`` is the unit embedding of ``text``.

        A follow-up to an in-scope conversation stays in scope unless it names another body part or topic.
        """
        lower_limb = bool(_LOWER_LIMB.search(text))
        if _OTHER_BODY.search(text) and not lower_limb:
            return False, "about another part of the body"
        if _OFF_TOPIC.search(text) and not re.search(r"\bknee", text, re.I):
            return False, "an off-topic request"
        if follow_up:
            return True, "follow-up in an in-scope conversation"
        inside, outside = self._vectors()
        score_in = float(np.max(inside @ vector))
        score_out = float(np.max(outside @ vector))
        if score_out > score_in and not re.search(r"\bknee", text, re.I):
            return False, f"closer to off-topic examples ({score_out:.2f} vs {score_in:.2f})"
        if score_in < 0.2 and not lower_limb:
            return False, f"no knee, running or lower-limb topic found ({score_in:.2f})"
        return True, f"in scope ({score_in:.2f} vs {score_out:.2f})"
