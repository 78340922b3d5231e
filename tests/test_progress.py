import io

import pytest

from fastopt.progress import Progress, format_duration, format_rate


class FakeClock:
    def __init__(self, t=0.0):
        self.t = t

    def __call__(self):
        return self.t


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1234, "1.2k"),
        (2.5e6, "2.5M"),
        (999, "999"),
        (12.34, "12.3"),
        (0, "0"),
        (999_960, "1.0M"),
        (3.2e9, "3.2G"),
        (float("nan"), "?"),
    ],
)
def test_format_rate(value, text):
    assert format_rate(value) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(3, "0:03"), (63.4, "1:03"), (3723, "1:02:03"), (float("inf"), "?"), (-1, "?")],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_enabled_bar_draws_counts_rate_eta_and_final_line():
    out, clock = io.StringIO(), FakeClock()
    with Progress(
        total_runs=1024, total_steps=102_400, enabled=True, stream=out, min_interval=0, clock=clock
    ) as bar:
        assert out.getvalue().startswith("\rsweep:   0% |")
        clock.t = 10.0
        bar.update(runs_done=380, steps_done=38_000)
        line = out.getvalue().split("\r")[-1]
        assert line.startswith("sweep:  37% |#######             |")
        assert "380/1024 runs" in line
        assert "3.8k run-steps/s" in line  # 38000 run-steps in 10 s
        assert "ETA 0:17" in line  # 10 s * (1 - 0.371) / 0.371
        clock.t = 20.0
        bar.update(runs_done=1024, steps_done=102_400)
    text = out.getvalue()
    assert text.endswith("\n") and text.count("\n") == 1
    final = text.split("\r")[-1]
    assert final.startswith("sweep: 100% |####################|")
    assert "1024/1024 runs" in final and "5.1k run-steps/s" in final and "in 0:20" in final
    assert "ETA" not in final


def test_redraws_are_rate_limited():
    out, clock = io.StringIO(), FakeClock()
    with Progress(10, 1000, enabled=True, stream=out, min_interval=0.5, clock=clock) as bar:
        for s in range(1, 100):
            bar.update(steps_done=s)  # the clock does not move: no redraw
        assert out.getvalue().count("\r") == 1
        clock.t = 0.6
        bar.update(steps_done=100)
        assert out.getvalue().count("\r") == 2
        assert "10%" in out.getvalue().split("\r")[-1]
    assert out.getvalue().count("\r") == 3  # the final line


def test_shorter_line_overwrites_longer_one():
    out, clock = io.StringIO(), FakeClock()
    with Progress(10, 10, enabled=True, stream=out, min_interval=0, clock=clock) as bar:
        clock.t = 1.0
        bar.update(steps_done=5)
        long_line = out.getvalue().split("\r")[-1]
        bar.label = "s"
        bar.update(steps_done=6)
        short_line = out.getvalue().split("\r")[-1]
    assert len(short_line) == len(long_line) and short_line.startswith("s:  60%")


def test_disabled_and_auto_modes_are_silent_off_a_terminal(monkeypatch):
    out = io.StringIO()
    with Progress(4, 400, enabled=False, stream=out) as bar:
        bar.update(runs_done=4, steps_done=400)
    assert out.getvalue() == ""
    with Progress(4, 400, stream=out, min_interval=0) as bar:  # StringIO is no tty
        bar.update(runs_done=4, steps_done=400)
    assert out.getvalue() == "" and not bar.enabled

    tty = FakeTTY()
    monkeypatch.setenv("PYTEST_CURRENT_TEST", "x")
    assert not Progress(4, 400, stream=tty).enabled
    monkeypatch.delenv("PYTEST_CURRENT_TEST")
    with Progress(4, 400, stream=tty) as bar:
        assert bar.enabled
    assert tty.getvalue().endswith("\n")


def test_zero_totals_and_errors_inside_the_block():
    out = io.StringIO()
    with Progress(0, 0, enabled=True, stream=out, min_interval=0) as bar:
        bar.update(runs_done=0, steps_done=0)
    assert "100%" in out.getvalue() and "0/0 runs" in out.getvalue()

    out = io.StringIO()
    with pytest.raises(RuntimeError, match="boom"):
        with Progress(5, 50, enabled=True, stream=out, min_interval=0) as bar:
            bar.update(runs_done=2, steps_done=20)
            raise RuntimeError("boom")
    assert out.getvalue().endswith("\n") and "40%" in out.getvalue().split("\r")[-1]

    with pytest.raises(ValueError, match="totals must be >= 0"):
        Progress(-1, 0)


def test_runs_drive_the_percentage_when_steps_are_unknown():
    out = io.StringIO()
    with Progress(8, 0, enabled=True, stream=out, min_interval=0) as bar:
        bar.update(runs_done=2)
        assert bar.fraction == 0.25
        assert " 25% " in out.getvalue().split("\r")[-1]


def test_a_closed_stream_does_not_stop_the_work():
    out = io.StringIO()
    with Progress(2, 20, enabled=True, stream=out, min_interval=0) as bar:
        out.close()
        bar.update(runs_done=1, steps_done=10)
    assert not bar.enabled


def test_runs_that_stop_early_still_end_at_100_percent():
    out = io.StringIO()
    with Progress(4, 400, enabled=True, stream=out, min_interval=0) as bar:
        bar.update(runs_done=2, steps_done=100)  # steps say 25%, runs 50%
        assert " 50% " in out.getvalue().split("\r")[-1]
        bar.update(runs_done=4, steps_done=250)  # all stopped early
    assert "100%" in out.getvalue().split("\r")[-1]
