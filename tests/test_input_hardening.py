"""Hostile input (issue 11, defects 9 and 10): every one answered 400/422 naming the field, nothing
stored, nothing answered 500 — on PostgreSQL too, which rejects NUL and out-of-range integers that
SQLite would have swallowed."""
from __future__ import annotations

import io
import json

import pytest

from .conftest import both_databases
from .ticket_helpers import COMPLAINT

BIG = "99999999999999999999"


def total(op) -> int:
    return op.get("/api/v1/tickets").get_json()["total"]


def error(r, status: int, *fields: str) -> dict:
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True)[:300])
    err = r.get_json()["error"]
    assert err["code"] and err["message"]
    assert set(fields) <= set(err["fields"]), err
    assert all(err["fields"][f] for f in fields)
    return err


@both_databases
def test_nul_characters_are_refused_everywhere(api, client):
    op = api("operator1")
    before = total(op)
    for body, field in (({**COMPLAINT, "content": "油烟\x00很大"}, "content"),
                        ({**COMPLAINT, "caller": {"name": "张\x00"}}, "caller.name"),
                        ({**COMPLAINT, "address": "\x00"}, "address")):
        error(op.post("/api/v1/tickets", json=body), 400, field)
    for url, field in (("/api/v1/tickets?q=%00", "q"), ("/api/v1/tickets?status=draft%00", "status"),
                       ("/api/v1/tickets?department=hou%00sing", "department"),
                       ("/api/v1/knowledge?q=%00", "q"), ("/api/v1/tickets/2026%00", "number"),
                       ("/api/v1/callers/138%00/tickets", "phone")):
        error(op.get(url), 400, field)
    # without logging in: the token endpoint (and the login form) see the NUL before the database does
    error(client.post("/api/v1/auth/token", json={"username": "admin\x00", "password": "x"}), 400, "username")
    error(client.post("/login", data={"username": "a\x00", "password": "x"}), 400, "username")
    # a NUL in a multipart upload's file name
    housing = api("housing")
    r = housing.client.post("/api/v1/console/attachments", headers=housing.headers,
                            data={"file": (io.BytesIO(b"%PDF-1.4"), "a\x00.pdf", "application/pdf")})
    assert r.status_code == 400, r.get_data(as_text=True)
    assert total(op) == before


@both_databases
def test_deeply_nested_json_is_refused_before_parsing(api, client):
    op = api("operator1")
    deep = "[" * 1000 + "]" * 1000
    for url, headers in (("/api/v1/tickets", op.headers), ("/api/v1/auth/token", {})):
        r = client.post(url, data=deep, headers={**headers, "Content-Type": "application/json"})
        error(r, 400, "")
    nested = {**COMPLAINT, "caller": {"name": json.loads("[" * 40 + "]" * 40)}}
    error(op.post("/api/v1/tickets", json=nested), 400, "")
    # brackets inside strings are text, not nesting
    r = op.post("/api/v1/tickets", json={**COMPLAINT, "content": "[" * 200 + "{" * 200})
    assert r.status_code == 201, r.get_json()
    assert total(op) == 1


@both_databases
def test_ids_beyond_the_database_range(api):
    op, admin = api("operator1"), api("admin")
    for url in (f"/api/v1/knowledge/{BIG}", f"/api/v1/urgings/{BIG}/acknowledge"):
        assert op.get(url).status_code in (404, 405)
    # no such resource (werkzeug answers 405 when another method's rule matched the path's shape)
    assert admin.patch(f"/api/v1/knowledge/{BIG}", json={"title": "x"}).status_code in (404, 405)
    assert admin.patch(f"/api/v1/routing/catalogue/{BIG}", json={"matter": "x"}).status_code in (404, 405)
    assert admin.put("/api/v1/calendar/99999999999", json={}).status_code in (404, 405)
    error(admin.get(f"/api/v1/routing/catalogue/history?entry={BIG}"), 422, "entry")
    error(op.get("/api/v1/routing/catalogue/history?entry=%C2%B2"), 403)  # role first; no 500 on "²"
    error(admin.get("/api/v1/routing/catalogue/history?entry=%C2%B2"), 422, "entry")
    error(op.get("/api/v1/tickets/x/duplicates?window_hours=%C2%B2"), 422, "window_hours")
    number = op.post("/api/v1/tickets", json=COMPLAINT).get_json()["number"]
    op.act(number, "accept")
    error(op.act(number, "answer_directly", {"article_id": int(BIG)}), 400, "article_id")
    error(op.act(number, "answer_directly", {"article_id": 2**31}), 400, "article_id")
    error(op.act(number, "answer_directly", {"article_id": "abc"}), 422, "article_id")
    error(admin.patch("/api/v1/knowledge/1", json={"version": int(BIG)}), 400, "version")
    assert op.get(f"/api/v1/tickets/{number}").get_json()["status"] == "accepted"


@both_databases
@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
                                   "1900-01-01T08:00:00+08:00", "2000-01-01T08:00:00+08:00"])
def test_received_at_outside_a_sane_window(api, value):
    op = api("operator1")
    error(op.post("/api/v1/tickets", json={**COMPLAINT, "received_at": value}), 422, "received_at")
    assert total(op) == 0
    if not value.startswith("2000"):  # a filter may reach back further than a new ticket
        error(op.get(f"/api/v1/tickets?from={value.replace('+', '%2B')}"), 422, "from")
        error(api("supervisor").get(f"/api/v1/kpis?to={value[:10]}"), 422, "to")


def test_urging_due_date_outside_the_window(api):
    op = api("operator1")
    number = op.post("/api/v1/tickets", json=COMPLAINT).get_json()["number"]
    op.act(number, "accept")
    op.act(number, "dispatch", {"main_department": "housing"})
    sup = api("supervisor")
    error(sup.post("/api/v1/supervision/urgings", json={"number": number, "note": "快",
                                                        "due_at": "0001-01-01T00:00:00+14:00"}), 422, "due_at")
    error(sup.act(number, "urge", {"note": "快", "due_at": "0001-01-01T00:00:00+14:00"}), 422, "due_at")


@both_databases
def test_q_is_a_literal_text_search(api):
    op = api("operator1")
    op.post("/api/v1/tickets", json={**COMPLAINT, "content": "噪音扰民"})
    op.post("/api/v1/tickets", json={**COMPLAINT, "content": "打折50%_促销"})
    for q, hits in (("%", 1), ("_", 1), ("50%_", 1), ("噪音", 1), ("%噪%", 0), ("\\", 0)):
        assert op.get("/api/v1/tickets", query_string={"q": q}).get_json()["total"] == hits, q


def test_a_bad_town_code_is_reported_as_a_town(api):
    admin = api("admin")
    err = error(admin.post("/api/v1/towns", json={"code": "Bad Code!", "name": "某镇"}), 422, "code")
    assert "town" in err["message"] and "department" not in err["message"]
    err = error(admin.post("/api/v1/towns", json={"code": "t" + "x" * 39, "name": "某镇"}), 422, "code")
    assert "town" in err["message"]
    error(admin.post("/api/v1/towns", json={"code": "newtown", "name": "镇" * 99}), 422, "name")


@both_databases
def test_a_reply_cites_only_its_own_units_uploads(api):
    op, housing, water = api("operator1"), api("housing"), api("water")

    def upload(who, name):
        r = who.client.post("/api/v1/console/attachments", headers=who.headers,
                            data={"file": (io.BytesIO(b"%PDF-1.4 " + name.encode()), name, "application/pdf")})
        assert r.status_code == 201, r.get_json()
        return r.get_json()

    mine, theirs = upload(housing, "整改照片.pdf"), upload(water, "水务.pdf")
    number = op.post("/api/v1/tickets", json=COMPLAINT).get_json()["number"]
    op.act(number, "accept")
    op.act(number, "dispatch", {"main_department": "housing"})
    housing.act(number, "sign")
    events_before = len(housing.get(f"/api/v1/tickets/{number}").get_json()["events"])
    for cited, field in (([theirs], "attachments.0.id"), ([mine, theirs], "attachments.1.id"),
                         ([{"id": "f" * 32}], "attachments.0.id"), (["anything"], "attachments.0"),
                         ([{"id": "../../etc/passwd"}], "attachments.0.id"), ([{"name": "x"}], "attachments.0.id")):
        error(housing.act(number, "reply", {"text": "已整改", "attachments": cited}), 422, field)
    t = housing.get(f"/api/v1/tickets/{number}").get_json()
    assert t["status"] == "in_progress" and len(t["events"]) == events_before
    # the server's metadata is stored, not the client's claims about the file
    r = housing.act(number, "reply", {"text": "已整改", "attachments": [{**mine, "name": "伪造.exe", "size": 1}]})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["events"][-1]["data"]["attachments"] == [mine]


@both_databases
def test_routing_suggestion_is_bounded_to_the_suggestion_shape(api):
    op = api("operator1")
    suggestion = op.post("/api/v1/routing/suggest", json={"text": COMPLAINT["content"]}).get_json()
    error(op.post("/api/v1/tickets", json={**COMPLAINT, "routing_suggestion": {"junk": "x" * 1_500_000}}),
          422, "routing_suggestion.junk")
    error(op.post("/api/v1/tickets", json={**COMPLAINT, "routing_suggestion": {
        **suggestion, "departments": suggestion["departments"] * 5}}), 422, "routing_suggestion.departments")
    evil = dict(suggestion, departments=[{**suggestion["departments"][0], "name": "名" * 5000}])
    error(op.post("/api/v1/tickets", json={**COMPLAINT, "routing_suggestion": evil}),
          422, "routing_suggestion.departments.0.name")
    assert total(op) == 0
    r = op.post("/api/v1/tickets", json={**COMPLAINT, "routing_suggestion": suggestion})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["routing_suggestion"]["departments"][0]["code"] == suggestion["departments"][0]["code"]
