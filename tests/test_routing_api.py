"""POST /api/v1/routing/suggest: shape, roles, limits; the catalogue API: roles and versioning."""
from __future__ import annotations

import pytest

from tests.routing_helpers import install_model, score_of, suggestion
from tests.conftest import both_databases


@pytest.fixture
def routed(app):
    install_model(app)
    return app


def test_suggest_returns_top3_with_evidence_type_urgency(routed, api):
    op = api("operator1")
    res = suggestion(op, "我家楼下那个饭店油烟太大了，熏得我们窗户都不敢开，投诉好几次都没人管")
    assert len(res["departments"]) == 3
    first = res["departments"][0]
    assert first["code"] == "eco" and first["name"] == "县生态建设和环境保护局"
    assert 0 < first["score"] <= 1
    assert any(e["phrase"] == "油烟" and e["source"] == "catalogue" for e in first["evidence"])
    assert "urbanmgmt" in first["co_units"]  # co-unit of the shared matter 餐饮油烟扰民
    assert res["type"] == "投诉" and res["urgent"] is False and res["emergency"] is None
    scores = [d["score"] for d in res["departments"]]
    assert scores == sorted(scores, reverse=True)


def test_suggest_flags_emergency_and_urgency(routed, api):
    res = suggestion(api("operator1"), "喂喂 我们家厨房着火了 火好大 快点来人")
    assert res["emergency"]["number"] == "119" and res["emergency"]["category"] == "fire"
    assert res["urgent"] is True
    assert res["departments"][0]["code"] == "fire"


def test_homophone_from_speech_recognition_still_routes(routed, api):
    res = suggestion(api("operator1"), "我想问一下那个地保怎么申请，家里老人生病了没有收入")
    first = res["departments"][0]
    assert first["code"] == "civil"
    assert any(e.get("heard_as") == "低保" for e in first["evidence"])


def test_town_named_in_text_is_evidence_for_the_town_unit(routed, api):
    res = suggestion(api("operator1"), "园洲镇我们村的村道坑坑洼洼好几年了，村委会一直不修")
    assert res["departments"][0]["code"] == "town-yuanzhou"
    assert res["town"] == "yuanzhou"
    assert any(e["source"] == "town" for e in res["departments"][0]["evidence"])


def test_functional_matter_in_a_town_stays_with_the_department(routed, api):
    res = suggestion(api("operator1"), "石湾镇有个电镀厂晚上偷偷往河里排污水，河水都黑了")
    assert res["departments"][0]["code"] == "eco"


@pytest.mark.parametrize("body,field", [
    ({"text": ""}, "text"),
    ({"text": "   "}, "text"),
    ({}, "text"),
    ({"text": 12}, "text"),
    ({"text": "好" * 100_000}, "text"),
    ({"text": "油烟", "extra": 1}, "extra"),
])
def test_bad_text_is_422_with_field_message(routed, api, body, field):
    r = api("operator1").post("/api/v1/routing/suggest", json=body)
    assert r.status_code == 422
    err = r.get_json()["error"]
    assert err["code"] == "validation_failed" and field in err["fields"]


def test_100kb_text_is_rejected_with_the_limit(routed, api):
    r = api("operator1").post("/api/v1/routing/suggest", json={"text": "油烟扰民" * 25_000})
    assert r.status_code == 422
    assert "at most 4000" in r.get_json()["error"]["fields"]["text"]


def test_not_json_is_400(routed, api):
    op = api("operator1")
    r = op.client.post("/api/v1/routing/suggest", data="text=abc", headers=op.headers,
                       content_type="application/x-www-form-urlencoded")
    assert r.status_code == 400


def test_roles(routed, api, client):
    assert client.post("/api/v1/routing/suggest", json={"text": "油烟"},
                       headers={"Authorization": "Bearer not-a-token"}).status_code == 401
    assert api("housing").post("/api/v1/routing/suggest", json={"text": "油烟"}).status_code == 403
    for user in ("operator1", "supervisor", "admin"):
        assert api(user).post("/api/v1/routing/suggest", json={"text": "油烟"}).status_code == 200
    assert api("operator1").get("/api/v1/routing/catalogue").status_code == 403
    assert api("supervisor").get("/api/v1/routing/catalogue").status_code == 200
    assert api("supervisor").post("/api/v1/routing/catalogue", json={}).status_code == 403


@both_databases
def test_catalogue_edit_is_versioned_attributed_and_used(routed, api):
    admin = api("admin")
    listing = admin.get("/api/v1/routing/catalogue").get_json()
    units = {e["unit"] for e in listing["items"]}
    assert {"eco", "urbanmgmt", "fire", "town", "sibf"} <= units
    v0 = listing["version"]
    text = "小区里的共享充电宝机器天天坏，押金也退不回来"
    before = admin.post("/api/v1/routing/suggest", json={"text": text}).get_json()
    assert score_of(before, "stiit") < 0.3

    r = admin.post("/api/v1/routing/catalogue", json={
        "unit": "stiit", "matter": "共享充电设施", "keywords": ["共享充电宝", "充电宝"], "co_units": ["market"]})
    assert r.status_code == 201, r.get_json()
    entry = r.get_json()
    after = admin.post("/api/v1/routing/suggest", json={"text": text}).get_json()
    stiit = next(d for d in after["departments"] if d["code"] == "stiit")
    assert stiit["score"] > score_of(before, "stiit") + 0.2
    assert any(e["phrase"] == "共享充电宝" and e["matter"] == "共享充电设施" for e in stiit["evidence"])

    r = admin.patch(f"/api/v1/routing/catalogue/{entry['id']}", json={"keywords": ["共享充电宝"]})
    assert r.status_code == 200 and r.get_json()["keywords"] == ["共享充电宝"]
    history = admin.get(f"/api/v1/routing/catalogue/history?entry={entry['id']}").get_json()
    assert [h["action"] for h in history] == ["update", "create"]
    assert history[0]["actor"] == "admin" and history[0]["version"] > v0
    assert history[0]["before"]["keywords"] == ["共享充电宝", "充电宝"]
    assert history[0]["after"]["keywords"] == ["共享充电宝"]

    r = admin.client.delete(f"/api/v1/routing/catalogue/{entry['id']}", headers=admin.headers)
    assert r.status_code == 204
    last = admin.get("/api/v1/routing/catalogue/history").get_json()[0]
    assert last["action"] == "delete" and last["before"]["matter"] == "共享充电设施" and last["after"] is None


def test_catalogue_rejects_unknown_units_and_duplicates(routed, api):
    admin = api("admin")
    r = admin.post("/api/v1/routing/catalogue", json={"unit": "nosuch", "matter": "x", "keywords": ["y"]})
    assert r.status_code == 422 and "unit" in r.get_json()["error"]["fields"]
    r = admin.post("/api/v1/routing/catalogue", json={"unit": "eco", "matter": "x", "co_units": ["eco"]})
    assert r.status_code == 422 and "co_units.0" in r.get_json()["error"]["fields"]
    r = admin.post("/api/v1/routing/catalogue", json={"unit": "eco", "matter": "餐饮油烟扰民"})
    assert r.status_code == 409
    assert admin.patch("/api/v1/routing/catalogue/999999", json={"matter": "x"}).status_code == 404


def test_retraining_an_unseeded_database_stores_no_model_and_suggestions_still_answer(app, api):
    """Before: on a database without catalogue or history the retraining job failed with
    scikit-learn's "empty vocabulary" (logged as a failed job on every start of `make run` on a
    fresh database); now it stores nothing and suggestions answer from the rules."""
    from sqlalchemy import delete, func, select

    from hotline.extensions import db
    from routing import service
    from routing.models import CatalogueEntry, Example, TrainedModel

    with app.app_context():
        db.session.execute(delete(Example))
        db.session.execute(delete(CatalogueEntry))
        db.session.commit()
        assert service.train(db.session, force=True) is None
        assert db.session.scalar(select(func.count(TrainedModel.id))) == 0
        db.Session.remove()
    r = api("operator1").post("/api/v1/routing/suggest", json={"text": "路灯坏了"})
    assert r.status_code == 200 and "departments" in r.get_json()
