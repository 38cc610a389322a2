"""Receipts with every rule passing, and keyword changes to break one."""

from __future__ import annotations

from typing import Any

from engine import limits
from engine.receipts import AdReceipt, ComputeReceipt, EnergyReceipt, StorageReceipt

HEIGHT = 11
SIG = b"s" * limits.SIGNATURE_BYTES


def storage(**changes: Any) -> StorageReceipt:
    fields: dict[str, Any] = dict(
        contract_id="sc", provider="pv", bytes=1, price=1, block_height=HEIGHT,
        provider_escrow=0, provider_signature=SIG, signature_nonce=0,
    )  # fmt: skip
    return StorageReceipt(**{**fields, **changes})


def compute(**changes: Any) -> ComputeReceipt:
    fields: dict[str, Any] = dict(
        job_id="j", provider="pv", compute_units=1, payment=1, block_height=HEIGHT,
        verified=False, provider_signature=SIG, signature_nonce=0,
    )  # fmt: skip
    return ComputeReceipt(**{**fields, **changes})


def energy(**changes: Any) -> EnergyReceipt:
    fields: dict[str, Any] = dict(
        contract_id="ec", provider="pv", energy_units=1, price=1, block_height=HEIGHT,
        proof_hash=bytes(32), provider_signature=SIG, signature_nonce=0,
    )  # fmt: skip
    return EnergyReceipt(**{**fields, **changes})


def ad(**changes: Any) -> AdReceipt:
    fields: dict[str, Any] = dict(
        campaign_id="c", creative_id="cr", publisher="pb", impressions=1, spend=1,
        block_height=HEIGHT, conversions=0, publisher_signature=SIG, signature_nonce=0,
    )  # fmt: skip
    return AdReceipt(**{**fields, **changes})
