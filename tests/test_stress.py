"""The original system's stress scenarios, at and around a block's limits.

Not timed: these prove behaviour at scale (10,000 receipts, the limits of
every field, empty and single batches); benches/ measures the speed.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine import limits, merkle, pipeline
from engine.backend import CpuBackend
from engine.demo import demo_receipts
from engine.encoding import ENCODER, decode_batch, encode_batch
from engine.header import Algo
from engine.markets import MarketQueues
from engine.metrics import NodeMetrics
from engine.node import Node, NodeConfig
from engine.receipts import KINDS, U64_MAX, AdReceipt, StorageReceipt
from engine.store import Store
from engine.validation import ValidationReport, check_columns, report

HEIGHT = 0  # a fresh node's first block
FULL = limits.MAX_RECEIPTS
LONG = limits.MAX_STRING_BYTES - 6  # 250 bytes
SIG = b"s" * limits.SIGNATURE_BYTES


def storage(i: int, **changes: Any) -> StorageReceipt:
    """A sound storage receipt of 10 verify units (under 1,000 bytes stored)."""
    fields: dict[str, Any] = dict(
        contract_id=f"sc-{i}", provider="pv", bytes=1 + i % 999, price=1 + i,
        block_height=HEIGHT, provider_escrow=0, provider_signature=SIG,
        signature_nonce=i,
    )  # fmt: skip
    return StorageReceipt(**{**fields, **changes})


def ad(i: int) -> AdReceipt:
    """A sound ad receipt of 10 verify units (under 10,000 impressions)."""
    return AdReceipt(
        campaign_id=f"c-{i % 97}", creative_id=f"cr-{i}", publisher="pb",
        impressions=1 + i % 9_999, spend=1 + i, block_height=HEIGHT,
        conversions=i % 100, publisher_signature=SIG, signature_nonce=i,
    )  # fmt: skip


def checked(receipts: list[Any]) -> ValidationReport:
    batch = encode_batch(receipts)
    return report(batch.columns, check_columns(batch.columns, HEIGHT))


def rules(result: ValidationReport) -> set[str]:
    return {issue.rule for issue in result.errors}


@pytest.fixture(scope="module")
def backend() -> Iterator[CpuBackend]:
    with CpuBackend() as cpu:
        yield cpu


@pytest.fixture(scope="module")
def mixed() -> list[Any]:
    return demo_receipts(FULL, HEIGHT)


def test_exactly_10000_receipts_make_one_block(backend: CpuBackend) -> None:
    batch = encode_batch([storage(i) for i in range(FULL)])
    cand = pipeline.candidate(batch, backend, Algo.BLAKE3, HEIGHT, bytes(32), 1)
    assert cand.report.valid and cand.leftover is None
    assert cand.batch.count == FULL


def test_10001_receipts_flag_the_one_past_the_limit() -> None:
    result = checked([storage(i) for i in range(FULL + 1)])
    assert rules(result) == {"too_many_receipts", "verify_budget_exceeded"}
    assert {issue.index for issue in result.errors} == {FULL}
    assert result.fitting() == FULL and not result.unsound


def test_the_node_keeps_the_10001st_receipt_for_the_next_block(
    tmp_path: Path, backend: CpuBackend
) -> None:
    store = Store(tmp_path / "chain.db")
    node = Node(store, MarketQueues(store, NodeMetrics()), backend, NodeMetrics(),
                NodeConfig(difficulty_bits=8, retarget=False))  # fmt: skip
    node.queues.submit([storage(i) for i in range(FULL + 1)])
    block = node.turn(threading.Event())
    assert block is not None and len(decode_batch(block.body)[0]) == FULL
    assert node.queues.pending_counts()["storage"] == 1
    store.close()


def test_1000_receipts_with_250_byte_strings_and_amounts_near_2_64() -> None:
    text = "x" * LONG
    receipts = [
        storage(i, contract_id=text, provider=text, region=text,
                bytes=U64_MAX - i, price=U64_MAX - 2 * i, provider_escrow=U64_MAX)
        for i in range(1_000)
    ]  # fmt: skip
    decoded, batch = decode_batch(ENCODER.encode(receipts))
    assert decoded == receipts and batch.columns.id0_len.max() == LONG
    assert checked(receipts).valid


def test_10000_mixed_receipts_fit_the_byte_budget(mixed: list[Any]) -> None:
    batch = encode_batch(mixed)
    assert batch.nbytes <= limits.MAX_BLOCK_BYTES
    assert "receipts_too_large" not in rules(checked(mixed))


def test_an_even_mix_of_the_four_kinds_at_10000(mixed: list[Any]) -> None:
    """Sound throughout; the verify budget, not a rule, is what cuts the block."""
    kinds = encode_batch(mixed).columns.kind
    assert [int((kinds == spec.code).sum()) for spec in KINDS] == [FULL // 4] * 4
    result = checked(mixed)
    assert not result.unsound and rules(result) == {"verify_budget_exceeded"}


def test_10000_valid_receipts_validate_without_an_error() -> None:
    receipts = [storage(i) if i % 2 else ad(i) for i in range(FULL)]
    result = checked(receipts)
    assert result.valid and not result.mask.any()


def test_an_empty_batch_costs_at_most_8_bytes(backend: CpuBackend) -> None:
    batch = encode_batch([])
    assert batch.nbytes <= 8 and checked([]).valid
    cand = pipeline.candidate(batch, backend, Algo.BLAKE3, HEIGHT, bytes(32), 1)
    assert cand.header.receipts_root == merkle.EMPTY_ROOT


def test_a_single_receipt_validates_and_proves() -> None:
    batch = encode_batch([storage(0)])
    leaves = merkle.leaf_hashes(batch)
    root = merkle.root_from_leaves(leaves)
    assert checked([storage(0)]).valid
    assert merkle.verify_proof(root, batch.body()[1:], merkle.prove(leaves, 0))


def test_5000_storage_receipts_round_trip_and_validate() -> None:
    receipts = [storage(i) for i in range(5_000)]
    decoded, batch = decode_batch(ENCODER.encode(receipts))
    assert decoded == receipts and not batch.columns.kind.any()
    assert checked(receipts).valid


def test_the_encoding_is_smaller_than_the_receipts_in_memory(
    mixed: list[Any],
) -> None:
    in_memory = sum(deep_size(receipt) for receipt in mixed)
    encoded = encode_batch(mixed).nbytes
    print(f"\n10,000 mixed: {encoded:,} B encoded, {in_memory:,} B in memory, "
          f"ratio {encoded / in_memory:.2f}")  # fmt: skip
    assert encoded < in_memory


def deep_size(receipt: Any) -> int:
    """The receipt object and every field value it holds (shared ones too)."""
    fields = (getattr(receipt, name) for name in receipt.__struct_fields__)
    return sys.getsizeof(receipt) + sum(sys.getsizeof(value) for value in fields)
