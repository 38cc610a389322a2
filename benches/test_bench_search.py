"""Nonce search rate per algorithm and backend, against the plain loop.

Both run in the same process on the same header, so the ratio holds whatever
the machine. The plain loop is the oracle of engine.search (hashlib midstate
for sha256d, the blake3 package for blake3).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, Final

import pytest
from workloads import HEIGHT, batch, note

from engine import gpu, pipeline
from engine.backend import Backend
from engine.bench import bench_job
from engine.bench import plain_rate as bench_plain_rate
from engine.header import Algo
from engine.search import SearchJob

FAST_NONCES: Final = 1 << 23
GPU_NONCES: Final = 1 << 30
WARM_UP_NONCES: Final = 1 << 16
NOTHING_WINS: Final = 1
REQUIRED: Final = {Algo.BLAKE3: 5.0, Algo.SHA256D: 2.0}


@pytest.fixture(scope="module", params=["cpu", "cuda"])
def backend(request: pytest.FixtureRequest, cpu_backend: Backend) -> Iterator[Backend]:
    if request.param == "cpu":
        yield cpu_backend
        return
    reason = gpu.unavailable_reason()
    if reason is not None:
        pytest.skip(f"no CUDA backend here: {reason}")
    with gpu.CudaBackend() as cuda:
        yield cuda


# The same header and plain loop as `engine bench`.
job, plain_rate = bench_job, bench_plain_rate


def search_rate(benchmark: Any, backend: Backend, j: SearchJob, label: str) -> float:
    """Nonces per second of the best of three calls."""
    nonces = FAST_NONCES if backend.name == "cpu" else GPU_NONCES
    backend.search(j, 0, WARM_UP_NONCES)  # compile and warm up outside the timing
    benchmark.group = label
    benchmark.extra_info.update(operation=label, backend=backend.name, nonces=nonces)
    benchmark.pedantic(backend.search, args=(j, 0, nonces), rounds=3)
    return nonces / benchmark.stats.stats.min


@pytest.mark.parametrize("algo", list(Algo))
def test_search_against_the_plain_loop(
    benchmark: Any, backend: Backend, algo: Algo
) -> None:
    baseline = plain_rate(algo)
    rate = search_rate(benchmark, backend, job(algo), f"search {algo}")
    note(
        benchmark, mh_per_s=round(rate / 1e6, 2),
        plain_mh_per_s=round(baseline / 1e6, 3),
        ratio=round(rate / baseline, 1), required=REQUIRED[algo],
    )  # fmt: skip


def test_search_rate_does_not_depend_on_the_receipt_count(
    benchmark: Any, backend: Backend
) -> None:
    """The midstate hides the receipts: only the root reaches the header."""
    empty = header_job(backend, 0)
    full = header_job(backend, 10_000)
    search_rate(benchmark, backend, empty, "search blake3, 0 receipts")
    without = benchmark.stats.stats.min

    best = float("inf")
    for _ in range(3):
        began = time.perf_counter()
        backend.search(full, 0, benchmark.extra_info["nonces"])
        best = min(best, time.perf_counter() - began)
    note(benchmark, rate_10000_over_rate_0=round(without / best, 3), required=0.95)


def header_job(backend: Backend, receipts: int) -> SearchJob:
    cand = pipeline.candidate(
        batch("mixed", receipts), backend, Algo.BLAKE3, HEIGHT, bytes(32), NOTHING_WINS
    )
    return SearchJob(Algo.BLAKE3, cand.header.prefix(), NOTHING_WINS)
