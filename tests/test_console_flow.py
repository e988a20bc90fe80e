"""The consoles end to end in a real Chromium over real Socket.IO.

Telephony's events are published on the event bus exactly as the SIP process publishes them; the
SIPp-driven variant lives in test_console_sipp.py.
"""
from __future__ import annotations

import re

from tests.console_helpers import browser, dispatch_from_form, live, login, new_context, publish, screenshot  # noqa: F401 (fixtures)

XSS = "<img src=x onerror=alert(1)>"


def _context(browser):
    return new_context(browser)


def _kpi(page, name):
    return page.locator(f'[data-kpi="{name}"]')


def test_call_to_ticket_to_department_to_callback(live, browser, app):
    from playwright.sync_api import expect

    op = login(_context(browser), live.url, "operator1")
    dept = login(_context(browser), live.url, "housing")
    sup = login(_context(browser), live.url, "supervisor")
    expect(_kpi(sup, "tickets")).to_have_text("0")
    expect(_kpi(sup, "waiting")).to_have_text("0")

    op.get_by_role("button", name="示闲").click()
    expect(op.locator("#agent-state")).to_have_text("示闲")
    expect(sup.locator('[data-state="idle"]')).to_have_text(re.compile("示闲 1"))

    publish(app, "call.ringing", {"call_id": "c-1", "caller": "13800138000", "called": "12345"})
    popup = op.get_by_role("dialog", name="来电弹屏")
    expect(popup).to_be_visible()
    expect(popup).to_contain_text("13800138000")
    expect(_kpi(sup, "waiting")).to_have_text("1")

    publish(app, "call.answered", {"call_id": "c-1", "caller": "13800138000", "called": "12345"})
    expect(_kpi(sup, "talking")).to_have_text("1")
    expect(_kpi(sup, "waiting")).to_have_text("0")
    transcript = op.get_by_role("log", name="实时转写")
    publish(app, "transcript.partial", {"call_id": "c-1", "text": "我家楼下", "start": 0.0, "end": 1.0, "speaker": "caller"})
    expect(transcript).to_contain_text("我家楼下")
    publish(app, "transcript.final", {"call_id": "c-1", "text": "我家楼下的路灯坏了三天了", "start": 0.0, "end": 2.5, "speaker": "caller"})
    publish(app, "transcript.partial", {"call_id": "c-1", "text": "在罗阳", "start": 2.6, "end": 3.0, "speaker": "caller"})
    expect(transcript).to_contain_text("我家楼下的路灯坏了三天了")
    expect(transcript).to_contain_text("在罗阳")
    publish(app, "transcript.final", {"call_id": "c-1", "text": "在罗阳镇人民路", "start": 2.6, "end": 4.0, "speaker": "caller"})
    expect(op.get_by_label("诉求内容")).to_have_value("我家楼下的路灯坏了三天了，在罗阳镇人民路")
    screenshot(op, "operator-live-call")

    number = dispatch_from_form(op, "求助", "housing")
    publish(app, "call.ended", {"call_id": "c-1", "caller": "13800138000", "duration": 42, "cause": "hangup"})
    expect(op.locator("#agent-state")).to_have_text("话后处理")
    expect(_kpi(sup, "talking")).to_have_text("0")
    expect(_kpi(sup, "tickets")).to_have_text("1")

    # the department sees it arrive without reloading, signs and replies
    item = dept.locator(f'#inbox li[data-number="{number}"]')
    expect(item).to_be_visible()
    expect(dept.locator(".toast").filter(has_text=f"新工单到达：{number}")).to_be_visible()
    item.get_by_role("link", name=number).click()
    dept.get_by_role("button", name="签收", exact=True).click()
    expect(dept.locator("#detail")).to_contain_text("办理中")
    dept.get_by_role("button", name="答复", exact=True).click()
    dept.get_by_label("答复内容").fill("已安排维修人员更换路灯，今晚恢复照明。")
    dept.get_by_label("附件").set_input_files(files=[{"name": "维修照片.png", "mimeType": "image/png",
                                                     "buffer": b"\x89PNG\r\n\x1a\n fake"}])
    dept.get_by_role("button", name="确认答复").click()
    expect(dept.locator("#detail")).to_contain_text("已答复")
    expect(dept.get_by_role("link", name="📎 维修照片.png")).to_be_visible()
    screenshot(dept, "department-workbench")

    # the operator approves the reply and records the callback
    op.get_by_role("tab", name="答复审核与回访").click()
    op.locator("#review").get_by_role("link", name=number).click()
    detail = op.locator("#detail")
    detail.get_by_role("button", name="审核通过").click()
    expect(detail).to_contain_text("待回访")
    detail.get_by_role("button", name="回访", exact=True).click()
    detail.get_by_label("满意", exact=True).check()
    detail.get_by_label("已解决").check()
    detail.get_by_role("button", name="确认回访").click()
    expect(detail).to_contain_text("已办结")
    expect(detail).to_contain_text("回访结果")
    expect(detail.get_by_role("region", name="通话记录")).to_contain_text("通话 13800138000")
    expect(detail.get_by_role("region", name="通话记录")).to_contain_text("我家楼下的路灯坏了三天了")
    screenshot(op, "operator-workspace")

    expect(sup.locator("#by-status")).to_contain_text("已办结")
    screenshot(sup, "supervisor-wallboard")
    for page in (op, dept, sup):
        page.context.close()


def test_department_returns_with_reason(live, browser, api):
    from playwright.sync_api import expect

    op = api("operator1")
    number = op.post("/api/v1/tickets", json={"type": "投诉", "content": "菜市场占道经营"}).get_json()["number"]
    op.act(number, "accept")
    op.act(number, "dispatch", {"main_department": "housing"})
    dept = login(new_context(browser), live.url, "housing")
    dept.locator("#inbox").get_by_role("link", name=number).click()
    dept.get_by_role("button", name="退回", exact=True).click()
    dept.get_by_role("button", name="确认退回").click()
    expect(dept.get_by_role("alert")).to_contain_text("note")  # the reason is required
    dept.get_by_label("退回原因").fill("属市场监管职责，请改派市场监管局")
    dept.get_by_role("button", name="确认退回").click()
    expect(dept.locator("#detail")).to_contain_text("工单已不在本单位")
    t = op.get(f"/api/v1/tickets/{number}").get_json()
    assert t["status"] == "returned" and t["events"][-1]["note"] == "属市场监管职责，请改派市场监管局"
    dept.context.close()


def test_department_cannot_see_other_units_ticket(live, browser, api):
    from playwright.sync_api import expect

    op = api("operator1")
    number = op.post("/api/v1/tickets", json={"type": "投诉", "content": "自来水发黄"}).get_json()["number"]
    op.act(number, "accept")
    assert op.act(number, "dispatch", {"main_department": "water"}).status_code == 200

    housing = api("housing")
    assert housing.get(f"/api/v1/tickets/{number}").status_code == 404
    assert housing.act(number, "sign").status_code == 404
    assert number not in [t["number"] for t in housing.get("/api/v1/tickets").get_json()["items"]]

    page = login(_context(browser), live.url, "housing")
    expect(page.locator("#inbox")).to_contain_text("暂无工单")
    resp = page.goto(f"{live.url}/console/tickets/{number}")
    assert resp.status == 404
    expect(page.get_by_role("heading", name="工单不存在或无权查看")).to_be_visible()
    assert "自来水发黄" not in page.content()
    page.context.close()


def test_ticket_content_is_text_in_every_view(live, browser, api, app):
    from playwright.sync_api import expect

    op = api("operator1")
    t = op.post("/api/v1/tickets", json={"type": "投诉", "content": XSS, "address": XSS,
                                         "caller": {"name": XSS[:50], "phone": "13900139000"}}).get_json()
    number = t["number"]
    op.act(number, "accept")
    op.act(number, "dispatch", {"main_department": "housing", "note": XSS})
    alerts = []
    pages = []
    for user, path in (("operator1", None), ("housing", None), ("supervisor", None), ("operator1", f"/console/tickets/{number}")):
        page = login(_context(browser), live.url, user)
        page.on("dialog", lambda d: (alerts.append(d.message), d.dismiss()))
        if path:
            page.goto(live.url + path)
        pages.append(page)
    operator, dept, sup, case = pages
    expect(operator.locator("#mine")).to_contain_text(XSS)
    dept.locator("#inbox").get_by_role("link", name=number).click()
    expect(dept.locator("#detail")).to_contain_text(XSS)
    dept.get_by_role("button", name="签收", exact=True).click()
    dept.get_by_role("button", name="申请延期").click()
    dept.get_by_label("延期理由").fill(XSS)
    dept.get_by_role("button", name="确认申请延期").click()
    expect(dept.locator("#detail")).to_contain_text("待审批")
    sup.get_by_role("tab", name="延期审批").click()
    sup.locator("#queue").get_by_role("link", name=number).click()
    expect(sup.locator("#detail")).to_contain_text(XSS)
    sup.get_by_role("button", name="批准延期").click()
    sup.get_by_role("button", name="确认批准延期").click()
    expect(sup.locator("#detail")).to_contain_text("已批准")
    sup.get_by_role("button", name="督办", exact=True).click()
    sup.get_by_label("督办意见").fill("请尽快办理 " + XSS)
    sup.get_by_role("button", name="确认督办").click()
    expect(dept.locator(".toast").filter(has_text=f"督办提醒：工单 {number}")).to_be_visible()
    expect(case.locator("#case")).to_contain_text(XSS)
    for page in pages:
        assert page.locator('img[src="x"]').count() == 0
        assert page.locator("mark img, dd img, li img").count() == 0
    assert alerts == []
    for page in pages:
        page.context.close()


def test_reconnecting_console_catches_up_without_reload(live, browser, app):
    from playwright.sync_api import expect

    page = login(_context(browser), live.url, "operator1")
    publish(app, "call.ringing", {"call_id": "c-9", "caller": "13700137000", "called": "12345"})
    publish(app, "call.answered", {"call_id": "c-9", "caller": "13700137000", "called": "12345"})
    expect(page.get_by_role("dialog", name="来电弹屏")).to_be_visible()
    page.evaluate("window.hotlineSocket.disconnect()")
    expect(page.locator("body")).to_have_attribute("data-live", "disconnected")
    publish(app, "transcript.final", {"call_id": "c-9", "text": "断线期间说的话", "start": 0, "end": 1, "speaker": "caller"})
    page.evaluate("window.__marker = 'same page'")
    page.evaluate("window.hotlineSocket.connect()")
    expect(page.get_by_role("log", name="实时转写")).to_contain_text("断线期间说的话")
    assert page.evaluate("window.__marker") == "same page"
    page.context.close()


def test_supervisor_callback_unsatisfied_reopens(live, browser, api):
    from playwright.sync_api import expect

    op, housing = api("operator1"), api("housing")
    number = op.post("/api/v1/tickets", json={"type": "投诉", "content": "垃圾清运不及时"}).get_json()["number"]
    op.act(number, "accept")
    op.act(number, "dispatch", {"main_department": "housing"})
    housing.act(number, "sign")
    housing.act(number, "reply", {"text": "已督促保洁公司清运。"})
    op.act(number, "approve_reply")
    sup = login(new_context(browser), live.url, "supervisor")
    sup.get_by_role("tab", name="回访队列").click()
    sup.locator("#queue").get_by_role("link", name=number).click()
    sup.locator("#detail").get_by_role("button", name="回访", exact=True).click()
    sup.get_by_label("不满意").check()
    sup.get_by_label("未解决").check()
    sup.get_by_label("回访记录").fill("群众反映仍未清运")
    sup.get_by_role("button", name="确认回访").click()
    # "已派单" also appears in the timeline (the first dispatch): wait for what only the reopened
    # ticket shows, its reopen count, then check the status badge of the head line
    detail = sup.locator("#detail")
    expect(detail.locator("dt", has_text="重办次数")).to_be_visible(timeout=20_000)
    expect(detail.locator(".item-head .badge").first).to_have_text("已派单")
    t = op.get(f"/api/v1/tickets/{number}").get_json()
    assert t["status"] == "dispatched" and t["reopen_count"] == 1
    assert [e["action"] for e in t["events"]][-2:] == ["callback", "reopen"]
    sup.context.close()
