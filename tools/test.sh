#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine for ctorch and runs every test: a -Werror build, then an
# ASan+UBSan build, each running the unit tests (ctest) and the lit suite, then a short run of
# each fuzz target.
#   tools/test.sh [--no-asan] [--no-fuzz] [--fuzz-seconds S]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
asan=1 fuzz=1 fuzz_seconds=20
while [ $# -gt 0 ]; do
  case "$1" in
    --no-asan) asan=0 ;;
    --no-fuzz) fuzz=0 ;;
    --fuzz-seconds) fuzz_seconds=$2; shift ;;
    -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
    *) echo "test.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
  shift
done

"$root/tools/install-deps.sh"
jobs=$(nproc)

build_and_test() { # dir, cmake flags...
  local dir=$1; shift
  echo "== configure $dir ($*)"
  cmake -S "$root" -B "$dir" -DCT_WERROR=ON "$@" >"$dir.configure.log" 2>&1 ||
    { cat "$dir.configure.log"; exit 1; }
  echo "== build $dir"
  cmake --build "$dir" -j "$jobs"
  echo "== test $dir"
  ctest --test-dir "$dir" --output-on-failure -j "$jobs"
}

mkdir -p "$root/build"
build_and_test "$root/build/release" -DCMAKE_BUILD_TYPE=RelWithDebInfo
if [ "$asan" = 1 ]; then
  build_and_test "$root/build/asan" -DCMAKE_BUILD_TYPE=Debug -DCT_SANITIZE=ON -DCMAKE_C_COMPILER=clang
fi
if [ "$fuzz" = 1 ] && [ -x "$root/tests/fuzz/run.sh" ]; then
  for target in "$root"/tests/fuzz/fuzz_*.c; do
    name=$(basename "$target" .c)
    echo "== fuzz $name ($fuzz_seconds s)"
    "$root/tests/fuzz/run.sh" "$name" "$fuzz_seconds"
  done
fi
echo "== all tests passed"
