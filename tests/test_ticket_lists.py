"""Working lists on the server: GET /api/v1/tickets sorted, filtered and paged (SQLite and PostgreSQL).

Expected lists are computed here from the seeded specs, not by the code under test.
"""
from __future__ import annotations

from datetime import timedelta

import pytest

from hotline.extensions import db
from ticketing import lifecycle as lc
from hotline.clock import utcnow

from .conftest import both_databases
from .list_helpers import bulk_tickets, most_urgent_first

OPEN = "dispatched,in_progress,returned,replied"


@pytest.fixture
def seeded(app):
    with app.app_context():
        now = utcnow()
        housing = bulk_tickets(db.session, "housing", 90, now=now)
        water = bulk_tickets(db.session, "water", 10, prefix="2098", now=now)
        db.Session.remove()
    return now, housing, water


def _all_pages(user, query: str, per_page: int) -> tuple[int, list[dict]]:
    items, page, total = [], 1, None
    while True:
        r = user.get(f"/api/v1/tickets?{query}&per_page={per_page}&page={page}")
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        total = body["total"] if total is None else total
        assert body["total"] == total
        items += body["items"]
        if len(body["items"]) < per_page:
            return total, items
        page += 1


@both_databases
def test_unit_list_is_sorted_counted_and_paged_on_the_server(seeded, api):
    now, housing, water = seeded
    dept = api("housing")
    total, items = _all_pages(dept, f"status={OPEN}&sort=urgency", per_page=7)
    assert total == len(housing) == len(items)
    assert [t["number"] for t in items] == most_urgent_first(housing)
    # the first page alone already holds the most urgent tickets (the old inbox sorted one page)
    first = dept.get(f"/api/v1/tickets?status={OPEN}&sort=urgency&per_page=5").get_json()
    assert first["total"] == 90 and [t["number"] for t in first["items"]] == most_urgent_first(housing)[:5]
    # a department never sees another unit's tickets, whatever it asks for
    other = dept.get("/api/v1/tickets?department=water&per_page=200").get_json()
    assert other["total"] == 0 and other["items"] == []
    sup_total, sup_items = _all_pages(api("supervisor"), "department=water&sort=-deadline", per_page=3)
    assert sup_total == 10
    assert [t["number"] for t in sup_items] == list(reversed(most_urgent_first(water)))


@both_databases
def test_filters_by_deadline_state_type_status_town_and_words(seeded, api):
    now, housing, _ = seeded
    dept = api("housing")

    def numbers(query):
        total, items = _all_pages(dept, query, per_page=50)
        assert total == len(items)
        return sorted(t["number"] for t in items)

    # the request happens a moment after `now`: keep the expectations away from the boundaries
    overdue = sorted(s.number for s in housing if s.due < now - timedelta(minutes=5))
    assert set(overdue) <= set(numbers("deadline=overdue"))
    assert all(s.due < now + timedelta(minutes=5) for s in housing if s.number in numbers("deadline=overdue"))
    near = numbers("deadline=near")
    assert near and all(now - timedelta(minutes=5) <= s.due < now + timedelta(hours=24, minutes=5)
                        for s in housing if s.number in near)
    assert len(numbers("deadline=overdue")) + len(near) + len(numbers("deadline=ok")) == len(housing)
    assert numbers("deadline=none") == []
    assert numbers("type=投诉") == sorted(s.number for s in housing if s.type == "投诉")
    assert numbers(f"status={lc.DISPATCHED}") == sorted(s.number for s in housing if s.status == lc.DISPATCHED)
    town = next(s.town for s in housing if s.town)
    assert numbers(f"town={town}") == sorted(s.number for s in housing if s.town == town)
    combined = numbers(f"type=咨询&status={lc.IN_PROGRESS}&deadline=ok")
    assert combined == sorted(s.number for s in housing if s.type == "咨询" and s.status == lc.IN_PROGRESS
                              and s.number in numbers("deadline=ok"))
    # words of the content, all of them; a number by its prefix
    assert numbers("q=K17K") == [housing[17].number]
    assert numbers("q=路灯 K17K") == [housing[17].number]
    assert numbers("q=路灯 没有这个词") == []
    assert numbers(f"q={housing[42].number}") == [housing[42].number]


@both_databases
def test_phone_tail_finds_the_caller_without_revealing_the_number(seeded, api):
    _, housing, _ = seeded
    plain = next(s for s in housing if not s.confidential)
    secret = next(s for s in housing if s.confidential)
    dept = api("housing")
    r = dept.get(f"/api/v1/tickets?phone_tail={plain.phone[-4:]}&per_page=200").get_json()
    expected = sorted(s.number for s in housing if s.phone.endswith(plain.phone[-4:]) and not s.confidential)
    assert sorted(t["number"] for t in r["items"]) == expected and r["total"] == len(expected)
    assert all(t["caller"]["phone"] != plain.phone and "*" in t["caller"]["phone"] for t in r["items"])
    # a confidential caller is not findable by a unit, even by the tail; the hotline's staff find it
    assert secret.number not in [t["number"] for t in dept.get(
        f"/api/v1/tickets?phone_tail={secret.phone[-4:]}&per_page=200").get_json()["items"]]
    assert secret.number in [t["number"] for t in api("supervisor").get(
        f"/api/v1/tickets?phone_tail={secret.phone[-4:]}&per_page=200").get_json()["items"]]
    # a department's full-number query is ignored, not an oracle for the whole number
    assert dept.get(f"/api/v1/tickets?phone={plain.phone}").get_json()["total"] == len(housing)


@both_databases
def test_q_is_matched_literally(app, api):
    op = api("operator1")
    for content in ("折扣100%兑现", "折扣1000兑现", "a_b 下划线", "axb 下划线"):
        r = op.post("/api/v1/tickets", json={"type": "投诉", "content": content})
        assert r.status_code == 201, r.get_json()

    def contents(q):
        r = op.get("/api/v1/tickets", query_string={"q": q})
        assert r.status_code == 200
        return sorted(t["content"] for t in r.get_json()["items"])

    assert contents("100%") == ["折扣100%兑现"]
    assert contents("a_b") == ["a_b 下划线"]
    assert contents("%") == ["折扣100%兑现"]


@pytest.mark.parametrize("query,field", [
    ("sort=worst", "sort"), ("deadline=soon", "deadline"), ("phone_tail=12", "phone_tail"),
    ("phone_tail=12ab", "phone_tail"), ("per_page=201", "per_page"), ("per_page=0", "per_page"),
    ("page=0", "page"), ("status=open", "status"), ("type=其他", "type"), ("town=nowhere", "town"),
    ("q=" + "长" * 101, "q")])
def test_bad_list_parameters_are_422_naming_the_field(api, query, field):
    r = api("housing").get("/api/v1/tickets?" + query)
    assert r.status_code == 422, (query, r.get_json())
    assert field in r.get_json()["error"]["fields"]


def test_list_parameters_are_in_the_openapi_document(client):
    get = client.get("/api/v1/openapi.json").get_json()["paths"]["/api/v1/tickets"]["get"]
    names = {p["name"] for p in get["parameters"]}
    assert {"sort", "deadline", "town", "phone_tail", "q", "page", "per_page"} <= names
