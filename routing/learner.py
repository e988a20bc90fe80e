"""The learned half of the classifier (scikit-learn): TF-IDF over words, character bigrams and
fuzzy pinyin, one logistic regression per unit (one-vs-rest) and a multinomial one for the request
type.

One-vs-rest is deliberate: a return (退回) is a negative example *for the unit that returned it*
only, which a per-unit binary model can express directly; the other units are unaffected.
Town governments share one class, ``town``: their matters are the same kind everywhere, and the
town named in the text says which one.
"""
from __future__ import annotations

import os
import pickle
import time
import zlib
from dataclasses import dataclass, field

import numpy as np

from . import text as textmod

#: weight of a confirmed dispatch relative to a catalogue phrase; a return weighs this much
#: against the unit that returned the ticket
HISTORY_WEIGHT = 2.0
RETURN_WEIGHT = 4.0


def unit_class(code: str) -> str:
    return "town" if code.startswith("town-") else code


def _analyzer(doc: str) -> list[str]:
    return textmod.features(doc)


@dataclass
class Sample:
    text: str
    unit: str
    label: int = 1  # +1 positive, -1 "not this unit"
    weight: float = 1.0
    type: str | None = None


@dataclass
class Model:
    """A fitted model reduced to plain arrays, so a prediction is a few numpy operations (the
    estimators' per-call input validation costs more than the arithmetic)."""

    vocabulary: dict[str, int]
    idf: np.ndarray
    classes: list[str]
    coef: np.ndarray  # (n_features, n_classes) float32
    intercept: np.ndarray
    type_classes: list[str] = field(default_factory=list)
    type_coef: np.ndarray | None = None  # (n_features, n_types)
    type_intercept: np.ndarray | None = None
    names: list[str] = field(default_factory=list)
    info: dict = field(default_factory=dict)

    def vector(self, doc: str) -> tuple[np.ndarray, np.ndarray]:
        """(feature indices, tf-idf values) of ``doc``, l2-normalised like TfidfVectorizer."""
        counts: dict[int, int] = {}
        for tok in _analyzer(doc):
            j = self.vocabulary.get(tok)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        if not counts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        idx = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
        val = (1.0 + np.log(tf)) * self.idf[idx]
        norm = float(np.sqrt((val * val).sum()))
        return idx, (val / norm if norm else val)

    def unit_scores(self, doc: str) -> tuple[dict[str, float], tuple]:
        """Per-class probability (sigmoid of each one-vs-rest decision) and the feature vector."""
        idx, val = self.vector(doc)
        decision = val @ self.coef[idx] + self.intercept
        prob = 1.0 / (1.0 + np.exp(-decision))
        return dict(zip(self.classes, prob.tolist())), (idx, val)

    def explain(self, x, cls: str, n: int = 3) -> list[str]:
        """The words in the text that pushed hardest towards ``cls``."""
        idx, val = x
        if not len(idx):
            return []
        contrib = val * self.coef[idx, self.classes.index(cls)]
        out = []
        for k in np.argsort(-contrib):
            if contrib[k] <= 0 or len(out) >= n:
                break
            name = self.names[idx[k]]
            if name.startswith("w:") and len(name) >= 4 and name[2:] not in out:
                out.append(name[2:])
        return out

    def type_scores(self, x) -> dict[str, float]:
        if self.type_coef is None:
            return {}
        idx, val = x
        z = val @ self.type_coef[idx] + self.type_intercept
        if len(self.type_classes) == 2:  # binary LogisticRegression keeps one column
            p1 = 1.0 / (1.0 + np.exp(-z[0]))
            return dict(zip(self.type_classes, [1 - p1, p1]))
        e = np.exp(z - z.max())
        return dict(zip(self.type_classes, (e / e.sum()).tolist()))


def train(samples: list[Sample], c: float = 8.0) -> Model:
    """Fit the per-unit models and the type model. Deterministic for the same samples."""
    # scikit-learn (with SciPy) is only needed to fit: imported here, it no longer costs every
    # process that merely predicts ~2.5 s of CPU at start (9 processes start at once in `make up`)
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    started = time.perf_counter()
    vec = TfidfVectorizer(analyzer=_analyzer, sublinear_tf=True, min_df=1, dtype=np.float32)
    docs = [s.text for s in samples]
    x = vec.fit_transform(docs)
    units = np.array([unit_class(s.unit) for s in samples])
    labels = np.array([s.label for s in samples])
    weights = np.array([s.weight for s in samples], dtype=np.float64)
    classes = sorted({str(u) for u, lab in zip(units, labels) if lab > 0})
    coef = np.zeros((x.shape[1], len(classes)), dtype=np.float32)
    intercept = np.zeros(len(classes), dtype=np.float32)
    for j, cls in enumerate(classes):
        y = ((units == cls) & (labels > 0)).astype(int)
        # negatives for cls: other units' positives, and returns by cls itself
        use = (labels > 0) | (units == cls)
        w = weights.copy()
        w[(units == cls) & (labels < 0)] = RETURN_WEIGHT
        clf = LogisticRegression(C=c, solver="liblinear", dual=True, class_weight="balanced",
                                 max_iter=300)
        clf.fit(x[use], y[use], sample_weight=w[use])
        coef[:, j] = clf.coef_[0]
        intercept[j] = clf.intercept_[0]
    model = Model(dict(vec.vocabulary_), vec.idf_.astype(np.float32), classes, coef, intercept,
                  names=vec.get_feature_names_out().tolist())
    typed = [i for i, s in enumerate(samples) if s.type and s.label > 0]
    if len({samples[i].type for i in typed}) >= 2:
        type_model = LogisticRegression(C=4.0, max_iter=500, class_weight="balanced")
        type_model.fit(x[typed], [samples[i].type for i in typed])
        model.type_classes = type_model.classes_.tolist()
        model.type_coef = type_model.coef_.T.astype(np.float32).copy()
        model.type_intercept = type_model.intercept_.astype(np.float32)
    model.info = {"samples": len(samples), "features": int(x.shape[1]), "classes": len(classes),
                  "seconds": round(time.perf_counter() - started, 2), "pid": os.getpid()}
    return model


def train_stored(samples: list[Sample]) -> bytes:
    """``train`` and its stored form (``dump``) in one call: what a child process computes for
    routing.service.train (hotline.jobs.in_child_process), the compression included."""
    return dump(train(samples))


def dump(model: Model) -> bytes:
    """The stored form of a model (``TrainedModel.blob``)."""
    return zlib.compress(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL), 6)


def load(blob: bytes) -> Model:
    return pickle.loads(zlib.decompress(blob))
