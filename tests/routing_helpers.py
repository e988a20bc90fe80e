"""Shared by the routing tests: a real trained model (trained once per test session, stored into
each fresh database), and polling for background jobs."""
from __future__ import annotations

import time

_blob: dict = {}


def install_model(app) -> int:
    """Seed the catalogue and make a model trained on it live; returns the model id."""
    from hotline.extensions import db
    from routing import catalogue, service
    from routing.models import TrainedModel

    with app.app_context():
        session = db.session
        catalogue.ensure_seeded(session)
        if "blob" not in _blob:
            row = service.train(session, force=True)
            _blob.update(blob=row.blob, samples=row.n_examples, features=row.n_features)
            return row.id
        row = TrainedModel(catalogue_version=catalogue.version(session), last_example_id=0,
                           n_examples=_blob["samples"], n_features=_blob["features"], seconds=0.0,
                           blob=_blob["blob"])
        session.add(row)
        session.commit()
        return row.id


def wait_for(predicate, timeout: float = 60.0, interval: float = 0.1):
    """Poll until ``predicate()`` is truthy (background jobs run in other threads)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


def suggestion(api, text: str) -> dict:
    r = api.post("/api/v1/routing/suggest", json={"text": text})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def score_of(result: dict, code: str) -> float:
    for d in result["departments"]:
        if d["code"] == code:
            return d["score"]
    return 0.0
