"""The nonce search contract shared by every backend, and its plain oracle.

A search tries each nonce of [start, start + count) exactly once, in the
header's nonce field, never past that field's maximum; it returns the lowest
winning nonce of the range (a hash wins when its value <= target) and how many
nonces were hashed. Everything before the nonce is fixed for a job, so a
backend precomputes it once (the midstate) and the cost per nonce does not
depend on what the header commits to.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from types import ModuleType
from typing import Any

from engine import target as targets
from engine.cpu import blake3 as cpu_blake3
from engine.cpu import sha256 as cpu_sha256
from engine.header import SPECS, Algo, hash_header, hash_value

KERNELS: dict[Algo, ModuleType] = {Algo.BLAKE3: cpu_blake3, Algo.SHA256D: cpu_sha256}


@dataclass(frozen=True)
class SearchJob:
    """A header prefix (every byte before the nonce) and the target to beat."""

    algo: Algo
    prefix: bytes
    target: int

    @property
    def nonce_limit(self) -> int:
        return SPECS[self.algo].nonce_limit

    @cached_property
    def midstate(self) -> Any:
        """The nonce-independent hash state, computed once per job on the host."""
        return KERNELS[self.algo].midstate(self.prefix)

    @cached_property
    def target_bytes(self) -> bytes:
        return targets.to_bytes(self.target)

    def header_bytes(self, nonce: int) -> bytes:
        width = SPECS[self.algo].nonce_bits // 8
        return self.prefix + nonce.to_bytes(width, "little")

    def digest(self, nonce: int) -> bytes:
        return hash_header(self.algo, self.header_bytes(nonce))


@dataclass(frozen=True)
class SearchResult:
    nonce: int | None
    hashes: int
    digest: bytes | None = None


def check_range(job: SearchJob, start: int, count: int) -> None:
    if start < 0 or count < 0:
        raise ValueError(
            f"a nonce range needs start, count >= 0, got {start}, {count}."
        )
    if start + count > job.nonce_limit:
        raise ValueError(
            f"nonces {start}..{start + count - 1} pass the {job.algo} nonce field's "
            f"maximum {job.nonce_limit - 1}."
        )


def confirm(job: SearchJob, nonce: int) -> bytes:
    """Re-hash a reported winner with the oracle; a mismatch is a backend bug."""
    digest = job.digest(nonce)
    if hash_value(job.algo, digest) > job.target:
        raise RuntimeError(
            f"the backend reported nonce {nonce} for {job.algo}, but its hash "
            f"{digest.hex()} does not meet the target {targets.to_hex(job.target)}."
        )
    return digest


def reference_search(job: SearchJob, start: int, count: int) -> SearchResult:
    """The plain Python per-nonce loop: the oracle every backend must match."""
    check_range(job, start, count)
    kernel = KERNELS[job.algo]
    nonce, hashes = kernel.reference_search(job.prefix, job.target_bytes, start, count)
    digest = None if nonce is None else job.digest(nonce)
    return SearchResult(nonce, hashes, digest)
