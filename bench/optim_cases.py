"""The optimizer step cases, shared by ``bench/test_optim.py`` and ``bench/optim_bandwidth.py``
(and so the report): each a zero-argument callable, timed by ``bench.timing.measure``.

A case is a size ``n`` (one dense weight of ``n`` entries, rows of 1000) or ``RESNET18``
(torchvision's ResNet-18: 62 tensors, 11.7M entries, ``resnet18_layout``): the shapes a
real model's optimizer sees, and those GC centralizes row by row."""

from typing import Literal

import numpy as np

import fastopt
from bench.stream_bound import stream_call
from fastopt import reference

#: name -> (fastopt factory, reference factory, torch class name and kwargs). Each step's
#: streams (and so its bytes and its memory bound) come from the optimizer itself:
#: ``bench.stream_bound.streams``.
OPTIMIZERS = {
    "sgd": (lambda gc: fastopt.SGD(lr=0.01, gc=gc), lambda gc: reference.SGD(lr=0.01, gc=gc),
            ("SGD", dict(lr=0.01))),
    "momentum": (lambda gc: fastopt.Momentum(lr=0.01, gc=gc),
                 lambda gc: reference.SGD(lr=0.01, momentum=0.9, gc=gc),
                 ("SGD", dict(lr=0.01, momentum=0.9))),
    "rmsprop": (lambda gc: fastopt.RMSprop(gc=gc), lambda gc: reference.RMSprop(gc=gc),
                ("RMSprop", {})),
    "adam": (lambda gc: fastopt.Adam(gc=gc), lambda gc: reference.Adam(gc=gc), ("Adam", {})),
    "adamw": (lambda gc: fastopt.AdamW(gc=gc), lambda gc: reference.AdamW(gc=gc),
              ("AdamW", {})),
    "adagrad": (lambda gc: fastopt.Adagrad(gc=gc), lambda gc: reference.Adagrad(gc=gc),
                ("Adagrad", {})),
}  # fmt: skip

#: torch's fastest CPU implementation per optimizer (issue 3): fused where torch has it.
TORCH_MODE = {"SGD": "fused", "Adam": "fused", "AdamW": "fused", "RMSprop": "foreach",
              "Adagrad": "foreach"}  # fmt: skip

GC_MODES = [None, "grad", "update"]

RESNET18 = "resnet18"
"""The ResNet-18 case (``resnet18_layout``)."""

RESNET18_LABEL = "ResNet-18"
"""How reports name it (``label``)."""

Case = int | Literal["resnet18"]

#: Parameter counts of the optimizer benchmarks (issue 3), and of ``--quick`` runs.
SIZES = [1_000, 100_000, 10_000_000]
QUICK_SIZES = [1_000, 100_000, 1_000_000]

#: Every case of the report and of ``pytest bench/``: the sizes, then ResNet-18.
CASES: list[Case] = [*SIZES, RESNET18]

RESNET18_TENSORS = 62
RESNET18_SIZE = 11_689_512
"""torchvision's ``sum(p.numel() for p in resnet18().parameters())``."""


def resnet18_layout() -> fastopt.Layout:
    """torchvision's ResNet-18 (1000 classes) as a Layout: its 62 parameter tensors, in
    ``model.named_parameters()`` order and names, 11,689,512 entries.

    conv1 (64, 3, 7, 7) and bn1; four stages of two BasicBlocks (conv 3x3, bn, conv 3x3, bn),
    64, 128, 256 and 512 channels, the first block of stages 2-4 halving the resolution with a
    1x1 downsample conv + bn beside it; fc (1000, 512) and its bias. Every conv and fc weight
    has fan-in rows that GC centralizes; the batch-norm weights and biases and fc's bias are
    1-D and never centralized.
    """
    shapes = [("conv1.weight", (64, 3, 7, 7)), ("bn1.weight", (64,)), ("bn1.bias", (64,))]
    c_in = 64
    for stage, c_out in enumerate((64, 128, 256, 512), start=1):
        for block in range(2):
            name = f"layer{stage}.{block}"
            first_in = c_in if block == 0 else c_out
            for conv, fan_in in (("1", first_in), ("2", c_out)):
                shapes += [(f"{name}.conv{conv}.weight", (c_out, fan_in, 3, 3)),
                           (f"{name}.bn{conv}.weight", (c_out,)),
                           (f"{name}.bn{conv}.bias", (c_out,))]  # fmt: skip
            if block == 0 and c_in != c_out:
                shapes += [(f"{name}.downsample.0.weight", (c_out, c_in, 1, 1)),
                           (f"{name}.downsample.1.weight", (c_out,)),
                           (f"{name}.downsample.1.bias", (c_out,))]  # fmt: skip
        c_in = c_out
    shapes += [("fc.weight", (1000, 512)), ("fc.bias", (1000,))]
    return fastopt.Layout(shapes)


def layout_for(case: Case) -> fastopt.Layout:
    """The layout of a case: ``RESNET18``'s, or for a size ``n`` one dense weight with rows
    of 1000 (fan-in 1000) holding ``n`` parameters."""
    if case == RESNET18:
        return resnet18_layout()
    return fastopt.Layout([("W", (max(case // 1000, 1), min(case, 1000)))])


def label(case: Case) -> str:
    """How reports name a case: ``"N=1e+07"``, ``"ResNet-18"``."""
    return RESNET18_LABEL if case == RESNET18 else f"N={case:.0e}"


def arrays(case: Case, dtype=np.float32, seed: int = 0):
    """Parameters and gradient of a ``layout_for(case)``."""
    rng = np.random.default_rng(seed)
    size = layout_for(case).size
    return rng.standard_normal(size).astype(dtype), rng.standard_normal(size).astype(dtype)


def fastopt_step(name: str, gc, case: Case):
    """A zero-argument callable taking one fused step on fresh arrays."""
    layout = layout_for(case)
    params, grads = arrays(case)
    opt = OPTIMIZERS[name][0](gc)
    state = opt.init(params, layout)
    return lambda: opt.step(params, grads, state)


def bound_step(name: str, case: Case):
    """A zero-argument callable moving the streams of ``name``'s step (no GC) over the same
    chunks and threads: its memory bound (``bench.stream_bound``)."""
    return stream_call(OPTIMIZERS[name][0](None), layout_for(case))


def reference_step(name: str, gc, case: Case):
    """A zero-argument callable taking one ``fastopt.reference`` step on fresh arrays."""
    layout = layout_for(case)
    params, grads = arrays(case)
    named_p = {k: v.copy() for k, v in layout.views(params).items()}
    named_g = {k: v.copy() for k, v in layout.views(grads).items()}
    opt = OPTIMIZERS[name][1](gc)
    state = opt.init(named_p)
    return lambda: opt.step(named_p, named_g, state)


def torch_step(name: str, case: Case, gc: bool = False):
    """A zero-argument callable taking one torch step, or None if torch is not installed.

    One ``torch.nn.Parameter`` per tensor of ``layout_for(case)``, each with its shape and its
    own memory, as a model's; torch's fastest CPU implementation (``TORCH_MODE``). With
    ``gc``, each step first centralizes every gradient of more than one dimension in place,
    as the official GC code does before its optimizer's update (``grad -= grad.mean(dim=(1,
    ..., dim - 1), keepdim=True)``, the ``gc="grad"`` semantics), tensor by tensor.
    """
    try:
        import torch
    except ImportError:
        return None
    cls_name, kwargs = OPTIMIZERS[name][2]
    layout = layout_for(case)
    params, grads = arrays(case)
    tensors = []
    grad_views = layout.views(grads)
    for key, view in layout.views(params).items():
        p = torch.nn.Parameter(torch.from_numpy(view.copy()))
        p.grad = torch.from_numpy(grad_views[key].copy())
        tensors.append(p)
    mode = TORCH_MODE[cls_name]
    opt = getattr(torch.optim, cls_name)(tensors, **kwargs, **{mode: True})
    centralized = [p.grad for p in tensors if p.grad.dim() > 1] if gc else []

    def step():
        with torch.no_grad():
            for g in centralized:
                g -= g.mean(dim=tuple(range(1, g.dim())), keepdim=True)
            opt.step()

    return step
