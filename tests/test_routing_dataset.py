"""The labelled set covers every unit and every request type, in both parts of the split, and the
seed examples shipped with the package never include its held-out part."""
from __future__ import annotations

import csv
from collections import Counter
from importlib import resources
from pathlib import Path

import yaml

DATA = Path(__file__).parent / "data" / "routing_requests.csv"
TYPES = {"咨询", "求助", "投诉", "举报", "建议", "表扬", "申请"}


def _rows():
    with open(DATA, encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_size_coverage_and_split():
    rows = _rows()
    assert len(rows) >= 300
    units = {d["code"] for d in yaml.safe_load(resources.files("ticketing.data").joinpath("departments.yaml").read_text("utf-8"))}
    towns = {t["code"] for t in yaml.safe_load(resources.files("ticketing.data").joinpath("towns.yaml").read_text("utf-8"))}
    labels = Counter(r["department"] for r in rows)
    assert units <= set(labels), units - set(labels)
    assert {f"town-{t}" for t in towns} <= set(labels)
    assert {r["type"] for r in rows} == TYPES
    for part in ("train", "heldout"):
        assert {r["type"] for r in rows if r["split"] == part} == TYPES
    held = [r for r in rows if r["split"] == "heldout"]
    assert 0.15 <= len(held) / len(rows) <= 0.3
    assert {r["emergency"] for r in rows} >= {"", "110", "119", "120", "122"}
    assert len({r["text"] for r in rows}) == len(rows)


def test_seed_examples_are_the_training_part_only():
    rows = _rows()
    held = {r["text"] for r in rows if r["split"] == "heldout"}
    train = {r["text"] for r in rows if r["split"] == "train"}
    seed = resources.files("routing.data").joinpath("seed_examples.csv").read_text("utf-8")
    seeded = {r["text"] for r in csv.DictReader(seed.splitlines())}
    assert seeded == train and not (seeded & held)
