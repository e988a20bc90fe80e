"""Supervision's working lists paged on the server (SQLite and PostgreSQL): overdue grouped one row
per ticket with its worst card first, 督办 with state and owner, 通报, the callback queue."""
from __future__ import annotations

from datetime import timedelta

import pytest

from hotline.clock import utcnow
from hotline.extensions import db
from ticketing import lifecycle as lc

from .conftest import both_databases
from .list_helpers import bulk_tickets, make_all_overdue


@pytest.fixture
def urged(app, api):
    """30 overdue housing tickets urged as a unit, 7 acknowledged, the rest escalated (通报)."""
    from supervision.scan import scan_escalations

    with app.app_context():
        specs = bulk_tickets(db.session, "housing", 30)
        make_all_overdue(db.session, specs)
        bulk_tickets(db.session, "water", 3, prefix="2098")
        db.Session.remove()
    r = api("supervisor").post("/api/v1/supervision/urgings", json={"department": "housing", "note": "集中督办"})
    assert r.status_code == 201, r.get_json()
    urgings = sorted(r.get_json()["urgings"], key=lambda u: u["id"])
    assert len(urgings) == 30
    by_number = {u["number"]: u["id"] for u in urgings}
    working = [s.number for s in specs if s.status == lc.IN_PROGRESS]
    others = [s.number for s in specs if s.status != lc.IN_PROGRESS]
    housing = api("housing")
    acked = [by_number[n] for n in working[:4] + others[:3]]
    for uid in acked:
        assert housing.post(f"/api/v1/urgings/{uid}/acknowledge", json={"note": "已收到"}).status_code == 200
    for number in working[:7]:  # answered: never escalated
        assert housing.act(number, "reply", {"text": "已处理"}).status_code == 200
    with app.app_context():
        escalated = scan_escalations(db.session, utcnow() + timedelta(days=60))
        db.Session.remove()
    assert {e["urging_id"] for e in escalated} == {by_number[n] for n in working[7:] + others}
    return specs, urgings, acked, escalated


def _pages(user, url, per_page):
    items, page = [], 1
    while True:
        body = user.get(f"{url}{'&' if '?' in url else '?'}page={page}&per_page={per_page}").get_json()
        items += body["items"]
        if page * per_page >= body["total"]:
            return body["total"], items
        page += 1


@both_databases
def test_urgings_and_escalations_have_state_owner_and_pages(urged, api):
    specs, urgings, acked, escalated = urged
    sup = api("supervisor")
    total, items = _pages(sup, "/api/v1/supervision/urgings", 8)
    assert total == 30 and len(items) == 30 and len({i["id"] for i in items}) == 30
    assert [i["id"] for i in items] == sorted((u["id"] for u in urgings), reverse=True)
    assert all(i["urged_by"] == "supervisor" and i["unit"]["code"] == "housing" for i in items)
    escalated_ids = {e["urging_id"] for e in escalated}
    for i in items:
        want = "escalated" if i["id"] in escalated_ids else "acknowledged" if i["id"] in acked else "open"
        assert i["state"] == want, i
    for state in ("open", "acknowledged", "escalated"):
        t, got = _pages(sup, f"/api/v1/supervision/urgings?state={state}", 5)
        assert t == len(got) == sum(1 for i in items if (i["state"] == state if state != "acknowledged"
                                                        else i["acknowledged_at"] is not None)) > 0
    assert sup.get("/api/v1/supervision/urgings?state=late").status_code == 422
    # the unit sees its own urgings only; another unit none
    assert api("housing").get("/api/v1/supervision/urgings").get_json()["total"] == 30
    assert api("water").get("/api/v1/supervision/urgings").get_json()["total"] == 0

    total, esc = _pages(sup, "/api/v1/supervision/escalations", 4)
    assert total == len(escalated) == len(esc)
    assert {e["urging"]["id"] for e in esc} == escalated_ids
    assert all(e["unit"]["code"] == "housing" and e["issued_by"] == "supervisor" for e in esc)
    assert {e["state"] for e in esc} <= {"open", "acknowledged"}
    assert sup.get("/api/v1/supervision/escalations?department=water").get_json()["total"] == 0
    assert sup.get("/api/v1/supervision/escalations?per_page=500").status_code == 422


@both_databases
def test_overdue_list_is_one_row_per_ticket_worst_card_first(app, api):
    with app.app_context():
        specs = bulk_tickets(db.session, "housing", 45)
        make_all_overdue(db.session, specs)
        db.Session.remove()
    sup = api("supervisor")
    total, rows = _pages(sup, "/api/v1/supervision/overdue", 10)
    watched = [s for s in specs if s.status in (lc.DISPATCHED, lc.IN_PROGRESS)]  # returned: no running card
    assert total == len(rows) == len(watched)
    assert len({r["number"] for r in rows}) == total
    unsigned = {s.number for s in watched if s.status == lc.DISPATCHED}
    for r in rows:
        assert r["card"] == "red" and r["cards"][0]["card"] == "red"
        assert len(r["cards"]) == (2 if r["number"] in unsigned else 1)
        assert r["deadline_at"] == min(c["deadline_at"] for c in r["cards"])
    assert [r["deadline_at"] for r in rows] == sorted(r["deadline_at"] for r in rows)
    assert api("housing").get("/api/v1/supervision/overdue?per_page=1").get_json()["total"] == total
    assert api("water").get("/api/v1/supervision/overdue").get_json()["total"] == 0
    # paged in the database: a page of 10 loads the page's tickets, not the whole backlog
    from sqlalchemy import event

    from ticketing.models import Ticket

    loaded = []

    def on_load(target, context):
        loaded.append(target.number)

    event.listen(Ticket, "load", on_load)
    try:
        body = sup.get("/api/v1/supervision/overdue?page=2&per_page=10").get_json()
    finally:
        event.remove(Ticket, "load", on_load)
    assert [r["number"] for r in body["items"]] == [r["number"] for r in rows[10:20]]
    assert sorted(set(loaded)) == sorted(r["number"] for r in rows[10:20])


def test_list_routes_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in ("overdue", "near-deadline", "escalations", "urgings", "callbacks"):
        params = {p["name"] for p in paths[f"/api/v1/supervision/{path}"]["get"]["parameters"]}
        assert {"page", "per_page"} <= params
