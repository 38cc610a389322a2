"""`engine bench`: hash rates and validation throughput per backend.

Search rates are measured against the plain Python loop in the same run.
GPU times come from CUDA events around the kernels, after a warm-up launch
(compilation excluded); CPU times from the wall clock around the call.
Validation runs on columns tiled from a demo batch, from 10^3 receipts up.
"""

from __future__ import annotations

import datetime as dt
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Final

import numpy as np

from engine import scan, validation
from engine.backend import Backend, CpuBackend
from engine.columns import Columns
from engine.demo import demo_receipts
from engine.encoding import encode_batch
from engine.header import Algo
from engine.search import SearchJob, reference_search

PREFIX_LEN: Final = {Algo.BLAKE3: 116, Algo.SHA256D: 76}
PLAIN_NONCES: Final = 100_000
NOTHING_WINS: Final = 1
WARM_UP_NONCES: Final = 1 << 16
SEARCH_SECONDS: Final = 1.0
GPU_SEARCH_NONCES: Final = 1 << 34
TILE_RECEIPTS: Final = 1_000
VALIDATION_REPEATS: Final = 5
HEIGHT: Final = 1


@dataclass(frozen=True)
class SearchFigure:
    algo: str
    backend: str
    nonces: int
    seconds: float
    hashes_per_s: float
    plain_hashes_per_s: float
    ratio: float


@dataclass(frozen=True)
class ValidationFigure:
    backend: str
    receipts: int
    seconds: float
    receipts_per_s: float
    bytes_per_s: float
    bandwidth_fraction: float | None


@dataclass
class BenchReport:
    date: str
    machine: str
    devices: dict[str, str]
    search: list[SearchFigure] = field(default_factory=list)
    validation: list[ValidationFigure] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_bench(
    backends: list[Backend],
    sizes: list[int],
    note: Callable[[str], None] = lambda _: None,
) -> BenchReport:
    report = BenchReport(
        date=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        machine=f"{platform.machine()} {platform.processor() or platform.system()}",
        devices={b.name: b.device for b in backends},
    )
    for algo in Algo:
        plain = plain_rate(algo)
        for backend in backends:
            note(f"search {algo} on {backend.name}")
            report.search.append(search_figure(backend, algo, plain))
    for backend in backends:
        for n in sizes:
            note(f"validation of {n:,} receipts on {backend.name}")
            report.validation.append(validation_figure(backend, n))
    return report


def bench_job(algo: Algo) -> SearchJob:
    return SearchJob(algo, bytes(range(PREFIX_LEN[algo])), NOTHING_WINS)


def plain_rate(algo: Algo) -> float:
    began = time.perf_counter()
    reference_search(bench_job(algo), 0, PLAIN_NONCES)
    return PLAIN_NONCES / (time.perf_counter() - began)


def search_figure(backend: Backend, algo: Algo, plain: float) -> SearchFigure:
    job = bench_job(algo)
    backend.search(job, 0, WARM_UP_NONCES)
    timer = getattr(backend, "time_search", None)
    if timer is not None:
        nonces = min(GPU_SEARCH_NONCES, job.nonce_limit)
        seconds = timer(job, nonces)
    else:
        nonces, seconds = _cpu_search_time(backend, job)
    rate = nonces / seconds
    return SearchFigure(
        str(algo), backend.name, nonces, seconds, rate, plain, rate / plain
    )


def _cpu_search_time(backend: Backend, job: SearchJob) -> tuple[int, float]:
    """Grow the count until one call takes about SEARCH_SECONDS."""
    nonces = WARM_UP_NONCES
    while True:
        began = time.perf_counter()
        backend.search(job, 0, nonces)
        seconds = time.perf_counter() - began
        if seconds >= SEARCH_SECONDS / 4:
            return nonces, seconds
        nonces *= 4


def validation_figure(backend: Backend, n: int) -> ValidationFigure:
    cols = tiled_columns(n)
    timer = getattr(backend, "time_validation", None)
    if timer is not None:
        seconds = timer(cols, HEIGHT, VALIDATION_REPEATS)
    else:
        seconds = _cpu_validation_time(cols)
    moved = n * column_bytes_per_receipt()
    peak = backend.peak_bandwidth() if hasattr(backend, "peak_bandwidth") else None
    fraction = moved / seconds / peak if peak else None
    return ValidationFigure(
        backend.name, n, seconds, n / seconds, moved / seconds, fraction
    )


def _cpu_validation_time(cols: Columns) -> float:
    best = float("inf")
    for _ in range(VALIDATION_REPEATS):
        began = time.perf_counter()
        validation.check_columns(cols, HEIGHT)
        best = min(best, time.perf_counter() - began)
    return best


def column_bytes_per_receipt() -> int:
    """Bytes a validation pass reads and writes per receipt."""
    matrix = scan.N_COLUMNS * np.dtype(np.uint64).itemsize
    framing = 2 * np.dtype(np.int64).itemsize
    written = np.dtype(validation.MASK_DTYPE).itemsize + np.dtype(np.uint64).itemsize
    return matrix + framing + written


def tiled_columns(n: int) -> Columns:
    """n receipts' columns, repeating a demo batch (offsets keep growing)."""
    base = encode_batch(demo_receipts(TILE_RECEIPTS, HEIGHT)).columns
    reps = -(-n // TILE_RECEIPTS)
    span = int(base.ends[-1])
    shifts = np.repeat(np.arange(reps, dtype=np.int64) * span, TILE_RECEIPTS)[:n]
    matrix = np.ascontiguousarray(np.tile(base.matrix, (1, reps))[:, :n])
    offsets = np.tile(base.offsets, reps)[:n] + shifts
    lengths = np.tile(base.lengths, reps)[:n]
    return Columns(matrix, offsets, lengths)


def default_backends(choice: str) -> list[Backend]:
    """cpu, cuda, or every backend this machine can run ("all")."""
    from engine import gpu

    if choice == "cpu":
        return [CpuBackend()]
    if choice == "cuda":
        return [gpu.CudaBackend()]
    found: list[Backend] = [CpuBackend()]
    if gpu.unavailable_reason() is None:
        found.append(gpu.CudaBackend())
    return found
