#!/usr/bin/env bash
# The one prepared GPU check: at most about 5 minutes on an NVIDIA host with
# CuPy importable (pip install '.[cuda12]', or wheels carried in PYTHONPATH).
# Runs the tests marked gpu and `engine bench --json`, and writes what they
# measured under benches/results/ (device name and date in every file name
# and inside the JSON). Run from anywhere: bash benches/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

results=benches/results
mkdir -p "$results"
if ! python3 -c "import cupy; assert cupy.cuda.runtime.getDeviceCount() > 0" \
    2>/dev/null; then
    echo "gpu_check: no GPU usable through CuPy here; nothing measured." >&2
    exit 2
fi
device=$(python3 -c "import cupy; p = cupy.cuda.runtime.getDeviceProperties(0); \
print(p['name'].decode().replace(' ', '-'))")
stamp="$(date -u +%Y-%m-%dT%H%M%SZ)-$device"

python3 -m engine devices | tee "$results/devices-$stamp.txt"
timeout 150 python3 -m pytest -m gpu -q -rs tests 2>&1 | tee "$results/gpu-tests-$stamp.txt"
tests_rc=${PIPESTATUS[0]}
timeout 120 python3 -m engine -v bench --json >"$results/bench-$stamp.json"
bench_rc=$?
python3 -m json.tool "$results/bench-$stamp.json" | head -60

echo "gpu_check: tests exit $tests_rc, bench exit $bench_rc; results in $results/"
[ "$tests_rc" -eq 0 ] && [ "$bench_rc" -eq 0 ]
