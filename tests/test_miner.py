"""The mining loop: bounded ranges, rollover of the timestamp, stopping."""

from __future__ import annotations

import threading

from engine.backend import CpuBackend
from engine.header import Algo, Header, hash_value
from engine.miner import Progress, mine
from engine.search import SearchJob

EASY = (1 << 248) - 1  # about one nonce in 256 wins


def header(algo: Algo = Algo.BLAKE3, target: int = EASY) -> Header:
    return Header(algo, 1, 3, bytes(32), bytes(range(32)), 1_700_000_000_000, target)


def test_finds_and_reports_the_winning_header() -> None:
    with CpuBackend() as backend:
        outcome = mine(backend, header(), nonce_count=1 << 16)
    assert outcome.found
    assert hash_value(Algo.BLAKE3, outcome.header.digest()) <= EASY
    assert outcome.digest == outcome.header.digest()


def test_bounded_search_without_a_winner_does_not_roll_over() -> None:
    with CpuBackend() as backend:
        outcome = mine(backend, header(target=1), nonce_start=5, nonce_count=50_000)
    assert not outcome.found and outcome.hashes == 50_000 and outcome.rollovers == 0


def test_exhausted_nonce_space_moves_the_timestamp_on() -> None:
    h = header(Algo.SHA256D)
    job = SearchJob(h.algo, h.prefix(), h.target)
    top = h.spec.nonce_limit
    tail = next(n for n in range(64, 10_000) if _nothing_wins(job, top - n, top))
    with CpuBackend() as backend:
        outcome = mine(backend, h, nonce_start=top - tail)
    assert outcome.found and outcome.rollovers == 1
    assert outcome.header.timestamp_ms == h.timestamp_ms + 1_000


def test_rollover_stays_inside_a_bounded_count_past_the_top() -> None:
    h = header(Algo.SHA256D, target=1)
    top = h.spec.nonce_limit
    with CpuBackend() as backend:
        outcome = mine(backend, h, nonce_start=top - 100, nonce_count=1_000)
    assert outcome.hashes == 100 and outcome.rollovers == 0


def test_stop_event_ends_the_search() -> None:
    stop = threading.Event()
    stop.set()
    with CpuBackend() as backend:
        outcome = mine(backend, header(target=1), stop=stop)
    assert outcome.stopped and not outcome.found and outcome.hashes == 0


def test_progress_is_reported_per_slice() -> None:
    seen: list[Progress] = []
    with CpuBackend() as backend:
        mine(backend, header(target=1), nonce_count=300_000, progress=seen.append)
    assert seen and seen[-1].hashes == 300_000 and seen[-1].nonce == 300_000


def _nothing_wins(job: SearchJob, start: int, end: int) -> bool:
    return all(
        hash_value(job.algo, job.digest(n)) > job.target for n in range(start, end)
    )
