#!/usr/bin/env bash
# Benchmarks ctorch against PyTorch 1.13 (eager and TorchScript) on this machine and writes
# bench/RESULTS.md (issue 6, Benchmarks). Builds ctorch (build/release) first.
#   bench/run.sh [--threads T] [--quick] [--out FILE]
# T defaults to CTORCH_NUM_THREADS, else the number of CPUs; both sides use T threads.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
    --threads|--out) [ $# -ge 2 ] || { echo "bench/run.sh: $1 needs a value" >&2; exit 2; }
                     args+=("$1" "$2"); shift ;;
    --quick) args+=("$1") ;;
    *) echo "bench/run.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
  shift
done
"$root/tools/install-deps.sh" --torch
build="$root/build/release"
echo "== build $build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >"$build.configure.log" 2>&1 ||
  { cat "$build.configure.log"; exit 1; }
cmake --build "$build" -j "$(nproc)"
echo "== benchmarks"
exec /usr/bin/python3 "$root/bench/bench.py" --build "$build" "${args[@]}"
