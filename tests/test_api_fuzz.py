"""Schemathesis over the complete OpenAPI document: no request, however odd, is answered 5xx.

Runs against the Flask app on PostgreSQL (which refuses NUL characters and out-of-range integers
that SQLite would swallow), as an admin (every operation allowed) and as a department (the scoped
views), with a bounded number of examples per operation (HOTLINE_FUZZ_EXAMPLES, default 12) so the
whole run stays within a few minutes on two cores. Background jobs go to Celery on the test's Redis
(as in production) with no worker, so a fuzzed "retrain" does not start training in this process.
"""
from __future__ import annotations

import os
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from . import conftest

EXAMPLES = int(os.environ.get("HOTLINE_FUZZ_EXAMPLES", "12"))
ROLES = {"admin": "admin-pass", "housing": "housing-pass"}


@pytest.fixture(params=sorted(ROLES))
def fuzz_role(request):
    return request.param


@pytest.fixture
def database_url():
    """PostgreSQL only (overrides conftest's SQLite default for this module)."""
    conftest.require_service("postgres")
    conftest._reset_postgres()
    return conftest.PG_URL


@pytest.fixture
def fuzz_schema(app, fuzz_role, redis_url):
    from hotline import jobs
    from hotline.extensions import celery

    old = conftest.use_broker(celery, broker_url=redis_url, result_backend=redis_url)
    jobs.configure(app, "celery")
    client = app.test_client()
    r = client.post("/api/v1/auth/token", json={"username": fuzz_role, "password": ROLES[fuzz_role]})
    token = r.get_json()["token"]
    # something for path parameters to find: one ticket dispatched to housing
    headers = {"Authorization": f"Bearer {client.post('/api/v1/auth/token', json={'username': 'operator1', 'password': 'operator1-pass'}).get_json()['token']}"}
    number = client.post("/api/v1/tickets", headers=headers, json={
        "type": "投诉", "content": "油烟扰民", "caller": {"phone": "13812345678"}}).get_json()["number"]
    client.post(f"/api/v1/tickets/{number}/actions/accept", headers=headers, json={})
    client.post(f"/api/v1/tickets/{number}/actions/dispatch", headers=headers, json={"main_department": "housing"})
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    schema.config.headers = {"Authorization": f"Bearer {token}"}
    yield schema
    jobs.configure(app, "inprocess")
    conftest.use_broker(celery, **old)


def test_no_server_errors(fuzz_schema, fuzz_role):
    """Each operation of the document gets EXAMPLES generated requests (schemathesis strategies run
    by hypothesis; its pytest plugin does not support this pytest yet); every 5xx is collected."""
    failures: dict[str, str] = {}
    answered: Counter = Counter()
    # revoking one's own tokens ends the run's authentication: that operation goes last
    operations = sorted((r.ok() for r in fuzz_schema.get_all_operations()),
                        key=lambda op: op.path == "/api/v1/auth/revoke")
    assert len(operations) >= 73
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
        def run(case):
            response = case.call(headers=fuzz_schema.config.headers)
            answered[response.status_code // 100] += 1
            if response.status_code >= 500:
                failures.setdefault(operation.label, f"{response.status_code}: {case.as_curl_command()}\n"
                                                     f"{response.text[:300]}")

        run()
    # the run reached the views: authenticated (2xx) and refused (4xx) answers both occurred
    assert answered[2] > 20 and answered[4] > 100, answered
    assert not failures, f"5xx as {fuzz_role}:\n" + "\n".join(f"{k}: {v}" for k, v in failures.items())
