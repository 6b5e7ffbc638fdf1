#!/usr/bin/env bash
# Builds one libFuzzer target in build/fuzz (clang, CT_FUZZ + ASan/UBSan) and runs it for the
# given seconds over its seed corpus; exits non-zero when the fuzzer finds a crash.
#   tests/fuzz/run.sh NAME SECONDS     e.g. tests/fuzz/run.sh fuzz_safetensors 60
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
name=${1:?usage: run.sh NAME SECONDS}
seconds=${2:-20}
dir=$root/build/fuzz
mkdir -p "$dir"
cmake -S "$root" -B "$dir" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DCT_FUZZ=ON \
  -DCT_SANITIZE=ON -DCT_WERROR=ON >"$dir/configure.log" 2>&1 || { cat "$dir/configure.log"; exit 1; }
cmake --build "$dir" -j "$(nproc)" --target "$name"
# New inputs go to a scratch corpus so the committed seeds stay small; crashes land in artifacts.
work=$dir/corpus/$name
mkdir -p "$work" "$dir/artifacts"
"$dir/fuzz/$name" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
  -artifact_prefix="$dir/artifacts/$name-" "$work" "$root/tests/fuzz/corpus/$name"
