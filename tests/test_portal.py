"""The citizen portal through HTTP (the app's test client with real CSRF tokens) and in real
Chromium at a phone's size (390x844): submit with an SMS code, get the number at once, the
department replies through the API, the reply SMS's link rates the answer (不满意 reopens it as
the phone callback does; a replayed link is refused). Every bad input gets a Chinese reason and
stores nothing. One app, one server and one browser for the whole module.
"""
from __future__ import annotations

import re
import shutil
from io import BytesIO
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from tests.conftest import Api, free_port
from tests.console_helpers import (CHROMIUM, CHROMIUM_ARGS, PASSWORDS, LiveServer, require_chromium, screenshot,
                                  wait_until)
from tests.portal_helpers import csrf_token, jpeg_with_gps, last_sms

PHONE = "13912340001"
LIMITS = {"portal_submissions_per_address": "4 per hour", "portal_submissions_per_phone": "3 per hour",
          "portal_codes_per_address": "50 per hour", "portal_codes_per_phone": "3 per hour"}


@pytest.fixture(scope="module")
def portal_app(sqlite_template, tmp_path_factory):
    from hotline.app import create_app
    from hotline.app.dbadmin import seed
    from hotline.events import bus
    from hotline.extensions import db

    base = tmp_path_factory.mktemp("portal")
    shutil.copy(sqlite_template, base / "hotline.db")
    app = create_app({"database_url": f"sqlite:///{base / 'hotline.db'}", "testing": True, "sip_enabled": False,
                      "secret_key": "portal-test", "recordings_dir": str(base / "rec"),
                      "flask": {"WTF_CSRF_ENABLED": True}, **LIMITS})
    with app.app_context():
        seed(db.session, demo=True)
        db.Session.remove()
    from messaging.plugin import state, wire
    wire(app)  # the notices at acceptance and approved reply (tests wire what they exercise)
    yield app
    state(app).stop()
    bus.clear()
    db.Session.remove()


@pytest.fixture(scope="module")
def live_portal(portal_app):
    with LiveServer(portal_app, free_port()) as server:
        yield server


def client_from(app, address: str):
    """A browser-like client (cookies) seen by the server as coming from ``address``."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def staff(app, username: str) -> Api:
    return Api(app.test_client(), username, PASSWORDS[username])


def counts(app) -> tuple[int, int, int]:
    """(tickets, portal rows, stored files): what a refused submission must leave unchanged."""
    from hotline.extensions import db
    from portal.models import PortalRequest
    from ticketing import attachments
    from ticketing.models import Ticket

    with app.app_context():
        try:
            store = attachments.store_dir(app.config["HOTLINE"])
            return (db.session.scalar(select(func.count()).select_from(Ticket)),
                    db.session.scalar(select(func.count()).select_from(PortalRequest)),
                    len(list(store.iterdir())))
        finally:
            db.Session.remove()


def form(**extra) -> dict:
    body = {"contact": "phone", "phone": PHONE, "type": "投诉", "town": "luoyang", "address": "罗阳街道北门路 12 号",
            "content": "小区门口的路灯坏了一个月，晚上很黑，请尽快修复。"}
    body.update(extra)
    return body


def ask_code(client, phone: str) -> str:
    r = client.post("/submit/code", data={"csrf_token": csrf_token(client), "phone": phone})
    assert r.status_code == 200, r.get_data(as_text=True)
    assert "验证码已发送至" in r.get_data(as_text=True)
    return last_sms(client.application, phone, "otp").context["code"]


def submit(client, data: dict, files=None):
    body = {"csrf_token": csrf_token(client), **data}
    if files:
        body["photos"] = files
    return client.post("/submit", data=body, content_type="multipart/form-data")


def reply_approved(app, number: str, reply: str, note: str = "内部备注：已联系物业，费用待核") -> None:
    """The hotline accepts and dispatches, the unit signs, notes and replies, the hotline approves."""
    op, unit = staff(app, "operator1"), staff(app, "housing")
    for api, action, body in ((op, "accept", {}), (op, "dispatch", {"main_department": "housing"}),
                              (unit, "sign", {}), (unit, "note", {"note": note}),
                              (unit, "reply", {"text": reply}), (op, "approve_reply", {})):
        r = api.act(number, action, body)
        assert r.status_code == 200, (action, r.get_json())


def text_of(response) -> str:
    return response.get_data(as_text=True)


# -- bad input: a clear reason in Chinese, nothing stored ---------------------------------------------
def test_bad_submissions_store_nothing(portal_app):
    c = client_from(portal_app, "10.0.0.11")
    before = counts(portal_app)

    r = c.post("/submit", data=form(), content_type="multipart/form-data")  # no CSRF token
    assert r.status_code == 400 and "页面已过期" in text_of(r)
    r = submit(c, form(code="123456"))
    assert r.status_code == 422 and "请先获取短信验证码" in text_of(r)
    code = ask_code(c, PHONE)
    wrong = "000000" if code != "000000" else "111111"
    r = submit(c, form(code=wrong))
    assert r.status_code == 422 and "验证码不正确，还可尝试 4 次" in text_of(r)
    assert 'aria-invalid="true"' in text_of(r)
    assert counts(portal_app) == before

    c2 = client_from(portal_app, "10.0.0.12")  # photos are checked before the code: anonymous here
    anonymous = {"contact": "anonymous", "phone": ""}
    r = submit(c2, form(**anonymous), files=[(BytesIO(b"%PDF-1.4 not a photo"), "photo.jpg")])
    assert r.status_code == 415 and "不是有效的图片" in text_of(r)
    big = BytesIO(b"\xff\xd8\xff" + b"0" * (5 * 1024 * 1024 + 10))
    r = submit(c2, form(**anonymous), files=[(big, "big.jpg")])
    assert r.status_code == 413 and "超过 5 MB" in text_of(r)
    gif = BytesIO()
    from PIL import Image
    Image.new("RGB", (10, 10)).save(gif, "GIF")
    gif.seek(0)
    r = submit(c2, form(**anonymous), files=[(gif, "a.gif")])
    assert r.status_code == 415 and "仅支持 JPG、PNG、WebP" in text_of(r)
    r = submit(c2, form(**anonymous, content="短"))
    assert r.status_code == 422 and "诉求内容太短" in text_of(r)
    assert counts(portal_app) == before

    # an expired code: refused, and it stays refused
    from hotline.clock import utcnow
    from hotline.extensions import db
    from portal.models import OneTimeCode
    with portal_app.app_context():
        row = db.session.scalars(select(OneTimeCode).where(OneTimeCode.phone == PHONE)).all()[-1]
        row.expires_at = utcnow()
        db.session.commit()
        db.Session.remove()
    r = submit(client_from(portal_app, "10.0.0.13"), form(code=code))
    assert r.status_code == 410 and "验证码已过期" in text_of(r)
    assert counts(portal_app) == before


def test_code_requests_and_submissions_are_rate_limited(portal_app):
    from hotline.extensions import db
    from portal.models import OneTimeCode

    phone = "13912340002"
    c = client_from(portal_app, "10.0.0.21")
    ask_code(c, phone)
    r = c.post("/submit/code", data={"csrf_token": csrf_token(c), "phone": phone})
    assert r.status_code == 429 and "验证码已发送，请" in text_of(r)  # resend too soon
    r = c.post("/submit/code", data={"csrf_token": csrf_token(c), "phone": phone})
    assert r.status_code == 429
    r = client_from(portal_app, "10.0.0.22").post("/submit/code", data={"csrf_token": csrf_token(c), "phone": phone})
    assert r.status_code in (400, 429)
    c3 = client_from(portal_app, "10.0.0.23")  # another address, same phone: the phone's limit (3/h)
    r = c3.post("/submit/code", data={"csrf_token": csrf_token(c3), "phone": phone})
    assert r.status_code == 429 and "操作过于频繁" in text_of(r)
    with portal_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OneTimeCode).where(OneTimeCode.phone == phone)) == 1
        db.Session.remove()

    # submissions per address (4/h): anonymous ones too
    c = client_from(portal_app, "10.0.0.24")
    for _ in range(4):
        assert submit(c, form(contact="anonymous", phone="")).status_code == 201
    before = counts(portal_app)
    r = submit(c, form(contact="anonymous", phone=""))
    assert r.status_code == 429 and "操作过于频繁" in text_of(r)
    assert counts(portal_app) == before


# -- anonymous: tracking code, public list ----------------------------------------------------------
def test_anonymous_submission_tracking_code_and_the_public_list(portal_app):
    c = client_from(portal_app, "10.0.0.31")
    content = "我叫王小明，电话 13800138000，身份证 440101199001011234，住罗阳街道北门路 88 号 3 栋 402 室，楼下排水沟堵塞发臭。"
    r = submit(c, form(contact="anonymous", phone="", name="王小明", content=content, publish="yes"))
    assert r.status_code == 201
    page = text_of(r)
    number = re.search(r'id="ticket-number">(\d{14})<', page).group(1)
    tracking = re.search(r'id="tracking-code">([0-9A-F]{16})<', page).group(1)

    other = client_from(portal_app, "10.0.0.32")
    r = other.post("/track", data={"csrf_token": csrf_token(other, "/track"), "number": number, "tracking": "0" * 16})
    assert r.status_code == 403 and "查询码不正确" in text_of(r)
    assert other.get(f"/track/{number}").status_code == 302  # not verified in this browser
    r = other.post("/track", data={"csrf_token": csrf_token(other, "/track"), "number": number, "tracking": tracking})
    assert r.status_code == 303
    r = other.get(f"/track/{number}")
    assert r.status_code == 200 and "已提交" in text_of(r) and "排水沟堵塞" in text_of(r)

    pub = portal_app.test_client()
    assert number not in text_of(pub.get("/public"))  # not before the reply is approved
    reply_approved(portal_app, number, "经查，排水沟已于 12 月 3 日疏通。如有疑问请联系 13700137000。")
    listing = text_of(pub.get("/public?q=排水沟"))
    assert "排水沟堵塞发臭" in listing and "排水沟已于" in listing
    for secret in ("王小明", "13800138000", "440101199001011234", "88 号", "402", "13700137000"):
        assert secret not in listing, secret
    assert "[电话已隐去]" in listing and "[身份证号已隐去]" in listing
    assert "排水沟堵塞" not in text_of(pub.get("/public?q=13800138000"))  # the raw text is never searched


# -- the whole journey in Chromium at a phone's size ---------------------------------------------------
def test_phone_journey_submit_code_reply_sms_rating(portal_app, live_portal):
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    from hotline.extensions import db
    from ticketing.models import Ticket

    phone = "13912340009"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        expect.set_options(timeout=15000)
        ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True,
                                  has_touch=True)
        ctx.set_default_timeout(15000)
        page = ctx.new_page()
        page.goto(live_portal.url + "/")
        expect(page.get_by_role("main")).to_contain_text("网上办事")
        page.get_by_role("navigation", name="网上服务").get_by_role("link", name="我要反映").click()

        page.get_by_label("手机号码").fill(phone)
        page.get_by_role("button", name="获取验证码").click()
        expect(page.get_by_role("status")).to_contain_text("验证码已发送至 139****0009")
        code = wait_until(lambda: last_sms(portal_app, phone, "otp")).context["code"]
        page.get_by_label("短信验证码").fill(code)
        page.get_by_label("称呼（选填）").fill("陈先生")
        page.get_by_label("诉求类型").select_option("求助")
        page.get_by_label("所在镇（街道）").select_option("luoyang")
        page.get_by_label("详细地址").fill("罗阳街道新村路 5 号")
        page.get_by_label("诉求内容").fill("新村路的井盖缺失，有人差点掉进去，请尽快处理。")
        page.get_by_label(re.compile("现场图片")).set_input_files(
            [{"name": "IMG_0001.jpg", "mimeType": "image/jpeg", "buffer": jpeg_with_gps()}])
        page.get_by_label(re.compile("同意在答复后公开")).check()
        screenshot(page, "portal-submit-390x844")
        page.get_by_role("button", name="提交诉求").click()
        number = page.locator("#ticket-number").inner_text()
        assert re.fullmatch(r"\d{14}", number)

        with portal_app.app_context():
            t = db.session.scalar(select(Ticket).where(Ticket.number == number))
            assert (t.channel, t.status, t.caller_phone, t.type) == ("web", "draft", phone, "求助")
            photo = [e.data["attachments"][0] for e in t.events if e.action == "citizen_photos"][0]
            db.Session.remove()
        # the photo is stored re-encoded: an image, without its EXIF (GPS, camera)
        from PIL import Image

        from ticketing import attachments
        stored = Image.open(attachments.store_dir(portal_app.config["HOTLINE"]) / photo["id"])
        assert stored.format == "JPEG" and stored.size == (640, 480) and not dict(stored.getexif())

        # the operators' 网上来件 queue (desktop console) shows it with the time it has waited
        desk = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
        op_page = desk.new_page()
        op_page.goto(live_portal.url + "/login")
        op_page.get_by_label("用户名").fill("operator1")
        op_page.get_by_label("密码").fill(PASSWORDS["operator1"])
        op_page.get_by_role("button", name="登录", exact=True).click()
        op_page.get_by_role("tab", name="网上来件").click()
        row = op_page.locator(f'#web-queue li[data-number="{number}"]')
        expect(row).to_contain_text("已等待 0 分钟")
        desk.close()

        # the unit that holds it can open the photo, another unit cannot
        reply = "井盖已于当日补装，感谢您的反映。"
        reply_approved(portal_app, number, reply)
        assert staff(portal_app, "housing").get(f"/api/v1/console/attachments/{photo['id']}").status_code == 200
        assert staff(portal_app, "water").get(f"/api/v1/console/attachments/{photo['id']}").status_code == 404

        # tracking in the citizen's browser: citizen wording, the reply, no staff names, no notes
        page.get_by_role("link", name="查看办理进度").click()
        timeline = page.locator("#timeline")
        for step in ("已提交", "已受理", "已转交承办单位", "已答复"):
            expect(timeline).to_contain_text(step)
        expect(page.locator("#reply")).to_have_text(reply)
        screenshot(page, "portal-track-390x844")
        body = page.locator("body").inner_text()
        for hidden in ("operator1", "housing", "住建局承办员", "内部备注", "费用待核", "签收", "网上市民"):
            assert hidden not in body, hidden

        # the reply SMS carries the signed rating link; 不满意 reopens the ticket like the phone callback
        sms = wait_until(lambda: last_sms(portal_app, phone, "reply"), timeout=30)
        link = urlsplit(sms.context["rating_url"])
        assert link.path == f"/t/{number}/rate"
        page.goto(live_portal.url + link.path + "?" + link.query)
        page.get_by_label("不满意").check()
        page.get_by_label("未解决").check()
        page.get_by_label("评价意见（选填）").fill("井盖是临时的，又松动了")
        page.get_by_role("button", name="提交评价").click()
        expect(page.get_by_role("status")).to_contain_text("重新交由承办单位办理")
        with portal_app.app_context():
            t = db.session.scalar(select(Ticket).where(Ticket.number == number))
            assert (t.status, t.reopen_count) == ("dispatched", 1)
            assert [e.action for e in t.events][-2:] == ["callback", "reopen"]
            assert t.events[-2].data == {"satisfaction": "不满意", "solved": False}
            db.Session.remove()

        # another device follows the ticket by its number and an SMS code sent to the registered phone
        other = client_from(portal_app, "10.0.0.41")
        r = other.post("/track/code", data={"csrf_token": csrf_token(other, "/track"), "number": number})
        assert r.status_code == 200 and "139****0009" in text_of(r)
        track_code = last_sms(portal_app, phone, "otp").context["code"]
        r = other.post("/track", data={"csrf_token": csrf_token(other, "/track"), "number": number,
                                       "code": "000000" if track_code != "000000" else "111111"})
        assert r.status_code == 422 and "验证码不正确" in text_of(r)
        r = other.post("/track", data={"csrf_token": csrf_token(other, "/track"), "number": number, "code": track_code})
        assert r.status_code == 303
        tracked = text_of(other.get(f"/track/{number}"))
        assert "重新办理，已转交承办单位" in tracked and "housing" not in tracked and "内部备注" not in tracked

        # the same link again: refused, clearly, and nothing changes
        page.goto(live_portal.url + link.path + "?" + link.query)
        expect(page.get_by_role("alert")).to_have_text("评价链接已使用过")
        assert page.locator("form[action*='/rate']").count() == 0
        ctx.close()
        browser.close()
