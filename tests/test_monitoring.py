"""The monitoring files: Grafana dashboard, alert rules and their promtool tests."""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from engine.metrics import EXPORTED, RECEIPT_METRICS

MONITORING = Path(__file__).resolve().parents[1] / "monitoring"
DASHBOARD = MONITORING / "grafana_receipt_dashboard.json"
ALERTS = MONITORING / "alerts.yml"
ALERT_TESTS = MONITORING / "alerts_test.yml"
DATASOURCES = MONITORING / "provisioning" / "datasources" / "prometheus.yml"
PROVIDERS = MONITORING / "provisioning" / "dashboards" / "engine.yml"

DATASOURCE_REF = {"type": "prometheus", "uid": "${datasource}"}
KNOWN_SERIES = {*EXPORTED, "up"}
# Every series of the node starts with one of these words; PromQL functions,
# keywords and label names never do, so the names can be read off the text.
SERIES_NAME = re.compile(r"\b(?:receipts?|pending|engine|metrics)_\w+|\bup\b")
RANGE = re.compile(r"\[([^\]]*)\]")
RATE_CALL = re.compile(r"\b(?:rate|irate|increase)\(")
ALERT_EXPR = re.compile(r"^( *)expr: (.*)$")
# What Grafana puts in place of its variables, so promtool can parse the rest.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h"}


def find_promtool() -> str:
    """The promtool on PATH, or a skip that says how to install it."""
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool is not on PATH (apt-get install -y prometheus)")
    return path


@pytest.fixture(scope="module")
def promtool() -> str:
    return find_promtool()


def run_promtool(promtool: str, *args: str, cwd: Path = MONITORING) -> None:
    done = subprocess.run(
        [promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, (
        f"promtool {' '.join(args)}:\n{done.stdout}{done.stderr}"
    )


@cache
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def panels() -> list[dict[str, Any]]:
    return dashboard()["panels"]


def dashboard_exprs() -> list[str]:
    return [t["expr"] for p in panels() for t in p["targets"]]


def alert_exprs() -> list[str]:
    """The expr of each rule in alerts.yml; a folded (>-) one joined onto a line."""
    lines = ALERTS.read_text().splitlines()
    exprs = []
    for i, line in enumerate(lines):
        if (m := ALERT_EXPR.match(line)) is None:
            continue
        body = [m[2]]
        if m[2] == ">-":
            nested = itertools.takewhile(
                lambda s: s.startswith(m[1] + " "), lines[i + 1 :]
            )
            body = [s.strip() for s in nested]
        exprs.append(" ".join(body))
    return exprs


def series_names(exprs: list[str]) -> set[str]:
    return {name for expr in exprs for name in SERIES_NAME.findall(expr)}


def as_promql(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


def dashboard_rules() -> list[dict[str, str]]:
    """One recording rule per dashboard query, Grafana's variables filled in."""
    return [
        {
            "record": f"dashboard:panel{p['id']}:{t['refId']}",
            "expr": as_promql(t["expr"]),
        }
        for p in panels()
        for t in p["targets"]
    ]


def walk(node: Any) -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair of a JSON document, at any depth."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def panel_reading(name: str) -> dict[str, Any]:
    return next(p for p in panels() if any(name in t["expr"] for t in p["targets"]))


def test_alert_rules_pass_promtool_check(promtool: str) -> None:
    run_promtool(promtool, "check", "rules", ALERTS.name)


def test_every_alert_fires_and_stays_quiet_in_promtool_unit_tests(
    promtool: str,
) -> None:
    run_promtool(promtool, "test", "rules", ALERT_TESTS.name)


def test_prometheus_config_and_the_rules_it_loads_pass_promtool(promtool: str) -> None:
    run_promtool(promtool, "check", "config", "prometheus.yml")


def test_every_dashboard_expression_parses_as_promql(
    promtool: str, tmp_path: Path
) -> None:
    rules = dashboard_rules()
    assert [r["expr"] for r in rules if "$" in r["expr"]] == []
    # JSON is YAML, so promtool reads this file as it is.
    (tmp_path / "dashboard.yml").write_text(
        json.dumps({"groups": [{"name": "dashboard", "rules": rules}]})
    )
    run_promtool(promtool, "check", "rules", "dashboard.yml", cwd=tmp_path)


def test_promtool_tests_skip_where_promtool_is_absent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", "")
    with pytest.raises(pytest.skip.Exception, match="promtool is not on PATH"):
        find_promtool()


def test_dashboard_reads_only_series_the_node_exports() -> None:
    names = series_names(dashboard_exprs())
    assert "receipts_per_block" in names
    assert names - KNOWN_SERIES == set()


def test_every_dashboard_expression_reads_a_node_series() -> None:
    # A misspelt prefix would hide a name from the extractor; this catches it.
    assert [e for e in dashboard_exprs() if not SERIES_NAME.search(e)] == []


def test_alerts_read_only_series_the_node_exports() -> None:
    exprs = alert_exprs()
    assert len(exprs) == ALERTS.read_text().count("- alert:")
    assert all(SERIES_NAME.search(e) for e in exprs), exprs
    assert series_names(exprs) - KNOWN_SERIES == set()


def test_alert_unit_tests_feed_series_the_node_exports() -> None:
    fed = set(re.findall(r"series: '(\w+)", ALERT_TESTS.read_text()))
    assert "receipts_per_block" in fed
    assert fed - KNOWN_SERIES == set()


@pytest.mark.parametrize("name", RECEIPT_METRICS)
def test_every_receipt_metric_has_a_panel(name: str) -> None:
    assert name in series_names(dashboard_exprs())


def test_receipt_metrics_are_the_22_plus_pending_ad() -> None:
    assert len(RECEIPT_METRICS) == 23
    assert "pending_receipts_ad" in RECEIPT_METRICS


def test_hash_rate_panel_charts_the_rate_of_hashes_in_hashes_per_second() -> None:
    panel = panel_reading("engine_hashes_total")
    assert panel["fieldConfig"]["defaults"]["unit"] == "Hs"
    exprs = [t["expr"] for t in panel["targets"]]
    assert "rate(engine_hashes_total[$__rate_interval])" in exprs


def test_block_interval_panel_shows_quantiles_and_mean_in_seconds() -> None:
    panel = panel_reading("engine_block_interval_seconds")
    text = " ".join(t["expr"] for t in panel["targets"])
    assert panel["fieldConfig"]["defaults"]["unit"] == "s"
    assert "histogram_quantile(0.9," in text
    assert "engine_block_interval_seconds_sum" in text


def test_every_panel_has_a_unit() -> None:
    units = {p["title"]: p["fieldConfig"]["defaults"].get("unit") for p in panels()}
    assert [title for title, unit in units.items() if not unit] == []


def test_every_panel_and_target_uses_the_datasource_variable() -> None:
    assert all(p["datasource"] == DATASOURCE_REF for p in panels())
    targets = [t for p in panels() for t in p["targets"]]
    assert all(t["datasource"] == DATASOURCE_REF for t in targets)


def test_no_datasource_uid_is_hard_coded() -> None:
    document = dashboard()
    refs = [value for key, value in walk(document["panels"]) if key == "datasource"]
    uids = {value for key, value in walk(document["panels"]) if key == "uid"}
    assert refs and all(ref == DATASOURCE_REF for ref in refs)
    assert uids == {"${datasource}"}


def test_datasource_variable_offers_prometheus_datasources() -> None:
    variables = {v["name"]: v for v in dashboard()["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"


def test_every_rate_and_increase_uses_rate_interval() -> None:
    exprs = dashboard_exprs()
    ranges = [r for e in exprs for r in RANGE.findall(e)]
    calls = sum(len(RATE_CALL.findall(e)) for e in exprs)
    assert calls > 0 and len(ranges) == calls
    assert set(ranges) == {"$__rate_interval"}


def test_bytes_panel_draws_a_line_at_8_mb() -> None:
    panel = panel_reading("receipt_bytes_per_block")
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert 8_000_000 in [s["value"] for s in steps]
    assert (
        panel["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] == "line"
    )


def test_encoding_failures_panel_is_red() -> None:
    panel = panel_reading("receipt_encoding_failures_total")
    color = panel["fieldConfig"]["defaults"]["color"]
    assert color == {"mode": "fixed", "fixedColor": "red"}
    assert "critical" in panel["title"].lower()


def test_dashboard_has_its_fixed_uid_and_a_current_schema() -> None:
    assert dashboard()["uid"] == "receipt-engine"
    assert dashboard()["schemaVersion"] >= 36


def test_provisioned_datasource_uid_is_not_named_by_the_dashboard() -> None:
    text = DATASOURCES.read_text()
    uid = re.search(r"^\s*uid: (\S+)$", text, re.MULTILINE)
    assert uid is not None and "url: http://127.0.0.1:9090" in text
    assert uid[1] not in DASHBOARD.read_text()


def test_dashboard_provider_loads_a_folder_of_files() -> None:
    text = PROVIDERS.read_text()
    assert "type: file" in text
    assert re.search(r"^\s*path: /\S+$", text, re.MULTILINE)
