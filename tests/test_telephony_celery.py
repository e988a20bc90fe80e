"""Calls over the live-transcription limit are transcribed after hang-up by a real Celery worker."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import celery_worker
from tests.speech_helpers import HANGUL, test_model_dir
from tests.telephony_helpers import AUDIO_DIR, place_call, require_sipp, scenario, start_endpoint, wait_for

pytestmark = pytest.mark.sip


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_post_call_transcription_runs_in_a_celery_worker(app, database_url, redis_url, tmp_path):
    from hotline.extensions import db
    from telephony.speech.loading import SpeechOff
    from telephony.models import Call
    from ticketing.models import Ticket

    require_sipp()
    model_dir = test_model_dir()
    config = app.config["HOTLINE"]

    class Saturated(SpeechOff):
        """A live engine whose slots are all taken: open_stream gives None, as at the limit."""

        enabled = True

    endpoint = start_endpoint(app, speech=Saturated(None))
    try:
        with celery_worker(app, database_url, redis_url, tmp_path, VOSK_MODEL_DIR=model_dir,
                           HOTLINE_RECORDINGS_DIR=config.recordings_dir):
            sc = scenario("uac_call.xml", tmp_path, AUDIO=AUDIO_DIR / "ko_1.ulaw", HOLD_MS=5500)
            record = place_call(endpoint, sc, timeout=60, idle=20)
            assert record["transcription"] == "pending" and record["ticket_number"] is None

            def transcribed():
                with app.app_context():
                    call = db.session.scalar(select(Call).where(Call.call_uuid == record["call_uuid"]))
                    state = (call.transcription, call.ticket_number, [s.text for s in call.segments])
                    db.Session.remove()
                    return state if state[0] != "pending" and state[1] else None

            state = wait_for(transcribed, 180, 0.5)
            assert state is not None, "the worker did not transcribe the call"
            status, number, texts = state
            assert status == "offline" and texts and HANGUL.search(texts[0])
            with app.app_context():
                ticket = db.session.scalar(select(Ticket).where(Ticket.number == number))
                assert ticket.channel == "phone" and texts[0] in ticket.content
                db.Session.remove()
    finally:
        endpoint.stop()
