"""Text normalisation shared by the catalogue matcher, the rules and the learned model.

Citizens' text is colloquial and often comes out of speech recognition, whose typical error is a
homophone (煤气 -> 没气, 着火 -> 着伙). Besides the characters we therefore also look at a *fuzzy
pinyin* of each character: toneless, with the initials and finals that southern speakers and
recognisers confuse folded together (zh/z, ch/c, sh/s, n/l, -ing/-in, -eng/-en, -ang/-an).
"""
from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache

_SPACE = re.compile(r"\s+")
_HAN = re.compile(r"[\u4e00-\u9fff]")
_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("n", "l"))
_FINALS = (("iang", "ian"), ("uang", "uan"), ("ang", "an"), ("eng", "en"), ("ing", "in"))


def normalize(text: str) -> str:
    """NFKC (full-width -> half-width), lower case, whitespace removed (ASR inserts spaces)."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    return _SPACE.sub("", text)


@lru_cache(maxsize=None)
def fuzzy_syllable(char: str) -> str:
    """The folded pinyin of one character, or the character itself when it is not Han."""
    if not _HAN.match(char):
        return char
    from pypinyin import Style, pinyin

    syl = pinyin(char, style=Style.NORMAL, heteronym=False)[0][0].replace("v", "u")
    for full, short in _INITIALS:
        if syl.startswith(full):
            syl = short + syl[len(full):]
            break
    for full, short in _FINALS:
        if syl.endswith(full):
            syl = syl[: -len(full)] + short
            break
    return syl


@lru_cache(maxsize=256)
def pinyin_key(text: str) -> tuple[str, tuple[int, ...]]:
    """``"|mei|qi|..|"`` plus, for each character, the offset where its syllable starts.

    Delimiters on both sides keep a match from starting or ending inside a syllable.
    """
    parts, starts, pos = ["|"], [], 1
    for ch in text:
        syl = fuzzy_syllable(ch)
        starts.append(pos)
        parts.append(syl + "|")
        pos += len(syl) + 1
    return "".join(parts), tuple(starts)


_tokenizer = None
_tok_lock = threading.Lock()


def tokenizer():
    """A private jieba tokenizer (the catalogue's phrases are added to it, not to jieba's global)."""
    global _tokenizer
    if _tokenizer is None:
        with _tok_lock:
            if _tokenizer is None:
                import logging

                import jieba

                jieba.setLogLevel(logging.WARNING)
                tok = jieba.Tokenizer()
                tok.initialize()
                _tokenizer = tok
    return _tokenizer


def add_words(words) -> None:
    tok = tokenizer()
    for w in words:
        if len(w) >= 2:
            tok.add_word(w, freq=2000)


def words(text: str) -> list[str]:
    return [w for w in tokenizer().lcut(text, HMM=True) if w.strip() and not _is_punct(w)]


def _is_punct(w: str) -> bool:
    return all(unicodedata.category(c)[0] in "PZS" for c in w)


def features(text: str) -> list[str]:
    """Tokens for the learned model: jieba words, character bigrams, and fuzzy pinyin of words.

    The pinyin tokens let a model trained on correct text still recognise homophone errors.
    """
    norm = normalize(text)
    ws = words(norm)
    out = [f"w:{w}" for w in ws]
    out += [f"p:{''.join(fuzzy_syllable(c) for c in w)}" for w in ws if len(w) >= 2]
    han = "".join(c for c in norm if not _is_punct(c))
    out += [f"b:{han[i:i + 2]}" for i in range(len(han) - 1)]
    return out
