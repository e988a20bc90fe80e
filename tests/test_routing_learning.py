"""The classifier learns from the hotline's own dispatch history: a sign by the main unit teaches
it, a return counts against the unit that returned. Learning and retraining run as background
jobs (Celery tasks, in-process here); suggestions for new tickets are stored with the ticket."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from hotline.extensions import db
from routing import runner
from routing.models import Example, TrainedModel
from tests.conftest import both_databases
from tests.routing_helpers import install_model, score_of, suggestion, wait_for


@pytest.fixture
def learning(app):
    model_id = install_model(app)
    runner.start(app, train=False)
    yield model_id
    runner.stop(app)


def _ticket(op, text: str, **extra) -> str:
    r = op.post("/api/v1/tickets", json={"type": "求助", "content": text, **extra})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["number"]


def _newest_model(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.max(TrainedModel.id)))


def _examples(app, **where):
    with app.app_context():
        stmt = select(Example)
        for k, v in where.items():
            stmt = stmt.where(getattr(Example, k) == v)
        rows = list(db.session.scalars(stmt))
        db.Session.remove()
        return rows


@both_databases
def test_confirmed_dispatches_change_the_suggestion(app, api, learning):
    op, water = api("operator1"), api("water")
    probe = "我们村的机电排灌站坏了半个月，抽不了水"
    before = suggestion(op, probe)
    assert before["departments"][0]["code"] != "water"

    for text in ("村里的排灌站坏了，田里抽不了水", "排灌站的水泵坏了好久，稻田没水灌"):
        number = _ticket(op, text)
        assert op.act(number, "accept").status_code == 200
        assert op.act(number, "dispatch", {"main_department": "water"}).status_code == 200
        assert water.act(number, "sign").status_code == 200
        wait_for(lambda: _examples(app, ticket_number=number, unit="water", label=1))
    last = max(e.id for e in _examples(app, label=1))
    wait_for(lambda: _model_covers(app, last))

    after = suggestion(op, probe)
    assert after["model"] != before["model"]
    assert after["departments"][0]["code"] == "water", after["departments"]
    assert score_of(after, "water") > score_of(before, "water") + 0.2


def _model_covers(app, example_id: int) -> bool:
    with app.app_context():
        row = db.session.scalars(select(TrainedModel).order_by(TrainedModel.id.desc()).limit(1)).first()
        db.Session.remove()
        return row is not None and row.last_example_id >= example_id


def test_a_return_counts_against_the_unit(app, api, learning):
    op, housing = api("operator1"), api("housing")
    text = "小区门口马路上的井盖不见了，晚上很危险"
    before = suggestion(op, text)
    number = _ticket(op, text)
    op.act(number, "accept")
    op.act(number, "dispatch", {"main_department": "housing"})
    assert housing.act(number, "return", {"note": "井盖属于供水公司，不是本单位"}).status_code == 200
    ex = wait_for(lambda: _examples(app, ticket_number=number, label=-1))
    assert ex[0].unit == "housing" and ex[0].source == "return"
    wait_for(lambda: _model_covers(app, ex[0].id))
    after = suggestion(op, text)
    assert score_of(after, "housing") < score_of(before, "housing") - 0.05


def test_learning_is_idempotent_for_the_same_event(app, api, learning):
    from routing import service

    op, water = api("operator1"), api("water")
    number = _ticket(op, "河涌里面全是垃圾")
    op.act(number, "accept")
    op.act(number, "dispatch", {"main_department": "water"})
    water.act(number, "sign")
    wait_for(lambda: _examples(app, ticket_number=number))
    with app.app_context():
        assert service.learn_from_change(db.session, number, "sign", {"department": {"code": "water"}}) is None
    assert len(_examples(app, ticket_number=number)) == 1


@both_databases
def test_ticket_without_suggestion_gets_one_stored_in_background(app, api, learning):
    op = api("operator1")
    number = _ticket(op, "家里煤气泄漏了，味道好大")

    def stored():
        t = op.get(f"/api/v1/tickets/{number}").get_json()
        return t if any(e["action"] == "routing_suggested" for e in t["events"]) else None

    ticket = wait_for(stored)
    event = next(e for e in ticket["events"] if e["action"] == "routing_suggested")
    assert event["actor"] == "routing"
    assert event["data"]["emergency"]["number"] == "119"
    assert event["data"]["departments"][0]["code"] in {"utilities", "fire"}


def test_operator_suggestion_is_kept_and_override_visible(app, api, learning):
    op = api("operator1")
    text = "楼下饭店的油烟太大了，熏得没法开窗"
    sugg = suggestion(op, text)
    number = _ticket(op, text, routing_suggestion=sugg)
    op.act(number, "accept")
    r = op.act(number, "dispatch", {"main_department": "urbanmgmt"})
    dispatch = next(e for e in r.get_json()["events"] if e["action"] == "dispatch")
    assert sugg["departments"][0]["code"] == "eco"
    assert dispatch["data"]["followed_suggestion"] is False
    events = op.get(f"/api/v1/tickets/{number}").get_json()["events"]
    assert not any(e["action"] == "routing_suggested" for e in events)


def test_embedded_retraining_fits_in_a_niced_child_process(app, api, learning):
    """Before: `make run` fitted the model (seconds of Python) in a job thread of the one process
    that also sends the calls' RTP packets, whose threads then waited for the GIL. Now the fitting
    runs in a child process at a lower priority, and this process stores and serves its model."""
    import os

    import psutil

    from hotline import jobs
    from routing import learner, service
    from routing.tasks import retrain

    op = api("operator1")
    probe = "我们村的机电排灌站坏了半个月，抽不了水"
    before = suggestion(op, probe)
    assert before["model"] == learning
    with app.app_context():
        service.add_examples(db.session, [{"text": "村里的机电排灌站坏了，田里抽不了水", "department": "water"}] * 3)
        last = db.session.scalar(select(func.max(Example.id)))
        db.Session.remove()

    me = psutil.Process()
    niced: dict[int, int] = {}

    def child_seen_or_done():
        for child in me.children():
            try:
                if child.nice() >= me.nice() + jobs.CHILD_NICENESS:
                    niced[child.pid] = child.nice()
            except psutil.NoSuchProcess:
                continue
        return niced or job.done()

    job = jobs.enqueue(retrain)  # what learning from a sign or a return queues in `hotline run`
    wait_for(child_seen_or_done, timeout=120, interval=0.02)
    model_id = job.result(timeout=240)
    assert niced, "no child process at a lower priority was seen while the model was fitted"

    with app.app_context():
        row = db.session.get(TrainedModel, model_id)
        stored = learner.load(row.blob)
        db.Session.remove()
    assert row.last_example_id == last
    assert stored.info["pid"] != os.getpid() and stored.info["pid"] in niced
    after = suggestion(op, probe)
    assert after["model"] == model_id != before["model"]
    assert score_of(after, "water") > score_of(before, "water")
