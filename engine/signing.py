"""Receipt signatures: the canonical preimage, keys, and batched verification.

A receipt's signature is ed25519 (PyNaCl) over the 32-byte BLAKE3 digest of
its preimage (docs/signatures.md):

    DOMAIN || type tag u8 || block_height u64 || each identity string as
    (u32 length || UTF-8 bytes) || quantity u64 || value u64 ||
    signature_nonce u64                           (integers little-endian)

The digest doubles as the receipt's id for duplicate detection: two receipts
that claim the same thing share it, whatever bytes their signatures hold.
Verification runs in a thread pool (PyNaCl releases the GIL), after the
column checks have removed what is already invalid.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Final

import blake3
import msgspec
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from engine.receipts import Receipt, kind_of

DOMAIN: Final = b"receipt-engine/receipt/v1"
DIGEST_LEN: Final = 32
SEED_LEN: Final = 32
_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")
MIN_ROWS_PER_THREAD: Final = 256

# Identity strings each kind signs, in order (its provider is among them).
SIGNED_STRINGS: Final = {
    "storage": ("contract_id", "provider"),
    "compute": ("job_id", "provider"),
    "energy": ("contract_id", "provider"),
    "ad": ("campaign_id", "creative_id", "publisher"),
}
SIGNER_FIELD: Final = {"storage": "provider", "compute": "provider",
                       "energy": "provider", "ad": "publisher"}  # fmt: skip


def preimage(receipt: Receipt) -> bytes:
    spec = kind_of(receipt)
    parts = [DOMAIN, bytes([spec.code]), _U64.pack(receipt.block_height)]
    for name in SIGNED_STRINGS[spec.name]:
        text = getattr(receipt, name).encode()
        parts += [_U32.pack(len(text)), text]
    parts += [
        _U64.pack(getattr(receipt, spec.quantity)),
        _U64.pack(getattr(receipt, spec.value)),
        _U64.pack(receipt.signature_nonce),
    ]
    return b"".join(parts)


def digest(receipt: Receipt) -> bytes:
    """What is signed, and the receipt's id."""
    return blake3.blake3(preimage(receipt)).digest()


def signer(receipt: Receipt) -> str:
    return getattr(receipt, SIGNER_FIELD[kind_of(receipt).name])


def signature_field(receipt: Receipt) -> str:
    return kind_of(receipt).signature


def sign(receipt: Receipt, key: SigningKey) -> Receipt:
    """The receipt with its signature field set."""
    signature = key.sign(digest(receipt)).signature
    return msgspec.structs.replace(receipt, **{signature_field(receipt): signature})


def key_from_seed(seed: bytes) -> SigningKey:
    return SigningKey(seed)


def new_key() -> SigningKey:
    return SigningKey(os.urandom(SEED_LEN))


@dataclass(frozen=True)
class Check:
    """One signature to verify: row index, public key, digest, signature."""

    index: int
    key: VerifyKey
    message: bytes
    signature: bytes


class Verifier:
    """Batched ed25519 verification over a thread per core."""

    def __init__(self, threads: int | None = None) -> None:
        self.threads = max(1, threads or os.cpu_count() or 1)
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="engine-sig")

    def failed(self, checks: Sequence[Check]) -> list[int]:
        """Rows whose signature does not verify, in order."""
        if len(checks) < 2 * MIN_ROWS_PER_THREAD or self.threads == 1:
            return _failed(checks)
        size = max(MIN_ROWS_PER_THREAD, -(-len(checks) // self.threads))
        chunks = [checks[i : i + size] for i in range(0, len(checks), size)]
        return [row for part in self._pool.map(_failed, chunks) for row in part]

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def _failed(checks: Sequence[Check]) -> list[int]:
    bad = []
    for check in checks:
        try:
            check.key.verify(check.message, check.signature)
        except (BadSignatureError, ValueError, TypeError):
            bad.append(check.index)
    return bad
