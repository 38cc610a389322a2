"""The receipts root and inclusion proofs, against the plain blake3 loop.

The plain loop is engine.merkle.reference_root (one blake3-package call per
leaf and per parent); it runs in the same test, so the ratio holds on any
machine.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from workloads import SIZES, batch, measure, note, per_second

from engine import merkle

PROOF_COUNT = 10_000
PROOF_INDEX = 4_321


def plain_root_seconds(receipt_bytes: list[bytes]) -> float:
    best = float("inf")
    for _ in range(3):
        began = time.perf_counter()
        merkle.reference_root(receipt_bytes)
        best = min(best, time.perf_counter() - began)
    return best


@pytest.mark.parametrize("count", SIZES)
def test_receipts_root(benchmark: Any, count: int) -> None:
    encoded = batch("mixed", count)
    parts = [encoded.receipt_bytes(i) for i in range(count)]
    root = measure(benchmark, "receipts root", count, merkle.receipts_root, encoded)
    assert root == merkle.reference_root(parts)

    plain = count / plain_root_seconds(parts)
    fast = per_second(benchmark, count)
    note(benchmark, plain_receipts_per_s=round(plain), ratio=round(fast / plain, 1))


def test_proof_generation(benchmark: Any) -> None:
    leaves = merkle.leaf_hashes(batch("mixed", PROOF_COUNT))
    proof = measure(
        benchmark, "inclusion proof", PROOF_COUNT, merkle.prove, leaves, PROOF_INDEX
    )
    assert len(proof.siblings) == 14  # ceil(log2(10,000))


def test_proof_verification(benchmark: Any) -> None:
    encoded = batch("mixed", PROOF_COUNT)
    leaves = merkle.leaf_hashes(encoded)
    root, proof = merkle.root_from_leaves(leaves), merkle.prove(leaves, PROOF_INDEX)
    args = (root, encoded.receipt_bytes(PROOF_INDEX), proof)
    assert measure(
        benchmark, "proof verification", PROOF_COUNT, merkle.verify_proof, *args
    )
