"""The engine's constants as -D flags for the CUDA kernels.

The kernels in cuda/ carry #ifndef defaults for every limit, mask bit, kind
code and column row; building them with these flags (NVRTC in engine.gpu,
g++ in the host tests) makes the Python values the ones that count.
"""

from __future__ import annotations

from typing import Final

from engine import columns, limits, scan, validation

# engine.limits names the kernels use under the same names.
LIMIT_NAMES: Final = (
    "MAX_RECEIPTS", "MAX_BLOCK_BYTES", "MAX_VERIFY_UNITS", "MAX_STRING_BYTES",
    "SIGNATURE_BYTES", "VERIFY_BASE", "STORAGE_BYTES_PER_UNIT",
    "STORAGE_MAX_EXTRA", "COMPUTE_EXTRA", "COMPUTE_VERIFIED_EXTRA",
    "ENERGY_EXTRA", "AD_IMPRESSIONS_PER_UNIT", "AD_MAX_EXTRA",
)  # fmt: skip
# engine.validation mask bits, defined as BIT_<name>.
BIT_NAMES: Final = (
    "TOO_MANY", "TOO_LARGE", "VERIFY_BUDGET", "HEIGHT_MISMATCH", "EMPTY_ID0",
    "EMPTY_ID1", "LONG_ID0", "LONG_ID1", "LONG_EXTRA", "ZERO_QUANTITY",
    "ZERO_VALUE", "EMPTY_SIGNATURE", "MALFORMED_SIGNATURE",
)  # fmt: skip
KIND_NAMES: Final = ("KIND_STORAGE", "KIND_COMPUTE", "KIND_ENERGY", "KIND_AD")
# engine.scan column destinations used by the rules, defined as ROW_<name>.
ROW_NAMES: Final = (
    "HEIGHT", "QUANTITY", "VALUE", "ID0", "ID1", "EXTRA", "SIGNATURE", "VERIFIED",
)  # fmt: skip


def engine_defines() -> list[str]:
    """``-DNAME=value`` flags carrying the engine's constants into the kernels."""
    values = {name: getattr(limits, name) for name in LIMIT_NAMES}
    values |= {f"BIT_{name}": getattr(validation, name) for name in BIT_NAMES}
    values |= {name: getattr(validation, name) for name in KIND_NAMES}
    values["ROW_KIND"] = columns.ROW_KIND
    values |= {f"ROW_{name}": getattr(scan, f"D_{name}") for name in ROW_NAMES}
    return [f"-D{name}={int(value)}" for name, value in values.items()]
