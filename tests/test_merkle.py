"""The receipts root and inclusion proofs, fast path against the oracle."""

from __future__ import annotations

import pytest

from engine.demo import demo_receipts
from engine.encoding import EncodedBatch, encode_batch
from engine.merkle import (
    EMPTY_ROOT,
    leaf_hashes,
    prove,
    receipts_root,
    reference_root,
    verify_proof,
)

HEIGHT = 5


def batch_of(count: int) -> EncodedBatch:
    return encode_batch(demo_receipts(count, HEIGHT))


def each_receipt(batch: EncodedBatch) -> list[bytes]:
    return [batch.receipt_bytes(i) for i in range(batch.count)]


@pytest.mark.parametrize("count", [0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 100, 257])
def test_fast_root_matches_the_oracle(count: int) -> None:
    batch = batch_of(count)
    assert receipts_root(batch) == reference_root(each_receipt(batch))


def test_empty_batch_has_the_zero_root() -> None:
    assert receipts_root(batch_of(0)) == EMPTY_ROOT == bytes(32)


def test_repeating_the_last_leaf_changes_the_root() -> None:
    leaves = each_receipt(batch_of(5))
    assert reference_root(leaves) != reference_root([*leaves, leaves[-1]])


def test_single_leaf_root_is_its_tagged_leaf_hash() -> None:
    batch = batch_of(1)
    assert receipts_root(batch) == leaf_hashes(batch)[0].tobytes()


def test_leaf_and_parent_hashes_are_domain_separated() -> None:
    pair = each_receipt(batch_of(2))
    assert reference_root(pair) != reference_root([pair[0] + pair[1]])


@pytest.mark.parametrize("count", [1, 2, 5, 7, 8, 13, 100])
def test_proofs_verify_for_first_middle_and_last(count: int) -> None:
    batch = batch_of(count)
    leaves, root = leaf_hashes(batch), receipts_root(batch)
    for index in {0, count // 2, count - 1}:
        proof = prove(leaves, index)
        assert verify_proof(root, batch.receipt_bytes(index), proof)


def test_proof_fails_for_another_receipt() -> None:
    batch = batch_of(7)
    proof = prove(leaf_hashes(batch), 3)
    assert not verify_proof(receipts_root(batch), batch.receipt_bytes(4), proof)


def test_proof_fails_at_another_index() -> None:
    batch = batch_of(6)
    proof = prove(leaf_hashes(batch), 2)
    moved = type(proof)(3, proof.count, proof.siblings)
    assert not verify_proof(receipts_root(batch), batch.receipt_bytes(2), moved)


def test_proof_with_a_sibling_missing_fails() -> None:
    batch = batch_of(9)
    proof = prove(leaf_hashes(batch), 0)
    cut = type(proof)(0, proof.count, proof.siblings[:-1])
    assert not verify_proof(receipts_root(batch), batch.receipt_bytes(0), cut)


def test_proving_outside_the_batch_raises() -> None:
    with pytest.raises(IndexError):
        prove(leaf_hashes(batch_of(3)), 3)
