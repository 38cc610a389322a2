"""Nonce search rate per algorithm: the backend against the plain loop.

Both run in the same process on the same header, so the ratio holds whatever
the machine. The plain loop is the oracle of engine.search (hashlib midstate
for sha256d, the blake3 package for blake3).
"""

from __future__ import annotations

import time

import pytest

from engine.backend import CpuBackend
from engine.header import Algo
from engine.search import SearchJob, reference_search

PREFIX_LEN = {Algo.BLAKE3: 116, Algo.SHA256D: 76}
PLAIN_NONCES = 200_000
FAST_NONCES = 1 << 23
NOTHING_WINS = 1


def job(algo: Algo) -> SearchJob:
    return SearchJob(algo, bytes(range(PREFIX_LEN[algo])), NOTHING_WINS)


def plain_rate(algo: Algo) -> float:
    began = time.perf_counter()
    reference_search(job(algo), 0, PLAIN_NONCES)
    return PLAIN_NONCES / (time.perf_counter() - began)


@pytest.mark.parametrize("algo", list(Algo))
def test_cpu_search_against_the_plain_loop(
    benchmark: pytest.FixtureRequest, cpu_backend: CpuBackend, algo: Algo
) -> None:
    j = job(algo)
    cpu_backend.search(j, 0, 1 << 16)  # compile and warm up outside the timing
    baseline = plain_rate(algo)

    benchmark.pedantic(cpu_backend.search, args=(j, 0, FAST_NONCES), rounds=3)

    rate = FAST_NONCES / benchmark.stats.stats.mean
    benchmark.extra_info.update(
        nonces_per_s=round(rate), plain_nonces_per_s=round(baseline),
        ratio=round(rate / baseline, 2), threads=cpu_backend.threads,
    )  # fmt: skip
    print(f"\n{algo}: {rate / 1e6:.2f} MH/s, plain {baseline / 1e6:.2f} MH/s, "
          f"{rate / baseline:.1f}x")  # fmt: skip


@pytest.mark.parametrize("receipts", [0, 10_000])
def test_search_rate_does_not_depend_on_the_receipt_count(
    benchmark: pytest.FixtureRequest, cpu_backend: CpuBackend, receipts: int
) -> None:
    """The midstate hides the receipts: only the root reaches the header."""
    from engine import pipeline
    from engine.demo import demo_receipts
    from engine.encoding import encode_batch

    batch = encode_batch(demo_receipts(receipts, 1))
    cand = pipeline.candidate(
        batch, cpu_backend, Algo.BLAKE3, 1, bytes(32), NOTHING_WINS
    )
    j = SearchJob(Algo.BLAKE3, cand.header.prefix(), NOTHING_WINS)
    cpu_backend.search(j, 0, 1 << 16)

    benchmark.pedantic(cpu_backend.search, args=(j, 0, FAST_NONCES), rounds=3)
    benchmark.extra_info["nonces_per_s"] = round(
        FAST_NONCES / benchmark.stats.stats.mean
    )
