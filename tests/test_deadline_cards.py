"""The deadline card rule (ticketing.cards) on literal 2026 timelines, and its agreement with the
deadline scan: the card a ticket view shows is the card the scan issues at the same instant."""
from __future__ import annotations

from types import SimpleNamespace

from hotline.clock import frozen, iso
from supervision.scan import scan_deadlines
from supervision.schemas import Settings
from ticketing.cards import WarningRule, card_for, warning_start
from ticketing.sla import WorkCalendar

from .conftest import both_databases
from .supervision_helpers import cst, new_ticket

CAL = WorkCalendar()  # China's official 2026 calendar (holidays and make-up workdays)
RULE = WarningRule()


def _ticket(status="in_progress", sign_by=None, reply_by=None, type_="求助", urgency="normal"):
    return SimpleNamespace(status=status, sign_by=sign_by, reply_by=reply_by, type=type_, urgency=urgency)


def _card(ticket, kind, now, hourly=frozenset(), rule=RULE):
    found = card_for(CAL, hourly, rule, ticket, kind, now)
    return None if found is None else found[0]


def test_reply_window_opens_the_working_day_before_across_national_day():
    """Reply by Thu 2026-10-08 23:59:59 (after National Day, Oct 1-7 off): the 1-working-day window
    opens on Wed Sep 30 23:59:59, eight calendar days before — not 24 h before."""
    t = _ticket(reply_by=cst(2026, 10, 8, 23, 59, 59))
    assert iso(warning_start(CAL, t.reply_by, 1)) == "2026-09-30T23:59:59+08:00"
    assert _card(t, "reply", cst(2026, 9, 30, 23, 59, 58)) is None
    assert _card(t, "reply", cst(2026, 9, 30, 23, 59, 59)) == "yellow"
    assert _card(t, "reply", cst(2026, 10, 5, 12, 0)) == "yellow"
    assert _card(t, "reply", cst(2026, 10, 8, 23, 59, 59)) == "yellow"
    assert _card(t, "reply", cst(2026, 10, 9, 0, 0, 0)) == "red"


def test_sunday_makeup_workday_counts_and_saturday_before_it_does_not():
    """Sign by Sun 2026-09-20 (调休 make-up workday): the working day before is Fri Sep 18 (Sat 19 is
    off). Reply by Mon Sep 21: the working day before is that Sunday."""
    t = _ticket(status="dispatched", sign_by=cst(2026, 9, 20, 23, 59, 59), reply_by=cst(2026, 9, 21, 23, 59, 59))
    assert iso(warning_start(CAL, t.sign_by, 1)) == "2026-09-18T23:59:59+08:00"
    assert iso(warning_start(CAL, t.reply_by, 1)) == "2026-09-20T23:59:59+08:00"
    assert _card(t, "sign", cst(2026, 9, 18, 23, 0)) is None
    assert _card(t, "sign", cst(2026, 9, 19, 12, 0)) == "yellow"
    assert _card(t, "reply", cst(2026, 9, 20, 12, 0)) is None
    assert _card(t, "reply", cst(2026, 9, 21, 0, 1)) == "yellow"
    assert _card(t, "sign", cst(2026, 9, 21, 0, 1)) == "red"


def test_per_type_window_hour_based_deadlines_and_watched_statuses():
    t = _ticket(type_="投诉", reply_by=cst(2026, 11, 23, 23, 59, 59))  # Monday
    two = WarningRule(by_type={"投诉": 2})
    assert _card(t, "reply", cst(2026, 11, 19, 23, 59), rule=two) is None
    assert _card(t, "reply", cst(2026, 11, 19, 23, 59, 59), rule=two) == "yellow"  # Thu: 2 working days back
    assert _card(t, "reply", cst(2026, 11, 19, 23, 59, 59)) is None  # default 1 working day: Fri
    urgent = _ticket(urgency="urgent", reply_by=cst(2026, 10, 3, 12, 0))  # natural hours, even on a holiday
    hourly = {("求助", "urgent")}
    assert _card(urgent, "reply", cst(2026, 10, 3, 7, 59), hourly) is None
    assert _card(urgent, "reply", cst(2026, 10, 3, 8, 0), hourly) == "yellow"
    # the sign deadline is watched only while dispatched, nothing after the reply
    assert card_for(CAL, set(), RULE, _ticket(sign_by=cst(2026, 9, 1, 9, 0)), "sign", cst(2026, 9, 2, 9, 0)) is None
    assert card_for(CAL, set(), RULE, _ticket(status="replied", reply_by=cst(2026, 9, 1, 9, 0)), "reply",
                    cst(2026, 9, 2, 9, 0)) is None


@both_databases
def test_ticket_view_card_is_the_card_the_scan_issues(app, api):
    """咨询 received Sat 2026-09-19: sign by Sun Sep 20 (make-up workday), reply by Mon Sep 21. At each
    instant the API's deadline_state names the card the scan issues for the same ticket then."""
    from hotline.extensions import db

    number = new_ticket(api, (2026, 9, 19, 10, 0), type_="咨询")
    timeline = [
        (cst(2026, 9, 19, 12, 0), "yellow", "sign"),
        (cst(2026, 9, 21, 0, 1), "red", "sign"),
    ]
    for now, card, kind in timeline:
        with frozen(now):
            views = [api(who).get(f"/api/v1/tickets/{number}").get_json()["deadline_state"]
                     for who in ("supervisor", "housing")]
            listed = [r for r in api("supervisor").get("/api/v1/tickets?per_page=100").get_json()["items"]
                      if r["number"] == number][0]["deadline_state"]
        issued = scan_deadlines(db.session, now, Settings())
        assert (card, kind) in [(c["card"], c["deadline_kind"]) for c in issued], now
        for state in (*views, listed):
            assert (state["card"], state["kind"]) == (card, kind), (now, state)
    # signed: only the reply deadline runs; its yellow card came with the sign's red one
    with frozen(cst(2026, 9, 21, 9, 0)):
        assert api("housing").act(number, "sign").status_code == 200
        state = api("supervisor").get(f"/api/v1/tickets/{number}").get_json()["deadline_state"]
    assert state == {"card": "yellow", "kind": "reply", "due": "2026-09-21T23:59:59+08:00",
                     "warning_from": "2026-09-20T23:59:59+08:00"}
    assert scan_deadlines(db.session, cst(2026, 9, 21, 9, 0), Settings()) == []  # issued already at 00:01
    with frozen(cst(2026, 9, 22, 0, 1)):
        state = api("supervisor").get(f"/api/v1/tickets/{number}").get_json()["deadline_state"]
    assert (state["card"], state["kind"]) == ("red", "reply")
    assert [(c["card"], c["deadline_kind"]) for c in scan_deadlines(db.session, cst(2026, 9, 22, 0, 1), Settings())] \
        == [("red", "reply")]


def test_console_deadline_lists_follow_the_card_rule(app, api):
    """The console's near/overdue lists are the yellow/red cards: a 求助 due after National Day is
    'near' from the working day before (8 calendar days ahead), not 24 h before."""
    number = new_ticket(api, (2026, 9, 17, 10, 0))  # reply by Thu 2026-10-08 23:59:59
    assert api("housing").act(number, "sign").status_code == 200

    def lists(*when):
        with frozen(cst(*when)):
            body = api("supervisor").get("/api/v1/console/deadlines").get_json()
        return [t["number"] for t in body["near"]], [t["number"] for t in body["overdue"]]

    assert lists(2026, 9, 30, 12, 0) == ([], [])
    assert lists(2026, 10, 1, 9, 0) == ([number], [])
    assert lists(2026, 10, 9, 0, 1) == ([], [number])
