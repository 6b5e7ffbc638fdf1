#!/usr/bin/env bash
# The main job (issue 7): trains the Fashion-MNIST LeNet (examples/fashion_mnist/model.py) with a
# compiled train step from C, evaluates, saves, deploys, then runs the same training in PyTorch
# 1.13 (same init, data order, optimizer, threads) and compares accuracy and images/s.
#   tools/demo.sh [--epochs E] [--threads T] [--smoke] [--no-torch] [driver options...]
# Options other than --no-torch go to ctorch-fmnist-train (see its --help); outputs land in
# build/fmnist/ (weights.safetensors, model.ctm, model.so).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
epochs=8 threads=${CTORCH_NUM_THREADS:-$(nproc)} smoke=0 torch=1
driver_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    --no-torch) torch=0 ;;
    --smoke) smoke=1; epochs=1; driver_args+=("$1") ;;
    --epochs|--threads)
      [ $# -ge 2 ] || { echo "demo.sh: $1 needs a value" >&2; exit 2; }
      [ "$1" = --epochs ] && epochs=$2 || threads=$2
      driver_args+=("$1" "$2"); shift ;;
    *) driver_args+=("$1") ;;
  esac
  shift
done
export CTORCH_NUM_THREADS=$threads

deps=(--data)
[ "$torch" = 1 ] && deps+=(--torch)
"$root/tools/install-deps.sh" "${deps[@]}"
build="$root/build/release"
echo "== build $build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >"$build.configure.log" 2>&1 ||
  { cat "$build.configure.log"; exit 1; }
cmake --build "$build" -j "$(nproc)" --target ctorchc ctorch-run ctorch-fmnist-train
bin="$build/bin"
out="$root/build/fmnist"
mkdir -p "$out"

train_opt=-O2
echo "== compile the train step: ctorchc --train --loss cross_entropy --optim adam $train_opt"
start=$(date +%s%N)
"$bin/ctorchc" "$root/examples/fashion_mnist/model.py" --input 'x=f32[N,1,28,28]' \
  --train --loss cross_entropy --optim adam --lr 0.001 --target 'y=i64[N]' $train_opt \
  -o "$out/train.ctm"
echo "   $out/train.ctm: $(stat -c %s "$out/train.ctm") bytes, $(( ($(date +%s%N) - start) / 1000000 )) ms"

echo "== train, evaluate, save, deploy (ctorch-fmnist-train)"
"$bin/ctorch-fmnist-train" --package "$out/train.ctm" --out "$out" "${driver_args[@]}" |
  tee "$out/ctorch.log"
[ "$torch" = 1 ] || exit 0

echo "== the same training in PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)') (eager, $threads threads)"
torch_args=(--init "$out/init.safetensors" --epochs "$epochs" --threads "$threads"
            --check-weights "$out/weights.safetensors" --json "$out/torch.json")
if [ "$smoke" = 1 ]; then
  torch_args+=(--data "$root/tests/fixtures/fashion_mnist_small" --train-limit 256 --test-limit 128)
fi
/usr/bin/python3 "$root/examples/fashion_mnist/train_torch.py" "${torch_args[@]}"

echo "== ctorch vs PyTorch"
/usr/bin/python3 - "$out/ctorch.log" "$out/torch.json" <<'EOF'
import json, re, sys
log = open(sys.argv[1]).read()
torch = json.load(open(sys.argv[2]))
acc = float(re.findall(r"test accuracy ([0-9.]+)%", log)[-1])
ref = round(100 * torch["accuracy"], 2)  # both as printed, to 0.01 points
ips = float(re.search(r"training: ([0-9.]+) images/s", log).group(1))
print(f"test accuracy:        ctorch {acc:.2f}%   PyTorch {ref:.2f}%   (difference {acc - ref:+.2f} points)")
print(f"training images/s:    ctorch {ips:.0f}   PyTorch eager {torch['train_images_per_s']:.0f}   "
      f"(ratio {ips / torch['train_images_per_s']:.2f}x, {torch['threads']} threads)")
print(f"ctorch's weights in PyTorch (load_state_dict): {100 * torch['ctorch_weights_accuracy']:.2f}%")
EOF
