"""The receipts root: a BLAKE3 Merkle tree over the encoded receipts.

leaf   = BLAKE3(LEAF_TAG || receipt's encoded bytes)
parent = BLAKE3(NODE_TAG || left || right)

Levels pair nodes left to right; an odd last node is carried up unchanged,
never paired with itself, so a list and the same list with its last leaf
repeated have different roots. An empty batch has the root EMPTY_ROOT. The
domain tags keep a leaf from ever being read as a parent (second preimages).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import blake3
import numpy as np

from engine.cpu import blake3 as fast
from engine.encoding import EncodedBatch

LEAF_TAG: Final = 0x00
NODE_TAG: Final = 0x01
HASH_LEN: Final = 32
EMPTY_ROOT: Final = bytes(HASH_LEN)


def leaf_hashes(batch: EncodedBatch) -> np.ndarray:
    """(n, 32) leaf hashes straight from the batch buffer, one compiled pass."""
    return fast.hash_leaves(batch.buffer, batch.offsets, batch.lengths, LEAF_TAG)


def tree_levels(leaves: np.ndarray) -> list[np.ndarray]:
    """Every level of the tree, leaves first, the root's level last."""
    levels = [leaves]
    while levels[-1].shape[0] > 1:
        level = levels[-1]
        paired = level.shape[0] & ~1
        parents = fast.hash_parents(level[:paired], NODE_TAG)
        levels.append(np.concatenate([parents, level[paired:]]))
    return levels


def root_from_leaves(leaves: np.ndarray) -> bytes:
    if leaves.shape[0] == 0:
        return EMPTY_ROOT
    return tree_levels(leaves)[-1][0].tobytes()


def receipts_root(batch: EncodedBatch) -> bytes:
    return root_from_leaves(leaf_hashes(batch))


def reference_root(receipts: list[bytes]) -> bytes:
    """The plain blake3-package tree: the oracle the fast path must match."""
    level = [_leaf(data) for data in receipts]
    if not level:
        return EMPTY_ROOT
    while len(level) > 1:
        carried = [level[-1]] if len(level) % 2 else []
        pairs = zip(level[0::2], level[1::2], strict=False)
        level = [_parent(left, right) for left, right in pairs] + carried
    return level[0]


@dataclass(frozen=True)
class InclusionProof:
    """Siblings from leaf to root; levels where the node was carried have none."""

    index: int
    count: int
    siblings: tuple[bytes, ...]


def prove(leaves: np.ndarray, index: int) -> InclusionProof:
    count = leaves.shape[0]
    if not 0 <= index < count:
        raise IndexError(f"leaf index {index} is outside 0..{count - 1}")
    siblings = []
    for depth, level in enumerate(tree_levels(leaves)[:-1]):
        sibling = (index >> depth) ^ 1
        if sibling < level.shape[0]:
            siblings.append(level[sibling].tobytes())
    return InclusionProof(index, count, tuple(siblings))


def verify_proof(root: bytes, receipt: bytes, proof: InclusionProof) -> bool:
    """Recompute the path of `receipt` at proof.index; True when it reaches root."""
    if not 0 <= proof.index < proof.count:
        return False
    node, position, width = _leaf(receipt), proof.index, proof.count
    siblings = iter(proof.siblings)
    while width > 1:
        carried = position == width - 1 and width % 2 == 1
        if not carried:
            sibling = next(siblings, None)
            if sibling is None:
                return False
            left_first = position % 2 == 0
            node = _parent(node, sibling) if left_first else _parent(sibling, node)
        position, width = position // 2, (width + 1) // 2
    return next(siblings, None) is None and node == root


def _leaf(data: bytes) -> bytes:
    return blake3.blake3(bytes([LEAF_TAG]) + data).digest()


def _parent(left: bytes, right: bytes) -> bytes:
    return blake3.blake3(bytes([NODE_TAG]) + left + right).digest()
