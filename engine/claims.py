"""Rules about who claims what: providers, signatures, replays, duplicates.

They run after the column checks, on the receipts those left valid:
- unknown_provider: no registry key signs for the signer at this height;
- invalid_signature: the ed25519 signature over the receipt's digest fails;
- duplicate_receipt: the same claim (digest) earlier in the batch or in one
  of the recent blocks;
- replayed_nonce: the signer's signature nonce used earlier in the batch or
  in one of the recent blocks.
The window of recent blocks is bounded (RECENT_BLOCKS blocks of at most
10,000 receipts each), so its memory is too.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from engine import signing
from engine.receipts import Receipt, kind_of
from engine.registry import Registry
from engine.validation import ValidationIssue

RECENT_BLOCKS: Final = 64


@dataclass
class RecentWindow:
    """Receipt ids and (signer, nonce) pairs of the last `blocks` blocks."""

    blocks: int = RECENT_BLOCKS
    _ids: deque[set[bytes]] = field(default_factory=deque)
    _nonces: deque[set[tuple[str, int]]] = field(default_factory=deque)

    def has_id(self, receipt_id: bytes) -> bool:
        return any(receipt_id in ids for ids in self._ids)

    def has_nonce(self, pair: tuple[str, int]) -> bool:
        return any(pair in nonces for nonces in self._nonces)

    def add_block(self, receipts: Iterable[Receipt]) -> None:
        receipts = list(receipts)
        self._ids.append({signing.digest(r) for r in receipts})
        self._nonces.append({(signing.signer(r), r.signature_nonce) for r in receipts})
        while len(self._ids) > self.blocks:
            self._ids.popleft()
            self._nonces.popleft()


@dataclass
class Claims:
    """The registry, the recent window and a verifier, used batch by batch."""

    registry: Registry
    window: RecentWindow = field(default_factory=RecentWindow)
    verifier: signing.Verifier = field(default_factory=signing.Verifier)

    def check(
        self, receipts: Sequence[Receipt], rows: np.ndarray
    ) -> list[ValidationIssue]:
        """Issues of the receipts at `rows` (those the columns left valid)."""
        issues, checks = [], []
        for i in rows.tolist():
            receipt = receipts[i]
            key = self.registry.key(signing.signer(receipt), receipt.block_height)
            if key is None:
                field_name = signing.SIGNER_FIELD[kind_of(receipt).name]
                issues.append(ValidationIssue(i, field_name, "unknown_provider"))
                continue
            signature = getattr(receipt, signing.signature_field(receipt))
            checks.append(signing.Check(i, key, signing.digest(receipt), signature))
        forged = set(self.verifier.failed(checks))
        issues += [
            ValidationIssue(c.index, signing.signature_field(receipts[c.index]),
                            "invalid_signature")
            for c in checks if c.index in forged
        ]  # fmt: skip
        issues += self._repeats(receipts, [c for c in checks if c.index not in forged])
        return sorted(issues, key=lambda issue: issue.index or 0)

    def _repeats(
        self, receipts: Sequence[Receipt], checks: list[signing.Check]
    ) -> list[ValidationIssue]:
        seen_ids: set[bytes] = set()
        seen_nonces: set[tuple[str, int]] = set()
        issues = []
        for check in checks:
            receipt = receipts[check.index]
            pair = (signing.signer(receipt), receipt.signature_nonce)
            if check.message in seen_ids or self.window.has_id(check.message):
                rule = ("receipt", "duplicate_receipt")
            elif pair in seen_nonces or self.window.has_nonce(pair):
                rule = ("signature_nonce", "replayed_nonce")
            else:
                rule = None
            if rule is not None:
                issues.append(ValidationIssue(check.index, *rule))
            seen_ids.add(check.message)
            seen_nonces.add(pair)
        return issues

    def close(self) -> None:
        self.verifier.close()
