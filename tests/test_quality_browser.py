"""The 质检 page in real Chromium: the supervisor's list and weekly trend equal what this test
computes from the calls it stored; a piece of evidence plays the recording from its moment; the
inspector scores with the rubric's form; the operator sees only their own calls and appeals once."""
from __future__ import annotations

import pytest

from hotline.extensions import db
from tests.console_helpers import browser, live, login, new_context  # noqa: F401 (fixtures)
from tests.quality_helpers import BAD, DAY, GOOD, store_call

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: the rubric's default deductions (quality/rubric.py DEFAULT) applied to what BAD's audio holds:
#: no greeting 10, forbidden words 20, talking over 10, wrap-up too long 5, no ticket 15
BAD_SCORE = 100 - 10 - 20 - 10 - 5 - 15


def test_quality_page(app, live, browser):
    from playwright.sync_api import expect

    from quality import service

    for i in range(3):
        store_call(app, 100 + i, "operator1", **GOOD, minutes=i)
    store_call(app, 200, "operator2", **BAD, minutes=10)
    with app.app_context():
        assert service.inspect_pending(db.session, app.config["HOTLINE"].recordings_dir) == 4
        db.Session.remove()
    year, week, _ = DAY.isocalendar()

    page = login(new_context(browser), live.url, "supervisor")
    page.get_by_role("link", name="质检").click()
    expect(page.locator("#q-page")).to_contain_text("共 4 条")
    rows = page.locator("#q-rows tr").evaluate_all("rows => rows.map(r => Array.from(r.cells).map(c => c.textContent))")
    assert sorted((r[1], float(r[2])) for r in rows) == [("operator1", 100.0)] * 3 + [("operator2", BAD_SCORE)]
    trend = page.locator("#q-trends tr").evaluate_all("rows => rows.map(r => Array.from(r.cells).map(c => c.textContent))")
    assert sorted((t[0], t[1], int(t[2]), float(t[3])) for t in trend) == [
        ("operator1", f"{year}-W{week:02d}", 3, 100.0), ("operator2", f"{year}-W{week:02d}", 1, float(BAD_SCORE))]

    page.locator("#q-rows tr", has_text="operator2").click()
    expect(page.locator("#q-findings tr")).to_have_count(7)
    findings = page.locator("#q-findings tr").evaluate_all(
        "rows => rows.map(r => [r.cells[0].textContent, r.cells[1].textContent])")
    assert dict(findings) == {"标准问候语": "未通过", "服务禁语": "未通过", "长时间静默": "通过", "抢话（打断市民）": "未通过",
                              "保持时间过长": "通过", "话后处理过长": "未通过", "登记工单": "未通过"}
    # the talking-over evidence (4.0 s into the call) plays the recording from a second before it
    page.locator("#q-findings tr", has_text="抢话").get_by_role("button").click()
    page.wait_for_function("() => Math.abs(document.getElementById('q-audio').currentTime - 3.0) < 0.5")

    form = page.get_by_role("form", name="人工评分")
    for label, points in (("服务态度", "20"), ("业务能力", "15"), ("工单记录准确", "10"), ("服务规范", "5")):
        form.get_by_label(label).fill(points)
    form.get_by_label("质检意见").fill("<b>未登记工单</b>")
    form.get_by_role("button", name="提交评分").click()
    expect(page.locator("#q-rows tr", has_text="operator2")).to_contain_text("已评分")
    expect(page.locator("#q-actions")).to_contain_text("质检意见：<b>未登记工单</b>")  # shown as text

    op = login(new_context(browser), live.url, "operator2")
    op.get_by_role("link", name="质检").click()
    expect(op.locator("#q-page")).to_contain_text("共 1 条")
    op.locator("#q-rows tr").first.click()
    appeal = op.get_by_role("form", name="申诉")
    appeal.get_by_label("申诉理由").fill("市民要求转接，已口头告知")
    appeal.get_by_role("button", name="提交申诉").click()
    expect(op.locator("#q-actions")).to_contain_text("申诉：市民要求转接，已口头告知（待处理）")
    expect(op.get_by_role("form", name="申诉")).to_have_count(0)  # once only
    expect(op.locator("#q-rows tr").first).to_contain_text("申诉中")
