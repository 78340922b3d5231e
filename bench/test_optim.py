"""Fused optimizer steps against ``fastopt.reference`` and their memory bound, float32,
N = 1e3 / 1e5 / 1e7 and ResNet-18 (torchvision's 62 tensors, 11.7M entries).

Run: ``pytest bench/test_optim.py`` (add ``-k 'adam and None'`` to narrow it, ``-k ResNet``
for ResNet-18 alone). One group per optimizer, GC mode and case; the bound
(``bench.stream_bound``: the step's own streams, no arithmetic) joins the GC-off groups, and
on ResNet-18 torch joins Adam's groups: its fused Adam, after per-tensor GC of the gradients
in the "grad" group (as the official GC code), when torch is installed. The table at the end
divides the reference's median by each implementation's, and the bound's by fastopt's (% of
bound), from the same run. The cases and their timing (``bench.timing.measure``) are the
report's; GB/s and the torch ratios of every optimizer come from
``python -m bench.optim_bandwidth``.

Issue 15's optimizers (NAdam, RAdam, Adamax, Adadelta, Rprop, Lion, Lookahead around Adam,
Ranger) run here at N = 1e3 and 1e5 only (``SMALL_CASES``), so that the suite stays short;
their N = 1e7 and ResNet-18 figures are the report's (``python -m bench.optim_bandwidth
--optimizers ...``). Lookahead's and Ranger's groups time one period of k steps a call (one
synchronization with the slow weights), their bound too: their names say so.

Before any of it is timed, ``test_step_matches_reference`` checks every optimizer's step (the
same factory as the timed one) against its reference on a small case, in every GC mode.
"""

import pytest

from bench.optim_cases import (
    CASES,
    GC_MODES,
    ISSUE_15,
    OPTIMIZERS,
    RESNET18,
    SIZES,
    bound_step,
    check_step,
    fastopt_step,
    label,
    reference_step,
    steps_per_call,
    torch_step,
)
from bench.timing import measure

SMALL_CASES = SIZES[:2]
"""The cases of issue 15's optimizers here: N = 1e3 and 1e5."""


def cases_of(name: str) -> list:
    """The cases ``name`` is timed on in this suite."""
    return SMALL_CASES if name in ISSUE_15 else CASES


def _case(name, gc, case):
    # The marker gives each case its group (the optimizer's step on one case, one GC mode).
    per_call = steps_per_call(name)
    group = f"{name} gc={gc} {label(case)}" + (f" x{per_call} steps" if per_call > 1 else "")
    return pytest.param(name, gc, case, id=group.replace(" ", "-"),
                        marks=pytest.mark.benchmark(group=group))  # fmt: skip


STEPS = [_case(name, gc, case) for name in OPTIMIZERS for gc in GC_MODES for case in cases_of(name)]
BOUNDS = [_case(name, None, case) for name in OPTIMIZERS for case in cases_of(name)]
TORCH = [_case("adam", gc, RESNET18) for gc in (None, "grad")]
CHECKS = [pytest.param(name, gc, id=f"{name}-gc={gc}") for name in OPTIMIZERS for gc in GC_MODES]


@pytest.mark.parametrize(("name", "gc"), CHECKS)
def test_step_matches_reference(name, gc):
    check_step(name, gc)


@pytest.mark.parametrize("impl", ["fastopt", "reference"])
@pytest.mark.parametrize(("name", "gc", "case"), STEPS)
def test_step(benchmark, name, gc, case, impl):
    step = (fastopt_step if impl == "fastopt" else reference_step)(name, gc, case)
    measure(step, benchmark)


@pytest.mark.parametrize("impl", ["bound"])  # a column of the ratio table, as fastopt's
@pytest.mark.parametrize(("name", "gc", "case"), BOUNDS)
def test_bound(benchmark, name, gc, case, impl):
    measure(bound_step(name, case), benchmark)


@pytest.mark.parametrize("impl", ["torch"])
@pytest.mark.parametrize(("name", "gc", "case"), TORCH)
def test_torch(benchmark, name, gc, case, impl):
    pytest.importorskip("torch")
    measure(torch_step(name, case, gc=gc == "grad"), benchmark)
