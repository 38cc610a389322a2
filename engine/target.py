"""Proof-of-work targets: leading zero bits, Bitcoin compact bits, raw hex.

A hash wins when its value (see header.hash_value) is <= the target. Compact
bits follow Bitcoin's nBits: one exponent byte (the target's length in bytes)
and a 23-bit mantissa with a sign bit at 0x00800000.
"""

from __future__ import annotations

from typing import Final

from engine.errors import TargetError

HASH_BITS: Final = 256
MAX_TARGET: Final = (1 << HASH_BITS) - 1
TARGET_HEX_DIGITS: Final = 64
COMPACT_SIGN: Final = 0x0080_0000
COMPACT_MANTISSA: Final = 0x007F_FFFF
COMPACT_MAX: Final = 0xFFFF_FFFF
MANTISSA_BYTES: Final = 3
MAX_TARGET_BYTES: Final = HASH_BITS // 8


def from_difficulty_bits(bits: int) -> int:
    """The largest target whose winners have `bits` leading zero bits."""
    if not 0 <= bits < HASH_BITS:
        raise TargetError(f"difficulty bits must be 0..{HASH_BITS - 1}, got {bits}.")
    return (1 << (HASH_BITS - bits)) - 1


def from_compact(bits: int) -> int:
    """Decode compact bits; refuse a sign bit, a zero target and overflow."""
    if not 0 <= bits <= COMPACT_MAX:
        raise TargetError(f"compact bits {bits:#x} do not fit in 32 bits.")
    exponent, mantissa = bits >> 24, bits & COMPACT_MANTISSA
    if bits & COMPACT_SIGN:
        raise TargetError(f"compact bits {bits:#010x} have the sign bit set.")
    if exponent <= MANTISSA_BYTES:
        target = mantissa >> (8 * (MANTISSA_BYTES - exponent))
    else:
        target = mantissa << (8 * (exponent - MANTISSA_BYTES))
    if target == 0:
        raise TargetError(f"compact bits {bits:#010x} decode to a zero target.")
    if target > MAX_TARGET:
        raise TargetError(f"compact bits {bits:#010x} overflow 256 bits.")
    return target


def to_compact(target: int) -> int:
    """Encode a target as compact bits, rounding the mantissa down."""
    _check_range(target)
    size = (target.bit_length() + 7) // 8
    if size <= MANTISSA_BYTES:
        mantissa = target << (8 * (MANTISSA_BYTES - size))
    else:
        mantissa = target >> (8 * (size - MANTISSA_BYTES))
    # A mantissa with its top bit set would read as negative: shift it out.
    if mantissa & COMPACT_SIGN:
        mantissa >>= 8
        size += 1
    return (size << 24) | mantissa


def round_to_compact(target: int) -> int:
    """The largest compact-representable target not above `target`."""
    return from_compact(to_compact(target))


def from_hex(text: str) -> int:
    """A target spelled as 64 hex digits (big-endian)."""
    digits = text.removeprefix("0x")
    if len(digits) != TARGET_HEX_DIGITS:
        raise TargetError(
            f"a target needs {TARGET_HEX_DIGITS} hex digits, "
            f"got {len(digits)}: {text!r}."
        )
    try:
        target = int.from_bytes(bytes.fromhex(digits), "big")
    except ValueError:
        raise TargetError(f"target {text!r} is not hexadecimal.") from None
    _check_range(target)
    return target


def to_hex(target: int) -> str:
    return f"{target:0{TARGET_HEX_DIGITS}x}"


def to_bytes(target: int) -> bytes:
    """The target as 32 big-endian bytes, as search kernels take it."""
    return target.to_bytes(MAX_TARGET_BYTES, "big")


def leading_zero_bits(target: int) -> int:
    return HASH_BITS - target.bit_length()


def _check_range(target: int) -> None:
    if not 0 < target <= MAX_TARGET:
        raise TargetError(f"a target must be 1..2**256-1, got {target:#x}.")
