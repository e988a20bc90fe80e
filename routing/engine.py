"""The classifier: catalogue automaton + learned model + rules, combined into one suggestion.

An ``Engine`` is immutable once built; the live one is swapped atomically (``Live``) when the
catalogue, the directory or the trained model changes, so a request always sees one consistent
snapshot and never waits for training.
"""
from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field

from .learner import Model, unit_class
from .matcher import CO_FACTOR, PINYIN_FACTOR, Automaton, keyword_weight
from .rules import Rules
from .text import add_words, normalize

TYPES = ("咨询", "求助", "投诉", "举报", "建议", "表扬", "申请")
KEYWORD_SHARE = 0.5  # weight of the catalogue in the combined score; the model has the rest
KEYWORD_SCALE = 1.2  # keyword score at which the catalogue part reaches one half
TOWN_NAMED_BONUS = 0.15
DEFAULT_TYPE = "咨询"
#: the unit that answers for an emergency once the call is transferred (it gets the ticket)
EMERGENCY_UNITS = {"fire": "fire", "gas": "utilities", "rescue": "fire", "crime": "police",
                   "traffic": "traffic", "injury": "health"}
EMERGENCY_BOOST = 0.5

_rules: Rules | None = None
_rules_lock = threading.Lock()


def rules() -> Rules:
    global _rules
    if _rules is None:
        with _rules_lock:
            if _rules is None:
                _rules = Rules()
    return _rules


@dataclass
class Engine:
    entries: list[dict]
    units: dict[str, str]  # code -> name (active units)
    towns: dict[str, str]  # town code -> name
    model: Model | None = None
    versions: tuple = ()
    model_id: int | None = None
    automaton: Automaton = field(init=False)

    def __post_init__(self) -> None:
        a = Automaton()
        lead_units: dict[str, set] = defaultdict(set)
        self._co = {(unit_class(e["unit"]), e["matter"]): list(e["co_units"]) for e in self.entries}
        for e in self.entries:
            for kw in [e["matter"], *e["keywords"]]:
                kw = normalize(kw)
                if len(kw) < 2:
                    continue
                lead_units[kw].add(e["unit"])
                a.add(kw, ("lead", e["unit"], e["matter"]))
                for co in e["co_units"]:
                    a.add(kw, ("co", co, e["matter"]))
        for code, name in self.towns.items():
            for alias in _town_aliases(name):
                a.add(normalize(alias), ("town", code, name))
        self.automaton = a.build()
        self._n_lead = {kw: len(u) for kw, u in lead_units.items()}
        add_words(self._n_lead)

    # -- the public call ------------------------------------------------------------------------
    def suggest(self, text: str, town: str | None = None, top: int = 3) -> dict:
        norm = normalize(text)
        kw_score, evidence, named_towns = self._keywords(norm)
        model_prob, x = ({}, None) if self.model is None else self.model.unit_scores(norm)
        combined: dict[str, float] = {}
        for cls in set(kw_score) | set(model_prob):
            k = kw_score.get(cls, 0.0)
            part_k = k / (k + KEYWORD_SCALE)
            if self.model is None:
                combined[cls] = part_k
            else:
                combined[cls] = KEYWORD_SHARE * part_k + (1 - KEYWORD_SHARE) * model_prob.get(cls, 0.0)
        emergency = rules().emergency(norm)
        if emergency is not None:
            unit = EMERGENCY_UNITS[emergency["category"]]
            combined[unit] = combined.get(unit, 0.0) + EMERGENCY_BOOST
            evidence[unit] = [{"phrase": p, "source": "emergency"} for p in emergency["evidence"]] + evidence.get(unit, [])
        town_code = named_towns[0] if named_towns else town
        town_score = combined.pop("town", 0.0)
        if town_code and town_code in self.towns and f"town-{town_code}" in self.units:
            bonus = TOWN_NAMED_BONUS if named_towns else 0.0
            code = f"town-{town_code}"
            combined[code] = town_score + bonus
            evidence[code] = evidence.pop("town", []) + (
                [{"phrase": self.towns[town_code], "source": "town"}] if named_towns else [])
        ranked = sorted(((c, s) for c, s in combined.items() if c in self.units),
                        key=lambda cs: (-cs[1], cs[0]))[:top]
        departments = []
        for code, score in ranked:
            ev = list(evidence.get(code, []))
            if x is not None and unit_class(code) in self.model.classes:
                seen = {e["phrase"] for e in ev}
                ev += [{"phrase": t, "source": "model"} for t in
                       self.model.explain(x, unit_class(code)) if t not in seen]
            co: list[str] = []
            for e in ev:
                if e["source"] == "catalogue" and "role" not in e:
                    co += [c for c in self._co.get((unit_class(code), e["matter"]), ()) if c not in co]
            co = [f"town-{town_code}" if c == "town" else c for c in co]
            departments.append({"code": code, "name": self.units[code], "score": round(score, 3),
                                "evidence": ev, "co_units": [c for c in co if c in self.units and c != code]})
        rtype, type_scores = self._type(norm, x)
        cues = rules().urgent_cues(norm)
        urgent = emergency is not None or bool(cues)
        return {"departments": departments, "type": rtype, "urgent": urgent, "emergency": emergency,
                "type_scores": type_scores, "urgent_evidence": cues,
                "town": town_code if town_code in self.towns else None,
                "model": self.model_id}

    def matter(self, text: str, unit: str | None = None) -> str:
        """The catalogue matter (派单目录事项) ``text`` is about, or "" when no phrase of the catalogue
        occurs in it: the matter whose phrases weigh most (the suggestion's keyword weights; a matter
        of ``unit``, the unit that holds the ticket, counts double). Used to count hot topics."""
        score: dict[str, float] = defaultdict(float)
        for hit in self.automaton.find(normalize(text)):
            base = keyword_weight(hit.keyword, self._n_lead.get(hit.keyword, 1))
            if not hit.exact:
                base *= PINYIN_FACTOR
            for role, owner, matter in self.automaton.payloads[hit.keyword]:
                if role == "lead":
                    score[matter] += base * (2.0 if unit and owner == unit else 1.0)
        return max(score, key=lambda m: (score[m], m)) if score else ""

    # -- parts ----------------------------------------------------------------------------------
    def _keywords(self, norm: str):
        score: dict[str, float] = defaultdict(float)
        evidence: dict[str, list] = defaultdict(list)
        named_towns: list[str] = []
        for hit in self.automaton.find(norm):
            base = keyword_weight(hit.keyword, self._n_lead.get(hit.keyword, 1))
            if not hit.exact:
                base *= PINYIN_FACTOR
            seen = set()
            for role, unit, matter in self.automaton.payloads[hit.keyword]:
                if role == "town":
                    if unit not in named_towns:
                        named_towns.append(unit)
                    continue
                cls = unit_class(unit)
                if (cls, role) in seen:
                    continue
                seen.add((cls, role))
                score[cls] += base if role == "lead" else base * CO_FACTOR
                item = {"phrase": hit.found, "matter": matter, "source": "catalogue"}
                if not hit.exact:
                    item["heard_as"] = hit.keyword
                if role == "co":
                    item["role"] = "co"
                if all(e["phrase"] != hit.found for e in evidence[cls]):
                    evidence[cls].append(item)
        return score, evidence, named_towns

    def _type(self, norm: str, x) -> tuple[str, dict]:
        cues = rules().type_scores(norm)
        model = self.model.type_scores(x) if (self.model is not None and x is not None) else {}
        scores = {}
        for t in TYPES:
            c = cues.get(t, 0.0)
            cue_part = c / (c + 1.0)
            scores[t] = 0.6 * model.get(t, 0.0) + 0.4 * cue_part if model else cue_part
        best = max(TYPES, key=lambda t: (scores[t], t == DEFAULT_TYPE))
        if scores[best] <= 0:
            best = DEFAULT_TYPE
        return best, {t: round(s, 3) for t, s in sorted(scores.items(), key=lambda ts: -ts[1])[:3]}


def _town_aliases(name: str) -> list[str]:
    out = [name]
    for suffix in ("街道办事处", "街道", "镇"):
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            out.append(name[: -len(suffix)])
            break
    return out


class Live:
    """The engine in use by this process; replaced as a whole, never mutated."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.key: tuple | None = None
        self.lock = threading.Lock()

    def swap(self, engine: Engine, key: tuple) -> None:
        self.engine, self.key = engine, key


live = Live()
