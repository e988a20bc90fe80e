"""The learned half of the classifier (scikit-learn): TF-IDF over words, character bigrams and
fuzzy pinyin, one logistic regression per unit (one-vs-rest) and a multinomial one for the request
type.

One-vs-rest is deliberate: a return (退回) is a negative example *for the unit that returned it*
only, which a per-unit binary model can express directly; the other units are unaffected.
Town governments share one class, ``town``: their matters are the same kind everywhere, and the
town named in the text says which one.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

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
    vectorizer: TfidfVectorizer
    classes: list[str]
    coef: np.ndarray  # (n_features, n_classes) float32
    intercept: np.ndarray
    type_model: LogisticRegression | None = None
    info: dict = field(default_factory=dict)

    def unit_scores(self, doc: str) -> tuple[dict[str, float], object]:
        """Per-class probability (sigmoid of each one-vs-rest decision) and the feature row."""
        x = self.vectorizer.transform([doc])
        decision = np.asarray(x @ self.coef).ravel() + self.intercept
        prob = 1.0 / (1.0 + np.exp(-decision))
        return dict(zip(self.classes, prob.tolist())), x

    def explain(self, x, cls: str, n: int = 3) -> list[str]:
        """The features in the text that pushed hardest towards ``cls`` (readable form)."""
        j = self.classes.index(cls)
        row = x.tocsr()
        contrib = row.data * self.coef[row.indices, j]
        order = np.argsort(-contrib)
        names = self.vectorizer.get_feature_names_out() if not hasattr(self, "_names") else self._names
        self._names = names
        out = []
        for k in order:
            if contrib[k] <= 0 or len(out) >= n:
                break
            name = names[row.indices[k]]
            if name.startswith(("w:", "b:")) and name[2:] not in out:
                out.append(name[2:])
        return out

    def type_scores(self, x) -> dict[str, float]:
        if self.type_model is None:
            return {}
        prob = self.type_model.predict_proba(x)[0]
        return dict(zip(self.type_model.classes_.tolist(), prob.tolist()))


def train(samples: list[Sample], c: float = 8.0) -> Model:
    """Fit the per-unit models and the type model. Deterministic for the same samples."""
    started = time.perf_counter()
    vec = TfidfVectorizer(analyzer=_analyzer, sublinear_tf=True, min_df=1, dtype=np.float32)
    docs = [s.text for s in samples]
    x = vec.fit_transform(docs)
    units = np.array([unit_class(s.unit) for s in samples])
    labels = np.array([s.label for s in samples])
    weights = np.array([s.weight for s in samples], dtype=np.float64)
    classes = sorted({u for u, lab in zip(units, labels) if lab > 0})
    coef = np.zeros((x.shape[1], len(classes)), dtype=np.float32)
    intercept = np.zeros(len(classes), dtype=np.float32)
    for j, cls in enumerate(classes):
        y = ((units == cls) & (labels > 0)).astype(int)
        # negatives for cls: other units' positives, and returns by cls itself
        use = (labels > 0) | (units == cls)
        w = weights.copy()
        w[(units == cls) & (labels < 0)] = RETURN_WEIGHT
        clf = LogisticRegression(C=c, solver="liblinear", class_weight="balanced", max_iter=200)
        clf.fit(x[use], y[use], sample_weight=w[use])
        coef[:, j] = clf.coef_[0]
        intercept[j] = clf.intercept_[0]
    type_model = None
    typed = [i for i, s in enumerate(samples) if s.type and s.label > 0]
    if len({samples[i].type for i in typed}) >= 2:
        type_model = LogisticRegression(C=4.0, max_iter=500, class_weight="balanced")
        type_model.fit(x[typed], [samples[i].type for i in typed])
    model = Model(vec, classes, coef, intercept, type_model)
    model.info = {"samples": len(samples), "features": int(x.shape[1]), "classes": len(classes),
                  "seconds": round(time.perf_counter() - started, 2)}
    return model
