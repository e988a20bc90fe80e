"""SMS notices without a gateway: the outbox row is written in the caller's transaction, notices at
acceptance and at the approved reply (with a signed single-use rating link), opt-outs, templates
admins edit, and the admin page that labels everything 未发送 (not sent)."""
from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlparse

import pytest

from .conftest import both_databases
from .ticket_helpers import COMPLAINT

PHONE = "13812345678"


@pytest.fixture
def wired(app):
    """The notices' subscribers, as a web process wires them (tests wire what they exercise)."""
    from messaging.plugin import state, wire

    wire(app)
    yield app
    state(app).stop()


def _messages(app, **where):
    from sqlalchemy import select

    from hotline.extensions import db
    from messaging.models import SmsMessage

    with app.app_context():
        q = select(SmsMessage).order_by(SmsMessage.id)
        for k, v in where.items():
            q = q.where(getattr(SmsMessage, k) == v)
        rows = list(db.session.scalars(q))
        db.Session.remove()
    return rows


def _wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_queue_sms_is_part_of_the_callers_transaction(app):
    from hotline.extensions import db
    from messaging.exceptions import InvalidPhone, TemplateContextError, UnknownTemplate
    from messaging.service import last_message, opt_out, queue_sms

    with app.app_context():
        s = db.session
        queue_sms(s, PHONE, "otp", {"code": "493021", "minutes": 5})
        s.rollback()
        assert last_message(s, PHONE) is None  # rolled back: nothing queued, nothing will be sent
        msg = queue_sms(s, "+86 138-1234-5678", "otp", {"code": "493021", "minutes": 5})
        s.commit()
        got = last_message(s, PHONE, "otp")
        assert got.id == msg.id and got.status == "unsent" and got.phone == PHONE
        assert got.text == "【12345热线】您的验证码是493021，5分钟内有效，请勿告诉他人。"
        assert got.context == {"code": "493021", "minutes": 5}
        for bad in ("12345", "02012345678", None, "1381234567x"):
            with pytest.raises(InvalidPhone):
                queue_sms(s, bad, "otp", {"code": "1", "minutes": 5})
        with pytest.raises(UnknownTemplate):
            queue_sms(s, PHONE, "nope", {})
        with pytest.raises(TemplateContextError):
            queue_sms(s, PHONE, "accepted", {"number": "1"})
        # opted out: notices are dropped, one-time codes still go
        assert opt_out(s, PHONE, "sms:TD") is True
        assert queue_sms(s, PHONE, "accepted", {"number": "20260101000001", "deadline": "1月5日"}) is None
        assert queue_sms(s, PHONE, "otp", {"code": "111111", "minutes": 5}) is not None
        s.commit()
        assert [m.template_key for m in _messages(app, phone=PHONE)] == ["otp", "otp"]
        db.Session.remove()


def test_notices_at_acceptance_and_approved_reply_with_a_single_use_rating_link(wired, api):
    from hotline.extensions import db
    from messaging.exceptions import RatingLinkError
    from messaging.links import check_rating_token, rating_token
    from ticketing.models import Ticket

    op, dept, sup = api("operator1"), api("housing"), api("supervisor")
    body = dict(COMPLAINT, caller=dict(COMPLAINT.get("caller", {}), phone=PHONE))
    number = op.post("/api/v1/tickets", json=body).get_json()["number"]
    accepted = _wait_for(lambda: _messages(wired, template_key="accepted"))
    with wired.app_context():
        reply_by = db.session.query(Ticket).filter_by(number=number).one().reply_by
        db.Session.remove()
    from hotline.clock import to_local
    local = to_local(reply_by)
    assert [m.text for m in accepted] == [
        f"【12345热线】您的诉求已受理，工单号{number}，我们将在{local.month}月{local.day}日前答复您。回复TD退订"]
    assert accepted[0].phone == PHONE and accepted[0].status == "unsent"
    # a landline caller gets nothing; a ticket without a phone gets nothing
    op.post("/api/v1/tickets", json=dict(body, caller={"phone": "075212345678"}))

    for who, action, data in ((op, "accept", {}), (op, "dispatch", {"main_department": "housing"}),
                              (dept, "sign", {}), (dept, "reply", {"text": "已处理"}), (sup, "approve_reply", {})):
        assert who.act(number, action, data).status_code == 200, action
    reply = _wait_for(lambda: _messages(wired, template_key="reply"))
    assert len(reply) == 1 and reply[0].ticket_id == accepted[0].ticket_id
    url = re.search(r"(http\S+)", reply[0].text).group(1)
    assert reply[0].text.startswith(f"【12345热线】您的诉求（工单号{number}）已有答复，请查看并评价：http://")
    parsed = urlparse(url)
    assert parsed.path == f"/t/{number}/rate"
    sig = parse_qs(parsed.query)["sig"][0]
    assert len(_messages(wired, phone=PHONE)) == 2  # the landline ticket queued nothing

    with wired.test_request_context():
        s = db.session
        check_rating_token(s, number, sig)  # usable, not consumed by looking
        with pytest.raises(RatingLinkError) as e:
            check_rating_token(s, "20200101000001", sig)
        assert e.value.reason == "wrong_ticket" and e.value.status == 403
        with pytest.raises(RatingLinkError) as e:
            check_rating_token(s, number, sig[:-2] + ("AA" if not sig.endswith("AA") else "BB"))
        assert e.value.reason == "invalid"
        check_rating_token(s, number, sig, consume=True)
        s.commit()
        with pytest.raises(RatingLinkError) as e:
            check_rating_token(s, number, sig, consume=True)
        assert e.value.reason == "used" and e.value.status == 409
        s.rollback()
        check_rating_token(s, number, rating_token(number))  # a newer link of the ticket is its own token
        db.Session.remove()


def test_notices_still_batched_at_app_shutdown_go_out(app, api):
    """The notices' batcher belongs to the app (``app.extensions["messaging"]``) and is flushed when
    the app shell shuts the app down, not left in a module for whichever app comes next."""
    from hotline.plugins import shutdown
    from messaging.plugin import state, wire

    wire(app)
    state(app).notices.batcher.window = 3600.0  # nothing goes out by the clock here
    body = dict(COMPLAINT, caller=dict(COMPLAINT.get("caller", {}), phone=PHONE))
    assert api("operator1").post("/api/v1/tickets", json=body).status_code == 201
    assert _messages(app, template_key="accepted") == []
    shutdown(app)
    assert [m.phone for m in _wait_for(lambda: _messages(app, template_key="accepted"))] == [PHONE]


def test_rating_link_expires(app):
    from itsdangerous import TimestampSigner, URLSafeTimedSerializer

    from hotline.extensions import db
    from messaging.exceptions import RatingLinkError
    from messaging.links import SALT, check_rating_token

    with app.test_request_context():
        days = app.config["HOTLINE"].sms_rating_link_days
        class Signed31DaysAgo(TimestampSigner):
            def get_timestamp(self) -> int:
                return int(time.time()) - days * 86400 - 10

        old = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=SALT, signer=Signed31DaysAgo)
        sig = old.dumps({"n": "20260101000001", "j": "abcd"})
        with pytest.raises(RatingLinkError) as e:
            check_rating_token(db.session, "20260101000001", sig)
        assert e.value.reason == "expired" and e.value.status == 410
        db.Session.remove()


def test_admin_page_and_api_show_unsent_messages_masked(app, api, client):
    from hotline.extensions import db
    from messaging.service import queue_sms

    with app.app_context():
        queue_sms(db.session, PHONE, "otp", {"code": "493021", "minutes": 5})
        queue_sms(db.session, "13900001111", "accepted", {"number": "20260101000001", "deadline": "1月5日"})
        db.session.commit()
        db.Session.remove()
    admin = api("admin")
    r = admin.get("/api/v1/sms/messages")
    assert r.status_code == 200
    data = r.get_json()
    assert data["gateway_configured"] is False and data["total"] == 2 and data["counts"] == {"unsent": 2}
    assert [m["phone"] for m in data["items"]] == ["139****1111", "138****5678"]
    assert all(m["status_label"] == "未发送" for m in data["items"])
    assert "493021" not in r.get_data(as_text=True)  # staff never read a citizen's code
    assert admin.get("/api/v1/sms/messages?status=bogus").status_code == 422
    assert admin.get("/api/v1/sms/messages?per_page=0").get_json()["error"]["fields"]["per_page"]
    assert api("operator1").get("/api/v1/sms/messages").status_code == 403

    client.post("/login", data={"username": "admin", "password": "admin-pass",
                                "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"',
                                                        client.get("/login").get_data(as_text=True)).group(1)})
    page = client.get("/admin/sms").get_data(as_text=True)
    assert 'id="sms-no-gateway"' in page and "未发送" in page and "139****1111" in page
    assert PHONE not in page and "493021" not in page


def test_admins_edit_templates_within_their_variables(app, api):
    from hotline.extensions import db
    from messaging.service import queue_sms

    admin = api("admin")
    items = admin.get("/api/v1/sms/templates").get_json()["items"]
    assert {t["key"]: t["variables"] for t in items} == {
        "otp": ["code", "minutes"], "accepted": ["number", "deadline"], "reply": ["number", "rating_url"]}
    bad = admin.put("/api/v1/sms/templates/accepted", json={"text": "工单{number}，{secret}"})
    assert bad.status_code == 422 and "secret" in bad.get_json()["error"]["fields"]["text"]
    assert admin.put("/api/v1/sms/templates/accepted", json={"text": "{number"}).status_code == 422
    assert admin.put("/api/v1/sms/templates/accepted", json={"text": "   "}).status_code == 422
    assert admin.put("/api/v1/sms/templates/nope", json={"text": "x"}).status_code == 422
    assert admin.put("/api/v1/sms/templates/accepted", json=["x"]).status_code == 422
    assert api("supervisor").put("/api/v1/sms/templates/accepted", json={"text": "x"}).status_code == 403
    ok = admin.put("/api/v1/sms/templates/accepted", json={"text": "【博罗12345】已受理 {number}，{deadline}前答复"})
    assert ok.status_code == 200 and ok.get_json()["customised"] is True
    with app.app_context():
        msg = queue_sms(db.session, PHONE, "accepted", {"number": "20260101000001", "deadline": "1月5日"})
        assert msg.text == "【博罗12345】已受理 20260101000001，1月5日前答复"
        db.session.rollback()
        db.Session.remove()
    restored = admin.put("/api/v1/sms/templates/accepted", json={"text": None}).get_json()
    assert restored["customised"] is False and restored["text"] == restored["default"]


def test_opt_out_by_reply_and_by_admin(app, api, client):
    from hotline.extensions import db
    from messaging.service import is_opted_out

    from dataclasses import replace

    app.config["HOTLINE"] = replace(app.config["HOTLINE"], sms_inbound_token="kannel-secret")
    assert client.get("/sms/kannel/inbound?token=wrong&from=%2B8613812345678&text=TD").status_code == 403
    r = client.get("/sms/kannel/inbound?token=kannel-secret&from=%2B8613812345678&text=td")
    assert r.status_code == 200 and "退订" in r.get_data(as_text=True)
    with app.app_context():
        assert is_opted_out(db.session, PHONE)
        db.Session.remove()
    admin = api("admin")
    listed = admin.get("/api/v1/sms/opt-outs").get_json()
    assert listed["total"] == 1 and listed["items"][0]["phone"] == "138****5678" and listed["items"][0]["source"] == "sms:TD"
    assert admin.post("/api/v1/sms/opt-outs", json={"phone": "12"}).status_code == 422
    assert admin.post("/api/v1/sms/opt-outs", json={"phone": "13900001111"}).status_code == 201
    assert admin.client.delete(f"/api/v1/sms/opt-outs/{PHONE}", headers=admin.headers).status_code == 200
    assert admin.client.delete(f"/api/v1/sms/opt-outs/{PHONE}", headers=admin.headers).status_code == 404
    with app.app_context():
        assert not is_opted_out(db.session, PHONE) and is_opted_out(db.session, "13900001111")
        db.Session.remove()


@both_databases
def test_migration_0015_matches_the_models_and_goes_down_and_up(database_url):
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import create_engine, inspect

    from hotline.app.dbadmin import alembic_config, import_models, upgrade
    from hotline.extensions import Base

    import_models()
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
        assert [d for d in diff if "sms_" in str(d) or "rating_link" in str(d)] == []
        if database_url.startswith("sqlite"):  # PostgreSQL's schema is shared by this process's tests
            command.downgrade(alembic_config(database_url), "0014")
            assert "sms_messages" not in inspect(engine).get_table_names()
            upgrade(database_url)
            assert "sms_messages" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)  # the production database (SQL casts)
def test_catch_up_queues_notices_whose_job_was_lost_once(app, api):
    """The subscribers are not wired here: as if the process died between the commit and the job."""
    from hotline.extensions import db
    from messaging.notices import catch_up

    op, dept, sup = api("operator1"), api("housing"), api("supervisor")
    number = op.post("/api/v1/tickets", json=dict(COMPLAINT, caller={"phone": PHONE})).get_json()["number"]
    op.post("/api/v1/tickets", json=dict(COMPLAINT, caller={"phone": "075212345678"}))  # a landline: nothing
    for who, action, data in ((op, "accept", {}), (op, "dispatch", {"main_department": "housing"}),
                              (dept, "sign", {}), (dept, "reply", {"text": "已处理"}), (sup, "approve_reply", {})):
        assert who.act(number, action, data).status_code == 200, action
    assert _messages(app) == []
    with app.test_request_context():
        assert catch_up(db.session) == 2
        assert catch_up(db.session) == 0  # idempotent
        db.Session.remove()
    assert [(m.template_key, m.phone) for m in _messages(app)] == [("accepted", PHONE), ("reply", PHONE)]
    assert f"工单号{number}" in _messages(app)[1].text and f"/t/{number}/rate?sig=" in _messages(app)[1].text
