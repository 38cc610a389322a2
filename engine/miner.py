"""The mining loop: slices of nonce search, progress, and nonce-space rollover.

The loop hands the backend slices sized to about SLICE_SECONDS so that a
progress report or a stop request is never late. An unbounded search that
exhausts the nonce field moves the timestamp on by the header's smallest step
and starts again from nonce 0: the timestamp only grows, so no header is
hashed twice. A bounded search (a nonce count) never moves the timestamp.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Final

from engine.backend import Backend
from engine.header import Header
from engine.search import SearchJob

SLICE_SECONDS: Final = 0.2
FIRST_SLICE: Final = 1 << 16
MIN_SLICE: Final = 1 << 12


@dataclass(frozen=True)
class Progress:
    hashes: int
    seconds: float
    nonce: int
    timestamp_ms: int

    @property
    def rate(self) -> float:
        return self.hashes / self.seconds if self.seconds > 0 else 0.0


ProgressFn = Callable[[Progress], None]


@dataclass(frozen=True)
class MineOutcome:
    """header carries the winning nonce when found is True."""

    header: Header
    digest: bytes | None
    hashes: int
    seconds: float
    rollovers: int
    stopped: bool = False

    @property
    def found(self) -> bool:
        return self.digest is not None

    @property
    def rate(self) -> float:
        return self.hashes / self.seconds if self.seconds > 0 else 0.0


def mine(
    backend: Backend,
    header: Header,
    nonce_start: int = 0,
    nonce_count: int | None = None,
    progress: ProgressFn | None = None,
    stop: threading.Event | None = None,
) -> MineOutcome:
    """Search until a winner, the end of a bounded range, or `stop`."""
    limit = header.spec.nonce_limit
    if not 0 <= nonce_start < limit:
        raise ValueError(f"nonce start {nonce_start} is outside 0..{limit - 1}.")
    end = limit if nonce_count is None else min(limit, nonce_start + nonce_count)
    backend.warm_up(header.algo)
    clock = _Clock(progress)
    rollovers = 0

    while True:
        found = _search_header(backend, header, nonce_start, end, clock, stop)
        if found is not None or nonce_count is not None or clock.stopped:
            break
        header = replace(
            header, timestamp_ms=header.timestamp_ms + header.spec.timestamp_step_ms
        )
        nonce_start, rollovers = 0, rollovers + 1

    header, digest = found if found is not None else (header, None)
    return MineOutcome(
        header, digest, clock.hashes, clock.elapsed(), rollovers, clock.stopped
    )


def _search_header(
    backend: Backend,
    header: Header,
    start: int,
    end: int,
    clock: _Clock,
    stop: threading.Event | None,
) -> tuple[Header, bytes] | None:
    job = SearchJob(header.algo, header.prefix(), header.target)
    position, size = start, FIRST_SLICE
    while position < end:
        if stop is not None and stop.is_set():
            clock.stopped = True
            return None
        count = min(size, end - position)
        began = time.perf_counter()
        result = backend.search(job, position, count)
        took = time.perf_counter() - began

        position += count
        clock.tick(result.hashes, position, header.timestamp_ms)
        if result.nonce is not None and result.digest is not None:
            return header.with_nonce(result.nonce), result.digest
        size = _next_slice(count, took)
    return None


def _next_slice(count: int, took: float) -> int:
    """Aim the next slice at SLICE_SECONDS, growing at most 4x at a time."""
    if took <= 0:
        return count * 4
    return max(MIN_SLICE, min(count * 4, int(count * SLICE_SECONDS / took)))


class _Clock:
    """Running totals of one mining run, reported after every slice."""

    def __init__(self, progress: ProgressFn | None) -> None:
        self.began = time.perf_counter()
        self.hashes = 0
        self.stopped = False
        self._progress = progress

    def elapsed(self) -> float:
        return time.perf_counter() - self.began

    def tick(self, hashes: int, nonce: int, timestamp_ms: int) -> None:
        self.hashes += hashes
        if self._progress is not None:
            self._progress(Progress(self.hashes, self.elapsed(), nonce, timestamp_ms))
