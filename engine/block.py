"""Sealed blocks: the file format, and verification from the bytes alone.

File layout (docs/block-format.md), integers little-endian:

    magic "RCPB" | format u8 | algo u8 | height u64 | header (124 or 80 B) |
    body length u32 | body (the canonical batch) | checksum 32 B

The checksum is BLAKE3 over every byte before it. Verification checks, in
order: framing, header, that the body decodes and is canonical, the budgets
and rules at the block's height, the receipts root, the proof of work, and
last the checksum, so a damaged body is reported as what it breaks.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

import blake3
import numpy as np

from engine import merkle
from engine import target as targets
from engine.backend import Backend
from engine.claims import Claims
from engine.encoding import EncodedBatch, decode_batch
from engine.errors import BlockInvalid, EngineError, ReceiptError
from engine.header import (
    ALGO_BY_CODE,
    SPECS,
    Header,
    display_hash,
    hash_value,
    parse_header,
)
from engine.limits import MAX_BLOCK_BYTES
from engine.receipts import Receipt
from engine.validation import check_columns, report

MAGIC: Final = b"RCPB"
FORMAT_VERSION: Final = 1
CHECKSUM_LEN: Final = 32
_LEAD = struct.Struct("<4sBBQ")
_BODY_LEN = struct.Struct("<I")


@dataclass(frozen=True)
class Block:
    header: Header
    body: bytes

    def serialize(self) -> bytes:
        spec = SPECS[self.header.algo]
        framed = b"".join(
            (
                _LEAD.pack(MAGIC, FORMAT_VERSION, spec.code, self.header.height),
                self.header.serialize(),
                _BODY_LEN.pack(len(self.body)),
                self.body,
            )
        )
        return framed + blake3.blake3(framed).digest()

    @property
    def digest(self) -> bytes:
        return self.header.digest()


@dataclass(frozen=True)
class VerifiedBlock:
    block: Block
    receipts: list[Receipt]
    batch: EncodedBatch
    digest: bytes


def parse_block(data: bytes) -> Block:
    """Read the framing; raises BlockInvalid naming what does not fit."""
    if len(data) < _LEAD.size:
        raise BlockInvalid(f"the file is {len(data)} bytes, too short for a block.")
    magic, version, code, height = _LEAD.unpack_from(data)
    if magic != MAGIC:
        raise BlockInvalid(f"not a block file (magic {magic!r}, expected {MAGIC!r}).")
    if version != FORMAT_VERSION:
        raise BlockInvalid(f"unknown block format version {version}.")
    if code not in ALGO_BY_CODE:
        raise BlockInvalid(f"unknown hash algorithm code {code}.")
    algo = ALGO_BY_CODE[code]
    header_end = _LEAD.size + SPECS[algo].header_len
    body_start = header_end + _BODY_LEN.size
    if len(data) < body_start + CHECKSUM_LEN:
        raise BlockInvalid("the file is truncated inside the header.")
    (body_len,) = _BODY_LEN.unpack_from(data, header_end)
    if body_len > MAX_BLOCK_BYTES:
        raise BlockInvalid(
            f"the body claims {body_len:,} bytes, over the block budget."
        )
    if len(data) != body_start + body_len + CHECKSUM_LEN:
        raise BlockInvalid(
            f"the body claims {body_len:,} bytes but the file holds "
            f"{len(data) - body_start - CHECKSUM_LEN:,}."
        )
    try:
        header = parse_header(algo, data[_LEAD.size : header_end], height)
    except EngineError as exc:
        raise BlockInvalid(f"bad header: {exc}") from exc
    if header.height != height:
        raise BlockInvalid(f"header height {header.height} != block height {height}.")
    return Block(header, data[body_start : body_start + body_len])


def verify_block(
    data: bytes, backend: Backend | None = None, claims: Claims | None = None
) -> VerifiedBlock:
    """Re-check everything a block claims; raises BlockInvalid with the reason.

    With `claims`, signatures, replays and duplicates are checked too (the
    caller adds each verified block to claims.window for the next)."""
    block = parse_block(data)
    header = block.header
    try:
        receipts, batch = decode_batch(block.body)
    except ReceiptError as exc:
        raise BlockInvalid(f"the body does not decode: {exc}") from exc

    _check_rules(batch, receipts, header.height, backend, claims)
    root = merkle.receipts_root(batch)
    if root != header.receipts_root:
        raise BlockInvalid(
            f"receipts root {root.hex()} does not match the header's "
            f"{header.receipts_root.hex()}."
        )
    digest = header.digest()
    if hash_value(header.algo, digest) > header.target:
        raise BlockInvalid(
            f"the proof of work fails: hash {display_hash(header.algo, digest)} "
            f"is above the target {targets.to_hex(header.target)}."
        )
    if blake3.blake3(data[:-CHECKSUM_LEN]).digest() != data[-CHECKSUM_LEN:]:
        raise BlockInvalid("the file checksum does not match its contents.")
    return VerifiedBlock(block, receipts, batch, digest)


def _check_rules(
    batch: EncodedBatch,
    receipts: list[Receipt],
    height: int,
    backend: Backend | None,
    claims: Claims | None,
) -> None:
    if backend is None:
        mask = check_columns(batch.columns, height)
    else:
        mask = backend.check_columns(batch.columns, height)
    checked = report(batch.columns, mask)
    if claims is not None:
        rows = np.flatnonzero(checked.mask == 0)
        checked = checked.with_issues(claims.check(receipts, rows))
    errors = checked.errors
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise BlockInvalid(
            f"receipt {first.index}, field {first.field!r} breaks rule "
            f"{first.rule}{more}."
        )
