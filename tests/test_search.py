"""The nonce search contract, on every backend, against the plain loop."""

from __future__ import annotations

import random
from typing import Any

import pytest

from engine.backend import Backend
from engine.header import Algo, hash_value
from engine.search import SearchJob, reference_search

# About one nonce in 4,096 wins.
EASY = (1 << 244) - 1
PREFIX_LEN = {Algo.BLAKE3: 116, Algo.SHA256D: 76}
ALGOS = list(Algo)


def job(algo: Algo, seed: int, target: int = EASY) -> SearchJob:
    prefix = random.Random(seed).randbytes(PREFIX_LEN[algo])
    return SearchJob(algo, prefix, target)


@pytest.mark.parametrize("algo", ALGOS)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_backend_matches_the_plain_loop(
    backend: Backend, algo: Algo, seed: int
) -> None:
    j = job(algo, seed)
    fast, slow = backend.search(j, 1_000, 40_000), reference_search(j, 1_000, 40_000)
    assert (fast.nonce, fast.digest) == (slow.nonce, slow.digest)


@pytest.mark.parametrize("algo", ALGOS)
def test_lowest_of_several_winners_is_returned(backend: Backend, algo: Algo) -> None:
    j = job(algo, 7, target=(1 << 250) - 1)  # about one in 64 wins
    result = backend.search(j, 0, 1 << 17)
    wins = [n for n in range(2_000) if hash_value(algo, j.digest(n)) <= j.target]
    assert len(wins) > 3 and result.nonce == wins[0]


@pytest.mark.parametrize("algo", ALGOS)
def test_hash_equal_to_target_wins_and_one_less_loses(
    backend: Backend, algo: Algo
) -> None:
    base = job(algo, 11)
    exact = hash_value(algo, base.digest(12_345))
    assert (
        backend.search(SearchJob(algo, base.prefix, exact), 12_345, 1).nonce == 12_345
    )
    assert (
        backend.search(SearchJob(algo, base.prefix, exact - 1), 12_345, 1).nonce is None
    )


@pytest.mark.parametrize("algo", ALGOS)
def test_range_at_the_top_of_the_nonce_space_is_exhausted(
    backend: Backend, algo: Algo
) -> None:
    j = job(algo, 13, target=1)  # nothing wins
    top = j.nonce_limit
    result = backend.search(j, top - 70_000, 70_000)
    assert (result.nonce, result.hashes) == (None, 70_000)


@pytest.mark.parametrize("algo", ALGOS)
def test_range_past_the_top_is_refused(backend: Backend, algo: Algo) -> None:
    j = job(algo, 17)
    with pytest.raises(ValueError, match="maximum"):
        backend.search(j, j.nonce_limit - 5, 6)


def test_empty_range_hashes_nothing(backend: Backend) -> None:
    result = backend.search(job(Algo.BLAKE3, 19), 10, 0)
    assert (result.nonce, result.hashes) == (None, 0)


def test_every_nonce_counted_when_none_wins(backend: Backend) -> None:
    assert backend.search(job(Algo.SHA256D, 23, target=1), 0, 100_001).hashes == 100_001


def test_real_bitcoin_nonces_are_refound(
    backend: Backend, bitcoin_blocks: list[dict[str, Any]]
) -> None:
    for block in bitcoin_blocks:
        raw = bytes.fromhex(block["header_hex"])
        j = SearchJob(Algo.SHA256D, raw[:76], int(block["target"], 16))
        start = block["nonce"] - (1 << 15)
        result = backend.search(j, start, 1 << 16)
        assert result.nonce == block["nonce"]
        assert result.digest is not None
        assert result.digest[::-1].hex() == block["block_hash"]
