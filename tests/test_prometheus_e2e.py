"""End to end: a real Prometheus scrapes a running node on loopback.

The node mines a few blocks from its load generator; Prometheus (Debian's
package `prometheus`) scrapes it every second, and the receipt counters are
read back through Prometheus's query API.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

SCRAPE = """\
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: engine
    static_configs:
      - targets: ["127.0.0.1:{port}"]
"""
WAIT_S = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def spawn(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        return subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)


@pytest.fixture
def node_port(tmp_path: Path) -> Iterator[int]:
    port = free_port()
    proc = spawn(
        [
            sys.executable, "-m", "engine", "node", "--db", str(tmp_path / "chain.db"),
            "--metrics-addr", f"127.0.0.1:{port}", "--backend", "cpu",
            "--difficulty-bits", "16", "--block-time", "0.5", "--load", "40",
        ],
        tmp_path / "node.log",
    )  # fmt: skip
    yield port
    proc.terminate()
    assert proc.wait(timeout=10) == 0, (tmp_path / "node.log").read_text()


@pytest.fixture
def prometheus(tmp_path: Path, node_port: int) -> Iterator[str]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("prometheus is not installed (apt-get install prometheus)")
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(SCRAPE.format(port=node_port))
    proc = spawn(
        [
            binary, f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        tmp_path / "prometheus.log",
    )  # fmt: skip
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


def query(base: str, expr: str) -> float | None:
    url = f"{base}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            result = json.load(reply)["data"]["result"]
    except OSError:
        return None
    return float(result[0]["value"][1]) if result else None


def wait_for(base: str, expr: str, at_least: float) -> float:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        value = query(base, expr)
        if value is not None and value >= at_least:
            return value
        time.sleep(1)
    pytest.fail(f"{expr} did not reach {at_least} in {WAIT_S} s")


def test_prometheus_reads_the_receipt_counters_back(prometheus: str) -> None:
    assert wait_for(prometheus, "engine_blocks_sealed_total", 3) >= 3
    for market in ("storage", "compute", "energy", "ad"):
        assert wait_for(prometheus, f"receipts_{market}_total", 1) >= 1
    assert wait_for(prometheus, 'up{job="engine"}', 1) == 1
    assert query(prometheus, "receipt_validation_failures_total") == 0
