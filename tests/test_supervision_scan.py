"""Deadline cards and 督办 escalation on literal 2026 timelines (National Day, Mid-Autumn, 调休)."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from supervision.models import DeadlineCard, UrgingEscalation
from supervision.scan import scan_deadlines, scan_escalations, warning_start
from supervision.schemas import Settings
from ticketing.audit import verify_all
from hotline.clock import iso
from ticketing.deadlines import calendar

from .conftest import both_databases
from .supervision_helpers import cst, events_of, new_ticket


def _cards(session):
    return session.execute(select(DeadlineCard.deadline_kind, DeadlineCard.card)
                           .order_by(DeadlineCard.id)).all()


@both_databases
def test_reply_deadline_crosses_holidays_and_makeup_day_yellow_then_red_once(app, api):
    """求助 (10 working days) received Thu 2026-09-17. Working days after it: Fri 18, Sun 20
    (调休 make-up day), 21-24, [Mid-Autumn 25-27 off], 28, 29, 30, [National Day Oct 1-7 off],
    Thu Oct 8 -> reply by 2026-10-08 23:59:59. A Monday-Friday calendar would say Oct 1 and warn
    on Sep 30. The 1-working-day warning window opens Sep 30 23:59:59 (the working day before)."""
    from hotline.extensions import db

    number = new_ticket(api, (2026, 9, 17, 10, 0))
    assert api("housing").act(number, "sign").status_code == 200
    t = api("supervisor").get(f"/api/v1/tickets/{number}").get_json()
    assert t["deadlines"]["reply_by"] == "2026-10-08T23:59:59+08:00"
    session = db.session
    assert iso(warning_start(calendar(session), cst(2026, 10, 8, 23, 59, 59), 1)) == "2026-09-30T23:59:59+08:00"

    timeline = [
        (cst(2026, 9, 30, 12, 0), []),
        (cst(2026, 10, 1, 9, 0), [("reply", "yellow")]),
        (cst(2026, 10, 1, 9, 0), []),
        (cst(2026, 10, 5, 12, 0), []),
        (cst(2026, 10, 8, 23, 59, 0), []),
        (cst(2026, 10, 9, 0, 0, 30), [("reply", "red")]),
        (cst(2026, 10, 9, 0, 0, 30), []),
        (cst(2026, 10, 12, 9, 0), []),
    ]
    for now, expected in timeline:
        issued = scan_deadlines(session, now, Settings())
        assert [(c["deadline_kind"], c["card"]) for c in issued] == expected, now
    assert _cards(session) == [("reply", "yellow"), ("reply", "red")]
    assert len(events_of(session, number, "yellow_card")) == 1
    assert len(events_of(session, number, "red_card")) == 1
    red = events_of(session, number, "red_card")[0]
    assert red.data["deadline_at"] == "2026-10-08T23:59:59+08:00" and red.data["department"]["code"] == "housing"
    assert all(f is None for _t, f in verify_all(session))


@both_databases
def test_sign_deadline_on_a_sunday_makeup_workday(app, api):
    """咨询 received Sat 2026-09-19: sign within 1 working day -> Sun Sep 20 (a make-up workday),
    reply within 2 -> Mon Sep 21. Each deadline gets its own yellow and red card, once."""
    from hotline.extensions import db

    number = new_ticket(api, (2026, 9, 19, 10, 0), type_="咨询")
    t = api("supervisor").get(f"/api/v1/tickets/{number}").get_json()
    assert t["deadlines"]["sign_by"] == "2026-09-20T23:59:59+08:00"
    assert t["deadlines"]["reply_by"] == "2026-09-21T23:59:59+08:00"
    session = db.session

    def scan(*when):
        return [(c["deadline_kind"], c["card"]) for c in scan_deadlines(session, cst(*when))]

    assert scan(2026, 9, 19, 12, 0) == [("sign", "yellow")]
    assert scan(2026, 9, 20, 12, 0) == []
    assert scan(2026, 9, 21, 0, 1) == [("sign", "red"), ("reply", "yellow")]
    assert scan(2026, 9, 21, 0, 1) == []
    assert scan(2026, 9, 22, 0, 1) == [("reply", "red")]
    assert scan(2026, 9, 23, 0, 1) == []
    assert sorted(_cards(session)) == sorted([("sign", "yellow"), ("sign", "red"), ("reply", "yellow"),
                                              ("reply", "red")])


def test_per_type_warning_window_and_signed_tickets_leave_the_sign_watch(app, api):
    from hotline.extensions import db

    # 投诉 (15 working days) received Mon 2026-11-02 -> reply by Mon Nov 23; warn 2 working days before
    number = new_ticket(api, (2026, 11, 2, 9, 0), type_="投诉")
    assert api("housing").act(number, "sign").status_code == 200
    settings = Settings(warning_by_type={"投诉": 2})
    session = db.session
    assert scan_deadlines(session, cst(2026, 11, 19, 12, 0), settings) == []
    assert [c["card"] for c in scan_deadlines(session, cst(2026, 11, 20, 0, 0), settings)] == ["yellow"]
    assert _cards(session) == [("reply", "yellow")]


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_concurrent_scanners_never_duplicate_a_card(app, api):
    from hotline.extensions import db

    numbers = [new_ticket(api, (2026, 9, 17, 9 + i, 0)) for i in range(5)]
    barrier = threading.Barrier(4)
    errors = []

    def scanner(now):
        try:
            with app.app_context():
                barrier.wait()
                scan_deadlines(db.session, now, Settings())
        except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)
        finally:
            db.Session.remove()

    for now in (cst(2026, 10, 1, 9, 0), cst(2026, 10, 9, 0, 1)):
        for _round in range(2):
            threads = [threading.Thread(target=scanner, args=(now,)) for _ in range(4)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
    assert errors == []
    session = db.session
    # sign deadline Sep 18: red straight away (never seen in its window); reply: yellow then red
    per_ticket = session.execute(select(DeadlineCard.ticket_id, func.count()).group_by(DeadlineCard.ticket_id)).all()
    assert sorted(n for _t, n in per_ticket) == [3] * 5
    for number in numbers:
        assert len(events_of(session, number, "yellow_card")) == 1
        assert len(events_of(session, number, "red_card")) == 2
    assert all(f is None for _t, f in verify_all(session))


@both_databases
def test_urging_acknowledged_then_escalated_once_across_national_day(app, api):
    from hotline.extensions import db

    number = new_ticket(api, (2026, 9, 14, 9, 0), type_="咨询")
    assert api("housing").act(number, "sign").status_code == 200
    sup = api("supervisor")
    r = sup.post("/api/v1/supervision/urgings", json={"number": number, "note": "请于国庆前办结",
                                                      "due_at": "2026-09-30T18:00:00+08:00"})
    assert r.status_code == 201, r.get_json()
    urging_id = r.get_json()["id"]
    assert api("water").post(f"/api/v1/urgings/{urging_id}/acknowledge").status_code == 404
    assert sup.post(f"/api/v1/urgings/{urging_id}/acknowledge").status_code == 403
    r = api("housing").post(f"/api/v1/urgings/{urging_id}/acknowledge", json={"note": "已收到"})
    assert r.status_code == 200 and r.get_json()["acknowledged_by"] == "housing"
    assert api("housing").post(f"/api/v1/urgings/{urging_id}/acknowledge").status_code == 409
    session = db.session
    assert len(events_of(session, number, "acknowledge_urge")) == 1
    # 5 working days after Wed Sep 30 18:00: Oct 8, 9, 10 (Sat make-up), 12, 13 -> Tue Oct 13 18:00
    assert scan_escalations(session, cst(2026, 10, 13, 17, 59), Settings()) == []
    assert [e["number"] for e in scan_escalations(session, cst(2026, 10, 13, 18, 0), Settings())] == [number]
    assert scan_escalations(session, cst(2026, 10, 20, 9, 0), Settings()) == []
    assert session.scalar(select(func.count()).select_from(UrgingEscalation)) == 1
    assert len(events_of(session, number, "escalate")) == 1
    items = sup.get("/api/v1/supervision/escalations").get_json()["items"]
    assert [i["ticket"]["number"] for i in items] == [number]
    assert api("housing").get("/api/v1/supervision/escalations").status_code == 403


def test_urging_a_unit_urges_each_overdue_ticket(app, api):
    late = [new_ticket(api, (2026, 10, 12, 9, i)) for i in range(2)]
    new_ticket(api, (2026, 10, 12, 9, 5), dept="water")
    sup = api("supervisor")
    r = sup.post("/api/v1/supervision/urgings", json={"department": "housing", "note": "集中督办"})
    assert r.status_code == 201, r.get_json()
    assert sorted(u["number"] for u in r.get_json()["urgings"]) == sorted(late)
    r = sup.post("/api/v1/supervision/urgings", json={"department": "market", "note": "集中督办"})
    assert r.status_code == 422 and "department" in r.get_json()["error"]["fields"]
    assert api("housing").post("/api/v1/supervision/urgings", json={"number": late[0], "note": "x"}).status_code == 403
    mine = api("housing").get("/api/v1/supervision/urgings?open=1").get_json()["items"]
    assert sorted(u["number"] for u in mine) == sorted(late)
    overdue = api("housing").get("/api/v1/supervision/overdue").get_json()["items"]
    assert {i["number"] for i in overdue} == set(late)
