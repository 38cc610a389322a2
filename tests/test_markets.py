"""Pending queues: durable submits, drains in arrival order within budgets."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from engine import limits
from engine.demo import demo_receipts
from engine.encoding import ENCODER
from engine.markets import MarketQueues
from engine.metrics import NodeMetrics
from engine.receipts import StorageReceipt
from engine.store import Store

HEIGHT = 3


def small(i: int, height: int = HEIGHT, **changes: object) -> StorageReceipt:
    fields: dict[str, object] = dict(
        contract_id=f"c{i}", provider="p", bytes=1, price=1, block_height=height,
        provider_escrow=0, provider_signature=b"s" * 64, signature_nonce=i,
    )  # fmt: skip
    return StorageReceipt(**{**fields, **changes})  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "chain.db")


@pytest.fixture
def queues(store: Store) -> MarketQueues:
    return MarketQueues(store, NodeMetrics())


def test_submit_is_durable_before_the_ack(queues: MarketQueues, store: Store) -> None:
    seqs = queues.submit(demo_receipts(8, HEIGHT))
    assert [row.seq for row in store.pending()] == seqs


def test_drain_takes_every_market_in_arrival_order(queues: MarketQueues) -> None:
    receipts = demo_receipts(12, HEIGHT)
    queues.submit(receipts)
    drained = queues.drain(HEIGHT)
    assert drained.body() == ENCODER.encode(receipts)


def test_receipts_beyond_the_count_limit_stay_pending(queues: MarketQueues) -> None:
    queues.submit([small(i) for i in range(limits.MAX_RECEIPTS + 1)])
    assert len(queues.drain(HEIGHT).entries) == limits.MAX_RECEIPTS
    assert queues.pending_counts()["storage"] == 1


def test_verify_units_budget_stops_the_drain(queues: MarketQueues) -> None:
    queues.submit([small(i, bytes=10**9) for i in range(2_000)])  # 60 units each
    assert len(queues.drain(HEIGHT).entries) == limits.MAX_VERIFY_UNITS // 60


def test_bytes_budget_stops_the_drain(queues: MarketQueues) -> None:
    big = [small(i, region="r" * 4_000) for i in range(3_000)]
    queues.submit(big)
    drained = queues.drain(HEIGHT)
    assert len(drained.body()) <= limits.MAX_BLOCK_BYTES
    assert len(drained.body()) + 4_100 > limits.MAX_BLOCK_BYTES


def test_receipts_for_a_later_block_wait(queues: MarketQueues) -> None:
    queues.submit([small(0, HEIGHT + 1), small(1)])
    assert [e.seq for e in queues.drain(HEIGHT).entries] == [2]
    assert [e.seq for e in queues.drain(HEIGHT + 1).entries] == [1]


def test_requeued_receipts_come_first_again(queues: MarketQueues) -> None:
    queues.submit([small(i) for i in range(3)])
    first = queues.drain(HEIGHT)
    queues.submit([small(9)])
    queues.requeue(first, HEIGHT)
    assert [e.seq for e in queues.drain(HEIGHT).entries] == [1, 2, 3, 4]


def test_pending_receipts_survive_a_restart(store: Store) -> None:
    MarketQueues(store, NodeMetrics()).submit(demo_receipts(6, HEIGHT))
    again = MarketQueues(store, NodeMetrics())
    assert len(again.drain(HEIGHT).entries) == 6


def test_stamped_submits_get_the_open_height(queues: MarketQueues) -> None:
    queues.drain(HEIGHT)
    queues.submit_stamped(lambda height: [small(0, height)])
    assert queues.drain(HEIGHT + 1).entries[0].height == HEIGHT + 1


def test_each_drain_logs_per_market(
    queues: MarketQueues, caplog: pytest.LogCaptureFixture
) -> None:
    queues.submit(demo_receipts(4, HEIGHT))
    with caplog.at_level(logging.DEBUG, logger="engine"):
        queues.drain(HEIGHT)
    assert sum("drained 1" in r.getMessage() for r in caplog.records) == 4


def test_pending_gauges_follow_the_queues(store: Store) -> None:
    metrics = NodeMetrics()
    queues = MarketQueues(store, metrics)
    queues.submit(demo_receipts(8, HEIGHT))
    assert metrics.registry.get_sample_value("pending_receipts_ad") == 2
    queues.drain(HEIGHT)
    assert metrics.registry.get_sample_value("pending_receipts_ad") == 0
