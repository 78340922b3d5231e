"""``fastopt.torch`` against ``torch.optim``: one optimizer step on two real models' parameters.

Run ``python -m bench.torch_optim`` (``--quick`` for fewer turns; ``--models``,
``--optimizers`` to narrow it). Two models, float32, built in torch (issue 13):

- ``ResNet-18``: torchvision's ResNet-18 written out (:class:`ResNet18`, the 62 tensors of
  ``bench.optim_cases.resnet18_layout``, 11.7M entries): few, large tensors;
- ``transformer``: a 12-block pre-norm transformer (:class:`Transformer`, d = 128, 4 heads,
  MLP 4x, vocabulary 1000): 150 tensors, 2.6M entries, most of them small (LayerNorm weights
  and biases, qkv/proj/MLP biases of 128-512 entries): where per-tensor overhead shows.

The gradients come from one real backward pass of each model (a batch of random inputs),
done once; every contender then steps with copies of those parameters and gradients, and
only its steps are timed. Per model and optimizer (Adam, AdamW, SGD with momentum 0.9,
RMSprop, Adagrad; torch's defaults otherwise), timed in turn (``bench.timing.interleaved``,
medians of the turns):

- torch.optim's default for-loop (``foreach=False``), ``foreach=True`` and ``fused=True``
  (every one of these but RMSprop has a fused CPU path in torch 2.13);
- ``fastopt.torch`` (the gradients views of its flat buffer: ``zero_grad(set_to_none=False)``
  before the backward pass, the zero-copy use);
- the flat kernel (``fastopt.Adam.step`` ...) on one vector of the same sizes and GC rows:
  the adapter's own overhead is its time over this one's;
- with GC: torch's fused step (foreach for RMSprop) after centralizing each gradient of more
  than one dimension in place, as the official GC code does before its update
  (``g.add_(-g.mean(dim=tuple(range(1, g.dim())), keepdim=True))``), against
  ``fastopt.torch`` with ``gc="grad"``.

torch runs on as many threads as Numba (``torch.set_num_threads``). On a 2-core machine
shared with other processes the times vary by tens of percent between runs; the ratios of
one run hold better (the contenders take turns).
"""

from __future__ import annotations

import argparse
import sys

import numba
import numpy as np

import fastopt
from bench.timing import interleaved

OPTIMIZERS = {
    "adam": ("Adam", {}),
    "adamw": ("AdamW", {}),
    "sgd": ("SGD", dict(lr=0.01, momentum=0.9)),
    "rmsprop": ("RMSprop", {}),
    "adagrad": ("Adagrad", {}),
}
"""Name -> (torch.optim class, its arguments); fastopt's flat class of the same name."""

FLAT = {"adam": fastopt.Adam, "adamw": fastopt.AdamW, "sgd": fastopt.SGD,
        "rmsprop": fastopt.RMSprop, "adagrad": fastopt.Adagrad}  # fmt: skip

TORCH_MODES = ("for-loop", "foreach", "fused")

FUSED_TARGET = 1.0
"""Adam, AdamW, SGD: fastopt.torch's step against torch's fused one (issue 13)."""
BEST_TARGET = 3.0
"""RMSprop, Adagrad: against torch's fastest of its three (issue 13)."""
GC_TARGET = 1.3
"""With GC: against torch's fused (RMSprop: foreach) step plus per-tensor GC."""
ADAPTER_EXTRA = 0.05
"""fastopt.torch's time over the flat kernel on the same sizes, at most."""
HAS_FUSED_TARGET = ("adam", "adamw", "sgd")

MODELS = ("ResNet-18", "transformer")


def _torch():
    import torch

    return torch


# --- the models -----------------------------------------------------------------------------
def _resnet18_class():
    torch = _torch()
    nn = torch.nn

    class BasicBlock(nn.Module):
        def __init__(self, c_in: int, c_out: int, stride: int):
            super().__init__()
            self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(c_out)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(c_out)
            self.downsample = None
            if stride != 1 or c_in != c_out:
                self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False),
                                                nn.BatchNorm2d(c_out))  # fmt: skip

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + (x if self.downsample is None else self.downsample(x)))

    class ResNet18(nn.Module):
        """torchvision's ``resnet18()`` (1000 classes): its modules, names and shapes."""

        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            c_in = 64
            for stage, c_out in enumerate((64, 128, 256, 512), start=1):
                stride = 1 if stage == 1 else 2
                blocks = [BasicBlock(c_in, c_out, stride), BasicBlock(c_out, c_out, 1)]
                setattr(self, f"layer{stage}", nn.Sequential(*blocks))
                c_in = c_out
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(512, 1000)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            for stage in (self.layer1, self.layer2, self.layer3, self.layer4):
                x = stage(x)
            return self.fc(torch.flatten(self.avgpool(x), 1))

    return ResNet18


def _transformer_class():
    torch = _torch()
    nn = torch.nn
    F = torch.nn.functional

    class Block(nn.Module):
        def __init__(self, d: int, heads: int):
            super().__init__()
            self.heads = heads
            self.ln1 = nn.LayerNorm(d)
            self.qkv = nn.Linear(d, 3 * d)
            self.proj = nn.Linear(d, d)
            self.ln2 = nn.LayerNorm(d)
            self.fc1 = nn.Linear(d, 4 * d)
            self.fc2 = nn.Linear(4 * d, d)

        def forward(self, x):
            b, t, d = x.shape
            q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, self.heads, -1).unbind(2)
            attended = F.scaled_dot_product_attention(
                q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True
            )
            x = x + self.proj(attended.transpose(1, 2).reshape(b, t, d))
            return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))

    class Transformer(nn.Module):
        """A GPT-like decoder: embeddings, ``blocks`` pre-norm blocks, a final LayerNorm and
        an untied head; 12 tensors per block."""

        def __init__(self, vocab=1000, d=128, heads=4, blocks=12, context=64):
            super().__init__()
            self.embed = nn.Embedding(vocab, d)
            self.position = nn.Parameter(torch.zeros(context, d))
            self.blocks = nn.Sequential(*(Block(d, heads) for _ in range(blocks)))
            self.ln = nn.LayerNorm(d)
            self.head = nn.Linear(d, vocab)

        def forward(self, tokens):
            x = self.embed(tokens) + self.position[: tokens.shape[1]]
            return self.head(self.ln(self.blocks(x)))

    return Transformer


def model_with_gradients(name: str):
    """The model ``name`` (seeded) and its parameters' gradients from one backward pass.

    Returns
    -------
    model : torch.nn.Module
    grads : list of torch.Tensor
        One per ``model.parameters()``, in order.
    """
    torch = _torch()
    torch.manual_seed(0)
    if name == "ResNet-18":
        model = _resnet18_class()()
        x = torch.randn(2, 3, 64, 64)
        loss = torch.nn.functional.cross_entropy(model(x), torch.tensor([1, 2]))
    elif name == "transformer":
        model = _transformer_class()()
        tokens = torch.randint(0, 1000, (2, 65))
        logits = model(tokens[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 1000),
                                                 tokens[:, 1:].reshape(-1))  # fmt: skip
    else:
        raise ValueError(f"model must be one of {MODELS}, got {name!r}")
    loss.backward()
    return model, [p.grad.detach().clone() for p in model.parameters()]


# --- the contenders -------------------------------------------------------------------------
def _copies(model, grads):
    """Fresh leaf parameters with the model's values, each with a copy of its gradient."""
    torch = _torch()
    params = [torch.nn.Parameter(p.detach().clone()) for p in model.parameters()]
    for p, g in zip(params, grads, strict=True):
        p.grad = g.clone()
    return params


def torch_supports(cls_name: str, mode: str) -> bool:
    """Whether this torch steps ``torch.optim.<cls_name>`` with ``mode`` on the CPU."""
    torch = _torch()
    if mode == "for-loop":
        return True
    p = torch.nn.Parameter(torch.ones(2, 2))
    p.grad = torch.ones(2, 2)
    try:
        getattr(torch.optim, cls_name)([p], lr=0.01, **{mode: True}).step()
    except (TypeError, RuntimeError, ValueError):
        return False
    return True


def torch_step(cls_name: str, kwargs: dict, model, grads, mode: str, gc: bool = False):
    """A zero-argument callable: one ``torch.optim`` step in ``mode`` (after per-tensor GC of
    every gradient of more than one dimension, as the official GC code, with ``gc``)."""
    torch = _torch()
    params = _copies(model, grads)
    flags = {"for-loop": dict(foreach=False), "foreach": dict(foreach=True),
             "fused": dict(fused=True)}[mode]  # fmt: skip
    opt = getattr(torch.optim, cls_name)(params, **kwargs, **flags)
    centralized = [p.grad for p in params if p.grad.dim() > 1] if gc else []

    def step():
        with torch.no_grad():
            for g in centralized:
                g.add_(-g.mean(dim=tuple(range(1, g.dim())), keepdim=True))
        opt.step()

    return step


def adapter(cls_name: str, kwargs: dict, model, grads, gc=None):
    """``fastopt.torch.<cls_name>`` on copies of the parameters, its gradients views of its
    flat buffer (as after ``zero_grad(set_to_none=False)`` and a backward pass)."""
    import fastopt.torch as ft

    params = _copies(model, grads)
    opt = getattr(ft, cls_name)(params, **kwargs, gc=gc)
    opt.zero_grad(set_to_none=False)  # p.grad: views of the flat buffer, zeroed
    for p, g in zip(params, grads, strict=True):
        p.grad.add_(g)  # what backward does: accumulate into the views
    return opt


def flat_step(name: str, kwargs: dict, grads):
    """A zero-argument callable: the flat kernel's step on one vector of the model's sizes,
    with the adapter's layout (a tensor of 2+ dims as rows of its first dim)."""
    shapes = [(str(i), (g.shape[0], g.numel() // g.shape[0]) if g.dim() > 1 else (g.numel(),))
              for i, g in enumerate(grads)]  # fmt: skip
    layout = fastopt.Layout(shapes)
    flat_grads = np.concatenate([g.reshape(-1).numpy() for g in grads])
    params = np.random.default_rng(0).standard_normal(layout.size).astype(np.float32)
    opt = FLAT[name](**kwargs)
    state = opt.init(params, layout)
    return lambda: opt.step(params, flat_grads, state)


# --- measuring ------------------------------------------------------------------------------
def measure_model(model_name: str, optimizers=tuple(OPTIMIZERS), turns: int = 5,
                  min_time: float = 0.1) -> list[dict]:  # fmt: skip
    """One row per optimizer on one model; see :func:`measure`."""
    model, grads = model_with_gradients(model_name)
    n = sum(g.numel() for g in grads)
    rows = []
    for name in optimizers:
        cls_name, kwargs = OPTIMIZERS[name]
        modes = [m for m in TORCH_MODES if torch_supports(cls_name, m)]
        gc_mode = "fused" if "fused" in modes else "foreach"
        fns = {mode: torch_step(cls_name, kwargs, model, grads, mode) for mode in modes}
        ours, ours_gc = (adapter(cls_name, kwargs, model, grads, gc) for gc in (None, "grad"))
        fns["fastopt.torch"] = ours.step
        fns["flat"] = flat_step(name, kwargs, grads)
        fns["torch + GC"] = torch_step(cls_name, kwargs, model, grads, gc_mode, gc=True)
        fns["fastopt.torch GC"] = ours_gc.step
        times = {k: m.seconds for k, m in interleaved(fns, turns, min_time).items()}
        del fns, ours, ours_gc  # their buffers: ~200 MB per contender on ResNet-18
        best = min(modes, key=times.__getitem__)
        t = times["fastopt.torch"]
        rows.append(dict(
            model=model_name, tensors=len(grads), n=n, optimizer=name, torch=cls_name,
            times=times, best=best, gc_mode=gc_mode,
            x_fused=times["fused"] / t if "fused" in times else None,
            x_best=times[best] / t,
            x_gc=times["torch + GC"] / times["fastopt.torch GC"],
            adapter_extra=t / times["flat"] - 1,
        ))  # fmt: skip
    return rows


def measure(models=MODELS, optimizers=tuple(OPTIMIZERS), turns: int = 5,
            min_time: float = 0.1) -> list[dict] | str:  # fmt: skip
    """Every model x optimizer, or ``"not installed"`` without torch.

    Each row: model, tensors, n (entries), optimizer, torch (its class), times (median
    seconds per step of each contender: "for-loop", "foreach", "fused" where torch has it,
    "fastopt.torch", "flat", "torch + GC", "fastopt.torch GC"), best (torch's fastest mode
    without GC), gc_mode (torch's mode under GC), x_fused (torch fused over fastopt.torch;
    None without a fused path), x_best, x_gc (torch + per-tensor GC over fastopt.torch with
    gc="grad"), adapter_extra (fastopt.torch over the flat kernel, minus 1).
    """
    try:
        torch = _torch()
    except ImportError:
        return "not installed"
    threads = torch.get_num_threads()
    torch.set_num_threads(numba.get_num_threads())  # the same cores for both
    try:
        return [row for model in models
                for row in measure_model(model, optimizers, turns, min_time)]  # fmt: skip
    finally:
        torch.set_num_threads(threads)


def targets(rows: list[dict]) -> list[tuple[str, float, float, str]]:
    """The issue's targets for each row: (figure, measured, target, kind), kind "x" (a
    speed-up, at least) or "extra" (an overhead fraction, at most)."""
    out = []
    for r in rows:
        where = f"{r['optimizer']} {r['model']}"
        if r["optimizer"] in HAS_FUSED_TARGET:
            out.append((f"{where}: fastopt.torch x torch fused", r["x_fused"], FUSED_TARGET, "x"))
        else:
            out.append((f"{where}: fastopt.torch x torch's best", r["x_best"], BEST_TARGET, "x"))
        out.append((f"{where}: gc='grad' x torch {r['gc_mode']} + per-tensor GC", r["x_gc"],
                    GC_TARGET, "x"))  # fmt: skip
        out.append((f"{where}: fastopt.torch over the flat kernel", r["adapter_extra"],
                    ADAPTER_EXTRA, "extra"))  # fmt: skip
    return out


def _ms(seconds) -> str:
    return "-" if seconds is None else f"{seconds * 1e3:.2f}"


def print_rows(rows: list[dict] | str) -> None:
    """Print ``measure``'s rows as a table, then the targets."""
    if isinstance(rows, str):
        print(f"torch {rows}: nothing to compare with")
        return
    header = (f"{'model':11} {'optimizer':9} {'for-loop':>8} {'foreach':>8} {'fused':>8} "
              f"{'fastopt':>8} {'flat':>8} {'adapt+%':>7} {'x fused':>7} {'x best':>7} "
              f"{'torch+GC':>8} {'ours GC':>8} {'x GC':>6}")  # fmt: skip
    print("milliseconds per step (medians); x: torch's time over fastopt.torch's\n")
    print(header)
    print("-" * len(header))
    for r in rows:
        t = r["times"]
        x_fused = "-" if r["x_fused"] is None else f"{r['x_fused']:.2f}"
        print(f"{r['model']:11} {r['optimizer']:9} {_ms(t['for-loop']):>8} "
              f"{_ms(t.get('foreach')):>8} {_ms(t.get('fused')):>8} "
              f"{_ms(t['fastopt.torch']):>8} {_ms(t['flat']):>8} "
              f"{r['adapter_extra'] * 100:7.1f} {x_fused:>7} {r['x_best']:7.2f} "
              f"{_ms(t['torch + GC']):>8} {_ms(t['fastopt.torch GC']):>8} "
              f"{r['x_gc']:6.2f}")  # fmt: skip
    models = {r["model"]: (r["tensors"], r["n"]) for r in rows}
    print("\n" + "; ".join(f"{m}: {k} tensors, {n / 1e6:.1f}M entries"
                           for m, (k, n) in models.items()))  # fmt: skip
    print("\ntargets:")
    for figure, value, target, kind in targets(rows):
        if kind == "x":
            met = value >= target
            print(f"  {figure}: {value:.2f}x (>= {target:.1f}x) {'met' if met else 'NOT met'}")
        else:
            met = value <= target
            print(f"  {figure}: {value * 100:+.1f}% (<= +{target * 100:.0f}%) "
                  f"{'met' if met else 'NOT met'}")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.torch_optim",
                                     description=__doc__.splitlines()[0])  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="3 turns of 0.05 s each")
    parser.add_argument("--turns", type=int, default=None, help="turns (default 5)")
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--optimizers", nargs="+", choices=list(OPTIMIZERS),
                        default=list(OPTIMIZERS))  # fmt: skip
    args = parser.parse_args(argv)
    turns = args.turns or (3 if args.quick else 5)
    min_time = 0.05 if args.quick else 0.1
    argv_shown = sys.argv[1:] if argv is None else argv
    print(f"command: python -m bench.torch_optim {' '.join(argv_shown)}".rstrip())
    print(f"threads: {numba.get_num_threads()} (Numba and torch)")
    print_rows(measure(args.models, args.optimizers, turns, min_time))
    return 0


if __name__ == "__main__":
    sys.exit(main())
