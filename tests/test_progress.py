import io

import pytest

import fastopt.progress
from fastopt.progress import Progress


class FakeClock:
    def __init__(self, t=0.0):
        self.t = t

    def __call__(self):
        return self.t


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def clock(monkeypatch):
    """tqdm's clock, frozen until a test moves it (tqdm reads ``tqdm.std.time`` at __init__)."""
    fake = FakeClock()
    monkeypatch.setattr("tqdm.std.time", fake)
    return fake


def last_line(out):
    return out.getvalue().split("\r")[-1]


def test_enabled_bar_shows_share_runs_rate_eta_and_ends_at_100_percent(clock):
    out = io.StringIO()
    with Progress(
        total_runs=1024, total_steps=102_400, enabled=True, stream=out, min_interval=0
    ) as bar:
        first = last_line(out)
        assert first.startswith("sweep:   0%|") and "0/1024 runs" in first
        assert "? run-steps/s" in first  # no time has passed: no rate yet
        clock.t = 10.0
        bar.update(runs_done=380, steps_done=38_000)
        line = last_line(out)
        assert line.startswith("sweep:  37%|")
        assert "380/1024 runs" in line
        assert "3.80k run-steps/s" in line  # 38000 run-steps in 10 s
        assert "[00:10<00:16," in line  # (102400 - 38000) / 3800 = 16.9 s left
        clock.t = 20.0
        bar.update(runs_done=1024, steps_done=102_400)
    text = out.getvalue()
    assert text.endswith("\n") and text.count("\n") == 1
    final = last_line(out)
    assert final.startswith("sweep: 100%|")
    assert "1024/1024 runs" in final and "5.12k run-steps/s" in final
    assert "[00:20<00:00," in final


def test_rate_counts_the_steps_trained_and_runs_that_stop_early_reach_100_percent(clock):
    out = io.StringIO()
    with Progress(4, 400, enabled=True, stream=out, min_interval=0) as bar:
        clock.t = 10.0
        bar.update(runs_done=2, steps_done=100)  # steps say 25%, runs 50%
        assert " 50%|" in last_line(out) and bar.fraction == 0.5
        bar.update(runs_done=4, steps_done=250)  # every run stopped early
        line = last_line(out)
        # 100% of the sweep, but the rate is the 250 steps trained, not the 400 budgeted.
        assert "100%|" in line and "4/4 runs" in line and "25.0 run-steps/s" in line


def test_update_is_the_sweeps_progress_callback(clock):
    out = io.StringIO()
    with Progress(8, 0, enabled=True, stream=out, min_interval=0) as bar:
        callback = bar.update
        callback(2, 0)  # positional: on_progress(runs_done, steps_done)
        assert (bar.runs_done, bar.steps_done, bar.fraction) == (2, 0, 0.25)
        assert " 25%|" in last_line(out) and "2/8 runs" in last_line(out)
        callback(1, 0)  # counts are absolute: a smaller one moves the bar back
        assert " 12%|" in last_line(out)


def test_redraws_are_rate_limited(clock):
    out = io.StringIO()
    with Progress(10, 1000, enabled=True, stream=out, min_interval=0.5) as bar:
        drawn = out.getvalue().count("\r")
        for s in range(1, 100):
            bar.update(runs_done=0, steps_done=s)  # the clock does not move: no redraw
        assert out.getvalue().count("\r") == drawn
        assert bar.steps_done == 99  # but the counts are kept
        clock.t = 0.6
        bar.update(runs_done=0, steps_done=100)
        assert out.getvalue().count("\r") == drawn + 1
        assert " 10%|" in last_line(out)
    assert out.getvalue().endswith("\n")


def test_disabled_and_auto_modes_are_silent_off_a_terminal(monkeypatch):
    out = io.StringIO()
    with Progress(4, 400, enabled=False, stream=out) as bar:
        bar.update(runs_done=4, steps_done=400)
    assert out.getvalue() == "" and bar.fraction == 1.0
    with Progress(4, 400, stream=out, min_interval=0) as bar:  # StringIO is no tty
        bar.update(runs_done=4, steps_done=400)
    assert out.getvalue() == "" and not bar.enabled

    tty = FakeTTY()
    monkeypatch.setenv("PYTEST_CURRENT_TEST", "x")
    assert not Progress(4, 400, stream=tty).enabled
    monkeypatch.delenv("PYTEST_CURRENT_TEST")
    with Progress(4, 400, stream=tty, min_interval=0) as bar:
        assert bar.enabled
        bar.update(runs_done=4, steps_done=400)
    assert "100%" in last_line(tty) and tty.getvalue().endswith("\n")


def test_auto_mode_draws_in_a_notebook_where_stderr_is_no_terminal(monkeypatch):
    monkeypatch.delenv("PYTEST_CURRENT_TEST")
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert not Progress(4, 400).enabled
    monkeypatch.setattr(fastopt.progress, "_in_notebook", lambda: True)
    assert Progress(4, 400).enabled
    # A stream given is drawn as text: only a terminal turns the bar on.
    assert not Progress(4, 400, stream=io.StringIO()).enabled


def test_zero_totals_and_errors_inside_the_block():
    out = io.StringIO()
    with Progress(0, 0, enabled=True, stream=out, min_interval=0) as bar:
        bar.update(runs_done=0, steps_done=0)
    assert "100%" in last_line(out) and "0/0 runs" in last_line(out)

    out = io.StringIO()
    with pytest.raises(RuntimeError, match="boom"):
        with Progress(5, 50, enabled=True, stream=out, min_interval=0) as bar:
            bar.update(runs_done=2, steps_done=20)
            raise RuntimeError("boom")
    assert out.getvalue().endswith("\n") and " 40%|" in last_line(out)

    with pytest.raises(ValueError, match="totals must be >= 0"):
        Progress(-1, 0)


def test_close_is_final_and_a_closed_stream_does_not_stop_the_work():
    out = io.StringIO()
    bar = Progress(2, 20, enabled=True, stream=out, min_interval=0)
    with bar:
        bar.update(runs_done=1, steps_done=10)
    text = out.getvalue()
    bar.close()
    bar.update(runs_done=2, steps_done=20)  # after close: counts kept, nothing drawn
    with bar:
        pass
    assert out.getvalue() == text and bar.runs_done == 2

    out = io.StringIO()
    with Progress(2, 20, enabled=True, stream=out, min_interval=0) as bar:
        out.close()
        bar.update(runs_done=1, steps_done=10)
        bar.update(runs_done=2, steps_done=20)
    assert bar.runs_done == 2
