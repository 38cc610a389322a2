"""Plot throughput against batch size per operation from pytest-benchmark JSON.

    python benches/plot.py [BENCH.json] [--out benches/throughput.png]

Without a path it reads the newest file under .benchmarks/ (what
`pytest benches --benchmark-autosave` writes). Each benchmark that recorded
an operation and a receipt count in extra_info becomes a point at
receipts / best time; operations measured at one size only are left out.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "benches" / "throughput.png"


def newest_json() -> Path:
    found = sorted(
        (ROOT / ".benchmarks").rglob("*.json"), key=lambda p: p.stat().st_mtime
    )
    if not found:
        raise SystemExit("no saved benchmarks: run pytest benches --benchmark-autosave")
    return found[-1]


def series(data: dict[str, Any]) -> dict[str, list[tuple[int, float]]]:
    """operation -> [(receipts, receipts per second)], sorted by size."""
    points: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for bench in data["benchmarks"]:
        info = bench.get("extra_info", {})
        if "operation" in info and "receipts" in info and info["receipts"]:
            count = int(info["receipts"])
            points[info["operation"]].append((count, count / bench["stats"]["min"]))
    return {op: sorted(p) for op, p in points.items() if len({n for n, _ in p}) > 1}


def plot(data: dict[str, Any], out: Path) -> None:
    fig, ax = plt.subplots(figsize=(9, 6))
    colours = plt.get_cmap("tab20").colors
    for i, (operation, points) in enumerate(sorted(series(data).items())):
        sizes, rates = zip(*points, strict=True)
        style = "--" if "storage" in operation else "-"
        ax.plot(sizes, rates, style, marker="o", color=colours[i], label=operation)
    ax.set(xscale="log", yscale="log", xlabel="receipts per batch",
           ylabel="receipts per second (best round)")  # fmt: skip
    machine = data.get("machine_info", {})
    ax.set_title(f"{machine.get('cpu', {}).get('brand_raw', '')}, "
                 f"{data.get('datetime', '')[:10]}", fontsize=9)  # fmt: skip
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", nargs="?", type=Path)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    source = args.json or newest_json()
    plot(json.loads(source.read_text()), args.out)
    print(f"wrote {args.out} from {source}")


if __name__ == "__main__":
    main()
