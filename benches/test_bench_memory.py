"""Peak memory to prepare a block of 10,000 receipts, against its encoding.

Preparing is what a block needs before the search: the encoded buffer, its
offsets and columns (encode_batch), the validation mask and the Merkle tree.
tracemalloc sees numpy's allocations; the receipt objects themselves exist
before and are not counted.
"""

from __future__ import annotations

import tracemalloc
from typing import Any

from workloads import HEIGHT, note, receipts

from engine import merkle
from engine.encoding import encode_batch
from engine.validation import check_columns

COUNT = 10_000


def prepare(as_list: list[Any]) -> int:
    """Peak bytes allocated while preparing the batch; returns the encoded size."""
    batch = encode_batch(as_list)
    check_columns(batch.columns, HEIGHT)
    merkle.tree_levels(merkle.leaf_hashes(batch))
    return batch.nbytes


def test_peak_memory_to_prepare_a_full_block(benchmark: Any) -> None:
    as_list = list(receipts("mixed", COUNT))
    prepare(as_list)  # compiled code and its caches are loaded before tracing

    tracemalloc.start()
    encoded = prepare(as_list)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    benchmark.group = "memory"
    benchmark.extra_info.update(operation="prepare (memory)", receipts=COUNT)
    benchmark.pedantic(prepare, args=(as_list,), rounds=1)
    note(benchmark, peak_bytes=peak, encoded_bytes=encoded,
         peak_over_encoded=round(peak / encoded, 2))  # fmt: skip
