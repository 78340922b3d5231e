"""``fastopt.torch`` against ``torch.optim``: one step on ResNet-18's and a 12-block
transformer's parameters, float32, gradients from one backward pass (``bench.torch_optim``).

Run: ``pytest bench/test_torch_optim.py`` (``-k 'adam and transformer'`` to narrow it). One
group per optimizer, model and GC mode: without GC, torch.optim's for-loop, foreach and fused
steps (where torch has them), ``fastopt.torch`` and the flat kernel on the same sizes (the
adapter's overhead); with GC "grad", torch's fused step (foreach for RMSprop) after per-tensor
GC of its gradients as the official code, and ``fastopt.torch(gc="grad")``. The ratios and
the issue's targets: ``python -m bench.torch_optim``, and ``python -m bench.report``.
"""

import functools

import pytest

from bench.timing import measure

torch = pytest.importorskip("torch")

from bench.torch_optim import (  # noqa: E402
    MODELS,
    OPTIMIZERS,
    TORCH_MODES,
    adapter,
    flat_step,
    model_with_gradients,
    torch_step,
    torch_supports,
)

gradients = functools.cache(model_with_gradients)  # one backward pass per model


@pytest.fixture(autouse=True, scope="module")
def numba_threads():
    import numba

    threads = torch.get_num_threads()
    torch.set_num_threads(numba.get_num_threads())  # the same cores for both
    yield
    torch.set_num_threads(threads)


def _cases(gc):
    return [
        pytest.param(name, model, id=f"{name}-gc={gc}-{model}",
                     marks=pytest.mark.benchmark(group=f"{name} gc={gc} {model}"))
        for name in OPTIMIZERS for model in MODELS
    ]  # fmt: skip


@pytest.mark.parametrize("impl", [*(f"torch-{m}" for m in TORCH_MODES), "fastopt.torch", "flat"])
@pytest.mark.parametrize(("name", "model"), _cases(None))
def test_step(benchmark, name, model, impl):
    cls_name, kwargs = OPTIMIZERS[name]
    net, grads = gradients(model)
    if impl.startswith("torch-"):
        mode = impl.removeprefix("torch-")
        if not torch_supports(cls_name, mode):
            pytest.skip(f"torch has no {mode} {cls_name} on the CPU")
        step = torch_step(cls_name, kwargs, net, grads, mode)
    elif impl == "fastopt.torch":
        step = adapter(cls_name, kwargs, net, grads).step
    else:
        step = flat_step(name, kwargs, grads)
    measure(step, benchmark)


@pytest.mark.parametrize("impl", ["torch+gc", "fastopt.torch"])
@pytest.mark.parametrize(("name", "model"), _cases("grad"))
def test_step_gc(benchmark, name, model, impl):
    cls_name, kwargs = OPTIMIZERS[name]
    net, grads = gradients(model)
    if impl == "torch+gc":
        mode = "fused" if torch_supports(cls_name, "fused") else "foreach"
        step = torch_step(cls_name, kwargs, net, grads, mode, gc=True)
    else:
        step = adapter(cls_name, kwargs, net, grads, gc="grad").step
    measure(step, benchmark)
