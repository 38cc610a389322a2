"""The four market receipts: msgspec Structs in one tagged union.

Each receipt encodes as a compact msgpack array whose first element is its
integer tag (0 storage, 1 compute, 2 energy, 3 ad) followed by its fields in
declaration order. That array form is the canonical encoding the engine hashes
and stores; the field tables below tell the columnar scanner where each
column's value sits inside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Final

import msgspec
from msgspec import Meta, Struct

U64_MAX: Final = 2**64 - 1
U32_MAX: Final = 2**32 - 1
HASH_BYTES: Final = 32

# msgspec cannot express le=2**64 - 1; the upper bound is checked where a
# value can exceed it (JSON input), msgpack itself cannot carry more.
U64 = Annotated[int, Meta(ge=0)]
U32 = Annotated[int, Meta(ge=0, le=U32_MAX)]
Hash32 = Annotated[bytes, Meta(min_length=HASH_BYTES, max_length=HASH_BYTES)]
# StorageReceipt has a field named `bytes`, which shadows the builtin inside
# its class body; annotations use this alias instead.
Blob = bytes
BYTES_TYPES: Final = (Blob, Hash32, Hash32 | None)


class _Receipt(
    Struct,
    array_like=True,
    frozen=True,
    kw_only=True,
    forbid_unknown_fields=True,
    tag_field="type",
):
    """Common configuration of every receipt."""


class StorageReceipt(_Receipt, tag=0, kw_only=True):
    contract_id: str
    provider: str
    bytes: U64
    price: U64
    block_height: U64
    provider_escrow: U64
    region: str | None = None
    chunk_hash: Hash32 | None = None
    provider_signature: Blob
    signature_nonce: U64


class ComputeReceipt(_Receipt, tag=1, kw_only=True):
    job_id: str
    provider: str
    compute_units: U64
    payment: U64
    block_height: U64
    verified: bool
    provider_signature: Blob
    signature_nonce: U64


class EnergyReceipt(_Receipt, tag=2, kw_only=True):
    contract_id: str
    provider: str
    energy_units: U64
    price: U64
    block_height: U64
    proof_hash: Hash32
    provider_signature: Blob
    signature_nonce: U64


class AdReceipt(_Receipt, tag=3, kw_only=True):
    campaign_id: str
    creative_id: str
    publisher: str
    impressions: U64
    spend: U64
    block_height: U64
    conversions: U32
    publisher_signature: Blob
    signature_nonce: U64


Receipt = StorageReceipt | ComputeReceipt | EnergyReceipt | AdReceipt


@dataclass(frozen=True)
class KindSpec:
    """Where each column of one receipt kind comes from."""

    code: int
    name: str
    cls: type[_Receipt]
    quantity: str
    value: str
    identities: tuple[str, str]
    extra_string: str | None
    signature: str
    verified: str | None = None

    @property
    def fields(self) -> tuple[str, ...]:
        return self.cls.__struct_fields__


KINDS: Final = (
    KindSpec(
        0, "storage", StorageReceipt, "bytes", "price",
        ("contract_id", "provider"), "region", "provider_signature",
    ),
    KindSpec(
        1, "compute", ComputeReceipt, "compute_units", "payment",
        ("job_id", "provider"), None, "provider_signature", verified="verified",
    ),
    KindSpec(
        2, "energy", EnergyReceipt, "energy_units", "price",
        ("contract_id", "provider"), None, "provider_signature",
    ),
    KindSpec(
        3, "ad", AdReceipt, "impressions", "spend",
        ("campaign_id", "publisher"), "creative_id", "publisher_signature",
    ),
)  # fmt: skip
KIND_BY_NAME: Final = {spec.name: spec for spec in KINDS}
KIND_BY_CLASS: Final = {spec.cls: spec for spec in KINDS}


def kind_of(receipt: Receipt) -> KindSpec:
    return KIND_BY_CLASS[type(receipt)]


def field_at(kind: int, position: int) -> str:
    """Name of the element at `position` of a receipt's array form."""
    if position == 0 or not 0 <= kind < len(KINDS):
        return "type"
    fields = KINDS[kind].fields
    return fields[position - 1] if position <= len(fields) else "receipt"


def u64_fields(cls: type[_Receipt]) -> tuple[str, ...]:
    """Fields typed U64, whose upper bound msgspec does not check."""
    hints = msgspec.structs.fields(cls)
    return tuple(f.name for f in hints if f.type == U64)
