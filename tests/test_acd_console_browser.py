"""The operator's call controls in a real browser on a real call: 示闲 from the console, the queue
offers the call, the operator transfers it to a department phone with the 直接转接 button, and the
supervisor's tiles show today's 接通率 from the call rows."""
from __future__ import annotations

from dataclasses import replace

import pytest

from tests.acd_helpers import OperatorPhone, acd_endpoint, citizen_call, proxy, stop_endpoint  # noqa: F401
from tests.console_helpers import browser, live, login, new_context, screenshot  # noqa: F401 (fixtures)
from tests.telephony_helpers import tmp_dir, wait_for

pytestmark = [pytest.mark.sip, pytest.mark.browser]


def test_operator_takes_a_queued_call_and_transfers_it_from_the_console(app, proxy, live, browser):
    from playwright.sync_api import expect

    # the web sees the same SIP settings as the sip process: the queue is on
    app.config["HOTLINE"] = replace(app.config["HOTLINE"], sip_mode="register", sip_server=proxy.host,
                                    sip_server_port=proxy.port)
    operator, department = OperatorPhone(proxy, "1001"), OperatorPhone(proxy, "2001")
    endpoint, acd = acd_endpoint(app, proxy, acd_wrapup=60)
    citizen = None
    try:
        page = login(new_context(browser), live.url, "operator1")
        page.get_by_role("button", name="示闲").click()
        expect(page.locator("#agent-state")).to_have_text("示闲")
        sc, citizen = citizen_call(proxy, tmp_dir(), hold_ms=9000, background=True)
        controls = page.get_by_role("region", name="通话控制")
        expect(controls).to_be_visible(timeout=15000)
        expect(page.locator("#agent-state")).to_have_text("通话中")
        page.get_by_label("转接至").select_option("2001")
        page.get_by_role("button", name="直接转接").click()
        expect(page.locator("#cmd-result")).to_have_text("直接转接：成功（2001）", timeout=15000)
        expect(page.locator("#agent-state")).to_have_text("话后处理")
        screenshot(page, "acd-operator-transferred")
        expect(controls).to_be_hidden()  # the call is the department's now
        citizen.communicate(timeout=40)
        assert wait_for(lambda: endpoint.finished, 15)
        sup = login(new_context(browser), live.url, "supervisor")
        expect(sup.locator("#k-answer-rate")).to_have_text("100%")
        expect(sup.locator("#k-abandoned")).to_have_text("0")
    finally:
        if citizen is not None and citizen.poll() is None:
            citizen.kill()
        stop_endpoint(endpoint, acd)
        operator.stop()
        department.stop()


def test_an_offer_the_operator_does_not_answer_leaves_their_screen(app, proxy, live, browser):
    """The queue rings operator1's phone, nobody picks up: the console says why they are 示忙 now
    and the call's popup goes away (the call rings another operator)."""
    from playwright.sync_api import expect

    app.config["HOTLINE"] = replace(app.config["HOTLINE"], sip_mode="register", sip_server=proxy.host,
                                    sip_server_port=proxy.port)
    phone = OperatorPhone(proxy, "1001", answer=False)
    endpoint, acd = acd_endpoint(app, proxy, acd_ring_timeout=3, acd_max_wait=20)
    citizen = None
    try:
        page = login(new_context(browser), live.url, "operator1")
        page.get_by_role("button", name="示闲").click()
        expect(page.locator("#agent-state")).to_have_text("示闲")
        sc, citizen = citizen_call(proxy, tmp_dir(), hold_ms=8000, background=True)
        expect(page.locator("#popup")).to_be_visible(timeout=15000)  # offered: the screen pops
        expect(page.locator("#agent-state")).to_have_text("示忙", timeout=15000)  # ring timeout
        expect(page.locator("#popup")).to_be_hidden()
        expect(page.locator("#call-info")).to_contain_text("未接，已转其他话务员")
        screenshot(page, "acd-offer-withdrawn")
    finally:
        if citizen is not None and citizen.poll() is None:
            citizen.kill()
        stop_endpoint(endpoint, acd)
        phone.stop()
