"""Issue 11, defects 5 and 10: post-login redirects stay on this site, security headers on every
response, CSRF skipped only for a valid bearer token, anonymous writes are 401, the secret key
file is private."""
from __future__ import annotations

import os
import re
import stat
from urllib.parse import urlsplit

import pytest

from tests.console_helpers import PASSWORDS, browser, live, new_context  # noqa: F401 (fixtures)
from tests.ticket_helpers import COMPLAINT

#: next= values that browsers would follow to another host (tab dropped, backslash read as slash)
HOSTILE_NEXT = ["/%09/evil.example/phish", "//evil.example/phish", "/\\evil.example/phish", "/%5Cevil.example",
                "https://evil.example/phish", "/%0a/evil.example", "/%2F/evil.example", "javascript:alert(1)",
                "http:/evil.example", "/\t/evil.example"]


def csrf_from(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def form_login(client, username: str, password: str, query: str = ""):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    return client.post("/login" + query, data={"username": username, "password": password, "csrf_token": token})


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_login_never_redirects_off_site(client, target):
    r = form_login(client, "operator1", PASSWORDS["operator1"], "?next=" + target.replace("\t", "%09"))
    assert r.status_code == 302
    location = r.headers["Location"]
    parts = urlsplit(location)
    assert parts.netloc in ("", "localhost") and not location.startswith("//"), location
    assert not any(c in location for c in "\\\t\n\r")
    assert "evil" not in location


def test_login_keeps_a_local_next(client):
    r = form_login(client, "operator1", PASSWORDS["operator1"], "?next=/console/knowledge%3Fq%3D1")
    assert r.status_code == 302 and r.headers["Location"] == "/console/knowledge?q=1"


def test_browser_stays_on_site_after_login_with_hostile_next(live, browser):
    """What the defect report did, in a real Chromium: the tab-smuggled //host must not be followed."""
    ctx = new_context(browser)
    phished = []
    ctx.route("**://evil.example/**", lambda route: (phished.append(route.request.url),
                                                     route.fulfill(status=200, body="PHISHED")))
    page = ctx.new_page()
    for target in ("/%09/evil.example/phish", "/%5Cevil.example/phish", "//evil.example/phish"):
        page.goto(f"{live.url}/login?next={target}")
        page.get_by_label("用户名").fill("operator1")
        page.get_by_label("密码").fill(PASSWORDS["operator1"])
        page.get_by_role("button", name="登录", exact=True).click()
        page.wait_for_load_state("domcontentloaded")
        assert urlsplit(page.url).netloc == urlsplit(live.url).netloc, page.url
        assert "PHISHED" not in page.content()
        page.request.post(live.url + "/logout", form={"csrf_token": page.locator(
            'meta[name="csrf-token"]').get_attribute("content")})
    assert phished == []
    ctx.close()


def test_security_headers_on_pages_api_static_and_errors(client, api):
    op = api("operator1")
    for r in (client.get("/login"), client.get("/api/v1/tickets"), client.get("/static/hotline.css"),
              op.get("/api/v1/tickets"), client.get("/no/such/page"), client.get("/healthz")):
        csp = r.headers.get("Content-Security-Policy", "")
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp, (r.request.path, csp)
        assert "unsafe-inline" not in csp
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Referrer-Policy"] == "same-origin"
        assert r.headers["X-Frame-Options"] == "DENY"


def test_templates_have_no_inline_script_or_handlers():
    """The CSP forbids inline script: every template must load its code from static files."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    offenders = []
    for path in root.glob("*/templates/**/*.html"):
        html = path.read_text()
        for m in re.finditer(r"<script\b([^>]*)>(.*?)</script>", html, re.S):
            if m.group(2).strip() and "application/json" not in m.group(1):
                offenders.append(f"{path.name}: inline <script>")
        if re.search(r"\son[a-z]+\s*=", html):
            offenders.append(f"{path.name}: inline event handler")
        if re.search(r"\sstyle\s*=", html):
            offenders.append(f"{path.name}: inline style attribute")
    assert offenders == []


def test_invalid_bearer_does_not_skip_csrf(client):
    """A made-up Authorization header used to exempt a cookie session from CSRF."""
    assert form_login(client, "operator1", PASSWORDS["operator1"]).status_code == 302
    r = client.post("/api/v1/tickets", json=COMPLAINT, headers={"Authorization": "Bearer made-up"})
    assert r.status_code in (400, 401) and r.status_code != 201
    r = client.post("/api/v1/tickets", json=COMPLAINT, headers={"Authorization": "Basic b3A6cA=="})
    assert r.status_code in (400, 401)
    r = client.post("/api/v1/tickets", json=COMPLAINT)
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "csrf_failed"
    assert client.get("/api/v1/tickets?per_page=200").get_json()["total"] == 0  # nothing stored


def test_valid_bearer_needs_no_csrf(api):
    r = api("operator1").post("/api/v1/tickets", json=COMPLAINT)
    assert r.status_code == 201


def test_anonymous_writes_are_401(client):
    for path in ("/api/v1/tickets", "/api/v1/tickets/20260101000001/actions/accept", "/api/v1/departments"):
        r = client.post(path, json={})
        assert r.status_code == 401, (path, r.status_code)
        assert r.get_json()["error"]["code"] == "unauthorized"
    r = client.post("/api/v1/tickets", json=COMPLAINT, headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401


def test_secure_cookie_from_configuration(database_url, tmp_path):
    from hotline.app import create_app

    app = create_app({"database_url": database_url, "testing": True, "sip_enabled": False,
                      "secret_key": "k", "session_cookie_secure": True})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    r = app.test_client().get("/login")
    assert "Secure" in r.headers["Set-Cookie"]
    from hotline.config import Config

    assert Config.from_env({"SESSION_COOKIE_SECURE": "true", "SECRET_KEY": "k"}).session_cookie_secure is True
    assert Config.from_env({"SECRET_KEY": "k"}).session_cookie_secure is False


def test_secret_key_file_is_private(tmp_path, monkeypatch):
    from hotline import config

    monkeypatch.setattr(config, "INSTANCE_DIR", tmp_path)
    key = config._secret_key()
    path = tmp_path / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(key) == 64
    os.chmod(path, 0o644)  # written by an older release
    assert config._secret_key() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_console_pages_run_under_the_csp(live, browser, api):
    """Every console page works with the policy: no violation reported, the socket connects."""
    from tests.console_helpers import login

    number = api("operator1").post("/api/v1/tickets", json=COMPLAINT).get_json()["number"]
    violations = []
    ctx = new_context(browser)
    ctx.on("console", lambda msg: violations.append(msg.text)
           if "Content Security Policy" in msg.text or "Content-Security-Policy" in msg.text else None)
    page = login(ctx, live.url, "admin")
    for path in ("/console/operator", "/console/supervisor", "/console/knowledge", f"/console/tickets/{number}"):
        page.goto(live.url + path)
        page.wait_for_function("() => document.body.dataset.live === 'connected'")
    page.get_by_text(number).first.wait_for()  # the case page's script (a static file now) ran
    assert violations == []
    ctx.close()
