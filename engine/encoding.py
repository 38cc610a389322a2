"""Encode a batch once; decode untrusted bytes with bounded work.

The canonical encoding of a batch is one msgpack array of array-like
receipts, produced by one msgspec call into one contiguous buffer. The block
body, the byte budget, the leaf hashes and the columns are all read from that
buffer: the scanner (scan.py) finds each receipt's offset and length and fills
the columns in the same pass.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import msgspec
import numpy as np

from engine import scan
from engine.columns import ROW_KIND, Columns
from engine.errors import ReceiptError
from engine.limits import MAX_BLOCK_BYTES
from engine.receipts import U64_MAX, Receipt, field_at

ENCODER = msgspec.msgpack.Encoder()
DECODER = msgspec.msgpack.Decoder(list[Receipt])
ONE_DECODER = msgspec.msgpack.Decoder(Receipt)

# A host buffer factory: given a size, returns a writable uint8 array (the
# CUDA backend hands out pinned memory; the default is ordinary memory).
HostAlloc = Callable[[int], np.ndarray]

# What msgspec raises for a value it cannot encode (too large an integer,
# a wrong type, a string holding a lone surrogate).
ENCODE_ERRORS = (OverflowError, TypeError, UnicodeEncodeError, msgspec.EncodeError)

_PATH = re.compile(r"\$\[(\d+)\](?:\[(\d+)\])?")


@dataclass(frozen=True)
class EncodedBatch:
    """One batch's canonical encoding with its receipt index and columns."""

    buffer: np.ndarray
    columns: Columns

    @property
    def count(self) -> int:
        return self.columns.count

    @property
    def nbytes(self) -> int:
        return self.buffer.shape[0]

    @property
    def offsets(self) -> np.ndarray:
        return self.columns.offsets

    @property
    def lengths(self) -> np.ndarray:
        return self.columns.lengths

    def body(self) -> bytes:
        return self.buffer.tobytes()

    def receipt_bytes(self, index: int) -> bytes:
        start = int(self.offsets[index])
        return self.buffer[start : start + int(self.lengths[index])].tobytes()


def slice_batch(batch: EncodedBatch, lo: int, hi: int) -> EncodedBatch:
    """Receipts lo..hi-1 as a batch of their own, without re-encoding them.

    Only the array header is new; the receipts' bytes are copied as they are,
    so the result equals the canonical encoding of that sub-list.
    """
    head = array_header(hi - lo)
    start = int(batch.offsets[lo]) if lo < hi else 0
    end = int(batch.offsets[hi - 1] + batch.lengths[hi - 1]) if lo < hi else 0

    buffer = np.empty(len(head) + end - start, dtype=np.uint8)
    buffer[: len(head)] = np.frombuffer(head, dtype=np.uint8)
    buffer[len(head) :] = batch.buffer[start:end]

    shift = len(head) - start
    cols = batch.columns
    sliced = Columns(
        cols.matrix[:, lo:hi].copy(),
        cols.offsets[lo:hi] + shift,
        cols.lengths[lo:hi].copy(),
    )
    return EncodedBatch(buffer, sliced)


def array_header(count: int) -> bytes:
    """The msgpack array header msgspec writes for `count` elements."""
    if count <= scan.FIXARRAY_MAX - scan.FIXARRAY:
        return bytes([scan.FIXARRAY + count])
    if count <= 0xFFFF:
        return bytes([scan.ARRAY16]) + count.to_bytes(2, "big")
    return bytes([scan.ARRAY32]) + count.to_bytes(4, "big")


def encode_batch(
    receipts: Sequence[Receipt], alloc: HostAlloc | None = None
) -> EncodedBatch:
    """Encode receipts once and index the result.

    Receipts built in code are not type-checked by msgspec on construction,
    so the scan that follows is also what rejects a bad value, by index.
    """
    try:
        data = ENCODER.encode(list(receipts))
    except ENCODE_ERRORS as exc:
        raise _encode_error(receipts, exc) from exc
    return index_batch(_into(data, alloc), alloc)


def _into(data: bytes, alloc: HostAlloc | None) -> np.ndarray:
    """The bytes as a uint8 array; with `alloc`, one copy into its buffer."""
    if alloc is None:
        return np.frombuffer(data, dtype=np.uint8)
    buffer = alloc(len(data))
    buffer[:] = np.frombuffer(data, dtype=np.uint8)
    return buffer


def index_batch(buffer: np.ndarray, alloc: HostAlloc | None = None) -> EncodedBatch:
    """Scan an encoded batch: offsets, lengths and columns in one pass."""
    status, count, start = scan.count_receipts(buffer)
    if status != scan.OK:
        raise ReceiptError(scan.STATUS_TEXT[status], field="receipts")
    offsets, lengths, matrix, err = scan.scan(buffer, count, start, alloc)
    if err[0] != scan.OK:
        raise _scan_error(matrix, err)
    return EncodedBatch(buffer, Columns(matrix, offsets, lengths))


def decode_batch(
    data: bytes, max_bytes: int = MAX_BLOCK_BYTES, alloc: HostAlloc | None = None
) -> tuple[list[Receipt], EncodedBatch]:
    """Decode untrusted bytes into receipts and their indexed batch.

    Input over the byte budget is refused before any decoding; structure,
    types and ranges are checked by the scan, then msgspec decodes (and checks
    UTF-8) with every receipt's place already known.
    """
    if len(data) > max_bytes:
        raise ReceiptError(
            f"{len(data):,} bytes exceed the budget of {max_bytes:,} bytes",
            field="receipts",
        )
    batch = index_batch(_into(data, alloc), alloc)
    try:
        receipts = DECODER.decode(data)
    except msgspec.DecodeError as exc:
        raise _locate_decode_error(batch, exc) from exc
    return receipts, batch


def _scan_error(matrix: np.ndarray, err: np.ndarray) -> ReceiptError:
    status, index, position = (int(v) for v in err)
    reason = scan.STATUS_TEXT[status]
    if index < 0:
        return ReceiptError(reason, field="receipts")
    # The scanner stores the kind before it reads a receipt's fields.
    kind = int(matrix[ROW_KIND, index]) if position else -1
    return ReceiptError(reason, index, field_at(kind, position))


def _locate_decode_error(batch: EncodedBatch, exc: msgspec.DecodeError) -> ReceiptError:
    """Find which receipt msgspec refused (a path when it gives one)."""
    match = _PATH.search(str(exc))
    if match is not None:
        index = int(match[1])
        kind = int(batch.columns.kind[index])
        position = int(match[2]) if match[2] is not None else 0
        return ReceiptError(
            str(exc).split(" - at ")[0], index, field_at(kind, position)
        )
    for index in range(batch.count):
        try:
            ONE_DECODER.decode(batch.receipt_bytes(index))
        except msgspec.DecodeError as one:
            return ReceiptError(str(one), index)
    return ReceiptError(str(exc), field="receipts")


def _encode_error(receipts: Sequence[Receipt], exc: Exception) -> ReceiptError:
    """Name the first receipt whose own encoding fails like the batch did."""
    for index, receipt in enumerate(receipts):
        try:
            ENCODER.encode(receipt)
        except ENCODE_ERRORS as one:
            return ReceiptError(_overflow_text(one), index, _bad_field(receipt))
    return ReceiptError(str(exc), field="receipts")


def _overflow_text(exc: Exception) -> str:
    if isinstance(exc, OverflowError):
        return f"integer out of range (unsigned 64-bit at most {U64_MAX})"
    return str(exc)


def _bad_field(receipt: Receipt) -> str:
    for name in receipt.__struct_fields__:
        try:
            ENCODER.encode(getattr(receipt, name))
        except ENCODE_ERRORS:
            return name
    return ""
