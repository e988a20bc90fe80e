"""`hotline route`, `hotline catalogue export/import` as real subprocesses on the test database."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.routing_helpers import install_model

HOTLINE = str(Path(sys.executable).parent / "hotline")


def _run(database_url, tmp_path, *args, check=True):
    env = dict(os.environ, DATABASE_URL=database_url, HOTLINE_INSTANCE_DIR=str(tmp_path / "inst"),
               HOTLINE_SIP_ENABLED="false")
    proc = subprocess.run([HOTLINE, *args], capture_output=True, text=True, env=env, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def test_route_prints_the_suggestion_json(app, database_url, tmp_path):
    install_model(app)
    out = _run(database_url, tmp_path, "route", "隔壁工厂半夜偷偷往河里排污水，河水都黑了").stdout
    result = json.loads(out)
    assert result["departments"][0]["code"] == "eco"
    assert set(result) >= {"departments", "type", "urgent", "emergency"}
    assert result["type"] == "举报"
    assert {"code", "name", "score", "evidence"} <= set(result["departments"][0])


def test_route_rejects_empty_and_huge_text(app, database_url, tmp_path):
    proc = _run(database_url, tmp_path, "route", "", check=False)
    assert proc.returncode != 0 and "text" in proc.stderr
    proc = _run(database_url, tmp_path, "route", "好" * 5000, check=False)
    assert proc.returncode != 0 and "at most" in proc.stderr


def test_catalogue_export_edit_import_roundtrip(app, database_url, tmp_path):
    yaml_file = tmp_path / "cat.yaml"
    _run(database_url, tmp_path, "catalogue", "export", str(yaml_file))
    data = yaml.safe_load(yaml_file.read_text(encoding="utf-8"))
    assert "sibf" in data and any(m["matter"] == "餐饮油烟扰民" and m["co"] == ["urbanmgmt"] for m in data["eco"])
    data["stiit"].append({"matter": "共享充电设施", "keywords": ["共享充电宝"], "co": ["market"]})
    data["weather"] = [m for m in data["weather"] if m["matter"] != "防雷和气象证明"]
    yaml_file.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    out = _run(database_url, tmp_path, "catalogue", "import", str(yaml_file), "--actor", "王管理员", "--no-train").stdout
    assert "'created': 1" in out and "'deleted': 1" in out

    csv_file = tmp_path / "cat.csv"
    _run(database_url, tmp_path, "catalogue", "export", str(csv_file))
    with open(csv_file, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    row = next(r for r in rows if r["matter"] == "共享充电设施")
    assert row["unit"] == "stiit" and row["keywords"] == "共享充电宝" and row["co_units"] == "market"
    row["keywords"] = "共享充电宝|充电宝"
    with open(csv_file, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["unit", "matter", "keywords", "co_units"])
        w.writeheader()
        w.writerows(rows)
    out = _run(database_url, tmp_path, "catalogue", "import", str(csv_file), "--actor", "李管理员").stdout
    assert "'updated': 1" in out

    from hotline.extensions import db
    from routing import catalogue

    with app.app_context():
        changes = catalogue.history(db.session, limit=5)
        assert changes[0].actor == "李管理员" and changes[0].action == "update"
        assert changes[0].before["keywords"] == ["共享充电宝"]
        assert changes[0].after["keywords"] == ["共享充电宝", "充电宝"]
        actors = {c.actor for c in catalogue.history(db.session, limit=500)}
        assert {"seed", "王管理员", "李管理员"} <= actors


def test_import_rejects_unknown_units_without_writing(app, database_url, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("nosuch:\n  - matter: 测试\n    keywords: [测试]\n", encoding="utf-8")
    _run(database_url, tmp_path, "catalogue", "export", str(tmp_path / "before.yaml"))
    proc = _run(database_url, tmp_path, "catalogue", "import", str(bad), "--actor", "x", check=False)
    assert proc.returncode != 0 and "unknown unit" in proc.stderr
    _run(database_url, tmp_path, "catalogue", "export", str(tmp_path / "after.yaml"))
    assert (tmp_path / "before.yaml").read_text() == (tmp_path / "after.yaml").read_text()
