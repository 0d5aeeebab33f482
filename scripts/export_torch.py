#!/usr/bin/env python3
"""Export a PyTorch ``nn.Sequential`` to backpack-ts's ``model.json`` + ``weights.safetensors``.

backpack-ts's model spec uses torch.nn's layer names and attributes, and parameters named like an
``nn.Sequential`` (``"0.weight"``, ``"3.bias"``, BatchNorm's ``"<i>.running_mean"`` /
``"<i>.running_var"``) in PyTorch layouts, so the export is a one-to-one walk over the modules.

Command line (needs PyTorch)::

    # a function that builds the model (module path on PYTHONPATH, or a .py file), optionally with
    # a state dict to load into it
    python3 scripts/export_torch.py --factory mypkg.models:make_mlp --input-shape 784 \\
        --out out/mlp [--state-dict ckpt.pt] [--loss CrossEntropyLoss] [--reduction mean] \\
        [--dtype float32|float64] [--dropout-train]
    python3 scripts/export_torch.py --factory models.py:make_cnn --input-shape 1,28,28 --out out/cnn

    # a whole nn.Sequential saved with torch.save(model, 'model.pt') (unpickles: trusted files only)
    python3 scripts/export_torch.py --load model.pt --input-shape 3,32,32 --out out/cnn

    # the pure parts (spec mapping, safetensors writer) with fake modules; needs no PyTorch
    python3 scripts/export_torch.py --self-test [DIR]

Then::

    backpack-ts run --model out/cnn/model.json --weights out/cnn/weights.safetensors ...

From Python::

    from export_torch import export_sequential
    export_sequential(model, input_shape=[1, 28, 28], out_dir="out/cnn", loss="CrossEntropyLoss")

Supported modules (anything else is refused with a message naming it): Linear, Conv1d/2d/3d
(padding_mode='zeros'), ConvTranspose1d/2d/3d, MaxPool1d/2d/3d and AvgPool1d/2d/3d (ceil_mode too),
AdaptiveAvgPool1d/2d/3d, ZeroPad2d, Flatten, Dropout, Identity, ReLU, Sigmoid, Tanh, LeakyReLU, ELU,
SELU, LogSigmoid, BatchNorm1d/2d/3d (with running statistics; exported in eval mode), LayerNorm,
GroupNorm. Nested
``nn.Sequential`` containers are flattened. Dropout is exported in eval mode (identity) unless
``--dropout-train``. The loss (CrossEntropyLoss, MSELoss, BCEWithLogitsLoss; mean or sum) and the
per-sample input shape are arguments: a module carries neither. Weights are written as float32
(default) or float64; the writer is plain ``struct`` + ``json`` (no safetensors package).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import struct
import sys
import tempfile

LOSSES = ("CrossEntropyLoss", "MSELoss", "BCEWithLogitsLoss")
REDUCTIONS = ("mean", "sum")
DTYPES = {"float32": ("F32", "f", 4), "float64": ("F64", "d", 8)}


class ExportError(Exception):
    """A module or argument backpack-ts cannot take; the message says which and why."""


def _size(v):
    """torch keeps sizes as ints or tuples (and padding also as 'same'/'valid'); JSON wants lists."""
    return list(v) if isinstance(v, (tuple, list)) else v


def _conv(m, where, transposed):
    if getattr(m, "padding_mode", "zeros") != "zeros":
        raise ExportError(f"{where}: padding_mode={m.padding_mode!r} is not supported (only 'zeros')")
    spec = {
        "in_channels": m.in_channels, "out_channels": m.out_channels, "kernel_size": _size(m.kernel_size),
        "stride": _size(m.stride), "padding": _size(m.padding), "dilation": _size(m.dilation),
        "groups": m.groups, "bias": m.bias is not None,
    }
    if transposed:
        spec["output_padding"] = _size(m.output_padding)
    return spec


def _max_pool(m, where):
    if getattr(m, "return_indices", False):
        raise ExportError(f"{where}: return_indices=True is not supported")
    return {"kernel_size": _size(m.kernel_size), "stride": _size(m.stride), "padding": _size(m.padding), "dilation": _size(m.dilation),
            "ceil_mode": bool(getattr(m, "ceil_mode", False))}


def _avg_pool(m, where):
    spec = {"kernel_size": _size(m.kernel_size), "stride": _size(m.stride), "padding": _size(m.padding),
            "count_include_pad": bool(m.count_include_pad), "ceil_mode": bool(getattr(m, "ceil_mode", False))}
    if getattr(m, "divisor_override", None) is not None:
        spec["divisor_override"] = m.divisor_override
    return spec


def _batch_norm(m, where):
    if not m.track_running_stats or getattr(m, "running_mean", None) is None:
        raise ExportError(f"{where}: BatchNorm without running statistics cannot run in eval mode (track_running_stats=False)")
    return {"num_features": m.num_features, "eps": m.eps, "momentum": m.momentum, "affine": bool(m.affine)}


# Module class name -> attributes of our spec (torch.nn's own names and meanings).
LAYERS = {
    "Linear": lambda m, w, o: {"in_features": m.in_features, "out_features": m.out_features, "bias": m.bias is not None},
    **{f"Conv{d}d": (lambda m, w, o: _conv(m, w, False)) for d in (1, 2, 3)},
    **{f"ConvTranspose{d}d": (lambda m, w, o: _conv(m, w, True)) for d in (1, 2, 3)},
    **{f"MaxPool{d}d": (lambda m, w, o: _max_pool(m, w)) for d in (1, 2, 3)},
    **{f"AvgPool{d}d": (lambda m, w, o: _avg_pool(m, w)) for d in (1, 2, 3)},
    **{f"AdaptiveAvgPool{d}d": (lambda m, w, o: {"output_size": _size(m.output_size)}) for d in (1, 2, 3)},
    "ZeroPad2d": lambda m, w, o: {"padding": _size(m.padding)},
    "Flatten": lambda m, w, o: {"start_dim": m.start_dim, "end_dim": m.end_dim},
    "Dropout": lambda m, w, o: {"p": m.p, "train": bool(o.get("dropout_train", False))},
    "Identity": lambda m, w, o: {},
    "ReLU": lambda m, w, o: {},
    "Sigmoid": lambda m, w, o: {},
    "Tanh": lambda m, w, o: {},
    "SELU": lambda m, w, o: {},
    "LogSigmoid": lambda m, w, o: {},
    "LeakyReLU": lambda m, w, o: {"negative_slope": m.negative_slope},
    "ELU": lambda m, w, o: {"alpha": m.alpha},
    **{f"BatchNorm{d}d": (lambda m, w, o: _batch_norm(m, w)) for d in (1, 2, 3)},
    "LayerNorm": lambda m, w, o: {"normalized_shape": _size(m.normalized_shape), "eps": m.eps,
                                  "elementwise_affine": bool(m.elementwise_affine), "bias": getattr(m, "bias", None) is not None},
    "GroupNorm": lambda m, w, o: {"num_groups": m.num_groups, "num_channels": m.num_channels, "eps": m.eps, "affine": bool(m.affine)},
}


def flatten_modules(modules):
    """Nested Sequential containers are flattened into one list (our names index that list)."""
    out = []
    for m in modules:
        if type(m).__name__ == "Sequential":
            out.extend(flatten_modules(list(m)))
        else:
            out.append(m)
    return out


def tensors_of(m, kind):
    """Parameters and buffers our spec reads for one module, in the order torch lists them."""
    names = []
    if kind in ("Linear", "LayerNorm", "GroupNorm") or kind.startswith("Conv"):
        names = ["weight", "bias"]
    elif kind.startswith("BatchNorm"):
        names = (["weight", "bias"] if m.affine else []) + ["running_mean", "running_var"]
    return [(n, getattr(m, n)) for n in names if getattr(m, n, None) is not None]


def build_spec(modules, input_shape, loss="CrossEntropyLoss", reduction="mean", dropout_train=False):
    """Returns (spec dict, [(name, tensor)]) for a list of modules; refuses what we cannot run."""
    if loss not in LOSSES:
        raise ExportError(f"loss {loss!r} is not one of {', '.join(LOSSES)}")
    if reduction not in REDUCTIONS:
        raise ExportError(f"reduction {reduction!r} is not one of {', '.join(REDUCTIONS)}")
    shape = [int(d) for d in input_shape]
    if not shape or any(d < 1 for d in shape):
        raise ExportError(f"input shape {input_shape!r} must be positive sizes without the batch axis, e.g. 1,28,28")
    layers, tensors = [], []
    modules = flatten_modules(modules)
    if not modules:
        raise ExportError("the model has no layers")
    for i, m in enumerate(modules):
        kind = type(m).__name__
        where = f"layer {i} ({kind})"
        if kind not in LAYERS:
            raise ExportError(f"{where}: not supported by backpack-ts; supported: {', '.join(LAYERS)}")
        layers.append({"type": kind, **LAYERS[kind](m, where, {"dropout_train": dropout_train})})
        tensors.extend((f"{i}.{name}", t) for name, t in tensors_of(m, kind))
    spec = {"input_shape": shape, "layers": layers, "loss": {"type": loss, "reduction": reduction}}
    return spec, tensors


def _shape(t):
    return [int(d) for d in t.shape]


def tensor_bytes(t, dtype="float32"):
    """Little-endian bytes of a tensor: a torch tensor (torch imported lazily) or any object with
    `.shape` and flat `.values` (the self-test's fakes)."""
    _, code, _ = DTYPES[dtype]
    if hasattr(t, "detach"):
        import torch  # noqa: PLC0415 - only a real torch tensor gets here

        t = t.detach().to("cpu", dtype=torch.float32 if dtype == "float32" else torch.float64).contiguous()
        try:
            return t.numpy().astype("<" + code, copy=False).tobytes()
        except (ImportError, RuntimeError):  # torch without numpy
            values = t.flatten().tolist()
    else:
        values = list(t.values)
    return struct.pack(f"<{len(values)}{code}", *values)


def encode_safetensors(tensors, dtype="float32", metadata=None):
    """safetensors bytes: u64 LE header length, JSON header (space-padded to 8 bytes), data."""
    if dtype not in DTYPES:
        raise ExportError(f"dtype {dtype!r} is not one of {', '.join(DTYPES)}")
    st_dtype, _, itemsize = DTYPES[dtype]
    header, chunks, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, t in tensors:
        data = tensor_bytes(t, dtype)
        shape = _shape(t)
        if len(data) != math.prod(shape) * itemsize:
            raise ExportError(f"tensor {name!r}: {len(data)} bytes for shape {shape}")
        header[name] = {"dtype": st_dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + b"".join(chunks)


def write_export(spec, tensors, out_dir, dtype="float32"):
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "model.json"), "w", encoding="utf-8") as f:
        json.dump(spec, f, indent=2)
        f.write("\n")
    with open(os.path.join(out_dir, "weights.safetensors"), "wb") as f:
        f.write(encode_safetensors(tensors, dtype, {"source": "export_torch.py"}))


def export_sequential(model, input_shape, out_dir, loss="CrossEntropyLoss", reduction="mean", dtype="float32", dropout_train=False):
    """Exports a torch nn.Sequential (or any iterable of modules); returns the spec dict."""
    spec, tensors = build_spec(list(model), input_shape, loss, reduction, dropout_train)
    write_export(spec, tensors, out_dir, dtype)
    return spec


# ------------------------------------------------------------------------------------------------
# Loading a model on the command line (torch needed only here and in tensor_bytes).
# ------------------------------------------------------------------------------------------------

def _load_model(args):
    try:
        import torch  # noqa: PLC0415
    except ImportError as e:
        raise ExportError("PyTorch is not installed (pip install torch); --self-test runs without it") from e
    if args.load:
        model = torch.load(args.load, map_location="cpu", weights_only=False)
    else:
        import importlib  # noqa: PLC0415
        import importlib.util  # noqa: PLC0415

        target, _, fn = args.factory.partition(":")
        if not fn:
            raise ExportError(f"--factory {args.factory!r} must be MODULE:FUNCTION or FILE.py:FUNCTION")
        if target.endswith(".py"):
            spec = importlib.util.spec_from_file_location("export_torch_factory", target)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(target)
        model = getattr(module, fn)()
    if args.state_dict:
        model.load_state_dict(torch.load(args.state_dict, map_location="cpu", weights_only=True))
    if not isinstance(model, torch.nn.Sequential):
        raise ExportError(f"expected an nn.Sequential, got {type(model).__name__}; wrap the layers in nn.Sequential")
    return model.eval()


# ------------------------------------------------------------------------------------------------
# Self-test: fake modules with torch's attribute names; no torch import.
# ------------------------------------------------------------------------------------------------

class FakeTensor:
    """Stands in for a torch tensor: a shape and flat values (see `tensor_bytes`)."""

    def __init__(self, shape, seed, positive=False):
        self.shape = tuple(shape)
        self.values = [fake_value(seed, j, positive) for j in range(math.prod(shape))]


def fake_value(seed, j, positive=False):
    """The value at flat index j of the self-test tensor with this seed (backpack-ts's test
    recomputes it): round(sin(7·seed + 0.37·j), 6), and 1 + |that| for positive tensors."""
    v = round(math.sin(seed * 7.0 + j * 0.37), 6)
    return 1.0 + abs(v) if positive else v


class _FakeModule:
    pass


def fake(kind, **attrs):
    """Stands in for a torch.nn module: its class is named like one and carries its attributes."""
    obj = type(kind, (_FakeModule,), {})()
    obj.__dict__.update(attrs)
    return obj


def fake_container(children):
    """A nested nn.Sequential: iterable, class named Sequential."""
    return type("Sequential", (list,), {})(children)


def fake_sequential():
    """Conv → BN → ReLU → (MaxPool → AvgPool) → Flatten → Dropout → LeakyReLU → Linear on [1, 4, 4]."""
    t = FakeTensor
    return [
        fake("Conv2d", in_channels=1, out_channels=2, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), dilation=(1, 1),
             groups=1, padding_mode="zeros", weight=t([2, 1, 3, 3], 1), bias=t([2], 2)),
        fake("BatchNorm2d", num_features=2, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
             weight=t([2], 3), bias=t([2], 4), running_mean=t([2], 5), running_var=t([2], 8, positive=True)),
        fake("ReLU", inplace=False),
        fake_container([
            fake("MaxPool2d", kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False, return_indices=False),
            fake("AvgPool2d", kernel_size=1, stride=1, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None),
        ]),
        fake("Flatten", start_dim=1, end_dim=-1),
        fake("Dropout", p=0.25, inplace=False),
        fake("LeakyReLU", negative_slope=0.1, inplace=False),
        fake("Linear", in_features=8, out_features=3, weight=t([3, 8], 6), bias=t([3], 7)),
    ]


def _parse_safetensors(data):
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    return n, header, data[8 + n:]


def self_test(out_dir=None):
    spec, tensors = build_spec(fake_sequential(), [1, 4, 4], "CrossEntropyLoss", "sum")
    types = [layer["type"] for layer in spec["layers"]]
    assert types == ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d", "AvgPool2d", "Flatten", "Dropout", "LeakyReLU", "Linear"], types
    assert spec["layers"][0] == {"type": "Conv2d", "in_channels": 1, "out_channels": 2, "kernel_size": [3, 3], "stride": [1, 1],
                                 "padding": [1, 1], "dilation": [1, 1], "groups": 1, "bias": True}, spec["layers"][0]
    assert spec["layers"][1] == {"type": "BatchNorm2d", "num_features": 2, "eps": 1e-5, "momentum": 0.1, "affine": True}
    assert spec["layers"][6] == {"type": "Dropout", "p": 0.25, "train": False}
    assert spec["loss"] == {"type": "CrossEntropyLoss", "reduction": "sum"}
    names = [name for name, _ in tensors]
    assert names == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var", "8.weight", "8.bias"], names

    for dtype, (st, code, size) in DTYPES.items():
        blob = encode_safetensors(tensors, dtype, {"source": "self-test"})
        n, header, body = _parse_safetensors(blob)
        assert n % 8 == 0, "header is padded to 8 bytes"
        assert header["__metadata__"] == {"source": "self-test"}
        for name, t in tensors:
            entry = header[name]
            assert entry["dtype"] == st and entry["shape"] == list(t.shape), entry
            begin, end = entry["data_offsets"]
            got = struct.unpack(f"<{(end - begin) // size}{code}", body[begin:end])
            want = [struct.unpack("<" + code, struct.pack("<" + code, v))[0] for v in t.values]
            assert list(got) == want, (name, got[:3], want[:3])
        assert max(e["data_offsets"][1] for k, e in header.items() if k != "__metadata__") == len(body)

    refusals = [
        ([fake("LSTM", input_size=3)], "layer 0 (LSTM): not supported by backpack-ts; supported: Linear, Conv1d"),
        ([fake("MaxPool2d", kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False, return_indices=True)], "return_indices=True"),
        ([fake("BatchNorm1d", num_features=2, eps=1e-5, momentum=0.1, affine=True, track_running_stats=False, running_mean=None)],
         "track_running_stats=False"),
        ([fake("Conv1d", in_channels=1, out_channels=1, kernel_size=(3,), stride=(1,), padding=(1,), dilation=(1,), groups=1,
               padding_mode="reflect", weight=FakeTensor([1, 1, 3], 1), bias=None)], "padding_mode='reflect'"),
    ]
    for modules, message in refusals:
        try:
            build_spec(modules, [2, 5])
        except ExportError as e:
            assert message in str(e), (message, str(e))
        else:
            raise AssertionError(f"expected a refusal mentioning {message!r}")
    for bad in (dict(loss="NLLLoss"), dict(reduction="none"), dict(input_shape=[0, 3])):
        try:
            build_spec(fake_sequential(), bad.pop("input_shape", [1, 4, 4]), **bad)
        except ExportError:
            pass
        else:
            raise AssertionError(f"expected a refusal of {bad}")

    if out_dir:
        write_export(spec, tensors, os.path.join(out_dir, "f32"), "float32")
        write_export(spec, tensors, os.path.join(out_dir, "f64"), "float64")
    else:
        with tempfile.TemporaryDirectory() as tmp:
            write_export(spec, tensors, tmp, "float32")
    print("export_torch self-test ok")


def main(argv=None):
    p = argparse.ArgumentParser(description="Export a PyTorch nn.Sequential to backpack-ts's model.json + weights.safetensors.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--factory", help="MODULE:FUNCTION or FILE.py:FUNCTION returning the nn.Sequential")
    src.add_argument("--load", help="a whole nn.Sequential saved with torch.save (unpickled: trusted files only)")
    src.add_argument("--self-test", nargs="?", const="", metavar="DIR", help="check the pure parts with fake modules (no torch); optionally keep the export in DIR")
    p.add_argument("--state-dict", help="a state dict (torch.save(model.state_dict())) to load into the model")
    p.add_argument("--input-shape", help="per-sample input shape without the batch axis, e.g. 1,28,28")
    p.add_argument("--out", help="output directory for model.json and weights.safetensors")
    p.add_argument("--loss", choices=LOSSES, default="CrossEntropyLoss")
    p.add_argument("--reduction", choices=REDUCTIONS, default="mean")
    p.add_argument("--dtype", choices=tuple(DTYPES), default="float32")
    p.add_argument("--dropout-train", action="store_true", help="export Dropout in train mode (masks keyed by seed)")
    args = p.parse_args(argv)
    try:
        if args.self_test is not None:
            self_test(args.self_test or None)
            return 0
        if not args.input_shape or not args.out:
            p.error("--input-shape and --out are required")
        shape = [int(s) for s in args.input_shape.split(",") if s.strip()]
        model = _load_model(args)
        spec = export_sequential(model, shape, args.out, args.loss, args.reduction, args.dtype, args.dropout_train)
        print(f"wrote {os.path.join(args.out, 'model.json')} ({len(spec['layers'])} layers) and weights.safetensors ({args.dtype})")
        return 0
    except ExportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 3
    except AssertionError as e:
        print(f"self-test failed: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
