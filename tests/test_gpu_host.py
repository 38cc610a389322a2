"""The CUDA backend's host code, run without a GPU: CuPy is replaced by
tests/fake_cupy.py, whose launches run the host-compiled kernel sources, and
every answer is compared with the CPU backend."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_cupy import make
from host_kernels import HostKernels, build

from engine import gpu
from engine.backend import CpuBackend
from engine.demo import demo_receipts
from engine.encoding import encode_batch
from engine.header import Algo
from engine.merkle import receipts_root
from engine.search import SearchJob
from engine.validation import check_columns

EASY = (1 << 248) - 1  # about one nonce in 256 wins
PREFIX = {Algo.BLAKE3: 116, Algo.SHA256D: 76}


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> HostKernels:
    try:
        return build(tmp_path_factory.mktemp("fake-gpu"))
    except FileNotFoundError as exc:
        pytest.skip(str(exc))


@pytest.fixture
def fake_gpus(library: HostKernels, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    cupy, cupyx = make(library._lib, devices=2)
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    monkeypatch.setitem(sys.modules, "cupyx", cupyx)
    # The host runs kernels one thread at a time: keep launches small.
    monkeypatch.setattr(gpu, "FIRST_LAUNCH", 1 << 12)
    monkeypatch.setattr(gpu, "BLOCKS_PER_SM", 2)
    monkeypatch.setattr(gpu, "_MODULES", {})
    yield


def job(algo: Algo, target: int = EASY) -> SearchJob:
    return SearchJob(algo, bytes(range(PREFIX[algo])), target)


@pytest.mark.parametrize("algo", list(Algo))
@pytest.mark.parametrize("devices", [None, "all", "1,0"])
def test_search_gives_the_cpu_answer(
    fake_gpus: None, algo: Algo, devices: str | None
) -> None:
    with gpu.CudaBackend(devices) as cuda, CpuBackend() as cpu:
        fast, oracle = (
            cuda.search(job(algo), 10, 20_000),
            cpu.search(job(algo), 10, 20_000),
        )
    assert (fast.nonce, fast.digest) == (oracle.nonce, oracle.digest)


@pytest.mark.parametrize("algo", list(Algo))
def test_a_range_without_winner_counts_every_nonce(fake_gpus: None, algo: Algo) -> None:
    with gpu.CudaBackend("all") as cuda:
        result = cuda.search(job(algo, target=1), job(algo).nonce_limit - 9_000, 9_000)
    assert (result.nonce, result.hashes) == (None, 9_000)


def test_validation_gives_the_cpu_mask(fake_gpus: None) -> None:
    batch = encode_batch(demo_receipts(300, 3))
    with gpu.CudaBackend() as cuda:
        assert (
            cuda.check_columns(batch.columns, 4) == check_columns(batch.columns, 4)
        ).all()
        assert (cuda.check_columns(batch.columns, 3) == 0).all()


def test_receipts_root_gives_the_cpu_root(fake_gpus: None) -> None:
    with gpu.CudaBackend() as cuda:
        for count in (0, 1, 2, 5, 64):
            batch = encode_batch(demo_receipts(count, 3), alloc=cuda.host_alloc())
            assert cuda.receipts_root(batch) == receipts_root(batch)


def test_devices_and_timers_answer(fake_gpus: None) -> None:
    assert [d.name for d in gpu.list_devices()] == ["Fake GPU", "Fake GPU"]
    with gpu.CudaBackend() as cuda:
        assert cuda.time_search(job(Algo.BLAKE3, target=1), 4_096) > 0
        assert cuda.peak_bandwidth() > 0
        assert "GPU 0 Fake GPU" in cuda.device


def test_the_kernel_sources_exist_for_every_launch(fake_gpus: None) -> None:
    folder = gpu.kernel_dir()
    assert all((folder / source).is_file() for source in gpu.SOURCES.values())
    assert isinstance(folder, Path)
