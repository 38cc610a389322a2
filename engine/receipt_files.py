"""Receipt files: JSON (an array or JSON lines, bytes as hex) and msgpack.

A msgpack file is a batch in the canonical encoding (what `engine demo
--format msgpack` writes) and is decoded with the same bounded decoder as a
block body. JSON records are objects with a "type" field; every other key must
be a field of that type. Errors name the record's index and the field.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import msgspec

from engine.encoding import (
    ENCODER,
    EncodedBatch,
    HostAlloc,
    decode_batch,
    encode_batch,
)
from engine.errors import InputError, ReceiptError
from engine.limits import MAX_BLOCK_BYTES, MAX_RECEIPTS_FILE_BYTES
from engine.receipts import (
    BYTES_TYPES,
    KIND_BY_NAME,
    U64_MAX,
    Receipt,
    kind_of,
    u64_fields,
)

MSGPACK_SUFFIXES: Final = (".msgpack", ".mpk")
JSON_SUFFIXES: Final = (".json", ".jsonl")
UTF8_BOM: Final = b"\xef\xbb\xbf"
JSON_STARTS: Final = (b"[", b"{")


def read_file(path: Path, limit: int = MAX_RECEIPTS_FILE_BYTES) -> bytes:
    """A file's bytes, refusing one over `limit` before reading it whole."""
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}.") from exc
    if len(data) > limit:
        raise InputError(f"{path} is larger than the {limit:,}-byte limit.")
    return data


def load_receipts(
    path: Path, alloc: HostAlloc | None = None
) -> tuple[list[Receipt], EncodedBatch]:
    """Read a receipts file and encode it once (a msgpack file already is);
    `alloc` places the batch in a backend's (pinned) memory."""
    data = read_file(path)
    if is_msgpack(path, data):
        return decode_batch(data, max_bytes=MAX_BLOCK_BYTES, alloc=alloc)
    receipts = parse_json(data)
    return receipts, encode_batch(receipts, alloc)


def is_msgpack(path: Path, data: bytes) -> bool:
    """By suffix first (.json/.jsonl are JSON), else by the first byte."""
    if path.suffix in MSGPACK_SUFFIXES:
        return True
    if path.suffix in JSON_SUFFIXES:
        return False
    return not data.removeprefix(UTF8_BOM).lstrip().startswith(JSON_STARTS)


def parse_json(data: bytes) -> list[Receipt]:
    """Records from a JSON array or JSON lines, converted with named errors."""
    text = _utf8(data.removeprefix(UTF8_BOM))
    stripped = text.lstrip()
    if not stripped:
        raise ReceiptError("the file holds no JSON (it is empty)")
    if stripped.startswith("["):
        records = _json_value(stripped, "the file")
        if not isinstance(records, list):
            raise ReceiptError("a JSON receipts file must be an array of objects.")
    else:
        lines = [line for line in text.splitlines() if line.strip()]
        records = [_json_value(line, f"line {n}") for n, line in enumerate(lines, 1)]
    return [to_receipt(index, record) for index, record in enumerate(records)]


def parse_record(index: int, text: str) -> Receipt:
    """One JSON object (a JSON line) as a receipt."""
    return to_receipt(index, _json_value(_utf8(text.encode()), f"line {index + 1}"))


def to_receipt(index: int, record: Any) -> Receipt:
    """One JSON record as a typed receipt; errors name index and field."""
    if not isinstance(record, dict):
        raise ReceiptError("expected a JSON object", index)
    if _DUPLICATE in record:
        raise ReceiptError("duplicate key in a JSON object", index, record[_DUPLICATE])
    if "type" not in record:
        raise ReceiptError("missing required field", index, "type")
    type_name = record.get("type")
    spec = KIND_BY_NAME.get(type_name) if isinstance(type_name, str) else None
    if spec is None:
        known = ", ".join(KIND_BY_NAME)
        raise ReceiptError(
            f"unknown type {type_name!r} (one of {known})", index, "type"
        )
    unknown = [key for key in record if key != "type" and key not in spec.fields]
    if unknown:
        raise ReceiptError(
            f"unknown field for a {spec.name} receipt", index, unknown[0]
        )

    values: list[Any] = [spec.code]
    for field in msgspec.structs.fields(spec.cls):
        if field.name not in record:
            if field.required:
                raise ReceiptError("missing required field", index, field.name)
            values.append(field.default)
            continue
        values.append(_from_json(index, field, record[field.name]))
    return _convert(index, spec.cls, values)


def _from_json(index: int, field: msgspec.structs.FieldInfo, value: Any) -> Any:
    """Hex strings become bytes for the byte fields; the rest passes through."""
    if isinstance(value, _Float):
        raise ReceiptError(f"expected an integer, got {value.text}", index, field.name)
    if field.type not in BYTES_TYPES or value is None:
        return value
    if not isinstance(value, str):
        raise ReceiptError("expected a hex string", index, field.name)
    if len(value) % 2:
        raise ReceiptError(
            f"a hex string needs an even number of digits, got {len(value)}",
            index, field.name,
        )  # fmt: skip
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise ReceiptError(
            f"not a hex string: {value[:40]!r}", index, field.name
        ) from None


def _convert(index: int, cls: type, values: list[Any]) -> Receipt:
    try:
        receipt = msgspec.convert(values, cls)
    except msgspec.ValidationError as exc:
        message, _, path = str(exc).partition(" - at `$[")
        position = int(path.split("]")[0]) if path else 0
        name = cls.__struct_fields__[position - 1] if position else "type"
        raise ReceiptError(message, index, name) from None
    for name in u64_fields(cls):
        if getattr(receipt, name) > U64_MAX:
            raise ReceiptError(f"integer out of range (at most {U64_MAX})", index, name)
    return receipt


def _utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ReceiptError(f"the file is not UTF-8 (byte {exc.start})") from None


def _json_value(text: str, where: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_pairs, parse_float=_Float)
    except json.JSONDecodeError as exc:
        raise ReceiptError(f"{where} is not valid JSON: {exc}") from None
    except RecursionError:
        raise ReceiptError(f"{where} is nested too deeply") from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise ReceiptError(f"{where} holds an unreadable value: {exc}") from None


class _Float:
    """A JSON number with a fraction or exponent, kept to be refused by name."""

    def __init__(self, text: str) -> None:
        self.text = text


# A key no JSON object can hold: marks an object that repeated a key, so the
# error can name the receipt once its index is known.
_DUPLICATE: Final = object()


def _pairs(pairs: list[tuple[str, Any]]) -> dict[Any, Any]:
    record: dict[Any, Any] = dict(pairs)
    if len(record) != len(pairs):
        seen: set[str] = set()
        record[_DUPLICATE] = next(k for k, _ in pairs if k in seen or seen.add(k))
    return record


def receipt_to_json(receipt: Receipt) -> dict[str, Any]:
    """A receipt as a JSON-ready dict: "type" first, bytes as hex."""
    record: dict[str, Any] = {"type": kind_of(receipt).name}
    for name in receipt.__struct_fields__:
        value = getattr(receipt, name)
        record[name] = value.hex() if isinstance(value, bytes) else value
    return record


def encode_receipts(receipts: Sequence[Receipt], fmt: str = "json") -> bytes:
    """A receipts file's bytes: json, jsonl or msgpack (canonical)."""
    if fmt == "msgpack":
        return ENCODER.encode(list(receipts))
    if fmt == "jsonl":
        lines = [msgspec.json.encode(receipt_to_json(r)) for r in receipts]
        return b"".join(line + b"\n" for line in lines)
    return msgspec.json.format(
        msgspec.json.encode([receipt_to_json(r) for r in receipts]), indent=1
    )


def write_receipts(path: Path, receipts: Sequence[Receipt], fmt: str = "json") -> int:
    """Write a receipts file; returns the bytes written."""
    data = encode_receipts(receipts, fmt)
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}.") from exc
    return len(data)
