"""Prometheus metrics of a node: the receipt metrics and the engine's own.

The 22 receipt metrics keep the names operators of the original node already
chart (plus pending_receipts_ad); the engine's own follow Prometheus naming.
Each node owns its registry (tests build fresh ones), no label takes an
unbounded value (never a receipt id, a hash or a nonce), and counters are
exported with their _total names.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any, Final

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

from engine.receipts import KINDS

MARKETS: Final = tuple(spec.name for spec in KINDS)
BLOCK_INTERVAL_BUCKETS: Final = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600)

# Every series name the engine exports, as Prometheus shows it; the dashboard
# and alert tests check their expressions against this list.
RECEIPT_METRICS: Final = (
    *(f"receipts_{m}_total" for m in MARKETS),
    "receipts_per_block",
    *(f"receipts_{m}_per_block" for m in MARKETS),
    "receipt_bytes_per_block",
    *(f"receipt_settlement_{m}_ct" for m in MARKETS),
    "receipt_encoding_failures_total",
    "receipt_validation_failures_total",
    "receipt_decoding_failures_total",
    *(f"pending_receipts_{m}" for m in MARKETS),
    "receipt_drain_operations_total",
    "metrics_derivation_duration_ms",
)
ENGINE_METRICS: Final = (
    "engine_hashes_total",
    "engine_search_seconds_total",
    "engine_blocks_sealed_total",
    "engine_chain_height",
    "engine_difficulty",
    "engine_block_interval_seconds_bucket",
    "engine_block_interval_seconds_sum",
    "engine_block_interval_seconds_count",
    "engine_backend_info",
)
EXPORTED: Final = RECEIPT_METRICS + ENGINE_METRICS


class NodeMetrics:
    """Every metric of one node, registered in its own registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.receipts = _per_market(
            Counter, "receipts_{m}", "{m} receipts included in blocks", r
        )
        self.per_block = Gauge(
            "receipts_per_block", "receipts in the last block", registry=r
        )
        self.market_per_block = _per_market(
            Gauge, "receipts_{m}_per_block", "{m} receipts in the last block", r
        )
        self.bytes_per_block = Gauge(
            "receipt_bytes_per_block",
            "encoded receipt bytes in the last block",
            registry=r,
        )
        self.settlement = _per_market(
            Gauge,
            "receipt_settlement_{m}_ct",
            "{m} settlement value in the last block (sum of price/payment/spend)",
            r,
        )
        self.encoding_failures = Counter(
            "receipt_encoding_failures",
            "receipts that could not be encoded",
            registry=r,
        )
        self.validation_failures = Counter(
            "receipt_validation_failures", "receipts rejected by a rule", registry=r
        )
        self.decoding_failures = Counter(
            "receipt_decoding_failures",
            "receipt inputs that did not decode",
            registry=r,
        )
        self.pending = _per_market(
            Gauge, "pending_receipts_{m}", "{m} receipts waiting for a block", r
        )
        self.drains = Counter(
            "receipt_drain_operations", "drains of the pending queues", registry=r
        )
        self.derivation_ms = Gauge(
            "metrics_derivation_duration_ms",
            "milliseconds spent deriving the last block's receipt metrics",
            registry=r,
        )
        self._engine_metrics(r)

    def _engine_metrics(self, r: CollectorRegistry) -> None:
        self.hashes = Counter(
            "engine_hashes", "nonces hashed by the search", registry=r
        )
        self.search_seconds = Counter(
            "engine_search_seconds", "seconds spent in the nonce search", registry=r
        )
        self.blocks = Counter("engine_blocks_sealed", "blocks sealed", registry=r)
        self.height = Gauge(
            "engine_chain_height", "height of the chain tip", registry=r
        )
        self.difficulty = Gauge(
            "engine_difficulty",
            "current difficulty: the target's leading zero bits (log2 scale)",
            registry=r,
        )
        self.interval = Histogram(
            "engine_block_interval_seconds",
            "seconds between sealed blocks",
            buckets=BLOCK_INTERVAL_BUCKETS,
            registry=r,
        )
        self.backend = Info("engine_backend", "search backend and device", registry=r)

    def block_sealed(
        self, kinds: np.ndarray, values: np.ndarray, nbytes: int, height: int
    ) -> None:
        """Derive the per-block receipt metrics from the block's columns."""
        began = time.perf_counter()
        counts = np.bincount(kinds.astype(np.int64), minlength=len(MARKETS))
        # Settlement sums in Python ints: u64 amounts may overflow uint64 sums.
        for code, market in enumerate(MARKETS):
            chosen = values[kinds == code]
            self.receipts[market].inc(int(counts[code]))
            self.market_per_block[market].set(int(counts[code]))
            self.settlement[market].set(sum(int(v) for v in chosen.tolist()))
        self.per_block.set(int(kinds.shape[0]))
        self.bytes_per_block.set(nbytes)
        self.blocks.inc()
        self.height.set(height)
        self.derivation_ms.set((time.perf_counter() - began) * 1e3)

    def set_pending(self, counts: Iterable[tuple[str, int]]) -> None:
        for market, count in counts:
            self.pending[market].set(count)


def _per_market(
    kind: type[Counter] | type[Gauge], name: str, doc: str, registry: CollectorRegistry
) -> dict[str, Any]:
    """One metric per market; `name` and `doc` hold a {m} for the market."""
    return {
        m: kind(name.format(m=m), doc.format(m=m), registry=registry) for m in MARKETS
    }
