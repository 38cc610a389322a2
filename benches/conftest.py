"""Benchmarks: run with `pytest benches` (the normal test run skips them)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.backend import CpuBackend


@pytest.fixture(scope="session")
def cpu_backend() -> Iterator[CpuBackend]:
    with CpuBackend() as backend:
        yield backend
