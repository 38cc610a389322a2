"""The CUDA backend: CuPy raw kernels from cuda/, behind the Backend interface."""

from __future__ import annotations

import importlib.util


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
    # TODO(engine): the CUDA backend (issue 3) is not built yet.
    return "the CUDA backend is not built yet"
