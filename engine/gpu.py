"""The CUDA backend: CuPy raw kernels from cuda/, behind the Backend interface.

Kernel sources are compiled lazily with NVRTC, once per device, and their
register use and local memory are checked when loaded. The nonce range of a
search is split into contiguous parts, one per GPU; each GPU runs launches of
about LAUNCH_SECONDS so that a winner, a stop or a progress report is never
late, and a GPU stops as soon as a GPU holding lower nonces has won, so the
answer is the lowest winner of the whole range, as on one GPU or the CPU.

CuPy does not check kernel arguments: every scalar below is cast to the
exact dtype of its kernel parameter and every array is contiguous.
"""

from __future__ import annotations

import importlib.util
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from engine import merkle, validation
from engine.backend import Backend, split_range
from engine.columns import Columns
from engine.encoding import EncodedBatch, HostAlloc
from engine.errors import BackendUnavailable
from engine.header import Algo
from engine.search import SearchJob, SearchResult, check_range, confirm

log = logging.getLogger("engine")

NOT_FOUND: Final = 0xFFFF_FFFF_FFFF_FFFF
RESULT_CAPACITY: Final = 64
THREADS_PER_BLOCK: Final = 256
BLOCKS_PER_SM: Final = 8
LAUNCH_SECONDS: Final = 0.03
FIRST_LAUNCH: Final = 1 << 24
HASH_LEN: Final = 32
SOURCES: Final = {
    "blake3_search": "blake3_search.cu",
    "sha256d_search": "sha256d_search.cu",
    "blake3_leaves": "blake3_leaves.cu",
    "blake3_parents": "blake3_leaves.cu",
    "validate_columns": "validate_columns.cu",
    "apply_verify_budget": "validate_columns.cu",
}


def kernel_dir() -> Path:
    """cuda/ beside the package in a source tree, engine/_cuda when installed."""
    packaged = Path(__file__).resolve().parent / "_cuda"
    return (
        packaged if packaged.is_dir() else Path(__file__).resolve().parents[1] / "cuda"
    )


def unavailable_reason() -> str | None:
    """Why no GPU can be used here, or None when one can."""
    if importlib.util.find_spec("cupy") is None:
        return "CuPy is not installed (pip install 'receipt-engine[cuda12]')"
    try:
        import cupy

        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CuPy raises several driver/runtime error types
        return f"CUDA is not usable ({exc})"
    if count == 0:
        return "no NVIDIA GPU was found"
    return None


@dataclass(frozen=True)
class DeviceInfo:
    index: int
    name: str
    memory_bytes: int
    compute_capability: str
    multiprocessors: int


def list_devices() -> list[DeviceInfo]:
    """Every visible GPU; empty where there is none (see unavailable_reason)."""
    if unavailable_reason() is not None:
        return []
    import cupy

    found = []
    for index in range(cupy.cuda.runtime.getDeviceCount()):
        props = cupy.cuda.runtime.getDeviceProperties(index)
        name = props["name"]
        found.append(
            DeviceInfo(
                index,
                name.decode() if isinstance(name, bytes) else str(name),
                int(props["totalGlobalMem"]),
                f"{props['major']}.{props['minor']}",
                int(props["multiProcessorCount"]),
            )
        )
    return found


def parse_devices(spec: str | None, available: int) -> list[int]:
    """--devices: None (GPU 0), "all", or a comma list such as "0,1"."""
    if spec is None:
        return [0]
    if spec == "all":
        return list(range(available))
    try:
        chosen = [int(part) for part in spec.split(",")]
    except ValueError:
        raise BackendUnavailable(
            f"--devices takes 'all' or indices like 0,1, got {spec!r}."
        ) from None
    bad = [i for i in chosen if not 0 <= i < available]
    if bad or len(set(chosen)) != len(chosen):
        raise BackendUnavailable(
            f"--devices {spec!r} names GPUs that are not there "
            f"(this host has {available}: 0..{available - 1})."
        )
    return chosen


class _Gpu:
    """One device: its stream, compiled kernels and search buffers."""

    def __init__(self, cp: Any, index: int) -> None:
        self.cp, self.index = cp, index
        self.device = cp.cuda.Device(index)
        with self.device:
            self.stream = cp.cuda.Stream(non_blocking=True)
            self.lowest = cp.empty(1, dtype=cp.uint64)
            self.results = cp.empty(RESULT_CAPACITY, dtype=cp.uint64)
            self.n_results = cp.empty(1, dtype=cp.uint32)
            sms = self.device.attributes["MultiProcessorCount"]
        self.grid = sms * BLOCKS_PER_SM
        self._kernels: dict[str, Any] = {}
        self._job: tuple[SearchJob, tuple[Any, ...]] | None = None

    def job_args(self, job: SearchJob) -> tuple[Any, ...]:
        """The job's midstate and target on this device, uploaded once per job."""
        if self._job is None or self._job[0] != job:
            self._job = (job, _search_args(self.cp, job))
        return self._job[1]

    def launch(self, name: str, grid: int, args: tuple[Any, ...]) -> None:
        """Launch on this GPU's stream: CuPy launches on the current one."""
        kernel = self.kernel(name)
        with self.stream:
            kernel((grid,), (THREADS_PER_BLOCK,), args)

    def kernel(self, name: str) -> Any:
        """A compiled kernel, built once per device and checked for spills."""
        if name not in self._kernels:
            with self.device:
                module = _module(self.cp, SOURCES[name])
                kernel = module.get_function(name)
                _check_registers(name, kernel.attributes)
            self._kernels[name] = kernel
        return self._kernels[name]


_MODULES: dict[tuple[int, str], Any] = {}


def _module(cp: Any, source: str) -> Any:
    key = (cp.cuda.runtime.getDevice(), source)
    if key not in _MODULES:
        from engine.kernel_defines import engine_defines

        folder = kernel_dir()
        code = (folder / source).read_text()
        options = ("-std=c++17", f"-I{folder}", *engine_defines())
        _MODULES[key] = cp.RawModule(code=code, options=options)
    return _MODULES[key]


def _check_registers(name: str, attributes: dict[str, int]) -> None:
    regs, local = attributes.get("num_regs", 0), attributes.get("local_size_bytes", 0)
    log.debug("kernel %s: %d registers, %d B local memory", name, regs, local)
    if local and name.endswith("_search"):
        log.warning(
            "kernel %s uses %d B of local memory per thread (spills?)", name, local
        )


class CudaBackend(Backend):
    name = "cuda"

    def __init__(self, devices: str | None = None) -> None:
        reason = unavailable_reason()
        if reason is not None:
            raise BackendUnavailable(f"the CUDA backend cannot run here: {reason}.")
        import cupy

        self._cp = cupy
        ids = parse_devices(devices, cupy.cuda.runtime.getDeviceCount())
        self._gpus = [_Gpu(cupy, i) for i in ids]
        self._launch = {i: FIRST_LAUNCH for i in ids}

    @property
    def device(self) -> str:
        names = [
            f"GPU {d.index} {d.name}" for d in list_devices() if self._uses(d.index)
        ]
        return ", ".join(names)

    def _uses(self, index: int) -> bool:
        return any(gpu.index == index for gpu in self._gpus)

    def host_alloc(self) -> HostAlloc:
        """Pinned host memory, so copies to the device run asynchronously."""
        import cupyx

        return lambda nbytes: cupyx.empty_pinned((nbytes,), dtype=np.uint8)

    def close(self) -> None:
        for gpu in self._gpus:
            gpu.stream.synchronize()

    def search(self, job: SearchJob, start: int, count: int) -> SearchResult:
        check_range(job, start, count)
        parts = split_range(start, count, len(self._gpus), minimum=1)
        cursors = [[lo, lo + n] for lo, n in parts]
        winners: list[int | None] = [None] * len(parts)
        hashes = 0
        while True:
            active = [
                k for k, (lo, hi) in enumerate(cursors)
                if lo < hi and all(w is None for w in winners[: k + 1])
            ]  # fmt: skip
            if not active:
                break
            hashes += self._round(job, active, cursors, winners)
        nonce = next((w for w in winners if w is not None), None)
        digest = None if nonce is None else confirm(job, nonce)
        return SearchResult(nonce, hashes, digest)

    def _round(
        self,
        job: SearchJob,
        active: list[int],
        cursors: list[list[int]],
        winners: list[int | None],
    ) -> int:
        """One launch on every active GPU at once; returns nonces hashed."""
        began = time.perf_counter()
        sizes = {}
        for k in active:
            gpu = self._gpus[k]
            lo, hi = cursors[k]
            sizes[k] = min(self._launch[gpu.index], hi - lo)
            self._launch_search(gpu, job, lo, sizes[k])
        for k in active:
            gpu = self._gpus[k]
            gpu.stream.synchronize()
            lowest = int(gpu.lowest.get()[0])
            if lowest != NOT_FOUND:
                winners[k] = lowest
            cursors[k][0] += sizes[k]
        took = time.perf_counter() - began
        for k in active:
            index = self._gpus[k].index
            self._launch[index] = _next_launch(self._launch[index], sizes[k], took)
        return sum(sizes.values())

    def _launch_search(self, gpu: _Gpu, job: SearchJob, start: int, count: int) -> None:
        with gpu.device:
            _reset(self._cp, gpu)
            head = gpu.job_args(job)
            tail = (gpu.lowest, gpu.results, np.uint32(RESULT_CAPACITY), gpu.n_results)
            span = (np.uint64(start), np.uint64(count))

            gpu.launch(f"{job.algo}_search", gpu.grid, (*head, *span, *tail))

    def check_columns(self, cols: Columns, height: int) -> np.ndarray:
        gpu = self._gpus[0]
        if cols.count == 0:
            return np.zeros(0, dtype=validation.MASK_DTYPE)
        with gpu.device:
            mask = self._validate(gpu, self._upload_columns(gpu, cols), height)
            host = mask.get(stream=gpu.stream)
            gpu.stream.synchronize()
        return host

    def _upload_columns(self, gpu: _Gpu, cols: Columns) -> tuple[Any, Any, Any]:
        """Columns copied on the GPU's own stream (async from pinned memory)."""
        cp = self._cp
        return (
            _to_device(cp, cols.matrix, gpu.stream),
            _to_device(cp, cols.offsets, gpu.stream),
            _to_device(cp, cols.lengths, gpu.stream),
        )

    def _validate(
        self, gpu: _Gpu, device_cols: tuple[Any, Any, Any], height: int
    ) -> Any:
        """The mask on the device: per-receipt rules, then the verify budget."""
        cp = self._cp
        matrix, offsets, lengths = device_cols
        n = matrix.shape[1]
        mask = cp.empty(n, dtype=cp.uint16)
        units = cp.empty(n, dtype=cp.uint64)

        gpu.launch(
            "validate_columns", _blocks(n),
            (matrix, offsets, lengths, np.int64(n), np.uint64(height), mask, units),
        )  # fmt: skip
        with gpu.stream:
            cumulative = cp.cumsum(units)
        gpu.launch("apply_verify_budget", _blocks(n), (cumulative, np.int64(n), mask))
        return mask

    def time_validation(self, cols: Columns, height: int, repeats: int) -> float:
        """Mean seconds to validate device-resident columns (CUDA events)."""
        cp, gpu = self._cp, self._gpus[0]
        with gpu.device:
            resident = self._upload_columns(gpu, cols)
            self._validate(gpu, resident, height)  # compile and warm up
            began, ended = cp.cuda.Event(), cp.cuda.Event()
            began.record(gpu.stream)
            for _ in range(repeats):
                self._validate(gpu, resident, height)
            ended.record(gpu.stream)
            ended.synchronize()
        return cp.cuda.get_elapsed_time(began, ended) / 1e3 / repeats

    def time_search(self, job: SearchJob, count: int) -> float:
        """Kernel seconds for `count` nonces over every GPU (CUDA events)."""
        cp = self._cp
        parts = split_range(0, count, len(self._gpus), minimum=1)
        events = []
        for gpu, (lo, n) in zip(self._gpus, parts, strict=False):
            with gpu.device:
                began, ended = cp.cuda.Event(), cp.cuda.Event()
                began.record(gpu.stream)
                self._launch_search(gpu, job, lo, n)
                ended.record(gpu.stream)
            events.append((gpu, began, ended))
        for gpu, _, ended in events:
            with gpu.device:
                ended.synchronize()
        return max(cp.cuda.get_elapsed_time(b, e) for _, b, e in events) / 1e3

    def peak_bandwidth(self) -> float:
        """Bytes per second of GPU 0's memory, from its clock and bus width."""
        attributes = self._gpus[0].device.attributes
        clock_hz = attributes["MemoryClockRate"] * 1e3
        # Double data rate: two transfers per memory clock.
        return 2 * clock_hz * attributes["GlobalMemoryBusWidth"] / 8

    def receipts_root(self, batch: EncodedBatch) -> bytes:
        """Leaves and parents hashed on the device from the batch buffer."""
        if batch.count == 0:
            return merkle.EMPTY_ROOT
        cp, gpu = self._cp, self._gpus[0]
        n = batch.count

        with gpu.device:
            buf = _to_device(cp, batch.buffer, gpu.stream)
            offsets = _to_device(cp, batch.offsets, gpu.stream)
            lengths = _to_device(cp, batch.lengths, gpu.stream)
            level = cp.empty((n, HASH_LEN), dtype=cp.uint8)
            gpu.launch(
                "blake3_leaves", _blocks(n),
                (buf, offsets, lengths, np.int64(n), np.uint32(merkle.LEAF_TAG), level),
            )  # fmt: skip
            while level.shape[0] > 1:
                level = self._parents(gpu, level)
            root = level.get(stream=gpu.stream)
            gpu.stream.synchronize()
        return root[0].tobytes()

    def _parents(self, gpu: _Gpu, level: Any) -> Any:
        cp = self._cp
        pairs = level.shape[0] // 2
        parents = cp.empty((pairs, HASH_LEN), dtype=cp.uint8)
        gpu.launch(
            "blake3_parents", _blocks(pairs),
            (level, np.int64(pairs), np.uint32(merkle.NODE_TAG), parents),
        )  # fmt: skip
        # An odd last node is carried up unchanged.
        with gpu.stream:
            return cp.concatenate([parents, level[2 * pairs :]])


def _blocks(n: int) -> int:
    return max(1, (n + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK)


def _reset(cp: Any, gpu: _Gpu) -> None:
    with gpu.stream:
        gpu.lowest.fill(np.uint64(NOT_FOUND))
        gpu.n_results.fill(np.uint32(0))


def _to_device(cp: Any, host: np.ndarray, stream: Any) -> Any:
    device = cp.empty(host.shape, dtype=host.dtype)
    device.set(np.ascontiguousarray(host), stream=stream)
    return device


def _target_words(target: int) -> np.ndarray:
    """Eight uint32 words, the most significant first."""
    raw = target.to_bytes(HASH_LEN, "big")
    return np.frombuffer(raw, dtype=">u4").astype(np.uint32)


def _search_args(cp: Any, job: SearchJob) -> tuple[Any, ...]:
    """The kernel arguments before the range, each in its exact dtype."""
    mid, words = job.midstate, cp.asarray(_target_words(job.target))
    if job.algo is Algo.BLAKE3:
        if mid.nonce_shift != 0:
            raise BackendUnavailable(
                "the CUDA blake3 search needs a word-aligned nonce."
            )
        return (
            cp.asarray(np.ascontiguousarray(mid.cv, dtype=np.uint32)),
            cp.asarray(np.ascontiguousarray(mid.block, dtype=np.uint32)),
            np.uint32(mid.block_len), np.uint32(mid.flags), np.uint32(mid.nonce_word),
            words,
        )  # fmt: skip
    return (
        cp.asarray(np.ascontiguousarray(mid.state, dtype=np.uint32)),
        cp.asarray(np.ascontiguousarray(mid.block[:3], dtype=np.uint32)),
        words,
    )


def _next_launch(size: int, counted: int, took: float) -> int:
    """Aim launches at LAUNCH_SECONDS, changing at most 4x at a time."""
    if counted < size or took <= 0:
        return size
    wanted = int(counted * LAUNCH_SECONDS / took)
    return max(size // 4, min(size * 4, max(1 << 16, wanted)))
