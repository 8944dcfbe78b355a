"""Small sets of vectors kept in a chunk's metadata as text (half precision, base64).

A section's question variants are matched by meaning at retrieval; their vectors travel inside the chunk they point
to, so every write, backup, restore and deletion of the chunk carries them with it, in the same crash-safe step.
"""

from __future__ import annotations

import base64
import json

import numpy as np

QUESTIONS = "questions"  # metadata key: JSON list of the section's questions
QUESTION_VECTORS = "question_vectors"  # metadata key: their unit vectors, packed


def pack(vectors: np.ndarray) -> str:
    """Rows of ``vectors`` as one ASCII string (float16: ample for cosine similarity of unit vectors)."""
    return base64.b64encode(np.asarray(vectors, dtype="<f2").tobytes()).decode("ascii")


def unpack(text: str, dimension: int) -> np.ndarray:
    """The rows ``pack`` stored, as float32; an empty array for text that is not a whole number of rows."""
    try:
        raw = np.frombuffer(base64.b64decode(text.encode("ascii"), validate=True), dtype="<f2")
    except (ValueError, UnicodeError):
        return np.zeros((0, dimension), np.float32)
    if dimension <= 0 or raw.size % dimension:
        return np.zeros((0, dimension), np.float32)
    return raw.astype(np.float32).reshape(-1, dimension)


def questions_of(metadata: dict[str, object]) -> list[str]:
    """The question texts a chunk's metadata carries (none for chunks without them)."""
    try:
        found = json.loads(str(metadata.get(QUESTIONS) or "[]"))
    except ValueError:
        return []
    return [str(q) for q in found] if isinstance(found, list) else []
