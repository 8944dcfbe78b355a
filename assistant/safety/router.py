"""The learned scope router: a logistic regression over the bundled embedding model's vectors.

Trained from the labelled messages in ``router_data/`` (written for this purpose, many kinds and lengths). The
vectors of the training messages are the only slow part (about a minute on two cores), so they are cached on disk
keyed by the data and the model; the regression itself trains in about a second when the app starts.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from assistant.errors import ConfigError
from assistant.providers.embeddings import LocalEmbeddings

log = logging.getLogger(__name__)

ROUTER_DATA = Path(__file__).parent / "router_data"
LABELS = ("knee", "other_injury", "other_health", "animal", "off_topic", "chat")
# A message is declined only when the knee probability is below this (chosen on held-out data so that a real knee
# question is almost never declined: evals/README.md, "scope router").
MIN_KNEE = 0.20
WINDOW_WORDS = 120


@dataclass(frozen=True)
class Route:
    """Where a message belongs: ``label`` is one of ``LABELS``; ``knee`` the probability it is a knee question."""

    label: str
    knee: float
    probabilities: dict[str, float] = field(default_factory=dict)

    @property
    def in_scope(self) -> bool:
        return self.label == "knee"

    def reason(self) -> str:
        top = sorted(self.probabilities.items(), key=lambda kv: -kv[1])[:2]
        return f"router: {self.label} (" + ", ".join(f"{k} {v:.2f}" for k, v in top) + ")"


def load_examples(folder: Path = ROUTER_DATA) -> tuple[list[str], list[str]]:
    """Every labelled message in ``folder/*.yaml`` as (texts, labels); a bad file or label is a ``ConfigError``."""
    texts: list[str] = []
    labels: list[str] = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            items = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from exc
        for n, item in enumerate(items, 1):
            if not isinstance(item, dict) or item.get("label") not in LABELS or not str(item.get("text", "")).strip():
                raise ConfigError(f"{path}: item {n} needs a 'label' (one of {', '.join(LABELS)}) and a 'text'")
            texts.append(" ".join(str(item["text"]).split()))
            labels.append(str(item["label"]))
    if not texts:
        raise ConfigError(f"no labelled messages in {folder}/*.yaml: the scope router cannot be trained")
    return texts, labels


def message_vectors(embeddings: LocalEmbeddings, texts: list[str]) -> np.ndarray:
    """One unit vector per message: the mean of its windows of ``WINDOW_WORDS`` words, so that a long narrative
    is read whole (the model itself stops at 256 word pieces)."""
    windows: list[str] = []
    owner: list[int] = []
    for i, text in enumerate(texts):
        words = text.split() or [""]
        for start in range(0, len(words), WINDOW_WORDS):
            windows.append(" ".join(words[start : start + WINDOW_WORDS]))
            owner.append(i)
    vectors = embeddings.encode(windows)
    out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
    np.add.at(out, np.asarray(owner), vectors)
    out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)
    return out


def default_cache_dir() -> Path:
    """Where training vectors are kept between runs (shared by every data dir of this user)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "knee-assistant"


_FITTED: dict[str, RouterModel] = {}


class ScopeRouter:
    """Knee question, other injury, other health, animal, off-topic request or chat."""

    def __init__(self, embeddings: LocalEmbeddings, data_dir: Path = ROUTER_DATA, cache_dir: Path | None = None,
                 min_knee: float = MIN_KNEE) -> None:
        self._embeddings = embeddings
        self._data_dir = data_dir
        self._cache_dir = cache_dir or default_cache_dir()
        self.min_knee = min_knee
        self._model: RouterModel | None = None

    # -- training ------------------------------------------------------------------------------------------
    def train(self) -> int:
        """Fit the regression (vectors from the cache when they are there); returns the number of messages.

        One fit per process and data: every assistant a process builds (tests build many) shares it."""
        texts, labels = load_examples(self._data_dir)
        digest = hashlib.sha256("\n".join([self._embeddings.name, *texts, *labels]).encode()).hexdigest()[:16]
        if digest not in _FITTED:
            _FITTED[digest] = RouterModel(texts, self._training_vectors(texts, digest), labels)
        self._model = _FITTED[digest]
        return len(texts)

    def _training_vectors(self, texts: list[str], digest: str) -> np.ndarray:
        path = self._cache_dir / f"router-vectors-{digest}.npy"
        if path.is_file():
            try:
                cached = np.load(path)
                if cached.shape[0] == len(texts):
                    return np.asarray(cached, dtype=np.float32)
            except (OSError, ValueError):
                log.warning("router cache %s unreadable: embedding the training messages again", path)
        log.info("scope router: embedding %d training messages (once per change of the data)", len(texts))
        vectors = message_vectors(self._embeddings, texts)
        try:
            self._cache_dir.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".partial.npy")
            np.save(partial, vectors)
            partial.replace(path)
        except OSError as exc:  # a read-only home: train every start instead
            log.warning("router cache not written (%s): training vectors will be computed again next start", exc)
        return vectors

    # -- routing -------------------------------------------------------------------------------------------
    def vector(self, text: str) -> np.ndarray:
        return np.asarray(message_vectors(self._embeddings, [text])[0])

    def route(self, text: str, vector: np.ndarray | None = None) -> Route:
        if self._model is None:
            self.train()
        assert self._model is not None
        text = " ".join(text.split())
        v = self.vector(text) if vector is None else vector
        table = self._model.probabilities([text], v[None, :])[0]
        knee = table["knee"]
        label = "knee" if knee >= self.min_knee else max(table, key=lambda k: table[k])
        return Route(label=label, knee=knee, probabilities=table)


class RouterModel:
    """Word and character n-grams (TF-IDF) beside the sentence vector, into one multinomial logistic regression.

    The n-grams catch what the vector blurs (a misspelt "nee", "vet", "Strava"); the vector carries meaning across
    wordings. Measured by 5-fold cross-validation on the training messages (evals/README.md, "scope router")."""

    def __init__(self, texts: list[str], vectors: np.ndarray, labels: list[str], c: float = 16.0) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer  # type: ignore[import-untyped]
        from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

        self._words = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True).fit(texts)
        self._chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), min_df=3, sublinear_tf=True,
                                      max_features=40000).fit(texts)
        self._model = LogisticRegression(C=c, max_iter=4000).fit(self.features(texts, vectors), labels)
        self.classes: list[str] = [str(x) for x in self._model.classes_]

    def features(self, texts: list[str], vectors: np.ndarray) -> object:
        from scipy import sparse  # type: ignore[import-untyped]

        return sparse.hstack([self._words.transform(texts), self._chars.transform(texts),
                              sparse.csr_matrix(vectors * VECTOR_WEIGHT)]).tocsr()

    def probabilities(self, texts: list[str], vectors: np.ndarray) -> list[dict[str, float]]:
        rows = self._model.predict_proba(self.features(texts, vectors))
        return [{label: float(row[self.classes.index(label)]) if label in self.classes else 0.0 for label in LABELS}
                for row in rows]


VECTOR_WEIGHT = 2.0
