"""Each speaker of a bridged call is transcribed separately and labelled (vosk with the test-only
Korean model; Kamailio + SIPp citizen and operator)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.bridge_helpers import Citizen, FixedOperator, SippPhone, bridge_endpoint, proxy  # noqa: F401
from tests.speech_helpers import HANGUL, make_engine
from tests.telephony_helpers import AUDIO_DIR

pytestmark = pytest.mark.sip


def test_citizen_and_operator_are_transcribed_separately(app, proxy, tmp_path, events):
    engine = make_engine(max_live=4, prewarm=0)
    endpoint = bridge_endpoint(app, proxy, speech=engine)
    operator = SippPhone(proxy, "1001", tmp_path, audio=AUDIO_DIR / "ko_2.ulaw", loops=1)
    router = FixedOperator(endpoint, "1001")
    citizen = Citizen(proxy, tmp_path, AUDIO_DIR / "ko_1.ulaw", loops=1, hold_ms=9000)
    try:
        assert router.bridged.wait(15), (router.results, citizen.diagnose())
        code, out = citizen.wait(40)
        assert code == 0, out
        assert endpoint.wait_idle(60)
        record = endpoint.finished[-1]
    finally:
        citizen.stop()
        operator.stop()
        endpoint.stop()
    by_speaker: dict[str, list] = {}
    for seg in record["segments"]:
        by_speaker.setdefault(seg["speaker"], []).append(seg)
    assert set(by_speaker) == {"caller", "operator"}, record["segments"]
    assert all(HANGUL.search(s["text"]) for s in record["segments"])
    offset = record["legs"][0]["offset"]
    assert all(s["start"] >= offset - 0.1 for s in by_speaker["operator"])  # timed from the answer
    finals = {p["speaker"] for n, p in events if n == "transcript.final" and p["call_id"] == record["call_uuid"]}
    assert finals == {"caller", "operator"}
    from hotline.extensions import db
    from telephony.models import Call

    with app.app_context():
        call = db.session.scalar(select(Call).where(Call.call_uuid == record["call_uuid"]))
        assert {s.speaker for s in call.segments} == {"caller", "operator"}
        db.Session.remove()
