#!/usr/bin/env bash
# The main job, as far as it exists on main: sets up a fresh Debian 12 machine, builds ctorch,
# and runs the example MLP (examples/mlp/mlp.ctir) through the reference interpreter with
# PyTorch-trained weights, checking its output against PyTorch 1.13's.
#   tools/demo.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
case "${1:-}" in -h|--help) sed -n '2,5p' "$0"; exit 0 ;; esac
"$root/tools/install-deps.sh"
build="$root/build/release"
echo "== build $build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build.configure.log" 2>&1 ||
  { cat "$build.configure.log"; exit 1; }
cmake --build "$build" -j "$(nproc)" --target ctorch-run ctorch-opt
fx="$root/tests/fixtures/mlp"
echo "== the MLP 784-256-128-10 as IR"
"$build/bin/ctorch-opt" --verify "$root/examples/mlp/mlp.ctir"
echo "== run it through the interpreter with PyTorch's weights, check against PyTorch's output"
"$build/bin/ctorch-run" "$root/examples/mlp/mlp.ctir" --weights "$fx/weights.safetensors" \
  --inputs "$fx/inputs.safetensors" --outputs "$build/mlp-output.safetensors" --print \
  --check "$fx/expected.safetensors"
echo "== outputs written to $build/mlp-output.safetensors"
