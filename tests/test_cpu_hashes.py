"""The numba BLAKE3 and SHA-256 kernels match blake3 and hashlib bit for bit."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

import blake3
import numpy as np
import pytest

from engine.cpu import blake3 as cpu_blake3
from engine.cpu import sha256 as cpu_sha256

SEED = 20240917
TAG = 0x5A
VECTOR_PATTERN_LEN = 251  # official inputs repeat the bytes 0, 1, ..., 250
BLAKE3_LENGTHS = [0, 1, 63, 64, 65, 1023, 1024, 1025, 2048, 2049, 3072, 5 * 1024 + 7]
SHA256_LENGTHS = [0, 1, 55, 56, 63, 64, 65, 119, 120, 127, 128, 1000]
# One nonce in 4096 wins under this target, read big-endian.
EASY_TARGET = bytes([0x00, 0x0F]) + b"\xff" * 30
RANGE = 20_000
BITCOIN_WINDOW = 1 << 16
SUB_WINDOW = 512


def vector_input(length: int) -> bytes:
    return bytes(i % VECTOR_PATTERN_LEN for i in range(length))


def pack(items: list[bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One buffer holding every item, with each item's offset and length."""
    lengths = np.array([len(x) for x in items], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    return np.frombuffer(b"".join(items), dtype=np.uint8), offsets, lengths


class SeededRandom(random.Random):
    """A Random that names its seed, so a failing case can be replayed."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self.seed_value = seed

    def __repr__(self) -> str:
        return f"SeededRandom(seed={self.seed_value})"


def sha256d(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def blake3_oracle(data: bytes) -> bytes:
    return blake3.blake3(data).digest()


@dataclass(frozen=True)
class Miner:
    """One nonce search, its oracle, and how it reads a hash as a number."""

    module: ModuleType
    oracle: Callable[[bytes], bytes]
    prefix_len: int
    nonce_len: int
    byteorder: Literal["big", "little"]

    @property
    def space(self) -> int:
        return 1 << (8 * self.nonce_len)

    def value(self, prefix: bytes, nonce: int) -> int:
        header = prefix + nonce.to_bytes(self.nonce_len, "little")
        return int.from_bytes(self.oracle(header), self.byteorder)

    def search(self, prefix: bytes, target: bytes, start: int, count: int) -> Any:
        flags = np.zeros(1, dtype=np.uint8)
        mid = self.module.midstate(prefix)
        return self.module.search(mid, target, start, count, flags, 0)


MINERS = {
    "blake3": Miner(cpu_blake3, blake3_oracle, 116, 8, "big"),
    "sha256d": Miner(cpu_sha256, sha256d, 76, 4, "little"),
}


@pytest.fixture
def rng() -> SeededRandom:
    return SeededRandom(SEED)


@pytest.fixture(params=sorted(MINERS))
def miner(request: pytest.FixtureRequest) -> Miner:
    return MINERS[request.param]


@pytest.fixture
def prefix(miner: Miner, rng: SeededRandom) -> bytes:
    return rng.randbytes(miner.prefix_len)


def test_blake3_digest_matches_official_vectors(
    blake3_cases: list[dict[str, Any]],
) -> None:
    for case in blake3_cases:
        expected = bytes.fromhex(case["hash"])[: cpu_blake3.OUT_LEN]
        assert cpu_blake3.digest(vector_input(case["input_len"])) == expected


def test_hash_leaves_hashes_every_vector_in_one_buffer(
    blake3_cases: list[dict[str, Any]],
) -> None:
    cases = blake3_cases
    inputs = [vector_input(case["input_len"]) for case in cases]
    out = cpu_blake3.hash_leaves(*pack(inputs), TAG)
    expected = [blake3_oracle(bytes([TAG]) + x) for x in inputs]
    assert [row.tobytes() for row in out] == expected


@pytest.mark.parametrize("length", BLAKE3_LENGTHS)
def test_blake3_digest_matches_package_at_boundaries(
    length: int, rng: SeededRandom
) -> None:
    data = rng.randbytes(length)
    assert cpu_blake3.digest(data) == blake3.blake3(data).digest()


@pytest.mark.parametrize("length", SHA256_LENGTHS)
def test_sha256_digest_matches_hashlib_at_boundaries(
    length: int, rng: SeededRandom
) -> None:
    data = rng.randbytes(length)
    assert cpu_sha256.digest(data) == hashlib.sha256(data).digest()


def test_hash_parents_matches_oracle(rng: SeededRandom) -> None:
    level = np.frombuffer(rng.randbytes(6 * 32), dtype=np.uint8).reshape(6, 32)
    out = cpu_blake3.hash_parents(level, TAG)
    pairs = [
        bytes([TAG]) + level[k].tobytes() + level[k + 1].tobytes()
        for k in range(0, 6, 2)
    ]
    assert [row.tobytes() for row in out] == [blake3.blake3(p).digest() for p in pairs]


def test_hash_parents_rejects_an_odd_level() -> None:
    with pytest.raises(ValueError, match="even"):
        cpu_blake3.hash_parents(np.zeros((3, 32), dtype=np.uint8), TAG)


def test_search_agrees_with_reference_on_random_prefixes(
    miner: Miner, rng: SeededRandom
) -> None:
    for _ in range(3):
        prefix = rng.randbytes(miner.prefix_len)
        start = rng.randrange(miner.space - RANGE)
        expected = miner.module.reference_search(prefix, EASY_TARGET, start, RANGE)
        assert miner.search(prefix, EASY_TARGET, start, RANGE) == expected


@pytest.mark.parametrize("prefix_len", [0, 3, 52, 56, 64 + 5, 116, 1016])
def test_blake3_search_places_the_nonce_at_any_offset(
    prefix_len: int, rng: SeededRandom
) -> None:
    prefix = rng.randbytes(prefix_len)
    expected = cpu_blake3.reference_search(prefix, EASY_TARGET, 0, RANGE)
    assert MINERS["blake3"].search(prefix, EASY_TARGET, 0, RANGE) == expected


@pytest.mark.parametrize("prefix_len", [57, 63, 1017])
def test_blake3_midstate_rejects_a_misplaced_nonce(prefix_len: int) -> None:
    with pytest.raises(ValueError, match=r"straddles|exceeds"):
        cpu_blake3.midstate(bytes(prefix_len))


def test_search_returns_the_lowest_of_several_winners(
    miner: Miner, prefix: bytes
) -> None:
    target = (1 << 252).to_bytes(32, "big")  # one nonce in 16 wins
    winners = [
        n for n in range(64) if miner.value(prefix, n) <= int.from_bytes(target, "big")
    ]
    assert len(winners) >= 2
    assert miner.search(prefix, target, 0, 64) == (winners[0], winners[0] + 1)


def test_hash_equal_to_target_wins_and_one_below_loses(
    miner: Miner, prefix: bytes
) -> None:
    value = miner.value(prefix, 7)
    assert miner.search(prefix, value.to_bytes(32, "big"), 7, 1) == (7, 1)
    assert miner.search(prefix, (value - 1).to_bytes(32, "big"), 7, 1) == (None, 1)


def test_search_exhausts_the_top_of_the_nonce_space(
    miner: Miner, prefix: bytes
) -> None:
    start = miner.space - 5
    assert miner.search(prefix, bytes(32), start, 5) == (None, 5)
    last = miner.value(prefix, miner.space - 1).to_bytes(32, "big")
    expected = miner.module.reference_search(prefix, last, start, 5)
    assert miner.search(prefix, last, start, 5) == expected


def test_search_rejects_a_range_beyond_the_nonce_space(
    miner: Miner, prefix: bytes
) -> None:
    with pytest.raises(ValueError, match="nonce space"):
        miner.search(prefix, bytes(32), miner.space - 5, 6)


def test_search_of_zero_nonces_tries_none(miner: Miner, prefix: bytes) -> None:
    assert miner.search(prefix, b"\xff" * 32, 0, 0) == (None, 0)


def test_search_stops_once_a_lower_worker_has_won(miner: Miner, prefix: bytes) -> None:
    mid, count = miner.module.midstate(prefix), 3 * miner.module.CHECK_INTERVAL
    flags = np.array([1, 0], dtype=np.uint8)
    _, tried_above = miner.module.search(mid, bytes(32), 0, count, flags, 1)
    _, tried_lowest = miner.module.search(mid, bytes(32), 0, count, flags, 0)
    assert tried_above < count and tried_lowest == count


def test_search_sets_its_own_flag_on_a_win(miner: Miner, prefix: bytes) -> None:
    flags = np.zeros(2, dtype=np.uint8)
    miner.module.search(miner.module.midstate(prefix), b"\xff" * 32, 0, 1, flags, 1)
    assert flags.tolist() == [0, 1]


def test_bitcoin_block_hash_is_the_reversed_double_sha256(
    bitcoin_blocks: list[dict[str, Any]],
) -> None:
    for block in bitcoin_blocks:
        header = bytes.fromhex(block["header_hex"])
        h = cpu_sha256.digest(cpu_sha256.digest(header))
        assert h[::-1].hex() == block["block_hash"]


def bitcoin_case(block: dict[str, Any]) -> tuple[bytes, bytes, int]:
    header = bytes.fromhex(block["header_hex"])
    return header[:76], bytes.fromhex(block["target"]), block["nonce"]


def test_sha256d_search_refinds_the_real_bitcoin_nonce(
    bitcoin_blocks: list[dict[str, Any]],
) -> None:
    for header76, target, nonce in map(bitcoin_case, bitcoin_blocks):
        start = min(max(0, nonce - BITCOIN_WINDOW // 2), (1 << 32) - BITCOIN_WINDOW)
        found, _ = MINERS["sha256d"].search(header76, target, start, BITCOIN_WINDOW)
        # Only a second winner in the window, proven by the oracle, may come first.
        oracle, _ = cpu_sha256.reference_search(header76, target, found, 1)
        assert found == nonce or (found < nonce and oracle == found)


def test_sha256d_search_agrees_with_reference_near_the_real_nonce(
    bitcoin_blocks: list[dict[str, Any]],
) -> None:
    for header76, target, nonce in map(bitcoin_case, bitcoin_blocks):
        start = nonce - SUB_WINDOW // 2
        expected = cpu_sha256.reference_search(header76, target, start, SUB_WINDOW)
        assert MINERS["sha256d"].search(header76, target, start, SUB_WINDOW) == expected
