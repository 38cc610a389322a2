"""Shared inputs and the timing helper of the benchmarks.

Every benchmark records its operation and receipt count in extra_info, so
plot.py can draw throughput against batch size from the saved JSON alone.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from functools import cache
from typing import Any, Final

from engine.demo import DEFAULT_SEED, demo_receipt, demo_receipts
from engine.encoding import EncodedBatch, encode_batch
from engine.receipts import Receipt

HEIGHT: Final = 1
SIZES: Final = (1, 10, 100, 1_000, 10_000)
MIXES: Final = ("mixed", "storage")
ROUND_SECONDS: Final = 1e-4  # a round repeats a fast call until it takes this long
BENCH_SECONDS: Final = 0.3  # about this long per benchmark, whatever its size
MAX_ROUNDS: Final = 500

# The original Rust system's figures for 10,000 mixed receipts.
RUST_ENCODE_S: Final = 1.8e-3
RUST_VALIDATE_S: Final = 0.5e-3
RUST_ENCODED_BYTES: Final = 2_190_000


@cache
def receipts(mix: str, count: int) -> tuple[Receipt, ...]:
    """Demo receipts: the four kinds in turn ("mixed") or storage only."""
    if mix == "mixed":
        return tuple(demo_receipts(count, HEIGHT))
    rng = random.Random(DEFAULT_SEED)
    return tuple(demo_receipt(rng, 0, i, HEIGHT) for i in range(count))


@cache
def batch(mix: str, count: int) -> EncodedBatch:
    return encode_batch(receipts(mix, count))


def measure(
    benchmark: Any, operation: str, count: int, fn: Callable[..., Any], *args: Any
) -> Any:
    """Time fn(*args) in rounds sized to its speed; record what was measured."""
    result = fn(*args)  # warm-up: compiled code and caches are ready
    began = time.perf_counter()
    fn(*args)
    once = max(time.perf_counter() - began, 1e-7)

    iterations = max(1, int(ROUND_SECONDS / once))
    rounds = max(2, min(MAX_ROUNDS, int(BENCH_SECONDS / (once * iterations))))
    benchmark.group = operation
    benchmark.extra_info.update(operation=operation, receipts=count)
    benchmark.pedantic(fn, args=args, rounds=rounds, iterations=iterations)
    return result


def best_seconds(benchmark: Any) -> float:
    return benchmark.stats.stats.min


def per_second(benchmark: Any, count: int) -> float:
    return count / best_seconds(benchmark)


def note(benchmark: Any, **figures: object) -> None:
    """Keep figures in the JSON and print them (shown with pytest -s)."""
    benchmark.extra_info.update(figures)
    shown = ", ".join(f"{key} {value}" for key, value in figures.items())
    print(f"\n{benchmark.extra_info['operation']}: {shown}")
