"""The protocol tests run twice: against one server, and against a cluster of
two instances on one Redis (see `make_server` in tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["single", "cluster"])
def deployment(request: pytest.FixtureRequest) -> str:
    return request.param
