import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastopt import Layout

SHAPES = st.lists(st.integers(1, 5), min_size=1, max_size=4).map(tuple)
NAMED_SHAPES = st.lists(SHAPES, min_size=1, max_size=6).map(
    lambda shapes: [(f"t{i}", s) for i, s in enumerate(shapes)]
)


def test_offsets_size_and_order():
    layout = Layout([("W1", (2, 3)), ("b1", (2,)), ("W2", (1, 2)), ("b2", 1)])
    assert layout.size == 6 + 2 + 2 + 1
    assert layout.names == ("W1", "b1", "W2", "b2")
    assert [layout[n].offset for n in layout.names] == [0, 6, 8, 10]
    assert layout["b2"].shape == (1,)
    assert "W2" in layout and "W3" not in layout
    assert len(layout) == 4


def test_views_share_memory_and_have_shapes():
    layout = Layout([("W", (2, 3)), ("b", (2,))])
    flat = np.arange(8, dtype=np.float64)
    views = layout.views(flat)
    np.testing.assert_array_equal(views["W"], [[0, 1, 2], [3, 4, 5]])
    views["b"][1] = 100.0
    assert flat[7] == 100.0
    assert np.shares_memory(views["W"], flat)


def test_gc_segments_describe_rows():
    layout = Layout([("b0", (3,)), ("K", (4, 2, 3, 3)), ("W", (1, 1)), ("v", (5, 1))])
    seg = layout.gc_segments
    assert seg.dtype == np.int64 and seg.shape == (3, 3)
    np.testing.assert_array_equal(seg, [[3, 4, 18], [75, 1, 1], [76, 5, 1]])
    assert not seg.flags.writeable


@settings(max_examples=60, deadline=None)
@given(NAMED_SHAPES, st.sampled_from([np.float32, np.float64]))
def test_pack_then_views_round_trip(named, dtype):
    layout = Layout(named)
    assert layout.size == sum(math.prod(s) for _, s in named)
    rng = np.random.default_rng(0)
    arrays = {name: rng.standard_normal(shape) for name, shape in named}
    flat = layout.pack(arrays, dtype=dtype)
    assert flat.dtype == dtype and flat.shape == (layout.size,)
    for name, view in layout.views(flat).items():
        np.testing.assert_array_equal(view, arrays[name].astype(dtype))
    # The segments cover exactly the entries of tensors with two or more axes.
    covered = np.zeros(layout.size, dtype=bool)
    for offset, rows, length in layout.gc_segments:
        assert not covered[offset : offset + rows * length].any()
        covered[offset : offset + rows * length] = True
    expected = np.zeros(layout.size, dtype=bool)
    for spec in layout:
        expected[spec.offset : spec.stop] = len(spec.shape) > 1
    np.testing.assert_array_equal(covered, expected)


def test_equality_and_repr():
    a = Layout([("W", (2, 2)), ("b", (2,))])
    b = Layout({"W": (2, 2), "b": (2,)})
    assert a == b and hash(a) == hash(b)
    assert a != Layout([("W", (2, 2)), ("c", (2,))])
    assert repr(a) == "Layout([('W', (2, 2)), ('b', (2,))])"


@pytest.mark.parametrize(
    "tensors, error, match",
    [
        ([("W", (2, 2)), ("W", (2,))], ValueError, "twice"),
        ([("W", (2, -1))], ValueError, "positive"),
        ([("W", (2, 0))], ValueError, "positive"),
        ([("W", (2, 1.5))], TypeError, "ints"),
        ([("W", "22")], TypeError, "tuple of ints"),
        ([("W", ())], ValueError, "at least one axis"),
        ([(3, (2,))], TypeError, "names"),
        ([], ValueError, "at least one"),
        (["W"], TypeError, "pairs"),
    ],
)
def test_bad_layouts(tensors, error, match):
    with pytest.raises(error, match=match):
        Layout(tensors)


def test_bad_flat_vectors_and_packs():
    layout = Layout([("W", (2, 2)), ("b", (2,))])
    with pytest.raises(ValueError, match="length 5 but the layout needs 6"):
        layout.views(np.zeros(5))
    with pytest.raises(TypeError, match="float32 or float64"):
        layout.views(np.zeros(6, dtype=np.int64))
    with pytest.raises(ValueError, match="1-D"):
        layout.views(np.zeros((2, 3)))
    with pytest.raises(TypeError, match="NumPy array"):
        layout.views([0.0] * 6)
    with pytest.raises(ValueError, match="lacks"):
        layout.pack({"W": np.zeros((2, 2))})
    with pytest.raises(ValueError, match="not in the layout"):
        layout.pack({"W": np.zeros((2, 2)), "b": np.zeros(2), "c": np.zeros(1)})
    with pytest.raises(ValueError, match=r"arrays\['b'\] has shape \(3,\)"):
        layout.pack({"W": np.zeros((2, 2)), "b": np.zeros(3)})
    with pytest.raises(TypeError, match="float32 or float64"):
        layout.pack({"W": np.zeros((2, 2)), "b": np.zeros(2)}, dtype=np.int32)
    with pytest.raises(KeyError, match="no tensor named 'c'"):
        layout["c"]


@pytest.mark.parametrize(
    ("value", "dtype_text"),
    [
        (np.array([1 + 2j, 3.0]), "complex128"),
        (np.ones(2, dtype=np.complex64), "complex64"),
        ([1j, 2], "complex128"),
        (np.array([True, False]), "bool"),
        (np.array([1.0, None]), "object"),
        (np.array(["1", "2"]), "<U1"),
        (np.array(["2020-01-01"] * 2, dtype="datetime64[D]"), "datetime64"),
    ],
    ids=["complex128", "complex64", "complex-list", "bool", "object", "str", "datetime"],
)
@pytest.mark.parametrize("dtype", [None, np.float64])
def test_pack_refuses_arrays_that_are_not_real_numbers_naming_the_tensor(value, dtype_text, dtype):
    """NumPy would drop a complex value's imaginary part with only a warning."""
    layout = Layout([("W", (2, 2)), ("b", (2,))])
    with pytest.raises(TypeError, match=rf"arrays\['b'\] has dtype {dtype_text}"):
        layout.pack({"W": np.zeros((2, 2)), "b": value}, dtype=dtype)


def test_pack_refuses_ragged_nested_lists_naming_the_tensor():
    layout = Layout([("W", (2, 2))])
    with pytest.raises(TypeError, match=r"arrays\['W'\] is not an array of numbers"):
        layout.pack({"W": [[1.0, 2.0], [3.0]]})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (np.arange(2, dtype=np.int64), np.float64),
        (np.arange(2, dtype=np.uint8), np.float32),
        (np.ones(2, dtype=np.float16), np.float32),
        ([1, 2], np.float64),
        (np.ones(2, dtype=np.float32), np.float32),
    ],
)
def test_pack_still_takes_integer_and_float_arrays(value, expected):
    layout = Layout([("b", (2,))])
    flat = layout.pack({"b": value})
    assert flat.dtype == expected
    np.testing.assert_array_equal(flat, np.asarray(value, dtype=np.float64))


@pytest.mark.parametrize(
    "flat",
    [
        np.zeros(6, dtype=np.complex128),
        np.zeros(6, dtype=bool),
        np.zeros(6, dtype=object),
        np.zeros(6, dtype=np.float16),
        np.zeros(6, dtype=">f8"),  # byte-swapped: the kernels read native floats
    ],
    ids=["complex", "bool", "object", "float16", "big-endian"],
)
def test_check_flat_and_views_refuse_other_dtypes_naming_the_argument(flat):
    layout = Layout([("W", (2, 2)), ("b", (2,))])
    with pytest.raises(TypeError, match="grads must have dtype float32 or float64"):
        layout.check_flat(flat, "grads")
    with pytest.raises(TypeError, match="flat must have dtype float32 or float64"):
        layout.views(flat)
