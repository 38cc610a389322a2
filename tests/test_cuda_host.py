"""The CUDA kernels, compiled for the host, equal the CPU oracle bit for bit.

The kernels run through tests/host_kernels.py (g++ and cuda/host_shim.h), so
these tests prove the device code itself on a machine without a GPU: the
searches against hashlib and the blake3 package, the leaf and parent hashes
against the official vectors and engine.merkle, the validation mask against
engine.validation.check_columns.
"""

from __future__ import annotations

import re
import shutil
from typing import Any

import blake3
import numpy as np
import pytest
from host_kernels import CUDA_DIR, NO_TAG, HostKernels, build, engine_defines
from receipt_builders import HEIGHT, SIG, ad, compute, energy, storage

from engine import merkle
from engine import target as targets
from engine.columns import ROW_KIND, Columns
from engine.demo import demo_receipts
from engine.encoding import encode_batch
from engine.header import SPECS, Algo, hash_value
from engine.limits import MAX_RECEIPTS, MAX_VERIFY_UNITS, SIGNATURE_BYTES
from engine.scan import (
    D_EXTRA,
    D_HEIGHT,
    D_ID0,
    D_ID1,
    D_QUANTITY,
    D_SIGNATURE,
    D_VALUE,
    D_VERIFIED,
    N_COLUMNS,
)
from engine.search import SearchJob
from engine.validation import (
    BIT_RULES,
    BUDGET_BITS,
    KIND_STORAGE,
    TOO_MANY,
    VERIFY_BUDGET,
    check_columns,
    verify_units,
)

WINDOW = 1 << 12
EASY_BITS = 5  # about one nonce in 32 wins
ALGOS = [Algo.BLAKE3, Algo.SHA256D]
PREFIX = {Algo.BLAKE3: bytes(range(116)), Algo.SHA256D: bytes(range(76, 0, -1))}


@pytest.fixture(scope="session")
def kernels(tmp_path_factory: pytest.TempPathFactory) -> HostKernels:
    if shutil.which("g++") is None:
        pytest.skip("g++ is not installed: the host-compiled kernels cannot be built")
    return build(tmp_path_factory.mktemp("cuda_host"))


def easy_job(algo: Algo, bits: int = EASY_BITS) -> SearchJob:
    return SearchJob(algo, PREFIX[algo], targets.from_difficulty_bits(bits))


def winners(job: SearchJob, start: int, count: int) -> list[int]:
    """Every winning nonce of the range, by the hashlib/blake3 oracle."""
    nonces = range(start, start + count)
    return [n for n in nonces if hash_value(job.algo, job.digest(n)) <= job.target]


def columns(matrix: np.ndarray, ends: np.ndarray | None = None) -> Columns:
    n = matrix.shape[1]
    lengths = np.full(n, 100, dtype=np.int64)
    offsets = np.arange(n, dtype=np.int64) * 100 if ends is None else ends - lengths
    return Columns(matrix.astype(np.uint64), offsets, lengths)


def assert_same_mask(kernels: HostKernels, cols: Columns, height: int = HEIGHT) -> None:
    mask, units = kernels.validate(cols.matrix, cols.offsets, cols.lengths, height)
    np.testing.assert_array_equal(mask, check_columns(cols, height))
    np.testing.assert_array_equal(units, verify_units(cols))


def valid_matrix(n: int) -> np.ndarray:
    """n sound receipts of the four kinds in turn, as the scanner writes them."""
    matrix = np.zeros((N_COLUMNS, n), dtype=np.uint64)
    matrix[ROW_KIND] = np.arange(n) % 4
    for row in (D_QUANTITY, D_VALUE, D_ID0, D_ID1):
        matrix[row] = 1
    matrix[D_HEIGHT] = HEIGHT
    matrix[D_SIGNATURE] = SIGNATURE_BYTES
    return matrix


# Searches


def test_sha256d_search_refinds_real_bitcoin_nonces(
    kernels: HostKernels, bitcoin_blocks: list[dict[str, Any]]
) -> None:
    for block in bitcoin_blocks:
        header, nonce = bytes.fromhex(block["header_hex"]), block["nonce"]
        job = SearchJob(Algo.SHA256D, header[:76], int(block["target"], 16))
        outcome = kernels.search(job, nonce - WINDOW // 2, WINDOW)
        assert outcome == (nonce, [nonce], False)


@pytest.mark.parametrize("algo", ALGOS)
def test_search_records_every_winner_and_the_lowest(
    kernels: HostKernels, algo: Algo
) -> None:
    job = easy_job(algo)
    expected = winners(job, 1000, 2048)
    outcome = kernels.search(job, 1000, 2048, capacity=len(expected))
    assert outcome == (expected[0], expected, False)


@pytest.mark.parametrize("algo", ALGOS)
def test_search_capacity_below_winner_count_truncates_but_keeps_lowest(
    kernels: HostKernels, algo: Algo
) -> None:
    job = easy_job(algo)
    expected = winners(job, 0, 1024)
    outcome = kernels.search(job, 0, 1024, capacity=3)
    assert outcome.lowest == expected[0] and outcome.truncated
    assert len(outcome.winners) == 3 and set(outcome.winners) <= set(expected)


@pytest.mark.parametrize("prefix_len", [0, 4, 56, 64, 116, 120])
def test_blake3_search_handles_the_nonce_at_any_aligned_offset(
    kernels: HostKernels, prefix_len: int
) -> None:
    job = SearchJob(Algo.BLAKE3, PREFIX[Algo.BLAKE3][:prefix_len], 1 << 251)
    expected = winners(job, 0, 512)
    assert kernels.search(job, 0, 512) == (expected[0], expected, False)


@pytest.mark.parametrize("algo", ALGOS)
def test_search_exhausts_the_top_of_the_nonce_space_without_wrapping(
    kernels: HostKernels, algo: Algo
) -> None:
    job = SearchJob(algo, PREFIX[algo], targets.MAX_TARGET)
    limit = SPECS[algo].nonce_limit
    outcome = kernels.search(job, limit - 300, 300, capacity=400)
    assert outcome == (limit - 300, list(range(limit - 300, limit)), False)


@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (64, 32)])
@pytest.mark.parametrize("algo", ALGOS)
def test_search_tries_each_nonce_once_for_any_launch_shape(
    kernels: HostKernels, algo: Algo, shape: tuple[int, int]
) -> None:
    job = SearchJob(algo, PREFIX[algo], targets.MAX_TARGET)
    grid, block = shape
    outcome = kernels.search(job, 5, 500, grid=grid, block=block, capacity=600)
    assert outcome.winners == list(range(5, 505))


@pytest.mark.parametrize("algo", ALGOS)
def test_hash_equal_to_target_wins_and_one_below_loses(
    kernels: HostKernels, algo: Algo
) -> None:
    value = hash_value(algo, easy_job(algo).digest(77))
    lowest = [
        kernels.search(SearchJob(algo, PREFIX[algo], target), 77, 1).lowest
        for target in (value - 1, value, value + 1)
    ]
    assert lowest == [None, 77, 77]


def test_sha256d_range_past_the_32_bit_nonce_field_tries_nothing(
    kernels: HostKernels,
) -> None:
    job = SearchJob(Algo.SHA256D, PREFIX[Algo.SHA256D], targets.MAX_TARGET)
    outcome = kernels.search(job, (1 << 32) - 10, 11)
    assert outcome == (None, [], False)


def test_search_without_winners_reports_none(kernels: HostKernels) -> None:
    job = easy_job(Algo.BLAKE3, bits=40)
    assert kernels.search(job, 0, 512) == (None, [], False)


# Leaf and parent hashes


def vector_items(cases: list[dict[str, Any]]) -> tuple[np.ndarray, ...]:
    """The vector inputs (bytes i % 251) laid end to end in one buffer."""
    data = [bytes(i % 251 for i in range(case["input_len"])) for case in cases]
    lengths = np.array([len(d) for d in data], dtype=np.int64)
    offsets = np.cumsum(lengths) - lengths
    return np.frombuffer(b"".join(data), dtype=np.uint8), offsets, lengths


def test_untagged_leaves_match_every_official_blake3_vector(
    kernels: HostKernels, blake3_cases: list[dict[str, Any]]
) -> None:
    out = kernels.leaves(*vector_items(blake3_cases), tag=NO_TAG)
    got = [row.tobytes().hex() for row in out]
    assert got == [case["hash"][:64] for case in blake3_cases]


@pytest.mark.parametrize("tag", [0x00, 0x01, 0xFF])
def test_tagged_leaves_match_the_blake3_package_at_every_vector_length(
    kernels: HostKernels, blake3_cases: list[dict[str, Any]], tag: int
) -> None:
    buf, offsets, lengths = vector_items(blake3_cases)
    out = kernels.leaves(buf, offsets, lengths, tag)
    items = [buf[o : o + n].tobytes() for o, n in zip(offsets, lengths, strict=True)]
    assert [row.tobytes() for row in out] == [
        blake3.blake3(bytes([tag]) + item).digest() for item in items
    ]


def test_leaves_of_a_receipt_batch_equal_the_cpu_leaf_hashes(
    kernels: HostKernels,
) -> None:
    batch = encode_batch(demo_receipts(50, HEIGHT))
    out = kernels.leaves(batch.buffer, batch.offsets, batch.lengths, merkle.LEAF_TAG)
    np.testing.assert_array_equal(out, merkle.leaf_hashes(batch))


def test_parents_equal_the_cpu_parent_hashes(kernels: HostKernels) -> None:
    level = np.random.default_rng(7).integers(0, 256, (40, 32), dtype=np.uint8)
    out = kernels.parents(level, merkle.NODE_TAG)
    pairs = [
        bytes([merkle.NODE_TAG]) + pair.tobytes() for pair in level.reshape(20, 64)
    ]
    assert [row.tobytes() for row in out] == [blake3.blake3(p).digest() for p in pairs]


def test_tree_built_by_the_kernels_reaches_the_reference_root(
    kernels: HostKernels,
) -> None:
    batch = encode_batch(demo_receipts(37, HEIGHT))
    level = kernels.leaves(batch.buffer, batch.offsets, batch.lengths, merkle.LEAF_TAG)
    while level.shape[0] > 1:
        paired = level.shape[0] & ~1
        parents = kernels.parents(level[:paired], merkle.NODE_TAG)
        level = np.concatenate([parents, level[paired:]])
    blobs = [batch.receipt_bytes(i) for i in range(batch.count)]
    assert level[0].tobytes() == merkle.reference_root(blobs)


# Validation


def test_engine_defines_match_the_kernel_defaults() -> None:
    source = (CUDA_DIR / "validate_columns.cu").read_text()
    defaults = dict(re.findall(r"#ifndef (\w+)\n#define \1 (\d+)", source))
    flags = dict(flag[2:].split("=") for flag in engine_defines())
    assert flags == defaults


def test_engine_defines_name_every_mask_bit() -> None:
    flags = dict(flag[2:].split("=") for flag in engine_defines())
    bits = {int(value) for name, value in flags.items() if name.startswith("BIT_")}
    assert bits == set(BIT_RULES)


@pytest.mark.parametrize(
    ("row", "value"),
    [
        (D_QUANTITY, 0), (D_VALUE, 0), (D_HEIGHT, HEIGHT - 1), (D_HEIGHT, HEIGHT + 1),
        (D_HEIGHT, 2**64 - 1), (D_ID0, 0), (D_ID0, 256), (D_ID0, 257), (D_ID1, 0),
        (D_ID1, 257), (D_EXTRA, 256), (D_EXTRA, 257), (D_SIGNATURE, 0),
        (D_SIGNATURE, 63), (D_SIGNATURE, 64), (D_SIGNATURE, 65),
        (D_QUANTITY, 2**64 - 1), (D_VERIFIED, 1), (D_VERIFIED, 2**63 + 3),
        (ROW_KIND, 7),
    ],
)  # fmt: skip
def test_one_crafted_cell_gives_the_reference_mask(
    kernels: HostKernels, row: int, value: int
) -> None:
    matrix = valid_matrix(8)
    matrix[row, 1::3] = value
    assert_same_mask(kernels, columns(matrix))


def test_a_batch_of_10001_receipts_flags_count_and_verify_budget(
    kernels: HostKernels,
) -> None:
    cols = columns(valid_matrix(MAX_RECEIPTS + 1))
    mask, _ = kernels.validate(cols.matrix, cols.offsets, cols.lengths, HEIGHT)
    assert mask[-1] == (1 << TOO_MANY) | (1 << VERIFY_BUDGET) and not mask[0]
    assert_same_mask(kernels, cols)


@pytest.mark.parametrize("end", [9_999_999, 10_000_000, 10_000_001, 2**62])
def test_receipt_ends_at_and_over_the_block_byte_budget(
    kernels: HostKernels, end: int
) -> None:
    ends = np.array([50, end, 10_000_000], dtype=np.int64)
    assert_same_mask(kernels, columns(valid_matrix(3), ends))


def test_wrapping_receipt_end_matches_numpy(kernels: HostKernels) -> None:
    matrix = valid_matrix(2)
    offsets = np.array([2**62, 2**63 - 1], dtype=np.int64)
    cols = Columns(matrix, offsets, np.array([2**62, 5], dtype=np.int64))
    assert_same_mask(kernels, cols)


def test_verify_units_crossing_the_budget_flag_from_that_receipt_on(
    kernels: HostKernels,
) -> None:
    matrix = valid_matrix(2000)
    matrix[ROW_KIND], matrix[D_QUANTITY] = KIND_STORAGE, 10**9  # 60 units each
    cols = columns(matrix)
    mask, _ = kernels.validate(cols.matrix, cols.offsets, cols.lengths, HEIGHT)
    assert np.flatnonzero(mask)[0] == MAX_VERIFY_UNITS // 60
    assert_same_mask(kernels, cols)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_matrices_give_the_reference_mask(
    kernels: HostKernels, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    picks = np.array(
        [0, 1, 3, 63, 64, 65, 256, 257, HEIGHT, 10**6, 2**64 - 1], dtype=np.uint64
    )
    matrix = rng.choice(picks, size=(N_COLUMNS, 3000))
    matrix[ROW_KIND] = rng.integers(0, 5, 3000)
    assert_same_mask(kernels, columns(matrix))


def test_encoded_receipts_breaking_each_rule_give_the_reference_mask(
    kernels: HostKernels,
) -> None:
    batch = encode_batch([
        storage(), storage(contract_id=""), storage(contract_id="c" * 257),
        storage(region="r" * 257),
        storage(bytes=0), storage(bytes=10**9), compute(), compute(verified=True),
        compute(provider="p" * 257), compute(payment=0), compute(block_height=3),
        energy(), energy(provider_signature=b""), energy(provider_signature=SIG[:63]),
        energy(provider_signature=SIG + b"x"), ad(), ad(impressions=123_456),
        ad(creative_id="c" * 300), ad(publisher=""), ad(spend=0), ad(impressions=0),
    ])  # fmt: skip
    assert_same_mask(kernels, batch.columns)
    every_rule = sum(1 << bit for bit in BIT_RULES) & ~BUDGET_BITS
    assert np.bitwise_or.reduce(check_columns(batch.columns, HEIGHT)) == every_rule
