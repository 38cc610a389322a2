"""Signatures verified per second: the batched verifier on every core
against the library's own one-at-a-time verification, in the same run."""

from __future__ import annotations

import time

import pytest

from engine.signing import Check, Verifier, new_key

COUNT = 4_000


def checks() -> list[Check]:
    key = new_key()
    return [
        Check(i, key.verify_key, i.to_bytes(32, "little"),
              key.sign(i.to_bytes(32, "little")).signature)
        for i in range(COUNT)
    ]  # fmt: skip


def single_rate(batch: list[Check]) -> float:
    began = time.perf_counter()
    for check in batch:
        check.key.verify(check.message, check.signature)
    return len(batch) / (time.perf_counter() - began)


def test_batched_verification_against_one_at_a_time(
    benchmark: pytest.FixtureRequest,
) -> None:
    batch, verifier = checks(), Verifier()
    baseline = single_rate(batch)

    benchmark.pedantic(verifier.failed, args=(batch,), rounds=5)

    rate = COUNT / benchmark.stats.stats.mean
    benchmark.extra_info.update(
        signatures_per_s=round(rate), single_per_s=round(baseline),
        ratio=round(rate / baseline, 2), threads=verifier.threads,
    )  # fmt: skip
    print(f"\nsignatures: {rate:,.0f}/s on {verifier.threads} threads, "
          f"{baseline:,.0f}/s one at a time, {rate / baseline:.2f}x")  # fmt: skip
    verifier.close()
