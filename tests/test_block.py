"""Sealed blocks verify from their bytes alone; any damage is caught."""

from __future__ import annotations

import random

import msgspec
import pytest

from engine import pipeline
from engine.backend import CpuBackend
from engine.block import Block, parse_block, verify_block
from engine.demo import demo_receipts
from engine.encoding import ENCODER, encode_batch
from engine.errors import BlockInvalid, InvalidReceipts
from engine.header import Algo
from engine.limits import MAX_RECEIPTS
from engine.miner import mine
from engine.receipts import Receipt, StorageReceipt

HEIGHT = 4
EASY = (1 << 246) - 1


def sealed(count: int = 12, algo: Algo = Algo.BLAKE3, target: int = EASY) -> Block:
    batch = encode_batch(demo_receipts(count, HEIGHT))
    with CpuBackend() as backend:
        cand = pipeline.candidate(batch, backend, algo, HEIGHT, bytes(32), target)
        return pipeline.seal(cand, mine(backend, cand.header))


def reframed(block: Block, body: bytes) -> bytes:
    """The same header around another body, with a fresh checksum."""
    return Block(block.header, body).serialize()


@pytest.mark.parametrize("algo", list(Algo))
def test_sealed_block_verifies(algo: Algo) -> None:
    block = sealed(algo=algo)
    verified = verify_block(block.serialize())
    assert verified.receipts == demo_receipts(12, HEIGHT)
    assert verified.digest == block.digest


def test_empty_block_verifies() -> None:
    assert verify_block(sealed(count=0).serialize()).batch.count == 0


def test_every_region_of_the_file_detects_a_flipped_bit() -> None:
    data = sealed().serialize()
    rng = random.Random(41)
    positions = list(range(0, 160)) + rng.sample(range(160, len(data)), 300)
    for position in positions:
        for bit in (0, rng.randrange(8)):
            damaged = bytearray(data)
            damaged[position] ^= 1 << bit
            with pytest.raises(BlockInvalid):
                verify_block(bytes(damaged))


def test_tampered_receipt_fails_on_the_root() -> None:
    block = sealed()
    receipts = demo_receipts(12, HEIGHT)
    receipts[3] = StorageReceipt(**{**_fields(receipts[0]), "price": 1})
    with pytest.raises(BlockInvalid, match="receipts root"):
        verify_block(reframed(block, ENCODER.encode(receipts)))


def test_repeated_last_receipt_fails_on_the_root() -> None:
    block = sealed(count=5)
    receipts = demo_receipts(5, HEIGHT)
    with pytest.raises(BlockInvalid, match="receipts root"):
        verify_block(reframed(block, ENCODER.encode([*receipts, receipts[-1]])))


def test_non_canonical_body_is_refused() -> None:
    block = sealed(count=1)
    body = bytearray(block.body)
    # The signature nonce re-encoded as a uint64 instead of its shortest form.
    nonce = demo_receipts(1, HEIGHT)[0].signature_nonce
    body[-5:] = b"\xcf" + nonce.to_bytes(8, "big")
    with pytest.raises(BlockInvalid, match="canonical"):
        verify_block(reframed(block, bytes(body)))


def test_truncated_file_is_refused() -> None:
    data = sealed().serialize()
    for cut in (0, 10, 100, len(data) - 1):
        with pytest.raises(BlockInvalid):
            verify_block(data[:cut])


def test_wrong_magic_is_named() -> None:
    data = sealed().serialize()
    with pytest.raises(BlockInvalid, match="magic"):
        parse_block(b"XXXX" + data[4:])


def test_invalid_receipts_are_not_mined() -> None:
    receipts = demo_receipts(3, HEIGHT)
    batch = encode_batch(
        [*receipts, StorageReceipt(**{**_fields(receipts[0]), "price": 0})]
    )
    with CpuBackend() as backend, pytest.raises(InvalidReceipts):
        pipeline.candidate(batch, backend, Algo.BLAKE3, HEIGHT, bytes(32), EASY)


def test_receipts_past_the_limit_stay_pending() -> None:
    receipts = [_small(i) for i in range(MAX_RECEIPTS + 3)]
    with CpuBackend() as backend:
        cand = pipeline.candidate(
            encode_batch(receipts), backend, Algo.BLAKE3, HEIGHT, bytes(32), EASY
        )
    assert cand.batch.count == MAX_RECEIPTS
    assert cand.leftover is not None
    assert cand.leftover.body() == ENCODER.encode(receipts[MAX_RECEIPTS:])


def _fields(receipt: Receipt) -> dict[str, object]:
    return msgspec.structs.asdict(receipt)


def _small(i: int) -> StorageReceipt:
    return StorageReceipt(
        contract_id=f"c{i}", provider="p", bytes=1, price=1, block_height=HEIGHT,
        provider_escrow=0, provider_signature=b"s" * 64, signature_nonce=i,
    )  # fmt: skip
