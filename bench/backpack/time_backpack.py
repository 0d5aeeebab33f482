"""Times BackPACK on the benchmark problems of bench/problems/*.json, for `npm run bench -- --compare-backpack`.

Builds each model.json as a torch nn.Sequential (the same layers, float32), draws standard-normal
inputs and uniform labels, and reports the median wall time of one forward + backward with one
BackPACK extension active (`grad`: plain backward of the extended model), after warm-up runs.
Prints one JSON object per line: {"problem", "N", "quantity", "median_ms", "runs", "cpu_ms",
"peak_rss_mb"} or, for a cell BackPACK cannot run, {"problem", "N", "quantity", "error"}. A first
line {"meta": …} names versions (torch, BackPACK, BLAS, allocator). With --ticks, a line {"tick": …}
after every step (bench/run.ts uses it to tell a slow cell from a hung one). With --turns, every
step runs inside a turn lent by the parent, which runs our side of the same cells beside this
process (bench/turns.ts: `@@WANT {"quantity": q}` out, `go` in, `@@DONE {}` out).

Warm-ups: at least --warmup steps, more while they total less than --min-warmup-s (at most --max-warmups).
Timed runs: at least --repeats; more while they total less than --min-cell-s (at most --max-runs), none
beyond --repeats once --max-cell-s is spent — the same rule as bench/ours.ts. "cpu_ms": median
process CPU time per step (all threads); "peak_rss_mb": the process's peak RSS so far (ru_maxrss).

    PYTHONPATH=$BP_PATH OMP_NUM_THREADS=1 LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 \
      MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1 python3 bench/backpack/time_backpack.py \
        --problems mlp_mnist --n 128 --quantities grad,BatchGrad --threads 1 [--warmup 2] [--repeats 3] \
        [--min-warmup-s 0] [--min-cell-s 1] [--max-runs 100] [--max-cell-s 5] [--max-output-gb G] [--ticks] [--turns] [--device cpu]
"""
import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time

import torch
from torch import nn

import backpack
from backpack import backpack as backpack_ctx, extend
from backpack import extensions as ext

QUANTITIES = {
    "grad": None,
    "BatchGrad": ext.BatchGrad,
    "BatchL2Grad": ext.BatchL2Grad,
    "SumGradSquared": ext.SumGradSquared,
    "Variance": ext.Variance,
    "DiagGGNExact": ext.DiagGGNExact,
    "DiagGGNMC": ext.DiagGGNMC,
    "KFAC": ext.KFAC,
    "KFLR": ext.KFLR,
    "DiagHessian": ext.DiagHessian,
}

LAYERS = {
    "Conv2d": lambda s: nn.Conv2d(s["in_channels"], s["out_channels"], s["kernel_size"], stride=s.get("stride", 1),
                                  padding=s.get("padding", 0), dilation=s.get("dilation", 1), groups=s.get("groups", 1),
                                  bias=s.get("bias", True)),
    "Linear": lambda s: nn.Linear(s["in_features"], s["out_features"], bias=s.get("bias", True)),
    "ReLU": lambda s: nn.ReLU(),
    "Sigmoid": lambda s: nn.Sigmoid(),
    "Tanh": lambda s: nn.Tanh(),
    "Flatten": lambda s: nn.Flatten(),
    "MaxPool2d": lambda s: nn.MaxPool2d(s["kernel_size"], stride=s.get("stride"), padding=s.get("padding", 0)),
    "AvgPool2d": lambda s: nn.AvgPool2d(s["kernel_size"], stride=s.get("stride"), padding=s.get("padding", 0)),
}

LOSSES = {
    "CrossEntropyLoss": lambda r: nn.CrossEntropyLoss(reduction=r),
    "MSELoss": lambda r: nn.MSELoss(reduction=r),
}


def build(spec):
    layers = []
    for layer in spec["layers"]:
        if layer["type"] not in LAYERS:
            raise ValueError(f"layer {layer['type']} is not in the timing script's table")
        layers.append(LAYERS[layer["type"]](layer))
    model = extend(nn.Sequential(*layers))
    loss = extend(LOSSES[spec["loss"]["type"]](spec["loss"].get("reduction", "mean")))
    return model, loss


class TurnGate:
    """With --turns, every step runs inside a turn lent by the parent (bench/turns.ts): our
    process runs beside this one, and the two take turns on the cores in slices of TURN_S."""
    TURN_S = 0.1

    def __init__(self, enabled):
        self.enabled, self.held, self.since, self.quantity = enabled, False, 0.0, ""

    def before(self):
        if not self.enabled or self.held:
            return
        print("@@WANT " + json.dumps({"quantity": self.quantity}), flush=True)
        if sys.stdin.readline() == "":
            raise RuntimeError("the parent closed stdin while a turn was asked for")
        self.held, self.since = True, time.perf_counter()

    def after(self):
        if self.held and time.perf_counter() - self.since >= self.TURN_S:
            self.release()

    def release(self):
        if self.held:
            self.held = False
            print("@@DONE {}", flush=True)


def time_cell(model, lossfn, X, y, quantity, warmup, repeats, max_cell_s, min_cell_s=1.0, ticks=False, min_warmup_s=0.0, max_warmups=50, gate=None, max_runs=100):
    gate = gate or TurnGate(False)
    gate.quantity = quantity
    def step():
        model.zero_grad()
        loss = lossfn(model(X), y)
        if QUANTITIES[quantity] is None:
            with backpack_ctx():
                loss.backward()
        else:
            with backpack_ctx(QUANTITIES[quantity]()):
                loss.backward()
        if X.is_cuda:
            torch.cuda.synchronize()

    def tick(what):
        if ticks:
            print(json.dumps({"tick": what}), flush=True)

    warmups, spent_w = 0, 0.0
    while warmups < warmup or (spent_w < min_warmup_s and warmups < max_warmups):
        gate.before()
        t0 = time.perf_counter()
        step()
        spent_w += time.perf_counter() - t0
        gate.after()
        warmups += 1
        tick(f"warmup {warmups}")
    times = []
    cpu = []
    spent = 0.0
    while len(times) < repeats or (spent < min_cell_s and spent < max_cell_s and len(times) < max_runs):
        gate.before()
        c0 = time.process_time()
        t0 = time.perf_counter()
        step()
        dt = time.perf_counter() - t0
        cpu.append((time.process_time() - c0) * 1e3)
        gate.after()
        times.append(dt * 1e3)
        spent += dt
        tick(f"run {len(times)}")
    gate.release()
    return statistics.median(times), len(times), statistics.median(cpu)


def blas_info():
    for line in torch.__config__.show().splitlines():
        line = line.strip(" -")
        if "Math Kernel Library" in line or "OpenBLAS" in line or "BLIS" in line:
            return line
    return "?"


def backpack_version():
    v = getattr(backpack, "__version__", None)
    if v:
        return v
    try:
        from importlib.metadata import version
        return version("backpack-for-pytorch")
    except Exception:
        pass
    # A source checkout (../shared/backpack-reference): its commit file lies next to the package.
    commit = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(backpack.__file__))), "BACKPACK_COMMIT.txt")
    if os.path.exists(commit):
        with open(commit) as f:
            return "master " + f.read().split()[0][:7]
    return "?"


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--problems", default="mlp_mnist,2c2d_fmnist,3c3d_cifar10")
    ap.add_argument("--problem-dir", default=os.path.join(os.path.dirname(__file__), "..", "problems"))
    ap.add_argument("--n", default="128")
    ap.add_argument("--quantities", default=",".join(QUANTITIES))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--max-cell-s", type=float, default=5.0)
    ap.add_argument("--min-cell-s", type=float, default=1.0)
    ap.add_argument("--min-warmup-s", type=float, default=0.0,
                    help="more warm-up steps while they total less than this (at most --max-warmups)")
    ap.add_argument("--max-warmups", type=int, default=50)
    ap.add_argument("--max-runs", type=int, default=100)
    ap.add_argument("--max-output-gb", type=float, default=0.0,
                    help="skip BatchGrad where its [N, θ] output alone exceeds this (0: no limit)")
    ap.add_argument("--ticks", action="store_true")
    ap.add_argument("--turns", action="store_true",
                    help="take turns on the cores with a process beside this one (bench/turns.ts)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    print(json.dumps({"meta": {"torch": torch.__version__, "backpack": backpack_version(),
                               "threads": torch.get_num_threads(), "device": str(dev),
                               "blas": blas_info(), "mkldnn": torch.backends.mkldnn.is_available(),
                               "allocator": os.environ.get("LD_PRELOAD", ""),
                               "python": platform.python_version()}}), flush=True)
    gate = TurnGate(a.turns)
    for problem in a.problems.split(","):
        with open(os.path.join(a.problem_dir, f"{problem}.json")) as f:
            spec = json.load(f)
        torch.manual_seed(a.seed)
        model, lossfn = build(spec)
        model = model.to(dev)
        for N in [int(n) for n in a.n.split(",")]:
            X = torch.randn(N, *spec["input_shape"], device=dev)
            y = torch.randint(0, 10, (N,), device=dev)
            params = sum(p.numel() for p in model.parameters())
            for q in a.quantities.split(","):
                out_gb = N * params * 4 / 1e9
                if q == "BatchGrad" and a.max_output_gb > 0 and out_gb > a.max_output_gb:
                    print(json.dumps({"problem": problem, "N": N, "quantity": q,
                                      "error": f"output [N, θ] = {N}·{params} floats = {out_gb:.3g} GB > {a.max_output_gb:.3g} GB"}), flush=True)
                    continue
                try:
                    ms, runs, cpu_ms = time_cell(model, lossfn, X, y, q, a.warmup, a.repeats, a.max_cell_s, a.min_cell_s, a.ticks, a.min_warmup_s, a.max_warmups, gate, a.max_runs)
                    print(json.dumps({"problem": problem, "N": N, "quantity": q, "median_ms": ms, "runs": runs,
                                      "cpu_ms": cpu_ms, "peak_rss_mb": peak_rss_mb()}), flush=True)
                except Exception as e:  # a cell BackPACK cannot run (memory, unsupported) is reported, not fatal
                    gate.release()  # a step that raised inside a turn: the turn ends with the cell
                    print(json.dumps({"problem": problem, "N": N, "quantity": q, "error": f"{type(e).__name__}: {e}"[:300]}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
