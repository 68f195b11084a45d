"""hwsim.schedule: kernels behind the host that launches them, checked by hand."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hwsim.schedule import schedule, schedule_stream


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


def test_host_time_per_op_delays_each_launch_but_not_a_captured_graph() -> None:
    host = np.array([0.0, 3.0, 1.0])
    sync = schedule(np.array([10.0, 1.0, 1.0]), 2.0, "sync", host_s=host)
    assert list(sync.end_s) == [12.0, 18.0, 22.0] and list(sync.waited_s) == [2.0, 5.0, 3.0]
    issued = schedule(np.array([0.5, 0.5, 0.5]), 2.0, "async", host_s=host)
    assert list(issued.start_s) == [2.0, 7.0, 10.0]  # the host issues at 2, 2 + 2 + 3, 7 + 2 + 1
    graph = schedule(np.array([0.5] * 3), 2.0, "graph", host_s=host)
    assert graph.end_s[-1] == pytest.approx(3.5)


def test_unknown_mode() -> None:
    with pytest.raises(ValueError):
        schedule_stream([1.0], 1.0, "later")


@given(
    kernels=st.lists(st.floats(min_value=0.0, max_value=1e-3), min_size=1, max_size=60),
    overhead=st.floats(min_value=0.0, max_value=1e-4),
    mode=st.sampled_from(["sync", "async", "graph"]),
    host=st.one_of(st.none(), st.floats(min_value=0.0, max_value=1e-4)),
)
def test_closed_form_equals_the_step_by_step_recurrence(
    kernels: list[float], overhead: float, mode: str, host: float | None
) -> None:
    # host: every op's extra host time before its launch, varied per op (host_s); none in a graph
    extra = [host * (i % 3) for i in range(len(kernels))] if host is not None else [0.0] * len(kernels)
    end, issue, ends = 0.0, (overhead if mode == "graph" else 0.0), []
    for k, more in zip(kernels, extra, strict=True):
        if mode == "sync":
            start = end + overhead + more
        elif mode == "async":
            issue += overhead + more
            start = max(end, issue)
        else:
            start = max(end, issue)
        end = start + k
        ends.append(end)
    host_s = np.array(extra) if host is not None else None
    timeline = schedule(np.array(kernels), overhead, mode, host_s=host_s)
    assert np.allclose(timeline.end_s, ends, rtol=1e-9, atol=1e-15)
    assert np.all(timeline.waited_s >= -1e-15)
