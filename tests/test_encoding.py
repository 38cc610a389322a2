"""Encode once, index in one scan, decode untrusted bytes with named errors."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest

from engine.demo import demo_receipts
from engine.encoding import ENCODER, decode_batch, encode_batch, slice_batch
from engine.errors import ReceiptError
from engine.limits import MAX_BLOCK_BYTES
from engine.receipts import KINDS, AdReceipt, StorageReceipt

HEIGHT = 7


def storage(**changes: object) -> StorageReceipt:
    fields: dict[str, object] = dict(
        contract_id="sc-1", provider="prov-1", bytes=5_000, price=9,
        block_height=HEIGHT, provider_escrow=0, provider_signature=b"s" * 64,
        signature_nonce=1,
    )  # fmt: skip
    fields.update(changes)
    return StorageReceipt(**fields)  # type: ignore[arg-type]


def raw_batch(*receipts: list[object]) -> bytes:
    """A batch of hand-made array forms, bypassing the typed Structs."""
    return msgspec.msgpack.encode(list(receipts))


def storage_array(**changes: object) -> list[object]:
    receipt = storage()
    values = [getattr(receipt, f) for f in receipt.__struct_fields__]
    for name, value in changes.items():
        values[receipt.__struct_fields__.index(name)] = value
    return [0, *values]


def test_round_trip_of_mixed_receipts() -> None:
    receipts = demo_receipts(101, HEIGHT)
    decoded, batch = decode_batch(encode_batch(receipts).body())
    assert decoded == receipts
    assert batch.count == 101


def test_encoding_is_one_msgspec_call_of_the_whole_list() -> None:
    receipts = demo_receipts(9, HEIGHT)
    assert encode_batch(receipts).body() == ENCODER.encode(receipts)


def test_offsets_and_lengths_frame_each_receipt() -> None:
    receipts = demo_receipts(33, HEIGHT)
    batch = encode_batch(receipts)
    for i, receipt in enumerate(receipts):
        assert batch.receipt_bytes(i) == ENCODER.encode(receipt)


def test_columns_come_from_the_encoding() -> None:
    receipts = demo_receipts(8, HEIGHT)
    cols = encode_batch(receipts).columns
    assert list(cols.kind) == [i % 4 for i in range(8)]
    assert list(cols.height) == [HEIGHT] * 8
    assert cols.quantity[0] == receipts[0].bytes
    assert cols.value[3] == receipts[3].spend


def test_string_columns_count_utf8_bytes_not_characters() -> None:
    cols = encode_batch([storage(provider="ünï", region="日本")]).columns
    assert cols.id1_len[0] == len("ünï".encode())
    assert cols.extra_len[0] == 6


def test_empty_batch_costs_one_byte() -> None:
    batch = encode_batch([])
    assert batch.nbytes == 1 and batch.count == 0


def test_slice_equals_the_canonical_encoding_of_the_sublist() -> None:
    receipts = demo_receipts(40, HEIGHT)
    batch = encode_batch(receipts)
    for lo, hi in [(0, 16), (16, 40), (3, 3), (0, 40)]:
        part = slice_batch(batch, lo, hi)
        assert part.body() == ENCODER.encode(receipts[lo:hi])
        assert decode_batch(part.body())[1].offsets.tolist() == part.offsets.tolist()


def test_input_over_the_budget_is_refused_before_decoding() -> None:
    with pytest.raises(ReceiptError, match="exceed the budget"):
        decode_batch(b"\x90" * (MAX_BLOCK_BYTES + 1))


def test_truncated_input_names_the_receipt_and_field() -> None:
    data = encode_batch([storage(), storage()]).body()
    with pytest.raises(ReceiptError) as err:
        decode_batch(data[:-1])
    assert (err.value.index, err.value.field) == (1, "signature_nonce")


@pytest.mark.parametrize(
    "prefix",
    [b"\xdd\xff\xff\xff\xff", b"\xdc\xff\xff\x90", b"\x91\xdd\x7f\xff\xff\xff"],
)
def test_length_prefixes_claiming_more_than_the_input_are_refused(
    prefix: bytes,
) -> None:
    with pytest.raises(ReceiptError, match="truncated"):
        decode_batch(prefix)


def test_a_string_length_claiming_gigabytes_is_refused() -> None:
    data = bytearray(raw_batch(storage_array()))
    at = data.index(b"\xa4sc-1")
    data[at : at + 5] = b"\xdb\x7f\xff\xff\xff"
    with pytest.raises(ReceiptError) as err:
        decode_batch(bytes(data))
    assert err.value.field == "contract_id"


def test_negative_amount_is_out_of_range() -> None:
    with pytest.raises(ReceiptError, match="out of range") as err:
        decode_batch(raw_batch(storage_array(price=-1)))
    assert (err.value.index, err.value.field) == (0, "price")


def test_wrong_type_names_the_field() -> None:
    with pytest.raises(ReceiptError, match="wrong type") as err:
        decode_batch(raw_batch(storage_array(), storage_array(provider=12)))
    assert (err.value.index, err.value.field) == (1, "provider")


def test_a_hash_field_must_be_32_bytes() -> None:
    with pytest.raises(ReceiptError, match="32 bytes") as err:
        decode_batch(raw_batch(storage_array(chunk_hash=b"x" * 31)))
    assert err.value.field == "chunk_hash"


def test_u32_field_beyond_32_bits_is_out_of_range() -> None:
    ad = [3, "c", "cr", "p", 1, 1, HEIGHT, 2**32, b"s" * 64, 1]
    with pytest.raises(ReceiptError, match="out of range") as err:
        decode_batch(raw_batch(ad))
    assert err.value.field == "conversions"


def test_unknown_type_tag_is_refused() -> None:
    with pytest.raises(ReceiptError, match="unknown receipt type") as err:
        decode_batch(raw_batch([9, "x" * 20]))
    assert err.value.field == "type"


def test_extra_trailing_field_is_refused() -> None:
    with pytest.raises(ReceiptError, match="number of fields"):
        decode_batch(raw_batch([*storage_array(), 1]))


def test_deep_nesting_is_refused_without_recursion() -> None:
    deep = b"\x91" * 100_000 + b"\x90"
    with pytest.raises(ReceiptError):
        decode_batch(deep)


def test_invalid_utf8_names_the_receipt() -> None:
    data = bytearray(raw_batch(storage_array(), storage_array(provider="ab")))
    at = data.rindex(b"\xa2ab")
    data[at + 1 : at + 3] = b"\xff\xfe"
    with pytest.raises(ReceiptError, match="UTF-8") as err:
        decode_batch(bytes(data))
    assert err.value.index == 1


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        (b"\x07\x00\xc0", b"\xcc\x07\x00\xc0", "block_height"),  # 7 as uint8
        (b"\xa4sc-1", b"\xd9\x04sc-1", "contract_id"),  # str8 for 4 bytes
        (b"\xc4@", b"\xc5\x00@", "provider_signature"),  # bin16 for 64 bytes
    ],
)
def test_longer_encodings_than_needed_are_refused(
    old: bytes, new: bytes, field: str
) -> None:
    data = raw_batch(storage_array(block_height=7))
    assert old in data
    with pytest.raises(ReceiptError, match="canonical") as err:
        decode_batch(data.replace(old, new, 1))
    assert err.value.field == field


def test_a_batch_array_longer_than_needed_is_refused() -> None:
    data = raw_batch(storage_array())
    with pytest.raises(ReceiptError, match="canonical"):
        decode_batch(b"\xdc\x00\x01" + data[1:])


def test_trailing_bytes_after_the_array_are_refused() -> None:
    with pytest.raises(ReceiptError, match="trailing"):
        decode_batch(raw_batch(storage_array()) + b"\x00")


def test_encoding_a_value_beyond_u64_names_receipt_and_field() -> None:
    with pytest.raises(ReceiptError, match="out of range") as err:
        encode_batch([storage(), storage(bytes=2**64)])
    assert (err.value.index, err.value.field) == (1, "bytes")


def test_every_kind_round_trips_through_its_column_row() -> None:
    receipts = demo_receipts(4, HEIGHT)
    cols = encode_batch(receipts).columns
    for spec, receipt in zip(KINDS, receipts, strict=True):
        assert cols.quantity[spec.code] == getattr(receipt, spec.quantity)
        assert cols.signature_len[spec.code] == len(getattr(receipt, spec.signature))


def test_ad_conversions_do_not_reach_a_column() -> None:
    ad = AdReceipt(
        campaign_id="c", creative_id="", publisher="p", impressions=1, spend=1,
        block_height=HEIGHT, conversions=7, publisher_signature=b"s" * 64,
        signature_nonce=np.uint64(3).item(),
    )  # fmt: skip
    cols = encode_batch([ad]).columns
    assert cols.signature_nonce[0] == 3 and cols.extra_len[0] == 0


def test_a_lone_surrogate_names_receipt_and_field() -> None:
    with pytest.raises(ReceiptError) as err:
        encode_batch([storage(), storage(region="\ud800")])
    assert (err.value.index, err.value.field) == (1, "region")


def test_a_host_allocator_receives_the_buffer_and_the_columns() -> None:
    handed: list[np.ndarray] = []

    def alloc(nbytes: int) -> np.ndarray:
        handed.append(np.empty(nbytes, dtype=np.uint8))
        return handed[-1]

    batch = encode_batch(demo_receipts(9, HEIGHT), alloc=alloc)
    assert np.shares_memory(batch.buffer, handed[0])
    assert any(np.shares_memory(batch.columns.matrix, a) for a in handed)
    assert batch.body() == encode_batch(demo_receipts(9, HEIGHT)).body()
