"""Shared fixtures: the vector files, demo batches, and a backend per kind."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.backend import Backend, CpuBackend
from engine.demo import demo_receipts
from engine.encoding import EncodedBatch, encode_batch

VECTORS = Path(__file__).resolve().parents[2] / "shared" / "vectors"
HEIGHT = 7


def load_vectors(name: str) -> dict[str, Any]:
    """A file of ../shared/vectors/, or a clear skip where shared/ is absent."""
    path = VECTORS / name
    if not path.is_file():
        pytest.skip(f"test vectors {path} are absent (shared/ is not beside the repo)")
    return json.loads(path.read_text())


@pytest.fixture(scope="session")
def blake3_cases() -> list[dict[str, Any]]:
    """The official BLAKE3 vectors (inputs repeat the bytes 0..250)."""
    return load_vectors("blake3_test_vectors.json")["cases"]


@pytest.fixture(scope="session")
def bitcoin_blocks() -> list[dict[str, Any]]:
    return load_vectors("bitcoin_headers.json")["blocks"]


@pytest.fixture(
    scope="session",
    params=["cpu", pytest.param("cuda", marks=pytest.mark.gpu)],
)
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """One test body, proven on every backend this machine can run."""
    if request.param == "cpu":
        chosen: Backend = CpuBackend()
    else:
        from engine import gpu

        reason = gpu.unavailable_reason()
        if reason is not None:
            pytest.skip(f"no CUDA backend here: {reason}")
        chosen = gpu.CudaBackend()
    with chosen:
        yield chosen


@pytest.fixture
def demo_batch() -> EncodedBatch:
    return encode_batch(demo_receipts(40, HEIGHT))
