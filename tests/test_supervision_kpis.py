"""KPIs of a hand-built set of tickets equal hand-computed numbers, for every KPI; exports; roles.

The set (received 2026-10-12/13, China time), built through the real API, then lifecycle
timestamps pinned to literal times so on-time / late is known:

    T1 求助 housing  P1  signed+replied on time, callback 满意 solved               -> closed
    T2 求助 housing  P1  callback 不满意 unsolved -> reopened (重办), now unsigned  (repeat: P1)
    T3 投诉 housing returned it -> water: signed+replied on time, extension approved,
                     callback 基本满意 not solved                                    P2
    T4 咨询 answered directly by the hotline                                        P3
    T5 咨询 water    dispatched, never signed                                       no phone
    T6 求助 housing  signed+replied on time, approved, waiting for callback        P2 (repeat: P2)
"""
from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from hotline.events import bus
from supervision import kpis
from supervision.models import COUNTERS, KpiDaily, KpiTicketFact
from supervision.rollup import catch_up, rebuild
from ticketing.models import Ticket

from .conftest import both_databases
from .telephony_helpers import wait_for
from .supervision_helpers import cst, new_ticket, set_times

P1, P2, P3 = "13800000001", "13800000002", "13800000003"

HOUSING = {"received": 3, "direct": 0, "dispatched": 4, "returned": 1, "signed_on_time": 2,
           "replied_on_time": 2, "extended": 0, "callback_due": 3, "called_back": 2, "satisfied": 1,
           "solved": 1, "reopened": 1, "has_phone": 3, "repeat_call": 2}
HOUSING_KPIS = {"sign_rate": 0.6667, "on_time_rate": 0.6667, "return_rate": 0.25, "extension_rate": 0.0,
                "callback_rate": 0.6667, "satisfaction_rate": 0.5, "solved_rate": 0.5, "direct_rate": 0.0,
                "reopen_rate": 0.5, "repeat_rate": 0.6667}
WATER = {"received": 2, "direct": 0, "dispatched": 2, "returned": 0, "signed_on_time": 1, "replied_on_time": 1,
         "extended": 1, "callback_due": 1, "called_back": 1, "satisfied": 1, "solved": 0, "reopened": 0,
         "has_phone": 1, "repeat_call": 0}
WATER_KPIS = {"sign_rate": 0.5, "on_time_rate": 0.5, "return_rate": 0.0, "extension_rate": 0.5,
              "callback_rate": 1.0, "satisfaction_rate": 1.0, "solved_rate": 0.0, "direct_rate": 0.0,
              "reopen_rate": 0.0, "repeat_rate": 0.0}
TOTAL_KPIS = {"sign_rate": 0.6, "on_time_rate": 0.6, "return_rate": 0.1667, "extension_rate": 0.2,
              "callback_rate": 0.75, "satisfaction_rate": 0.6667, "solved_rate": 0.3333, "direct_rate": 0.1667,
              "reopen_rate": 0.3333, "repeat_rate": 0.4}


def _on_time(session, number, received):
    set_times(session, number, signed_at=received + timedelta(hours=2), replied_at=received + timedelta(days=1))


def build(api):
    from hotline.extensions import db

    session = db.session
    op, sup, housing, water = api("operator1"), api("supervisor"), api("housing"), api("water")

    def handled(number, unit, *, extension=False):
        assert unit.act(number, "sign").status_code == 200
        if extension:
            assert unit.act(number, "request_extension", {"workdays": 3, "reason": "需现场勘查"}).status_code == 200
            assert sup.act(number, "approve_extension").status_code == 200
        assert unit.act(number, "reply", {"text": "已处理"}).status_code == 200
        assert op.act(number, "approve_reply").status_code == 200

    t1 = new_ticket(api, (2026, 10, 12, 9, 0), phone=P1)
    handled(t1, housing)
    t2 = new_ticket(api, (2026, 10, 12, 10, 0), phone=P1)
    handled(t2, housing)
    t3 = new_ticket(api, (2026, 10, 12, 11, 0), type_="投诉", phone=P2)
    assert housing.act(t3, "return", {"note": "不属于本单位职责"}).status_code == 200
    assert op.act(t3, "dispatch", {"main_department": "water"}).status_code == 200
    handled(t3, water, extension=True)
    t4 = new_ticket(api, (2026, 10, 13, 9, 0), type_="咨询", phone=P3, dept=None)
    assert op.act(t4, "answer_directly", {"answer": "办理时间为工作日9:00-17:00"}).status_code == 200
    t5 = new_ticket(api, (2026, 10, 13, 10, 0), type_="咨询", dept="water")
    t6 = new_ticket(api, (2026, 10, 13, 11, 0), phone=P2)
    handled(t6, housing)
    for number, received in ((t1, cst(2026, 10, 12, 9)), (t3, cst(2026, 10, 12, 11)), (t6, cst(2026, 10, 13, 11))):
        _on_time(session, number, received)
    return session, {"t1": t1, "t2": t2, "t3": t3, "t4": t4, "t5": t5, "t6": t6}


def callbacks(api, t):
    op = api("operator1")
    for number, body in ((t["t1"], {"satisfaction": "满意", "solved": True}),
                         (t["t2"], {"satisfaction": "不满意", "solved": False}),
                         (t["t3"], {"satisfaction": "基本满意", "solved": False})):
        r = op.post(f"/api/v1/supervision/callbacks/{number}", json=body)
        assert r.status_code == 200, r.get_json()
    assert r.get_json()["reopened"] is False


CALLS = [
    {"call_id": "c1", "caller": P1, "duration": 105, "cause": "normal", "ringing_at": "2026-10-12T09:00:00+08:00",
     "answered": True, "wait_seconds": 5, "talk_seconds": 100},
    {"call_id": "c2", "caller": P2, "duration": 220, "cause": "normal", "ringing_at": "2026-10-12T09:10:00+08:00",
     "answered_at": "2026-10-12T09:10:20+08:00", "ended_at": "2026-10-12T09:13:40+08:00"},
    {"call_id": "c3", "caller": P3, "duration": 30, "cause": "abandoned", "ringing_at": "2026-10-12T09:20:00+08:00",
     "answered": False, "wait_seconds": 30, "talk_seconds": 0},
    {"call_id": "c4", "caller": P3, "duration": 75, "cause": "normal", "ringing_at": "2026-10-13T10:00:00+08:00",
     "answered": True, "wait_seconds": 15, "talk_seconds": 60},
    {"call_id": "c1", "caller": P1, "duration": 105, "cause": "normal", "ringing_at": "2026-10-12T09:00:00+08:00",
     "answered": True, "wait_seconds": 5, "talk_seconds": 100},  # delivered twice: counted once
    {"call_id": "o1", "caller": "1001", "duration": 40, "cause": "normal", "direction": "outbound",
     "ringing_at": "2026-10-12T15:00:00+08:00", "answered": True, "wait_seconds": 3, "talk_seconds": 37},
]


def _calls_counted(session) -> int:
    from supervision.models import CallDaily

    offered = session.scalar(select(func.coalesce(func.sum(CallDaily.offered), 0)))
    session.rollback()  # SQLite: BEGIN IMMEDIATE holds the write lock the job needs
    return offered


def _daily(session):
    return sorted(tuple(getattr(r, c) for c in ("day", "department_id", "type", *COUNTERS))
                  for r in session.scalars(select(KpiDaily)) if any(getattr(r, c) for c in COUNTERS))


@both_databases
def test_every_kpi_equals_the_hand_computed_value(app, api):
    session, t = build(api)
    catch_up(session, lag=timedelta(0))  # incremental: part of the history first ...
    callbacks(api, t)
    for payload in CALLS:
        bus.publish("call.ended", payload)
    catch_up(session, lag=timedelta(0))  # ... then the rest
    session.commit()
    # call.ended is counted by a background job (its publisher never waits on the database)
    assert wait_for(lambda: _calls_counted(session) == 4, timeout=30), _calls_counted(session)
    assert session.get(Ticket, session.scalar(select(Ticket.id).where(Ticket.number == t["t2"]))).reopen_count == 1
    session.rollback()  # end the read transaction (SQLite: BEGIN IMMEDIATE holds the write lock)

    rep = api("supervisor").get("/api/v1/kpis?from=2026-10-12&to=2026-10-13&group_by=department").get_json()
    rows = {r["key"]: r for r in rep["rows"]}
    assert set(rows) == {"housing", "water", ""}
    assert rows["housing"]["counts"] == HOUSING and rows["housing"]["kpis"] == HOUSING_KPIS
    assert rows["water"]["counts"] == WATER and rows["water"]["kpis"] == WATER_KPIS
    assert rows[""]["counts"]["direct"] == 1 and rows[""]["label"] == "未派单/热线直办"
    assert rep["total"]["kpis"] == TOTAL_KPIS
    # a period of whole months is read from kpi_monthly (+ edge days from kpi_daily): same figures
    for period in ("from=2026-10-01&to=2026-10-31", "from=2026-09-15&to=2026-11-02", "from=2026-10-12&to=2026-11-30"):
        wide = api("supervisor").get(f"/api/v1/kpis?{period}&group_by=department").get_json()
        assert {r["key"]: r["counts"] for r in wide["rows"]} == {k: r["counts"] for k, r in rows.items()}, period
    assert rep["calls"]["counts"] == {"offered": 4, "answered": 3, "answered_15s": 2, "abandoned": 1,
                                      "wait_seconds": 40.0, "talk_seconds": 360.0}
    assert rep["calls"]["kpis"] == {"answer_rate": 0.75, "answer_15s_rate": 0.5, "avg_wait": 13.3, "avg_talk": 120.0}

    by_type = {r["key"]: r["counts"] for r in api("supervisor").get(
        "/api/v1/kpis?from=2026-10-12&to=2026-10-13&group_by=type").get_json()["rows"]}
    assert {k: v["received"] for k, v in by_type.items()} == {"求助": 3, "咨询": 2, "投诉": 1}
    by_day = api("supervisor").get("/api/v1/kpis?from=2026-10-12&to=2026-10-13&group_by=day").get_json()["rows"]
    assert [(r["key"], r["counts"]["received"]) for r in by_day] == [("2026-10-12", 3), ("2026-10-13", 3)]
    assert by_day[0]["calls"]["kpis"]["answer_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert by_day[1]["calls"]["counts"]["offered"] == 1

    trend = api("supervisor").get("/api/v1/kpis/trend?from=2026-10-11&to=2026-10-13").get_json()
    assert trend["days"] == ["2026-10-11", "2026-10-12", "2026-10-13"]
    assert trend["series"]["received"] == [0, 3, 3] and trend["series"]["answer_rate"][0] is None
    assert trend["series"]["direct_rate"] == [None, 0.0, 0.3333]
    water = api("supervisor").get("/api/v1/kpis/trend?from=2026-10-12&to=2026-10-13&department=water").get_json()
    assert water["series"]["received"] == [1, 1] and "answer_rate" not in water["series"]

    # the incremental result equals a rebuild from history, and a second catch-up changes nothing
    before = _daily(session)
    catch_up(session, lag=timedelta(0))
    assert _daily(session) == before
    rebuild(session)
    assert _daily(session) == before
    housing_id = session.scalar(select(KpiTicketFact.department_id).where(KpiTicketFact.returned == 1))
    assert session.scalar(select(KpiTicketFact.dispatched).where(KpiTicketFact.department_id == housing_id,
                                                               KpiTicketFact.returned == 1)) == 1


def test_ranking_roles_and_exports(app, api):
    from openpyxl import load_workbook

    session, t = build(api)
    callbacks(api, t)
    catch_up(session, lag=timedelta(0))
    sup = api("supervisor")
    q = "from=2026-10-12&to=2026-10-13"

    ranking = sup.get(f"/api/v1/kpis/ranking?{q}").get_json()
    # score = mean(sign, on_time, satisfaction, solved): water 0.5, housing 0.5833
    assert [(i["department"]["code"], i["value"], i["rank"]) for i in ranking["items"]] == [
        ("housing", 0.5833, 1), ("water", 0.5, 2)]
    by_return = sup.get(f"/api/v1/kpis/ranking?{q}&kpi=return_rate").get_json()
    assert [i["department"]["code"] for i in by_return["items"]] == ["water", "housing"]
    assert sup.get(f"/api/v1/kpis/ranking?{q}&kpi=nope").status_code == 422

    mine = api("housing").get(f"/api/v1/kpis?{q}&group_by=department").get_json()
    assert [r["key"] for r in mine["rows"]] == ["housing"] and mine["total"]["counts"] == HOUSING
    assert "calls" not in mine
    assert api("housing").get(f"/api/v1/kpis/ranking?{q}").status_code == 403
    assert api("operator1").get(f"/api/v1/kpis?{q}").status_code == 403
    assert sup.get("/api/v1/kpis?group_by=week").status_code == 422
    assert sup.get("/api/v1/kpis?from=2026-13-01").get_json()["error"]["fields"] == {"from": "expected YYYY-MM-DD"}

    r = sup.get(f"/api/v1/kpis/export.csv?{q}")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    lines = r.data.decode("utf-8-sig").splitlines()
    header = lines[0].split(",")
    assert header[:2] == ["单位", "编码"] and header[-10:] == [label for _k, label, *_ in kpis.TICKET_KPIS]
    housing = next(line.split(",") for line in lines if ",housing," in line)
    assert housing[0] == "县住房和城乡规划建设局"
    assert [int(x) for x in housing[2:2 + len(COUNTERS)]] == [HOUSING[c] for c in COUNTERS]
    assert [float(x) for x in housing[-10:]] == list(HOUSING_KPIS.values())
    assert lines[-1].startswith("合计,")

    r = sup.get(f"/api/v1/kpis/export.xlsx?{q}&group_by=type")
    assert r.status_code == 200
    wb = load_workbook(io.BytesIO(r.data))
    ws = wb["KPI"]
    assert ws["A2"].value == "类型"
    values = {row[0]: row for row in ws.iter_rows(min_row=3, values_only=True) if row and row[0]}
    assert values["投诉"][2 + COUNTERS.index("returned")] == 1
    assert values["合计"][-1] == TOTAL_KPIS["repeat_rate"]
    assert [row[0] for row in wb["指标定义"].iter_rows(min_row=2, values_only=True)][:3] == ["及时签收率", "按期办结率", "退回率"]

    # department users export their own unit only
    r = api("water").get(f"/api/v1/kpis/export.csv?{q}")
    assert [line.split(",")[1] for line in r.data.decode("utf-8-sig").splitlines()[1:]] == ["water", ""]


def test_callback_queue_and_unsatisfied_reopens(app, api, events):
    session, t = build(api)
    op = api("operator1")
    queue = op.get("/api/v1/supervision/callbacks").get_json()
    assert queue["total"] == 4 and {i["number"] for i in queue["items"]} == {t["t1"], t["t2"], t["t3"], t["t6"]}
    events.clear()
    r = op.post(f"/api/v1/supervision/callbacks/{t['t2']}", json={"satisfaction": "不满意", "solved": False})
    body = r.get_json()
    assert body["reopened"] is True and body["status"] == "dispatched" and body["reopen_count"] == 1
    # one decision, one published change: consoles never see the ticket closed in between
    changes = [p for name, p in events if name == "ticket.changed" and p["number"] == t["t2"]]
    assert [(c["action"], c["from_status"], c["to_status"], c["steps"]) for c in changes] == [
        ("reopen", "callback", "dispatched", ["callback", "reopen"])]
    ticket = op.get(f"/api/v1/tickets/{t['t2']}").get_json()
    assert [e["action"] for e in ticket["events"]][-2:] == ["callback", "reopen"]
    assert op.post(f"/api/v1/supervision/callbacks/{t['t1']}", json={"satisfaction": "很好"}).status_code == 422
    assert api("housing").get("/api/v1/supervision/callbacks").status_code == 403
    assert op.get("/api/v1/supervision/callbacks").get_json()["total"] == 3
