"""质检 without the network: calls stored with per-leg recordings (WAV files written here with
speech-like bursts at known times) and per-speaker transcripts; the checks, sampling, scoring, the
one appeal and who may see what, through the REST API."""
from __future__ import annotations

from sqlalchemy import select

from tests.conftest import both_databases
from tests.quality_helpers import BAD, DAY, GOOD, store_call


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
    assert op1.post("/api/v1/quality/run", json={"day": DAY.date().isoformat()}).status_code == 403
    assert sup.post("/api/v1/quality/run", json={"day": "20.11.2026"}).status_code == 422
    r = sup.post("/api/v1/quality/run", json={"day": DAY.date().isoformat()})
    assert r.status_code == 200, r.get_json()
    # the rule: every call under 90 (operator2's), 5 % of the rest by a fixed draw, at least one each
    assert r.get_json()["inspected_now"] == 7 and r.get_json()["inspected"] == 7
    queued = sup.get("/api/v1/quality/inspections?state=queued").get_json()
    by_operator = {}
    for item in queued["items"]:
        by_operator.setdefault(item["operator"], []).append(item)
    assert len(by_operator["operator2"]) == 1 and len(by_operator["operator1"]) >= 1
    assert sup.post("/api/v1/quality/run", json={"day": DAY.date().isoformat()}).get_json()["queued"] == 0  # once

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
