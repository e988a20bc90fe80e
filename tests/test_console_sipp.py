"""The whole flow from a real SIP call: SIPp calls the project's endpoint, vosk transcribes live
(the test-only Korean model), the operator's Chromium shows the pop-up and the growing transcript,
completes telephony's draft and dispatches it; the department signs and replies without reloading;
the operator approves and records the callback; the supervisor's counters move live."""
from __future__ import annotations

import re

import pytest

from tests.console_helpers import browser, dispatch_from_form, live, login, new_context, screenshot  # noqa: F401 (fixtures)
from tests.telephony_helpers import AUDIO_DIR, CALLER, require_sipp, run_sipp, scenario, sipp_error_log, start_endpoint

pytestmark = pytest.mark.sip
HANGUL = re.compile("[\uac00-\ud7a3]")


@pytest.fixture
def endpoint(app):
    require_sipp()
    from tests.speech_helpers import make_engine

    ep = start_endpoint(app, speech=make_engine(max_live=2))
    yield ep
    ep.stop()


def test_sipp_call_to_dispatch_to_reply_to_callback(app, live, browser, endpoint, tmp_path):
    from playwright.sync_api import expect

    op = login(new_context(browser), live.url, "operator1")
    dept = login(new_context(browser), live.url, "housing")
    sup = login(new_context(browser), live.url, "supervisor")
    kpi = lambda name: sup.locator(f'[data-kpi="{name}"]')  # noqa: E731
    expect(kpi("tickets")).to_have_text("0")
    op.get_by_role("button", name="示闲").click()

    sc = scenario("uac_call.xml", tmp_path, AUDIO=AUDIO_DIR / "ko_call.ulaw", HOLD_MS=9000)
    sipp = run_sipp(sc, endpoint.config.sip_port, timeout=90, background=True)
    try:
        popup = op.get_by_role("dialog", name="来电弹屏")
        expect(popup).to_be_visible(timeout=15000)
        expect(popup).to_contain_text(CALLER)
        expect(kpi("talking")).to_have_text("1", timeout=15000)
        transcript = op.get_by_role("log", name="实时转写")
        expect(transcript).to_have_text(HANGUL, timeout=30000)
        screenshot(op, "sipp-operator-live-call")
        out, _ = sipp.communicate(timeout=120)
        assert sipp.returncode == 0, out[-2000:] + sipp_error_log(sc)
    finally:
        if sipp.poll() is None:
            sipp.kill()
    assert endpoint.wait_idle(30)
    expect(kpi("talking")).to_have_text("0")
    expect(kpi("share")).to_have_text("100%")
    expect(op.locator("#call-info")).to_contain_text("草稿工单", timeout=20000)
    expect(op.get_by_label("诉求内容")).to_have_value(HANGUL)
    expect(kpi("tickets")).to_have_text("1")

    number = dispatch_from_form(op, "求助", "housing")

    item = dept.locator(f'#inbox li[data-number="{number}"]')
    expect(item).to_be_visible()
    item.get_by_role("link", name=number).click()
    dept.get_by_role("button", name="签收", exact=True).click()
    expect(dept.locator("#detail")).to_contain_text("办理中")
    dept.get_by_role("button", name="答复", exact=True).click()
    dept.get_by_label("答复内容").fill("已派人现场处理。")
    dept.get_by_role("button", name="确认答复").click()
    expect(dept.locator("#detail")).to_contain_text("已答复")

    op.get_by_role("tab", name="答复审核与回访").click()
    op.locator("#review").get_by_role("link", name=number).click()
    detail = op.locator("#detail")
    expect(detail.locator("audio")).to_have_count(1)
    detail.get_by_role("button", name="审核通过").click()
    expect(detail).to_contain_text("待回访")
    detail.get_by_role("button", name="回访", exact=True).click()
    detail.get_by_label("基本满意").check()
    detail.get_by_label("已解决").check()
    detail.get_by_role("button", name="确认回访").click()
    expect(detail).to_contain_text("已办结")
    expect(sup.locator("#by-status")).to_contain_text("已办结")
    screenshot(sup, "sipp-supervisor-wallboard")
    for page in (op, dept, sup):
        page.context.close()
