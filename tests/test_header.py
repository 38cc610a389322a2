"""Header layouts: real Bitcoin headers parse, hash and re-serialize exactly."""

from __future__ import annotations

from typing import Any

import pytest

from engine.errors import InputError
from engine.header import (
    Algo,
    Header,
    display_hash,
    hash_value,
    parse_display_hash,
    parse_header,
)


def blake3_header(**changes: Any) -> Header:
    fields: dict[str, Any] = dict(
        algo=Algo.BLAKE3, version=1, height=9, prev_hash=bytes(range(32)),
        receipts_root=bytes(range(32, 64)), timestamp_ms=1_700_000_000_123,
        target=(1 << 240) - 1, nonce=2**64 - 1,
    )  # fmt: skip
    return Header(**{**fields, **changes})


def test_bitcoin_headers_round_trip(bitcoin_blocks: list[dict[str, Any]]) -> None:
    for block in bitcoin_blocks:
        raw = bytes.fromhex(block["header_hex"])
        header = parse_header(Algo.SHA256D, raw)
        assert header.serialize() == raw
        assert header.nonce == block["nonce"]


def test_bitcoin_block_hashes(bitcoin_blocks: list[dict[str, Any]]) -> None:
    for block in bitcoin_blocks:
        header = parse_header(Algo.SHA256D, bytes.fromhex(block["header_hex"]))
        digest = header.digest()
        assert display_hash(Algo.SHA256D, digest) == block["block_hash"]
        assert hash_value(Algo.SHA256D, digest) <= int(block["target"], 16)


def test_blake3_header_is_124_bytes_with_the_nonce_last() -> None:
    data = blake3_header().serialize()
    assert len(data) == 124 and data[-8:] == b"\xff" * 8


def test_blake3_header_round_trips() -> None:
    header = blake3_header()
    assert parse_header(Algo.BLAKE3, header.serialize()) == header


def test_prefix_is_everything_but_the_nonce() -> None:
    header = blake3_header()
    assert header.prefix() == header.with_nonce(0).serialize()[:-8]


def test_blake3_hash_reads_big_endian_and_displays_as_is() -> None:
    digest = bytes([1]) + bytes(31)
    assert hash_value(Algo.BLAKE3, digest) == 1 << 248
    assert display_hash(Algo.BLAKE3, digest).startswith("01")


def test_sha256d_prev_hash_is_given_in_display_order() -> None:
    shown = "00" * 31 + "ab"
    assert parse_display_hash(Algo.SHA256D, shown)[0] == 0xAB


def test_wrong_header_length_is_refused() -> None:
    with pytest.raises(InputError, match="80 bytes"):
        parse_header(Algo.SHA256D, bytes(79))
