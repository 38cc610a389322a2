"""Every kernel source under cuda/ builds for the GPU without register spills.

nvcc compiles each .cu for sm_90 with ptxas reporting registers and spills per
kernel; a spill fails the test, and the assertion message lists the registers
so a regression is visible in the log. Where an NVRTC library is found (CuPy
installs one), each source also compiles through NVRTC exactly as CuPy's
RawModule will: no standard headers, the engine's -D flags, -I cuda/.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib.util
import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Final, NamedTuple

import pytest
from host_kernels import CUDA_DIR, engine_defines

ARCH: Final = "sm_90"
SOURCES: Final = sorted(CUDA_DIR.glob("*.cu"))
DEVICE_FILES: Final = sorted([*SOURCES, *CUDA_DIR.glob("*.cuh")])
KERNELS: Final = {
    "blake3_search", "sha256d_search", "blake3_leaves", "blake3_parents",
    "validate_columns", "apply_verify_budget",
}  # fmt: skip
MAX_COLUMNS: Final = 100
NVRTC_SUCCESS: Final = 0


class KernelStats(NamedTuple):
    registers: int
    spill_stores: int
    spill_loads: int
    stack_frame: int


def nvcc_or_skip() -> str:
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        pytest.skip("nvcc is not installed: the GPU build cannot be checked here")
    return nvcc


def parse_ptxas(log: str) -> dict[str, KernelStats]:
    """Per-kernel figures from the `-Xptxas -v` report."""
    stats = {}
    for name, body in re.findall(
        r"Compiling entry function '(\w+)'(.*?)(?=Compiling entry|\Z)", log, re.S
    ):
        frame, stores, loads = re.search(
            r"(\d+) bytes stack frame, (\d+) bytes spill stores, "
            r"(\d+) bytes spill loads",
            body,
        ).groups()
        registers = re.search(r"Used (\d+) registers", body).group(1)
        stats[name] = KernelStats(int(registers), int(stores), int(loads), int(frame))
    return stats


def ptxas_reports(nvcc: str, directory: Path) -> dict[str, tuple[int, str]]:
    """(return code, compiler output) of every source, compiled in parallel."""

    def compile_one(source: Path) -> tuple[int, str]:
        command = [
            nvcc, f"-arch={ARCH}", "-Xptxas", "-v", "--cubin", *engine_defines(),
            str(source), "-o", str(directory / f"{source.stem}.cubin"),
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        return done.returncode, done.stdout + done.stderr

    with ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
        return dict(
            zip([s.name for s in SOURCES], pool.map(compile_one, SOURCES), strict=True)
        )


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str]]:
    return ptxas_reports(nvcc_or_skip(), tmp_path_factory.mktemp("cubin"))


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: path.name)
def test_source_compiles_for_sm90_without_register_spills(
    reports: dict[str, tuple[int, str]], source: Path
) -> None:
    code, log = reports[source.name]
    assert code == 0, f"nvcc failed on {source.name}:\n{log}"
    stats = parse_ptxas(log)
    spilled = {k: s for k, s in stats.items() if s.spill_stores or s.spill_loads}
    registers = {k: s.registers for k, s in stats.items()}
    assert stats and not spilled, f"{source.name}: spills {spilled}, regs {registers}"


def test_every_contract_kernel_is_an_entry_point(
    reports: dict[str, tuple[int, str]],
) -> None:
    found = set()
    for _code, log in reports.values():
        found |= set(parse_ptxas(log))
    assert found == KERNELS


def test_only_common_header_includes_a_standard_header_behind_the_nvrtc_guard() -> None:
    includes = {
        path.name: re.findall(r"^#include <.*>$", path.read_text(), re.M)
        for path in DEVICE_FILES
    }
    assert {k: v for k, v in includes.items() if v} == {
        "common.cuh": ["#include <stdint.h>"]
    }
    guard = r"#ifdef __CUDACC_RTC__\n(typedef [^\n]+\n)+#else\n#include <stdint.h>"
    assert re.search(guard, (CUDA_DIR / "common.cuh").read_text())


@pytest.mark.parametrize("path", DEVICE_FILES, ids=lambda path: path.name)
def test_device_source_stays_within_100_columns_and_never_prints(path: Path) -> None:
    lines = path.read_text().splitlines()
    long = [i + 1 for i, line in enumerate(lines) if len(line) > MAX_COLUMNS]
    assert not long, f"{path.name}: lines {long} pass {MAX_COLUMNS} columns"
    assert "printf" not in path.read_text()


def nvrtc_library() -> ctypes.CDLL | None:
    """An NVRTC library from the CUDA toolkit or CuPy's nvidia-* wheels."""
    candidates = [*Path("/usr/local/cuda/lib64").glob("libnvrtc.so*")]
    spec = importlib.util.find_spec("nvidia")
    roots = list(spec.submodule_search_locations or []) if spec else []
    for root in roots:
        candidates += Path(root).glob("*/lib/libnvrtc.so*")
    if not candidates:
        found = ctypes.util.find_library("nvrtc")
        return ctypes.CDLL(found) if found else None
    # NVRTC opens its builtins library by name; outside the loader's search
    # path (a wheel's folder) it is found only when already loaded.
    for builtins in candidates[0].parent.glob("libnvrtc-builtins.so*"):
        ctypes.CDLL(str(builtins), mode=ctypes.RTLD_GLOBAL)
    return ctypes.CDLL(str(candidates[0]))


def nvrtc_compile(nvrtc: ctypes.CDLL, source: Path, options: list[str]) -> str:
    """Compile one source with NVRTC; return its log, raise on failure."""
    program = ctypes.c_void_p()
    text, name = source.read_bytes(), source.name.encode()
    nvrtc.nvrtcCreateProgram(ctypes.byref(program), text, name, 0, None, None)
    flags = (ctypes.c_char_p * len(options))(*(o.encode() for o in options))
    status = nvrtc.nvrtcCompileProgram(program, len(options), flags)

    size = ctypes.c_size_t()
    nvrtc.nvrtcGetProgramLogSize(program, ctypes.byref(size))
    log = ctypes.create_string_buffer(size.value)
    nvrtc.nvrtcGetProgramLog(program, log)
    nvrtc.nvrtcDestroyProgram(ctypes.byref(program))
    if status != NVRTC_SUCCESS:
        raise RuntimeError(f"NVRTC status {status} on {source.name}:\n{log.value}")
    return log.value.decode()


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: path.name)
def test_source_compiles_under_nvrtc_as_cupy_will(source: Path) -> None:
    nvrtc = nvrtc_library()
    if nvrtc is None:
        pytest.skip("no NVRTC library here (CuPy's nvidia-cuda-nvrtc brings one)")
    options = ["-arch=compute_90", f"-I{CUDA_DIR}", *engine_defines()]
    assert "error" not in nvrtc_compile(nvrtc, source, options)
