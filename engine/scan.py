"""One compiled pass over an encoded batch: receipt boundaries and columns.

The batch is the canonical encoding: a msgpack array of receipts, each an
array ``[tag, field, ...]`` (see receipts.py). The scanner walks it once,
bounded by the buffer's length, checks every element's msgpack type against
the receipt's schema, and writes each receipt's offset and length and its
column values. It allocates only the output columns, sized by a receipt count
that is first checked against the bytes present, so a length prefix claiming
billions of receipts is refused before any allocation.

The schema comes from the Structs in receipts.py, turned into small tables
(one row per kind: a field code and a column destination per element).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import msgspec
import numba
import numpy as np

from engine.receipts import KINDS, U32, U64, Blob, Hash32, KindSpec

# Field codes: the msgpack shapes the scanner accepts for a schema element.
F_U64, F_U32, F_BOOL, F_STR, F_OPT_STR, F_BIN, F_BIN32, F_OPT_BIN32 = range(8)
FIELD_CODE_BY_TYPE: Final = {
    U64: F_U64,
    U32: F_U32,
    bool: F_BOOL,
    str: F_STR,
    str | None: F_OPT_STR,
    Blob: F_BIN,
    Hash32: F_BIN32,
    Hash32 | None: F_OPT_BIN32,
}

# Column destinations of a field's value (or of its byte length for strings).
(
    D_NONE, D_HEIGHT, D_QUANTITY, D_VALUE, D_ID0, D_ID1, D_EXTRA,
    D_SIGNATURE, D_NONCE, D_VERIFIED,
) = range(10)  # fmt: skip

# Scan status codes, reported with the receipt index and element position.
(
    OK, E_TRUNCATED, E_NOT_ARRAY, E_ARITY, E_KIND, E_TYPE, E_RANGE, E_LENGTH,
    E_TRAILING, E_NONCANONICAL,
) = range(10)  # fmt: skip
STATUS_TEXT: Final = {
    E_TRUNCATED: "input is truncated",
    E_NOT_ARRAY: "expected a msgpack array",
    E_ARITY: "wrong number of fields for this receipt type",
    E_KIND: "unknown receipt type tag",
    E_TYPE: "wrong type",
    E_RANGE: "integer out of range",
    E_LENGTH: "must be exactly 32 bytes",
    E_TRAILING: "trailing bytes after the receipt array",
    E_NONCANONICAL: "not in canonical form (a longer msgpack encoding than needed)",
}

MAX_FIELDS: Final = 16
HASH_LEN: Final = 32
U32_LIMIT: Final = np.uint64(0xFFFFFFFF)

# msgpack format bytes used below (msgpack spec, "Formats").
NIL, FALSE, TRUE = 0xC0, 0xC2, 0xC3
BIN8, BIN16, BIN32 = 0xC4, 0xC5, 0xC6
UINT8, UINT16, UINT32, UINT64 = 0xCC, 0xCD, 0xCE, 0xCF
INT8, INT64 = 0xD0, 0xD3
FIXSTR, FIXSTR_MAX, STR8, STR16, STR32 = 0xA0, 0xBF, 0xD9, 0xDA, 0xDB
FIXARRAY, FIXARRAY_MAX, ARRAY16, ARRAY32 = 0x90, 0x9F, 0xDC, 0xDD
POSITIVE_FIXINT_MAX, NEGATIVE_FIXINT = 0x7F, 0xE0
FIXSTR_LEN, FIXARRAY_LEN = 32, 16  # lengths past the fix* forms


def _schema_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    codes = np.full((len(KINDS), MAX_FIELDS), -1, dtype=np.int8)
    dests = np.zeros((len(KINDS), MAX_FIELDS), dtype=np.int8)
    arity = np.zeros(len(KINDS), dtype=np.int64)
    for spec in KINDS:
        fields = msgspec.structs.fields(spec.cls)
        arity[spec.code] = len(fields)
        for j, field in enumerate(fields):
            codes[spec.code, j] = FIELD_CODE_BY_TYPE[field.type]
            dests[spec.code, j] = _destination(spec, field.name)
    return codes, dests, arity


def _destination(spec: KindSpec, name: str) -> int:
    roles = {
        "block_height": D_HEIGHT,
        spec.quantity: D_QUANTITY,
        spec.value: D_VALUE,
        spec.identities[0]: D_ID0,
        spec.identities[1]: D_ID1,
        spec.signature: D_SIGNATURE,
        "signature_nonce": D_NONCE,
    }
    if spec.extra_string:
        roles[spec.extra_string] = D_EXTRA
    if spec.verified:
        roles[spec.verified] = D_VERIFIED
    return roles.get(name, D_NONE)


CODES, DESTS, ARITY = _schema_tables()

# The fewest bytes an element of each field code takes (an empty str, a bin8
# header, nil for an optional); a receipt adds its array header and tag.
MIN_ELEMENT_BYTES: Final = {
    F_U64: 1, F_U32: 1, F_BOOL: 1, F_STR: 1, F_OPT_STR: 1, F_BIN: 2,
    F_BIN32: 2 + HASH_LEN, F_OPT_BIN32: 1,
}  # fmt: skip
MIN_RECEIPT_BYTES: Final = 2 + min(
    sum(MIN_ELEMENT_BYTES[int(c)] for c in CODES[k, : ARITY[k]])
    for k in range(len(KINDS))
)


@numba.njit(cache=True, nogil=True)
def _array_head(b):
    """(status, prefix bytes, immediate count) of an array's first byte."""
    if FIXARRAY <= b <= FIXARRAY_MAX:
        return OK, 0, b - FIXARRAY
    if b == ARRAY16 or b == ARRAY32:
        return OK, 2 if b == ARRAY16 else 4, 0
    return E_NOT_ARRAY, 0, 0


@numba.njit(cache=True, nogil=True)
def _int_head(b):
    """(status, payload bytes, immediate value) of an unsigned integer."""
    if b <= POSITIVE_FIXINT_MAX:
        return OK, 0, b
    if UINT8 <= b <= UINT64:
        return OK, 1 << (b - UINT8), 0
    if b >= NEGATIVE_FIXINT or INT8 <= b <= INT64:
        return E_RANGE, 0, 0
    return E_TYPE, 0, 0


@numba.njit(cache=True, nogil=True)
def _sized_head(b, want_str):
    """(status, length-prefix bytes, immediate length) of a str or bin."""
    if want_str and FIXSTR <= b <= FIXSTR_MAX:
        return OK, 0, b - FIXSTR
    if want_str and STR8 <= b <= STR32:
        return OK, 1 << (b - STR8), 0
    if not want_str and BIN8 <= b <= BIN32:
        return OK, 1 << (b - BIN8), 0
    return E_TYPE, 0, 0


@numba.njit(cache=True, nogil=True)
def _head(buf, pos, end, kind, code):
    """(status, value, position after the head) of the element at pos.

    kind 0 reads an array header, 1 an integer, 2 a str, 3 a bin; the value
    is the count, the integer, or the payload length (not yet skipped).
    """
    if pos >= end:
        return E_TRUNCATED, np.uint64(0), pos
    b = buf[pos]
    if kind == 0:
        status, width, value = _array_head(b)
    elif kind == 1:
        status, width, value = _int_head(b)
    else:
        status, width, value = _sized_head(b, kind == 2)
    if status != OK:
        return status, np.uint64(0), pos
    if pos + 1 + width > end:
        return E_TRUNCATED, np.uint64(0), pos
    result = np.uint64(value)
    for k in range(width):
        result = (result << np.uint64(8)) | np.uint64(buf[pos + 1 + k])
    if result < _shortest_above(kind, width):
        return E_NONCANONICAL, np.uint64(0), pos
    return OK, result, pos + 1 + width


@numba.njit(cache=True, nogil=True)
def _shortest_above(kind, width):
    """The smallest value whose shortest msgpack form has this prefix width.

    A value below it has a shorter form, so one list of receipts has exactly
    one encoding (and one root); msgspec always writes the shortest.
    """
    if width == 0:
        return np.uint64(0)
    if width == 1:
        return np.uint64((0, POSITIVE_FIXINT_MAX + 1, FIXSTR_LEN, 0)[kind])
    if width == 2:
        return np.uint64(FIXARRAY_LEN if kind == 0 else 1 << 8)
    if width == 4:
        return np.uint64(1 << 16)
    return np.uint64(1 << 32)


@numba.njit(cache=True, nogil=True)
def _element(buf, pos, end, code):
    """(status, value or byte length, position after) of one schema element."""
    if pos >= end:
        return E_TRUNCATED, np.uint64(0), pos
    b = buf[pos]
    if b == NIL and (code == F_OPT_STR or code == F_OPT_BIN32):
        return OK, np.uint64(0), pos + 1
    if code == F_BOOL:
        if b == TRUE or b == FALSE:
            return OK, np.uint64(b == TRUE), pos + 1
        return E_TYPE, np.uint64(0), pos
    if code == F_U64 or code == F_U32:
        status, value, after = _head(buf, pos, end, 1, code)
        if status == OK and code == F_U32 and value > U32_LIMIT:
            status = E_RANGE
        return status, value, after
    is_str = code == F_STR or code == F_OPT_STR
    status, length, after = _head(buf, pos, end, 2 if is_str else 3, code)
    if status == OK and after + length > end:
        status = E_TRUNCATED
    hashed = code == F_BIN32 or code == F_OPT_BIN32
    if status == OK and hashed and length != HASH_LEN:
        status = E_LENGTH
    return status, length, after + np.int64(length)


@numba.njit(cache=True, nogil=True)
def _scan(buf, start, codes, dests, arity, offsets, lengths, cols, err):
    end = buf.shape[0]
    pos = start
    for i in range(offsets.shape[0]):
        offsets[i] = pos
        status, count, pos = _head(buf, pos, end, 0, 0)
        if status == OK and count == 0:
            status = E_ARITY
        if status == OK:
            status, tag, pos = _head(buf, pos, end, 1, F_U64)
            if status != OK or tag >= np.uint64(codes.shape[0]):
                status = E_KIND if status != E_TRUNCATED else status
        if status == OK and count - np.uint64(1) != np.uint64(arity[tag]):
            status = E_ARITY
        if status != OK:
            err[0], err[1], err[2] = status, i, 0
            return
        kind = np.int64(tag)
        cols[0, i] = kind
        for j in range(arity[kind]):
            status, value, pos = _element(buf, pos, end, codes[kind, j])
            if status != OK:
                err[0], err[1], err[2] = status, i, j + 1
                return
            dest = dests[kind, j]
            if dest != D_NONE:
                cols[dest, i] = value
        lengths[i] = pos - offsets[i]
    if pos != end:
        err[0], err[1], err[2] = E_TRAILING, -1, 0


def count_receipts(buf: np.ndarray) -> tuple[int, int, int]:
    """(status, receipt count, offset of the first receipt) of a batch."""
    status, count, start = _head(buf, 0, buf.shape[0], 0, 0)
    # No receipt is shorter than MIN_RECEIPT_BYTES: a larger count cannot be
    # honest, and refusing it keeps the columns within ~9x the input.
    if status == OK and count > (buf.shape[0] - start) // MIN_RECEIPT_BYTES:
        status = E_TRUNCATED
    return int(status), int(count), int(start)


N_COLUMNS: Final = 10


def scan(
    buf: np.ndarray,
    count: int,
    start: int,
    alloc: Callable[[int], np.ndarray] | None = None,
) -> tuple[np.ndarray, ...]:
    """Scan `count` receipts from `start`: (offsets, lengths, cols, err).

    cols is a (N_COLUMNS, count) uint64 array indexed by the D_* codes (row 0
    holds the kind); err is [status, receipt index, element position]. With
    `alloc` (pinned memory on a GPU host) the outputs live in its buffers, so
    copying them to the device can run asynchronously.
    """
    offsets = _zeros(alloc, (count,), np.int64)
    lengths = _zeros(alloc, (count,), np.int64)
    cols = _zeros(alloc, (N_COLUMNS, count), np.uint64)
    err = np.zeros(3, dtype=np.int64)

    _scan(buf, start, CODES, DESTS, ARITY, offsets, lengths, cols, err)

    return offsets, lengths, cols, err


def _zeros(
    alloc: Callable[[int], np.ndarray] | None, shape: tuple[int, ...], dtype: type
) -> np.ndarray:
    if alloc is None:
        return np.zeros(shape, dtype=dtype)
    out = alloc(int(np.prod(shape)) * np.dtype(dtype).itemsize).view(dtype)
    out[:] = 0
    return out.reshape(shape)
