"""The operator's 我的工单 and the supervisor's 延期审批 are paged, filtered and counted on the
server like every other working list (issue 13, point 6): nothing past the first page is lost."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from hotline.clock import utcnow
from hotline.extensions import db
from tests.list_helpers import bulk_tickets
from ticketing import lifecycle as lc
from ticketing.models import Extension, Ticket


def _numbers(r) -> list[str]:
    return [t["number"] for t in r.get_json()["items"]]


def test_my_tickets_and_extension_approvals_page_on_the_server(app, api):
    with app.app_context():
        specs = bulk_tickets(db.session, "housing", 120)
        mine = specs[:70]
        db.session.execute(update(Ticket).where(Ticket.number.in_([s.number for s in mine]))
                           .values(created_by="operator1"))
        ids = {n: i for n, i in db.session.execute(select(Ticket.number, Ticket.id))}
        now = utcnow()
        waiting = [s for s in specs if s.status == lc.IN_PROGRESS][:30]
        db.session.execute(Extension.__table__.insert(), [
            {"ticket_id": ids[s.number], "workdays": 3, "reason": f"需要更多时间 {i}", "status": "pending",
             "requested_by": "housing", "requested_at": now - timedelta(hours=100 - i)} for i, s in enumerate(waiting)])
        db.session.commit()
        db.Session.remove()
    op = api("operator1")

    # 我的工单: the whole set counted, newest first, page after page
    r = op.get("/api/v1/console/my-tickets?per_page=25")
    body = r.get_json()
    assert body["total"] == 70 and len(body["items"]) == 25 and body["page"] == 1
    newest = [s.number for s in sorted(mine, key=lambda s: s.number, reverse=True)]  # ids follow the numbers
    seen = []
    for page in (1, 2, 3):
        seen += _numbers(op.get(f"/api/v1/console/my-tickets?per_page=25&page={page}"))
    assert seen == newest
    # search on the server: a number, a phone tail, a full phone, words; filters; another operator sees none
    target = mine[-1]
    assert _numbers(op.get(f"/api/v1/console/my-tickets?q={target.number}")) == [target.number]
    tail = target.phone[-4:]
    assert set(_numbers(op.get(f"/api/v1/console/my-tickets?phone_tail={tail}"))) == \
        {s.number for s in mine if s.phone.endswith(tail)}
    assert _numbers(op.get(f"/api/v1/console/my-tickets?q={target.phone}")) == [target.number]
    assert _numbers(op.get("/api/v1/console/my-tickets?q=编号K5K")) == [mine[5].number]
    dispatched = op.get("/api/v1/console/my-tickets?status=dispatched&per_page=200").get_json()
    assert dispatched["total"] == sum(1 for s in mine if s.status == lc.DISPATCHED)
    assert api("operator2").get("/api/v1/console/my-tickets").get_json()["total"] == 0
    assert op.get("/api/v1/console/my-tickets?sort=nope").status_code == 422
    assert op.get("/api/v1/console/my-tickets?phone_tail=12").status_code == 422

    # 延期审批: every pending request, the oldest first, paged
    sup = api("supervisor")
    got = []
    for page in (1, 2, 3):
        r = sup.get(f"/api/v1/console/extensions?per_page=10&page={page}").get_json()
        assert r["total"] == 30
        got += [t["number"] for t in r["items"]]
    assert got == [s.number for s in waiting]
    assert api("housing").get("/api/v1/console/extensions").status_code == 403
