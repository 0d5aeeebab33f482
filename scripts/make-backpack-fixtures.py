#!/usr/bin/env python3
"""Make BackPACK reference cases for test/fixtures/backpack (layout: see its README.md).

Each case is a float64 torch ``nn.Sequential`` with seeded weights and data; BackPACK computes every
quantity it supports for it, one extension at a time (an extension BackPACK refuses is recorded in
``meta.json["errors"]`` with its message, and the tests then skip it). The model is exported with
scripts/export_torch.py, so the spec is what a user's export would give.

Needs PyTorch and BackPACK (backpack-for-pytorch; its ``einops`` and ``unfoldNd`` dependencies)::

    PYTHONPATH=/path/to/backpack python3 scripts/make-backpack-fixtures.py [--out test/fixtures/backpack] [--only NAME ...]

Existing case folders of the same name are overwritten; others are left alone.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_torch import build_spec, encode_safetensors, write_export  # noqa: E402

import backpack as backpack_package  # noqa: E402
from backpack import backpack, extend  # noqa: E402
from backpack import extensions as bx  # noqa: E402

# Quantity name -> savefield (the deterministic ones: MC quantities cannot match a fixture).
EXTENSIONS = {
    "BatchGrad": "grad_batch", "BatchL2Grad": "batch_l2", "SumGradSquared": "sum_grad_squared", "Variance": "variance",
    "DiagGGNExact": "diag_ggn_exact", "BatchDiagGGNExact": "diag_ggn_exact_batch", "SqrtGGNExact": "sqrt_ggn_exact",
    "KFLR": "kflr", "KFRA": "kfra", "DiagHessian": "diag_h", "BatchDiagHessian": "diag_h_batch",
}


def case(name, input_shape, layers, loss, reduction, N, classes=None, extensions=None, note=None):
    return {"name": name, "input_shape": input_shape, "layers": layers, "loss": loss, "reduction": reduction, "N": N,
            "classes": classes, "extensions": extensions or list(EXTENSIONS), "note": note}


# BackPACK's AvgPool Jacobian (core/derivatives/avgpoolnd.py) is a transposed convolution with a
# uniform kernel, which cannot produce a ceil_mode pool's input size (ValueError) and asserts
# count_include_pad: it refuses second order for these cases (recorded in meta.json "errors"),
# so their fixtures hold the first-order quantities, which come from torch's own autograd.


def cases():
    return [
        case("maxpool2d_ceil_ce_mean", [2, 7, 7], lambda: [
            nn.Conv2d(2, 3, 2), nn.ReLU(), nn.MaxPool2d(3, stride=2, ceil_mode=True), nn.Flatten(), nn.Linear(27, 4)],
            "CrossEntropyLoss", "mean", 6, classes=4),
        case("maxpool1d_ceil_mse_sum", [2, 9], lambda: [
            nn.Conv1d(2, 2, 2), nn.Sigmoid(), nn.MaxPool1d(3, stride=2, padding=1, ceil_mode=True), nn.Flatten(), nn.Linear(10, 3)],
            "MSELoss", "sum", 5),
        case("maxpool3d_ceil_ce_sum", [1, 3, 4, 5], lambda: [
            nn.Conv3d(1, 2, 1), nn.Tanh(), nn.MaxPool3d(2, ceil_mode=True), nn.Flatten(), nn.Linear(24, 3)],
            "CrossEntropyLoss", "sum", 4, classes=3),
        case("avgpool2d_ceil_ce_mean", [2, 5, 6], lambda: [
            nn.Conv2d(2, 2, 1), nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True), nn.Flatten(), nn.Linear(24, 3)],
            "CrossEntropyLoss", "mean", 5, classes=3),
        case("avgpool1d_ceil_mse_mean", [2, 8], lambda: [
            nn.Conv1d(2, 2, 2), nn.AvgPool1d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False), nn.Flatten(), nn.Linear(8, 2)],
            "MSELoss", "mean", 4),
        case("avgpool3d_ceil_ce_sum", [1, 3, 4, 5], lambda: [
            nn.Conv3d(1, 2, 1), nn.AvgPool3d(2, ceil_mode=True), nn.Flatten(), nn.Linear(24, 3)],
            "CrossEntropyLoss", "sum", 4, classes=3),
        # CrossEntropyLoss on [N, C, H, W] / [N, C, L] with targets [N, H, W] / [N, L].
        case("cnn_kdim_ce_mean", [2, 4, 4], lambda: [
            nn.Conv2d(2, 3, 3, padding=1), nn.Tanh(), nn.Conv2d(3, 4, 1)],
            "CrossEntropyLoss", "mean", 4, classes=4),
        case("conv1d_batchnorm_kdim_ce_sum", [2, 5], lambda: [
            nn.Conv1d(2, 3, 2), nn.BatchNorm1d(3), nn.Sigmoid(), nn.Conv1d(3, 3, 2)],
            "CrossEntropyLoss", "sum", 4, classes=3),
        # Transposed convolutions with Kronecker factors (weight.transpose(0, 1), as BackPACK).
        case("convtranspose2d_ce_mean", [2, 3, 3], lambda: [
            nn.ConvTranspose2d(2, 3, 2, stride=2), nn.Sigmoid(), nn.Flatten(), nn.Linear(108, 3)],
            "CrossEntropyLoss", "mean", 5, classes=3),
        # BackPACK's MSELoss second order takes [N, D] only: a Linear head.
        case("convtranspose1d_mse_sum", [2, 4], lambda: [
            nn.ConvTranspose1d(2, 2, 3, stride=2, padding=1), nn.Tanh(), nn.ConvTranspose1d(2, 1, 2, dilation=2), nn.Flatten(), nn.Linear(9, 3)],
            "MSELoss", "sum", 4),
        case("convtranspose3d_ce_sum", [1, 2, 2, 1], lambda: [
            nn.ConvTranspose3d(1, 2, 2, stride=[1, 2, 1]), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 3 * 4 * 2, 3)],
            "CrossEntropyLoss", "sum", 3, classes=3),
    ]


def seeded_model(c, seed):
    torch.manual_seed(seed)
    model = nn.Sequential(*c["layers"]()).double()
    with torch.no_grad():
        for m in model:
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    return model.eval()


def data(c, model, seed):
    g = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(c["N"], *c["input_shape"], generator=g, dtype=torch.float64)
    with torch.no_grad():
        out = model(x)
    if c["loss"] == "CrossEntropyLoss":
        # One class per sample, or per sample and position for [N, C, d1, ...].
        y = torch.randint(0, out.shape[1], (out.shape[0], *out.shape[2:]), generator=g)
    elif c["loss"] == "BCEWithLogitsLoss":
        y = torch.rand(out.shape, generator=g, dtype=torch.float64)
    else:
        y = torch.randn(out.shape, generator=g, dtype=torch.float64)
    return x, y


def run_extension(model, lossfunc, x, y, name):
    """Returns ({key: tensor}, loss) for one extension (name None: the plain gradient)."""
    model.zero_grad()
    loss = lossfunc(model(x), y)
    if name is None:
        loss.backward()
    else:
        with backpack(getattr(bx, name)()):
            loss.backward()
    out = {}
    for pname, p in model.named_parameters():
        if name is None:
            out[f"{pname}.grad"] = p.grad.detach().clone()
            continue
        value = getattr(p, EXTENSIONS[name])
        if isinstance(value, (list, tuple)):
            for k, t in enumerate(value):
                out[f"{pname}.{EXTENSIONS[name]}.{k}"] = t.detach().clone()
        else:
            out[f"{pname}.{EXTENSIONS[name]}"] = value.detach().clone()
    return out, float(loss)


def backpack_version():
    """The package's version, or the commit a source checkout records beside it (BACKPACK_COMMIT.txt)."""
    version = getattr(backpack_package, "__version__", None)
    if version:
        return version
    commit = os.path.join(os.path.dirname(os.path.dirname(backpack_package.__file__)), "BACKPACK_COMMIT.txt")
    return open(commit, encoding="utf-8").read().split()[0] if os.path.exists(commit) else "unknown"


def make(c, out_root, seed):
    model = seeded_model(c, seed)
    x, y = data(c, model, seed)
    lossfunc = getattr(nn, c["loss"])(reduction=c["reduction"])
    model = extend(model)
    lossfunc = extend(lossfunc)
    expected, loss = run_extension(model, lossfunc, x, y, None)
    computed, errors = {}, {}
    for name in c["extensions"]:
        try:
            got, _ = run_extension(model, lossfunc, x, y, name)
        except Exception as e:  # BackPACK refuses: recorded, the tests skip it
            errors[name] = f"{type(e).__name__}: {e}"
            continue
        expected.update(got)
        computed[name] = EXTENSIONS[name]
    d = os.path.join(out_root, c["name"])
    spec, tensors = build_spec(list(model), c["input_shape"], c["loss"], c["reduction"])
    write_export(spec, tensors, d, dtype="float64")
    np.save(os.path.join(d, "inputs.npy"), x.numpy())
    np.save(os.path.join(d, "targets.npy"), y.numpy())
    with open(os.path.join(d, "expected.safetensors"), "wb") as f:
        f.write(encode_safetensors(sorted(expected.items()), dtype="float64"))
    meta = {"name": c["name"], "N": c["N"], "extensions": computed, "errors": errors, "loss": loss,
            "made_by": "scripts/make-backpack-fixtures.py", "backpack": backpack_version(), "torch": torch.__version__}
    if c["note"]:
        meta["note"] = c["note"]
    with open(os.path.join(d, "meta.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    return computed, errors


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(here, "..", "test", "fixtures", "backpack"))
    ap.add_argument("--only", nargs="*", help="case names to (re)make")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    torch.set_default_dtype(torch.float64)
    for i, c in enumerate(cases()):
        if args.only and c["name"] not in args.only:
            continue
        computed, errors = make(c, args.out, args.seed + 100 * i)
        print(f"{c['name']}: {', '.join(computed)}" + (f"; refused by BackPACK: {', '.join(errors)}" if errors else ""))


if __name__ == "__main__":
    main()
