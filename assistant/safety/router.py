"""The learned scope router: a logistic regression over the bundled embedding model's vectors.

Trained from the labelled messages in ``router_data/`` (written for this purpose, many kinds and lengths). The
vectors of the training messages are the only slow part (about a minute on two cores), so they are cached on disk
keyed by the data and the model; the regression itself trains in about a second when the app starts.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from assistant.errors import ConfigError
from assistant.providers.embeddings import LocalEmbeddings

log = logging.getLogger(__name__)

ROUTER_DATA = Path(__file__).parent / "router_data"
LABELS = ("knee", "other_injury", "other_health", "animal", "off_topic", "chat")
# A message is a knee question when the knee probability reaches MIN_KNEE, unless it never names the knee and another
# label is at least SURE_OTHER (chosen on held-out data so that a real knee question is almost never declined and an
# elbow or a car is: evals/README.md, "scope router").
MIN_KNEE = 0.20
SURE_OTHER = 0.60
KNEE_WORD = re.compile(r"\b(knee\w*|kneecap\w*|patell\w*|it ?band|itb\w*|iliotibial|menisc\w*|osgood\w*|rodilla\w*|"
                        r"r[óo]tula|genou\w*|rotule|knie\w*|kniescheibe)\b", re.I)
WINDOW_WORDS = 120
MODEL_VERSION = 1  # raise when the features or the fit change, so cached models are not reused


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
            _FITTED[digest] = self._fitted(texts, labels, digest)
        self._model = _FITTED[digest]
        return len(texts)

    def _fitted(self, texts: list[str], labels: list[str], digest: str) -> RouterModel:
        """The model saved for this data and embedding model, or a new fit (then saved for the next start)."""
        path = self._cache_dir / f"router-model-{digest}-v{MODEL_VERSION}"
        if path.with_suffix(".npz").is_file() and path.with_suffix(".json").is_file():
            try:
                return RouterModel.load(path)
            except (OSError, ValueError, KeyError) as exc:
                log.warning("router model cache %s unreadable (%s): fitting again", path, exc)
        model = RouterModel.fit(texts, self._training_vectors(texts, digest), labels)
        try:
            model.save(path)
        except OSError as exc:
            log.warning("router model not cached (%s): it will be fitted again next start", exc)
        return model

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

    def route(self, text: str) -> Route:
        if self._model is None:
            self.train()
        assert self._model is not None
        text = " ".join(text.split())
        table = self._model.probabilities([text], self.vector(text)[None, :])[0]
        return Route(label=decide(table, text, self.min_knee), knee=table["knee"], probabilities=table)


class RouterModel:
    """Word and character n-grams (TF-IDF) beside the sentence vector, into one multinomial logistic regression.

    The n-grams catch what the vector blurs (a misspelt "nee", "vet", "Strava"); the vector carries meaning across
    wordings. Its fitted parameters are plain arrays and vocabularies, saved without pickle (``save``/``load``)."""

    def __init__(self, words: Any, chars: Any, coef: np.ndarray, intercept: np.ndarray, classes: list[str]) -> None:
        self._words, self._chars = words, chars
        self._coef, self._intercept, self.classes = coef, intercept, classes

    @classmethod
    def fit(cls, texts: list[str], vectors: np.ndarray, labels: list[str], c: float = 16.0) -> RouterModel:
        from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

        words, chars = _word_grams().fit(texts), _char_grams().fit(texts)
        model = LogisticRegression(C=c, max_iter=4000).fit(_features(words, chars, texts, vectors), labels)
        return cls(words, chars, np.asarray(model.coef_, dtype=np.float32),
                   np.asarray(model.intercept_, dtype=np.float32), [str(x) for x in model.classes_])

    def probabilities(self, texts: list[str], vectors: np.ndarray) -> list[dict[str, float]]:
        z = np.asarray(_features(self._words, self._chars, texts, vectors) @ self._coef.T) + self._intercept
        if len(self.classes) == 2:  # a binary fit has one row: the second class against the first
            z = np.hstack([np.zeros((z.shape[0], 1)), z[:, :1]])
        e = np.exp(z - z.max(axis=1, keepdims=True))
        rows = e / e.sum(axis=1, keepdims=True)
        return [{label: float(row[self.classes.index(label)]) if label in self.classes else 0.0 for label in LABELS}
                for row in rows]

    def save(self, path: Path) -> None:
        """Arrays in one .npz, vocabularies in JSON beside it; written to temporary names, then renamed."""
        meta = {"classes": self.classes, "words": self._words.vocabulary_, "chars": self._chars.vocabulary_}
        arrays, vocabularies = path.with_name(path.name + ".partial.npz"), path.with_name(path.name + ".partial.json")
        np.savez(arrays, coef=self._coef, intercept=self._intercept, words_idf=self._words.idf_,
                 chars_idf=self._chars.idf_)
        vocabularies.write_text(json.dumps(
            {k: v if k == "classes" else {t: int(i) for t, i in v.items()} for k, v in meta.items()}), "utf-8")
        arrays.replace(path.with_suffix(".npz"))
        vocabularies.replace(path.with_suffix(".json"))

    @classmethod
    def load(cls, path: Path) -> RouterModel:
        arrays = np.load(path.with_suffix(".npz"))
        meta = json.loads(path.with_suffix(".json").read_text("utf-8"))
        words, chars = _word_grams(meta["words"]), _char_grams(meta["chars"])
        words.idf_, chars.idf_ = arrays["words_idf"], arrays["chars_idf"]
        return cls(words, chars, arrays["coef"], arrays["intercept"], list(meta["classes"]))


def _word_grams(vocabulary: dict[str, int] | None = None) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer  # type: ignore[import-untyped]

    return TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, vocabulary=vocabulary)


def _char_grams(vocabulary: dict[str, int] | None = None) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), min_df=3, sublinear_tf=True, max_features=40000,
                           vocabulary=vocabulary)


def _features(words: Any, chars: Any, texts: list[str], vectors: np.ndarray) -> Any:
    from scipy import sparse  # type: ignore[import-untyped]

    return sparse.hstack([words.transform(texts), chars.transform(texts),
                          sparse.csr_matrix(vectors * VECTOR_WEIGHT)]).tocsr()


VECTOR_WEIGHT = 2.0


def decide(table: dict[str, float], text: str, min_knee: float = MIN_KNEE) -> str:
    """Knee when its probability reaches ``min_knee``, unless the message never names the knee and the model is sure
    it is something else (an elbow, a car): then that."""
    other = max((k for k in table if k != "knee"), key=lambda k: table[k])
    if table["knee"] >= min_knee and (KNEE_WORD.search(text) or table[other] < SURE_OTHER):
        return "knee"
    return "knee" if table["knee"] >= table[other] else other


def cross_validate(embeddings: LocalEmbeddings, folds: int = 5, seed: int = 0, data_dir: Path = ROUTER_DATA,
                   cache_dir: Path | None = None, min_knee: float = MIN_KNEE) -> dict[str, float]:
    """Held-out figures of the router on its own training messages (k-fold): each message is routed by a model that
    never saw it. ``knee_kept``: knee messages routed to the knee; ``declined``: the others declined; ``accuracy``:
    the exact label right."""
    texts, labels = load_examples(data_dir)
    router = ScopeRouter(embeddings, data_dir, cache_dir, min_knee)
    digest = hashlib.sha256("\n".join([embeddings.name, *texts, *labels]).encode()).hexdigest()[:16]
    vectors = router._training_vectors(texts, digest)
    order = np.random.default_rng(seed).permutation(len(texts))
    routed: list[str] = [""] * len(texts)
    for part in np.array_split(order, folds):
        train = np.setdiff1d(order, part)
        model = RouterModel.fit([texts[i] for i in train], vectors[train], [labels[i] for i in train])
        for i, table in zip(part, model.probabilities([texts[i] for i in part], vectors[part]), strict=True):
            routed[i] = decide(table, texts[i], min_knee)
    knee = [r for r, y in zip(routed, labels, strict=True) if y == "knee"]
    other = [r for r, y in zip(routed, labels, strict=True) if y != "knee"]
    return {
        "messages": float(len(texts)),
        "knee_kept": sum(r == "knee" for r in knee) / len(knee),
        "declined": sum(r != "knee" for r in other) / len(other),
        "accuracy": sum(r == y for r, y in zip(routed, labels, strict=True)) / len(texts),
    }
