#!/usr/bin/python3
"""ctorch against PyTorch 1.13 on this machine, in one run, with one thread count (issue 6,
Benchmarks): the example models compiled by ctorchc to .so and timed with `ctorch-run --bench`,
next to PyTorch eager and TorchScript (script + freeze + optimize_for_inference) on the same
weights and inputs. Writes a Markdown table (bench/RESULTS.md by default). Run through
bench/run.sh, which builds ctorch first:
    /usr/bin/python3 bench/bench.py --build build/release --threads 2 [--quick] [--out FILE]
A measurement that cannot run (a stage not built yet, an example missing) is reported as such
in the table, with the reason, instead of stopping the run."""
import argparse
import importlib.util
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "fixtures"))
import safetensors_io  # noqa: E402

CHAIN_NUMEL = 16 * 1024 * 1024


class Unavailable(Exception):
    """A ctorch measurement that cannot be made in this build; the message says why."""


def load_class(path, cls):
    spec = importlib.util.spec_from_file_location(os.path.basename(os.path.dirname(path)), path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return getattr(mod, cls)


def time_call(fn, min_iters, min_seconds=0.5, warmup=3):
    """Median and min seconds per call, over at least min_iters calls and min_seconds."""
    for _ in range(warmup):
        fn()
    times, start = [], time.perf_counter()
    while len(times) < min_iters or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if len(times) >= 100000:
            break
    return statistics.median(times), min(times)


_PEAK_RSS = None


def peak_rss_kib(cmd, env=None):
    """Runs cmd under bench/peak_rss.c and returns its peak RSS in KiB. (wait4 from this
    process would report at least this Python's own RSS: the kernel carries the high-water mark
    of the forked parent's memory across exec.)"""
    global _PEAK_RSS
    if _PEAK_RSS is None:
        exe = os.path.join(tempfile.gettempdir(), f"ctorch-peak-rss-{os.getpid()}")
        r = subprocess.run(["cc", "-O2", "-o", exe, os.path.join(HERE, "peak_rss.c")],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise Unavailable("peak_rss.c: " + r.stderr.strip()[-200:])
        _PEAK_RSS = exe
    r = subprocess.run([_PEAK_RSS, *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       text=True, env=env)
    m = re.search(r"peak_rss_kib (\d+)\s*$", r.stderr)
    if r.returncode != 0 or not m:
        raise Unavailable(f"{os.path.basename(cmd[0])} exited {r.returncode}: {r.stderr.strip()[-200:]}")
    return int(m.group(1))


class Ctorch:
    """The ctorch side: ctorchc compiles, ctorch-run --bench times."""

    def __init__(self, build, threads, work):
        self.bin = os.path.join(build, "bin")
        self.threads = threads
        self.work = work
        self.env = dict(os.environ, CTORCH_NUM_THREADS=str(threads))

    def tool(self, name):
        path = os.path.join(self.bin, name)
        if not os.path.exists(path):
            raise Unavailable(f"{name} not built")
        return path

    def compile(self, args, out):
        """ctorchc args -o out; returns (seconds, bytes)."""
        cmd = [self.tool("ctorchc"), *args, "-o", out]
        t0 = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True, env=self.env)
        dt = time.perf_counter() - t0
        if r.returncode != 0:
            raise Unavailable("ctorchc: " + (r.stderr.strip().splitlines() or ["failed"])[0])
        return dt, os.path.getsize(out)

    def bench(self, model, inputs, iters, entry=None):
        """Best seconds per call of entry, from ctorch-run --bench."""
        cmd = [self.tool("ctorch-run"), model, "--inputs", inputs, "--bench", str(iters),
               "--threads", str(self.threads)]
        if entry:
            cmd += ["--entry", entry]
        r = subprocess.run(cmd, capture_output=True, text=True, env=self.env)
        if r.returncode != 0:
            raise Unavailable("ctorch-run: " + (r.stderr.strip().splitlines() or ["failed"])[-1])
        return parse_bench(r.stdout + r.stderr)

    def rss(self, model, inputs):
        """Peak RSS of examples/deploy (ctorch-deploy: libctorch + the runtime, no compiler)."""
        return peak_rss_kib([self.tool("ctorch-deploy"), model, inputs], env=self.env)


_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0}


def parse_bench(text):
    """The best (min) latency in seconds from ctorch-run --bench's report ("min 1.23 ms")."""
    m = re.search(r"\bmin[^0-9]*([0-9.]+(?:e[-+]?\d+)?)\s*(ns|us|µs|ms|s)\b", text)
    if not m:
        raise Unavailable("ctorch-run --bench printed no min: " + text.strip()[-160:])
    return float(m.group(1)) * _UNITS[m.group(2)]


def torchscript(model, example):
    frozen = torch.jit.freeze(torch.jit.script(model.eval()))
    return torch.jit.optimize_for_inference(frozen)


def fmt_time(s):
    if s is None:
        return "n/a"
    if s < 1e-3:
        return f"{s * 1e6:.1f} µs"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def ratio(base, ours):
    return f"{base / ours:.2f}x" if base and ours else "n/a"


class Report:
    def __init__(self):
        self.sections = []
        self.notes = []
        self.raw = {}

    def table(self, title, header, rows):
        self.sections.append((title, header, rows))

    def write(self, path, meta):
        # A hand-written "## Analysis" section at the end of the previous file is kept as it is.
        analysis = ""
        if os.path.exists(path):
            old = open(path).read()
            at = old.find("\n## Analysis")
            analysis = old[at:] if at >= 0 else ""
        with open(path, "w") as f:
            f.write("# ctorch benchmarks\n\n")
            f.write("Written by `bench/run.sh` (bench/bench.py); every number below comes from one run "
                    "on one machine, ctorch and PyTorch side by side with the same thread count. "
                    "Ratios are PyTorch time / ctorch time (above 1: ctorch is faster). Times are the "
                    "best of many calls on each side (ctorch-run --bench's min; the same loop in "
                    "Python for PyTorch), the more stable statistic on a loaded machine.\n\n")
            for k, v in meta.items():
                f.write(f"- {k}: {v}\n")
            for title, header, rows in self.sections:
                f.write(f"\n## {title}\n\n| " + " | ".join(header) + " |\n")
                f.write("|" + "---|" * len(header) + "\n")
                for r in rows:
                    f.write("| " + " | ".join(str(c) for c in r) + " |\n")
            if self.notes:
                f.write("\n## Notes\n\n")
                for n in self.notes:
                    f.write(f"- {n}\n")
            f.write(analysis)


def slug(name):
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def bench_inference(ct, rep, a, name, path, cls, spec, shape_of, batches):
    """One model at several batch sizes: ctorch .so vs eager vs TorchScript."""
    model = load_class(path, cls)()
    model.eval()
    name_ = name
    name = slug(name)
    weights = os.path.join(ct.work, f"{name}.weights.safetensors")
    safetensors_io.save(weights, model.state_dict())
    so = os.path.join(ct.work, f"{name}.so")
    compile_s = size = None
    ct_err = None
    try:
        compile_s, size = ct.compile([path, "--input", spec, "--weights", weights, "-O2"], so)
    except Unavailable as e:
        ct_err = str(e)
    rows = []
    for n in batches:
        x = torch.randn(*shape_of(n))
        inputs = os.path.join(ct.work, f"{name}.n{n}.safetensors")
        safetensors_io.save(inputs, {"x": x})
        iters = max(5, min(2000, int(20000 / n)))
        with torch.no_grad():
            _, eager = time_call(lambda: model(x), iters // 4)
            ts_model = torchscript(model, x)
            _, ts = time_call(lambda: ts_model(x), iters // 4)
        ours = None
        if ct_err is None:
            try:
                ours = ct.bench(so, inputs, iters)
            except Unavailable as e:
                ct_err = str(e)
        rows.append([name_, n, fmt_time(ours), fmt_time(eager), fmt_time(ts), ratio(eager, ours),
                     ratio(ts, ours)])
        rep.raw[f"{name}.n{n}"] = {"ctorch": ours, "eager": eager, "torchscript": ts}
    if ct_err:
        rep.notes.append(f"{name_}: ctorch not measured: {ct_err}")
    return rows, compile_s, size, so


def bench_train_step(ct, rep, a):
    """The Fashion-MNIST LeNet train step (cross entropy, Adam, batch 64)."""
    path = os.path.join(ROOT, "examples", "fashion_mnist", "model.py")
    model = load_class(path, "FashionLeNet")()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))

    def step():
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    _, eager = time_call(step, 50 if not a.quick else 10)
    weights = os.path.join(ct.work, "train.weights.safetensors")
    safetensors_io.save(weights, model.state_dict())
    inputs = os.path.join(ct.work, "train.inputs.safetensors")
    safetensors_io.save(inputs, {"x": x, "y": y})
    rows, compile_s, size = [], None, None
    # -O2 is what tools/demo.sh trains with; -O0 (no fusion, no memory plan) for comparison.
    for level, label in (("-O2", "train_step -O2"), ("-O0", "train_step -O0")):
        ours = None
        try:
            out = os.path.join(ct.work, f"train{level}.so")
            cs, sz = ct.compile([path, "--input", "x=f32[N,1,28,28]", "--weights", weights,
                                 "--train", "--loss", "cross_entropy", "--optim", "adam",
                                 "--target", "y=i64[N]", level], out)
            if level == "-O2":
                compile_s, size = cs, sz
            ours = ct.bench(out, inputs, 200 if not a.quick else 20, entry="train_step")
        except Unavailable as e:
            rep.notes.append(f"LeNet train step {level}: ctorch not measured: {e}")
        rep.raw[f"train_step{level}"] = {"ctorch": ours, "eager": eager}
        rows.append([label, fmt_time(ours), fmt_time(eager), ratio(eager, ours),
                     f"{64 / ours:.0f}" if ours else "n/a", f"{64 / eager:.0f}"])
    rep.table("Train step: Fashion-MNIST LeNet-5, cross entropy + Adam, batch 64",
              ["", "ctorch", "PyTorch eager", "vs eager (target 1.5x)", "images/s ctorch",
               "images/s eager"], rows)
    return compile_s, size


def copy_bandwidth(ct, a):
    """GB/s of a memcpy of 16M floats (bytes read + written), from bench/copy_bw.c."""
    exe = os.path.join(ct.work, "copy_bw")
    src = os.path.join(HERE, "copy_bw.c")
    r = subprocess.run(["cc", "-O2", "-pthread", "-o", exe, src], capture_output=True, text=True)
    if r.returncode != 0:
        raise Unavailable("copy_bw.c: " + r.stderr.strip()[-200:])
    r = subprocess.run([exe, str(CHAIN_NUMEL), str(ct.threads)], capture_output=True, text=True)
    m = re.search(r"([0-9.]+) GB/s", r.stdout)
    if r.returncode != 0 or not m:
        raise Unavailable("copy_bw failed: " + r.stdout + r.stderr)
    return float(m.group(1))


def bench_chain(ct, rep, a):
    path = os.path.join(HERE, "models", "chain.py")
    model = load_class(path, "Chain")()
    x = torch.randn(CHAIN_NUMEL)
    with torch.no_grad():
        _, eager = time_call(lambda: model(x), 5)
        ts_model = torchscript(model, x)
        _, ts = time_call(lambda: ts_model(x), 5)
    moved = 2 * 4 * CHAIN_NUMEL  # one f32 read and one f32 write per element
    bw = ours = None
    try:
        bw = copy_bandwidth(ct, a)
    except Unavailable as e:
        rep.notes.append(f"copy bandwidth not measured: {e}")
    try:
        inputs = os.path.join(ct.work, "chain.inputs.safetensors")
        safetensors_io.save(inputs, {"x": x})
        so = os.path.join(ct.work, "chain.so")
        ct.compile([path, "--input", f"x=f32[{CHAIN_NUMEL}]", "-O2"], so)
        ours = ct.bench(so, inputs, 20)
    except Unavailable as e:
        rep.notes.append(f"elementwise chain: ctorch not measured: {e}")

    def gbs(t):
        return f"{moved / t / 1e9:.1f} GB/s" if t else "n/a"

    frac = f"{100 * moved / ours / 1e9 / bw:.0f}%" if ours and bw else "n/a"
    rep.raw["chain_fraction"] = moved / ours / 1e9 / bw if ours and bw else None
    rep.table("Fused elementwise chain on 16M floats (`bench/models/chain.py`)",
              ["", "time", "effective bandwidth", "of copy bandwidth (target 80%)"],
              [["ctorch", fmt_time(ours), gbs(ours), frac],
               ["PyTorch eager", fmt_time(eager), gbs(eager),
                f"{100 * moved / eager / 1e9 / bw:.0f}%" if bw else "n/a"],
               ["TorchScript", fmt_time(ts), gbs(ts),
                f"{100 * moved / ts / 1e9 / bw:.0f}%" if bw else "n/a"],
               ["memcpy (copy_bw.c)", "", f"{bw:.1f} GB/s" if bw else "n/a", "100%"]])


def torch_rss(a, path, cls, shape):
    """Peak RSS of a fresh Python process running one batch-1 TorchScript inference."""
    code = (f"import torch, importlib.util, sys\n"
            f"torch.set_num_threads({a.threads})\n"
            f"spec = importlib.util.spec_from_file_location('m', {path!r})\n"
            f"m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
            f"model = m.{cls}().eval()\n"
            f"ts = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.script(model)))\n"
            f"with torch.no_grad(): ts(torch.randn(*{shape!r}))\n")
    return peak_rss_kib([sys.executable, "-c", code])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "release"))
    ap.add_argument("--threads", type=int, default=int(os.environ.get("CTORCH_NUM_THREADS", "0")) or os.cpu_count())
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"))
    ap.add_argument("--quick", action="store_true", help="fewer batch sizes and iterations")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    work = tempfile.mkdtemp(prefix="ctorch-bench-")
    ct = Ctorch(a.build, a.threads, work)
    rep = Report()
    batches = [1, 64] if a.quick else [1, 64, 1024]

    infer_rows, compiles, sizes = [], [], []
    models = [("MLP 784-256-128-10", os.path.join(ROOT, "examples", "mlp", "model.py"), "MLP",
               "x=f32[N,784]", lambda n: (n, 784), batches),
              ("LeNet-5", os.path.join(ROOT, "examples", "lenet", "model.py"), "LeNet",
               "x=f32[N,1,28,28]", lambda n: (n, 1, 28, 28), batches)]
    models.append(("Transformer block", os.path.join(ROOT, "examples", "transformer", "model.py"),
                   "EncoderBlock", "x=f32[N,16,64]", lambda n: (n, 16, 64), [1, 32]))
    so_paths = {}
    for name, path, cls, spec, shape_of, bs in models:
        rows, cs, size, so = bench_inference(ct, rep, a, name, path, cls, spec, shape_of, bs)
        infer_rows += rows
        compiles.append([name, f"{cs:.2f} s" if cs else "n/a"])
        sizes.append([name, f"{size / 1024:.0f} KiB" if size else "n/a"])
        so_paths[name] = (so, path, cls, shape_of)
    rep.table("Inference latency (best of the timed calls)",
              ["model", "batch", "ctorch .so", "PyTorch eager", "TorchScript frozen",
               "vs eager", "vs TorchScript (target: 3x at batch 1, 1.3x at 64)"], infer_rows)

    cs, size = bench_train_step(ct, rep, a)
    compiles.append(["LeNet-5 train step (--train)", f"{cs:.2f} s" if cs else "n/a"])
    sizes.append(["LeNet-5 train step (--train)", f"{size / 1024:.0f} KiB" if size else "n/a"])
    bench_chain(ct, rep, a)
    rep.table("Compile time (ctorchc -O2 to .so, wall clock)", ["model", "time"], compiles)
    rep.table("Deployed artifact size (.so, weights embedded)", ["model", "size"], sizes)

    rss_rows = []
    for name in ("MLP 784-256-128-10", "LeNet-5"):
        if name not in so_paths:
            continue
        so, path, cls, shape_of = so_paths[name]
        inputs = os.path.join(work, f"{slug(name)}.n1.safetensors")
        ours = None
        try:
            ours = ct.rss(so, inputs)
        except Unavailable as e:
            rep.notes.append(f"{name}: ctorch peak RSS not measured: {e}")
        theirs = torch_rss(a, path, cls, shape_of(1))
        rss_rows.append([name, f"{ours / 1024:.1f} MiB" if ours else "n/a",
                         f"{theirs / 1024:.1f} MiB",
                         f"{ours / theirs:.3f}" if ours else "n/a"])
    rep.table("Peak RSS of a process running one batch-1 inference",
              ["model", "ctorch-deploy .so (examples/deploy)", "python + TorchScript", "ratio (target < 0.1)"], rss_rows)

    rep.table("Targets (issue 6)", ["target", "measured", "met"], targets(rep.raw, rss_rows))

    meta = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs "
                       f"({cpu_model()})",
            "threads": f"{a.threads} (CTORCH_NUM_THREADS and torch.set_num_threads)",
            "load average at the end (1, 5, 15 min)": " ".join(f"{x:.1f}" for x in os.getloadavg()),
            "PyTorch": torch.__version__, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "ctorch": git_rev()}
    rep.write(a.out, meta)
    with open(os.path.splitext(a.out)[0] + ".json", "w") as f:
        json.dump(rep.raw, f, indent=1)
    shutil.rmtree(work, ignore_errors=True)
    if _PEAK_RSS:
        os.unlink(_PEAK_RSS)
    print(open(a.out).read())


def targets(raw, rss_rows):
    """Each issue-6 target next to what this run measured."""
    rows = []

    def speedup(key, base):
        r = raw.get(key) or {}
        return r[base] / r["ctorch"] if r.get("ctorch") and r.get(base) else None

    for key, label in (("mlp_784_256_128_10", "MLP"), ("lenet_5", "LeNet-5"),
                       ("transformer_block", "Transformer block")):
        for n, want in ((1, 3.0), (64, 1.3), (32, 1.3)):
            x = speedup(f"{key}.n{n}", "torchscript")
            if f"{key}.n{n}" in raw:
                rows.append([f"{label} batch {n}: >= {want}x TorchScript",
                             f"{x:.2f}x" if x else "n/a", "yes" if x and x >= want else "no"])
    x = speedup("train_step-O2", "eager")
    rows.append(["LeNet train step: >= 1.5x eager", f"{x:.2f}x" if x else "n/a",
                 "yes" if x and x >= 1.5 else "no"])
    frac = raw.get("chain_fraction")
    rows.append(["elementwise chain: >= 80% of copy bandwidth",
                 f"{100 * frac:.0f}%" if frac else "n/a", "yes" if frac and frac >= 0.8 else "no"])
    for name, ours, theirs, ratio_ in rss_rows:
        rows.append([f"{name} peak RSS: < 1/10 of PyTorch's", ratio_,
                     "yes" if ratio_ != "n/a" and float(ratio_) < 0.1 else "no"])
    return rows


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def git_rev():
    r = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return r.stdout.strip() or "unknown"


if __name__ == "__main__":
    main()
