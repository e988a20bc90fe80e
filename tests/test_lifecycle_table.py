"""Every (status, action, role): allowed combinations succeed, all others are refused with nothing
changed. Runs through the real service on a real database."""
from __future__ import annotations

import pytest

from hotline.extensions import db
from ticketing import lifecycle as lc
from ticketing import service
from hotline.exceptions import TicketingError
from ticketing.models import Ticket

from .ticket_helpers import actors, body_for, make_ticket

#: statuses in which the ticket is held by the demo department (housing)
HELD_BY_DEPARTMENT = {lc.DISPATCHED, lc.IN_PROGRESS, lc.REPLIED, lc.CALLBACK, lc.CLOSED, lc.MERGED}


def expected_allowed(status: str, action: str, role: str) -> bool:
    t = lc.find(status, action)
    if t is None or role not in t.roles:
        return False
    if role == lc.DEPARTMENT and status not in HELD_BY_DEPARTMENT:
        return False  # a department sees and acts only on tickets it holds
    return True


def snapshot(session, number):
    session.expire_all()
    t = session.query(Ticket).filter_by(number=number).one()
    return (t.status, t.version, t.event_count, t.head_hash, t.main_department_id,
            len(t.extensions), len(t.urgings), t.closed_at)


def test_table_is_complete_and_consistent():
    assert set(lc.ACTIONS) == set(lc.ACTION_LABELS) - set(lc.SYSTEM_EVENTS) | {"note"} - {"create"}
    for t in lc.TRANSITIONS:
        assert t.target is None or t.target in lc.STATUSES
        assert set(t.sources) <= set(lc.STATUSES)
    # every status except the final ones has a way forward for the hotline's own staff
    for status in lc.OPEN_STATUSES:
        assert [a for a in lc.allowed(status, lc.OPERATOR) if a != "note"] or status == lc.IN_PROGRESS


@pytest.mark.parametrize("status", lc.STATUSES)
def test_every_action_and_role(app, status):
    session = db.session
    who = actors(session)
    outcomes = {}
    for action in lc.ACTIONS:
        for role in lc.ROLES:
            pending = action in ("approve_extension", "deny_extension")
            number = make_ticket(session, status, pending_extension=pending and status == lc.IN_PROGRESS)
            master = make_ticket(session, lc.DRAFT) if action == "merge" else None
            before = snapshot(session, number)
            should = expected_allowed(status, action, role)
            try:
                service.perform(session, number, action, who[role], body_for(action, master))
                ok, code = True, 200
            except TicketingError as exc:
                ok, code = False, exc.status
            after = snapshot(session, number)
            outcomes[(action, role)] = (ok, code)
            if should:
                assert ok, f"{status}/{action}/{role} should succeed, got {code}"
                assert after[2] == before[2] + 1, "an allowed action writes exactly one event"
                assert after[0] == lc.target_of(status, action)
            else:
                assert not ok, f"{status}/{action}/{role} should be refused"
                assert code in (403, 404, 409), code
                assert after == before, f"{status}/{action}/{role} refused but changed the ticket"
    # refusals for a wrong status are 409s that name what is allowed now
    illegal = [k for k, (ok, code) in outcomes.items() if code == 409]
    if status in (lc.MERGED, lc.INVALID):
        assert illegal


def test_illegal_action_message_lists_allowed(api):
    op = api("operator1")
    number = op.post("/api/v1/tickets", json={"type": "咨询", "content": "问社保卡怎么补办"}).get_json()["number"]
    r = op.act(number, "approve_reply")
    assert r.status_code == 409
    err = r.get_json()["error"]
    assert err["code"] == "illegal_action"
    assert err["allowed_actions"] == ["accept", "merge", "invalidate", "note"]
    assert "accept" in err["message"]
