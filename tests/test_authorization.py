"""Authorization generated from the OpenAPI document: every operation x every role against ONE
declarative policy table (POLICY below; ticket actions take their roles from the lifecycle table
the app itself enforces). A route without a policy entry fails the test.

Departments are also scanned: every JSON response and every Socket.IO frame they receive during
the run is searched for the raw phone and ID numbers of the callers (departments see masked numbers
of their own tickets and nothing of other units' or confidential callers): zero hits.
"""
from __future__ import annotations

import io
import json
import re
import threading

import pytest

from tests.conftest import free_port
from tests.console_helpers import PASSWORDS, LiveServer, publish
from tests.telephony_helpers import wait_for

ANON = "anonymous"
ROLES = (ANON, "operator1", "housing", "water", "supervisor", "admin")
PUBLIC = frozenset(ROLES)
SIGNED_IN = frozenset(ROLES) - {ANON}
DESK = frozenset({"operator1", "supervisor", "admin"})
STAFF = frozenset({"supervisor", "admin"})
DEPTS = frozenset({"housing", "water"})
ADMIN = frozenset({"admin"})
OPERATOR = frozenset({"operator1"})
USER_ROLE = {"operator1": "operator", "housing": "department", "water": "department",
             "supervisor": "supervisor", "admin": "admin"}

#: "METHOD /path" -> who passes the role check. Operations on one ticket ({number}) are additionally
#: scoped: a department passes only for tickets its unit holds (others: 404, as if absent).
POLICY: dict[str, frozenset] = {
    "POST /api/v1/auth/token": PUBLIC,
    "POST /api/v1/auth/password": SIGNED_IN,
    "POST /api/v1/auth/revoke": SIGNED_IN,
    "GET /api/v1/users": ADMIN,
    "GET /api/v1/privacy/access-records": ADMIN,
    "POST /api/v1/users/{username}/revoke": ADMIN,
    "POST /api/v1/users/{username}/deactivate": ADMIN,
    "POST /api/v1/users/{username}/activate": ADMIN,
    "GET /api/v1/openapi.json": PUBLIC,
    "GET /api/v1/tickets": SIGNED_IN,
    "POST /api/v1/tickets": DESK,
    "GET /api/v1/tickets/{number}": SIGNED_IN,
    "POST /api/v1/tickets/{number}/contact": DEPTS,
    "GET /api/v1/callers/{phone}/tickets": DESK,
    "GET /api/v1/departments": SIGNED_IN,
    "POST /api/v1/departments": ADMIN,
    "PATCH /api/v1/departments/{code}": ADMIN,
    "GET /api/v1/departments/{code}/history": STAFF,
    "GET /api/v1/towns": SIGNED_IN,
    "POST /api/v1/towns": ADMIN,
    "GET /api/v1/sla/policy": STAFF,
    "PUT /api/v1/sla/policy": ADMIN,
    "GET /api/v1/calendar": STAFF,
    "PUT /api/v1/calendar/{year}": ADMIN,
    "POST /api/v1/routing/suggest": DESK,
    "GET /api/v1/routing/catalogue": STAFF,
    "POST /api/v1/routing/catalogue": ADMIN,
    "PATCH /api/v1/routing/catalogue/{entry_id}": ADMIN,
    "DELETE /api/v1/routing/catalogue/{entry_id}": ADMIN,
    "GET /api/v1/routing/catalogue/history": STAFF,
    "GET /api/v1/routing/model": STAFF,
    "POST /api/v1/routing/model/retrain": ADMIN,
    "GET /api/v1/tickets/{number}/duplicates": DESK,
    "GET /api/v1/calls/{call_id}": SIGNED_IN,
    "GET /api/v1/calls/{call_id}/recording": SIGNED_IN,
    "GET /api/v1/calls/{call_id}/recordings": SIGNED_IN,
    "GET /api/v1/calls/{call_id}/recordings/{leg}": SIGNED_IN,
    "GET /api/v1/tickets/{number}/calls": SIGNED_IN,
    "POST /api/v1/calls/{call_id}/commands/{command}": OPERATOR,
    "GET /api/v1/console/state": OPERATOR,
    "POST /api/v1/console/state": OPERATOR,
    "GET /api/v1/console/calls": DESK,
    "POST /api/v1/console/calls/link": DESK,
    "POST /api/v1/console/register": DESK,
    "GET /api/v1/console/wallboard": STAFF,
    "GET /api/v1/console/deadlines": STAFF,
    "GET /api/v1/console/extensions": STAFF,
    "GET /api/v1/console/my-tickets": DESK,
    "POST /api/v1/console/attachments": SIGNED_IN,
    "GET /api/v1/console/attachments/{att_id}": SIGNED_IN,
    "GET /api/v1/console/transfer-directory": DESK,
    "GET /api/v1/console/callbacks": DESK,
    "POST /api/v1/console/callbacks/{call_id}": DESK,
    "GET /api/v1/console/call-kpis": STAFF,
    "GET /api/v1/knowledge": SIGNED_IN,
    "POST /api/v1/knowledge": STAFF,
    "GET /api/v1/knowledge/{article_id}": SIGNED_IN,
    "PATCH /api/v1/knowledge/{article_id}": STAFF,
    "GET /api/v1/kpis": STAFF | DEPTS,
    "GET /api/v1/kpis/export.csv": STAFF | DEPTS,
    "GET /api/v1/kpis/export.xlsx": STAFF | DEPTS,
    "GET /api/v1/kpis/trend": STAFF | DEPTS,
    "GET /api/v1/kpis/ranking": STAFF,
    "GET /api/v1/reports": STAFF,
    "GET /api/v1/reports/tickets": STAFF,
    "GET /api/v1/reports/export.csv": STAFF,
    "GET /api/v1/reports/export.xlsx": STAFF,
    "GET /api/v1/hotspots": STAFF,
    "GET /api/v1/assessment": STAFF,
    "GET /api/v1/assessment/scheme": STAFF,
    "PUT /api/v1/assessment/scheme": ADMIN,
    "POST /api/v1/assessment/{month}/publish": ADMIN,
    "GET /api/v1/assessment/export.xlsx": STAFF,
    "GET /api/v1/supervision/near-deadline": STAFF | DEPTS,
    "GET /api/v1/supervision/overdue": STAFF | DEPTS,
    "GET /api/v1/supervision/escalations": STAFF,
    "GET /api/v1/supervision/tickets/{number}/cards": STAFF,
    "POST /api/v1/supervision/scan": ADMIN,
    "POST /api/v1/supervision/urgings": STAFF,
    "GET /api/v1/supervision/urgings": STAFF | DEPTS,
    "POST /api/v1/urgings/{urging_id}/acknowledge": DEPTS,
    "GET /api/v1/supervision/callbacks": DESK,
    "POST /api/v1/supervision/callbacks/{number}": DESK,
    "GET /api/v1/sms/messages": ADMIN,
    "GET /api/v1/sms/templates": ADMIN,
    "PUT /api/v1/sms/templates/{key}": ADMIN,
    "GET /api/v1/sms/opt-outs": ADMIN,
    "POST /api/v1/sms/opt-outs": ADMIN,
    "DELETE /api/v1/sms/opt-outs/{phone}": ADMIN,
    "GET /api/v1/quality/rubric": DESK,
    "PUT /api/v1/quality/rubric": ADMIN,
    "GET /api/v1/quality/inspections": DESK,
    "GET /api/v1/quality/inspections/{inspection_id}": DESK,
    "POST /api/v1/quality/inspections/{inspection_id}/score": STAFF,
    "POST /api/v1/quality/inspections/{inspection_id}/appeal": OPERATOR,
    "POST /api/v1/quality/inspections/{inspection_id}/decision": STAFF,
    "POST /api/v1/quality/run": STAFF,
    "GET /api/v1/quality/trends": DESK,
}


def policy_for(method: str, path: str) -> frozenset | None:
    action = re.fullmatch(r"/api/v1/tickets/\{number\}/actions/(\w+)", path)
    if action and method == "POST":
        from ticketing.lifecycle import transition_for

        roles = set(transition_for(action.group(1)).roles)
        return frozenset(u for u, r in USER_ROLE.items() if r in roles)
    return POLICY.get(f"{method} {path}")


CALLERS = {"open": ("13812345678", "11010519491231002X"), "water": ("13987654321", "110105194912310021"),
           "secret": ("13711112222", "44010119900101003X")}


def _valid_id(base17: str) -> str:
    from ticketing.schemas import ID_CHECK, ID_WEIGHTS

    return base17 + ID_CHECK[sum(int(d) * w for d, w in zip(base17, ID_WEIGHTS)) % 11]


CALLERS = {k: (phone, _valid_id(idn[:17])) for k, (phone, idn) in CALLERS.items()}
SECRETS = [s for pair in CALLERS.values() for s in pair]


class Seen:
    """Every body and frame a department received, for the scan."""

    def __init__(self):
        self.texts: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def add(self, where: str, text: str) -> None:
        with self.lock:
            self.texts.append((where, text))

    def leaks(self) -> list[str]:
        with self.lock:
            return [f"{where}: {s}" for where, text in self.texts for s in SECRETS if s in text]


def _token(client, user):
    r = client.post("/api/v1/auth/token", json={"username": user, "password": PASSWORDS[user]})
    assert r.status_code == 200, r.get_json()
    return {"Authorization": f"Bearer {r.get_json()['token']}"}


def _session(base, username):
    import requests

    s = requests.Session()
    page = s.get(base + "/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    r = s.post(base + "/login", data={"csrf_token": token, "username": username,
                                      "password": PASSWORDS[username]}, allow_redirects=False)
    assert r.status_code == 302
    return s


@pytest.fixture
def world(app, client):
    """Tickets: one held by housing (caller on record), one by water, one confidential at housing;
    an upload of housing's; then every role's token."""
    headers = {u: _token(client, u) for u in SIGNED_IN}
    op = headers["operator1"]

    def ticket(dept, key, confidential=False):
        phone, idn = CALLERS[key]
        r = client.post("/api/v1/tickets", headers=op, json={
            "type": "投诉", "content": f"{key} 噪音扰民", "address": "北门路1号",
            "caller": {"name": "李女士", "phone": phone, "id_number": idn, "confidential": confidential}})
        assert r.status_code == 201, r.get_json()
        number = r.get_json()["number"]
        for action, body in (("accept", {}), ("dispatch", {"main_department": dept})):
            assert client.post(f"/api/v1/tickets/{number}/actions/{action}", headers=op, json=body).status_code == 200
        return number

    numbers = {"housing": ticket("housing", "open"), "water": ticket("water", "water"),
               "secret": ticket("housing", "secret", confidential=True)}
    r = client.post("/api/v1/console/attachments", headers=headers["housing"],
                    data={"file": (io.BytesIO(b"%PDF-1.4"), "a.pdf", "application/pdf")})
    assert r.status_code == 201
    return {"headers": headers, "numbers": numbers, "att_id": r.get_json()["id"]}


def _url(path: str, world: dict) -> str:
    values = {"number": world["numbers"]["housing"], "phone": CALLERS["open"][0], "code": "housing",
              "year": "2031", "entry_id": "1", "call_id": "no-such-call", "command": "hangup",
              "att_id": world["att_id"], "leg": "caller", "username": "no-such-user", "article_id": "1", "urging_id": "999999",
              "key": "accepted", "month": "2031-01", "inspection_id": "999999"}
    return re.sub(r"{(\w+)}", lambda m: values[m.group(1)], path)


def test_every_operation_for_every_role_follows_the_policy(app, client, world):
    doc = client.get("/api/v1/openapi.json").get_json()
    seen = Seen()
    operations = [(m.upper(), p) for p, item in doc["paths"].items() for m in item]
    unlisted = [f"{m} {p}" for m, p in operations if policy_for(m, p) is None]
    assert not unlisted, "operations without an entry in POLICY (tests/test_authorization.py):\n" + "\n".join(unlisted)
    assert len(operations) >= 73
    # mutating operations after the reads; revoking one's own tokens last of all
    order = sorted(operations, key=lambda op: (op[1] == "/api/v1/auth/revoke", op[0] != "GET", op[0] == "DELETE"))
    wrong = []
    for role in ROLES:
        for method, path in order:
            allowed = policy_for(method, path)
            url = _url(path, world)
            headers = world["headers"].get(role, {})
            kwargs = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
            r = client.open(url, method=method, headers=headers, **kwargs)
            if role in DEPTS and r.is_json:
                seen.add(f"{role} {method} {url}", r.get_data(as_text=True))
            scoped_elsewhere = role == "water" and "{number}" in path
            if role == ANON:
                ok = r.status_code != 401 if role in allowed else r.status_code == 401
            elif role not in allowed:
                ok = r.status_code in ((403, 404) if scoped_elsewhere else (403,))
            elif scoped_elsewhere:
                ok = r.status_code == 404  # another unit's ticket: as if it did not exist
            else:
                ok = r.status_code not in (401, 403)
            if not ok:
                wrong.append(f"{role:10} {method:6} {path}: {r.status_code} "
                             f"(allowed: {'yes' if role in allowed else 'no'})")
    assert not wrong, "answers that break the policy:\n" + "\n".join(wrong)
    world["headers"].update({u: _token(client, u) for u in SIGNED_IN})
    # the scan looks for what the API really carries: desk staff see the raw number
    r = client.get(f"/api/v1/tickets/{world['numbers']['housing']}", headers=world["headers"]["operator1"])
    assert CALLERS["open"][0] in r.get_data(as_text=True)
    # departments' reads of every list and ticket view: no caller's raw phone or ID number
    # (fresh tokens above: the loop ended by revoking each role's own)
    for dept in DEPTS:
        for url in ["/api/v1/tickets", "/api/v1/supervision/urgings", "/api/v1/supervision/overdue",
                    "/api/v1/supervision/near-deadline"] + \
                [f"/api/v1/tickets/{n}" for n in world["numbers"].values()] + \
                [f"/api/v1/tickets/{n}/calls" for n in world["numbers"].values()]:
            r = client.get(url, headers=world["headers"][dept])
            seen.add(f"{dept} GET {url}", r.get_data(as_text=True))
    assert not seen.leaks(), seen.leaks()


def test_department_socket_frames_hold_no_raw_caller_numbers(app, client, world):
    """Socket.IO frames (a real client on the real server) while tickets of every kind change."""
    import socketio

    seen = Seen()
    with LiveServer(app, free_port()) as live:
        clients = []
        for dept in sorted(DEPTS):
            sio = socketio.Client(http_session=_session(live.url, dept), reconnection=False)
            sio.on("event", lambda frame, dept=dept: seen.add(f"{dept} frame {frame.get('name')}", json.dumps(
                frame, ensure_ascii=False)), namespace="/console")
            sio.connect(live.url, namespaces=["/console"], transports=["websocket"], wait_timeout=10)
            clients.append(sio)
        try:
            op, sup = world["headers"]["operator1"], world["headers"]["supervisor"]
            for key in ("housing", "water", "secret"):
                number = world["numbers"][key]
                client.post(f"/api/v1/tickets/{number}/actions/note", headers=op, json={"note": "补充"})
                client.post("/api/v1/supervision/urgings", headers=sup, json={"number": number, "note": "请尽快"})
            publish(app, "deadline.card", {"number": world["numbers"]["housing"], "card": "yellow",
                                           "deadline_kind": "reply", "department": "housing"})
            assert wait_for(lambda: sum(1 for w, _ in seen.texts if w.startswith("housing")) >= 4, timeout=30), \
                seen.texts
            assert wait_for(lambda: any(w.startswith("water") for w, _ in seen.texts), timeout=30), seen.texts
        finally:
            for sio in clients:
                sio.disconnect()
    assert not seen.leaks(), seen.leaks()


def test_department_sees_no_raw_number_in_a_linked_calls_event(app, client, world):
    """Issue 11 defect 3: the call_linked event's data carried the caller's full number to departments."""
    op, number = world["headers"]["operator1"], world["numbers"]["housing"]
    phone = CALLERS["open"][0]
    publish(app, "call.ringing", {"call_id": "leak1", "caller": phone, "called": "12345"})
    publish(app, "call.answered", {"call_id": "leak1", "caller": phone, "called": "12345"})
    r = client.post("/api/v1/console/calls/link", headers=op, json={"call_id": "leak1", "number": number})
    assert r.status_code == 200, r.get_json()
    body = client.get(f"/api/v1/tickets/{number}", headers=world["headers"]["housing"]).get_data(as_text=True)
    assert phone not in body
