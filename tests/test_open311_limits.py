"""Open311 POSTs are rate-limited per client address, with the refusal in the spec's error format."""
from __future__ import annotations

import pytest
import requests

from tests.test_open311 import counts, first_service, key, server, submission, xml_errors  # noqa: F401 (fixtures)


@pytest.fixture
def app_config():
    return {"open311_posts_per_address": "3 per hour"}


def test_posts_are_rate_limited_per_address(app, server, key):
    code = first_service(server)["service_code"]
    for _ in range(3):
        assert requests.post(f"{server}/requests.json", data=submission(key, code), timeout=30).status_code == 201
    before = counts(app)
    for fmt in ("json", "xml"):
        r = requests.post(f"{server}/requests.{fmt}", data=submission(key, code), timeout=30)
        assert r.status_code == 429
        errs = [(e["code"], e["description"]) for e in r.json()] if fmt == "json" else xml_errors(r)
        assert errs[0][0] == 429 and "too many" in errs[0][1]
    assert counts(app) == before
    assert requests.get(f"{server}/requests.json", timeout=30).status_code == 200  # reading is not limited
