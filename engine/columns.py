"""Struct-of-arrays columns of a batch, as the scanner writes them.

All columns live in one (N_COLUMNS, n) uint64 matrix so that a device backend
copies them in one transfer; the named properties are views, not copies.
String and signature columns hold byte lengths (UTF-8 bytes for strings).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine import scan

# Row 0 is the slot of D_NONE, which no field writes: it carries the kind.
ROW_KIND = scan.D_NONE


@dataclass(frozen=True)
class Columns:
    matrix: np.ndarray
    offsets: np.ndarray
    lengths: np.ndarray

    @property
    def count(self) -> int:
        return self.matrix.shape[1]

    @property
    def kind(self) -> np.ndarray:
        return self.matrix[ROW_KIND]

    @property
    def height(self) -> np.ndarray:
        return self.matrix[scan.D_HEIGHT]

    @property
    def quantity(self) -> np.ndarray:
        return self.matrix[scan.D_QUANTITY]

    @property
    def value(self) -> np.ndarray:
        return self.matrix[scan.D_VALUE]

    @property
    def id0_len(self) -> np.ndarray:
        return self.matrix[scan.D_ID0]

    @property
    def id1_len(self) -> np.ndarray:
        return self.matrix[scan.D_ID1]

    @property
    def extra_len(self) -> np.ndarray:
        return self.matrix[scan.D_EXTRA]

    @property
    def signature_len(self) -> np.ndarray:
        return self.matrix[scan.D_SIGNATURE]

    @property
    def signature_nonce(self) -> np.ndarray:
        return self.matrix[scan.D_NONCE]

    @property
    def verified(self) -> np.ndarray:
        return self.matrix[scan.D_VERIFIED]

    @property
    def ends(self) -> np.ndarray:
        """Byte offset just past each receipt, from the batch's first byte."""
        return self.offsets + self.lengths
