"""Targets: difficulty bits, Bitcoin compact bits and hex."""

from __future__ import annotations

from typing import Any

import pytest

from engine import target as t
from engine.errors import TargetError

GENESIS_TARGET = 0x00000000FFFF << 208


def test_difficulty_bits_give_that_many_leading_zeros() -> None:
    assert t.from_difficulty_bits(24) == (1 << 232) - 1
    assert t.leading_zero_bits(t.from_difficulty_bits(24)) == 24


@pytest.mark.parametrize("bits", [-1, 256])
def test_difficulty_bits_outside_the_hash_are_refused(bits: int) -> None:
    with pytest.raises(TargetError):
        t.from_difficulty_bits(bits)


def test_genesis_compact_bits() -> None:
    assert t.from_compact(0x1D00FFFF) == GENESIS_TARGET


def test_real_headers_bits_round_trip(bitcoin_blocks: list[dict[str, Any]]) -> None:
    for block in bitcoin_blocks:
        bits = int(block["bits"], 16)
        assert t.from_compact(bits) == int(block["target"], 16)
        assert t.to_compact(t.from_compact(bits)) == bits


@pytest.mark.parametrize(
    ("bits", "why"),
    [
        (0x1D80FFFF, "sign bit"),
        (0x01800000, "sign bit"),
        (0x1D000000, "zero"),
        (0x01003456, "zero"),
        (0x00000000, "zero"),
        (0x2200FFFF, "overflow"),
        (0x21010000, "overflow"),
        (0xFF123456, "overflow"),
    ],
)
def test_bad_compact_bits_are_refused(bits: int, why: str) -> None:
    with pytest.raises(TargetError, match=why):
        t.from_compact(bits)


def test_small_exponents_shift_the_mantissa_right() -> None:
    assert t.from_compact(0x01120000) == 0x12
    assert t.from_compact(0x02123400) == 0x1234


def test_largest_compact_target_fits() -> None:
    assert t.from_compact(0x2100FFFF) == 0xFFFF << 240


def test_to_compact_avoids_the_sign_bit() -> None:
    assert t.to_compact(0x80) == 0x02008000


def test_rounding_to_compact_never_raises_the_target() -> None:
    target = t.from_difficulty_bits(22)
    rounded = t.round_to_compact(target)
    assert rounded <= target and t.leading_zero_bits(rounded) == 22


def test_hex_targets_need_64_digits() -> None:
    assert t.from_hex("00" * 31 + "ff") == 0xFF
    with pytest.raises(TargetError, match="64 hex digits"):
        t.from_hex("ff")


@pytest.mark.parametrize("text", ["zz" * 32, "0_" * 32, "00" * 32])
def test_bad_or_zero_hex_targets_are_refused(text: str) -> None:
    with pytest.raises(TargetError):
        t.from_hex(text)
