"""Progress for output that is not a terminal: plain, flushed lines with an ETA (no bars, no carriage returns)."""
from __future__ import annotations

import io

from eeea.progress import Progress, format_seconds


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_durations_read_as_a_person_reads_them():
    assert [format_seconds(s) for s in (0, 4.4, 59.6, 65, 3599, 3600, 7625)] == [
        "0s", "4s", "1m00s", "1m05s", "59m59s", "1h00m", "2h07m"]


def test_each_finished_item_gets_a_line_with_an_eta_after_the_first():
    clock, out = Clock(), io.StringIO()
    with Progress("search", 4, "candidates", each=True, file=out, clock=clock, start_line=False) as p:
        for seconds in (10, 10, 20, 20):
            clock.now += seconds
            p.update(1, f"took {seconds}s")
    lines = out.getvalue().splitlines()
    assert lines == ["search: 1/4 candidates, 10s elapsed, ETA 30s; took 10s",
                     "search: 2/4 candidates, 20s elapsed, ETA 20s; took 10s",
                     "search: 3/4 candidates, 40s elapsed, ETA 13s; took 20s",
                     "search: 4/4 candidates, 1m00s elapsed, done; took 20s"]
    assert "\r" not in out.getvalue()


def test_the_eta_follows_late_items_that_cost_more():
    """20 quick items, then slow ones: the ETA takes the recent (slower) rate, not the mean since the start."""
    clock, out = Clock(), io.StringIO()
    p = Progress("exporting", 40, "files", file=out, clock=clock, every_s=0)
    for i in range(25):
        clock.now += 1 if i < 20 else 10
        p.update()
    assert p.eta() == (5 * 1 + 5 * 10) / 10 * 15  # the last 10 items' rate, above the overall 70 s / 25
    assert out.getvalue().splitlines()[-1] == "exporting: 25/40 files, 1m10s elapsed, ETA 1m22s"


def test_a_long_phase_speaks_at_its_start_after_its_first_item_every_interval_and_at_its_end():
    clock, out = Clock(), io.StringIO()
    p = Progress("exporting", 100, "files", file=out, clock=clock, every_s=30)
    for _ in range(100):
        clock.now += 1
        p.update()
    p.close()
    lines = out.getvalue().splitlines()
    assert lines[0] == "exporting: 0/100 files, 0s elapsed" and lines[1].startswith("exporting: 1/100 files, 1s")
    assert lines[-1] == "exporting: 100/100 files, 1m40s elapsed, done"
    assert len(lines) == 2 + 3 + 1  # start, first item, at 31, 61 and 91 s, end
    assert "ETA 1m09s" in lines[2]


def test_replayed_items_count_but_do_not_speed_up_the_eta():
    clock, out = Clock(), io.StringIO()
    p = Progress("search", 10, "candidates", each=True, file=out, clock=clock, start_line=False)
    p.advance(5)  # a resumed run's archived results
    clock.now += 60
    p.update(1)
    assert out.getvalue().splitlines() == ["search: 6/10 candidates, 1m00s elapsed, ETA 4m00s"]


def test_quiet_says_nothing():
    out = io.StringIO()
    with Progress("x", 3, file=out, quiet=True, each=True) as p:
        p.update()
        p.write("a note")
    assert out.getvalue() == ""
