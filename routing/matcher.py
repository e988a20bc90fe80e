"""Keyword automaton over the dispatch catalogue (pyahocorasick), on characters and fuzzy pinyin.

Matches are resolved longest-first without overlap, so a specific phrase (拖欠工资) wins over the
general word inside it (工资). A pinyin-only match (a homophone from speech recognition) counts
less than an exact one and never for single characters.
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import ahocorasick

from .text import pinyin_key

PINYIN_MIN_CHARS = 2
PINYIN_FACTOR = 0.7
CO_FACTOR = 0.45


@dataclass(frozen=True)
class Hit:
    start: int
    end: int  # exclusive, in characters of the normalised text
    keyword: str
    found: str  # the text actually matched (differs from keyword for homophones)
    exact: bool


@dataclass
class Automaton:
    """Phrases -> payloads; ``find`` returns non-overlapping hits, longest first."""

    min_pinyin: int = PINYIN_MIN_CHARS
    payloads: dict = field(default_factory=lambda: defaultdict(list))
    _chars: object = None
    _pinyin: object = None

    def add(self, phrase: str, payload) -> None:
        if phrase:
            self.payloads[phrase].append(payload)

    def build(self) -> "Automaton":
        self._chars = ahocorasick.Automaton()
        self._pinyin = ahocorasick.Automaton()
        by_key: dict[str, tuple] = defaultdict(tuple)
        for phrase in self.payloads:
            self._chars.add_word(phrase, phrase)
            if len(phrase) >= self.min_pinyin:
                key = pinyin_key(phrase)[0]
                by_key[key] += ((phrase, len(key) - 1),)
        for key, phrases in by_key.items():
            self._pinyin.add_word(key, phrases)
        for a in (self._chars, self._pinyin):
            if len(a):
                a.make_automaton()
        return self

    def find(self, text: str) -> list[Hit]:
        hits: list[Hit] = []
        if self._chars is not None and len(self._chars):
            for end, phrase in self._chars.iter(text):
                hits.append(Hit(end - len(phrase) + 1, end + 1, phrase, phrase, True))
        if self._pinyin is not None and len(self._pinyin):
            key, starts = pinyin_key(text)
            index = {pos: i for i, pos in enumerate(starts)}
            for end, phrases in self._pinyin.iter(key):
                for phrase, plen in phrases:
                    first = index.get(end - plen + 1)
                    if first is None:
                        continue
                    found = text[first:first + len(phrase)]
                    if found != phrase:
                        hits.append(Hit(first, first + len(phrase), phrase, found, False))
        hits.sort(key=lambda h: (-(h.end - h.start), not h.exact, h.start))
        taken = [False] * (len(text) + 1)
        chosen = []
        for h in hits:
            if any(taken[h.start:h.end]):
                continue
            for i in range(h.start, h.end):
                taken[i] = True
            chosen.append(h)
        chosen.sort(key=lambda h: h.start)
        return chosen


def keyword_weight(phrase: str, n_lead_units: int) -> float:
    """Longer phrases are more specific; a phrase listed by several units says less about each."""
    length = len(phrase)
    base = 0.7 if length <= 2 else 1.0 if length == 3 else 1.3
    return base / math.sqrt(max(1, n_lead_units))
