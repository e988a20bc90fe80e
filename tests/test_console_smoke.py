"""Each role logs in and lands on its console in a real Chromium; screenshots of every main page."""
from __future__ import annotations

from tests.console_helpers import browser, live, login, screenshot  # noqa: F401 (fixtures)


def test_roles_land_on_their_console(live, browser):
    for user, path, heading in (("operator1", "/console/operator", "工单登记"),
                                ("housing", "/console/department", "承办工作台"),
                                ("supervisor", "/console/supervisor", "坐席状态"),
                                ("admin", "/console/supervisor", "坐席状态")):
        ctx = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
        page = login(ctx, live.url, user)
        assert page.url.endswith(path)
        assert page.get_by_text(heading).first.is_visible()
        # fits 1366x768: no horizontal scrolling, the page itself does not scroll either
        assert page.evaluate("document.documentElement.scrollWidth") <= 1366
        assert page.evaluate("document.documentElement.scrollHeight") <= 768
        screenshot(page, f"role-{user}")
        ctx.close()


def test_login_page_still_works_and_rejects_bad_passwords(live, browser):
    page = browser.new_page()
    page.goto(live.url + "/console/operator")
    assert "/login" in page.url
    page.get_by_label("用户名").fill("operator1")
    page.get_by_label("密码").fill("wrong-password")
    page.get_by_role("button", name="登录", exact=True).click()
    assert page.get_by_role("alert").inner_text() == "用户名或密码错误"
    page.close()
