import os
import subprocess
import sys
import textwrap

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402

import fastopt.plot  # noqa: E402
from fastopt.results import SweepResult  # noqa: E402

OPTIMIZERS = ["sgd", "adam", "rmsprop"]
LRS = [0.001, 0.01, 0.1, 1.0]
# final_loss[optimizer][lr index]; sgd at lr=1 diverged (its reported loss is deliberately the
# lowest so that only the flag can exclude it), rmsprop at lr=1 has a NaN loss but no flag.
FINAL = {
    "sgd": [3.5, 1.4, 0.7, 0.0001],
    "adam": [0.5, 0.2, 0.1, 0.3],
    "rmsprop": [1.5, 0.6, 0.25, np.nan],
}
N_RECORDS = 6
RECORD_EVERY = 10


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def make_result(**overrides):
    """12 runs: optimizer (outer) x lr (inner); run 3 (sgd, lr=1) diverged at step 30."""
    opt = np.array([o for o in OPTIMIZERS for _ in LRS], dtype=object)
    # lr as a float32 grid would store it: 0.1 becomes 0.10000000149011612.
    lr = np.tile(np.asarray(LRS, dtype=np.float32).astype(np.float64), len(OPTIMIZERS))
    final = np.array([FINAL[o][k] for o in OPTIMIZERS for k in range(len(LRS))])
    n = len(opt)
    gc = np.array([None, "grad"] * (n // 2), dtype=object)
    batch_size = np.array([None, None, 32] * (n // 3), dtype=object)
    diverged = np.zeros(n, dtype=bool)
    diverged[3] = True
    curves = np.empty((n, N_RECORDS))
    for i in range(n):
        end = final[i] if np.isfinite(final[i]) else 0.05
        curves[i] = np.geomspace(1.0, end, N_RECORDS)
    curves[3] = [1.0, 2.0, 10.0, 1e3, np.nan, np.nan]
    steps_to_target = np.where(final < 0.6, 40, -1)
    steps_to_target[3] = -1
    configs = {"optimizer": opt, "lr": lr, "gc": gc, "batch_size": batch_size}
    metrics = {
        "final_loss": final,
        "steps_to_target": steps_to_target,
        "diverged": diverged,
        "diverged_at": np.where(diverged, 30, -1),
    }
    kwargs = dict(
        configs=configs,
        metrics=metrics,
        curves=curves,
        record_every=RECORD_EVERY,
        params=np.arange(n * 3, dtype=np.float64).reshape(n, 3),
        layout="a layout",
        info={"steps": 50, "model": "MLP(2, 4, 1)"},
    )
    kwargs.update(overrides)
    return SweepResult(**kwargs)


# ------------------------------------------------------------------------------ construction


def test_constructor_rejects_bad_input():
    r = make_result()
    cfg = {name: r[name] for name in r.config_names}
    met = {name: r[name] for name in r.metric_names}
    with pytest.raises(ValueError, match="'lr' has 11 values"):
        make_result(configs={**cfg, "lr": r["lr"][:11]})
    with pytest.raises(ValueError, match="'final_loss' must be 1-D"):
        make_result(metrics={**met, "final_loss": r["final_loss"].reshape(3, 4)})
    with pytest.raises(ValueError, match="'lr' is both a config and a metric"):
        make_result(metrics={**met, "lr": r["lr"]})
    with pytest.raises(ValueError, match="curves has 11 rows"):
        make_result(curves=r.curves[:11])
    with pytest.raises(ValueError, match="curves must be 2-D"):
        make_result(curves=r.curves[:, 0])
    with pytest.raises(ValueError, match="params must have shape"):
        make_result(params=np.zeros((11, 3)))
    with pytest.raises(ValueError, match="record_every"):
        make_result(record_every=0)
    with pytest.raises(TypeError, match="record_every"):
        make_result(record_every=2.5)


def test_columns_len_getitem_and_accessors():
    r = make_result()
    assert len(r) == 12
    assert r.columns == [
        "optimizer",
        "lr",
        "gc",
        "batch_size",
        "final_loss",
        "steps_to_target",
        "diverged",
        "diverged_at",
    ]
    assert r.config_names == ["optimizer", "lr", "gc", "batch_size"]
    assert list(r["optimizer"][:5]) == ["sgd"] * 4 + ["adam"]
    assert r.curves.shape == (12, N_RECORDS) and r.curves.dtype == np.float64
    np.testing.assert_array_equal(r.steps, [0, 10, 20, 30, 40, 50])
    assert r.record_every == RECORD_EVERY and r.n_records == N_RECORDS
    assert r.params.shape == (12, 3) and r.layout == "a layout"
    assert r.info == {"steps": 50, "model": "MLP(2, 4, 1)"}
    with pytest.raises(KeyError, match="no column 'loss'"):
        r["loss"]
    assert repr(r) == (
        "SweepResult(n_runs=12, columns=['optimizer', 'lr', 'gc', 'batch_size', 'final_loss', "
        "'steps_to_target', 'diverged', 'diverged_at'], n_records=6)"
    )


def test_row_gives_python_scalars_and_rows_iterates():
    r = make_result()
    row = r.row(3)
    assert row == {
        "optimizer": "sgd",
        "lr": pytest.approx(1.0),
        "gc": "grad",
        "batch_size": None,
        "final_loss": 0.0001,
        "steps_to_target": -1,
        "diverged": True,
        "diverged_at": 30,
    }
    assert type(row["lr"]) is float and type(row["diverged"]) is bool
    assert type(row["steps_to_target"]) is int
    assert r.row(-1)["optimizer"] == "rmsprop"
    with pytest.raises(IndexError):
        r.row(12)
    rows = list(r.rows())
    assert len(rows) == 12 and rows[5] == r.row(5)


def test_empty_result_from_curves_alone():
    r = SweepResult({}, {}, np.zeros((0, 4)), record_every=5)
    assert len(r) == 0 and r.columns == [] and r.params is None and r.info == {}
    np.testing.assert_array_equal(r.steps, [0, 5, 10, 15])


# -------------------------------------------------------------------------------------- select


def test_select_scalar_follows_curves_and_params():
    r = make_result()
    adam = r.select(optimizer="adam")
    assert len(adam) == 4 and set(adam["optimizer"]) == {"adam"}
    np.testing.assert_array_equal(adam.curves, r.curves[4:8])
    np.testing.assert_array_equal(adam.params, r.params[4:8])
    assert adam.layout == "a layout" and adam.info == r.info
    # 0.1 stored as float32-derived float64 still matches; 0.1000002 does not.
    at_01 = r.select(lr=0.1)
    assert list(at_01["optimizer"]) == ["sgd", "adam", "rmsprop"]
    np.testing.assert_array_equal(at_01.params[:, 0], [6, 18, 30])
    assert len(r.select(lr=0.1000002)) == 0
    assert len(r.select(lr=1)) == 3  # an int matches a float column


def test_select_none_lists_sets_and_predicates():
    r = make_result()
    no_gc = r.select(gc=None)
    assert len(no_gc) == 6 and all(v is None for v in no_gc["gc"])
    assert len(r.select(gc="grad")) == 6
    full_batch = r.select(batch_size=None)
    assert len(full_batch) == 8
    assert list(r.select(batch_size=32)["batch_size"]) == [32] * 4
    two = r.select(optimizer=["adam", "rmsprop"], lr={0.01, 0.1})
    assert [(row["optimizer"], round(row["lr"], 6)) for row in two.rows()] == [
        ("adam", 0.01),
        ("adam", 0.1),
        ("rmsprop", 0.01),
        ("rmsprop", 0.1),
    ]
    small = r.select(lr=lambda lr: lr < 0.05, optimizer=("sgd",))
    np.testing.assert_allclose(small["lr"], [0.001, 0.01], rtol=1e-6)
    np.testing.assert_array_equal(small.curves, r.curves[:2])
    assert len(r.select(diverged=True)) == 1
    assert len(r.select(optimizer=np.array("adam"))) == 4  # a 0-d array is a scalar
    assert len(r.select(optimizer=np.array(["adam", "sgd"]))) == 8
    assert r.select(diverged=True).row(0)["optimizer"] == "sgd"


def test_select_no_match_is_empty_and_unknown_column_raises():
    r = make_result()
    none = r.select(optimizer="lbfgs")
    assert len(none) == 0
    assert none.curves.shape == (0, N_RECORDS) and none.params.shape == (0, 3)
    assert none.columns == r.columns
    with pytest.raises(ValueError, match=r"unknown column 'momentum'.*'optimizer'"):
        r.select(momentum=0.9)


# ---------------------------------------------------------------------------------------- best


def test_best_skips_diverged_and_nan():
    r = make_result()
    best = r.best()
    assert best["optimizer"] == "adam" and best["lr"] == pytest.approx(0.1)
    assert best["final_loss"] == 0.1
    worst = r.best(lower=False)  # NaN (rmsprop, lr=1) is not "highest"
    assert (worst["optimizer"], worst["final_loss"]) == ("sgd", 3.5)
    # steps_to_target: -1 (never) is not the best.
    fastest = r.best(by="steps_to_target")
    assert fastest["steps_to_target"] == 40


def test_best_n_returns_ordered_result():
    r = make_result()
    top = r.best(n=3)
    assert isinstance(top, SweepResult)
    np.testing.assert_array_equal(top["final_loss"], [0.1, 0.2, 0.25])
    assert list(top["optimizer"]) == ["adam", "adam", "rmsprop"]
    np.testing.assert_array_equal(top.curves[0], r.curves[6])
    np.testing.assert_array_equal(top.params[:, 0], [18, 15, 30])
    everything = r.best(n=100)
    assert len(everything) == 10  # 12 runs minus one diverged, one NaN
    assert np.all(np.diff(everything["final_loss"]) > 0)
    with pytest.raises(ValueError, match="n must be at least 1"):
        r.best(n=0)


def test_best_all_diverged_or_nan_raises():
    r = make_result()
    bad = r.select(lr=1.0)  # sgd diverged, adam fine, rmsprop NaN
    assert bad.best()["optimizer"] == "adam"
    hopeless = r.select(lr=1.0, optimizer=["sgd", "rmsprop"])
    with pytest.raises(ValueError, match="1 diverged and 1 more have no finite final_loss"):
        hopeless.best()
    with pytest.raises(ValueError, match="no runs"):
        r.select(optimizer="lbfgs").best(n=2)
    with pytest.raises(ValueError, match="not numeric"):
        r.best(by="optimizer")


# -------------------------------------------------------------------------------------- concat


def test_concat_pads_curves_and_joins_params():
    r = make_result()
    a = r.select(optimizer="sgd")
    b = r.select(optimizer=["adam", "rmsprop"])
    short = SweepResult(
        configs={name: b[name] for name in b.config_names},
        metrics={name: b[name] for name in b.metric_names},
        curves=b.curves[:, :4],
        record_every=RECORD_EVERY,
        params=b.params,
        info={"steps": 50, "model": "MLP(2, 4, 1)", "seconds": 2.0},
    )
    both = SweepResult.concat([a, short])
    assert len(both) == 12 and both.columns == r.columns
    assert both.curves.shape == (12, N_RECORDS)
    np.testing.assert_array_equal(both.curves[:4], r.curves[:4])
    np.testing.assert_array_equal(both.curves[4:, :4], r.curves[4:, :4])
    assert np.isnan(both.curves[4:, 4:]).all()
    np.testing.assert_array_equal(both.params, r.params)
    assert list(both["optimizer"]) == list(r["optimizer"])
    assert [v is None for v in both["gc"]] == [v is None for v in r["gc"]]
    assert both.layout == "a layout"
    assert both.info["steps"] == 50 and "seconds" not in both.info
    assert len(both.info["chunks"]) == 2
    # One chunk without params: no params at all.
    no_params = SweepResult.concat([a, b.select(), make_result(params=None)])
    assert no_params.params is None and len(no_params) == 24


def test_concat_rejects_mismatches():
    r = make_result()
    with pytest.raises(ValueError, match="at least one"):
        SweepResult.concat([])
    other = SweepResult(
        configs={"optimizer": r["optimizer"]},
        metrics={name: r[name] for name in r.metric_names},
        curves=r.curves,
        record_every=RECORD_EVERY,
    )
    with pytest.raises(ValueError, match=r"config columns.*missing \['batch_size', 'gc', 'lr'\]"):
        SweepResult.concat([r, other])
    with pytest.raises(ValueError, match="records every 5 steps"):
        SweepResult.concat([r, make_result(record_every=5)])


# ------------------------------------------------------------------------------------- replace


def test_replace_keeps_what_is_not_given_and_leaves_the_original_unchanged():
    r = make_result()
    before = {name: r[name].copy() for name in r.columns}
    curves, params, info = r.curves.copy(), r.params.copy(), dict(r.info)
    scores = np.arange(12.0)
    new = r.replace(metrics={**{m: r[m] for m in r.metric_names}, "score": scores})
    assert new is not r and isinstance(new, SweepResult)
    assert new.metric_names == [*r.metric_names, "score"] and new.config_names == r.config_names
    np.testing.assert_array_equal(new["score"], scores)
    assert new.layout == "a layout" and new.info == info  # kept, not dropped
    np.testing.assert_array_equal(new.curves, curves)
    np.testing.assert_array_equal(new.params, params)
    assert new.record_every == RECORD_EVERY
    # The original is as it was: no new column, same info, same arrays.
    assert "score" not in r.columns and r.info == info and r.layout == "a layout"
    for name, column in before.items():
        np.testing.assert_array_equal(r[name], column)
    # info is the new result's own dict: changing it leaves the original alone.
    new.info["note"] = "changed"
    assert "note" not in r.info


def test_replace_each_part_and_the_none_that_drops():
    r = make_result()
    assert r.replace(info={"k": 1}).info == {"k": 1}
    assert r.replace(info=None).info == {}
    assert r.replace(layout="other").layout == "other" and r.replace(layout=None).layout is None
    assert r.replace(params=None).params is None and r.params is not None
    halved = r.replace(curves=r.curves[:, :3], record_every=20)
    assert halved.n_records == 3 and list(halved.steps) == [0, 20, 40]
    assert halved.info == r.info and halved.layout == r.layout
    seeds = r.replace(configs={**{c: r[c] for c in r.config_names}, "seed": np.zeros(12)})
    assert seeds.config_names[-1] == "seed" and seeds.metric_names == r.metric_names
    # Validated like the constructor: 11 runs of configs against 12 curves.
    with pytest.raises(ValueError, match="curves has 12 rows"):
        r.replace(configs={"lr": r["lr"][:11]}, metrics={})
    with pytest.raises(ValueError, match="record_every"):
        r.replace(record_every=0)


def test_replace_info_and_select_keep_the_rest():
    r = make_result()
    w = r.replace(info={"steps": 7})
    assert w.info == {"steps": 7} and w.layout == "a layout" and r.info["steps"] == 50
    np.testing.assert_array_equal(w.params, r.params)
    assert r.replace(info={}, layout="L").layout == "L"
    top = r.best(n=2)
    assert top.layout == "a layout" and top.info == r.info


# ---------------------------------------------------------------------------------- to_pandas


def test_to_pandas():
    pd = pytest.importorskip("pandas")
    df = make_result().to_pandas()
    assert isinstance(df, pd.DataFrame)
    assert df.shape == (12, 8)
    assert list(df.columns)[:2] == ["optimizer", "lr"]
    assert df.loc[6, "optimizer"] == "adam" and df.loc[6, "final_loss"] == 0.1
    assert df["diverged"].sum() == 1


def test_to_pandas_without_pandas_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r'pip install "fastopt\[pandas\]"'):
        make_result().to_pandas()


# -------------------------------------------------------------------------------------- table


def test_table_text():
    r = make_result()
    text = r.table()
    lines = text.splitlines()
    assert lines[0].split() == ["run", *r.columns]
    assert set(lines[1]) <= {"-", " "}
    assert len(lines) == 2 + 12
    assert lines[2 + 6].split()[:3] == ["6", "adam", "0.1"]
    assert "0.0001" in lines[2 + 3] and "nan" in lines[2 + 11]
    # Every data line is as long as the header (aligned columns, last one right-aligned).
    assert {len(line) for line in lines[2:]} == {len(lines[0])}

    sorted_text = r.table(max_rows=3, sort_by="final_loss").splitlines()
    assert [line.split()[0] for line in sorted_text[2:5]] == ["3", "6", "5"]
    assert sorted_text[-1] == "... 9 more runs (12 in all)"
    desc = r.table(max_rows=2, sort_by="-final_loss", columns=["optimizer", "final_loss"])
    assert desc.splitlines()[2].split() == ["0", "sgd", "3.5"]
    assert "(no runs)" in r.select(optimizer="lbfgs").table()


# ----------------------------------------------------------------------------------- plotting


def test_plot_curves_lines_markers_and_labels():
    r = make_result()
    ax = r.plot_curves()
    assert len(ax.lines) == 12
    diverged_line = ax.lines[3]
    np.testing.assert_array_equal(diverged_line.get_xdata(), [0, 10, 20, 30])  # no NaN tail
    (marks,) = ax.collections
    np.testing.assert_array_equal(marks.get_offsets(), [[30, 1e3]])
    assert ax.get_xlabel() == "step" and ax.get_ylabel() == "loss"
    assert ax.get_yscale() == "log"
    assert ax.get_title() == ""
    # A loss that is not positive cannot go on a log axis.
    shifted = make_result(curves=r.curves - 0.5)
    assert shifted.plot_curves().get_yscale() == "linear"


def test_plot_curves_categorical_colors_and_legend():
    r = make_result()
    ax = r.plot_curves(color_by="optimizer", logy=False, linewidth=2)
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["adam", "rmsprop", "sgd", "diverged"]
    assert legend.get_title().get_text() == "optimizer"
    colors = [line.get_color() for line in ax.lines]
    assert colors[0] == colors[1] and colors[0] != colors[4] and colors[4] != colors[8]
    assert ax.lines[0].get_linewidth() == 2
    assert ax.get_yscale() == "linear"


def test_plot_curves_continuous_colorbar_labels_and_max_runs():
    r = make_result()
    fig, ax = plt.subplots()
    r.plot_curves(ax=ax, color_by="lr", max_runs=5, label_by=["optimizer", "lr"], ylim=(1e-3, 1e2))
    assert len(ax.lines) == 5
    assert ax.get_title() == "first 5 of 12 runs shown"
    assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() == "lr"  # the colorbar
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:2] == ["optimizer=sgd, lr=0.001", "optimizer=sgd, lr=0.01"]
    assert labels[-1] == "diverged"
    assert ax.lines[0].get_color() != ax.lines[2].get_color()
    assert ax.get_ylim() == pytest.approx((1e-3, 1e2))
    with pytest.raises(ValueError, match="unknown column"):
        r.plot_curves(color_by="momentum")


def test_plot_heatmap_grid_ticks_and_div_cells():
    r = make_result()
    ax = r.plot_heatmap()
    mesh = ax.collections[0]
    values = mesh.get_array()
    assert values.shape == (3, 4)
    # Rows: adam, rmsprop, sgd (sorted text, read top-down); columns: lr ascending.
    assert [t.get_text() for t in ax.get_yticklabels()] == ["adam", "rmsprop", "sgd"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.001", "0.01", "0.1", "1"]
    np.testing.assert_allclose(values[0].filled(np.nan), [0.5, 0.2, 0.1, 0.3])
    assert values.mask[1, 3] and values.mask[2, 3]  # rmsprop NaN (blank), sgd diverged
    assert len(ax.patches) == 1
    texts = [t.get_text() for t in ax.texts]
    assert texts.count("div") == 1 and "0.25" in texts and "3.5" in texts
    assert isinstance(mesh.norm, LogNorm)
    assert ax.get_xlabel() == "lr" and ax.get_ylabel() == "optimizer"
    assert ax.figure.axes[1].get_ylabel() == "final_loss"


def test_plot_heatmap_reduces_over_other_axes():
    r = make_result()
    # Two seeds per cell: the second seed's loss is 3x the first.
    doubled = SweepResult.concat([r, r])
    seed = np.repeat([0, 1], 12)
    loss = doubled["final_loss"] * np.where(seed == 1, 3.0, 1.0)
    cfg = {name: doubled[name] for name in doubled.config_names}
    met = {name: doubled[name] for name in doubled.metric_names}
    two_seeds = SweepResult(
        configs={**cfg, "seed": seed},
        metrics={**met, "final_loss": loss},
        curves=doubled.curves,
        record_every=RECORD_EVERY,
    )
    for reduce, factor in [("median", 2.0), ("mean", 2.0), ("min", 1.0), ("max", 3.0)]:
        ax = two_seeds.plot_heatmap(x="optimizer", y="lr", reduce=reduce, annotate=False)
        values = ax.collections[0].get_array()
        assert values.shape == (4, 3)  # y = lr (4 values), x = optimizer (3 values)
        assert values[2, 0] == pytest.approx(0.1 * factor)  # lr=0.1, adam
        assert ax.figure.axes[1].get_ylabel() == f"final_loss ({reduce})"
        assert [t.get_text() for t in ax.texts] == ["div"]
        # Numeric y increases upwards.
        assert ax.get_ylim()[0] < ax.get_ylim()[1]
        plt.close(ax.figure)
    with pytest.raises(ValueError, match="reduce must be one of"):
        two_seeds.plot_heatmap(reduce="sum")


def test_plot_heatmap_logx_and_linear_color():
    r = make_result()
    ax = r.plot_heatmap(logx=True, log_color=False, cmap="magma")
    assert ax.get_xscale() == "log"
    np.testing.assert_allclose(ax.get_xticks(), [0.001, 0.01, 0.1, 1.0], rtol=1e-6)
    assert ax.get_xlim() == pytest.approx((10**-3.5, 10**0.5))
    assert not isinstance(ax.collections[0].norm, LogNorm)
    with pytest.raises(ValueError, match="numeric x"):
        r.plot_heatmap(x="optimizer", y="lr", logx=True)
    with pytest.raises(ValueError, match="different columns"):
        r.plot_heatmap(x="lr", y="lr")


def test_plot_functions_draw_the_data_and_the_methods_are_the_same_call():
    r = make_result()
    ax = fastopt.plot.plot_curves(r, color_by="optimizer")
    assert len(ax.lines) == 12
    for i, line in enumerate(ax.lines):
        finite = np.isfinite(r.curves[i])
        np.testing.assert_array_equal(line.get_ydata(), r.curves[i][finite])
        np.testing.assert_array_equal(line.get_xdata(), r.steps[finite])
    via_method = r.plot_curves(color_by="optimizer")
    assert [line.get_color() for line in via_method.lines] == [
        line.get_color() for line in ax.lines
    ]

    heat = fastopt.plot.plot_heatmap(r, x="lr", y="optimizer")
    grid = heat.collections[0].get_array()
    # Row adam (first), column lr=0.01 (second): the one run there, final_loss 0.2.
    assert grid[0, 1] == pytest.approx(0.2)
    same = r.plot_heatmap(x="lr", y="optimizer").collections[0].get_array()
    np.testing.assert_array_equal(grid.filled(np.nan), same.filled(np.nan))
    with pytest.raises(TypeError, match="must be a SweepResult"):
        fastopt.plot.plot_curves({"lr": [0.1]})
    with pytest.raises(ValueError, match="unknown column 'momentum'"):
        fastopt.plot.plot_heatmap(r, x="momentum")


def test_plots_save_to_png(tmp_path):
    r = make_result()
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3))
    r.plot_curves(ax=left, color_by="optimizer")
    r.plot_heatmap(ax=right)
    path = tmp_path / "sweep.png"
    fig.savefig(path)
    data = path.read_bytes()
    assert len(data) > 1000 and data[:8] == b"\x89PNG\r\n\x1a\n"


def test_plots_work_headless_without_choosing_a_backend(tmp_path):
    script = textwrap.dedent(
        """
        import sys
        import numpy as np
        from fastopt.results import SweepResult
        r = SweepResult({"lr": [0.1, 1.0]}, {"final_loss": [0.5, 0.2]},
                        np.ones((2, 3)), record_every=1)
        ax = r.plot_curves()
        import matplotlib
        ax.figure.savefig(sys.argv[1])
        print(matplotlib.get_backend().lower())
        """
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "MPLBACKEND")}
    env.pop("WAYLAND_DISPLAY", None)
    out = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "c.png")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "agg"
    assert (tmp_path / "c.png").stat().st_size > 0
