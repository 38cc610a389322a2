"""The command line: exit codes, --json shapes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engine.cli import main

FAST = ["--difficulty-bits", "8", "--backend", "cpu", "--quiet"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    code, out, _ = run(capsys, *argv, "--json")
    return code, json.loads(out)


def test_mine_seals_a_block_that_verify_accepts(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "b.bin"
    code, body = run_json(capsys, "mine", "--count", "50", "--out", str(out), *FAST)
    assert code == 0 and body["receipts"] == 50 and body["nonce"] is not None
    code, verdict = run_json(capsys, "verify", str(out))
    assert code == 0 and verdict["hash"] == body["hash"]


def test_mine_json_has_the_documented_keys(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "b.bin"
    _, body = run_json(capsys, "mine", "--count", "0", "--out", str(out), *FAST)
    assert {"nonce", "hash", "hashes", "seconds"} <= body.keys()
    assert body["receipts"] == 0 and body["root"] == "00" * 32


def test_bounded_search_without_winner_exits_1_with_null_nonce(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "b.bin"
    code, body = run_json(
        capsys, "mine", "--count", "3", "--out", str(out), "--backend", "cpu",
        "--difficulty-bits", "60", "--nonce-count", "1000",
    )  # fmt: skip
    assert code == 1 and body["nonce"] is None and body["hashes"] == 1000
    assert not out.exists()


def test_mine_sha256d_chain(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "b.bin"
    code, _ = run_json(
        capsys, "mine", "--algo", "sha256d", "--count", "8", "--out", str(out), *FAST
    )
    assert code == 0
    assert run(capsys, "verify", str(out))[0] == 0


def test_raw_bitcoin_header_is_searched_under_its_bits(
    capsys: pytest.CaptureFixture[str], bitcoin_blocks: list[dict[str, Any]]
) -> None:
    block = bitcoin_blocks[0]
    start = str(block["nonce"] - 1_000)
    code, body = run_json(
        capsys, "mine", "--header", block["header_hex"], "--nonce-start", start,
        "--nonce-count", "2000", "--backend", "cpu", "--quiet",
    )  # fmt: skip
    assert code == 0 and body["nonce"] == block["nonce"]
    assert body["hash"] == block["block_hash"]


def test_demo_then_validate_is_valid(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "r.json"
    assert (
        run(capsys, "demo", "--count", "20", "--height", "9", "--out", str(path))[0]
        == 0
    )
    code, report = run_json(capsys, "validate", str(path), "--height", "9")
    assert code == 0 and report == {
        "valid": True,
        "count": 20,
        "bytes": report["bytes"],
        "errors": [],
    }


def test_validate_reports_each_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "r.json"
    run(capsys, "demo", "--count", "4", "--height", "9", "--out", str(path))
    code, report = run_json(capsys, "validate", str(path), "--height", "10")
    assert code == 1 and len(report["errors"]) == 4
    assert report["errors"][0] == {
        "index": 0,
        "field": "block_height",
        "rule": "block_height_mismatch",
    }


def test_validate_undecodable_file_is_malformed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "r.json"
    path.write_text('[{"type": "ad", "spend": "lots"}]')
    code, report = run_json(capsys, "validate", str(path), "--height", "1")
    assert code == 1 and report["errors"][0]["rule"] == "malformed"
    assert report["errors"][0]["index"] == 0


def test_verify_rejects_a_damaged_block(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "b.bin"
    run(capsys, "mine", "--count", "5", "--out", str(out), *FAST)
    data = bytearray(out.read_bytes())
    data[200] ^= 0x10
    out.write_bytes(bytes(data))
    code, text, _ = run(capsys, "verify", str(out))
    assert code == 1 and text.startswith("INVALID")


@pytest.mark.parametrize(
    "argv",
    [
        ["mine", "--bits", "0x1d80ffff"],
        ["mine", "--target", "abc"],
        ["mine", "--count", "-1"],
        ["mine", "--difficulty-bits", "300"],
        ["mine", "--prev", "xyz", *FAST],
        ["verify", "/nonexistent/block.bin"],
        ["validate", "/nonexistent/r.json", "--height", "1"],
        ["mine", "--receipts", "/nonexistent/r.json", *FAST],
        ["mine", "--backend", "cuda"],
        ["mine", "--count", "1000000000"],
        ["mine", "--height", str(2**64)],
        ["mine", "--out", "/", *FAST],
        ["mine", "--devices", "0", *FAST],
        ["mine", "--header", "00" * 80, "--out", "x.bin"],
        ["demo", "--count", "1000000000", "--out", "x.json"],
        ["frobnicate"],
    ],
)
def test_unusable_arguments_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        sys.exit(main(argv))
    _, err = capsys.readouterr()
    assert exited.value.code == 2
    assert "Traceback" not in err and err.strip()


def test_python_dash_m_engine_runs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "engine", "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stdout.startswith("engine ")


def test_mine_reports_a_malformed_receipts_file_like_validate(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "r.json"
    path.write_text('[{"type": "ad", "spend": 1.5}]')
    code, report = run_json(capsys, "mine", "--receipts", str(path), *FAST)
    assert code == 1 and report["errors"][0]["rule"] == "malformed"


def test_output_into_a_closed_pipe_is_quiet(tmp_path: Path) -> None:
    engine = [sys.executable, "-m", "engine", "demo", "--count", "3", "--out"]
    subprocess.run([*engine, str(tmp_path / "r.json")], check=True, capture_output=True)
    validate = f"{sys.executable} -m engine validate {tmp_path / 'r.json'} --height 2"
    done = subprocess.run(f"{validate} | head -c 1", shell=True, capture_output=True)
    assert b"Traceback" not in done.stderr
