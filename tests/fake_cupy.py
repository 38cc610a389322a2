"""A stand-in for the part of CuPy that engine.gpu uses, for machines
without a GPU: arrays are numpy arrays, and a kernel launch runs the same
kernel source compiled for the host (tests/host_kernels.py), so the CUDA
backend's host code — launch arguments, dtypes, result buffers, the split
over devices — runs for real against the CPU oracle.
"""

from __future__ import annotations

import time
import types
from importlib.machinery import ModuleSpec
from typing import Any

import numpy as np

SMS = 2
MEMORY_CLOCK_KHZ = 2_619_000
BUS_WIDTH_BITS = 6_144


class FakeArray:
    def __init__(self, array: np.ndarray) -> None:
        self.a = array

    @property
    def shape(self) -> tuple[int, ...]:
        return self.a.shape

    @property
    def dtype(self) -> np.dtype:
        return self.a.dtype

    def fill(self, value: Any) -> None:
        self.a.fill(value)

    def set(self, host: np.ndarray, stream: Any = None) -> None:
        self.a[...] = host

    def get(self, stream: Any = None) -> np.ndarray:
        return self.a.copy()

    def __getitem__(self, key: Any) -> FakeArray:
        return FakeArray(self.a[key])


class _Context:
    def __enter__(self) -> _Context:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class Device(_Context):
    def __init__(self, index: int) -> None:
        self.attributes = {
            "MultiProcessorCount": SMS,
            "MemoryClockRate": MEMORY_CLOCK_KHZ,
            "GlobalMemoryBusWidth": BUS_WIDTH_BITS,
        }


class Stream(_Context):
    def __init__(self, non_blocking: bool = False) -> None:
        pass

    def synchronize(self) -> None:
        pass


class Event:
    def record(self, stream: Any = None) -> None:
        self.at = time.perf_counter()

    def synchronize(self) -> None:
        pass


class Kernel:
    def __init__(self, name: str, library: Any) -> None:
        self.name, self._launcher = name, getattr(library, f"host_{name}")
        self.attributes = {"num_regs": 0, "local_size_bytes": 0}

    def __call__(
        self, grid: tuple[int], block: tuple[int], args: tuple[Any, ...]
    ) -> None:
        plain = [a.a if isinstance(a, FakeArray) else int(a) for a in args]
        self._launcher(grid[0], block[0], *plain)


def make(library: Any, devices: int = 1) -> tuple[types.ModuleType, types.ModuleType]:
    """(cupy, cupyx) modules backed by numpy and the host-compiled kernels."""
    cupy = types.ModuleType("cupy")
    cupy.__spec__ = ModuleSpec("cupy", None)
    cupy.uint8, cupy.uint16, cupy.uint32, cupy.uint64 = (
        np.uint8, np.uint16, np.uint32, np.uint64,
    )  # fmt: skip
    cupy.empty = lambda shape, dtype: FakeArray(np.empty(shape, dtype=dtype))
    cupy.asarray = lambda x: FakeArray(np.ascontiguousarray(x))
    cupy.cumsum = lambda x: FakeArray(np.cumsum(x.a, dtype=x.dtype))
    cupy.concatenate = lambda parts: FakeArray(np.concatenate([p.a for p in parts]))
    cupy.RawModule = lambda code, options: types.SimpleNamespace(
        get_function=lambda name: Kernel(name, library)
    )
    runtime = types.SimpleNamespace(
        getDeviceCount=lambda: devices,
        getDevice=lambda: 0,
        getDeviceProperties=lambda i: {
            "name": b"Fake GPU", "totalGlobalMem": 1 << 34, "major": 9, "minor": 0,
            "multiProcessorCount": SMS,
        },
    )  # fmt: skip
    cupy.cuda = types.SimpleNamespace(
        Device=Device, Stream=Stream, Event=Event, runtime=runtime,
        get_elapsed_time=lambda a, b: max(b.at - a.at, 1e-6) * 1e3,
    )  # fmt: skip
    cupyx = types.ModuleType("cupyx")
    cupyx.__spec__ = ModuleSpec("cupyx", None)
    cupyx.empty_pinned = lambda shape, dtype: np.empty(shape, dtype=dtype)
    return cupy, cupyx
