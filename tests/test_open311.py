"""Open311 GeoReport v2 through a real HTTP client (requests) against the app served on a socket,
in JSON and XML, on SQLite and PostgreSQL; keys issued and revoked with the `hotline` command."""
from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from tests.conftest import both_databases, free_port
from tests.console_helpers import LiveServer
from tests.ticket_helpers import actors

ROOT = Path(__file__).resolve().parents[1]
HOTLINE = str(Path(sys.executable).with_name("hotline"))
LUOYANG = ("23.175", "114.29")  # near 罗阳街道's centre
PHONE, NAME, EMAIL = "13912345678", "李", "li@example.org"


def hotline(database_url: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, DATABASE_URL=database_url, SIP_ENABLED="false")
    env.pop("REDIS_URL", None)
    return subprocess.run([HOTLINE, *args], env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)


@pytest.fixture
def app_config():
    return {"open311_posts_per_address": "1000 per hour"}  # the limit has its own test


@pytest.fixture
def server(app):
    with LiveServer(app, free_port()) as live:
        yield live.url + "/open311/v2"


@pytest.fixture
def key(app):
    """A key issued by the service the CLI calls (test_cli_keys runs the command itself)."""
    from hotline.extensions import db
    from open311.keys import create_key

    with app.app_context():
        try:
            return create_key(db.session, "test-client")
        finally:
            db.Session.remove()


def counts(app):
    from hotline.extensions import db
    from open311.models import Open311Request
    from ticketing.models import Ticket

    with app.app_context():
        try:
            return (db.session.scalar(select(func.count()).select_from(Ticket)),
                    db.session.scalar(select(func.count()).select_from(Open311Request)))
        finally:
            db.Session.remove()


def first_service(base):
    return requests.get(f"{base}/services.json", timeout=30).json()[0]


def xml_errors(response):
    root = ET.fromstring(response.content)
    assert root.tag == "errors"
    return [(int(e.findtext("code")), e.findtext("description")) for e in root.findall("error")]


def submission(key, code, **extra):
    body = {"api_key": key, "service_code": code, "lat": LUOYANG[0], "long": LUOYANG[1],
            "address_string": "罗阳街道北门路 <12> 号 & 对面", "description": "路灯坏了 <script>alert(1)</script>",
            "attribute[type]": "投诉", "first_name": NAME, "last_name": "先生", "phone": PHONE, "email": EMAIL}
    body.update(extra)
    return body


@both_databases
def test_services_and_definitions_in_json_and_xml(app, server):
    services = requests.get(f"{server}/services.json", timeout=30)
    assert services.status_code == 200 and services.headers["Content-Type"].startswith("application/json")
    listed = services.json()
    assert len(listed) > 50  # the whole dispatch catalogue
    one = listed[0]
    assert set(one) >= {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
    xml = requests.get(f"{server}/services.xml", timeout=30)
    assert xml.headers["Content-Type"].startswith("text/xml")
    root = ET.fromstring(xml.content)
    assert root.tag == "services" and len(root.findall("service")) == len(listed)
    assert root.find("service/service_code").text == one["service_code"]
    assert root.find("service/metadata").text == "true"

    definition = requests.get(f"{server}/services/{one['service_code']}.json", timeout=30).json()
    assert definition["service_code"] == one["service_code"]
    values = [v["key"] for v in definition["attributes"][0]["values"]]
    assert values == ["咨询", "求助", "投诉", "举报", "建议", "表扬", "申请"]
    droot = ET.fromstring(requests.get(f"{server}/services/{one['service_code']}.xml", timeout=30).content)
    assert droot.tag == "service_definition"
    assert [v.findtext("key") for v in droot.findall("attributes/attribute/values/value")] == values

    for fmt in ("json", "xml"):
        missing = requests.get(f"{server}/services/c999999.{fmt}", timeout=30)
        assert missing.status_code == 404
        errs = missing.json() if fmt == "json" else xml_errors(missing)
        first = errs[0] if fmt == "xml" else (errs[0]["code"], errs[0]["description"])
        assert first[0] == 404 and "c999999" in first[1]
    assert requests.get(f"{server}/services.yaml", timeout=30).status_code == 404
    nowhere = requests.get(f"{server}/nothing/here.json", timeout=30)
    assert nowhere.status_code == 404 and nowhere.json()[0]["code"] == 404


@both_databases
def test_post_get_token_and_lifecycle_in_json_and_xml(app, server, key):
    from hotline.extensions import db
    from ticketing import service as tickets
    from ticketing.models import Ticket

    code = first_service(server)["service_code"]
    posted = requests.post(f"{server}/requests.json", data=submission(key, code), timeout=30)
    assert posted.status_code == 201, posted.text
    created = posted.json()[0]
    number, token = created["service_request_id"], created["token"]
    posted_xml = requests.post(f"{server}/requests.xml", data=submission(key, code, description="井盖丢失"),
                               timeout=30)
    assert posted_xml.status_code == 201
    xroot = ET.fromstring(posted_xml.content)
    assert xroot.tag == "service_requests"
    number2 = xroot.findtext("request/service_request_id")
    assert number2 and number2 != number

    with app.app_context():  # one record: a ticket with channel open311, its town from lat/long
        ticket = db.session.scalar(select(Ticket).where(Ticket.number == number))
        assert (ticket.channel, ticket.type, ticket.town.code, ticket.status) == ("open311", "投诉", "luoyang", "draft")
        assert ticket.caller_phone == PHONE and ticket.address.startswith("罗阳街道北门路")
        db.Session.remove()

    # the public views never carry the submitter's name, phone or email; XML is escaped
    for fmt in ("json", "xml"):
        r = requests.get(f"{server}/requests/{number}.{fmt}", timeout=30)
        assert r.status_code == 200
        for secret in (PHONE, EMAIL, "李 先生", "先生 李"):
            assert secret not in r.text
    one = requests.get(f"{server}/requests/{number}.json", timeout=30).json()[0]
    assert one["service_request_id"] == number and one["status"] == "open" and one["status_notes"] is None
    assert one["service_code"] == code and one["lat"] == float(LUOYANG[0])
    assert one["requested_datetime"].endswith("+08:00") and one["expected_datetime"].endswith("+08:00")
    raw = requests.get(f"{server}/requests/{number}.xml", timeout=30)
    assert b"&lt;script&gt;" in raw.content and b"<script>" not in raw.content
    xone = ET.fromstring(raw.content).find("request")
    assert xone.findtext("description") == "路灯坏了 <script>alert(1)</script>"
    assert xone.findtext("address") == "罗阳街道北门路 <12> 号 & 对面"

    for fmt in ("json", "xml"):
        t = requests.get(f"{server}/tokens/{token}.{fmt}", timeout=30)
        got = t.json()[0]["service_request_id"] if fmt == "json" else \
            ET.fromstring(t.content).findtext("request/service_request_id")
        assert got == number
        assert requests.get(f"{server}/tokens/nope.{fmt}", timeout=30).status_code == 404
        unknown = requests.get(f"{server}/requests/20990101999999.{fmt}", timeout=30)
        assert unknown.status_code == 404

    # the lifecycle: dispatched to a unit (agency_responsible), replied, approved -> status_notes, closed
    with app.app_context():
        who = actors(db.session)
        for action, actor, body in (("accept", "operator", {}), ("dispatch", "operator", {"main_department": "housing"}),
                                    ("sign", "department", {}), ("reply", "department", {"text": "路灯已修复"})):
            tickets.perform(db.session, number, action, who[actor], body)
        db.Session.remove()
    replied = requests.get(f"{server}/requests/{number}.json", timeout=30).json()[0]
    assert replied["agency_responsible"] == "县住房和城乡规划建设局" and replied["status_notes"] is None  # not approved yet
    with app.app_context():
        who = actors(db.session)
        tickets.perform(db.session, number, "approve_reply", who["operator"], {})
        tickets.perform(db.session, number, "callback", who["operator"], {"satisfaction": "满意", "solved": True})
        db.Session.remove()
    closed = requests.get(f"{server}/requests/{number}.xml", timeout=30)
    croot = ET.fromstring(closed.content).find("request")
    assert croot.findtext("status") == "closed" and croot.findtext("status_notes") == "路灯已修复"

    # list: newest first, filters by id list, status, service_code, dates
    listed = requests.get(f"{server}/requests.json", timeout=30).json()
    assert [r["service_request_id"] for r in listed] == [number2, number]
    assert [r["service_request_id"] for r in requests.get(
        f"{server}/requests.json", params={"status": "open"}, timeout=30).json()] == [number2]
    assert [r["service_request_id"] for r in requests.get(
        f"{server}/requests.json", params={"status": "closed"}, timeout=30).json()] == [number]
    assert requests.get(f"{server}/requests.json", params={"service_code": "c999999"}, timeout=30).json() == []
    assert len(requests.get(f"{server}/requests.json", params={"service_code": code}, timeout=30).json()) == 2
    by_id = requests.get(f"{server}/requests.xml", params={"service_request_id": f"{number},{number2}"}, timeout=30)
    assert len(ET.fromstring(by_id.content).findall("request")) == 2
    assert requests.get(f"{server}/requests.json", params={"start_date": "2020-01-01T00:00:00+08:00",
                                                           "end_date": "2020-02-01T00:00:00+08:00"},
                        timeout=30).json() == []
    assert len(requests.get(f"{server}/requests.json", params={"page_size": 1}, timeout=30).json()) == 1
    for params, words in (({"start_date": "yesterday"}, "start_date"), ({"status": "pending"}, "status"),
                          ({"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"}, "90 days"),
                          ({"page_size": "5000"}, "page_size")):
        bad = requests.get(f"{server}/requests.xml", params=params, timeout=30)
        assert bad.status_code == 400 and words in xml_errors(bad)[0][1]


@both_databases
def test_bad_posts_store_nothing(app, server, key, database_url):
    code = first_service(server)["service_code"]
    before = counts(app)
    cases = [
        (dict(api_key=""), 403, "api_key is required"),
        (dict(api_key="made-up"), 403, "not valid"),
        (dict(service_code="c999999"), 404, "c999999"),
        (dict(service_code=""), 400, "service_code is required"),
        (dict(lat="north"), 400, "lat must be a decimal"),
        (dict(long="200"), 400, "long must be between"),
        (dict(lat="39.9", long="116.4"), 400, "outside every town"),  # Beijing
        (dict(lat="", long="", address_string=""), 400, "location is required"),
        (dict(description=" "), 400, "description is required"),
        (dict(phone="call me"), 400, "phone"),
        (dict(**{"attribute[type]": "闲聊"}), 400, "attribute[type]"),
    ]
    for fmt in ("json", "xml"):
        for change, status, words in cases:
            r = requests.post(f"{server}/requests.{fmt}", data=submission(key, code, **change), timeout=30)
            assert r.status_code == status, (change, r.text)
            errs = [(e["code"], e["description"]) for e in r.json()] if fmt == "json" else xml_errors(r)
            assert errs[0][0] == status and any(words in d for _, d in errs), (change, errs)
    assert counts(app) == before


@both_databases
def test_cli_keys_create_and_revoke(app, server, database_url):
    from hotline.extensions import db
    from open311.models import ApiKey

    created = hotline(database_url, "open311", "keys", "create", "city-app")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert len(key) >= 40 and "not shown again" in created.stderr
    with app.app_context():
        row = db.session.scalar(select(ApiKey).where(ApiKey.name == "city-app"))
        assert row.key_hash != key and key not in row.key_hash  # only a hash is stored
        db.Session.remove()
    again = hotline(database_url, "open311", "keys", "create", "city-app")
    assert again.returncode != 0 and "exists already" in again.stderr
    code = first_service(server)["service_code"]
    assert requests.post(f"{server}/requests.json", data=submission(key, code), timeout=30).status_code == 201

    revoked = hotline(database_url, "open311", "keys", "revoke", "city-app")
    assert revoked.returncode == 0 and "revoked" in revoked.stdout, revoked.stderr
    before = counts(app)
    for fmt in ("json", "xml"):
        r = requests.post(f"{server}/requests.{fmt}", data=submission(key, code), timeout=30)
        assert r.status_code == 403
        errs = [(e["code"], e["description"]) for e in r.json()] if fmt == "json" else xml_errors(r)
        assert errs == [(403, "api_key has been revoked")]
    assert counts(app) == before
    listed = hotline(database_url, "open311", "keys", "list")
    assert "city-app" in listed.stdout and "revoked" in listed.stdout and key not in listed.stdout
