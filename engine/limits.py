"""Per-block budgets and per-field limits that every block obeys."""

from __future__ import annotations

from typing import Final

MAX_RECEIPTS: Final = 10_000
MAX_BLOCK_BYTES: Final = 10_000_000
MAX_VERIFY_UNITS: Final = 100_000
MAX_STRING_BYTES: Final = 256
SIGNATURE_BYTES: Final = 64

# Verify units: a base cost per receipt plus a kind-specific part.
VERIFY_BASE: Final = 10
STORAGE_BYTES_PER_UNIT: Final = 1_000
STORAGE_MAX_EXTRA: Final = 50
COMPUTE_EXTRA: Final = 5
COMPUTE_VERIFIED_EXTRA: Final = 5
ENERGY_EXTRA: Final = 3
AD_IMPRESSIONS_PER_UNIT: Final = 10_000
AD_MAX_EXTRA: Final = 10

# A receipts file may be larger than a block (JSON spells bytes as hex), but
# never so large that reading it is a memory hazard.
MAX_RECEIPTS_FILE_BYTES: Final = 64 * 1024 * 1024
