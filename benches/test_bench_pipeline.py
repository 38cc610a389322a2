"""Encode, index, decode and validate, from 1 to 10,000 receipts.

"encode" is the canonical buffer alone (one msgspec call); "encode + index"
is encode_batch: the buffer plus the scan that fills offsets and columns,
everything later steps read. Validation from columns goes on past a block's
10,000 receipts, to 10^7, on columns tiled from a demo batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from workloads import (
    HEIGHT,
    MIXES,
    RUST_ENCODE_S,
    RUST_ENCODED_BYTES,
    RUST_VALIDATE_S,
    SIZES,
    batch,
    best_seconds,
    measure,
    note,
    receipts,
)

from engine.bench import tiled_columns
from engine.columns import Columns
from engine.encoding import ENCODER, decode_batch, encode_batch, index_batch
from engine.validation import check_columns

TILED_SIZES = (100_000, 1_000_000)
HUGE = 10_000_000


@pytest.mark.parametrize("count", SIZES)
@pytest.mark.parametrize("mix", MIXES)
def test_encode(benchmark: Any, mix: str, count: int) -> None:
    as_list = list(receipts(mix, count))
    data = measure(benchmark, f"encode ({mix})", count, ENCODER.encode, as_list)
    note(benchmark, bytes=len(data), bytes_per_receipt=round(len(data) / count, 1))
    if (mix, count) == ("mixed", 10_000):
        note(
            benchmark, rust_time_ratio=round(RUST_ENCODE_S / best_seconds(benchmark), 2)
        )
        note(benchmark, rust_size_ratio=round(RUST_ENCODED_BYTES / len(data), 2))


@pytest.mark.parametrize("count", SIZES)
@pytest.mark.parametrize("mix", MIXES)
def test_encode_and_index(benchmark: Any, mix: str, count: int) -> None:
    as_list = list(receipts(mix, count))
    measure(benchmark, f"encode + index ({mix})", count, encode_batch, as_list)


@pytest.mark.parametrize("count", SIZES)
@pytest.mark.parametrize("mix", MIXES)
def test_column_building(benchmark: Any, mix: str, count: int) -> None:
    buffer = batch(mix, count).buffer
    measure(benchmark, f"index ({mix})", count, index_batch, buffer)


@pytest.mark.parametrize("count", SIZES)
@pytest.mark.parametrize("mix", MIXES)
def test_decode(benchmark: Any, mix: str, count: int) -> None:
    data = batch(mix, count).body()
    decoded, _ = measure(benchmark, f"decode ({mix})", count, decode_batch, data)
    assert tuple(decoded) == receipts(mix, count)


@pytest.mark.parametrize("count", SIZES)
@pytest.mark.parametrize("mix", MIXES)
def test_round_trip(benchmark: Any, mix: str, count: int) -> None:
    as_list = list(receipts(mix, count))
    decoded, _ = measure(benchmark, f"round trip ({mix})", count, round_trip, as_list)
    assert decoded == as_list


def round_trip(as_list: list[Any]) -> tuple[list[Any], Any]:
    return decode_batch(ENCODER.encode(as_list))


@pytest.mark.parametrize("count", [10, 100, 1_000, 10_000])
def test_validate_from_columns(benchmark: Any, count: int) -> None:
    cols = batch("mixed", count).columns
    measure(benchmark, "validate", count, check_columns, cols, HEIGHT)
    if count == 10_000:
        ratio = RUST_VALIDATE_S / best_seconds(benchmark)
        note(benchmark, rust_time_ratio=round(ratio, 2))


@pytest.mark.parametrize("count", TILED_SIZES)
def test_validate_tiled_columns(benchmark: Any, count: int) -> None:
    cols = tiled_columns(count)
    measure(benchmark, "validate", count, check_columns, cols, HEIGHT)


@pytest.fixture
def huge_columns() -> Iterator[Columns]:
    cols = tiled_columns(HUGE)
    yield cols
    del cols


def test_validate_ten_million(benchmark: Any, huge_columns: Columns) -> None:
    """About 1 GB of columns: two rounds only, and freed right after."""
    benchmark.group = "validate"
    benchmark.extra_info.update(operation="validate", receipts=HUGE)
    mask = benchmark.pedantic(
        check_columns, args=(huge_columns, HEIGHT), rounds=2, warmup_rounds=0
    )
    assert np.count_nonzero(mask) > 0  # past 10,000 the budgets flag the rest
