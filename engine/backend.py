"""Backends: where the nonce search and the column checks run.

A Backend is a small interface (search, check_columns, host_alloc, close)
that the pipeline is handed; CpuBackend runs numba kernels on every core and
CudaBackend (engine.cuda) runs CuPy raw kernels. select_backend() picks one,
once, from the --backend choice.
"""

from __future__ import annotations

import logging
import os
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from typing import Final

import numpy as np

from engine import merkle, validation
from engine.columns import Columns
from engine.encoding import EncodedBatch, HostAlloc
from engine.errors import BackendUnavailable
from engine.header import SPECS, Algo
from engine.search import KERNELS, SearchJob, SearchResult, check_range, confirm

log = logging.getLogger("engine")

# Below this many nonces per thread, splitting costs more than it saves.
MIN_NONCES_PER_THREAD: Final = 1 << 14
BACKEND_CHOICES: Final = ("auto", "cpu", "cuda")
NOTHING_WINS: Final = 1


class Backend(ABC):
    """Runs searches and column checks; used as a context manager."""

    name: str = ""

    @property
    @abstractmethod
    def device(self) -> str:
        """What it runs on, in words."""

    @abstractmethod
    def search(self, job: SearchJob, start: int, count: int) -> SearchResult:
        """Lowest winner of [start, start + count) and the nonces hashed."""

    @abstractmethod
    def check_columns(self, cols: Columns, height: int) -> np.ndarray:
        """The per-receipt error mask, bit for bit the CPU reference's."""

    def warm_up(self, algo: Algo) -> None:
        """Compile the search kernels now, on a throwaway header, so that a
        search's clock and hash rate leave the one-time compilation out."""
        prefix = bytes(SPECS[algo].nonce_offset)
        self.search(SearchJob(algo, prefix, NOTHING_WINS), 0, 1)

    def receipts_root(self, batch: EncodedBatch) -> bytes:
        """The batch's receipts root (see merkle.py); CPU unless overridden."""
        return merkle.receipts_root(batch)

    def host_alloc(self) -> HostAlloc | None:
        """A factory for the batch buffer (pinned memory on a GPU), or None."""
        return None

    @abstractmethod
    def close(self) -> None:
        """Release threads or device memory."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CpuBackend(Backend):
    """numba kernels, the nonce range split across one thread per core."""

    name = "cpu"

    def __init__(self, threads: int | None = None) -> None:
        self.threads = max(1, threads or os.cpu_count() or 1)
        self._pool = ThreadPoolExecutor(
            self.threads, thread_name_prefix="engine-search"
        )

    @property
    def device(self) -> str:
        return f"CPU, {self.threads} thread{'s' if self.threads > 1 else ''}"

    def search(self, job: SearchJob, start: int, count: int) -> SearchResult:
        check_range(job, start, count)
        parts = split_range(start, count, self.threads)
        flags = np.zeros(len(parts), dtype=np.uint8)
        kernel, mid, target = KERNELS[job.algo], job.midstate, job.target_bytes

        futures = [
            self._pool.submit(kernel.search, mid, target, lo, n, flags, worker)
            for worker, (lo, n) in enumerate(parts)
        ]
        results = [future.result() for future in futures]

        # Sub-ranges are in nonce order, so the first winner is the lowest.
        hashes = sum(tried for _, tried in results)
        nonce = next((n for n, _ in results if n is not None), None)
        digest = None if nonce is None else confirm(job, nonce)
        return SearchResult(nonce, hashes, digest)

    def check_columns(self, cols: Columns, height: int) -> np.ndarray:
        return validation.check_columns(cols, height)

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def split_range(
    start: int, count: int, workers: int, minimum: int = MIN_NONCES_PER_THREAD
) -> list[tuple[int, int]]:
    """Contiguous (start, count) sub-ranges in nonce order, one per worker.

    A worker gets at least `minimum` nonces, so small ranges use fewer.
    """
    workers = max(1, min(workers, count // minimum))
    size, rest = divmod(count, workers)
    parts, lo = [], start
    for worker in range(workers):
        n = size + (1 if worker < rest else 0)
        parts.append((lo, n))
        lo += n
    return parts


def select_backend(choice: str = "auto", devices: str | None = None) -> Backend:
    """The backend for --backend auto|cpu|cuda; logs the choice once."""
    if choice not in BACKEND_CHOICES:
        raise BackendUnavailable(
            f"unknown backend {choice!r}; choose one of {', '.join(BACKEND_CHOICES)}."
        )
    if choice == "cpu":
        return _chosen(CpuBackend())
    from engine import gpu

    reason = gpu.unavailable_reason()
    if reason is None:
        return _chosen(gpu.CudaBackend(devices))
    if choice == "cuda":
        raise BackendUnavailable(f"the CUDA backend cannot run here: {reason}.")
    log.warning("no usable GPU: %s; using the CPU backend", reason)
    return _chosen(CpuBackend())


def _chosen(backend: Backend) -> Backend:
    log.info("backend %s on %s", backend.name, backend.device)
    return backend
