"""The automatic checks of one answered call: pure functions of its facts and the rubric.

Times are seconds after the citizen's call was answered. Speech comes from the per-leg recordings
(``activity.speech_intervals``); words from the per-speaker transcript. Phrases are compared as
toneless pinyin, so a recogniser's homophone (您好 heard as 你好) still matches; non-Chinese text is
compared as written (lower case, no spaces or punctuation)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache


from .rubric import CHECKS, Rubric

_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)


@dataclass
class Facts:
    duration: float  # answer -> end
    operator: str | None
    operator_joined: float | None  # when the operator's leg joined
    operator_left: float | None
    segments: list[dict] = field(default_factory=list)  # {speaker, start, end, text}
    caller_speech: list[tuple[float, float]] | None = None  # None: no recording to read
    operator_speech: list[tuple[float, float]] | None = None
    hold_intervals: list[tuple[float, float]] = field(default_factory=list)
    hold_seconds: float = 0.0
    wrapup_seconds: float | None = None
    ticket_number: str | None = None
    ticket_by_operator: bool = False
    transcription: str = "none"


#: digits as a recogniser writes them out (12345 is said 幺二三四五 on the phone)
_DIGITS = str.maketrans({**{str(d): c for d, c in enumerate("零一二三四五六七八九")}, "幺": "一"})


@lru_cache(maxsize=4096)
def normalized(text: str) -> str:
    from pypinyin import lazy_pinyin  # its dictionaries cost ~0.7 s at import: only where 质检 runs

    return "".join(lazy_pinyin(_NOISE.sub("", text.lower()).translate(_DIGITS)))


def _finding(check: str, passed: bool | None, rubric: Rubric, evidence: list[dict], note: str = "") -> dict:
    return {"check": check, "label": CHECKS[check], "passed": passed,
            "deduction": 0.0 if passed in (True, None) else rubric.deductions.get(check, 0.0),
            "evidence": evidence, "note": note}


def _operator_segments(facts: Facts) -> list[dict]:
    return [s for s in facts.segments if s.get("speaker") == "operator"]


def greeting(facts: Facts, rubric: Rubric) -> dict:
    if facts.transcription in ("off", "failed", "pending", "none") and not _operator_segments(facts):
        return _finding("greeting", None, rubric, [], "无转写，无法判断")
    start = facts.operator_joined or 0.0
    window = [s for s in _operator_segments(facts) if s["start"] <= start + rubric.greeting_within_seconds]
    phrases = [normalized(p) for p in rubric.greeting_phrases]
    for seg in window:
        if any(p and p in normalized(seg["text"]) for p in phrases):
            return _finding("greeting", True, rubric, [_evidence(seg)])
    first = _operator_segments(facts)[:1]
    return _finding("greeting", False, rubric, [_evidence(s) for s in first] or
                    [{"start": start, "end": start + rubric.greeting_within_seconds, "speaker": "operator",
                      "text": ""}], f"接听后{rubric.greeting_within_seconds:g}秒内未说标准问候语")


def forbidden_words(facts: Facts, rubric: Rubric) -> dict:
    words = [(w, normalized(w)) for w in rubric.forbidden_words]
    hits = []
    for seg in _operator_segments(facts):
        text = normalized(seg["text"])
        found = [w for w, n in words if n and n in text]
        if found:
            hits.append(dict(_evidence(seg), words=found))
    if not facts.segments and facts.transcription != "live":
        return _finding("forbidden_words", None, rubric, [], "无转写，无法判断")
    return _finding("forbidden_words", not hits, rubric, hits)


def _talk_window(facts: Facts) -> tuple[float, float]:
    start = facts.operator_joined or 0.0
    end = facts.operator_left if facts.operator_left is not None else facts.duration
    return start, min(end, facts.duration)


def _minus(span: tuple[float, float], cuts: list[tuple[float, float]]) -> list[tuple[float, float]]:
    pieces = [span]
    for a, b in cuts:
        out = []
        for s, e in pieces:
            if b <= s or a >= e:
                out.append((s, e))
                continue
            if a > s:
                out.append((s, a))
            if b < e:
                out.append((b, e))
        pieces = out
    return pieces


def long_silence(facts: Facts, rubric: Rubric) -> dict:
    """Stretches of the conversation (operator on the line, not on hold) where nobody speaks."""
    if facts.caller_speech is None or facts.operator_speech is None:
        return _finding("long_silence", None, rubric, [], "缺少分轨录音，无法判断")
    start, end = _talk_window(facts)
    speech = sorted(facts.caller_speech + facts.operator_speech)
    quiet = _minus((start, end), speech + list(facts.hold_intervals))
    long = [{"start": round(a, 2), "end": round(b, 2), "speaker": "both", "text": f"静默{b - a:.0f}秒"}
            for a, b in quiet if b - a >= rubric.silence_seconds]
    return _finding("long_silence", not long, rubric, long)


def talk_over(facts: Facts, rubric: Rubric) -> dict:
    """The operator starts speaking while the citizen is speaking, and both go on together."""
    if facts.caller_speech is None or facts.operator_speech is None:
        return _finding("talk_over", None, rubric, [], "缺少分轨录音，无法判断")
    hits = []
    for o_start, o_end in facts.operator_speech:
        for c_start, c_end in facts.caller_speech:
            if c_start < o_start < c_end:  # the citizen was already talking
                overlap = min(o_end, c_end) - o_start
                if overlap >= rubric.overlap_seconds:
                    hits.append({"start": round(o_start, 2), "end": round(o_start + overlap, 2),
                                 "speaker": "operator", "text": f"与市民同时说话{overlap:.1f}秒"})
    return _finding("talk_over", not hits, rubric, hits)


def hold_too_long(facts: Facts, rubric: Rubric) -> dict:
    long = [{"start": a, "end": b, "speaker": "caller", "text": f"保持{b - a:.0f}秒"}
            for a, b in facts.hold_intervals if b - a > rubric.hold_seconds]
    if not facts.hold_intervals and facts.hold_seconds > rubric.hold_seconds:
        long = [{"start": None, "end": None, "speaker": "caller", "text": f"保持共{facts.hold_seconds:.0f}秒"}]
    return _finding("hold_too_long", not long, rubric, long)


def wrapup_too_long(facts: Facts, rubric: Rubric) -> dict:
    if facts.wrapup_seconds is None:
        return _finding("wrapup_too_long", None, rubric, [], "话后处理未结束或无记录")
    passed = facts.wrapup_seconds <= rubric.wrapup_seconds
    return _finding("wrapup_too_long", passed, rubric,
                    [] if passed else [{"start": facts.duration, "end": None, "speaker": "operator",
                                        "text": f"话后处理{facts.wrapup_seconds:.0f}秒"}])


def ticket_registered(facts: Facts, rubric: Rubric) -> dict:
    if facts.ticket_by_operator:
        return _finding("ticket_registered", True, rubric, [{"ticket": facts.ticket_number}])
    note = f"仅有系统草稿工单 {facts.ticket_number}" if facts.ticket_number else "未登记工单"
    return _finding("ticket_registered", False, rubric, [{"ticket": facts.ticket_number}], note)


CHECK_FUNCTIONS = (greeting, forbidden_words, long_silence, talk_over, hold_too_long, wrapup_too_long,
                   ticket_registered)


def inspect(facts: Facts, rubric: Rubric) -> tuple[float, list[dict]]:
    """(score out of 100, findings in CHECKS order)."""
    findings = [check(facts, rubric) for check in CHECK_FUNCTIONS]
    score = max(0.0, 100.0 - sum(f["deduction"] for f in findings))
    return round(score, 1), findings


def _evidence(seg: dict) -> dict:
    return {"start": round(float(seg["start"]), 2), "end": round(float(seg["end"]), 2),
            "speaker": seg.get("speaker"), "text": seg.get("text", "")}
