"""A deterministic, valid demo batch of mixed receipts.

The same (count, height, seed) always gives the same receipts, so a demo
block, a test and a benchmark can all be reproduced byte for byte.
"""

from __future__ import annotations

import random
from typing import Final

import blake3

from engine import signing
from engine.receipts import (
    KINDS,
    AdReceipt,
    ComputeReceipt,
    EnergyReceipt,
    Receipt,
    StorageReceipt,
)
from engine.registry import demo_key

DEFAULT_SEED: Final = 2026
REGIONS: Final = ("eu-west", "us-east", "ap-south", None)
PROVIDERS: Final = 64


def demo_receipts(count: int, height: int, seed: int = DEFAULT_SEED) -> list[Receipt]:
    """`count` valid receipts for block `height`, the four kinds in turn."""
    rng = random.Random(seed * 1_000_003 + height)
    return [demo_receipt(rng, i % len(KINDS), i, height) for i in range(count)]


def demo_receipt(rng: random.Random, kind: int, serial: int, height: int) -> Receipt:
    """One valid receipt of `kind` (a KINDS code), signed by its provider's
    demo key (engine.registry); `serial` makes its ids."""
    makers = (_storage, _compute, _energy, _ad)
    receipt = makers[kind](rng, serial, height)
    return signing.sign(receipt, demo_key(signing.signer(receipt)))


def _provider(rng: random.Random) -> str:
    return f"prov-{rng.randrange(PROVIDERS):02d}"


def _storage(rng: random.Random, i: int, height: int) -> StorageReceipt:
    return StorageReceipt(
        contract_id=f"sc-{i:06d}",
        provider=_provider(rng),
        bytes=rng.randrange(1, 1 << 30),
        price=rng.randrange(1, 1 << 24),
        block_height=height,
        provider_escrow=rng.randrange(0, 1 << 32),
        region=rng.choice(REGIONS),
        chunk_hash=blake3.blake3(i.to_bytes(8, "little")).digest()
        if i % 8 == 0
        else None,
        provider_signature=b"",
        signature_nonce=rng.randrange(1 << 32),
    )


def _compute(rng: random.Random, i: int, height: int) -> ComputeReceipt:
    return ComputeReceipt(
        job_id=f"job-{i:06d}",
        provider=_provider(rng),
        compute_units=rng.randrange(1, 1 << 20),
        payment=rng.randrange(1, 1 << 32),
        block_height=height,
        verified=rng.random() < 0.5,
        provider_signature=b"",
        signature_nonce=rng.randrange(1 << 32),
    )


def _energy(rng: random.Random, i: int, height: int) -> EnergyReceipt:
    return EnergyReceipt(
        contract_id=f"ec-{i:06d}",
        provider=_provider(rng),
        energy_units=rng.randrange(1, 1 << 24),
        price=rng.randrange(1, 1 << 20),
        block_height=height,
        proof_hash=blake3.blake3(b"proof" + i.to_bytes(8, "little")).digest(),
        provider_signature=b"",
        signature_nonce=rng.randrange(1 << 32),
    )


def _ad(rng: random.Random, i: int, height: int) -> AdReceipt:
    return AdReceipt(
        campaign_id=f"cmp-{i % 97:03d}",
        creative_id=f"cr-{i:06d}",
        publisher=f"pub-{rng.randrange(PROVIDERS):02d}",
        impressions=rng.randrange(1, 200_000),
        spend=rng.randrange(1, 1 << 32),
        block_height=height,
        conversions=rng.randrange(0, 1 << 16),
        publisher_signature=b"",
        signature_nonce=rng.randrange(1 << 32),
    )
