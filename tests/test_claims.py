"""Signatures, providers, replays and duplicates."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import numpy as np
import pytest

from engine.backend import CpuBackend
from engine.claims import Claims, RecentWindow
from engine.cli import main
from engine.demo import demo_receipts
from engine.encoding import encode_batch
from engine.errors import InputError
from engine.pipeline import validate
from engine.receipt_files import receipt_to_json
from engine.receipts import Receipt
from engine.registry import Registry, demo_key, demo_registry, load_registry
from engine.signing import Check, Verifier, digest, new_key, sign, signer

HEIGHT = 6


def rules(
    receipts: list[Receipt], claims: Claims | None = None
) -> list[tuple[int, str, str]]:
    claims = claims or Claims(demo_registry())
    with CpuBackend(threads=1) as backend:
        report = validate(encode_batch(receipts), HEIGHT, backend, claims)
    return [(e.index, e.field, e.rule) for e in report.errors]


def changed(receipt: Receipt, **fields: object) -> Receipt:
    return msgspec.structs.replace(receipt, **fields)


def test_demo_receipts_are_really_signed() -> None:
    assert rules(demo_receipts(40, HEIGHT)) == []


def test_a_changed_amount_breaks_the_signature() -> None:
    receipts = demo_receipts(4, HEIGHT)
    receipts[1] = changed(receipts[1], payment=receipts[1].payment + 1)
    assert rules(receipts) == [(1, "provider_signature", "invalid_signature")]


def test_an_unknown_provider_is_named() -> None:
    receipts = demo_receipts(4, HEIGHT)
    receipts[3] = changed(receipts[3], publisher="pub-nobody")
    assert rules(receipts) == [(3, "publisher", "unknown_provider")]


def test_a_repeated_receipt_is_a_duplicate() -> None:
    receipts = demo_receipts(3, HEIGHT)
    assert rules([*receipts, receipts[0]]) == [(3, "receipt", "duplicate_receipt")]


def test_a_reused_nonce_is_a_replay() -> None:
    first, second = demo_receipts(8, HEIGHT)[0::4]  # two storage receipts
    key = demo_key(signer(first))
    again = sign(
        changed(second, provider=signer(first), signature_nonce=first.signature_nonce),
        key,
    )
    assert rules([first, again]) == [(1, "signature_nonce", "replayed_nonce")]


def test_recent_blocks_catch_duplicates_and_replays() -> None:
    claims = Claims(demo_registry())
    receipts = demo_receipts(4, HEIGHT)
    claims.window.add_block(receipts[:1])
    assert rules(receipts, claims) == [(0, "receipt", "duplicate_receipt")]


def test_the_window_forgets_old_blocks() -> None:
    window = RecentWindow(blocks=2)
    old = demo_receipts(1, HEIGHT)
    window.add_block(old)
    window.add_block([])
    window.add_block([])
    assert not window.has_id(digest(old[0]))


def test_a_rotated_key_no_longer_signs() -> None:
    receipt = demo_receipts(1, HEIGHT)[0]
    registry = Registry([])
    registry.add_key(
        signer(receipt), demo_key(signer(receipt)).verify_key.encode().hex(), 0
    )
    registry.add_key(signer(receipt), new_key().verify_key.encode().hex(), HEIGHT)
    assert rules([receipt], Claims(registry)) == [
        (0, "provider_signature", "invalid_signature")
    ]


def test_threaded_verification_equals_one_by_one() -> None:
    key = new_key()
    signature = key.sign(bytes(32)).signature
    checks = [Check(i, key.verify_key, bytes(32), signature) for i in range(1_200)]
    checks[7] = Check(7, key.verify_key, b"\x01" * 32, signature)
    assert (
        Verifier(threads=2).failed(checks) == Verifier(threads=1).failed(checks) == [7]
    )


def test_keygen_and_sign_make_receipts_a_registry_accepts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registry, key = tmp_path / "registry.json", tmp_path / "prov-00.key"
    assert main(["keygen", "--provider", "prov-00", "--out", str(key),
                 "--registry", str(registry)]) == 0  # fmt: skip
    receipt = changed(demo_receipts(1, HEIGHT)[0], provider="prov-00")
    (tmp_path / "r.json").write_text(json.dumps([receipt_to_json(receipt)]))
    signed = str(tmp_path / "s.json")
    assert (
        main(["sign", str(tmp_path / "r.json"), "--key", str(key), "--out", signed])
        == 0
    )
    base = ["validate", "--height", str(HEIGHT), "--registry", str(registry)]
    assert main([*base, signed]) == 0
    assert main([*base, str(tmp_path / "r.json")]) == 1


def test_keygen_never_overwrites_a_key(tmp_path: Path) -> None:
    key = tmp_path / "k"
    key.write_text("secret")
    assert main(["keygen", "--provider", "p", "--out", str(key)]) == 2
    assert key.read_text() == "secret"


def test_only_the_valid_rows_are_checked() -> None:
    receipts = demo_receipts(2, HEIGHT)
    receipts[0] = changed(receipts[0], block_height=HEIGHT + 1)
    claims = Claims(demo_registry())
    assert claims.check(receipts, np.array([1])) == []


def test_a_rotation_must_move_forward(tmp_path: Path) -> None:
    registry = tmp_path / "r.json"
    base = ["keygen", "--provider", "p", "--registry", str(registry)]
    assert main([*base, "--out", str(tmp_path / "a"), "--from-height", "5"]) == 0
    assert main([*base, "--out", str(tmp_path / "b"), "--from-height", "3"]) == 2
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize(
    "keys",
    [
        [{"from_height": 0}, {"from_height": 0}],
        [{"from_height": 5, "to_height": 3}],
        [{"from_height": -1}],
        [{"from_height": 2**64}],
    ],
)
def test_registries_with_impossible_key_ranges_are_refused(
    tmp_path: Path, keys: list[dict[str, int]]
) -> None:
    public = new_key().verify_key.encode().hex()
    body = {
        "providers": [{"id": "p", "keys": [{"public_key": public, **k} for k in keys]}]
    }
    (tmp_path / "r.json").write_text(json.dumps(body))
    with pytest.raises(InputError):
        load_registry(tmp_path / "r.json")


def test_sign_refuses_to_write_over_its_key(tmp_path: Path) -> None:
    key = tmp_path / "k.key"
    assert main(["keygen", "--provider", "p", "--out", str(key)]) == 0
    (tmp_path / "r.json").write_text("[]")
    assert (
        main(["sign", str(tmp_path / "r.json"), "--key", str(key), "--out", str(key)])
        == 2
    )
    assert len(key.read_text().strip()) == 64
