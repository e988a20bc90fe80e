"""质检 on real calls: two citizens (SIPp) talk to two operators' phones (SIPp) through Kamailio and
the endpoint, with speech whose timing is known, transcribed live per speaker (vosk, the test-only
Korean model). Each automatic check must fire exactly where the audio puts it.

Call A (operator 1001): the operator greets (ko_1) on answering; 13 s after answering the operator
talks (ko_3) while the citizen is in the middle of 9 s of speech (talking over); then nobody says
anything for 21 s (a long silence); the citizen speaks once more and hangs up.
Call B (operator 1002): the operator opens with another sentence (ko_3, no greeting); the citizen
answers 6 s later; no silence over 10 s, nobody talks over anybody."""
from __future__ import annotations

import audioop
import json
import threading

import pytest
from sqlalchemy import select

from tests.bridge_helpers import Citizen, SippPhone, bridge_endpoint, proxy  # noqa: F401 - fixture
from tests.speech_helpers import make_engine, test_model_dir
from tests.telephony_helpers import AUDIO_DIR

pytestmark = pytest.mark.sip

SILENCE = b"\xff" * 8000  # one second of mu-law silence


def clip(name: str) -> bytes:
    return (AUDIO_DIR / f"{name}.ulaw").read_bytes()


def seconds(audio: bytes) -> float:
    return len(audio) / 8000


def recognised_words(name: str) -> set[str]:
    """What the test model hears in a clip (the same mu-law audio the endpoint receives)."""
    from vosk import KaldiRecognizer

    from telephony.speech.engine import load_model

    recogniser = KaldiRecognizer(load_model(test_model_dir()), 8000)
    recogniser.AcceptWaveform(audioop.ulaw2lin(clip(name), 2))
    return {w for w in json.loads(recogniser.FinalResult())["text"].split() if len(w) >= 2 and not w.startswith("[")}


class ByCaller:
    """Stands in for the ACD: each citizen's call goes to its own operator's phone."""

    def __init__(self, endpoint, routes: dict[str, str]) -> None:
        self.endpoint, self.routes = endpoint, routes
        self.bridged: dict[str, threading.Event] = {ext: threading.Event() for ext in routes.values()}
        endpoint.acd = self

    def enqueue(self, session) -> None:
        threading.Thread(target=self._connect, args=(session,), daemon=True).start()

    def _connect(self, session) -> None:
        extension = self.routes[session.caller]
        result = self.endpoint.dialer.dial(extension, 8.0, display=session.caller)
        if result.leg is not None and session.ended_mono is None:
            session.bridge(result.leg, "operator")
            self.bridged[extension].set()

    def on_ended(self, session, cause: str) -> dict:
        return {}


def test_each_automatic_check_fires_where_the_audio_puts_it(app, proxy, tmp_path):
    from hotline.auth import User
    from hotline.extensions import db
    from quality import service
    from quality.models import CallInspection

    greeting_words = recognised_words("ko_1") - recognised_words("ko_2") - recognised_words("ko_3")
    assert greeting_words, "the model hears nothing particular in the greeting clip"
    with app.app_context():
        # the demo operators' phones: operator1 answers on 1001, operator2 on 1002
        names = {u.sip_extension: u.username for u in db.session.scalars(
            select(User).where(User.sip_extension.in_(["1001", "1002"])))}
        rubric = service.rubric_view(db.session)
        rubric.pop("version"), rubric.pop("checks")
        rubric["greeting_phrases"] = sorted(greeting_words)[:20]  # the greeting of this test's language
        from hotline.identity import Actor

        service.set_rubric(db.session, rubric, Actor("admin", "admin"))
        db.Session.remove()

    citizen_a_speech = clip("ko_2") + clip("ko_3")
    citizen_a = SILENCE * 11 + citizen_a_speech + SILENCE * 21 + clip("ko_1") + SILENCE * 2
    talk_starts, talk_ends = 11.0, 11.0 + seconds(citizen_a_speech)
    operator_a = clip("ko_1") + SILENCE * 13
    operator_a = operator_a[:13 * 8000] + clip("ko_3") + SILENCE * 40
    citizen_b = SILENCE * 6 + clip("ko_2") + SILENCE * 3
    operator_b = clip("ko_3") + SILENCE * 20
    for name, audio in dict(citizen_a=citizen_a, operator_a=operator_a, citizen_b=citizen_b,
                            operator_b=operator_b).items():
        (tmp_path / f"{name}.ulaw").write_bytes(audio)

    engine = make_engine(max_live=4, prewarm=0)
    endpoint = bridge_endpoint(app, proxy, speech=engine)
    phones = [SippPhone(proxy, "1001", tmp_path, audio=tmp_path / "operator_a.ulaw", loops=1, timeout=90),
              SippPhone(proxy, "1002", tmp_path, audio=tmp_path / "operator_b.ulaw", loops=1, timeout=90)]
    router = ByCaller(endpoint, {"13800138001": "1001", "13800138002": "1002"})
    citizens = [Citizen(proxy, tmp_path, tmp_path / "citizen_a.ulaw", loops=1, caller="13800138001",
                        hold_ms=int(seconds(citizen_a) * 1000), timeout=90),
                Citizen(proxy, tmp_path, tmp_path / "citizen_b.ulaw", loops=1, caller="13800138002",
                        hold_ms=int(seconds(citizen_b) * 1000), timeout=90)]
    try:
        for ext, bridged in router.bridged.items():
            assert bridged.wait(20), (ext, [c.diagnose() for c in citizens])
        for citizen in citizens:
            code, out = citizen.wait(90)
            assert code == 0, out
        assert endpoint.wait_idle(60)
    finally:
        for party in citizens + phones:
            party.stop()
        endpoint.stop()

    with app.app_context():
        recordings_dir = app.config["HOTLINE"].recordings_dir
        assert service.inspect_pending(db.session, recordings_dir) == 2
        assert service.inspect_pending(db.session, recordings_dir) == 0  # each call once
        rows = {r.operator: r for r in db.session.scalars(select(CallInspection))}
        from telephony.models import CallRecording
        a = {f["check"]: f for f in rows[names["1001"]].findings}
        b = {f["check"]: f for f in rows[names["1002"]].findings}
        a_score, b_score = rows[names["1001"]].auto_score, rows[names["1002"]].auto_score
        db.Session.remove()
    report = json.dumps({"a": a, "b": b}, ensure_ascii=False, indent=1)

    assert a["greeting"]["passed"] is True, report
    assert b["greeting"]["passed"] is False, report
    # talking over: exactly once in call A, where the operator's second sentence starts (13 s after
    # the operator answered, i.e. after the operator leg joined), inside the citizen's speech
    assert a["talk_over"]["passed"] is False and len(a["talk_over"]["evidence"]) == 1, report
    over = a["talk_over"]["evidence"][0]
    assert talk_starts < over["start"] < talk_ends and over["end"] - over["start"] >= 3.0, report
    assert b["talk_over"]["passed"] is True, report
    # the long silence: exactly one, from the end of the citizen's speech, about 21 s long
    assert a["long_silence"]["passed"] is False and len(a["long_silence"]["evidence"]) == 1, report
    quiet = a["long_silence"]["evidence"][0]
    assert abs(quiet["start"] - talk_ends) < 1.5 and 19.0 < quiet["end"] - quiet["start"] < 23.0, report
    assert b["long_silence"]["passed"] is True, report
    # no operator registered a ticket for either call: the endpoint's draft does not count
    assert a["ticket_registered"]["passed"] is False and b["ticket_registered"]["passed"] is False, report
    assert a["forbidden_words"]["passed"] is True, report
    # the default deductions: A talk-over 10 + silence 10 + ticket 15; B greeting 10 + ticket 15
    assert (rows_scores := (a_score, b_score)) == (65.0, 75.0), (rows_scores, report)

