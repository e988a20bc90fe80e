"""Issue 11, defect 7: logout, password change and an admin's revocation end every session cookie
and bearer token of the user; deactivated users can neither log in nor use tokens."""
from __future__ import annotations

import re

from tests.conftest import both_databases
from tests.console_helpers import PASSWORDS, browser, live, new_context  # noqa: F401 (fixtures)

NEW_PASSWORD = "Harbour-Lights-2026"


def csrf_from(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def browser_login(app, username: str, password: str | None = None):
    """A separate cookie jar logged in through the form; returns (client, csrf token)."""
    c = app.test_client()
    token = csrf_from(c.get("/login").get_data(as_text=True))
    r = c.post("/login", data={"username": username, "password": password or PASSWORDS[username],
                               "csrf_token": token})
    assert r.status_code == 302, r.status_code
    return c, csrf_from(c.get("/account/password").get_data(as_text=True))


def saved_cookie(c) -> str:
    return c.get_cookie("session").value


def replay(app, cookie: str) -> int:
    """A request carrying a saved session cookie (what an attacker who copied it would send)."""
    c = app.test_client()
    c.set_cookie("session", cookie)
    return c.get("/api/v1/tickets").status_code


def bearer(client, username: str, password: str | None = None) -> str:
    r = client.post("/api/v1/auth/token", json={"username": username, "password": password or PASSWORDS[username]})
    assert r.status_code == 200, r.get_json()
    return r.get_json()["token"]


def with_token(client, token: str) -> int:
    return client.get("/api/v1/tickets", headers={"Authorization": f"Bearer {token}"}).status_code


@both_databases
def test_logout_ends_every_session_and_token(app, client):
    a, csrf = browser_login(app, "operator1")
    other, _ = browser_login(app, "operator1")  # the same user in a second browser
    cookie, cookie_other = saved_cookie(a), saved_cookie(other)
    token = bearer(client, "operator1")
    assert replay(app, cookie) == 200 and replay(app, cookie_other) == 200 and with_token(client, token) == 200
    assert a.post("/logout", data={"csrf_token": csrf}).status_code == 302
    assert replay(app, cookie) == 401
    assert replay(app, cookie_other) == 401
    assert with_token(client, token) == 401
    # another user is untouched
    assert with_token(client, bearer(client, "operator2")) == 200


@both_databases
def test_password_change_ends_other_sessions_and_tokens(app, client):
    a, csrf = browser_login(app, "operator1")
    other, _ = browser_login(app, "operator1")
    cookie_other = saved_cookie(other)
    token = bearer(client, "operator1")
    r = a.post("/account/password", data={"csrf_token": csrf, "old_password": PASSWORDS["operator1"],
                                          "new_password": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert r.status_code == 200 and "密码已修改" in r.get_data(as_text=True)
    assert replay(app, cookie_other) == 401 and with_token(client, token) == 401
    assert a.get("/api/v1/tickets").status_code == 200  # the browser that changed it stays in
    assert client.post("/api/v1/auth/token", json={"username": "operator1",
                                                   "password": PASSWORDS["operator1"]}).status_code == 401
    assert with_token(client, bearer(client, "operator1", NEW_PASSWORD)) == 200


def test_password_change_rules_and_csrf(app, client):
    a, csrf = browser_login(app, "operator1")
    page = a.get("/account/password").get_data(as_text=True)
    assert "修改密码" in page and "当前密码" in page
    form = {"csrf_token": csrf, "old_password": PASSWORDS["operator1"]}
    for new, message in (("short1!", "至少 10 个字符"), ("aaaaaaaaaaaa", "至少两类"),
                         ("operator1-longer", "不能包含用户名"), ("admin-pass", "至少 10 个字符"),
                         ("supervisor-pass", "已公开")):
        r = a.post("/account/password", data={**form, "new_password": new, "new_password2": new})
        assert r.status_code == 422 and message in r.get_data(as_text=True), new
    r = a.post("/account/password", data={**form, "old_password": "wrong", "new_password": NEW_PASSWORD,
                                          "new_password2": NEW_PASSWORD})
    assert r.status_code == 422 and "当前密码不正确" in r.get_data(as_text=True)
    r = a.post("/account/password", data={**form, "new_password": NEW_PASSWORD, "new_password2": NEW_PASSWORD + "x"})
    assert r.status_code == 422 and "不一致" in r.get_data(as_text=True)
    r = a.post("/account/password", data={"old_password": PASSWORDS["operator1"], "new_password": NEW_PASSWORD,
                                          "new_password2": NEW_PASSWORD})
    assert r.status_code == 400  # no CSRF token
    assert with_token(client, bearer(client, "operator1")) == 200  # nothing changed


def test_password_change_api(app, client):
    token = bearer(client, "housing")
    h = {"Authorization": f"Bearer {token}"}
    r = client.post("/api/v1/auth/password", json={"old_password": "x", "new_password": "short"}, headers=h)
    assert r.status_code == 422 and set(r.get_json()["error"]["fields"]) == {"old_password", "new_password"}
    r = client.post("/api/v1/auth/password", json={"old_password": PASSWORDS["housing"],
                                                    "new_password": NEW_PASSWORD}, headers=h)
    assert r.status_code == 200 and r.get_json()["revoked_tokens"] == 1
    assert with_token(client, token) == 401
    assert with_token(client, bearer(client, "housing", NEW_PASSWORD)) == 200


@both_databases
def test_revoke_own_token_or_everything(app, client):
    t1, t2 = bearer(client, "supervisor"), bearer(client, "supervisor")
    r = client.post("/api/v1/auth/revoke", headers={"Authorization": f"Bearer {t1}"})
    assert r.status_code == 200 and r.get_json()["scope"] == "token"
    assert with_token(client, t1) == 401 and with_token(client, t2) == 200
    a, csrf = browser_login(app, "supervisor")
    cookie = saved_cookie(a)
    r = client.post("/api/v1/auth/revoke", json={"scope": "all"}, headers={"Authorization": f"Bearer {t2}"})
    assert r.status_code == 200 and r.get_json() == {"scope": "all", "revoked_tokens": 1, "sessions_ended": True}
    assert with_token(client, t2) == 401 and replay(app, cookie) == 401
    assert client.post("/api/v1/auth/revoke", headers={"Authorization": f"Bearer {t2}"}).status_code == 401
    r = client.post("/api/v1/auth/revoke", json={"scope": "everything"},
                    headers={"Authorization": f"Bearer {bearer(client, 'supervisor')}"})
    assert r.status_code == 422 and "scope" in r.get_json()["error"]["fields"]


@both_databases
def test_admin_revokes_and_deactivates_through_api(app, client, api):
    admin, op = api("admin"), api("operator1")
    a, _ = browser_login(app, "operator1")
    cookie = saved_cookie(a)
    assert op.get("/api/v1/users").status_code == 403
    assert op.post("/api/v1/users/operator2/revoke").status_code == 403
    listed = {u["username"]: u for u in admin.get("/api/v1/users").get_json()["items"]}
    assert listed["operator1"]["live_tokens"] == 1 and listed["operator1"]["active"] is True
    r = admin.post("/api/v1/users/operator1/revoke")
    assert r.status_code == 200 and r.get_json()["revoked_tokens"] == 1
    assert op.get("/api/v1/tickets").status_code == 401 and replay(app, cookie) == 401
    token = bearer(client, "operator1")
    assert admin.post("/api/v1/users/operator1/deactivate").get_json()["active"] is False
    assert with_token(client, token) == 401
    assert client.post("/api/v1/auth/token", json={"username": "operator1",
                                                   "password": PASSWORDS["operator1"]}).status_code == 401
    c = app.test_client()
    r = c.post("/login", data={"username": "operator1", "password": PASSWORDS["operator1"],
                               "csrf_token": csrf_from(c.get("/login").get_data(as_text=True))})
    assert r.status_code == 401
    assert admin.post("/api/v1/users/admin/deactivate").status_code == 409  # not oneself
    assert admin.post("/api/v1/users/nobody/revoke").status_code == 404
    assert admin.post("/api/v1/users/operator1/activate").get_json()["active"] is True
    assert with_token(client, bearer(client, "operator1")) == 200


def test_admin_users_page_in_browser(live, browser, app, client):
    """The admin page (zh-CN) revokes and deactivates; the user's saved cookie and token die."""
    from playwright.sync_api import expect

    from tests.console_helpers import login

    water, _ = browser_login(app, "water")
    cookie, token = saved_cookie(water), bearer(client, "water")
    ctx = new_context(browser)
    page = login(ctx, live.url, "admin")
    page.get_by_role("link", name="用户管理").click()
    expect(page.get_by_role("heading", name="用户管理")).to_be_visible()
    row = page.locator('tr[data-username="water"]')
    expect(row).to_contain_text("启用")
    row.get_by_role("button", name="吊销 water 的会话和令牌").click()
    expect(page.get_by_role("status").filter(has_text="water")).to_contain_text("已吊销")
    assert replay(app, cookie) == 401 and with_token(client, token) == 401
    token = bearer(client, "water")
    page.locator('tr[data-username="water"]').get_by_role("button", name="停用 water").click()
    expect(page.locator('tr[data-username="water"]')).to_contain_text("已停用")
    assert with_token(client, token) == 401
    page.locator('tr[data-username="water"]').get_by_role("button", name="启用 water").click()
    expect(page.locator('tr[data-username="water"]')).to_contain_text("启用")
    assert with_token(client, bearer(client, "water")) == 200
    ctx.close()


def test_old_style_session_cookie_is_refused(app):
    """A cookie signed before sessions carried the epoch ("_user_id": "<id>") no longer logs in."""
    from flask.sessions import SecureCookieSessionInterface

    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    cookie = serializer.dumps({"_user_id": "1", "_fresh": True})
    assert replay(app, cookie) == 401



def test_account_routes_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path, method in (("/api/v1/auth/password", "post"), ("/api/v1/auth/revoke", "post"),
                         ("/api/v1/users", "get"), ("/api/v1/users/{username}/revoke", "post"),
                         ("/api/v1/users/{username}/deactivate", "post"),
                         ("/api/v1/users/{username}/activate", "post")):
        assert method in paths[path], path
    assert "429" in paths["/api/v1/auth/token"]["post"]["responses"]


@both_databases
def test_migration_0010_matches_the_models_and_goes_down_and_up(database_url):
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import create_engine, inspect

    from hotline.app.dbadmin import alembic_config, import_models, upgrade
    from hotline.extensions import Base

    import_models()
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
        assert [d for d in diff if "users" in str(d) or "api_tokens" in str(d)] == []
        if database_url.startswith("sqlite"):  # PostgreSQL's schema is shared by this process's tests
            command.downgrade(alembic_config(database_url), "0009")
            assert "auth_epoch" not in {c["name"] for c in inspect(engine).get_columns("users")}
            upgrade(database_url)
            assert "revoked_at" in {c["name"] for c in inspect(engine).get_columns("api_tokens")}
    finally:
        engine.dispose()


def test_open_console_socket_is_dropped_when_sessions_end(live, browser, app, api):
    """A console left open is cut off too: its socket is disconnected and cannot come back."""
    from playwright.sync_api import expect

    from tests.console_helpers import login

    ctx = new_context(browser)
    page = login(ctx, live.url, "housing")
    assert api("admin").post("/api/v1/users/housing/revoke").status_code == 200
    page.wait_for_function("() => document.body.dataset.live === 'disconnected'")
    expect(page.locator("#live-status")).to_contain_text("断开")
    page.reload()
    assert "/login" in page.url  # the page's own session ended as well
    ctx.close()
