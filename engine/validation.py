"""Column-wise validation: a per-receipt error bit mask and its error list.

Every rule is a vectorised operation over the columns; no Python code runs
per receipt. Each mask bit pairs a rule with the slot of the field it blames,
so the error list (index, field, rule) is read back from the mask alone, and
a device backend that writes the same mask yields the same report.

Budgets are prefix sums: the receipt whose running count, byte end or verify
units first pass a budget is flagged, and so is every receipt after it; the
receipts before it fit, which is what lets a node keep the rest pending.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import msgspec
import numpy as np

from engine import limits
from engine.columns import Columns
from engine.receipts import KINDS
from engine.scan import D_EXTRA, D_ID0, D_ID1, D_QUANTITY, D_VALUE

# Mask bits, in the order errors are listed for one receipt.
(
    TOO_MANY, TOO_LARGE, VERIFY_BUDGET, HEIGHT_MISMATCH, EMPTY_ID0, EMPTY_ID1,
    LONG_ID0, LONG_ID1, LONG_EXTRA, ZERO_QUANTITY, ZERO_VALUE, EMPTY_SIGNATURE,
    MALFORMED_SIGNATURE,
) = range(13)  # fmt: skip
MASK_DTYPE: Final = np.uint16
# Rules that depend on a receipt's place in the batch, not on the receipt:
# a receipt failing only these is sound and can wait for the next block.
BUDGET_BITS: Final = MASK_DTYPE(
    (1 << TOO_MANY) | (1 << TOO_LARGE) | (1 << VERIFY_BUDGET)
)

KIND_STORAGE, KIND_COMPUTE, KIND_ENERGY, KIND_AD = range(4)

# check_columns: one bool row per mask bit (two bytes' worth), receipts
# packed eight to a uint64 word, and the block size of the unit-budget search.
FLAG_ROWS: Final = 16
RECEIPTS_PER_WORD: Final = 8
UNITS_BLOCK: Final = 256
_BYTE_SHIFTS: Final = np.tile(np.arange(8, dtype=np.uint64), 2)[:, None]

# bit -> (rule name, field slot); a slot names the blamed field per kind.
BIT_RULES: Final = {
    TOO_MANY: ("too_many_receipts", "receipts"),
    TOO_LARGE: ("receipts_too_large", "receipts"),
    VERIFY_BUDGET: ("verify_budget_exceeded", "receipts"),
    HEIGHT_MISMATCH: ("block_height_mismatch", "block_height"),
    EMPTY_ID0: ("empty_string_field", "id0"),
    EMPTY_ID1: ("empty_string_field", "id1"),
    LONG_ID0: ("string_field_too_long", "id0"),
    LONG_ID1: ("string_field_too_long", "id1"),
    LONG_EXTRA: ("string_field_too_long", "extra"),
    ZERO_QUANTITY: ("zero_value", "quantity"),
    ZERO_VALUE: ("zero_value", "value"),
    EMPTY_SIGNATURE: ("empty_signature", "signature"),
    MALFORMED_SIGNATURE: ("malformed_signature", "signature"),
}
MALFORMED: Final = "malformed"


class ValidationIssue(msgspec.Struct, frozen=True):
    """One failed rule: which receipt, which field, which rule."""

    index: int | None
    field: str
    rule: str


@dataclass(frozen=True)
class ValidationReport:
    mask: np.ndarray
    errors: list[ValidationIssue]

    @property
    def valid(self) -> bool:
        return not self.errors

    @property
    def unsound(self) -> list[ValidationIssue]:
        """Errors that no later block would cure (all but the budgets)."""
        budget_rules = {
            BIT_RULES[bit][0] for bit in (TOO_MANY, TOO_LARGE, VERIFY_BUDGET)
        }
        return [issue for issue in self.errors if issue.rule not in budget_rules]

    def with_issues(self, issues: list[ValidationIssue]) -> ValidationReport:
        """This report plus issues found beyond the columns (signatures...)."""
        merged = sorted([*self.errors, *issues], key=_by_index)
        return ValidationReport(self.mask, merged)

    def fitting(self) -> int:
        """How many leading receipts fit the block's budgets."""
        over = np.flatnonzero(self.mask & BUDGET_BITS)
        return int(over[0]) if over.size else self.mask.shape[0]


def verify_units(cols: Columns) -> np.ndarray:
    """Verification cost of each receipt (see limits.py)."""
    kind, quantity = cols.kind, cols.quantity
    extra = np.zeros(cols.count, dtype=np.uint64)
    storage = np.minimum(
        quantity // limits.STORAGE_BYTES_PER_UNIT, limits.STORAGE_MAX_EXTRA
    )
    ad = np.minimum(quantity // limits.AD_IMPRESSIONS_PER_UNIT, limits.AD_MAX_EXTRA)
    compute = limits.COMPUTE_EXTRA + limits.COMPUTE_VERIFIED_EXTRA * cols.verified
    extra = np.where(kind == KIND_STORAGE, storage, extra)
    extra = np.where(kind == KIND_COMPUTE, compute, extra)
    extra = np.where(kind == KIND_ENERGY, limits.ENERGY_EXTRA, extra)
    extra = np.where(kind == KIND_AD, ad, extra)
    return extra + limits.VERIFY_BASE


def check_columns(cols: Columns, height: int) -> np.ndarray:
    """The per-receipt error mask of every rule (the CPU reference).

    Each rule writes its row of a (16, n) bool array in one numpy call (rules
    on adjacent columns share a call); the rows are then packed into the bits.
    """
    n, matrix = cols.count, cols.matrix
    flags = np.zeros((FLAG_ROWS, -(-n // RECEIPTS_PER_WORD) * RECEIPTS_PER_WORD), bool)
    row = flags[:, :n]

    row[TOO_MANY, limits.MAX_RECEIPTS :] = True
    np.greater(cols.ends, limits.MAX_BLOCK_BYTES, out=row[TOO_LARGE])
    _flag_verify_budget(verify_units(cols), row[VERIFY_BUDGET])
    np.not_equal(cols.height, np.uint64(height), out=row[HEIGHT_MISMATCH])

    # Quantity and value, and id0 and id1, are adjacent in the matrix and the mask.
    np.equal(
        matrix[D_QUANTITY : D_VALUE + 1], 0, out=row[ZERO_QUANTITY : ZERO_VALUE + 1]
    )
    np.equal(matrix[D_ID0 : D_ID1 + 1], 0, out=row[EMPTY_ID0 : EMPTY_ID1 + 1])
    long = row[LONG_ID0 : LONG_EXTRA + 1]
    np.greater(matrix[D_ID0 : D_EXTRA + 1], limits.MAX_STRING_BYTES, out=long)

    empty, malformed = row[EMPTY_SIGNATURE], row[MALFORMED_SIGNATURE]
    np.equal(cols.signature_len, 0, out=empty)
    np.not_equal(cols.signature_len, limits.SIGNATURE_BYTES, out=malformed)
    np.greater(malformed, empty, out=malformed)  # malformed and not empty
    return _pack_bits(flags)[:n]


def _flag_verify_budget(units: np.ndarray, out: np.ndarray) -> None:
    """Flag each receipt whose running unit total passes the budget.

    Without wrap-around the running total only grows, so the flags are a
    suffix found from block sums and one short cumsum; columns whose units
    could wrap a uint64 (only hand-made ones can) take the full cumsum.
    """
    n, budget = units.shape[0], limits.MAX_VERIFY_UNITS
    if n and int(units.max()) * n >= 1 << 64:
        np.greater(np.cumsum(units), budget, out=out)
        return
    totals = np.cumsum(np.add.reduceat(units, np.arange(0, n, UNITS_BLOCK)))
    block = int(np.searchsorted(totals, budget, side="right"))
    if block < totals.shape[0]:
        before = int(totals[block - 1]) if block else 0
        running = np.cumsum(units[block * UNITS_BLOCK : (block + 1) * UNITS_BLOCK])
        first = int(np.searchsorted(running, budget - before, side="right"))
        out[block * UNITS_BLOCK + first :] = True


def _pack_bits(flags: np.ndarray) -> np.ndarray:
    """Mask values from 16 bool rows: row k becomes bit k.

    Read as uint64 words, a row holds eight receipts' 0/1 bytes; shifting a
    word by at most 7 keeps every byte in place, so one broadcast shift and
    one OR over each group of 8 rows give a byte per receipt.
    """
    words = flags.view(np.uint64) << _BYTE_SHIFTS
    low, high = np.bitwise_or.reduce(words.reshape(2, 8, -1), axis=1).view(np.uint8)
    mask = high.astype(MASK_DTYPE)
    mask <<= MASK_DTYPE(8)
    mask |= low
    return mask


def report(cols: Columns, mask: np.ndarray) -> ValidationReport:
    """Read the error list back from a mask, ordered by receipt then rule."""
    found = []
    for bit, (rule, slot) in BIT_RULES.items():
        for index in np.flatnonzero(mask & MASK_DTYPE(1 << bit)):
            found.append((int(index), bit, rule, slot))
    found.sort()
    kinds = cols.kind
    errors = [
        ValidationIssue(index, _field(int(kinds[index]), slot), rule)
        for index, _bit, rule, slot in found
    ]
    return ValidationReport(mask, errors)


def malformed(index: int | None, field: str) -> ValidationReport:
    """The report of input that does not decode."""
    issue = ValidationIssue(index, field or "receipts", MALFORMED)
    return ValidationReport(np.zeros(0, dtype=MASK_DTYPE), [issue])


def _field(kind: int, slot: str) -> str:
    spec = KINDS[kind]
    names = {
        "id0": spec.identities[0],
        "id1": spec.identities[1],
        "extra": spec.extra_string or "",
        "quantity": spec.quantity,
        "value": spec.value,
        "signature": spec.signature,
    }
    return names.get(slot, slot)


def _by_index(issue: ValidationIssue) -> int:
    return -1 if issue.index is None else issue.index
