"""Receipt files: JSON arrays, JSON lines and msgpack, with named errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engine.demo import demo_receipts
from engine.errors import InputError, ReceiptError
from engine.receipt_files import (
    load_receipts,
    parse_json,
    receipt_to_json,
    write_receipts,
)

HEIGHT = 3


def record(**changes: Any) -> dict[str, Any]:
    base = receipt_to_json(demo_receipts(1, HEIGHT)[0])
    base.update(changes)
    return base


def parse_one(rec: dict[str, Any]) -> Any:
    return parse_json(json.dumps([rec]).encode())[0]


@pytest.mark.parametrize("fmt", ["json", "jsonl", "msgpack"])
def test_each_format_round_trips(tmp_path: Path, fmt: str) -> None:
    receipts = demo_receipts(12, HEIGHT)
    path = tmp_path / f"r.{fmt}"
    write_receipts(path, receipts, fmt)
    assert load_receipts(path)[0] == receipts


def test_byte_fields_are_hex_in_json() -> None:
    rec = record()
    assert bytes.fromhex(rec["provider_signature"]) == parse_one(rec).provider_signature


def test_unknown_field_is_named() -> None:
    with pytest.raises(ReceiptError, match="unknown field") as err:
        parse_one(record(colour="red"))
    assert (err.value.index, err.value.field) == (0, "colour")


def test_missing_field_is_named() -> None:
    rec = record()
    del rec["price"]
    with pytest.raises(ReceiptError, match="missing") as err:
        parse_one(rec)
    assert err.value.field == "price"


def test_unknown_type_is_named() -> None:
    with pytest.raises(ReceiptError, match="unknown type") as err:
        parse_one(record(type="water"))
    assert err.value.field == "type"


@pytest.mark.parametrize("value", [2**64, -1])
def test_amount_outside_u64_is_refused(value: int) -> None:
    with pytest.raises(ReceiptError, match=r"range|>= 0") as err:
        parse_one(record(bytes=value))
    assert err.value.field == "bytes"


def test_largest_u64_is_accepted() -> None:
    assert parse_one(record(bytes=2**64 - 1)).bytes == 2**64 - 1


def test_float_amount_is_named() -> None:
    rec = record(bytes=1.5)
    with pytest.raises(ReceiptError, match=r"integer, got 1\.5") as err:
        parse_json(json.dumps([record(), rec]).encode())
    assert (err.value.index, err.value.field) == (1, "bytes")


def test_wrong_type_is_named() -> None:
    with pytest.raises(ReceiptError) as err:
        parse_one(record(provider=7))
    assert err.value.field == "provider"


def test_bad_hex_is_named() -> None:
    with pytest.raises(ReceiptError, match="hex") as err:
        parse_one(record(provider_signature="zz"))
    assert err.value.field == "provider_signature"


def test_duplicate_key_names_receipt_and_key() -> None:
    second = json.dumps(record())[:-1] + ', "price": 2}'
    with pytest.raises(ReceiptError, match="duplicate") as err:
        parse_json(f"[{json.dumps(record())}, {second}]".encode())
    assert (err.value.index, err.value.field) == (1, "price")


def test_missing_type_is_named() -> None:
    rec = record()
    del rec["type"]
    with pytest.raises(ReceiptError, match="missing") as err:
        parse_one(rec)
    assert err.value.field == "type"


def test_odd_length_hex_is_named() -> None:
    with pytest.raises(ReceiptError, match="even number") as err:
        parse_one(record(provider_signature="abc"))
    assert err.value.field == "provider_signature"


def test_huge_json_integer_is_an_error_not_a_crash() -> None:
    text = b'[{"type": "ad", "spend": ' + b"9" * 5_000 + b"}]"
    with pytest.raises(ReceiptError, match="unreadable"):
        parse_json(text)


def test_bom_and_empty_json_files(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    write_receipts(path, demo_receipts(2, HEIGHT))
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert len(load_receipts(path)[0]) == 2
    path.write_bytes(b"  ")
    with pytest.raises(ReceiptError, match="empty"):
        load_receipts(path)


def test_json_lines_index_each_record() -> None:
    lines = [json.dumps(record()), json.dumps(record(price="9"))]
    with pytest.raises(ReceiptError) as err:
        parse_json("\n".join(lines).encode())
    assert (err.value.index, err.value.field) == (1, "price")


def test_deeply_nested_json_is_refused() -> None:
    with pytest.raises(ReceiptError, match=r"nested|JSON"):
        parse_json(b"[" * 200_000 + b"]" * 200_000)


def test_unreadable_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        load_receipts(tmp_path / "missing.json")
