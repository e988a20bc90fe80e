"""Live transcription on the real vosk code path with the test-only Korean model.

Only what the probe found to hold is asserted (shared/probes/asr-vosk.md): silence gives nothing,
Korean espeak speech gives non-empty Hangul made of vocabulary words; never exact text.
"""
from __future__ import annotations

import pytest

from tests.speech_helpers import (assert_hangul_in_vocabulary, feed_in_chunks, make_engine, pcm, shared_engine,
                                  wait_until)


@pytest.fixture
def engine():
    engine = shared_engine()
    yield engine
    assert engine.live == 0, "a test left a live stream open"


def test_digital_silence_gives_no_text(engine):
    partials, finals = [], []
    stream = engine.open_stream(partials.append, finals.append)
    feed_in_chunks(stream, pcm("silence_3s.wav"))
    assert stream.finish() == []
    assert finals == [] and partials == []


def test_korean_speech_at_8khz_gives_vocabulary_words_with_partials_during_feeding(engine):
    partials, finals = [], []
    stream = engine.open_stream(partials.append, finals.append)
    speech = pcm("ko_1.wav")
    half = len(speech) // 2 // 320 * 320
    feed_in_chunks(stream, speech[:half])
    assert wait_until(lambda: stream.lag == 0)
    assert partials, "partials arrive while the caller is still talking"
    for partial in partials:
        assert set(partial) == {"text", "start", "end"}
        assert 0 <= partial["start"] <= partial["end"] <= half / 16000
    assert len({p["text"] for p in partials}) == len(partials), "a partial is sent only when it changes"
    feed_in_chunks(stream, speech[half:], chunk=333)  # odd sizes: bytes are re-aligned to samples
    segments = stream.finish()
    assert segments and segments == finals
    assert_hangul_in_vocabulary(engine, " ".join(s["text"] for s in segments))
    assert all(0 <= s["start"] <= s["end"] <= len(speech) / 16000 for s in segments)


def test_finals_carry_increasing_times_from_stream_start_even_on_a_reused_recognizer(engine):
    call = pcm("ko_call.wav")  # 1 s pause, three sentences with 1.5 s pauses, 1 s pause (18.4 s)
    runs = []
    for _ in range(2):  # the second stream reuses the pooled recognizer (vosk's own times do not reset)
        stream = engine.open_stream(None, None)
        feed_in_chunks(stream, call)
        runs.append(stream.finish())
    assert engine.pooled >= 1
    for segments in runs:
        assert len(segments) >= 2
        starts = [s["start"] for s in segments]
        assert starts == sorted(starts)
        assert all(a["end"] <= b["start"] for a, b in zip(segments, segments[1:]))
        assert 0.5 <= segments[0]["start"] <= 2.0  # speech begins after the 1 s pause
        assert segments[-1]["end"] <= len(call) / 16000
        for segment in segments:
            assert_hangul_in_vocabulary(engine, segment["text"])


def test_the_live_limit_is_enforced_until_a_stream_finishes(engine):
    first = engine.open_stream()
    second = engine.open_stream()
    assert first is not None and second is not None
    assert engine.live == 2
    assert engine.open_stream() is None
    first.finish()
    assert first.finish() == []  # idempotent, releases the slot once
    third = engine.open_stream()
    assert third is not None
    assert engine.open_stream() is None
    second.finish()
    third.finish()
    assert engine.live == 0


def test_prewarmed_recognizers_are_pooled_and_used(engine):
    small = make_engine(max_live=1)
    try:
        small.prewarm(1, audio=pcm("ko_2.wav")).join(timeout=120)
        assert small.pooled == 1
        finals = []
        stream = small.open_stream(None, finals.append)
        assert small.pooled == 0
        feed_in_chunks(stream, pcm("silence_3s.wav") + pcm("ko_3.wav"))
        segments = stream.finish()
        assert segments == finals and segments
        assert segments[0]["start"] >= 2.5  # times count from this stream, not from the warm-up
        assert small.pooled == 1
    finally:
        small.close()


def test_a_short_pause_after_speech_ends_the_utterance_before_the_call_ends(engine):
    """vosk's own endpointer waits for 0.5-2 s of silence; the stream's detector ends the
    utterance after 0.3 s of quiet, so the final arrives while the call is still going."""
    finals = []
    stream = engine.open_stream(None, finals.append)
    speech = pcm("ko_3.wav")
    feed_in_chunks(stream, speech + bytes(2 * 8000 * 4 // 10))  # 0.4 s of quiet
    assert wait_until(lambda: stream.lag == 0)
    assert finals, "final text before the caller hangs up"
    assert finals[-1]["end"] >= len(speech) / 16000 - 1.0
    stream.finish()


def test_a_stream_that_falls_too_far_behind_gives_up_and_says_so(engine):
    engine.max_lag, saved = 2.0, engine.max_lag
    try:
        stream = engine.open_stream()
        feed_in_chunks(stream, pcm("ko_call.wav"))  # 18 s at once: far more than 2 s behind
        stream.finish()
        assert stream.complete is False
        assert "behind" in stream.error and "after the call" in stream.error
        assert engine.live == 0
    finally:
        engine.max_lag = saved


def test_quiet_between_utterances_is_not_decoded_and_times_stay_stream_times(engine):
    """After an utterance ends the decoder skips the quiet until speech resumes (keeping 0.3 s
    before it), so long pauses cost no decoding; the second utterance still carries its place in
    the call, not in the audio the recognizer saw."""
    speech = pcm("ko_3.wav")
    pause = bytes(2 * 8000 * 5)  # 5 s of digital silence
    finals = []
    stream = engine.open_stream(None, finals.append)
    feed_in_chunks(stream, pause + speech + pause + speech + bytes(2 * 8000))
    segments = stream.finish()
    total = 2 * len(pause) + 2 * len(speech) + 2 * 8000
    assert stream.fed_bytes <= 2 * len(speech) + 2 * 8000 * 2, "the pauses were decoded"
    assert stream.fed_bytes < total / 2
    assert len(segments) >= 2
    second_at = (2 * len(pause) + len(speech)) / 16000
    first, last = segments[0], segments[-1]
    assert 5.0 - 0.4 <= first["start"] <= 5.0 + len(speech) / 16000
    assert second_at - 0.4 <= last["start"] <= second_at + len(speech) / 16000
    assert last["end"] <= total / 16000
