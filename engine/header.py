"""Block headers of the two proof-of-work algorithms and their hashes.

The byte layouts are documented in docs/header.md. In short:

blake3  (124 bytes, integers little-endian, target big-endian):
    version u32 | height u64 | prev_hash 32 | receipts_root 32 |
    timestamp_ms u64 | target 32 | nonce u64
sha256d (80 bytes, Bitcoin's layout and byte order):
    version u32 | prev_hash 32 | merkle_root 32 | time u32 (s) | bits u32 |
    nonce u32

The nonce is last in both, so everything before it is the search's fixed
prefix. A blake3 hash is read as a big-endian number, a sha256d hash as a
little-endian one (Bitcoin's convention), and is displayed that way too.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Final

import blake3

from engine import target as targets
from engine.errors import InputError

HASH_LEN: Final = 32
MS_PER_S: Final = 1000


class Algo(StrEnum):
    BLAKE3 = "blake3"
    SHA256D = "sha256d"


@dataclass(frozen=True)
class AlgoSpec:
    code: int
    header_len: int
    nonce_bits: int
    timestamp_step_ms: int

    @property
    def nonce_offset(self) -> int:
        return self.header_len - self.nonce_bits // 8

    @property
    def nonce_limit(self) -> int:
        """One past the largest nonce."""
        return 1 << self.nonce_bits


SPECS: Final = {
    Algo.BLAKE3: AlgoSpec(code=0, header_len=124, nonce_bits=64, timestamp_step_ms=1),
    Algo.SHA256D: AlgoSpec(
        code=1, header_len=80, nonce_bits=32, timestamp_step_ms=MS_PER_S
    ),
}
ALGO_BY_CODE: Final = {spec.code: algo for algo, spec in SPECS.items()}

_BLAKE3_HEAD = struct.Struct("<IQ32s32sQ")
_SHA256D = struct.Struct("<I32s32sIII")
_NONCE64 = struct.Struct("<Q")


@dataclass(frozen=True)
class Header:
    algo: Algo
    version: int
    height: int
    prev_hash: bytes
    receipts_root: bytes
    timestamp_ms: int
    target: int
    nonce: int = 0

    @property
    def spec(self) -> AlgoSpec:
        return SPECS[self.algo]

    def with_nonce(self, nonce: int) -> Header:
        return replace(self, nonce=nonce)

    def serialize(self) -> bytes:
        if self.algo is Algo.BLAKE3:
            head = _BLAKE3_HEAD.pack(
                self.version, self.height, self.prev_hash, self.receipts_root,
                self.timestamp_ms,
            )  # fmt: skip
            return head + targets.to_bytes(self.target) + _NONCE64.pack(self.nonce)
        return _SHA256D.pack(
            self.version, self.prev_hash, self.receipts_root,
            self.timestamp_ms // MS_PER_S, targets.to_compact(self.target), self.nonce,
        )  # fmt: skip

    def prefix(self) -> bytes:
        """Every header byte before the nonce: fixed for a whole search."""
        return self.serialize()[: self.spec.nonce_offset]

    def digest(self) -> bytes:
        return hash_header(self.algo, self.serialize())


def parse_header(algo: Algo, data: bytes, height: int = 0) -> Header:
    """Read a header; sha256d headers carry no height, so it is passed in."""
    spec = SPECS[algo]
    if len(data) != spec.header_len:
        raise InputError(
            f"a {algo} header is {spec.header_len} bytes, got {len(data)}."
        )
    if algo is Algo.BLAKE3:
        fields = _BLAKE3_HEAD.unpack_from(data)
        target = int.from_bytes(data[_BLAKE3_HEAD.size : _BLAKE3_HEAD.size + HASH_LEN])
        (nonce,) = _NONCE64.unpack_from(data, spec.nonce_offset)
        version, height, prev, root, timestamp_ms = fields
        return Header(algo, version, height, prev, root, timestamp_ms, target, nonce)
    version, prev, root, seconds, bits, nonce = _SHA256D.unpack(data)
    target = targets.from_compact(bits)
    return Header(algo, version, height, prev, root, seconds * MS_PER_S, target, nonce)


def hash_header(algo: Algo, data: bytes) -> bytes:
    """The plain hashlib/blake3 hash of serialized header bytes (the oracle)."""
    if algo is Algo.BLAKE3:
        return blake3.blake3(data).digest()
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def hash_value(algo: Algo, digest: bytes) -> int:
    """The number compared with the target."""
    return int.from_bytes(digest, "big" if algo is Algo.BLAKE3 else "little")


def display_hash(algo: Algo, digest: bytes) -> str:
    """Hex as usually shown: sha256d hashes byte-reversed, like Bitcoin's."""
    return digest.hex() if algo is Algo.BLAKE3 else digest[::-1].hex()


def parse_display_hash(algo: Algo, text: str) -> bytes:
    """Inverse of display_hash, for --prev."""
    try:
        raw = bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raise InputError(f"hash {text!r} is not hexadecimal.") from None
    if len(raw) != HASH_LEN:
        raise InputError(f"a hash is {HASH_LEN} bytes, got {len(raw)}: {text!r}.")
    return raw if algo is Algo.BLAKE3 else raw[::-1]
