"""质检 without the network: calls stored with per-leg recordings (WAV files written here with
speech-like bursts at known times) and per-speaker transcripts; the checks, sampling, scoring, the
one appeal and who may see what, through the REST API."""
from __future__ import annotations

import math
import struct
import wave
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from tests.conftest import both_databases

DAY = datetime(2026, 11, 20, 2, 0)


def write_wav(path, seconds: float, speech: list[tuple[float, float]]) -> None:
    """8 kHz mono 16-bit: a 300 Hz tone (amplitude 6000) inside each (start, end), faint noise elsewhere."""
    frames = bytearray()
    for i in range(int(seconds * 8000)):
        t = i / 8000
        loud = any(a <= t < b for a, b in speech)
        value = int(6000 * math.sin(2 * math.pi * 300 * t)) if loud else (i * 7919 % 41) - 20
        frames += struct.pack("<h", value)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000)
        w.writeframes(bytes(frames))


def store_call(app, n: int, operator: str, *, caller_speech, operator_speech, segments, duration=30.0,
               hold=(), wrapup=20.0, operator_ticket=False, minutes=0):
    """A call answered by ``operator`` whose legs say what the arguments say."""
    from hotline.auth import User
    from hotline.extensions import db
    from routing.calls.models import QueuedCall
    from telephony.models import Call, CallRecording, CallSegment
    from ticketing import service as tickets
    from ticketing.models import Ticket

    rec_dir = app.config["HOTLINE"].recordings_dir
    uuid = f"{n:032x}"
    start = DAY + timedelta(minutes=minutes)
    write_wav(__import__("pathlib").Path(rec_dir) / f"{uuid}-caller.wav", duration, caller_speech)
    write_wav(__import__("pathlib").Path(rec_dir) / f"{uuid}-op.wav", duration - 1.0,
              [(a - 1.0, b - 1.0) for a, b in operator_speech])
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == operator))
        call = Call(call_uuid=uuid, sip_call_id=uuid, caller="13800138000", caller_phone="13800138000",
                    called="12345", ringing_at=start, answered_at=start, ended_at=start + timedelta(seconds=duration),
                    duration=duration, hangup_cause="remote_hangup", transcription="live",
                    stats={"hold_intervals": [list(h) for h in hold]})
        call.recordings = [CallRecording(leg="caller", speaker="caller", path=f"{uuid}-caller.wav", seconds=duration),
                           CallRecording(leg="operator", speaker="operator", extension=user.sip_extension,
                                         path=f"{uuid}-op.wav", seconds=duration - 1.0, offset=1.0)]
        call.segments = [CallSegment(seq=i, speaker=s, start=a, end=b, text=t) for i, (s, a, b, t) in enumerate(segments)]
        if operator_ticket:
            ticket = tickets.create_ticket(db.session, {"type": "咨询", "channel": "phone", "content": "咨询",
                                                        "caller": {"phone": "13800138000"}},
                                           tickets.Actor(operator, "operator"), commit=False, call_uuid=uuid)
            call.ticket_id = ticket.id
        db.session.add(call)
        db.session.add(QueuedCall(call_uuid=uuid, caller="13800138000", queued_at=start, state="ended",
                                  connected_at=start, ended_at=call.ended_at, outcome="answered",
                                  operator_id=user.id, hold_seconds=sum(b - a for a, b in hold),
                                  wrapup_seconds=wrapup))
        db.session.commit()
        db.Session.remove()
    return uuid


GOOD = dict(caller_speech=[(2.0, 6.0), (9.0, 13.0)], operator_speech=[(1.2, 2.0), (6.5, 8.5), (13.5, 16.0)],
            segments=[("operator", 1.2, 2.0, "您好 一 二 三 四 五 热 线"), ("caller", 2.0, 6.0, "路灯坏了"),
                      ("operator", 6.5, 8.5, "好的 我 帮 您 登 记")], duration=18.0, operator_ticket=True)
BAD = dict(caller_speech=[(2.0, 8.0)], operator_speech=[(1.5, 2.2), (4.0, 7.0), (20.0, 22.0)],
           segments=[("operator", 1.5, 2.2, "喂"), ("operator", 4.0, 7.0, "这 个 我 不 知 到 你 找 别 人 去")],
           duration=24.0, hold=((8.5, 19.0),), wrapup=200.0)


@both_databases
def test_the_checks_find_what_the_recordings_and_transcripts_hold(app):
    from hotline.extensions import db
    from quality import service
    from quality.models import CallInspection

    good = store_call(app, 1, "operator1", **GOOD)
    bad = store_call(app, 2, "operator2", **BAD, minutes=5)
    with app.app_context():
        assert service.inspect_pending(db.session, app.config["HOTLINE"].recordings_dir) == 2
        rows = {r.call_uuid: r for r in db.session.scalars(select(CallInspection))}
        g = {f["check"]: f for f in rows[good].findings}
        b = {f["check"]: f for f in rows[bad].findings}
        assert rows[good].operator == "operator1" and rows[bad].operator == "operator2"
        db.Session.remove()
    assert all(f["passed"] is True for f in g.values()), g
    assert rows[good].auto_score == 100.0
    assert b["greeting"]["passed"] is False
    # "不知到" is heard for 不知道 (same sound): the pinyin comparison still finds the forbidden words
    assert b["forbidden_words"]["passed"] is False and b["forbidden_words"]["evidence"][0]["words"] == ["不知道", "找别人去"]
    assert b["forbidden_words"]["evidence"][0]["start"] == 4.0
    # the operator starts at 4.0 while the citizen talks (2-8): 3 s over the citizen
    assert [(e["start"], e["end"]) for e in b["talk_over"]["evidence"]] == [(4.0, 7.0)]
    # 8.0-20.0 nobody speaks, but 8.5-19.0 is hold: no silence of 10 s in the conversation
    assert b["long_silence"]["passed"] is True
    assert b["hold_too_long"]["passed"] is True  # 10.5 s of hold, limit 60
    assert b["wrapup_too_long"]["passed"] is False and b["ticket_registered"]["passed"] is False
    assert rows[bad].auto_score == 100 - 10 - 20 - 10 - 5 - 15


def test_sampling_scoring_one_appeal_and_who_sees_what(app, api):
    for i in range(6):  # operator1: six good calls; operator2: one bad call
        store_call(app, 10 + i, "operator1", **GOOD, minutes=i)
    bad = store_call(app, 30, "operator2", **BAD, minutes=30)
    sup, op1, op2, admin = api("supervisor"), api("operator1"), api("operator2"), api("admin")

    assert api("housing").get("/api/v1/quality/inspections").status_code == 403
    assert op1.post("/api/v1/quality/run", json={"day": "2026-11-20"}).status_code == 403
    assert sup.post("/api/v1/quality/run", json={"day": "20.11.2026"}).status_code == 422
    r = sup.post("/api/v1/quality/run", json={"day": "2026-11-20"})
    assert r.status_code == 200, r.get_json()
    # the rule: every call under 90 (operator2's), 5 % of the rest by a fixed draw, at least one each
    assert r.get_json()["inspected_now"] == 7 and r.get_json()["inspected"] == 7
    queued = sup.get("/api/v1/quality/inspections?state=queued").get_json()
    by_operator = {}
    for item in queued["items"]:
        by_operator.setdefault(item["operator"], []).append(item)
    assert len(by_operator["operator2"]) == 1 and len(by_operator["operator1"]) >= 1
    assert sup.post("/api/v1/quality/run", json={"day": "2026-11-20"}).get_json()["queued"] == 0  # once

    # an operator sees only their own results
    mine = op2.get("/api/v1/quality/inspections").get_json()
    assert [i["call_id"] for i in mine["items"]] == [bad]
    target = mine["items"][0]["id"]
    assert op1.get(f"/api/v1/quality/inspections/{target}").status_code == 404
    assert op2.get("/api/v1/quality/trends").get_json()["items"][0]["operator"] == "operator2"

    # the inspector scores with the rubric's items
    assert sup.post(f"/api/v1/quality/inspections/{target}/score", json={"items": {"attitude": 30}}).status_code == 422
    r = sup.post(f"/api/v1/quality/inspections/{target}/score",
                 json={"items": {"attitude": 20, "skill": 15, "record": 10, "norms": 5}, "comment": "未登记工单"})
    assert r.status_code == 200 and r.get_json()["score"] == 50.0 and r.get_json()["state"] == "scored"

    # one appeal, by the operator of the call
    assert op1.post(f"/api/v1/quality/inspections/{target}/appeal", json={"reason": "不是我"}).status_code == 404
    assert op2.post(f"/api/v1/quality/inspections/{target}/appeal", json={"reason": ""}).status_code == 422
    assert op2.post(f"/api/v1/quality/inspections/{target}/appeal", json={"reason": "市民要求转接，已口头告知"}).status_code == 200
    again = op2.post(f"/api/v1/quality/inspections/{target}/appeal", json={"reason": "再申诉"})
    assert again.status_code == 409 and "once" in again.get_json()["error"]["message"]
    assert sup.post(f"/api/v1/quality/inspections/{target}/decision", json={"decision": "upheld"}).status_code == 422
    r = sup.post(f"/api/v1/quality/inspections/{target}/decision", json={"decision": "upheld", "score": 80, "note": "属实"})
    assert r.status_code == 200 and r.get_json()["score"] == 80.0 and r.get_json()["state"] == "final"
    assert sup.post(f"/api/v1/quality/inspections/{target}/score",
                    json={"items": {"attitude": 25, "skill": 25, "record": 25, "norms": 25}}).status_code == 409


def test_only_admins_edit_the_rubric_and_bad_rubrics_change_nothing(app, api):
    sup, admin = api("supervisor"), api("admin")
    rubric = sup.get("/api/v1/quality/rubric").get_json()
    assert rubric["version"] == 0 and "不知道" in rubric["forbidden_words"]
    body = {k: v for k, v in rubric.items() if k not in ("version", "checks")}
    assert sup.put("/api/v1/quality/rubric", json=body).status_code == 403
    bad = dict(body, deductions={**body["deductions"], "smiling": 5}, silence_seconds=-1)
    r = admin.put("/api/v1/quality/rubric", json=bad)
    assert r.status_code == 422 and {"deductions", "silence_seconds"} <= set(r.get_json()["error"]["fields"])
    assert admin.get("/api/v1/quality/rubric").get_json()["version"] == 0
    r = admin.put("/api/v1/quality/rubric", json=dict(body, silence_seconds=20))
    assert r.status_code == 200 and r.get_json()["version"] == 1 and r.get_json()["silence_seconds"] == 20
