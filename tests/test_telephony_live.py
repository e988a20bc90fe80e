"""Calls transcribed with vosk (the Korean test-only model): live, after the call, and without a model."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.speech_helpers import HANGUL, make_engine
from tests.telephony_helpers import AUDIO_DIR, place_call, require_sipp, scenario, start_endpoint, wait_for

pytestmark = pytest.mark.sip


@pytest.fixture(scope="session")
def engine():
    """One model load for the whole test session (~1 s, ~530 MB)."""
    return make_engine(max_live=4, prewarm=1)


def _call(app, endpoint, tmp_path, audio="ko_1.ulaw", hold=5500):
    sc = scenario("uac_call.xml", tmp_path, AUDIO=AUDIO_DIR / audio, HOLD_MS=hold)
    return place_call(endpoint, sc, timeout=60, idle=60)


def _stored(app, call_uuid):
    from hotline.extensions import db
    from telephony.models import Call
    from ticketing.models import Ticket

    with app.app_context():
        call = db.session.scalar(select(Call).where(Call.call_uuid == call_uuid))
        segments = [(s.start, s.end, s.text) for s in call.segments]
        ticket = db.session.scalar(select(Ticket).where(Ticket.number == call.ticket_number)) \
            if call.ticket_number else None
        result = call, segments, ticket
        db.Session.remove()
        return result


def test_live_transcript_is_hangul_and_becomes_the_draft(app, engine, events, tmp_path):
    require_sipp()
    endpoint = start_endpoint(app, speech=engine)
    try:
        record = _call(app, endpoint, tmp_path)
    finally:
        endpoint.stop()
    call, segments, ticket = _stored(app, record["call_uuid"])
    assert call.transcription == "live", call.transcription_note
    assert segments and all(HANGUL.search(text) for _, _, text in segments)
    assert all(0 <= start <= end <= call.duration + 0.5 for start, end, _ in segments)
    assert ticket is not None and segments[0][2] in ticket.content
    finals = [p for n, p in events if n == "transcript.final" and p["call_id"] == call.call_uuid]
    assert finals and all(HANGUL.search(p["text"]) for p in finals)
    names = [n for n, p in events if p.get("call_id") == call.call_uuid]
    assert names.index("call.answered") < names.index("transcript.final")


def test_calls_over_the_live_limit_are_transcribed_after_the_call(app, engine, tmp_path):
    from telephony.speech.engine import SpeechEngine

    require_sipp()
    no_live_slots = SpeechEngine(engine.model, max_live=0, model_dir=engine.model_dir)
    endpoint = start_endpoint(app, speech=no_live_slots)
    try:
        record = _call(app, endpoint, tmp_path)
    finally:
        endpoint.stop()
    assert record["transcription"] == "pending" and record["ticket_number"] is None
    # the post-call job (in-process here, Celery in production) transcribes and makes the draft
    assert wait_for(lambda: _stored(app, record["call_uuid"])[0].transcription == "offline", 60)
    call, segments, ticket = _stored(app, record["call_uuid"])
    assert segments and HANGUL.search(segments[0][2])
    assert ticket is not None and ticket.channel == "phone" and segments[0][2] in ticket.content


def test_without_a_model_calls_are_recorded_and_the_draft_says_why(app, tmp_path):
    from hotline.config import Config
    from telephony.speech.engine import SpeechEngine

    require_sipp()
    speech = SpeechEngine.from_config(Config(vosk_model_dir=str(tmp_path / "no-model")))
    assert not speech.enabled and speech.reason
    endpoint = start_endpoint(app, speech=speech)
    try:
        record = _call(app, endpoint, tmp_path, hold=1000)
    finally:
        endpoint.stop()
    call, segments, ticket = _stored(app, record["call_uuid"])
    assert call.recording_path and call.recording_seconds > 0.9
    assert call.transcription == "off" and call.transcription_note == speech.reason
    assert "语音转写未开启" in ticket.content and speech.reason in ticket.content


def test_a_live_stream_that_fell_behind_is_redone_from_the_recording(app, engine, tmp_path):
    """When the speech engine sheds a stream under load (Transcriber.complete False), the call is
    transcribed again from its recording after hang-up instead of keeping a truncated transcript."""
    require_sipp()

    class Shedding:
        def __getattr__(self, name):
            return getattr(engine, name)

        def open_stream(self, on_partial, on_final):
            stream = engine.open_stream(on_partial, on_final)
            stream.complete, stream.error = False, "fell 16 s behind (simulated load)"
            return stream

    endpoint = start_endpoint(app, speech=Shedding())
    try:
        record = _call(app, endpoint, tmp_path)
    finally:
        endpoint.stop()
    assert record["transcription"] == "pending" and "fell 16 s behind" in record["transcription_note"]
    assert wait_for(lambda: _stored(app, record["call_uuid"])[0].transcription == "offline", 60)
    call, segments, ticket = _stored(app, record["call_uuid"])
    assert segments and HANGUL.search(segments[0][2]) and ticket is not None
