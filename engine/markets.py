"""Pending queues of the four markets, backed by the chain store.

Producers submit receipts; each is encoded once (as part of its submitted
batch), committed to the store, and only then acknowledged. A drain takes
receipts in arrival order, across the markets, for one block height: as many
as the block's budgets allow (count, bytes, verify units), stopping at the
first that does not fit. Receipts stamped for a later height wait; whatever is
not taken stays pending. The block body is the drained receipts' encoded
bytes behind one array header: nothing is encoded again.

A receipt names the block it settles in (block_height must equal the block's
height). `open_height` is the height the next drain will take; a producer
that stamps receipts through submit_stamped() gets that height and cannot be
overtaken by a drain. A receipt left pending past its height is stale: the
next drain takes it and validation rejects it, recording why.
"""

from __future__ import annotations

import heapq
import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from engine import limits
from engine.encoding import EncodedBatch, array_header, decode_batch, encode_batch
from engine.errors import ReceiptError
from engine.metrics import MARKETS, NodeMetrics
from engine.receipts import Receipt
from engine.store import PendingRow, Store
from engine.validation import verify_units

log = logging.getLogger("engine")
T = TypeVar("T")


@dataclass(frozen=True)
class Entry:
    """One pending receipt: its place in line and what a drain must know."""

    seq: int
    market: int
    height: int
    units: int
    data: bytes

    @property
    def row(self) -> PendingRow:
        return PendingRow(self.seq, self.market, self.data)


@dataclass(frozen=True)
class Drained:
    entries: list[Entry]

    @property
    def seqs(self) -> list[int]:
        return [e.seq for e in self.entries]

    def body(self) -> bytes:
        """The canonical batch: one array header, then each receipt as stored."""
        return array_header(len(self.entries)) + b"".join(e.data for e in self.entries)


class MarketQueues:
    """Thread-safe pending queues, one per market, in arrival order."""

    def __init__(self, store: Store, metrics: NodeMetrics) -> None:
        self._store, self._metrics = store, metrics
        self._lock = threading.Lock()
        # Held across stamping, commit and enqueue, and by drain().
        self._stamping = threading.Lock()
        self._queues: list[deque[Entry]] = [deque() for _ in MARKETS]
        self.open_height = 0
        self._restore()

    def _restore(self) -> None:
        """Reload what the store still holds pending (after a restart)."""
        rows = self._store.pending()
        if not rows:
            return
        body = array_header(len(rows)) + b"".join(row.data for row in rows)
        _, batch = decode_batch(body, max_bytes=len(body))
        self._enqueue(batch, [row.seq for row in rows])
        log.info("restored %d pending receipts from the store", len(rows))

    def submit(self, receipts: Sequence[Receipt]) -> list[int]:
        """Encode, commit and enqueue; returns sequence numbers (the acks)."""
        try:
            batch = encode_batch(receipts)
        except ReceiptError:
            self._metrics.encoding_failures.inc()
            raise
        return self._commit(batch)

    def submit_stamped(self, build: Callable[[int], Sequence[Receipt]]) -> list[int]:
        """Submit receipts built for the open height, atomically with drains."""
        with self._stamping:
            return self.submit(build(self.open_height))

    def parse(self, parser: Callable[[], T]) -> T:
        """Run a parser of producer input, counting what does not decode."""
        try:
            return parser()
        except ReceiptError:
            self._metrics.decoding_failures.inc()
            raise

    def submit_encoded(self, data: bytes) -> list[int]:
        """Decode untrusted bytes (a msgpack batch), commit and enqueue them."""
        try:
            _, batch = decode_batch(data)
        except ReceiptError:
            self._metrics.decoding_failures.inc()
            raise
        return self._commit(batch)

    def _commit(self, batch: EncodedBatch) -> list[int]:
        rows = [
            (int(batch.columns.kind[i]), batch.receipt_bytes(i))
            for i in range(batch.count)
        ]
        seqs = self._store.add_pending(rows)
        self._enqueue(batch, seqs)
        return seqs

    def _enqueue(self, batch: EncodedBatch, seqs: Sequence[int]) -> None:
        cols = batch.columns
        units = verify_units(cols)
        with self._lock:
            for i, seq in enumerate(seqs):
                entry = Entry(
                    seq, int(cols.kind[i]), int(cols.height[i]), int(units[i]),
                    batch.receipt_bytes(i),
                )  # fmt: skip
                self._queues[entry.market].append(entry)
            self._publish_pending()

    def drain(self, height: int) -> Drained:
        """Take receipts for `height` in arrival order while the budgets allow."""
        taken: list[Entry] = []
        with self._stamping, self._lock:
            self.open_height = height + 1
            budget = _Budget()
            for entry in self._in_arrival_order(height):
                if not budget.admit(entry):
                    break
                taken.append(entry)
            chosen = {e.seq for e in taken}
            for queue in self._queues:
                kept = [e for e in queue if e.seq not in chosen]
                queue.clear()
                queue.extend(kept)
            self._publish_pending()
        self._metrics.drains.inc()
        counts = np.bincount([e.market for e in taken], minlength=len(MARKETS))
        for market, count in zip(MARKETS, counts, strict=True):
            log.debug("drained %d %s receipts for height %d", count, market, height)
        return Drained(taken)

    def requeue(self, drained: Drained, height: int) -> None:
        """Put back receipts of an abandoned block, ahead of newer arrivals."""
        with self._stamping, self._lock:
            self.open_height = height
            for entry in reversed(drained.entries):
                self._queues[entry.market].appendleft(entry)
            self._publish_pending()

    @property
    def metrics(self) -> NodeMetrics:
        return self._metrics

    def pending_counts(self) -> dict[str, int]:
        with self._lock:
            return {m: len(q) for m, q in zip(MARKETS, self._queues, strict=True)}

    def _in_arrival_order(self, height: int) -> list[Entry]:
        merged = heapq.merge(*self._queues, key=lambda e: e.seq)
        # Receipts stamped for a later block wait; stale ones are taken so
        # that validation rejects them (and records why) instead of keeping
        # them forever.
        return [e for e in merged if e.height <= height]

    def _publish_pending(self) -> None:
        self._metrics.set_pending(
            (m, len(q)) for m, q in zip(MARKETS, self._queues, strict=True)
        )


class _Budget:
    """Running count, bytes and verify units of a block being filled."""

    def __init__(self) -> None:
        self.count = self.units = 0
        self.body = 0

    def admit(self, entry: Entry) -> bool:
        count = self.count + 1
        body = self.body + len(entry.data)
        units = self.units + entry.units
        fits = (
            count <= limits.MAX_RECEIPTS
            and len(array_header(count)) + body <= limits.MAX_BLOCK_BYTES
            and units <= limits.MAX_VERIFY_UNITS
        )
        if fits:
            self.count, self.body, self.units = count, body, units
        return fits
