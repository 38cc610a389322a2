"""Hostile input: the decoder, the JSON parser, the rules and the verifier.

Whatever the bytes, only the engine's own errors come out (ReceiptError,
BlockInvalid, InputError), within a wall-clock guard and a memory bound of a
small multiple of the input. Decoded bytes are canonical: they re-encode to
exactly themselves. The validator is checked against a plain per-receipt
re-statement of README's rules (the oracle below, no numpy).

Hypothesis runs derandomized and without a database, so CI is reproducible.
"""

from __future__ import annotations

import contextlib
import json
import threading
import tracemalloc
from collections.abc import Callable
from functools import cache
from typing import Any, Final, TypeVar

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import limits, pipeline
from engine.backend import CpuBackend
from engine.block import Block, verify_block
from engine.demo import demo_receipts
from engine.encoding import ENCODER, decode_batch, encode_batch, index_batch
from engine.errors import BlockInvalid, InputError, ReceiptError
from engine.header import Algo
from engine.miner import mine
from engine.receipt_files import parse_json, receipt_to_json
from engine.receipts import (
    U32,
    U64,
    AdReceipt,
    ComputeReceipt,
    EnergyReceipt,
    Receipt,
    StorageReceipt,
)
from engine.validation import check_columns, report

T = TypeVar("T")

HEIGHT: Final = 7
EASY: Final = (1 << 246) - 1
ENGINE_ERRORS: Final = (ReceiptError, BlockInvalid, InputError)
GUARD_S: Final = 10.0
MIB: Final = 1 << 20
# Filler after a length prefix: fewer bytes than any claim below (0xFFFF).
PAD: Final = b"\x00" * (48 * 1024)

FUZZ = settings(max_examples=200, deadline=None, derandomize=True, database=None)

# Characters of every UTF-8 width (1 to 4 bytes), NUL included; an explicit
# alphabet keeps Hypothesis from building (and caching) a Unicode table.
CHARS: Final = "aZ9-_ \x00\x7f\xe9\xdf\u20ac\u4e2d\U0001d11e"


# Guards -------------------------------------------------------------------


def bounded(call: Callable[[], T], seconds: float = GUARD_S) -> T:
    """call()'s result or error, failing the test if it runs past `seconds`."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # handed back to the test's thread
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s: a hang"
    if "error" in box:
        raise box["error"]
    return box["value"]


def peak_memory(call: Callable[[], object]) -> int:
    """Peak traced bytes of one call; a first untraced call loads the kernels."""
    _quietly(call)
    tracemalloc.start()
    try:
        _quietly(call)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _quietly(call: Callable[[], object]) -> None:
    with contextlib.suppress(*ENGINE_ERRORS):
        call()


def memory_bound(data: bytes) -> int:
    return 64 * len(data) + MIB


def decodes_canonically(data: bytes) -> bool:
    """False for a ReceiptError; True when the receipts re-encode to `data`."""
    try:
        receipts, batch = decode_batch(data)
    except ReceiptError:
        return False
    assert ENCODER.encode(receipts) == data
    assert batch.count == len(receipts)
    return True


def verify_fails(data: bytes) -> BlockInvalid:
    with pytest.raises(BlockInvalid) as err:
        verify_block(data)
    return err.value


# Templates and strategies ---------------------------------------------------

KIND_NAMES: Final = ("storage", "compute", "energy", "ad")
TEMPLATES: Final = dict(zip(KIND_NAMES, demo_receipts(4, HEIGHT), strict=True))


def elements(receipt: Receipt) -> list[Any]:
    """A receipt's array form: [tag, field, ...]."""
    return msgspec.msgpack.decode(ENCODER.encode(receipt))


def fix_array(items: list[bytes]) -> bytes:
    """A msgpack array (under 16 elements) of already encoded elements."""
    return bytes([0x90 + len(items)]) + b"".join(items)


def with_element(receipt: Receipt, position: int, raw: bytes) -> bytes:
    """A receipt's encoding with one element of its array form replaced."""
    items = [ENCODER.encode(value) for value in elements(receipt)]
    items[position] = raw
    return fix_array(items)


def integer_positions(receipt: Receipt) -> list[tuple[int, str]]:
    fields = msgspec.structs.fields(type(receipt))
    return [(j, f.name) for j, f in enumerate(fields, 1) if f.type in (U64, U32)]


BOUNDARY_U64: Final = (0, 1, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32)
U64S = st.one_of(
    st.sampled_from((*BOUNDARY_U64, 999, 1000, 9_999, 10_000, 10**9, 2**64 - 1)),
    st.integers(0, 2**64 - 1),
)
U32S = st.one_of(st.sampled_from(BOUNDARY_U64[:-1]), st.integers(0, 2**32 - 1))
HEIGHTS = st.one_of(st.just(HEIGHT), U64S)
# UTF-8 lengths around the 256-byte limit, in 1-, 2-, 3- and 4-byte characters.
EDGE_STRINGS: Final = tuple(
    char * (256 // len(char.encode()) + extra)
    for char in ("a", "\xe9", "\u20ac", "\U0001d11e")
    for extra in (0, 1)
)
STRINGS = st.one_of(
    st.just(""),
    st.text(CHARS, max_size=12),
    st.sampled_from(EDGE_STRINGS),
    st.text(CHARS, min_size=60, max_size=300),
)
SIGNATURES = st.integers(0, 130).flatmap(lambda n: st.binary(min_size=n, max_size=n))
HASHES = st.binary(min_size=32, max_size=32)

STORAGE = st.builds(
    StorageReceipt, contract_id=STRINGS, provider=STRINGS, bytes=U64S, price=U64S,
    block_height=HEIGHTS, provider_escrow=U64S, region=st.none() | STRINGS,
    chunk_hash=st.none() | HASHES, provider_signature=SIGNATURES,
    signature_nonce=U64S,
)  # fmt: skip
COMPUTE = st.builds(
    ComputeReceipt, job_id=STRINGS, provider=STRINGS, compute_units=U64S,
    payment=U64S, block_height=HEIGHTS, verified=st.booleans(),
    provider_signature=SIGNATURES, signature_nonce=U64S,
)  # fmt: skip
ENERGY = st.builds(
    EnergyReceipt, contract_id=STRINGS, provider=STRINGS, energy_units=U64S,
    price=U64S, block_height=HEIGHTS, proof_hash=HASHES,
    provider_signature=SIGNATURES, signature_nonce=U64S,
)  # fmt: skip
AD = st.builds(
    AdReceipt, campaign_id=STRINGS, creative_id=STRINGS, publisher=STRINGS,
    impressions=U64S, spend=U64S, block_height=HEIGHTS, conversions=U32S,
    publisher_signature=SIGNATURES, signature_nonce=U64S,
)  # fmt: skip
RECEIPTS = st.one_of(STORAGE, COMPUTE, ENERGY, AD)

EDGE_BATCH: Final = ENCODER.encode(
    [
        StorageReceipt(
            contract_id="", provider="\U0001d11e" * 65, bytes=2**64 - 1, price=0,
            block_height=2**32, provider_escrow=128, region=None,
            chunk_hash=bytes(32), provider_signature=b"", signature_nonce=65536,
        ),
        AdReceipt(
            campaign_id="a" * 300, creative_id="\xe9", publisher="p",
            impressions=256, spend=2**32 - 1, block_height=0, conversions=2**32 - 1,
            publisher_signature=b"s" * 130, signature_nonce=127,
        ),
    ]
)  # fmt: skip
BASES: Final = (
    *(ENCODER.encode(demo_receipts(n, HEIGHT)) for n in (1, 4, 9)),
    EDGE_BATCH,
)
FORMAT_BYTES = st.sampled_from(
    b"\x00\x7f\x80\x90\x91\x9f\xa0\xbf\xc0\xc1\xc2\xc3\xc4\xc5\xc6\xca\xcb"
    b"\xcc\xcd\xce\xcf\xd0\xd3\xd9\xda\xdb\xdc\xdd\xe0\xff"
)
BYTE_VALUES = st.one_of(FORMAT_BYTES, st.integers(0, 255))


@st.composite
def mutated(draw: st.DrawFn, bases: tuple[bytes, ...] = BASES) -> bytes:
    """A valid base with one to four flips, inserts, deletions or overwrites."""
    data = bytearray(draw(st.sampled_from(bases)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        op = draw(st.sampled_from(("flip", "insert", "delete", "overwrite")))
        if op == "insert" or not data:
            data[at:at] = bytes(draw(st.lists(BYTE_VALUES, min_size=1, max_size=5)))
        elif op == "flip":
            data[at] ^= draw(st.integers(1, 255))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 5))]
        else:
            data[at] = draw(BYTE_VALUES)
    return bytes(data)


# Msgpack fragments that steer the scanner past its first checks.
HEADS = st.sampled_from(
    (b"\x91\x9b\x00", b"\x91\x99\x01", b"\x91\x99\x02", b"\x91\x9a\x03", b"\x92",
     b"\xdc\x00\x10", b"\x91\x9b\xcc\x00", b"\x91\x90", b"\x90")
)  # fmt: skip
TOKENS = st.sampled_from(
    (b"\x00", b"\x7f", b"\xcc\x80", b"\xcd\x01\x00", b"\xce\x00\x01\x00\x00",
     b"\xcf\x00\x00\x00\x01\x00\x00\x00\x00", b"\xcc\x05", b"\xff", b"\xd0\x80",
     b"\xc0", b"\xc2", b"\xc3", b"\xa0", b"\xa3abc", b"\xd9\x20" + b"a" * 32,
     b"\xd9\x05abcde", b"\xc4\x00", b"\xc4\x20" + bytes(32), b"\xc4\x40" + bytes(64),
     b"\xdb\xff\xff\xff\xff", b"\xc6\xff\xff\xff\xff", b"\xca\x00\x00\x00\x00",
     b"\x80", b"\xa2\xff\xfe", b"\x9b\x00", b"\x91", b"\xdd\xff\xff\xff\xff")
)  # fmt: skip
SOUPS = st.builds(
    lambda head, tokens: head + b"".join(tokens), HEADS, st.lists(TOKENS, max_size=30)
)
ARITY: Final = {code: len(elements(r)) - 1 for code, r in enumerate(TEMPLATES.values())}
LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1), st.floats(),
    st.text(CHARS, max_size=40), st.binary(max_size=70),
    st.sampled_from((0, 1, HEIGHT, 2**64 - 1, "", b"", bytes(32), b"s" * 64)),
)  # fmt: skip
SHAPED = st.lists(
    st.sampled_from(sorted(ARITY)).flatmap(
        lambda k: st.lists(LEAVES, min_size=ARITY[k], max_size=ARITY[k]).map(
            lambda values: [k, *values]
        )
    ),
    max_size=4,
).map(msgspec.msgpack.encode)
ANY_MSGPACK = st.recursive(
    LEAVES,
    lambda kids: (
        st.lists(kids, max_size=12)
        | st.dictionaries(st.text(CHARS, max_size=5), kids, max_size=4)
    ),
    max_leaves=40,
).map(msgspec.msgpack.encode)


# The decoder: explicit cases --------------------------------------------------


def test_every_truncation_of_a_valid_batch_is_a_receipt_error() -> None:
    for data in (ENCODER.encode(demo_receipts(8, HEIGHT)), EDGE_BATCH):
        for cut in range(len(data)):
            with pytest.raises(ReceiptError):
                decode_batch(data[:cut])


def _bin32_signature() -> bytes:
    data = ENCODER.encode([TEMPLATES["storage"]])
    signature = TEMPLATES["storage"].provider_signature
    at = data.index(b"\xc4\x40" + signature)
    return data[:at] + b"\xc6\xff\xff\xff\xff"


HOSTILE_PREFIXES: Final = {
    "array32 batch": b"\xdd\xff\xff\xff\xff",
    "array32 receipt": b"\x91\xdd\xff\xff\xff\xff",
    "array16 batch": b"\xdc\xff\xff",
    "str32 field": b"\x91\x9b\x00\xdb\xff\xff\xff\xff",
    "str16 field": b"\x91\x9b\x00\xda\xff\xff",
    "bin32 signature": _bin32_signature(),
    "nested arrays": b"\x91" * 100_000 + b"\x90",
    "nested array32s": b"\xdd\x00\x00\x00\x01" * 20_000,
}


@pytest.mark.parametrize("prefix", HOSTILE_PREFIXES.values(), ids=HOSTILE_PREFIXES)
def test_huge_lengths_and_deep_nesting_are_refused_quickly_in_bounded_memory(
    prefix: bytes,
) -> None:
    data = prefix + PAD
    with pytest.raises(ReceiptError):
        bounded(lambda: decode_batch(data))
    assert peak_memory(lambda: decode_batch(data)) < memory_bound(data)


# A receipt count no larger than the bytes present passes count_receipts.
COUNT_CLAIMS: Final = {
    "array16": b"\xdc\xff\xff" + b"\x91" * 0xFFFF,
    "array32": b"\xdd\x00\x04\x00\x00" + b"\x00" * (1 << 18),
}


@pytest.mark.parametrize("data", COUNT_CLAIMS.values(), ids=COUNT_CLAIMS)
def test_a_receipt_count_as_large_as_the_input_allocates_in_bounded_memory(
    data: bytes,
) -> None:
    with pytest.raises(ReceiptError):
        bounded(lambda: decode_batch(data))
    assert peak_memory(lambda: decode_batch(data)) < memory_bound(data)


NEGATIVE_INTS: Final = {
    "negative fixint -1": b"\xff",
    "negative fixint -32": b"\xe0",
    "int8": b"\xd0\x80",
    "int8 holding +1": b"\xd0\x01",
    "int16": b"\xd1\x80\x00",
    "int32": b"\xd2\x80\x00\x00\x00",
    "int64": b"\xd3\x80" + bytes(7),
}
INT_CASES: Final = [
    pytest.param(kind, j, name, raw, id=f"{kind}.{name}.{label}")
    for kind, receipt in TEMPLATES.items()
    for j, name in [(0, "type"), *integer_positions(receipt)]
    for label, raw in NEGATIVE_INTS.items()
]


@pytest.mark.parametrize(("kind", "position", "name", "raw"), INT_CASES)
def test_a_signed_msgpack_integer_in_any_integer_field_is_named(
    kind: str, position: int, name: str, raw: bytes
) -> None:
    with pytest.raises(ReceiptError) as err:
        decode_batch(fix_array([with_element(TEMPLATES[kind], position, raw)]))
    assert (err.value.index, err.value.field) == (0, name)


BAD_UTF8: Final = (
    b"\xff",
    b"\xc0\x80",
    b"\xed\xa0\x80",
    b"\xe2\x82",
    b"\xf4\x90\x80\x80",
)
STRING_CASES: Final = [
    pytest.param(kind, j, bad, id=f"{kind}.{j}.{bad.hex()}")
    for kind, receipt in TEMPLATES.items()
    for j, value in enumerate(elements(receipt))
    if isinstance(value, str)
    for bad in BAD_UTF8
]


@pytest.mark.parametrize(("kind", "position", "bad"), STRING_CASES)
def test_invalid_utf8_in_any_msgpack_string_names_the_receipt(
    kind: str, position: int, bad: bytes
) -> None:
    bad_string = bytes([0xA0 + 2 + len(bad)]) + b"ok" + bad  # a fixstr
    sound = ENCODER.encode(TEMPLATES["ad"])
    data = fix_array([sound, with_element(TEMPLATES[kind], position, bad_string)])
    with pytest.raises(ReceiptError, match="UTF-8") as err:
        decode_batch(data)
    assert err.value.index == 1


# The decoder: properties ------------------------------------------------------


@FUZZ
@given(st.binary(max_size=600))
def test_random_bytes_decode_or_raise_a_receipt_error(data: bytes) -> None:
    decodes_canonically(data)


@FUZZ
@given(st.one_of(SOUPS, SHAPED, ANY_MSGPACK))
def test_msgpack_soup_decodes_canonically_or_raises_a_receipt_error(
    data: bytes,
) -> None:
    decodes_canonically(data)


@settings(FUZZ, max_examples=300)
@given(mutated())
def test_a_mutated_batch_decodes_to_exactly_itself_or_is_refused(data: bytes) -> None:
    decodes_canonically(data)


@settings(FUZZ, max_examples=150)
@given(st.lists(RECEIPTS, max_size=8))
def test_random_receipts_round_trip_through_one_buffer(receipts: list[Any]) -> None:
    batch = encode_batch(receipts)
    decoded, again = decode_batch(batch.body())
    assert decoded == receipts
    assert np.array_equal(again.columns.matrix, batch.columns.matrix)
    assert np.array_equal(again.offsets, batch.offsets)


# The validator against a plain oracle ----------------------------------------

# Per receipt type: (quantity, value, id0, id1, extra string, signature).
ROLES: Final = {
    StorageReceipt: ("bytes", "price", "contract_id", "provider", "region",
                     "provider_signature"),
    ComputeReceipt: ("compute_units", "payment", "job_id", "provider", None,
                     "provider_signature"),
    EnergyReceipt: ("energy_units", "price", "contract_id", "provider", None,
                    "provider_signature"),
    AdReceipt: ("impressions", "spend", "campaign_id", "publisher", "creative_id",
                "publisher_signature"),
}  # fmt: skip


def units(receipt: Receipt) -> int:
    """Verify units of one receipt, as limits.py states them."""
    if isinstance(receipt, StorageReceipt):
        extra = min(
            receipt.bytes // limits.STORAGE_BYTES_PER_UNIT, limits.STORAGE_MAX_EXTRA
        )
    elif isinstance(receipt, ComputeReceipt):
        extra = limits.COMPUTE_EXTRA + limits.COMPUTE_VERIFIED_EXTRA * receipt.verified
    elif isinstance(receipt, EnergyReceipt):
        extra = limits.ENERGY_EXTRA
    else:
        extra = min(
            receipt.impressions // limits.AD_IMPRESSIONS_PER_UNIT, limits.AD_MAX_EXTRA
        )
    return limits.VERIFY_BASE + extra


def receipt_rules(receipt: Receipt, height: int) -> list[tuple[str, str]]:
    """The (field, rule) pairs one receipt breaks on its own."""
    quantity, value, id0, id1, extra, signature = ROLES[type(receipt)]
    broken = []
    if receipt.block_height != height:
        broken.append(("block_height", "block_height_mismatch"))
    broken += [(f, "empty_string_field") for f in (id0, id1) if not getattr(receipt, f)]
    for name in (id0, id1, extra):
        text = getattr(receipt, name) if name else None
        if text is not None and len(text.encode()) > limits.MAX_STRING_BYTES:
            broken.append((name, "string_field_too_long"))
    broken += [(f, "zero_value") for f in (quantity, value) if getattr(receipt, f) == 0]
    length = len(getattr(receipt, signature))
    if length == 0:
        broken.append((signature, "empty_signature"))
    elif length != limits.SIGNATURE_BYTES:
        broken.append((signature, "malformed_signature"))
    return broken


def oracle(receipts: list[Any], height: int) -> list[tuple[int, str, str]]:
    """Every (index, field, rule) README's rules give, one receipt at a time."""
    expected = []
    end = len(msgspec.msgpack.encode(receipts)) - sum(
        len(msgspec.msgpack.encode(r)) for r in receipts
    )
    total = 0
    for index, receipt in enumerate(receipts):
        end += len(msgspec.msgpack.encode(receipt))
        total += units(receipt)
        budgets = (
            ("too_many_receipts", index >= limits.MAX_RECEIPTS),
            ("receipts_too_large", end > limits.MAX_BLOCK_BYTES),
            ("verify_budget_exceeded", total > limits.MAX_VERIFY_UNITS),
        )
        expected += [(index, "receipts", rule) for rule, over in budgets if over]
        expected += [(index, f, rule) for f, rule in receipt_rules(receipt, height)]
    return expected


def engine_errors(receipts: list[Any], height: int) -> list[tuple[int, str, str]]:
    batch = index_batch(np.frombuffer(ENCODER.encode(receipts), dtype=np.uint8))
    found = report(batch.columns, check_columns(batch.columns, height)).errors
    return [(e.index, e.field, e.rule) for e in found]


@settings(FUZZ, max_examples=150)
@given(st.lists(RECEIPTS, max_size=12))
def test_the_rule_mask_agrees_with_the_per_receipt_oracle(receipts: list[Any]) -> None:
    assert sorted(engine_errors(receipts, HEIGHT)) == sorted(oracle(receipts, HEIGHT))


COUNTS = st.one_of(
    st.integers(1_600, 10_050), st.sampled_from((9_999, 10_000, 10_001, 10_050))
)
CHEAP = st.one_of(
    STORAGE.map(lambda r: msgspec.structs.replace(r, contract_id="c", region=None)),
    COMPUTE.map(lambda r: msgspec.structs.replace(r, job_id="j")),
    AD.map(lambda r: msgspec.structs.replace(r, campaign_id="c", creative_id="r")),
)


@settings(FUZZ, max_examples=20)
@given(st.lists(CHEAP, min_size=1, max_size=6), COUNTS)
def test_budget_flags_agree_with_the_oracle_at_scale(
    pattern: list[Any], count: int
) -> None:
    receipts = (pattern * (count // len(pattern) + 1))[:count]
    assert sorted(engine_errors(receipts, HEIGHT)) == sorted(oracle(receipts, HEIGHT))


def test_receipts_too_large_starts_at_the_first_receipt_past_10_mb() -> None:
    big = msgspec.structs.replace(TEMPLATES["compute"], provider_signature=bytes(MIB))
    receipts = [big] * 11
    errors = engine_errors(receipts, HEIGHT)
    assert sorted(errors) == sorted(oracle(receipts, HEIGHT))
    assert {i for i, _, rule in errors if rule == "receipts_too_large"} == {9, 10}


def test_10001_receipts_flag_too_many_at_index_10000_only() -> None:
    # 10 verify units each, so the unit budget also breaks at 10,000 only.
    receipts = [msgspec.structs.replace(TEMPLATES["storage"], bytes=1)]
    errors = engine_errors(receipts * (limits.MAX_RECEIPTS + 1), HEIGHT)
    too_many = [i for i, _, rule in errors if rule == "too_many_receipts"]
    assert too_many == [limits.MAX_RECEIPTS]
    assert {i for i, _, _ in errors} == {limits.MAX_RECEIPTS}


# The JSON and JSON lines parser ----------------------------------------------


def json_record(kind: str, **changes: Any) -> dict[str, Any]:
    return {**receipt_to_json(TEMPLATES[kind]), **changes}


def parse_error(data: bytes) -> ReceiptError:
    with pytest.raises(ReceiptError) as err:
        bounded(lambda: parse_json(data))
    return err.value


HUGE_INTS: Final = (2**64, 2**100, 10**400, -1, -(2**63) - 1, -(2**64), -(10**400))
JSON_INT_CASES: Final = [
    pytest.param(
        kind, name, value, id=f"{kind}.{name}.{value.bit_length()}bit{value < 0:d}"
    )
    for kind, receipt in TEMPLATES.items()
    for _, name in integer_positions(receipt)
    for value in HUGE_INTS
]


@pytest.mark.parametrize(("kind", "name", "value"), JSON_INT_CASES)
def test_json_integers_outside_u64_name_their_field(
    kind: str, name: str, value: int
) -> None:
    data = json.dumps([json_record(kind, **{name: value})]).encode()
    err = parse_error(data)
    assert (err.index, err.field) == (0, name)


def test_json_conversions_beyond_32_bits_are_named() -> None:
    err = parse_error(json.dumps([json_record("ad", conversions=2**32)]).encode())
    assert (err.index, err.field) == (0, "conversions")


def _object_text(pairs: list[tuple[str, Any]]) -> str:
    return "{" + ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in pairs) + "}"


DUPLICATE_CASES: Final = [
    pytest.param(kind, key, id=f"{kind}.{key}")
    for kind in TEMPLATES
    for key in json_record(kind)
]


@pytest.mark.parametrize(("kind", "key"), DUPLICATE_CASES)
def test_a_duplicate_json_key_names_receipt_and_key(kind: str, key: str) -> None:
    record = json_record(kind)
    pairs = [*record.items(), (key, record[key])]
    data = f"[{_object_text(list(record.items()))}, {_object_text(pairs)}]"
    err = parse_error(data.encode())
    assert (err.index, err.field) == (1, key)


UNKNOWN_KEYS: Final = ("unknown", "", "Type", "provider ", "job_id", "\u4e2d", "__a")


@pytest.mark.parametrize("key", UNKNOWN_KEYS)
def test_an_unknown_json_field_is_named(key: str) -> None:
    data = json.dumps([json_record("storage", **{key: 1})]).encode()
    err = parse_error(data)
    assert (err.index, err.field) == (0, key)


@pytest.mark.parametrize("bad", BAD_UTF8, ids=[b.hex() for b in BAD_UTF8])
@pytest.mark.parametrize("lines", [False, True], ids=["array", "jsonl"])
def test_invalid_utf8_in_a_json_file_is_a_receipt_error(
    bad: bytes, lines: bool
) -> None:
    records = [json_record("compute"), json_record("energy")]
    text = "\n".join(map(json.dumps, records)) if lines else json.dumps(records)
    data = text.encode().replace(b"prov-", b"prov-" + bad, 1)
    assert "UTF-8" in str(parse_error(data))


DEEP_JSON: Final = {
    "array": b"[" * 100_000,
    "objects": b'[{"a":' * 100_000,
    "json lines": b'{"a":' * 100_000,
    "second line": b"{}\n" + b"[" * 100_000,
}


@pytest.mark.parametrize("data", DEEP_JSON.values(), ids=DEEP_JSON)
def test_deeply_nested_json_is_refused_in_bounded_memory(data: bytes) -> None:
    parse_error(data)
    assert peak_memory(lambda: parse_json(data)) < memory_bound(data)


WIDE_JSON: Final = {
    "array of objects": b"[" + b"{}," * 20_000 + b"{}]",
    "array of arrays": b"[" + b"[[]]," * 20_000 + b"[]]",
    "json lines": b"{}\n" * 20_000,
}


@pytest.mark.parametrize("data", WIDE_JSON.values(), ids=WIDE_JSON)
def test_many_small_json_values_stay_in_bounded_memory(data: bytes) -> None:
    parse_error(data)
    assert peak_memory(lambda: parse_json(data)) < memory_bound(data)


def loads_or_refuses(data: bytes) -> None:
    """parse_json, then encode_batch as load_receipts does: engine errors only."""
    with contextlib.suppress(ReceiptError):
        encode_batch(parse_json(data))


JSON_VALUES = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.sampled_from((*HUGE_INTS, 0, 2**64 - 1)),
        st.integers(), st.floats(), st.text(CHARS, max_size=20),
        st.sampled_from(("storage", "ad", "00" * 32, "zz", "0", "\ud800")),
    ),
    lambda kids: st.lists(kids, max_size=4)
    | st.dictionaries(st.text(CHARS), kids, max_size=3),
    max_leaves=12,
)  # fmt: skip
KEYS = st.sampled_from(sorted({k for kind in TEMPLATES for k in json_record(kind)}))


@st.composite
def json_files(draw: st.DrawFn) -> bytes:
    """Sound records with a few keys set to arbitrary JSON, as array or lines."""
    records = [json_record(k) for k in draw(st.lists(st.sampled_from(list(TEMPLATES))))]
    for _ in range(draw(st.integers(0, 3)) if records else 0):
        record = draw(st.sampled_from(records))
        record[draw(KEYS | st.text(CHARS, max_size=4))] = draw(JSON_VALUES)
    if draw(st.booleans()):
        return json.dumps(records).encode()
    return "\n".join(json.dumps(r) for r in records).encode()


@FUZZ
@given(json_files())
def test_arbitrary_json_values_load_or_raise_a_receipt_error(data: bytes) -> None:
    loads_or_refuses(data)


JSON_BASES: Final = (
    json.dumps([json_record(k) for k in TEMPLATES]).encode(),
    "\n".join(json.dumps(json_record(k)) for k in TEMPLATES).encode(),
)


@FUZZ
@given(st.one_of(st.binary(max_size=400), mutated(JSON_BASES)))
def test_random_and_mutated_json_bytes_load_or_raise_a_receipt_error(
    data: bytes,
) -> None:
    loads_or_refuses(data)


def test_every_truncation_of_a_json_file_loads_or_is_refused() -> None:
    for data in JSON_BASES:
        for cut in range(len(data)):
            loads_or_refuses(data[:cut])


# The block verifier -------------------------------------------------------------


@cache
def sealed(count: int = 6) -> Block:
    batch = encode_batch(demo_receipts(count, HEIGHT))
    with CpuBackend() as backend:
        cand = pipeline.candidate(batch, backend, Algo.BLAKE3, HEIGHT, bytes(32), EASY)
        return pipeline.seal(cand, mine(backend, cand.header))


def reframed(body: bytes, count: int = 6) -> bytes:
    """The sealed header around another body, with a fresh checksum."""
    return Block(sealed(count).header, body).serialize()


def test_the_sealed_block_verifies() -> None:
    assert verify_block(sealed().serialize()).receipts == demo_receipts(6, HEIGHT)


@pytest.mark.parametrize("count", [1, 2, 3, 5, 6])
def test_repeating_the_last_receipt_fails_on_the_root(count: int) -> None:
    receipts = demo_receipts(count, HEIGHT)
    data = reframed(ENCODER.encode([*receipts, receipts[-1]]), count)
    assert "receipts root" in str(verify_fails(data))


def test_every_truncation_of_a_sealed_block_is_invalid() -> None:
    data = sealed().serialize()
    for cut in range(len(data)):
        verify_fails(data[:cut])


def test_a_hostile_body_behind_a_fresh_checksum_is_refused_quickly() -> None:
    for prefix in HOSTILE_PREFIXES.values():
        data = reframed(prefix + PAD)
        bounded(lambda data=data: verify_fails(data))
        assert peak_memory(lambda data=data: verify_block(data)) < memory_bound(data)


@settings(FUZZ, max_examples=300)
@given(st.integers(0, 2**32), st.integers(1, 255))
def test_any_single_byte_change_to_a_sealed_block_is_invalid(
    position: int, change: int
) -> None:
    data = bytearray(sealed().serialize())
    data[position % len(data)] ^= change
    verify_fails(bytes(data))


@FUZZ
@given(
    st.binary(max_size=400), st.sampled_from((b"", b"RCPB\x01\x00", b"RCPB\x01\x01"))
)
def test_random_block_bytes_are_invalid(tail: bytes, lead: bytes) -> None:
    verify_fails(lead + tail)


@FUZZ
@given(st.one_of(mutated(), SOUPS, st.binary(max_size=300)))
def test_a_hostile_body_with_a_fresh_checksum_is_invalid(body: bytes) -> None:
    verify_fails(reframed(body))
