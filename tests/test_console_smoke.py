"""Each role logs in and lands on its console in a real Chromium; screenshots of every main page."""
from __future__ import annotations

from tests.console_helpers import browser, live, login, screenshot  # noqa: F401 (fixtures)


def test_roles_land_on_their_console(live, browser):
    ctx = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    for user, path, heading in (("operator1", "/console/operator", "工单登记"),
                                ("housing", "/console/department", "承办工作台"),
                                ("supervisor", "/console/supervisor", "坐席状态")):
        page = login(ctx, live.url, user)
        assert page.url.endswith(path)
        assert page.get_by_text(heading).first.is_visible()
        screenshot(page, f"smoke-{user}")
        page.close()
