"""Fixtures of the Action Regions tests (helpers live in tests/regions/bench.py)."""
from __future__ import annotations

import pytest

from tests.regions.bench import build_bench


@pytest.fixture
def bench(dataset, clip_factory, settings, tmp_path):
    return build_bench(dataset, clip_factory, settings, tmp_path)
