"""Times BackPACK on the benchmark problems of bench/problems/*.json, for `npm run bench -- --compare-backpack`.

Builds each model.json as a torch nn.Sequential (the same layers, float32), draws standard-normal
inputs and uniform labels, and reports the median wall time of one forward + backward with one
BackPACK extension active (`grad`: plain backward of the extended model), after warm-up runs.
Prints one JSON object per line: {"problem", "N", "quantity", "median_ms", "runs"} or, for a cell
BackPACK cannot run, {"problem", "N", "quantity", "error"}. A first line {"meta": …} names versions.

    PYTHONPATH=$BP_PATH python3 bench/backpack/time_backpack.py --problems mlp_mnist --n 128 \
        --quantities grad,BatchGrad --threads 1 [--warmup 2] [--repeats 3] [--max-cell-s 5] [--device cpu]
"""
import argparse
import json
import os
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


def time_cell(model, lossfn, X, y, quantity, warmup, repeats, max_cell_s):
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

    for _ in range(warmup):
        step()
    times = []
    spent = 0.0
    while len(times) < repeats or (spent < 1.0 and len(times) < 100):
        t0 = time.perf_counter()
        step()
        dt = time.perf_counter() - t0
        times.append(dt * 1e3)
        spent += dt
        if spent > max_cell_s and len(times) >= 1:
            break
    return statistics.median(times), len(times)


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
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    print(json.dumps({"meta": {"torch": torch.__version__, "backpack": getattr(backpack, "__version__", "?"),
                               "threads": torch.get_num_threads(), "device": str(dev),
                               "mkldnn": torch.backends.mkldnn.is_available(),
                               "allocator": os.environ.get("LD_PRELOAD", "")}}), flush=True)
    for problem in a.problems.split(","):
        with open(os.path.join(a.problem_dir, f"{problem}.json")) as f:
            spec = json.load(f)
        torch.manual_seed(a.seed)
        model, lossfn = build(spec)
        model = model.to(dev)
        for N in [int(n) for n in a.n.split(",")]:
            X = torch.randn(N, *spec["input_shape"], device=dev)
            y = torch.randint(0, 10, (N,), device=dev)
            for q in a.quantities.split(","):
                try:
                    ms, runs = time_cell(model, lossfn, X, y, q, a.warmup, a.repeats, a.max_cell_s)
                    print(json.dumps({"problem": problem, "N": N, "quantity": q, "median_ms": ms, "runs": runs}), flush=True)
                except Exception as e:  # a cell BackPACK cannot run (memory, unsupported) is reported, not fatal
                    print(json.dumps({"problem": problem, "N": N, "quantity": q, "error": f"{type(e).__name__}: {e}"[:300]}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
