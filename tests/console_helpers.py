"""Shared by the console tests: a real HTTP + Socket.IO server in a thread and headless Chromium.

Chromium is Debian's (/usr/bin/chromium); Playwright cannot download browsers here. Without it
the browser tests skip loudly, and under CI=true they fail.
"""
from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import pytest

from tests.telephony_helpers import wait_for

CHROMIUM = os.environ.get("HOTLINE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
PASSWORDS = {"operator1": "operator1-pass", "operator2": "operator2-pass", "supervisor": "supervisor-pass",
             "admin": "admin-pass", "housing": "housing-pass", "water": "water-pass", "market": "market-pass"}


def require_chromium() -> None:
    from tests.telephony_helpers import require_tool

    require_tool(CHROMIUM, "chromium", CHROMIUM)


class LiveServer:
    """The app served by Werkzeug's threaded server (what socketio.run uses in threading mode)."""

    def __init__(self, app, port: int):
        from werkzeug.serving import make_server

        self.app = app
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.server = make_server("127.0.0.1", port, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True, name=f"live-{port}")

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.thread.join(5)


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


def login(context, base: str, username: str):
    page = context.new_page()
    page.goto(base + "/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORDS[username])
    page.get_by_role("button", name="登录", exact=True).click()
    page.wait_for_load_state("domcontentloaded")
    page.wait_for_function("() => document.body.dataset.live === 'connected'", timeout=10000)
    return page


def publish(app, name: str, payload: dict) -> None:
    from hotline.events import bus

    with app.app_context():
        bus.publish(name, payload)


def dispatch_from_form(page, ticket_type: str, department: str) -> str:
    """Fill the operator's ticket form, press 派单, and return the new ticket's number."""
    from playwright.sync_api import expect

    page.get_by_label("诉求类型").select_option(ticket_type)
    page.get_by_label("主办单位", exact=True).select_option(department)
    page.get_by_role("button", name="派单", exact=True).click()
    result = page.locator("#result")
    expect(result).to_contain_text("已派单")
    return re.search(r"\d{14}", result.inner_text()).group(0)


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05):
    """wait_for that fails the test instead of returning a falsy value."""
    value = wait_for(predicate, timeout, interval)
    if not value:
        raise AssertionError("condition not met in time")
    return value


@pytest.fixture
def browser():
    """Headless Debian Chromium driven by Playwright (import this fixture into a test module)."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def live(app):
    """The test app served for real on a free port."""
    from tests.conftest import free_port

    with LiveServer(app, free_port()) as server:
        yield server


def new_context(browser):
    from playwright.sync_api import expect

    expect.set_options(timeout=10000)
    ctx = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    ctx.set_default_timeout(10000)
    return ctx
