"""SMS through a real Kannel (bearerbox + smsbox) to Kannel's test SMSC (fakesmsc): the text the
"phone network" receives, delivery reports back to the app, a citizen's TD reply, and an outage:
messages queued while the gateway is down are retried and delivered exactly once when it is back.

One Kannel for the module; each test gets its own database and app."""
from __future__ import annotations

from dataclasses import replace

import pytest

from tests.conftest import free_port
from tests.console_helpers import LiveServer
from tests.kannel_helpers import PASSWORD, USER, Kannel, require_kannel
from tests.telephony_helpers import wait_for

TOKEN = "inbound-test-token"
PORT = free_port()  # the app's live server, which Kannel calls back (delivery reports, replies)


@pytest.fixture(scope="module")
def kannel(tmp_path_factory):
    require_kannel()
    gateway = Kannel(tmp_path_factory.mktemp("kannel"), inbound_url=f"http://127.0.0.1:{PORT}/sms/kannel/inbound",
                     inbound_token=TOKEN)
    gateway.start()
    yield gateway
    gateway.stop()


@pytest.fixture
def app_config(kannel):
    return {"sms_kannel_url": kannel.url, "sms_kannel_username": USER, "sms_kannel_password": PASSWORD,
            "sms_sender": "12345", "sms_dlr_base_url": f"http://127.0.0.1:{PORT}", "sms_inbound_token": TOKEN,
            "sms_retry_base_seconds": 1, "sms_sweep_seconds": 1}


@pytest.fixture
def live_app(app):
    """The app as `hotline run` runs it: notices wired, the after-commit nudge, the sweep loop."""
    from messaging.plugin import plugin, state

    plugin.start(app)
    with LiveServer(app, PORT):
        yield app
        state(app).stop()


def _row(app, message_id):
    from hotline.extensions import db
    from messaging.models import SmsMessage

    with app.app_context():
        msg = db.session.get(SmsMessage, message_id)
        db.Session.remove()
        return msg


def _queue(app, phone, key, context):
    from hotline.extensions import db
    from messaging.service import queue_sms

    with app.app_context():
        msg = queue_sms(db.session, phone, key, context)
        db.session.commit()
        text, message_id = msg.text, msg.id
        db.Session.remove()
    return message_id, text


def test_sent_through_kannel_received_by_the_smsc_and_reported_delivered(kannel, live_app, api):
    before = len(kannel.received())
    message_id, text = _queue(live_app, "13812345678", "otp", {"code": "582046", "minutes": 5})
    got = wait_for(lambda: kannel.received()[before:], timeout=60)
    assert got == [{"from": "12345", "to": "13812345678", "text": text}], kannel.log_tail()
    assert text == "【12345热线】您的验证码是582046，5分钟内有效，请勿告诉他人。"
    # Kannel calls the signed dlr-url: submitted to the SMSC (8), then delivered (1)
    row = wait_for(lambda: (r := _row(live_app, message_id)).status == "delivered" and r, timeout=60)
    assert row and row.attempts == 1 and row.dlr_status == 1 and row.delivered_at, kannel.log_tail()

    # the acceptance notice of a new ticket goes the same way, with the ticket number in it
    from tests.ticket_helpers import COMPLAINT

    before = len(kannel.received())
    number = api("operator1").post("/api/v1/tickets", json=dict(COMPLAINT, caller={"phone": "13900001111"})).get_json()["number"]
    got = wait_for(lambda: kannel.received()[before:], timeout=60)
    assert len(got) == 1 and got[0]["to"] == "13900001111" and f"工单号{number}" in got[0]["text"]
    assert got[0]["text"].startswith("【12345热线】您的诉求已受理") and got[0]["text"].endswith("回复TD退订")

    # a forged delivery report changes nothing
    import requests

    r = requests.get(f"http://127.0.0.1:{PORT}/sms/kannel/dlr", params={"id": f"{message_id}.forged", "type": "2"},
                     timeout=30)
    assert r.status_code == 422 and _row(live_app, message_id).status == "delivered"


def test_gateway_down_then_back_delivers_exactly_once_and_a_TD_reply_opts_out(kannel, live_app):
    from hotline.extensions import db
    from messaging.service import is_opted_out

    kannel.stop()  # the gateway is down
    before = len(kannel.received())
    message_id, text = _queue(live_app, "13712345678", "accepted", {"number": "20261202000042", "deadline": "12月16日"})
    row = wait_for(lambda: (r := _row(live_app, message_id)).attempts >= 2 and r, timeout=60)
    assert row and row.status == "retry" and "unreachable" in row.last_error  # tried, kept, tried again
    assert row.sent_at is None

    # back again; fakesmsc (the citizen's phone) also replies TD
    kannel.start(mo=["13712345678 12345 text TD"])
    row = wait_for(lambda: (r := _row(live_app, message_id)).status == "delivered" and r, timeout=60)
    assert row, kannel.log_tail()
    ours = lambda: [m for m in kannel.received()[before:] if m["to"] == "13712345678"]  # noqa: E731
    confirmation = wait_for(lambda: any("退订" in m["text"] and "工单号" not in m["text"] for m in ours()), timeout=60)
    assert confirmation, kannel.log_tail()
    assert [m["text"] for m in ours() if m["text"] == text] == [text]  # exactly once
    with live_app.app_context():
        assert is_opted_out(db.session, "13712345678")
        db.Session.remove()
    # opted out: the next notice is not queued, a one-time code still is
    from messaging.service import queue_sms

    with live_app.app_context():
        assert queue_sms(db.session, "13712345678", "accepted", {"number": "1", "deadline": "1月1日"}) is None
        assert queue_sms(db.session, "13712345678", "otp", {"code": "1", "minutes": 5}) is not None
        db.session.rollback()
        db.Session.remove()
