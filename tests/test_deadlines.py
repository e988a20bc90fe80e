"""Deadlines on China's working calendar: holidays, make-up workdays, years without data."""
from __future__ import annotations

from datetime import date, datetime

import pytest

from hotline.extensions import db
from ticketing import deadlines
from hotline.clock import CST, frozen, to_local, to_utc_naive
from ticketing.sla import WorkCalendar, deadline_after, official_year_known

from .ticket_helpers import COMPLAINT


def local(y, m, d, h=10, mi=0):
    return to_utc_naive(datetime(y, m, d, h, mi, tzinfo=CST))


@pytest.mark.parametrize("received,days,expected", [
    # National Day 2026: Oct 1-7 off; Sat Oct 10 and Sun Sep 20 are make-up workdays.
    (date(2026, 9, 30), 2, date(2026, 10, 9)),    # Oct 8, Oct 9
    (date(2026, 9, 30), 3, date(2026, 10, 10)),   # ... and the make-up Saturday
    (date(2026, 9, 30), 15, date(2026, 10, 27)),  # a complaint filed before the holiday
    (date(2026, 9, 18), 2, date(2026, 9, 21)),    # Fri: Sun Sep 20 is a workday, then Mon
    (date(2026, 9, 24), 1, date(2026, 9, 28)),    # Mid-Autumn Sep 25-27 off
    (date(2026, 10, 3), 1, date(2026, 10, 8)),    # filed during the holiday
])
def test_workdays_across_national_day(received, days, expected):
    cal = WorkCalendar()
    got, estimated = cal.add_workdays(received, days)
    assert got == expected and not estimated


def test_deadline_is_end_of_the_nth_working_day():
    d = deadline_after(WorkCalendar(), local(2026, 9, 30, 16, 45), 2, "workdays")
    assert to_local(d.at) == datetime(2026, 10, 9, 23, 59, 59, tzinfo=CST)
    urgent = deadline_after(WorkCalendar(), local(2026, 10, 1, 9), 24, "hours")
    assert to_local(urgent.at) == datetime(2026, 10, 2, 9, 0, tzinfo=CST)


def test_year_without_data_falls_back_and_is_flagged():
    assert official_year_known(2026) and not official_year_known(2027)
    cal = WorkCalendar()
    day, estimated = cal.add_workdays(date(2026, 12, 28), 10)
    # Dec 29, 30, 31 (2026 data), then Mon-Fri in 2027: Jan 1 (Fri) counts in the fallback,
    # Jan 4-8, and Mon Jan 11 is the 10th
    assert day == date(2027, 1, 11) and estimated == {2027}


def test_admin_entered_year_replaces_fallback():
    cal = WorkCalendar(overrides={date(2027, 1, 1): False}, admin_years=frozenset({2027}))
    day, estimated = cal.add_workdays(date(2026, 12, 28), 10)
    assert day == date(2027, 1, 12) and not estimated  # Jan 1 is now a holiday


def test_ticket_filed_2026_12_28_gets_a_2027_deadline(api, app):
    op, sup, admin = api("operator1"), api("supervisor"), api("admin")
    body = {**COMPLAINT, "type": "求助"}
    with frozen(datetime(2026, 12, 28, 9, 30, tzinfo=CST)):
        r = api("operator1").post("/api/v1/tickets", json=body)
    assert r.status_code == 201, r.get_json()
    t = r.get_json()
    assert t["deadlines"]["reply_by"] == "2027-01-11T23:59:59+08:00"  # 10 workdays, Jan 1 (Fri) counted
    assert t["deadlines"]["estimated_years"] == [2027]
    assert "2027" in t["deadlines"]["warning"]
    status = sup.get("/api/v1/calendar").get_json()
    assert {"year": 2027, "source": "missing"} in status["years"]
    assert any("2027" in w for w in status["warnings"])
    assert status["tickets_with_estimated_deadlines"] is True

    # admins enter 2027 (New Year Jan 1, a make-up Saturday Jan 9 is invented for the test)
    r = admin.put("/api/v1/calendar/2027", json={"holidays": [{"date": "2027-01-01", "name": "元旦"}],
                                                  "workdays": ["2027-01-09"]})
    assert r.status_code == 200, r.get_json()
    assert {"year": 2027, "source": "admin"} in r.get_json()["years"]
    with frozen(datetime(2026, 12, 28, 9, 30, tzinfo=CST)):
        t2 = api("operator1").post("/api/v1/tickets", json=body).get_json()
    # Dec 29,30,31, Jan 4,5,6,7,8, Sat 9 (make-up), Mon 11 -> the 10th is Jan 11
    assert t2["deadlines"]["reply_by"] == "2027-01-11T23:59:59+08:00"
    assert t2["deadlines"]["estimated_years"] == [] and t2["deadlines"]["warning"] is None
    # bad calendar input stores nothing
    bad = admin.put("/api/v1/calendar/2028", json={"holidays": ["2028-13-01"], "workdays": ["2027-01-02"]})
    assert bad.status_code == 422 and set(bad.get_json()["error"]["fields"]) == {"holidays.0", "workdays.0"}
    assert {"year": 2028, "source": "missing"} in sup.get("/api/v1/calendar").get_json()["years"]
    assert op.put("/api/v1/calendar/2027", json={}).status_code == 403


def test_policy_table_is_configurable(api):
    op, admin = api("operator1"), api("admin")
    policy = admin.get("/api/v1/sla/policy").get_json()
    rows = {(p["type"], p["urgency"]): p for p in policy}
    assert rows[("咨询", "normal")]["reply_amount"] == 2
    assert rows[("求助", "normal")]["reply_amount"] == 10 and rows[("建议", "normal")]["reply_amount"] == 10
    assert rows[("投诉", "normal")]["reply_amount"] == 15 and rows[("举报", "normal")]["reply_amount"] == 15
    assert rows[("投诉", "urgent")]["reply_unit"] == "hours"
    r = admin.put("/api/v1/sla/policy", json=[{"type": "咨询", "urgency": "normal", "sign_amount": 1,
                                               "sign_unit": "workdays", "reply_amount": 3, "reply_unit": "workdays"}])
    assert r.status_code == 200
    t = op.post("/api/v1/tickets", json={"type": "咨询", "content": "问路", "received_at": "2026-09-30T10:00:00+08:00"}).get_json()
    assert t["deadlines"]["reply_by"] == "2026-10-10T23:59:59+08:00"
    bad = admin.put("/api/v1/sla/policy", json=[{"type": "咨询", "urgency": "normal", "sign_amount": 0,
                                                 "sign_unit": "weeks", "reply_amount": 3, "reply_unit": "workdays"}])
    assert bad.status_code == 422
    assert set(bad.get_json()["error"]["fields"]) == {"0.sign_amount", "0.sign_unit"}


def test_urgent_ticket_deadline_in_hours(api):
    t = api("operator1").post("/api/v1/tickets", json={**COMPLAINT, "urgency": "urgent",
                                                      "received_at": "2026-10-01T09:00:00+08:00"}).get_json()
    assert t["deadlines"]["sign_by"] == "2026-10-01T11:00:00+08:00"
    assert t["deadlines"]["reply_by"] == "2026-10-02T09:00:00+08:00"


def test_extension_moves_reply_deadline_by_working_days(app):
    from .ticket_helpers import actors, make_ticket
    from ticketing import service

    with app.app_context():
        who = actors(db.session)
        number = service.create_ticket(db.session, {**COMPLAINT, "type": "咨询",
                                                    "received_at": "2026-09-28T10:00:00+08:00"}, who["operator"]).number
        for action, actor, body in [("accept", "operator", {}), ("dispatch", "operator", {"main_department": "housing"}),
                                    ("sign", "department", {}),
                                    ("request_extension", "department", {"workdays": 2, "reason": "节假日"}),
                                    ("approve_extension", "supervisor", {})]:
            t = service.perform(db.session, number, action, who[actor], body)
        # 咨询: 2 workdays after Mon Sep 28 -> Wed Sep 30; +2 workdays over National Day -> Fri Oct 9
        assert to_local(t.reply_by) == datetime(2026, 10, 9, 23, 59, 59, tzinfo=CST)
        deadlines.invalidate_cache()
