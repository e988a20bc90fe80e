"""Departments and towns: the 41 county units, add/rename/retire without breaking history."""
from __future__ import annotations

import os
import subprocess
import sys

from .ticket_helpers import COMPLAINT


def test_41_county_units_and_towns(api):
    op = api("operator1")
    units = op.get("/api/v1/departments").get_json()
    county = [u for u in units if u["kind"] == "county"]
    assert len(county) == 41
    assert len({u["code"] for u in units}) == len(units)
    names = {u["name"] for u in county}
    assert {"县发展和改革局", "县公安局", "县信访局", "县交警大队", "县社保基金管理博罗分局"} <= names
    towns = op.get("/api/v1/towns").get_json()
    assert {"code": "shiwan", "name": "石湾镇"} in towns
    assert any(u["code"] == "town-shiwan" and u["kind"] == "town" for u in units)


def test_rename_and_retire_keep_history(api):
    op, admin, housing = api("operator1"), api("admin"), api("housing")
    number = op.post("/api/v1/tickets", json=COMPLAINT).get_json()["number"]
    op.act(number, "accept")
    op.act(number, "dispatch", {"main_department": "housing"})
    r = admin.patch("/api/v1/departments/housing", json={"name": "县住房和城乡建设局"})
    assert r.status_code == 200 and r.get_json()["name"] == "县住房和城乡建设局"
    t = op.get(f"/api/v1/tickets/{number}").get_json()
    assert t["main_department"]["name"] == "县住房和城乡建设局"
    assert t["events"][2]["data"]["main_department"]["name"] == "县住房和城乡规划建设局"  # as it was then
    assert admin.patch("/api/v1/departments/housing", json={"active": False}).status_code == 200
    assert all(u["code"] != "housing" for u in op.get("/api/v1/departments").get_json())
    assert any(u["code"] == "housing" for u in admin.get("/api/v1/departments?include_retired=1").get_json())
    assert housing.get(f"/api/v1/tickets/{number}").status_code == 200  # its tickets stay reachable
    other = op.post("/api/v1/tickets", json=COMPLAINT).get_json()["number"]
    op.act(other, "accept")
    r = op.act(other, "dispatch", {"main_department": "housing"})
    assert r.status_code == 422 and "retired" in r.get_json()["error"]["fields"]["main_department"]
    history = admin.get("/api/v1/departments/housing/history").get_json()
    assert [h["change"] for h in history] == ["created", "renamed", "retired"]
    assert history[1]["old"] == "县住房和城乡规划建设局" and history[1]["actor"] == "admin"


def test_admin_adds_units_and_towns_with_validation(api):
    admin = api("admin")
    assert admin.post("/api/v1/departments", json={"code": "Bad Code", "name": ""}).status_code == 422
    assert admin.post("/api/v1/departments", json={"code": "drc", "name": "重复"}).status_code == 409
    assert admin.post("/api/v1/departments", json={"code": "datacenter", "name": "县政务服务数据管理局"}).status_code == 201
    assert admin.patch("/api/v1/departments/nope", json={"name": "x"}).status_code == 404
    assert admin.patch("/api/v1/departments/drc", json={"code": "x"}).status_code == 422
    r = admin.post("/api/v1/towns", json={"code": "luofushan", "name": "罗浮山管委会"})
    assert r.status_code == 201
    assert any(u["code"] == "town-luofushan" for u in admin.get("/api/v1/departments").get_json())


def run_cli(database_url, *args, stdin=""):
    env = {**os.environ, "DATABASE_URL": database_url, "HOTLINE_SIP_ENABLED": "false"}
    env.pop("REDIS_URL", None)
    return subprocess.run([sys.executable, "-m", "hotline.app.cli", *args], input=stdin, env=env,
                          capture_output=True, text=True, timeout=120)


def test_cli_users_create(app, database_url, client):
    r = run_cli(database_url, "users", "create", "li.si", "--role", "department", "--department", "water",
                stdin="s3cret-pass\n")
    assert r.returncode == 0, r.stderr
    assert "created department li.si of water" in r.stdout
    tok = client.post("/api/v1/auth/token", json={"username": "li.si", "password": "s3cret-pass"})
    assert tok.status_code == 200 and tok.get_json()["role"] == "department"
    bad = run_cli(database_url, "users", "create", "wang", "--role", "department", stdin="s3cret-pass\n")
    assert bad.returncode != 0 and "--department" in bad.stderr
    bad = run_cli(database_url, "users", "create", "wang", "--role", "operator", stdin="short\n")
    assert bad.returncode != 0 and "password" in bad.stderr
    dup = run_cli(database_url, "users", "create", "li.si", "--role", "operator", stdin="s3cret-pass\n")
    assert dup.returncode != 0 and "already exists" in dup.stderr
