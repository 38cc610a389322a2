"""From an encoded batch to a sealed block: validate, commit, mine, seal.

The batch is the one encoding of the receipts; everything here reads it and
nothing re-encodes a receipt. Receipts that break a rule stop the block (the
report names them); receipts that are sound but pass a budget are split off,
as a batch of their own, to stay pending for the next block.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from engine import target as targets
from engine.backend import Backend
from engine.block import Block
from engine.claims import Claims
from engine.encoding import DECODER, EncodedBatch, slice_batch
from engine.errors import InvalidReceipts
from engine.header import MS_PER_S, Algo, Header
from engine.miner import MineOutcome
from engine.validation import ValidationReport, report

HEADER_VERSION = 1


@dataclass(frozen=True)
class Candidate:
    """A block ready to mine: its batch, header (nonce 0) and what waits."""

    batch: EncodedBatch
    leftover: EncodedBatch | None
    report: ValidationReport
    header: Header


def validate(
    batch: EncodedBatch, height: int, backend: Backend, claims: Claims | None = None
) -> ValidationReport:
    """Column rules on the backend, then (with `claims`) signatures, replays
    and duplicates for the receipts the columns left valid."""
    checked = report(batch.columns, backend.check_columns(batch.columns, height))
    if claims is None:
        return checked
    receipts = DECODER.decode(batch.buffer)
    valid_rows = np.flatnonzero(checked.mask == 0)
    return checked.with_issues(claims.check(receipts, valid_rows))


def candidate(
    batch: EncodedBatch,
    backend: Backend,
    algo: Algo,
    height: int,
    prev_hash: bytes,
    target: int,
    timestamp_ms: int | None = None,
    claims: Claims | None = None,
) -> Candidate:
    """Validate, split off what does not fit, and commit to the rest."""
    checked = validate(batch, height, backend, claims)
    unsound = checked.unsound
    if unsound:
        raise InvalidReceipts(checked, len(unsound))
    fitting = checked.fitting()
    block_batch = batch if fitting == batch.count else slice_batch(batch, 0, fitting)
    leftover = (
        None if fitting == batch.count else slice_batch(batch, fitting, batch.count)
    )

    if timestamp_ms is None:
        timestamp_ms = int(time.time() * MS_PER_S)
    if algo is Algo.SHA256D:
        # Bitcoin's header keeps whole seconds and a compact target.
        timestamp_ms -= timestamp_ms % MS_PER_S
        target = targets.round_to_compact(target)
    root = backend.receipts_root(block_batch)
    header = Header(algo, HEADER_VERSION, height, prev_hash, root, timestamp_ms, target)
    return Candidate(block_batch, leftover, checked, header)


def seal(cand: Candidate, outcome: MineOutcome) -> Block:
    """The block of a successful search."""
    if not outcome.found:
        raise ValueError("a block is sealed only with a winning nonce.")
    return Block(outcome.header, cand.batch.body())
