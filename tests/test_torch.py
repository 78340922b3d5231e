"""fastopt.torch: the fused optimizers as torch.optim optimizers, against torch.optim itself.

Every comparison trains two copies of one small conv + BatchNorm + linear model on the same
batches, one with a fastopt.torch optimizer and one with torch.optim's for-loop
implementation (``foreach=False``); gradient centralization is emulated on torch's side
with the published per-output centralization (:class:`TorchGC`).
"""

import contextlib
import copy
import inspect
import io
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

import fastopt  # noqa: E402
import fastopt.torch as ft  # noqa: E402
from fastopt.optimizers import OPTIMIZERS as REGISTRY  # noqa: E402
from tests.optimizer_cases import OPTIMIZERS as CASES  # noqa: E402
from tests.optimizer_cases import option_id  # noqa: E402

N_STEPS = 20
DTYPES = [torch.float32, torch.float64]
DTYPE_IDS = ["f32", "f64"]
GC_MODES = [None, "grad", "update"]
TORCH_CASES = [info for info in CASES if info.torch_name is not None]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # Tiny models: torch's threads only fight over 2 cores (70 ms a step instead of 1 ms).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tol(dtype):
    if dtype == torch.float64:
        return dict(rtol=1e-9, atol=1e-11)
    return dict(rtol=2e-4, atol=2e-5)


# --- the model, the data and the training loop ----------------------------------------------
class Net(nn.Module):
    """Conv (no bias: BatchNorm follows) + BN + ReLU + linear; a 4-D, two 1-D, a 2-D, a 1-D."""

    def __init__(self, classes=5):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, bias=False)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4 * 4 * 4, classes)

    def forward(self, x):
        return self.fc(torch.flatten(F.relu(self.bn(self.conv(x))), 1))


def make_model(dtype=torch.float32, seed=0, cls=Net):
    torch.manual_seed(seed)
    return cls().to(dtype)


def batches(n=N_STEPS, dtype=torch.float32, seed=1, classes=5):
    gen = torch.Generator().manual_seed(seed)
    return [
        (
            torch.randn(8, 3, 6, 6, generator=gen, dtype=dtype),
            torch.randint(0, classes, (8,), generator=gen),
        )
        for _ in range(n)
    ]


def train(model, opt, data, *, set_to_none=True, scheduler=None, each=None, before=None):
    for i, (x, y) in enumerate(data):
        if before is not None:
            before(i)
        opt.zero_grad(set_to_none=set_to_none)
        F.cross_entropy(model(x), y).backward()
        opt.step()
        if scheduler is not None:
            scheduler.step()
        if each is not None:
            each(i)


@contextlib.contextmanager
def default_dtype(dtype):
    """torch keeps NAdam's mu_product in its default dtype (fastopt in float64): make it the
    model's, for comparisons at float64's precision."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


def assert_same_params(ours, theirs, dtype=torch.float32, **kwargs):
    for (name, a), b in zip(ours.named_parameters(), theirs.parameters(), strict=True):
        assert a.dtype == b.dtype
        torch.testing.assert_close(
            a, b, **{**tol(dtype), **kwargs}, msg=lambda m, n=name: f"{n}: {m}"
        )


def centralize(t):
    return t - t.mean(dim=tuple(range(1, t.dim())), keepdim=True)


class TorchGC:
    """torch.optim plus the official gradient centralization of each row tensor.

    ``gc="grad"``: the gradient ``g`` of a tensor with >= 2 dims (> 3 with ``conv_only``)
    becomes ``C(g + wd*p) - wd*p`` (torch adds ``wd*p`` back: the moments see
    ``C(g + wd*p)``; AdamW's decoupled decay is not in the gradient). ``gc="update"``: the
    step ``p_new - p_old`` is centralized. ``gc`` and ``conv_only`` may differ per group.
    """

    def __init__(self, opt, gc=None, conv_only=False, l2=True):
        self.opt = opt
        self.gc = gc if isinstance(gc, list) else [gc] * len(opt.param_groups)
        self.conv_only = conv_only
        self.l2 = l2

    def __getattr__(self, name):
        return getattr(self.opt, name)

    def _rows(self):
        for group, gc in zip(self.opt.param_groups, self.gc, strict=True):
            for p in group["params"]:
                if p.grad is not None and p.dim() >= (4 if self.conv_only else 2) and gc:
                    yield group, gc, p

    @torch.no_grad()
    def step(self):
        before = {}
        for group, gc, p in self._rows():
            if gc == "grad":
                wd = group.get("weight_decay", 0.0) if self.l2 else 0.0
                p.grad = centralize(p.grad + wd * p) - wd * p
            else:
                before[p] = p.detach().clone()
        self.opt.step()
        for p, old in before.items():
            p.copy_(old + centralize(p - old))


def torch_twin(info, kwargs, model, gc=None, conv_only=False, params=None):
    kwargs = {**info.torch_defaults, **kwargs}
    opt = info.torch_class()(
        model.parameters() if params is None else params, foreach=False, **kwargs
    )
    return TorchGC(opt, gc, conv_only, l2=info.l2_weight_decay(kwargs))


def adapter(info):
    return ft.ADAPTERS[info.torch_name]


def ours_kwargs(info, kwargs):
    return {**info.torch_defaults, **kwargs}


# --- classes and signatures ---------------------------------------------------------------
def test_every_optimizer_has_an_adapter():
    named = {cls.spec.torch for cls in REGISTRY.values() if cls.spec.torch}
    own = {cls.__name__ for cls in REGISTRY.values() if cls.spec.torch is None}
    assert {"Lion", "Ranger", "LookaheadAdam", "LookaheadSGD"} <= own
    assert set(ft.ADAPTERS) == named | own
    assert ft.SGD.fastopt_class is fastopt.SGD  # not the Momentum variant
    for name in own:
        assert ft.ADAPTERS[name].fastopt_class.__name__ == name
    for name, cls in ft.ADAPTERS.items():
        assert issubclass(cls, torch.optim.Optimizer)
        assert getattr(ft, name) is cls
        assert cls.__name__ == name


@pytest.mark.parametrize("name", sorted(n for n in ft.ADAPTERS if hasattr(torch.optim, n)))
def test_signature_is_torchs(name):
    ours = inspect.signature(ft.ADAPTERS[name]).parameters
    theirs = inspect.signature(getattr(torch.optim, name)).parameters
    spec = ft.ADAPTERS[name].fastopt_class.spec
    names = [h.torch or h.name for h in spec.hyperparameters]
    positional = [n for n, p in ours.items() if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert positional == [n for n in theirs if n in ["params", *names]][: len(positional)]
    for n in [*names, "maximize"]:
        assert ours[n].default == theirs[n].default, n
    assert ours["gc"].default is None and ours["gc_conv_only"].default is False
    # Constructed with defaults only, the group holds torch's values.
    p = nn.Parameter(torch.ones(3))
    group = ft.ADAPTERS[name]([p]).param_groups[0]
    reference = getattr(torch.optim, name)([nn.Parameter(torch.ones(3))]).param_groups[0]
    for n in [*names, "maximize"]:
        assert group[n] == reference[n], n


def test_import_fastopt_does_not_import_torch():
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import fastopt\n"
        "try:\n    import fastopt.torch\nexcept ImportError:\n    print('ok')\n"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    assert out.stdout.strip() == "ok"


# --- trajectories -------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("gc", GC_MODES, ids=["gc=None", "gc=grad", "gc=update"])
@pytest.mark.parametrize(
    "info,kwargs",
    [pytest.param(i, k, id=option_id(i, k)) for i in TORCH_CASES for k in i.options],
)
def test_trajectory_matches_torch(info, kwargs, gc, dtype):
    with default_dtype(dtype):
        _trajectory_matches_torch(info, kwargs, gc, dtype)


def _trajectory_matches_torch(info, kwargs, gc, dtype):
    model = make_model(dtype)
    twin = copy.deepcopy(model)
    opt = adapter(info)(model.parameters(), **ours_kwargs(info, kwargs), gc=gc)
    theirs = torch_twin(info, kwargs, twin, gc)
    data = batches(dtype=dtype)
    train(model, opt, data)
    train(twin, theirs, data)
    assert_same_params(model, twin, dtype)
    moved = make_model(dtype)
    assert any(
        not torch.equal(a, b) for a, b in zip(model.parameters(), moved.parameters(), strict=True)
    )


OWN_CASES = [info for info in CASES if info.torch_name is None]


@pytest.mark.parametrize("name", sorted(n for n in ft.ADAPTERS if not hasattr(torch.optim, n)))
def test_signature_of_an_optimizer_torch_lacks_is_fastopts(name):
    cls = ft.ADAPTERS[name]
    spec = cls.fastopt_class.spec
    parameters = inspect.signature(cls).parameters
    assert [n for n, p in parameters.items() if p.kind is p.POSITIONAL_OR_KEYWORD] == [
        "params", "lr"]  # fmt: skip
    for h in spec.hyperparameters:
        default = inspect.Parameter.empty if h.name not in spec.defaults else spec.defaults[h.name]
        assert parameters[h.name].default == default, h.name
    assert parameters["gc"].default == spec.gc
    group = cls([nn.Parameter(torch.ones(3))], **({"lr": 0.1} if "lr" not in spec.defaults
                                                  else {})).param_groups[0]  # fmt: skip
    assert {n: group[n] for n in spec.defaults} == spec.defaults


class ReferenceTwin:
    """``fastopt.reference``'s optimizer stepping a torch model's parameters (as NumPy)."""

    def __init__(self, model, reference):
        self.params = dict(model.named_parameters())
        self.reference = reference
        self.arrays = {n: p.detach().numpy().copy() for n, p in self.params.items()}
        self.state = reference.init(self.arrays)

    def zero_grad(self, set_to_none=True):
        for p in self.params.values():
            p.grad = None

    @torch.no_grad()
    def step(self):
        grads = {n: p.grad.numpy().copy() for n, p in self.params.items()}
        self.reference.step(self.arrays, grads, self.state)
        for n, p in self.params.items():
            p.copy_(torch.from_numpy(self.arrays[n]))


@pytest.mark.parametrize("dtype", DTYPES, ids=DTYPE_IDS)
@pytest.mark.parametrize("gc", GC_MODES, ids=["gc=None", "gc=grad", "gc=update"])
@pytest.mark.parametrize(
    "info,kwargs",
    [pytest.param(i, k, id=option_id(i, k)) for i in OWN_CASES for k in i.options],
)
def test_trajectory_of_an_optimizer_torch_lacks_matches_the_reference(info, kwargs, gc, dtype):
    model = make_model(dtype)
    twin = copy.deepcopy(model)
    opt = ft.ADAPTERS[info.name](model.parameters(), **kwargs, gc=gc)
    data = batches(dtype=dtype)
    train(model, opt, data)
    train(twin, ReferenceTwin(twin, info.reference(**kwargs, gc=gc)), data)
    assert_same_params(model, twin, dtype)
    assert any(not torch.equal(a, b) for a, b in
               zip(model.parameters(), make_model(dtype).parameters(), strict=True))  # fmt: skip


@pytest.mark.parametrize("gc", ["grad", "update"])
@pytest.mark.parametrize(
    "info", [i for i in TORCH_CASES if i.name in ("SGD", "Adam")], ids=lambda i: i.name
)
def test_gc_conv_only_centralizes_conv_weights_alone(info, gc):
    model = make_model()
    twin = copy.deepcopy(model)
    opt = adapter(info)(
        model.parameters(), **ours_kwargs(info, info.rich), gc=gc, gc_conv_only=True
    )
    train(model, opt, batches())
    train(twin, torch_twin(info, info.rich, twin, gc, conv_only=True), batches())
    assert_same_params(model, twin)
    # ... and differs from centralizing the linear weight too.
    full = copy.deepcopy(make_model())
    train(full, adapter(info)(full.parameters(), **ours_kwargs(info, info.rich), gc=gc), batches())
    assert not torch.allclose(full.fc.weight, model.fc.weight, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("info", TORCH_CASES, ids=lambda i: i.name)
def test_maximize(info):
    model = make_model(torch.float64)
    twin = copy.deepcopy(model)
    with default_dtype(torch.float64):
        opt = adapter(info)(model.parameters(), **ours_kwargs(info, info.rich), maximize=True)
        theirs = torch_twin(info, {**info.rich, "maximize": True}, twin)
        data = batches(dtype=torch.float64)
        train(model, opt, data)
        train(twin, theirs, data)
    assert_same_params(model, twin, torch.float64)


@pytest.mark.parametrize("gc", GC_MODES)
def test_step_leaves_grads_as_they_were(gc):
    model = make_model()
    opt = ft.Adam(model.parameters(), lr=0.01, weight_decay=0.1, maximize=True, gc=gc)
    for set_to_none in (True, False, False):
        opt.zero_grad(set_to_none=set_to_none)
        x, y = batches(1)[0]
        F.cross_entropy(model(x), y).backward()
        grads = [p.grad.clone() for p in model.parameters()]
        opt.step()
        for g, p in zip(grads, model.parameters(), strict=True):
            assert torch.equal(g, p.grad)


# --- zero copy ----------------------------------------------------------------------------
def storage(t):
    return t.untyped_storage().data_ptr()


def test_params_grads_and_state_are_views_of_flat_buffers():
    model = make_model()
    values = [p.detach().clone() for p in model.parameters()]
    opt = ft.Adam(model.parameters(), lr=0.01)
    params = list(model.parameters())
    assert len({storage(p) for p in params}) == 1  # one flat buffer
    for p, v in zip(params, values, strict=True):
        assert torch.equal(p, v) and p.is_leaf and p.requires_grad
    data = batches(3)
    train(model, opt, data[:1], set_to_none=False)  # grads were None: gathered once
    bucket = opt._groups[0].buckets[0]
    assert bucket.gathered == len(params)
    train(model, opt, data[1:], set_to_none=False)
    assert bucket.gathered == 0  # backward accumulated into the views
    assert len({storage(p.grad) for p in params}) == 1
    assert storage(params[0].grad) != storage(params[0])
    for key in ("exp_avg", "exp_avg_sq", "step"):
        assert len({storage(opt.state[p][key]) for p in params}) == 1, key
    # With set_to_none=True each step gathers the fresh gradients, and p.grad stays theirs.
    opt.zero_grad()
    assert all(p.grad is None for p in params)
    x, y = data[0]
    F.cross_entropy(model(x), y).backward()
    fresh = [p.grad for p in params]
    opt.step()
    assert bucket.gathered == len(params)
    assert all(p.grad is g for p, g in zip(params, fresh, strict=True))


@pytest.mark.parametrize("set_to_none", [True, False])
@pytest.mark.parametrize(
    "info", [i for i in TORCH_CASES if i.name in ("SGD", "Adam", "Adagrad")], ids=lambda i: i.name
)
def test_zero_grad_either_way_matches_torch(info, set_to_none):
    model = make_model()
    twin = copy.deepcopy(model)
    opt = adapter(info)(model.parameters(), **ours_kwargs(info, info.rich))
    theirs = torch_twin(info, info.rich, twin)
    train(model, opt, batches(), set_to_none=set_to_none)
    train(twin, theirs, batches(), set_to_none=set_to_none)
    assert_same_params(model, twin)
    for p, q in zip(model.parameters(), twin.parameters(), strict=True):
        assert (p.grad is None) == (q.grad is None)


def test_zero_grad_set_to_none_false_zeroes_in_place():
    model = make_model()
    opt = ft.SGD(model.parameters(), lr=0.1)
    x, y = batches(1)[0]
    F.cross_entropy(model(x), y).backward()
    old = model.fc.weight.grad
    opt.zero_grad(set_to_none=False)
    assert torch.count_nonzero(old) == 0  # the tensor the user may hold, as torch does
    assert all(torch.count_nonzero(p.grad) == 0 for p in model.parameters())


# --- per-parameter step counts and parameters without gradients ---------------------------
class Branchy(Net):
    """Net with a head used only when asked: its parameters miss steps."""

    def __init__(self):
        super().__init__()
        self.extra = nn.Linear(4 * 4 * 4, 5)
        self.use_extra = False

    def forward(self, x):
        h = torch.flatten(F.relu(self.bn(self.conv(x))), 1)
        out = self.fc(h)
        return out + self.extra(h) if self.use_extra else out


@pytest.mark.parametrize("gc", [None, "grad"])
@pytest.mark.parametrize(
    "info",
    [i for i in TORCH_CASES if i.name in ("SGD", "RMSprop", "Adam", "Adagrad")],
    ids=lambda i: i.name,
)
def test_params_without_grad_are_skipped_with_their_own_counts(info, gc):
    model = make_model(cls=Branchy)
    twin = copy.deepcopy(model)
    opt = adapter(info)(model.parameters(), **ours_kwargs(info, info.rich), gc=gc)
    theirs = torch_twin(info, info.rich, twin, gc)
    extra = [p.detach().clone() for p in model.extra.parameters()]

    def uses(m, offset):  # the head joins at step 3 and is used on every other step after
        return lambda i: setattr(m, "use_extra", i + offset >= 2 and (i + offset) % 2 == 0)

    data = batches(12)
    train(model, opt, data[:2], set_to_none=True)
    for p, v in zip(model.extra.parameters(), extra, strict=True):
        assert torch.equal(p, v)  # untouched, weight decay or not
        assert p not in opt.state or info.name == "Adagrad"
    train(twin, theirs, data[:2])
    for set_to_none, start, stop in ((True, 2, 7), (False, 7, 12)):
        part = data[start:stop]
        train(model, opt, part, set_to_none=set_to_none, before=uses(model, start))
        train(twin, theirs, part, set_to_none=set_to_none, before=uses(twin, start))
    assert_same_params(model, twin)
    ours, their = opt.state_dict()["state"], theirs.state_dict()["state"]
    assert ours.keys() == their.keys()
    for k in ours:
        if "step" in their[k]:
            assert float(ours[k]["step"]) == float(their[k]["step"])
    counts = {float(s["step"]) for s in ours.values() if "step" in s}
    assert len(counts) > 1 or info.name == "SGD"


# --- param groups, closure, hooks ---------------------------------------------------------
def test_param_groups_with_their_own_options_and_add_param_group():
    model = make_model(cls=Branchy)
    model.use_extra = True
    twin = copy.deepcopy(model)

    def groups(m):
        return [
            dict(params=[m.conv.weight], lr=0.02, gc="grad"),
            dict(
                params=list(m.bn.parameters()) + list(m.fc.parameters()),
                weight_decay=0.1,
                betas=(0.8, 0.9),
            ),
        ]

    opt = ft.Adam(groups(model), lr=0.01)
    theirs = TorchGC(torch.optim.Adam(groups(twin)[:1] + groups(twin)[1:], lr=0.01, foreach=False))
    for g in theirs.opt.param_groups:
        g.pop("gc", None)
    theirs.gc = ["grad", None]
    data = batches(12)
    train(model, opt, data[:6])
    train(twin, theirs, data[:6])
    opt.add_param_group(dict(params=model.extra.parameters(), lr=0.05, gc="update", amsgrad=True))
    theirs.opt.add_param_group(dict(params=twin.extra.parameters(), lr=0.05, amsgrad=True))
    theirs.gc.append("update")
    assert opt.param_groups[2]["gc"] == "update" and opt.param_groups[1]["gc"] is None
    train(model, opt, data[6:])
    train(twin, theirs, data[6:])
    assert_same_params(model, twin)


def test_step_closure_and_hooks():
    model = make_model()
    twin = copy.deepcopy(model)
    opt = ft.SGD(model.parameters(), lr=0.1, momentum=0.9)
    theirs = torch.optim.SGD(twin.parameters(), lr=0.1, momentum=0.9, foreach=False)
    calls = []
    opt.register_step_pre_hook(lambda o, args, kwargs: calls.append("pre"))
    opt.register_step_post_hook(lambda o, args, kwargs: calls.append("post"))
    opt.register_load_state_dict_post_hook(lambda o: calls.append("loaded"))
    opt.register_state_dict_pre_hook(lambda o: calls.append("saving"))
    x, y = batches(1)[0]
    for m, o in ((model, opt), (twin, theirs)):

        def closure(m=m, o=o):
            o.zero_grad()
            loss = F.cross_entropy(m(x), y)
            loss.backward()
            return loss

        for _ in range(3):
            loss = o.step(closure)
        assert isinstance(loss, torch.Tensor)
    assert_same_params(model, twin)
    opt.load_state_dict(opt.state_dict())
    assert calls == ["pre", "post"] * 3 + ["saving", "loaded"]


# --- schedulers ---------------------------------------------------------------------------
SCHEDULERS = {
    "StepLR": lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=5, gamma=0.5),
    "Cosine-to-0": lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=N_STEPS // 2),
    "LambdaLR-from-0": lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda s: min(1.0, s / 5)),
    "OneCycleLR": lambda o: torch.optim.lr_scheduler.OneCycleLR(
        o, max_lr=0.05, total_steps=N_STEPS
    ),
    "CyclicLR": lambda o: torch.optim.lr_scheduler.CyclicLR(o, 0.001, 0.05, step_size_up=4),
    "ReduceLROnPlateau": None,
}


@pytest.mark.parametrize(
    "name,sched",
    [
        ("Adam", "StepLR"),
        ("Adam", "Cosine-to-0"),
        ("Adam", "LambdaLR-from-0"),
        ("Adam", "OneCycleLR"),  # writes betas
        ("AdamW", "OneCycleLR"),
        ("RMSprop", "OneCycleLR"),  # writes momentum (from 0: the buffer appears)
        ("SGD", "OneCycleLR"),
        ("SGD", "CyclicLR"),  # writes momentum
    ],
)
def test_schedulers_match_torch(name, sched):
    info = next(i for i in TORCH_CASES if i.name == name)
    kwargs = {**info.options[0], **({"momentum": 0.9} if sched == "CyclicLR" else {})}
    model = make_model()
    twin = copy.deepcopy(model)
    opt = adapter(info)(model.parameters(), **ours_kwargs(info, kwargs))
    theirs = info.torch_class()(twin.parameters(), foreach=False, **ours_kwargs(info, kwargs))
    seen = []
    train(model, opt, batches(), scheduler=SCHEDULERS[sched](opt),
          each=lambda i: seen.append(dict(opt.param_groups[0])))  # fmt: skip
    train(twin, theirs, batches(), scheduler=SCHEDULERS[sched](theirs))
    assert_same_params(model, twin)
    assert min(g["lr"] for g in seen) < max(g["lr"] for g in seen)


def test_momentum_from_zero_mid_training_starts_buffers_as_torch():
    # SGD keeps no state without momentum; when a schedule turns momentum on, each buffer
    # starts at the gradient (torch: the buffer is None), dampening or not.
    model = make_model()
    twin = copy.deepcopy(model)
    opt = ft.SGD(model.parameters(), lr=0.1, dampening=0.3)
    theirs = torch.optim.SGD(twin.parameters(), lr=0.1, dampening=0.3, foreach=False)
    data = batches(8)
    train(model, opt, data[:3])
    train(twin, theirs, data[:3])
    assert len(opt.state) == 0
    for o in (opt, theirs):
        o.param_groups[0]["momentum"] = 0.9
    train(model, opt, data[3:])
    train(twin, theirs, data[3:])
    assert_same_params(model, twin)
    assert set(opt.state[model.fc.weight]) == {"momentum_buffer"}


def test_reduce_lr_on_plateau():
    model = make_model()
    twin = copy.deepcopy(model)
    opt = ft.SGD(model.parameters(), lr=0.5, momentum=0.5)
    theirs = torch.optim.SGD(twin.parameters(), lr=0.5, momentum=0.5, foreach=False)
    s1 = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5)
    s2 = torch.optim.lr_scheduler.ReduceLROnPlateau(theirs, patience=0, factor=0.5)
    train(model, opt, batches(), each=lambda i: s1.step(1.0))
    train(twin, theirs, batches(), each=lambda i: s2.step(1.0))
    assert opt.param_groups[0]["lr"] < 0.5
    assert_same_params(model, twin)


# --- checkpoints --------------------------------------------------------------------------
def roundtrip(state_dict):
    buffer = io.BytesIO()
    torch.save(state_dict, buffer)
    buffer.seek(0)
    return torch.load(buffer)


@pytest.mark.parametrize("direction", ["ours-to-torch", "torch-to-ours"])
@pytest.mark.parametrize("info", TORCH_CASES, ids=lambda i: i.name)
def test_checkpoint_moves_between_fastopt_and_torch(info, direction):
    kwargs = ours_kwargs(info, info.rich)
    model = make_model(cls=Branchy)  # the head misses the first steps: state of some params only
    twin = copy.deepcopy(model)
    first = adapter(info) if direction == "ours-to-torch" else info.torch_class()
    second = info.torch_class() if direction == "ours-to-torch" else adapter(info)
    extra = {} if first is adapter(info) else {"foreach": False}
    data = batches(12)

    def schedule(i):
        model.use_extra = twin.use_extra = i >= 3

    opt = first(model.parameters(), **kwargs, **extra)
    train(model, opt, data[:6], each=schedule)
    saved = roundtrip(opt.state_dict())
    # The twin continues from the checkpoint with the other implementation.
    twin.load_state_dict(model.state_dict())
    twin.use_extra = True
    other = second(twin.parameters(), **kwargs, **({} if extra else {"foreach": False}))
    other.load_state_dict(saved)
    reference = copy.deepcopy(opt.state_dict())
    for k, s in other.state_dict()["state"].items():
        assert s.keys() == reference["state"][k].keys()
        for key, value in s.items():
            torch.testing.assert_close(value, reference["state"][k][key], check_dtype=False)
    model.use_extra = True
    train(model, opt, data[6:])
    train(twin, other, data[6:])
    assert_same_params(model, twin)


@pytest.mark.parametrize("info", TORCH_CASES, ids=lambda i: i.name)
def test_state_dict_has_torchs_keys(info):
    kwargs = ours_kwargs(info, info.rich)
    model = make_model(cls=Branchy)
    twin = copy.deepcopy(model)
    opt = adapter(info)(model.parameters(), **kwargs)
    theirs = info.torch_class()(twin.parameters(), foreach=False, **kwargs)
    before = (opt.state_dict()["state"], theirs.state_dict()["state"])
    assert before[0].keys() == before[1].keys()  # Adagrad's at construction, others none
    train(model, opt, batches(3))
    train(twin, theirs, batches(3))
    ours, their = opt.state_dict(), theirs.state_dict()
    assert ours["state"].keys() == their["state"].keys()
    for k, s in their["state"].items():
        assert ours["state"][k].keys() == s.keys()
        for key, value in s.items():
            torch.testing.assert_close(ours["state"][k][key], value, **tol(torch.float32))
    hyper = set(their["param_groups"][0]) - {
        "foreach",
        "fused",
        "capturable",
        "differentiable",
        "decoupled_weight_decay",
    }
    assert hyper <= set(ours["param_groups"][0])
    assert [g["params"] for g in ours["param_groups"]] == [
        g["params"] for g in their["param_groups"]
    ]


def test_load_state_dict_refuses_bad_state_and_keeps_its_own():
    model = make_model()
    twin = copy.deepcopy(model)
    opt = ft.Adam(model.parameters(), lr=0.01)
    theirs = torch.optim.Adam(twin.parameters(), lr=0.01, foreach=False)
    data = batches(4)
    train(model, opt, data[:2])
    train(twin, theirs, data[:2])
    bad = roundtrip(opt.state_dict())
    bad["state"][3]["exp_avg"] = torch.zeros(2)
    with pytest.raises(
        ValueError, match=r"param_groups\[0\]\['params'\]\[3\].*'exp_avg' must be a tensor of shape"
    ):
        opt.load_state_dict(bad)
    bad = roundtrip(opt.state_dict())
    bad["state"][3]["step"] = torch.tensor(-1.0)
    with pytest.raises(ValueError, match=r"\['step'\] must be a whole number >= 0, got -1.0"):
        opt.load_state_dict(bad)
    train(model, opt, data[2:])  # as if nothing had been tried
    train(twin, theirs, data[2:])
    assert_same_params(model, twin)
    adamw = torch.optim.Adam(make_model().parameters(), decoupled_weight_decay=True)
    with pytest.raises(ValueError, match="decoupled_weight_decay"):
        ft.Adam(make_model().parameters()).load_state_dict(adamw.state_dict())


# --- what breaks the views ----------------------------------------------------------------
@pytest.mark.parametrize("after_steps", [0, 4])
def test_model_to_dtype_after_construction(after_steps):
    model = make_model()
    twin = copy.deepcopy(model)
    opt = ft.Adam(model.parameters(), lr=0.01, amsgrad=True, gc="grad")
    theirs = TorchGC(
        torch.optim.Adam(twin.parameters(), lr=0.01, amsgrad=True, foreach=False), "grad"
    )
    data = batches(10)
    train(model, opt, data[:after_steps])
    train(twin, theirs, data[:after_steps])
    model.to(torch.float64)
    twin.to(torch.float64)
    theirs.opt.load_state_dict(theirs.opt.state_dict())  # torch casts its state on loading
    data64 = [(x.double(), y) for x, y in data[after_steps:]]
    train(model, opt, data64)
    train(twin, theirs, data64)
    assert model.fc.weight.dtype == torch.float64
    assert opt.state[model.fc.weight]["exp_avg"].dtype == torch.float64
    assert len({storage(p) for p in model.parameters()}) == 1  # flat again
    assert_same_params(model, twin, rtol=1e-4, atol=1e-5)


def test_data_reassigned_after_construction():
    model = make_model()
    twin = copy.deepcopy(model)
    opt = ft.RMSprop(model.parameters(), lr=0.01, momentum=0.5)
    theirs = torch.optim.RMSprop(twin.parameters(), lr=0.01, momentum=0.5, foreach=False)
    data = batches(8)
    train(model, opt, data[:4])
    train(twin, theirs, data[:4])
    for m in (model, twin):
        m.fc.weight.data = m.fc.weight.data * 0.5  # a new tensor
    train(model, opt, data[4:])
    train(twin, theirs, data[4:])
    assert_same_params(model, twin)


def test_half_precision_after_construction_is_refused_at_step():
    model = make_model()
    opt = ft.Adam(model.parameters())
    model.to(torch.float16)
    with pytest.raises(
        TypeError,
        match=r"param_groups\[0\]\['params'\]\[0\] of shape \(4, 3, 3, 3\) has dtype torch.float16",
    ):
        opt.step()


@pytest.mark.parametrize("when", ["before", "after"])
def test_channels_last(when):
    model = make_model()
    twin = copy.deepcopy(model)
    if when == "before":
        model.to(memory_format=torch.channels_last)
    opt = ft.SGD(model.parameters(), lr=0.1, momentum=0.9, gc="grad")
    if when == "after":
        model.to(memory_format=torch.channels_last)
    twin.to(memory_format=torch.channels_last)
    theirs = TorchGC(
        torch.optim.SGD(twin.parameters(), lr=0.1, momentum=0.9, foreach=False), "grad"
    )
    train(model, opt, batches(), set_to_none=False)
    train(twin, theirs, batches(), set_to_none=False)
    assert model.conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert not model.conv.weight.is_contiguous()
    assert opt._groups[0].buckets[0].gathered == 0
    assert_same_params(model, twin)


def test_transposed_weight_with_gc_is_stored_row_major():
    # Dim 0 not outermost: its GC rows would not be contiguous, so the view is C-contiguous.
    model = make_model()
    model.fc.weight.data = model.fc.weight.data.t().contiguous().t()
    twin = copy.deepcopy(model)
    assert not model.fc.weight.is_contiguous()
    opt = ft.Adam(model.parameters(), lr=0.01, gc="update")
    theirs = TorchGC(torch.optim.Adam(twin.parameters(), lr=0.01, foreach=False), "update")
    train(model, opt, batches())
    train(twin, theirs, batches())
    assert model.fc.weight.is_contiguous()
    assert_same_params(model, twin)


def test_mixed_dtypes_in_one_group():
    model = make_model()
    model.fc.to(torch.float64)
    twin = copy.deepcopy(model)

    class Mixed(nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x):
            h = torch.flatten(F.relu(self.net.bn(self.net.conv(x))), 1)
            return self.net.fc(h.double())

    opt = ft.AdamW(model.parameters(), lr=0.01)
    theirs = torch.optim.AdamW(twin.parameters(), lr=0.01, foreach=False)
    assert len(opt._groups[0].buckets) == 2
    train(Mixed(model), opt, batches())
    train(Mixed(twin), theirs, batches())
    assert_same_params(model, twin)


class Tied(nn.Module):
    """One linear layer applied twice, and a weight shared by two layers."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(6, 6)
        self.b = nn.Linear(6, 5, bias=False)
        self.c = nn.Linear(6, 5)
        self.c.weight = self.b.weight

    def forward(self, x):
        h = torch.tanh(self.a(torch.tanh(self.a(x.flatten(1)[:, :6]))))
        return self.b(h) + self.c(h)


def test_shared_parameters():
    model = make_model(cls=Tied)
    twin = copy.deepcopy(model)
    assert len(list(model.parameters())) == 4  # c.weight is b.weight
    opt = ft.Adam(model.parameters(), lr=0.01, weight_decay=0.1, gc="grad")
    theirs = TorchGC(
        torch.optim.Adam(twin.parameters(), lr=0.01, weight_decay=0.1, foreach=False), "grad"
    )
    train(model, opt, batches())
    train(twin, theirs, batches())
    assert model.b.weight is model.c.weight
    assert_same_params(model, twin)


# --- bad input ----------------------------------------------------------------------------
def param(*shape, **kwargs):
    return nn.Parameter(torch.ones(*shape, **kwargs))


@pytest.mark.parametrize(
    "params,error,match",
    [
        ([param(3, device="meta")], ValueError, r"\[0\] of shape \(3,\) is on meta; .* CPU only"),
        (
            [param(3), param(2, dtype=torch.float16)],
            TypeError,
            r"\[1\] of shape \(2,\) has dtype torch.float16",
        ),
        ([param(2, dtype=torch.bfloat16)], TypeError, "has dtype torch.bfloat16"),
        ([param(2, dtype=torch.complex64)], TypeError, r"is complex \(torch.complex64\)"),
        ([torch.ones(2, dtype=torch.int64)], TypeError, "has dtype torch.int64"),
        ([param(0)], ValueError, "is empty"),
        (
            [("w", param(2)), ("w2", param(2, dtype=torch.float16))],
            TypeError,
            r"\[1\] \('w2'\) of shape",
        ),
    ],
    ids=["meta", "float16", "bfloat16", "complex", "int", "empty", "named"],
)
def test_bad_params_are_refused_naming_them(params, error, match):
    with pytest.raises(error, match=match):
        ft.Adam(params)


def test_sparse_gradient_is_refused():
    emb = nn.Embedding(10, 3, sparse=True)
    opt = ft.Adagrad(emb.parameters())
    emb(torch.tensor([1, 2])).sum().backward()
    with pytest.raises(
        TypeError, match=r"gradient of param_groups\[0\]\['params'\]\[0\] .* is sparse"
    ):
        opt.step()


def test_sparse_param_is_refused():
    with pytest.raises(TypeError, match="layout torch.sparse_coo"):
        ft.SGD([torch.eye(3).to_sparse().requires_grad_()], lr=0.1)


def test_parameter_twice_is_refused():
    p, q = param(3), param(2)
    with pytest.raises(
        ValueError, match=r"param_groups\[0\]\['params'\]\[2\] is the same tensor as \[0\]"
    ):
        ft.SGD([p, q, p], lr=0.1)
    with pytest.raises(
        ValueError, match=r"param_groups\[1\]\['params'\]\[0\] is in another param group"
    ):
        ft.SGD([dict(params=[p]), dict(params=[p])], lr=0.1)
    opt = ft.SGD([p], lr=0.1)
    with pytest.raises(ValueError, match="in another param group"):
        opt.add_param_group(dict(params=[q, p]))
    assert len(opt.param_groups) == 1


def test_parameters_sharing_memory_are_refused():
    base = torch.ones(6)
    a, b = nn.Parameter(base[:4]), nn.Parameter(base[2:])
    with pytest.raises(
        ValueError, match=r"\[0\] of shape \(4,\) and .*\[1\] of shape \(4,\) share memory"
    ):
        ft.SGD([a, b], lr=0.1)
    assert a.data_ptr() == base.data_ptr()  # nothing rebound


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(lr=-1.0), ValueError, "lr must be finite and >= 0"),
        (dict(lr="0.1"), TypeError, "lr must be a number"),
        (dict(betas=(1.0, 0.9)), ValueError, r"betas\[0\] must lie in \[0, 1\)"),
        (dict(eps=-1e-8), ValueError, "eps must be finite"),
        (dict(gc="yes"), ValueError, "gc must be None, 'grad' or 'update'"),
        (dict(gc_conv_only=1), TypeError, "gc_conv_only must be True or False"),
        (dict(maximize="no"), TypeError, "maximize must be True or False"),
        (dict(foreach=True), TypeError, "foreach"),
    ],
)
def test_bad_hyperparameters_are_refused_naming_them(kwargs, error, match):
    with pytest.raises(error, match=match):
        ft.Adam([param(3)], **kwargs)


@pytest.mark.parametrize(
    "cls,kwargs,error,match",
    [
        ("Rprop", dict(etas=(1.2, 0.5)), ValueError, "etas must satisfy 0 < etaminus < 1"),
        ("Rprop", dict(step_sizes=(1.0, 0.1)), ValueError, "step_sizes must satisfy min"),
        ("NAdam", dict(momentum_decay=-1.0), ValueError, "momentum_decay must be finite"),
        ("Adadelta", dict(rho=2.0), ValueError, r"rho must lie in \[0, 1\]"),
        ("Lion", dict(betas=(0.9, 1.0)), ValueError, r"betas\[1\] must lie in \[0, 1\)"),
        ("Ranger", dict(lookahead_k=0), ValueError, "lookahead_k must be"),
        ("LookaheadAdam", dict(lookahead_alpha=1.5), ValueError, r"lookahead_alpha must lie"),
        ("Lion", dict(eps=1e-8), TypeError, "eps"),
    ],
)
def test_bad_hyperparameters_of_the_zoo_are_refused_naming_them(cls, kwargs, error, match):
    with pytest.raises(error, match=match):
        ft.ADAPTERS[cls]([param(3)], **kwargs)


def test_bad_group_values_are_refused_naming_the_group():
    p = param(3)
    with pytest.raises(ValueError, match=r"param_groups\[1\]: betas\[1\] must lie"):
        ft.Adam([dict(params=[param(2)]), dict(params=[p], betas=(0.9, 1.5))])
    opt = ft.Adam([p], lr=0.01)
    p.grad = torch.ones(3)
    opt.param_groups[0]["lr"] = -0.1  # as a scheduler could
    with pytest.raises(ValueError, match=r"param_groups\[0\]\['lr'\] must be finite and >= 0"):
        opt.step()
    opt.param_groups[0]["lr"] = 0.0  # allowed, as in torch: state moves, params do not
    opt.step()
    assert torch.equal(p.detach(), torch.ones(3)) and float(opt.state[p]["step"]) == 1
    opt.param_groups[0]["gc"] = "both"
    with pytest.raises(ValueError, match=r"param_groups\[0\]: gc must be None"):
        opt.step()


def test_base_class_needs_an_optimizer():
    with pytest.raises(TypeError, match="subclass"):
        ft.FusedOptimizer([param(2)])


# --- DistributedDataParallel --------------------------------------------------------------
def _ddp_worker(rank, world, store, out):
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    try:
        results = {}
        for impl in ("fastopt", "torch"):
            model = DDP(make_model())  # rank 0's weights are broadcast
            if impl == "fastopt":
                opt = ft.Adam(model.parameters(), lr=0.01, weight_decay=0.1)
            else:
                opt = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=0.1, foreach=False)
            train(model, opt, batches(6, seed=10 + rank), set_to_none=False)
            results[impl] = [p.detach().clone() for p in model.parameters()]
        torch.save(results, f"{out}{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_ddp_matches_torch(tmp_path):
    import torch.multiprocessing as mp

    # Once in a CI run (of many), a worker died of SIGABRT ("terminate called without an
    # active exception", from gloo's C++ threads); it did not recur in 5 reruns here. A
    # worker killed by a signal gets one more try, in a fresh store; any other failure
    # (an exception, a wrong result) fails the test at once.
    for attempt in range(2):
        store = tmp_path / f"store{attempt}"
        try:
            mp.spawn(_ddp_worker, args=(2, str(store), str(tmp_path / "rank")), nprocs=2,
                     join=True)  # fmt: skip
            break
        except mp.ProcessExitedException as e:
            if attempt == 1 or e.signal_name is None:
                raise
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    for a, b in zip(ranks[0]["fastopt"], ranks[0]["torch"], strict=True):
        torch.testing.assert_close(a, b, **tol(torch.float32))
    for a, b in zip(ranks[0]["fastopt"], ranks[1]["fastopt"], strict=True):
        assert torch.equal(a, b)  # the ranks agree
    assert not torch.equal(ranks[0]["fastopt"][0], make_model().conv.weight)
