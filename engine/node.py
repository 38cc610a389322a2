"""The node loop: drain, validate, encode once, commit, mine, append, measure.

One block per turn. Receipts that break a rule are rejected (kept in the
store's rejected table with the rule, and counted); receipts that do not fit
stay pending. A stop request (SIGINT/SIGTERM) abandons the search within one
search slice and puts the drained receipts back; the store has them anyway.
A simple retarget moves the difficulty toward the target block time.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from engine import pipeline
from engine.backend import Backend
from engine.block import Block, parse_block, verify_block
from engine.claims import Claims
from engine.console import rate
from engine.encoding import DECODER, EncodedBatch, index_batch
from engine.errors import BlockInvalid
from engine.header import Algo, display_hash
from engine.markets import Drained, MarketQueues
from engine.metrics import NodeMetrics
from engine.miner import Progress, mine
from engine.store import Rejection, Store
from engine.validation import ValidationReport

log = logging.getLogger("engine")

# Retarget: move the difficulty by log2(wanted / actual) block time, at most
# MAX_STEP_BITS per block, within [MIN_BITS, MAX_BITS].
MAX_STEP_BITS: Final = 1.0
MIN_BITS: Final = 1.0
MAX_BITS: Final = 250.0
RATE_WINDOWS: Final = {"10s": 10.0, "60s": 60.0, "15m": 900.0}


@dataclass
class NodeConfig:
    algo: Algo = Algo.BLAKE3
    difficulty_bits: float = 20.0
    block_time: float = 5.0
    retarget: bool = True
    max_blocks: int | None = None


@dataclass
class NodeState:
    """What /summary reports; updated by the loop, read by the HTTP thread."""

    height: int = -1
    last_block: dict[str, object] = field(default_factory=dict)
    samples: deque[tuple[float, int]] = field(
        default_factory=lambda: deque(maxlen=20_000)
    )
    hashes: int = 0
    blocks: int = 0
    receipts: int = 0
    rejected: int = 0
    alive: float = field(default_factory=time.monotonic)

    def hash_rates(self) -> dict[str, float]:
        now, rates = time.monotonic(), {}
        for name, window in RATE_WINDOWS.items():
            inside = [(t, h) for t, h in self.samples if now - t <= window]
            if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
                rates[name] = 0.0
                continue
            rates[name] = (inside[-1][1] - inside[0][1]) / (now - inside[0][0])
        return rates


class Node:
    def __init__(
        self,
        store: Store,
        queues: MarketQueues,
        backend: Backend,
        metrics: NodeMetrics,
        config: NodeConfig,
        claims: Claims | None = None,
    ) -> None:
        self.store, self.queues, self.backend = store, queues, backend
        self.metrics, self.config, self.claims = metrics, config, claims
        self.state = NodeState()
        self.bits = config.difficulty_bits
        tip = store.tip()
        self._tip = tip if tip is not None else (-1, bytes(32))
        queues.open_height = self._tip[0] + 1
        self.state.height = self._tip[0]
        self._last_sealed = time.monotonic()
        self._reported = 0
        metrics.backend.info({"backend": backend.name, "device": backend.device})
        if claims is not None:
            self._recall_recent_blocks(claims)

    def _recall_recent_blocks(self, claims: Claims) -> None:
        """Refill the replay/duplicate window from the chain's last blocks."""
        for data in self.store.recent_blocks(claims.window.blocks):
            claims.window.add_block(DECODER.decode(parse_block(data).body))

    def next_height(self) -> int:
        return self._tip[0] + 1

    def alive(self) -> float:
        return self.state.alive

    def summary(self) -> dict[str, object]:
        """What /summary serves and the node prints when it stops."""
        s = self.state
        return {
            "height": s.height,
            "hash_rate": {k: round(v, 1) for k, v in s.hash_rates().items()},
            "pending": self.queues.pending_counts(),
            "last_block": s.last_block,
            "blocks_sealed": s.blocks,
            "receipts": s.receipts,
            "rejected": s.rejected,
            "difficulty_bits": round(self.bits, 3),
            "backend": self.backend.name,
        }

    def run(self, stop: threading.Event) -> None:
        """Seal blocks until `stop` is set (or max_blocks are sealed)."""
        while not stop.is_set():
            if (
                self.config.max_blocks is not None
                and self.state.blocks >= self.config.max_blocks
            ):
                return
            self.turn(stop)

    def turn(self, stop: threading.Event) -> Block | None:
        """One block: drain, validate, mine, append. None when stopped."""
        height = self.next_height()
        drained = self.queues.drain(height)
        batch = index_batch(np.frombuffer(drained.body(), dtype=np.uint8))
        report = pipeline.validate(batch, height, self.backend, self.claims)
        drained, batch, rejected = self._reject(drained, batch, report, height)

        target = self._target()
        cand = pipeline.candidate(
            batch, self.backend, self.config.algo, height, self._tip[1], target
        )
        self._reported = 0
        outcome = mine(self.backend, cand.header, progress=self._progress, stop=stop)
        if not outcome.found:
            self.queues.requeue(drained, height)
            return None

        block = pipeline.seal(cand, outcome)
        self.store.append_block(block, drained.seqs, rejected)
        if self.claims is not None:
            self.claims.window.add_block(DECODER.decode(batch.buffer))
        self._sealed(block, batch, outcome.seconds, len(rejected))
        return block

    def _reject(
        self,
        drained: Drained,
        batch: EncodedBatch,
        report: ValidationReport,
        height: int,
    ) -> tuple[Drained, EncodedBatch, list]:
        """Drop receipts that break a rule; they go to the rejected table."""
        if report.valid:
            return drained, batch, []
        first_issue = {}
        for issue in report.errors:
            first_issue.setdefault(issue.index, issue)
        rejected = [
            (
                Rejection(drained.entries[i].seq, issue.rule, issue.field),
                drained.entries[i].row,
            )
            for i, issue in sorted(first_issue.items())
        ]
        kept = Drained(
            [e for i, e in enumerate(drained.entries) if i not in first_issue]
        )
        self.metrics.validation_failures.inc(len(rejected))
        log.warning(
            "rejected %d receipts for height %d (first: receipt %s, %s, %s)",
            len(rejected), height, report.errors[0].index, report.errors[0].field,
            report.errors[0].rule,
        )  # fmt: skip
        return kept, index_batch(np.frombuffer(kept.body(), dtype=np.uint8)), rejected

    def _target(self) -> int:
        bits = min(MAX_BITS, max(MIN_BITS, self.bits))
        return int(2 ** (256 - bits)) - 1

    def _progress(self, p: Progress) -> None:
        """After each search slice: count the new hashes, note the loop is alive."""
        fresh, self._reported = p.hashes - self._reported, p.hashes
        self.metrics.hashes.inc(fresh)
        self.state.hashes += fresh
        now = time.monotonic()
        self.state.samples.append((now, self.state.hashes))
        self.state.alive = now

    def _sealed(
        self, block: Block, batch: EncodedBatch, seconds: float, rejected: int
    ) -> None:
        now = time.monotonic()
        interval, self._last_sealed = now - self._last_sealed, now
        header = block.header
        self._tip = (header.height, block.digest)

        m = self.metrics
        m.block_sealed(
            batch.columns.kind, batch.columns.value, batch.nbytes, header.height
        )
        m.interval.observe(interval)
        m.search_seconds.inc(seconds)
        self._retarget(interval)
        m.difficulty.set(self.bits)

        s = self.state
        s.height, s.blocks = header.height, s.blocks + 1
        s.receipts, s.rejected = s.receipts + batch.count, s.rejected + rejected
        s.last_block = {
            "height": header.height,
            "hash": display_hash(header.algo, block.digest),
            "receipts": batch.count,
            "bytes": batch.nbytes,
            "nonce": header.nonce,
            "interval_s": round(interval, 3),
        }
        log.info(
            "sealed block %d: %s receipts, %s B, nonce %d, %s, %.2f s",
            header.height, f"{batch.count:,}", f"{batch.nbytes:,}", header.nonce,
            rate(s.hash_rates()["10s"]), interval,
        )  # fmt: skip

    def _retarget(self, interval: float) -> None:
        if not self.config.retarget or interval <= 0:
            return
        step = math.log2(self.config.block_time / interval)
        self.bits += max(-MAX_STEP_BITS, min(MAX_STEP_BITS, step))
        self.bits = min(MAX_BITS, max(MIN_BITS, self.bits))


def verify_chain(store: Store, claims: Claims | None = None) -> tuple[int, int]:
    """Re-verify every block and every link; (blocks, receipts) on success.

    With `claims`, signatures are checked and a receipt or nonce repeated
    within the recent-block window fails the chain."""
    prev, expected, receipts = bytes(32), 0, 0
    for stored in store.blocks():
        height = stored.height
        try:
            verified = verify_block(stored.data, claims=claims)
        except BlockInvalid as exc:
            raise BlockInvalid(f"block {height}: {exc}") from exc
        header = verified.block.header
        if header.height != expected or height != expected:
            raise BlockInvalid(f"block {height}: expected height {expected}.")
        if header.prev_hash != prev:
            raise BlockInvalid(f"block {height}: its previous hash does not link.")
        if (stored.hash, stored.prev_hash) != (verified.digest, header.prev_hash):
            raise BlockInvalid(f"block {height}: the stored hash columns disagree.")
        prev, expected = verified.digest, expected + 1
        receipts += verified.batch.count
        if claims is not None:
            claims.window.add_block(verified.receipts)
    return expected, receipts
