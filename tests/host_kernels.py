"""The CUDA kernels of cuda/ compiled for the host by g++, called through ctypes.

The kernel sources build unchanged against cuda/host_shim.h, and
tests/cuda_host/harness.cpp runs each launch one thread at a time, so the very
code the GPU runs can be checked against the CPU oracle on a machine without
one. The wrappers mirror the CPU kernels' entry points and take the launch
shape as keywords, as the CuPy backend will.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path
from typing import Final, NamedTuple

import numpy as np

from engine import validation
from engine.cpu import blake3 as cpu_blake3
from engine.cpu import sha256 as cpu_sha256
from engine.header import Algo
from engine.kernel_defines import engine_defines
from engine.search import SearchJob

ROOT: Final = Path(__file__).resolve().parents[1]
CUDA_DIR: Final = ROOT / "cuda"
HARNESS: Final = ROOT / "tests" / "cuda_host" / "harness.cpp"
SHIM: Final = CUDA_DIR / "host_shim.h"
CXX_FLAGS: Final = ("-std=c++17", "-O2", "-shared", "-fPIC", "-Wall", "-Wextra")
# The shim leaves `#pragma unroll` to nvcc; g++ would warn about each one.
CXX_QUIET: Final = "-Wno-unknown-pragmas"

NOT_FOUND: Final = (1 << 64) - 1
NO_TAG: Final = 0x100  # BLAKE3_NO_TAG: hash the items without a tag byte
HASH_LEN: Final = 32
THREADS: Final = 32  # threads per block in the wrappers' default launches


def build(directory: Path) -> HostKernels:
    """Compile the harness into ``directory`` and load it."""
    compiler = shutil.which("g++")
    if compiler is None:
        raise FileNotFoundError("g++ is not installed; the host kernels need it.")
    library = directory / "libkernels.so"
    command = [
        compiler, *CXX_FLAGS, CXX_QUIET, "-include", str(SHIM), "-I", str(CUDA_DIR),
        *engine_defines(), str(HARNESS), "-o", str(library),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0 or done.stderr:
        raise RuntimeError(f"the host kernel build failed or warned:\n{done.stderr}")
    return HostKernels(ctypes.CDLL(str(library)))


def _array(dtype: type) -> type:
    return np.ctypeslib.ndpointer(dtype=dtype, flags="C_CONTIGUOUS")


U8, U16, U32, U64, I64 = (
    _array(np.uint8), _array(np.uint16), _array(np.uint32), _array(np.uint64),
    _array(np.int64),
)  # fmt: skip
C_U32, C_U64, C_I64 = ctypes.c_uint32, ctypes.c_uint64, ctypes.c_int64
LAUNCH: Final = [C_U32, C_U32]
RANGE: Final = [C_U64, C_U64]
RESULTS: Final = [U64, U64, C_U32, U32]
SIGNATURES: Final = {
    "host_blake3_search": [
        *LAUNCH, U32, U32, C_U32, C_U32, C_U32, U32, *RANGE, *RESULTS,
    ],
    "host_sha256d_search": [*LAUNCH, U32, U32, U32, *RANGE, *RESULTS],
    "host_blake3_leaves": [*LAUNCH, U8, I64, I64, C_I64, C_U32, U8],
    "host_blake3_parents": [*LAUNCH, U8, C_I64, C_U32, U8],
    "host_validate_columns": [*LAUNCH, U64, I64, I64, C_I64, C_U64, U16, U64],
    "host_apply_verify_budget": [*LAUNCH, U64, C_I64, U16],
}  # fmt: skip


class SearchOutcome(NamedTuple):
    lowest: int | None
    winners: list[int]
    truncated: bool


def _words(data: bytes) -> np.ndarray:
    """A big-endian 256-bit target as 8 words, the most significant first."""
    return np.frombuffer(data, dtype=">u4").astype(np.uint32)


def _blocks(n: int) -> int:
    return max(1, -(-n // THREADS))


class HostKernels:
    """Launchers of the host-compiled kernels, one method per kernel file."""

    def __init__(self, library: ctypes.CDLL) -> None:
        self._lib = library
        for name, argtypes in SIGNATURES.items():
            function = getattr(library, name)
            function.argtypes = argtypes
            function.restype = None

    def search(
        self,
        job: SearchJob,
        start: int,
        count: int,
        *,
        grid: int = 4,
        block: int = THREADS,
        capacity: int = 64,
    ) -> SearchOutcome:
        """Run the job's search kernel over [start, start + count)."""
        if job.algo is Algo.BLAKE3:
            return self.search_blake3(
                job.midstate, job.target_bytes, start, count,
                grid=grid, block=block, capacity=capacity,
            )  # fmt: skip
        return self.search_sha256d(
            job.midstate, job.target_bytes, start, count,
            grid=grid, block=block, capacity=capacity,
        )  # fmt: skip

    def search_blake3(
        self,
        mid: cpu_blake3.Midstate,
        target: bytes,
        start: int,
        count: int,
        *,
        grid: int = 4,
        block: int = THREADS,
        capacity: int = 64,
    ) -> SearchOutcome:
        if mid.nonce_shift != 0:
            raise ValueError(f"the kernel needs a word-aligned nonce, not {mid}.")
        lowest, results, n_results = _result_buffers(capacity)

        self._lib.host_blake3_search(
            grid, block, mid.cv, mid.block, mid.block_len, mid.flags,
            mid.nonce_word, _words(target), start, count, lowest, results,
            capacity, n_results,
        )  # fmt: skip

        return _outcome(lowest, results, capacity, n_results)

    def search_sha256d(
        self,
        mid: cpu_sha256.Midstate,
        target: bytes,
        start: int,
        count: int,
        *,
        grid: int = 4,
        block: int = THREADS,
        capacity: int = 64,
    ) -> SearchOutcome:
        tail = np.ascontiguousarray(mid.block[: cpu_sha256.NONCE_WORD])
        lowest, results, n_results = _result_buffers(capacity)

        self._lib.host_sha256d_search(
            grid, block, mid.state, tail, _words(target), start, count, lowest,
            results, capacity, n_results,
        )  # fmt: skip

        return _outcome(lowest, results, capacity, n_results)

    def leaves(
        self, buf: np.ndarray, offsets: np.ndarray, lengths: np.ndarray, tag: int
    ) -> np.ndarray:
        """BLAKE3(tag || item) per item, (n, 32) uint8; tag NO_TAG hashes none."""
        n = offsets.shape[0]
        out = np.zeros((n, HASH_LEN), dtype=np.uint8)

        self._lib.host_blake3_leaves(
            _blocks(n), THREADS, np.ascontiguousarray(buf, dtype=np.uint8),
            np.ascontiguousarray(offsets, dtype=np.int64),
            np.ascontiguousarray(lengths, dtype=np.int64), n, tag, out,
        )  # fmt: skip

        return out

    def parents(self, level: np.ndarray, tag: int) -> np.ndarray:
        """BLAKE3(tag || level[2k] || level[2k + 1]) per k, (pairs, 32) uint8."""
        pairs = level.shape[0] // 2
        out = np.zeros((pairs, HASH_LEN), dtype=np.uint8)

        flat = np.ascontiguousarray(level[: 2 * pairs], dtype=np.uint8).reshape(-1)
        self._lib.host_blake3_parents(_blocks(pairs), THREADS, flat, pairs, tag, out)

        return out

    def validate(
        self, matrix: np.ndarray, offsets: np.ndarray, lengths: np.ndarray, height: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """(mask, verify units) of every receipt, budgets applied as the host will."""
        n = matrix.shape[1]
        mask = np.zeros(n, dtype=validation.MASK_DTYPE)
        units = np.zeros(n, dtype=np.uint64)

        self._lib.host_validate_columns(
            _blocks(n), THREADS, np.ascontiguousarray(matrix, dtype=np.uint64),
            np.ascontiguousarray(offsets, dtype=np.int64),
            np.ascontiguousarray(lengths, dtype=np.int64), n, height, mask, units,
        )  # fmt: skip
        cumulative = np.cumsum(units, dtype=np.uint64)
        self._lib.host_apply_verify_budget(_blocks(n), THREADS, cumulative, n, mask)

        return mask, units


def _result_buffers(capacity: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lowest = np.full(1, NOT_FOUND, dtype=np.uint64)
    results = np.zeros(max(capacity, 1), dtype=np.uint64)
    return lowest, results, np.zeros(1, dtype=np.uint32)


def _outcome(
    lowest: np.ndarray, results: np.ndarray, capacity: int, n_results: np.ndarray
) -> SearchOutcome:
    found = int(n_results[0])
    winners = sorted(int(x) for x in results[: min(found, capacity)])
    best = int(lowest[0])
    return SearchOutcome(None if best == NOT_FOUND else best, winners, found > capacity)
