"""Retraining as a real Celery task: a worker process trains on PostgreSQL, and this process's
live engine swaps to the new model on its next suggestion, without waiting for training."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from hotline.extensions import db

from .conftest import celery_worker


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_retrain_runs_in_a_celery_worker(app, api, database_url, redis_url, tmp_path):
    from hotline import jobs
    from routing import catalogue
    from routing.models import TrainedModel
    from routing.tasks import retrain

    with app.app_context():
        catalogue.ensure_seeded(db.session)
    with celery_worker(app, database_url, redis_url, tmp_path):
        op = api("operator1")
        r = op.post("/api/v1/routing/suggest", json={"text": "楼下饭店油烟太大"})
        assert r.status_code == 200 and r.get_json()["model"] is None  # answered from the catalogue;
        # training was queued to the worker, not run in the request

        result = jobs.enqueue(retrain, True)
        model_id = result.get(timeout=240)
        assert model_id is not None
        with app.app_context():
            row = db.session.scalar(select(TrainedModel).where(TrainedModel.id == model_id))
            assert row is not None and row.n_examples > 1000
        after = op.post("/api/v1/routing/suggest", json={"text": "楼下饭店油烟太大"}).get_json()
        assert after["model"] == model_id
        assert after["departments"][0]["code"] == "eco"
