#!/usr/bin/env bash
# Installs the Debian 12 packages ctorch needs when they are missing.
#   tools/install-deps.sh            build and test dependencies
#   tools/install-deps.sh --torch    also PyTorch 1.13 (fixtures, benchmarks)
#   tools/install-deps.sh --data     also the Fashion-MNIST dataset
set -euo pipefail

pkgs=(cmake make gcc clang llvm-14-dev llvm-14-tools flex bison libopenblas-dev libcjson-dev
      zlib1g-dev python3 libclang-rt-14-dev)
for arg in "$@"; do
  case "$arg" in
    --torch) pkgs+=(python3-torch python3-numpy python3-sklearn) ;;
    --data) pkgs+=(dataset-fashion-mnist) ;;
    -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
    *) echo "install-deps.sh: unknown option '$arg'" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
