"""Merge candidates (并单): same caller, or same place with similar text, within the window."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tests.conftest import both_databases

CST = timezone(timedelta(hours=8))


def _create(op, content, *, phone=None, address=None, town=None, hours_ago=1.0):
    body = {"type": "投诉", "content": content,
            "received_at": (datetime.now(CST) - timedelta(hours=hours_ago)).isoformat()}
    if phone:
        body["caller"] = {"phone": phone}
    if address:
        body["address"] = address
    if town:
        body["town"] = town
    r = op.post("/api/v1/tickets", json=body)
    assert r.status_code == 201, r.get_json()
    return r.get_json()["number"]


@both_databases
def test_same_caller_and_same_place_are_candidates(app, api):
    op = api("operator1")
    target = _create(op, "北门路12号楼下餐馆油烟很大，晚上熏得没法开窗", phone="13812345678",
                     address="罗阳街道北门路12号", town="luoyang")
    same_caller = _create(op, "还是那家餐馆的油烟，昨天反映过了还没人来处理", phone="13812345678", hours_ago=5)
    same_place = _create(op, "北门路12号楼下那家餐馆油烟太大了，熏得家里没法开窗户", phone="13900000001",
                         address="罗阳街道北门路12号", town="luoyang", hours_ago=2)
    unrelated = _create(op, "龙溪街道的路灯坏了好几天了", phone="13900000002",
                        address="龙溪街道龙桥大道", town="longxi", hours_ago=2)
    old = _create(op, "北门路12号楼下餐馆油烟很大，熏得没法开窗", phone="13812345678",
                  address="罗阳街道北门路12号", town="luoyang", hours_ago=24 * 10)

    r = op.get(f"/api/v1/tickets/{target}/duplicates")
    assert r.status_code == 200
    body = r.get_json()
    assert body["window_hours"] == 72
    found = {c["number"]: c for c in body["candidates"]}
    assert same_caller in found and "same_caller" in found[same_caller]["reasons"]
    assert same_place in found and "same_place" in found[same_place]["reasons"]
    assert found[same_place]["text_similarity"] > 0.5
    assert unrelated not in found and old not in found
    assert all(0 < c["score"] <= 1 for c in body["candidates"])
    scores = [c["score"] for c in body["candidates"]]
    assert scores == sorted(scores, reverse=True)

    wide = op.get(f"/api/v1/tickets/{target}/duplicates?window_hours=720").get_json()
    assert old in {c["number"] for c in wide["candidates"]}


def test_window_comes_from_config_and_is_validated(app, api):
    from dataclasses import replace

    op = api("operator1")
    target = _create(op, "小区门口垃圾堆了三天没人清", phone="13812345679", address="石湾镇新城路")
    other = _create(op, "门口的垃圾三天了都没人来清运", phone="13812345679", hours_ago=30)
    assert other in {c["number"] for c in op.get(f"/api/v1/tickets/{target}/duplicates").get_json()["candidates"]}
    app.config["HOTLINE"] = replace(app.config["HOTLINE"], duplicate_window_hours=24)
    body = op.get(f"/api/v1/tickets/{target}/duplicates").get_json()
    assert body["window_hours"] == 24 and other not in {c["number"] for c in body["candidates"]}
    assert op.get(f"/api/v1/tickets/{target}/duplicates?window_hours=abc").status_code == 422
    assert api("housing").get(f"/api/v1/tickets/{target}/duplicates").status_code == 403
    assert op.get("/api/v1/tickets/20990101000001/duplicates").status_code == 404
