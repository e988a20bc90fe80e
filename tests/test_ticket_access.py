"""Roles, department isolation, masking, sessions with CSRF, bearer tokens."""
from __future__ import annotations

import re

from .ticket_helpers import COMPLAINT


def dispatched(op, dept="housing", **extra):
    number = op.post("/api/v1/tickets", json={**COMPLAINT, **extra}).get_json()["number"]
    op.act(number, "accept")
    op.act(number, "dispatch", {"main_department": dept})
    return number


def test_department_sees_only_its_tickets(api):
    op, housing, water = api("operator1"), api("housing"), api("water")
    mine = dispatched(op, "housing")
    theirs = dispatched(op, "water")
    listed = [t["number"] for t in housing.get("/api/v1/tickets").get_json()["items"]]
    assert listed == [mine]
    assert housing.get(f"/api/v1/tickets/{theirs}").status_code == 404
    for action, body in (("sign", {}), ("note", {"note": "x"}), ("return", {"note": "x"})):
        assert housing.act(theirs, action, body).status_code == 404
    assert water.get(f"/api/v1/tickets/{theirs}").status_code == 200
    # co-departments see the ticket and may add notes but not sign
    op.act(theirs, "reassign", {"main_department": "water", "co_departments": ["housing"]})
    assert housing.get(f"/api/v1/tickets/{theirs}").status_code == 200
    assert housing.act(theirs, "note", {"note": "协办意见"}).status_code == 200
    assert housing.act(theirs, "sign").status_code == 403
    # departments cannot register tickets or look up callers
    assert housing.post("/api/v1/tickets", json=COMPLAINT).status_code == 403
    assert housing.get("/api/v1/callers/13812345678/tickets").status_code == 403


def test_masking_for_departments(api):
    op, housing, sup = api("operator1"), api("housing"), api("supervisor")
    number = dispatched(op)
    assert op.get(f"/api/v1/tickets/{number}").get_json()["caller"] == {
        "name": "张先生", "phone": "13812345678", "id_number": "11010519491231002X", "confidential": False}
    seen = housing.get(f"/api/v1/tickets/{number}").get_json()["caller"]
    assert seen["phone"] == "138****5678" and seen["id_number"] == "110105********002X"
    assert sup.get(f"/api/v1/tickets/{number}").get_json()["caller"]["phone"] == "13812345678"
    secret = dispatched(op, caller={**COMPLAINT["caller"], "confidential": True})
    hidden = housing.get(f"/api/v1/tickets/{secret}").get_json()
    assert hidden["caller"] == {"name": None, "phone": None, "id_number": None, "confidential": True}
    listed = housing.get("/api/v1/tickets").get_json()["items"]
    assert all("13812345678" not in str(t) and "张先生" not in str(t) for t in listed if t["number"] == secret)
    assert "11010519491231002X" not in str(listed)


def test_roles_on_admin_endpoints(api):
    op, admin = api("operator1"), api("admin")
    assert op.post("/api/v1/departments", json={"code": "newunit", "name": "县新单位"}).status_code == 403
    assert admin.post("/api/v1/departments", json={"code": "newunit", "name": "县新单位"}).status_code == 201
    assert op.get("/api/v1/sla/policy").status_code == 403


def test_unauthenticated_and_bad_tokens(client):
    assert client.get("/api/v1/tickets").status_code == 401
    r = client.get("/api/v1/tickets", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "unauthorized"
    assert client.post("/api/v1/auth/token", json={"username": "operator1", "password": "wrong"}).status_code == 401
    assert client.post("/api/v1/auth/token", json={"username": "operator1"}).status_code == 422
    assert client.post("/api/v1/auth/token", data="x").status_code == 400


def csrf_from(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_session_login_requires_csrf(client):
    page = client.get("/login")
    assert page.status_code == 200 and "工作人员登录" in page.get_data(as_text=True)
    r = client.post("/login", data={"username": "operator1", "password": "operator1-pass"})
    assert r.status_code == 400  # no CSRF token
    token = csrf_from(client.get("/login").get_data(as_text=True))
    r = client.post("/login", data={"username": "operator1", "password": "wrong", "csrf_token": token})
    assert r.status_code == 401 and "用户名或密码错误" in r.get_data(as_text=True)
    r = client.post("/login", data={"username": "operator1", "password": "operator1-pass", "csrf_token": token})
    assert r.status_code == 302
    # cookie session: reads work, writes need the X-CSRFToken header
    assert client.get("/api/v1/tickets").status_code == 200
    r = client.post("/api/v1/tickets", json=COMPLAINT)
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "csrf_failed"
    r = client.post("/api/v1/tickets", json=COMPLAINT, headers={"X-CSRFToken": token})
    assert r.status_code == 201
    # login redirect targets stay on this site
    client.post("/logout", data={"csrf_token": token})
    r = client.post("/login?next=//evil.example/x", data={"username": "operator1", "password": "operator1-pass",
                                                          "csrf_token": csrf_from(client.get("/login").get_data(as_text=True))})
    assert r.headers["Location"] in ("/console", "http://localhost/console")


def test_healthz_and_openapi(client):
    assert client.get("/healthz").get_json() == {"status": "ok", "reasons": []}
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    for path in ("/api/v1/auth/token", "/api/v1/tickets", "/api/v1/tickets/{number}",
                 "/api/v1/tickets/{number}/actions/dispatch", "/api/v1/departments"):
        assert path in doc["paths"]
    assert "TicketIn" in doc["components"]["schemas"]
