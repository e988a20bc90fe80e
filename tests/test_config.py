"""Configuration errors name the variable and what it needs, before anything starts."""
from __future__ import annotations

import pytest

from hotline.config import Config, ConfigError


def test_web_role_must_be_known_and_api_needs_redis(tmp_path):
    base = {"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "SECRET_KEY": "k"}
    with pytest.raises(ConfigError, match="HOTLINE_WEB_ROLE must be 'full' or 'api'"):
        Config.from_env({**base, "HOTLINE_WEB_ROLE": "socket"})
    with pytest.raises(ConfigError, match="needs REDIS_URL"):
        Config.from_env({**base, "HOTLINE_WEB_ROLE": "api"})
    cfg = Config.from_env({**base, "HOTLINE_WEB_ROLE": "api", "REDIS_URL": "redis://127.0.0.1:6379/3"})
    assert cfg.web_role == "api"
    assert Config.from_env(base).web_role == "full"


def test_a_malformed_number_names_its_variable(tmp_path):
    with pytest.raises(ConfigError, match="HOTLINE_PORT"):
        Config.from_env({"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "HOTLINE_PORT": "five"})
