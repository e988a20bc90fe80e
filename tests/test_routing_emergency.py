"""Emergencies are always flagged (with the number to transfer to), including colloquial and
speech-recognition-garbled wording; mentions of danger in ordinary matters are not."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

from routing.engine import rules
from routing.text import normalize

EMERGENCIES = [
    ("我家厨房着火了，快来人啊", "119", "fire"),
    ("着伙了着伙了，楼下全是烟", "119", "fire"),
    ("对面那栋楼起火了，冒好多浓烟", "119", "fire"),
    ("仓库那边烧起来了火很大", "119", "fire"),
    ("山上着起火来了，离村子很近", "119", "fire"),
    ("家里煤气泄漏了，整个屋子都是味道", "119", "gas"),
    ("没气泄漏了怎么办，呲呲的响", "119", "gas"),
    ("楼道里闻到好大的煤气味", "119", "gas"),
    ("液化气罐漏气了", "119", "gas"),
    ("天然气泄露，门口都是那个味", "119", "gas"),
    ("施工把燃气管挖断了在漏气", "119", "gas"),
    ("有人打架流血了，就在市场门口", "110", "crime"),
    ("楼下有人在打架，快来", "110", "crime"),
    ("有人拿着刀在砍人", "110", "crime"),
    ("救命，有人抢劫", "110", "crime"),
    ("小偷正在偷东西，我在楼上看着", "110", "crime"),
    ("隔壁男的一直在打老婆，小孩一直在哭", "110", "crime"),
    ("有个人要跳楼，站在楼顶边上", "110", "crime"),
    ("前面出车祸了，有人躺在地上", "122", "traffic"),
    ("出车货了，两辆车撞在一起", "122", "traffic"),
    ("一辆货车翻车了堵住了路", "122", "traffic"),
    ("有人被车撞了，司机跑了", "122", "traffic"),
    ("我爸晕倒了没有呼吸了", "120", "injury"),
    ("老人摔倒了头上流了好多血，起不来", "120", "injury"),
    ("工人触电了昏迷不醒", "120", "injury"),
    ("小孩掉进河里了", "120", "injury"),
    ("好多人吃了东西口吐白沫", "120", "injury"),
    ("电梯困人了，里面有小孩", "119", "rescue"),
    ("房子塌了有人被压在下面", "119", "rescue"),
]

CALM = [
    "我们小区消防通道被车堵了，有火灾隐患",
    "请问交通事故认定书去哪里拿",
    "上个月上班受伤了想问工伤认定怎么办",
    "学校里学生经常打架，建议加强管理",
    "请问燃气报警器在哪里买，要不要装",
    "表扬消防队上次着火的时候来得很快",
    "这伙人天天在门口摆摊卖东西",
    "火锅店的油烟太大了",
    "我去年出车祸的理赔到现在还没下来",
    "灭火器过期了物业也不换",
    "想问一下煤气开户要带什么材料",
    "生活困难想申请困难补助",
]


@pytest.mark.parametrize("text,number,category", EMERGENCIES)
def test_emergency_is_flagged_with_number(text, number, category):
    flag = rules().emergency(normalize(text))
    assert flag is not None, text
    assert flag["number"] == number and flag["category"] == category, flag
    assert flag["evidence"], flag


@pytest.mark.parametrize("text", CALM)
def test_ordinary_mentions_are_not_emergencies(text):
    assert rules().emergency(normalize(text)) is None


def test_every_labelled_emergency_is_flagged():
    path = Path(__file__).parent / "data" / "routing_requests.csv"
    with open(path, encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["emergency"]]
    assert len(rows) >= 20
    for r in rows:
        flag = rules().emergency(normalize(r["text"]))
        assert flag is not None and flag["number"] == r["emergency"], (r["text"], flag)


def test_fight_with_blood_asks_for_ambulance_too():
    flag = rules().emergency(normalize("有人打人了，被打的人流血，倒在地上"))
    assert flag["number"] == "110" and "120" in flag["also"]
