"""After-call transcription of recordings, and the greeting asset the endpoint plays."""
from __future__ import annotations

import os
import wave

import pytest

from telephony.assets import GREETING_ZH
from telephony.speech.engine import read_wav_pcm, transcribe_wav
from tests.speech_helpers import assert_hangul_in_vocabulary, audio_path, make_engine, pcm, shared_engine


@pytest.fixture
def engine():
    engine = shared_engine()
    yield engine
    assert engine.live == 0, "a test left a live stream open"


def test_transcribe_wav_gives_timed_segments(engine):
    segments = transcribe_wav(engine, audio_path("ko_call.wav"))
    assert len(segments) >= 2
    assert [s["start"] for s in segments] == sorted(s["start"] for s in segments)
    assert all(0 <= s["start"] <= s["end"] <= 18.5 for s in segments)
    for segment in segments:
        assert_hangul_in_vocabulary(engine, segment["text"])
    assert transcribe_wav(engine, audio_path("silence_3s.wav")) == []


def test_transcribe_wav_does_not_use_a_live_slot(engine):
    live = [engine.open_stream() for _ in range(engine.max_live)]
    assert None not in live and engine.open_stream() is None
    assert transcribe_wav(engine, audio_path("ko_1.wav"))
    for stream in live:
        stream.finish()


def test_eight_bit_unsigned_recordings_are_read(engine, tmp_path):
    """pyVoIP hands out 8-bit unsigned audio; a recording kept in that format is transcribed too."""
    samples = pcm("ko_2.wav")
    import array

    unsigned = bytes((s >> 8) + 128 for s in array.array("h", samples))
    path = tmp_path / "u8.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(1)
        out.setframerate(8000)
        out.writeframes(unsigned)
    data, rate = read_wav_pcm(path)
    assert rate == 8000 and len(data) == 2 * len(unsigned)
    segments = transcribe_wav(engine, path)
    assert segments
    assert_hangul_in_vocabulary(engine, " ".join(s["text"] for s in segments))


def test_unreadable_wav_is_a_value_error(engine, tmp_path):
    path = tmp_path / "bad.wav"
    path.write_bytes(b"RIFF0000WAVEjunk")
    with pytest.raises((ValueError, EOFError, wave.Error)):
        transcribe_wav(engine, path)


def test_greeting_is_small_8khz_mono_16bit_speech():
    assert os.path.getsize(GREETING_ZH) < 300_000
    with wave.open(GREETING_ZH) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
        assert 3 < wav.getnframes() / 8000 < 20


def test_greeting_regenerates_from_pinyin_with_espeak_and_sox(tmp_path):
    from telephony.assets.make_greeting import make, to_pinyin

    assert to_pinyin("您好，12345热线。") == "nin2 hao3, yao1 er4 san1 si4 wu3 re4 xian4."
    out = make("您好，这里是12345热线。", str(tmp_path / "g.wav"))
    with wave.open(out) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
        assert wav.getnframes() > 8000
