"""Operator workspace in Chromium: routing suggestion with highlighted evidence, co-departments,
knowledge search with 直接办结 citing the article, merge into a duplicate, mark invalid; knowledge
editing by a supervisor."""
from __future__ import annotations

import re

from tests.console_helpers import browser, live, login, new_context, screenshot  # noqa: F401 (fixtures)


def _seed_knowledge(app):
    from hotline.extensions import db
    from knowledge.service import seed

    with app.app_context():
        seed(db.session)
        db.Session.remove()


def _number(page):
    from playwright.sync_api import expect

    expect(page.locator("#result")).to_contain_text("工单")
    return re.search(r"\d{14}", page.locator("#result").inner_text()).group(0)


def test_suggestion_dispatch_with_co_departments(live, browser, api):
    from playwright.sync_api import expect

    op = login(new_context(browser), live.url, "operator1")
    op.get_by_label("诉求内容").fill("小区路灯坏了三天了没人修，在罗阳镇")
    op.get_by_role("button", name="智能分派建议").click()
    suggestions = op.get_by_role("list", name="分派建议")
    expect(suggestions).to_contain_text("县公用事业管理局", timeout=90000)  # first call builds the classifier
    expect(op.locator("#evidence mark").first).to_have_text("路灯坏了")
    expect(op.get_by_label("主办单位", exact=True)).to_have_value("utilities")
    op.get_by_label("协办单位").select_option(["water"])
    op.get_by_role("button", name="派单", exact=True).click()
    number = _number(op)
    t = api("operator1").get(f"/api/v1/tickets/{number}").get_json()
    assert t["status"] == "dispatched" and t["main_department"]["code"] == "utilities"
    assert [d["code"] for d in t["co_departments"]] == ["water"]
    assert t["routing_suggestion"]["departments"][0]["code"] == "utilities"
    water = login(new_context(browser), live.url, "water")
    row = water.locator(f'#inbox li[data-number="{number}"]')
    expect(row).to_contain_text("协办")
    row.get_by_role("link", name=number).click()
    expect(water.get_by_role("button", name="签收", exact=True)).to_have_count(0)  # only the main unit signs


def test_answer_directly_citing_knowledge(live, browser, api, app):
    from playwright.sync_api import expect

    _seed_knowledge(app)
    op = login(new_context(browser), live.url, "operator1")
    op.get_by_label("诉求内容").fill("我的社保卡丢了，想问怎么补办")
    op.get_by_label("知识库搜索").fill("社保卡丢了怎么补办")
    op.get_by_role("button", name="搜索知识").click()
    results = op.get_by_role("list", name="知识库结果")
    expect(results.locator("mark").first).to_have_text("社保卡")
    op.get_by_role("button", name="引用 社保卡遗失补办").click()
    expect(op.locator("#cited")).to_contain_text("社保卡遗失补办")
    screenshot(op, "operator-knowledge")
    op.get_by_role("button", name="直接办结").click()
    number = _number(op)
    expect(op.locator("#result")).to_contain_text("已办结")
    t = api("operator1").get(f"/api/v1/tickets/{number}").get_json()
    article = api("operator1").get("/api/v1/knowledge", query_string={"q": "社保卡遗失补办"}).get_json()["items"][0]
    assert t["status"] == "closed" and t["direct_answer"]["article_id"] == article["id"]


def test_merge_into_duplicate_and_mark_invalid(live, browser, api):
    from playwright.sync_api import expect

    first = api("operator1").post("/api/v1/tickets", json={"type": "投诉", "content": "夜间施工噪音扰民",
                                                           "caller": {"phone": "13600136000"}}).get_json()["number"]
    op = login(new_context(browser), live.url, "operator1")
    op.get_by_label("诉求内容").fill("又是夜间施工噪音")
    op.get_by_label("重复工单").fill(first)
    op.get_by_role("button", name="并单").click()
    dup = _number(op)
    expect(op.locator("#result")).to_contain_text("已并单")
    assert api("operator1").get(f"/api/v1/tickets/{dup}").get_json()["merged_into"] == first

    op.get_by_label("诉求内容").fill("（无声电话）")
    op.get_by_label("处理意见").fill("来电无声，骚扰电话")
    op.get_by_role("button", name="置为无效").click()
    expect(op.locator("#result")).to_contain_text("无效")
    mine = op.get_by_role("listbox", name="我的工单")
    expect(mine).to_contain_text(first)
    op.get_by_role("searchbox", name="搜索我的工单").fill("噪音")  # searched on the server
    expect(mine.locator("li[data-number]")).to_have_count(2)


def test_supervisor_edits_knowledge(live, browser, api):
    from playwright.sync_api import expect

    sup = login(new_context(browser), live.url, "supervisor")
    sup.goto(live.url + "/console/knowledge")
    sup.get_by_role("button", name="新建条目").click()
    sup.get_by_label("标题").fill("犬只登记办理")
    sup.get_by_label("标签").fill("养犬，犬证")
    sup.get_by_label("所属单位").select_option("livestock")
    sup.get_by_label("生效日期").fill("2024-01-01")
    sup.get_by_label("正文").fill("携带犬只免疫证明到县畜牧兽医局办理犬只登记。")
    sup.get_by_role("button", name="保存知识").click()
    expect(sup.locator("#kb-detail")).to_contain_text("版本 1")
    sup.get_by_label("知识库搜索").fill("犬证")
    sup.get_by_role("button", name="搜索知识").click()
    expect(sup.get_by_role("list", name="知识库结果").locator("mark").first).to_have_text("犬证")
    screenshot(sup, "supervisor-knowledge")
    op = login(new_context(browser), live.url, "operator1")
    op.goto(live.url + "/console/knowledge")
    expect(op.get_by_role("button", name="新建条目")).to_have_count(0)
