"""Every rule with a passing and a failing case, on every backend."""

from __future__ import annotations

from typing import Any

import pytest
from receipt_builders import HEIGHT, ad, compute, energy, storage

from engine import limits
from engine.backend import Backend
from engine.demo import demo_receipts
from engine.encoding import encode_batch
from engine.pipeline import validate
from engine.validation import ValidationReport, verify_units


def check(backend: Backend, receipts: list[Any]) -> ValidationReport:
    return validate(encode_batch(receipts), HEIGHT, backend)


def rules(report: ValidationReport) -> list[tuple[int | None, str, str]]:
    return [(e.index, e.field, e.rule) for e in report.errors]


def test_demo_receipts_are_valid(backend: Backend) -> None:
    assert check(backend, demo_receipts(200, HEIGHT)).valid


def test_block_height_mismatch(backend: Backend) -> None:
    report = check(backend, [storage(), storage(block_height=HEIGHT + 1)])
    assert rules(report) == [(1, "block_height", "block_height_mismatch")]


@pytest.mark.parametrize(
    ("receipt", "field"),
    [
        (storage(contract_id=""), "contract_id"),
        (storage(provider=""), "provider"),
        (compute(job_id=""), "job_id"),
        (energy(provider=""), "provider"),
        (ad(campaign_id=""), "campaign_id"),
        (ad(publisher=""), "publisher"),
    ],
)
def test_empty_identity_string(backend: Backend, receipt: Any, field: str) -> None:
    assert rules(check(backend, [receipt])) == [(0, field, "empty_string_field")]


def test_optional_and_creative_strings_may_be_empty(backend: Backend) -> None:
    assert check(backend, [storage(region=""), ad(creative_id="")]).valid


@pytest.mark.parametrize(
    ("receipt", "field"),
    [
        (storage(contract_id="x" * 257), "contract_id"),
        (storage(region="é" * 129), "region"),
        (compute(provider="x" * 257), "provider"),
        (ad(creative_id="x" * 257), "creative_id"),
        (ad(publisher="x" * 300), "publisher"),
    ],
)
def test_string_over_256_bytes(backend: Backend, receipt: Any, field: str) -> None:
    assert rules(check(backend, [receipt])) == [(0, field, "string_field_too_long")]


def test_string_of_exactly_256_bytes_passes(backend: Backend) -> None:
    assert check(backend, [storage(region="é" * 128), ad(publisher="x" * 256)]).valid


@pytest.mark.parametrize(
    ("receipt", "field"),
    [
        (storage(bytes=0), "bytes"),
        (storage(price=0), "price"),
        (compute(compute_units=0), "compute_units"),
        (compute(payment=0), "payment"),
        (energy(energy_units=0), "energy_units"),
        (energy(price=0), "price"),
        (ad(impressions=0), "impressions"),
        (ad(spend=0), "spend"),
    ],
)
def test_zero_value(backend: Backend, receipt: Any, field: str) -> None:
    assert rules(check(backend, [receipt])) == [(0, field, "zero_value")]


def test_escrow_and_conversions_may_be_zero(backend: Backend) -> None:
    assert check(backend, [storage(provider_escrow=0), ad(conversions=0)]).valid


def test_empty_signature(backend: Backend) -> None:
    report = check(backend, [compute(provider_signature=b"")])
    assert rules(report) == [(0, "provider_signature", "empty_signature")]


@pytest.mark.parametrize("length", [1, 63, 65, 128])
def test_malformed_signature(backend: Backend, length: int) -> None:
    report = check(backend, [ad(publisher_signature=b"s" * length)])
    assert rules(report) == [(0, "publisher_signature", "malformed_signature")]


def test_exactly_the_receipt_limit_passes(backend: Backend) -> None:
    # 10 verify units each: 10,000 of them use the whole verify budget too.
    assert check(backend, [storage()] * limits.MAX_RECEIPTS).valid


def test_one_past_the_receipt_limit_flags_only_the_last(backend: Backend) -> None:
    report = check(backend, [storage()] * (limits.MAX_RECEIPTS + 1))
    assert rules(report) == [
        (limits.MAX_RECEIPTS, "receipts", "too_many_receipts"),
        (limits.MAX_RECEIPTS, "receipts", "verify_budget_exceeded"),
    ]
    assert report.fitting() == limits.MAX_RECEIPTS and not report.unsound


def test_bytes_budget_flags_the_receipt_that_crosses_it(backend: Backend) -> None:
    # Valid receipts cannot reach 10 MB within 10,000; over-long ones can.
    receipts = [storage(region="r" * 4_000)] * 3_000
    ends = encode_batch(receipts).columns.ends
    first = int((ends > limits.MAX_BLOCK_BYTES).argmax())
    report = check(backend, receipts)
    too_large = [e.index for e in report.errors if e.rule == "receipts_too_large"]
    assert too_large == list(range(first, 3_000)) and first > 0
    assert report.fitting() == first


def test_verify_budget_counts_units_per_kind() -> None:
    receipts = [
        storage(bytes=49_999), storage(bytes=10**9), compute(), compute(verified=True),
        energy(), ad(impressions=99_999), ad(impressions=10**9),
    ]  # fmt: skip
    units = verify_units(encode_batch(receipts).columns)
    assert units.tolist() == [10 + 49, 60, 15, 20, 13, 19, 20]


def test_verify_budget_exceeded(backend: Backend) -> None:
    heavy = storage(bytes=10**9)  # 60 units each: 1,667th passes 100,000
    report = check(backend, [heavy] * 1_700)
    assert report.errors[0].index == 1_666
    assert {e.rule for e in report.errors} == {"verify_budget_exceeded"}


def test_several_rules_on_one_receipt_are_all_listed(backend: Backend) -> None:
    report = check(backend, [storage(price=0, provider="", block_height=1)])
    assert [e.rule for e in report.errors] == [
        "block_height_mismatch", "empty_string_field", "zero_value",
    ]  # fmt: skip
