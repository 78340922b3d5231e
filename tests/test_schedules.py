"""Tests of the learning-rate schedules (fastopt.schedules) against their closed forms."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastopt import schedules
from fastopt.schedules import Constant, Cosine, Exponential, Schedule, StepDecay

T = np.arange(60)


def close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=1e-14, atol=0)


# --------------------------------------------------------------------------- closed forms


def test_constant():
    s = Constant(0.3)
    assert isinstance(s, Schedule)
    assert [s(t) for t in T] == [0.3] * len(T)
    assert s(10**9) == 0.3


def test_step_decay():
    s = StepDecay(0.2, step_size=7, gamma=0.5)
    close([s(t) for t in T], 0.2 * 0.5 ** (T // 7))
    assert s(0) == s(6) == 0.2
    assert s(7) == pytest.approx(0.1, rel=1e-15)
    assert s(13) == pytest.approx(0.1, rel=1e-15) and s(14) == pytest.approx(0.05, rel=1e-15)
    assert StepDecay(0.2, step_size=3).gamma == 0.1  # torch's default gamma


def test_exponential():
    s = Exponential(0.2, gamma=0.9)
    close([s(t) for t in T], 0.2 * 0.9**T)
    assert s(0) == 0.2
    assert Exponential(0.2, gamma=1.0)(1000) == 0.2


@pytest.mark.parametrize("min_lr", [0.0, 0.01])
def test_cosine(min_lr):
    lr, total = 0.1, 40
    s = Cosine(lr, total_steps=total, min_lr=min_lr)
    tt = np.minimum(T, total)
    expected = min_lr + (lr - min_lr) * 0.5 * (1 + np.cos(np.pi * tt / total))
    close([s(t) for t in T], expected)
    assert s(0) == pytest.approx(lr, rel=1e-15)
    assert s(total // 2) == pytest.approx((lr + min_lr) / 2, rel=1e-14)
    # At total_steps and forever after: exactly min_lr.
    for t in (total, total + 1, 10 * total, 10**9):
        assert s(t) == min_lr


def test_cosine_min_lr_equal_to_lr_is_constant():
    s = Cosine(0.05, total_steps=10, min_lr=0.05)
    assert set(s.values(30).tolist()) == {0.05}


WITH_WARMUP = [
    pytest.param(lambda w: Constant(0.1, warmup=w), id="constant"),
    pytest.param(lambda w: StepDecay(0.1, step_size=4, gamma=0.5, warmup=w), id="step"),
    pytest.param(lambda w: Exponential(0.1, gamma=0.9, warmup=w), id="exponential"),
    pytest.param(lambda w: Cosine(0.1, total_steps=25, min_lr=0.001, warmup=w), id="cosine"),
]


@pytest.mark.parametrize("warmup", [1, 3, 10])
@pytest.mark.parametrize("make", WITH_WARMUP)
def test_warmup_ramps_then_runs_the_schedule_from_its_own_step_zero(make, warmup):
    s, plain = make(warmup), make(0)
    assert s.warmup == warmup and plain.warmup == 0
    for t in range(warmup):
        assert s(t) == pytest.approx(0.1 * (t + 1) / warmup, rel=1e-15)
    assert s(warmup - 1) == pytest.approx(0.1, rel=1e-15)
    for t in range(40):
        assert s(warmup + t) == plain(t), t
    assert s(0) < s(warmup - 1) or warmup == 1


def test_docstring_example():
    sched = Cosine(0.1, total_steps=100, warmup=10)
    assert (round(sched(0), 4), round(sched(9), 4), round(sched(10), 4), round(sched(110), 4)) == (
        0.01,
        0.1,
        0.1,
        0.0,
    )


# --------------------------------------------------------------------------- values, repr


@pytest.mark.parametrize("make", WITH_WARMUP)
@pytest.mark.parametrize("n", [0, 1, 17])
def test_values(make, n):
    s = make(5)
    v = s.values(n)
    assert isinstance(v, np.ndarray)
    assert v.shape == (n,) and v.dtype == np.float64
    np.testing.assert_array_equal(v, [s(t) for t in range(n)])


def test_call_accepts_numpy_ints_and_returns_float():
    s = Cosine(0.1, total_steps=10, warmup=2)
    assert s(np.int64(5)) == s(5)
    assert type(s(5)) is float


@pytest.mark.parametrize(
    ("sched", "text"),
    [
        (Constant(0.1), "Constant(0.1, warmup=0)"),
        (Constant(0.25, warmup=4), "Constant(0.25, warmup=4)"),
        (
            StepDecay(0.1, step_size=5, gamma=0.5),
            "StepDecay(0.1, step_size=5, gamma=0.5, warmup=0)",
        ),
        (Exponential(0.1, gamma=0.9, warmup=2), "Exponential(0.1, gamma=0.9, warmup=2)"),
        (
            Cosine(0.1, total_steps=100, min_lr=0.001, warmup=10),
            "Cosine(0.1, total_steps=100, min_lr=0.001, warmup=10)",
        ),
    ],
)
def test_repr_round_trips(sched, text):
    assert repr(sched) == text
    again = eval(text, vars(schedules))  # noqa: S307 - our own repr
    assert type(again) is type(sched)
    np.testing.assert_array_equal(again.values(130), sched.values(130))


def test_params_are_read_only():
    s = Cosine(0.1, total_steps=10, min_lr=0.01, warmup=3)
    np.testing.assert_array_equal(s.params, [0.1, 3, 10, 0.01])
    with pytest.raises(ValueError):
        s.params[0] = 1.0


# --------------------------------------------------------------------------- bad arguments

BAD = [
    (lambda: StepDecay(0.1, step_size=5, gamma=0.0), ValueError, "gamma"),
    (lambda: StepDecay(0.1, step_size=5, gamma=-0.5), ValueError, "gamma"),
    (lambda: StepDecay(0.1, step_size=5, gamma=math.nan), ValueError, "gamma"),
    (lambda: Exponential(0.1, gamma=0.0), ValueError, "gamma"),
    (lambda: Exponential(0.1, gamma=-0.9), ValueError, "gamma"),
    (lambda: Exponential(0.1, gamma=math.inf), ValueError, "gamma"),
    (lambda: Exponential(0.1, gamma="0.9"), TypeError, "gamma"),
    (lambda: StepDecay(0.1, step_size=0), ValueError, "step_size"),
    (lambda: StepDecay(0.1, step_size=-3), ValueError, "step_size"),
    (lambda: StepDecay(0.1, step_size=2.5), TypeError, "step_size"),
    (lambda: StepDecay(0.1, step_size=True), TypeError, "step_size"),
    (lambda: Cosine(0.1, total_steps=0), ValueError, "total_steps"),
    (lambda: Cosine(0.1, total_steps=-10), ValueError, "total_steps"),
    (lambda: Cosine(0.1, total_steps=10.0), TypeError, "total_steps"),
    (lambda: Cosine(0.1, total_steps=10, min_lr=0.2), ValueError, "min_lr"),
    (lambda: Cosine(0.1, total_steps=10, min_lr=-0.01), ValueError, "min_lr"),
    (lambda: Cosine(0.1, total_steps=10, min_lr=math.nan), ValueError, "min_lr"),
    (lambda: Constant(0.1, warmup=-1), ValueError, "warmup"),
    (lambda: Cosine(0.1, total_steps=10, warmup=-5), ValueError, "warmup"),
    (lambda: StepDecay(0.1, step_size=2, warmup=-1), ValueError, "warmup"),
    (lambda: Exponential(0.1, gamma=0.9, warmup=-1), ValueError, "warmup"),
    (lambda: Constant(0.1, warmup=1.5), TypeError, "warmup"),
]


@pytest.mark.parametrize(("make", "exc", "match"), BAD)
def test_bad_arguments(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


MAKERS = {
    "constant": lambda lr: Constant(lr),
    "step": lambda lr: StepDecay(lr, step_size=2),
    "exponential": lambda lr: Exponential(lr, gamma=0.9),
    "cosine": lambda lr: Cosine(lr, total_steps=10),
}


@pytest.mark.parametrize(
    ("kind", "lr"),
    [(kind, lr) for kind in MAKERS for lr in (0.0, -0.1, math.nan, math.inf, -math.inf)],
)
def test_bad_lr_value(kind, lr):
    with pytest.raises(ValueError, match="^lr must be finite and > 0"):
        MAKERS[kind](lr)


@pytest.mark.parametrize(
    ("kind", "lr"),
    [(kind, lr) for kind in MAKERS for lr in ("0.1", None, True)],
)
def test_bad_lr_type(kind, lr):
    with pytest.raises(TypeError, match="^lr must be a number"):
        MAKERS[kind](lr)


# --------------------------------------------------------------------------- properties

lrs = st.floats(min_value=1e-8, max_value=10.0, allow_nan=False, allow_infinity=False)
fractions = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
gammas = st.floats(min_value=1e-6, max_value=1.0, allow_nan=False)
warmups = st.integers(min_value=0, max_value=50)


@st.composite
def any_schedule(draw):
    lr = draw(lrs)
    warmup = draw(warmups)
    kind = draw(st.sampled_from(["constant", "step", "exponential", "cosine"]))
    if kind == "constant":
        return Constant(lr, warmup=warmup)
    if kind == "step":
        step_size = draw(st.integers(min_value=1, max_value=30))
        return StepDecay(lr, step_size=step_size, gamma=draw(gammas), warmup=warmup)
    if kind == "exponential":
        return Exponential(lr, gamma=draw(gammas), warmup=warmup)
    total = draw(st.integers(min_value=1, max_value=100))
    return Cosine(lr, total_steps=total, min_lr=lr * draw(fractions), warmup=warmup)


def _check_shape_of_the_curve(s):
    v = s.values(s.warmup + 220)
    assert np.isfinite(v).all()
    assert (v >= 0).all()
    ramp, rest = v[: s.warmup], v[s.warmup :]
    assert (np.diff(ramp) > 0).all()  # warm-up strictly increases
    assert (np.diff(rest) <= 0).all()  # every schedule here is non-increasing afterwards
    if isinstance(s, Cosine):
        assert (rest >= s.min_lr).all()
        assert rest[-1] == s.min_lr
    for t in (10**6, 10**9):  # far out: still finite and >= 0
        assert math.isfinite(s(t)) and s(t) >= 0
    return v


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(any_schedule())
def test_values_are_finite_nonnegative_and_at_most_lr_up_to_one_ulp(s):
    v = _check_shape_of_the_curve(s)
    assert (v <= np.nextafter(s.lr, np.inf)).all()
    assert v.max() == pytest.approx(s.lr, rel=1e-15)  # lr is reached (end of warm-up or t=0)


def random_schedules(n, seed=0):
    """Seeded random schedules of every kind (a plain sweep: a failing hypothesis test makes
    its pytest plugin import libcst, whose DeprecationWarning is an error here)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        lr = float(10 ** rng.uniform(-8, 1))
        warmup = int(rng.integers(0, 1000))
        out.append(Constant(lr, warmup=warmup))
        out.append(
            StepDecay(
                lr,
                step_size=int(rng.integers(1, 30)),
                gamma=float(rng.uniform(1e-6, 1)),
                warmup=warmup,
            )
        )
        out.append(Exponential(lr, gamma=float(rng.uniform(1e-6, 1)), warmup=warmup))
        out.append(
            Cosine(
                lr,
                total_steps=int(rng.integers(1, 100)),
                min_lr=lr * float(rng.uniform(0, 1)),
                warmup=warmup,
            )
        )
    return out


def test_values_are_at_most_lr():
    too_big = [s for s in random_schedules(100) if s.values(s.warmup + 2).max() > s.lr]
    assert too_big == []


def test_end_of_warmup_is_exactly_lr():
    lr = 0.0027800726132587825
    assert Constant(lr, warmup=720)(719) <= lr


def test_cosine_start_is_at_most_lr():
    lr = 0.0058242046151875905
    assert Cosine(lr, total_steps=10, min_lr=0.0007466954796851058)(0) <= lr


# --------------------------------------------------------------------------- the step's domain

EVERY_KIND = [
    pytest.param(Constant(0.1), id="constant"),
    pytest.param(Constant(0.1, warmup=5), id="constant-warmup"),
    pytest.param(StepDecay(0.1, step_size=3, gamma=0.5), id="step"),
    pytest.param(StepDecay(0.1, step_size=3, gamma=0.5, warmup=4), id="step-warmup"),
    pytest.param(Exponential(0.1, gamma=0.9), id="exponential"),
    pytest.param(Exponential(0.1, gamma=0.9, warmup=4), id="exponential-warmup"),
    pytest.param(Cosine(0.1, total_steps=10, min_lr=0.01), id="cosine"),
    pytest.param(Cosine(0.1, total_steps=10, warmup=4), id="cosine-warmup"),
]


@pytest.mark.parametrize("t", [-1, -5, np.int64(-1), -(10**30)])
@pytest.mark.parametrize("s", EVERY_KIND)
def test_negative_steps_are_refused(s, t):
    """Before step 0 there is no rate: the warm-up ramp would give lr * (t + 1) / warmup < 0
    and exponential decay a rate above lr."""
    with pytest.raises(ValueError, match="^t must be >= 0, got"):
        s(t)


@pytest.mark.parametrize("t", [2.5, 3.0, np.float64(3.0), "3", None, True, np.bool_(False)])
@pytest.mark.parametrize("s", EVERY_KIND)
def test_non_integer_steps_are_refused(s, t):
    with pytest.raises(TypeError, match="^t must be an int, got"):
        s(t)


@pytest.mark.parametrize("s", EVERY_KIND)
def test_steps_past_int64_are_refused_not_overflowed(s):
    assert math.isfinite(s(schedules.MAX_STEP))
    with pytest.raises(ValueError, match="^t must be <="):
        s(2**63)


@pytest.mark.parametrize("steps", [-1, 2.0, True])
def test_values_needs_a_count(steps):
    with pytest.raises((TypeError, ValueError), match="^steps must"):
        Constant(0.1).values(steps)


def test_cosine_total_steps_count_after_the_warmup_so_warmup_may_exceed_them():
    """Documented: the annealing starts at t = warmup and lasts total_steps steps."""
    s = Cosine(0.1, total_steps=5, min_lr=0.01, warmup=20)
    assert s(19) == pytest.approx(0.1, rel=1e-15)
    assert s(20) == pytest.approx(0.1, rel=1e-15)
    assert 0.01 < s(22) < 0.1
    assert s(25) == 0.01


@pytest.mark.parametrize(
    ("make", "exc", "match"),
    [
        (lambda: Constant(0.1, warmup=math.nan), TypeError, "warmup"),
        (lambda: Constant(0.1, warmup=np.float64(3)), TypeError, "warmup"),
        (lambda: Constant(0.1, warmup=2**63), ValueError, "warmup must be <="),
        (lambda: StepDecay(0.1, step_size=math.nan), TypeError, "step_size"),
        (lambda: StepDecay(0.1, step_size=2**63), ValueError, "step_size must be <="),
        (lambda: Cosine(0.1, total_steps=math.nan), TypeError, "total_steps"),
        (lambda: Cosine(0.1, total_steps=np.bool_(True)), TypeError, "total_steps"),
        (lambda: Cosine(0.1, total_steps=2**63), ValueError, "total_steps must be <="),
        (lambda: Cosine(0.1, total_steps=10, min_lr=True), TypeError, "min_lr"),
        (lambda: Cosine(math.nan, total_steps=10), ValueError, "lr"),
        (lambda: Exponential(0.1, gamma=np.bool_(True)), TypeError, "gamma"),
        (lambda: StepDecay(0.1, step_size=2, gamma=-math.inf), ValueError, "gamma"),
    ],
)
def test_more_bad_arguments(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_numpy_integer_arguments_are_stored_as_ints():
    s = Cosine(0.1, total_steps=np.int32(10), warmup=np.int64(2))
    assert type(s.total_steps) is int and type(s.warmup) is int
    assert repr(s) == "Cosine(0.1, total_steps=10, min_lr=0.0, warmup=2)"
