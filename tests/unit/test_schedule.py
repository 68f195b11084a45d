"""hwsim.schedule: kernels behind the host that launches them, checked by hand."""

import pytest

from hwsim.schedule import schedule_stream


def test_sync_pays_every_dispatch() -> None:
    slots = schedule_stream([10.0, 1.0, 1.0], 2.0, "sync")
    assert [s.end_s for s in slots] == [12.0, 15.0, 18.0]
    assert sum(s.waited_s for s in slots) == 6.0


def test_async_hides_launches_behind_long_kernels() -> None:
    # host issues at 2, 4, 6; kernel 0 runs 2..12, so kernels 1 and 2 wait for it, not for the host
    slots = schedule_stream([10.0, 1.0, 1.0], 2.0, "async")
    assert [(s.start_s, s.end_s) for s in slots] == [(2.0, 12.0), (12.0, 13.0), (13.0, 14.0)]
    assert [s.waited_s for s in slots] == [2.0, 0.0, 0.0]


def test_async_short_kernels_are_launch_bound() -> None:
    slots = schedule_stream([0.5] * 4, 2.0, "async")
    assert slots[-1].end_s == pytest.approx(8.5)  # the host's 4 launches, then the last kernel
    assert sum(s.waited_s for s in slots) == pytest.approx(6.5)


def test_graph_launches_once() -> None:
    slots = schedule_stream([0.5] * 4, 2.0, "graph")
    assert slots[-1].end_s == pytest.approx(4.0)


def test_unknown_mode() -> None:
    with pytest.raises(ValueError):
        schedule_stream([1.0], 1.0, "later")
