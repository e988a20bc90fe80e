"""Knowledge base: Chinese search with highlighted hits, validity dates, editing rights."""
from __future__ import annotations

import pytest

from tests.conftest import both_databases


@pytest.fixture
def seeded(app):
    """hotline.app.dbadmin.seed loads the bundled articles; loading them again adds nothing."""
    from sqlalchemy import func, select

    from hotline.extensions import db
    from knowledge.models import Article
    from knowledge.service import seed

    with app.app_context():
        seed(db.session)
        assert seed(db.session) == 0
        assert db.session.scalar(select(func.count()).select_from(Article)) > 5
        db.Session.remove()
    return app


def _hits(segments):
    return [s["text"] for s in segments if s["hit"]]


@both_databases
def test_search_in_chinese_ranks_and_highlights(seeded, api):
    op = api("operator1")
    r = op.get("/api/v1/knowledge", query_string={"q": "我的社保卡丢了怎么补办"}).get_json()
    assert r["items"][0]["title"] == "社保卡遗失补办"
    assert "社保卡" in r["terms"] and "怎么" not in r["terms"]
    first = r["items"][0]
    assert "".join(s["text"] for s in first["title_segments"]) == "社保卡遗失补办"
    assert "社保卡" in _hits(first["title_segments"])
    assert any(s["hit"] for s in first["snippet_segments"])

    r = op.get("/api/v1/knowledge", query_string={"q": "孩子刚出生怎么上户口"}).get_json()
    assert r["items"][0]["title"] == "新生儿入户"
    r = op.get("/api/v1/knowledge", query_string={"q": "公积金租房提取"}).get_json()
    assert r["items"][0]["title"].startswith("住房公积金提取")
    assert op.get("/api/v1/knowledge", query_string={"q": "火星移民签证"}).get_json()["items"] == []


def test_validity_dates_hide_expired_articles(seeded, api):
    op, sup = api("operator1"), api("supervisor")
    assert op.get("/api/v1/knowledge", query_string={"q": "高温补贴"}).get_json()["items"] == []
    # operators cannot ask for expired answers; editors can
    assert op.get("/api/v1/knowledge", query_string={"q": "高温补贴", "include_invalid": "1"}).get_json()["items"] == []
    items = sup.get("/api/v1/knowledge", query_string={"q": "高温补贴", "include_invalid": "1"}).get_json()["items"]
    assert items and items[0]["valid_to"] == "2023-10-31"
    future = sup.post("/api/v1/knowledge", json={"title": "明年新政：生育津贴申领", "body": "明年起生育津贴申领改为线上。",
                                                 "tags": ["生育津贴"], "valid_from": "2099-01-01"})
    assert future.status_code == 201
    assert op.get("/api/v1/knowledge", query_string={"q": "生育津贴"}).get_json()["items"] == []


def test_only_supervisors_and_admins_edit(seeded, api):
    body = {"title": "犬只登记办理", "body": "携带犬只免疫证明到县畜牧兽医局办理登记。", "tags": ["养犬", "犬只登记"],
            "department": "livestock", "valid_from": "2024-01-01"}
    assert api("operator1").post("/api/v1/knowledge", json=body).status_code == 403
    assert api("housing").post("/api/v1/knowledge", json=body).status_code == 403
    r = api("admin").post("/api/v1/knowledge", json=body)
    assert r.status_code == 201, r.get_json()
    art = r.get_json()
    assert art["department"]["code"] == "livestock" and art["created_by"] == "admin"
    sup = api("supervisor")
    r = sup.patch(f"/api/v1/knowledge/{art['id']}", json={"tags": ["养犬", "犬证"], "version": art["version"]})
    assert r.status_code == 200 and r.get_json()["tags"] == ["养犬", "犬证"]
    assert r.get_json()["updated_by"] == "supervisor"
    stale = sup.patch(f"/api/v1/knowledge/{art['id']}", json={"title": "x", "version": art["version"]})
    assert stale.status_code == 409
    assert api("operator1").patch(f"/api/v1/knowledge/{art['id']}", json={"title": "x"}).status_code == 403
    hit = api("operator1").get("/api/v1/knowledge", query_string={"q": "犬证"}).get_json()["items"]
    assert hit and hit[0]["id"] == art["id"] and hit[0]["tag_hits"] == ["犬证"]


def test_bad_input_is_422_with_fields(seeded, api):
    sup = api("supervisor")
    r = sup.post("/api/v1/knowledge", json={"title": "", "body": "x", "valid_from": "2024-05-01", "valid_to": "2024-01-01"})
    assert r.status_code == 422
    fields = r.get_json()["error"]["fields"]
    assert "title" in fields
    r = sup.post("/api/v1/knowledge", json={"title": "t", "body": "b", "department": "nope"})
    assert r.status_code == 422 and "department" in r.get_json()["error"]["fields"]
    r = sup.post("/api/v1/knowledge", json={"title": "t", "body": "b", "valid_from": "2024-05-01", "valid_to": "2024-01-01"})
    assert r.status_code == 422
    assert sup.post("/api/v1/knowledge", json={"title": "t", "body": "b", "surprise": 1}).status_code == 422
    assert sup.get("/api/v1/knowledge/999999").status_code == 404
    assert sup.client.post("/api/v1/knowledge", data="not json",
                           headers={**sup.headers, "Content-Type": "application/json"}).status_code == 400


def test_markup_in_articles_comes_back_as_plain_segments(seeded, api):
    sup = api("supervisor")
    xss = "<img src=x onerror=alert(1)>"
    r = sup.post("/api/v1/knowledge", json={"title": "测试条目" + xss, "body": "正文" + xss, "tags": ["测试条目"]})
    assert r.status_code == 201
    item = sup.get("/api/v1/knowledge", query_string={"q": "测试条目"}).get_json()["items"][0]
    assert "".join(s["text"] for s in item["title_segments"]) == "测试条目" + xss


def test_segments_helper():
    from knowledge.service import segments

    assert segments("社保卡补办", ["社保卡", "社保"]) == [{"text": "社保卡", "hit": True}, {"text": "补办", "hit": False}]
    assert segments("", ["x"]) == []
