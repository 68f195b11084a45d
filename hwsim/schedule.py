"""Place kernels on one device's timeline behind the host that launches them (one stream).

Three launch modes, chosen per workload and device:

- "sync": the host runs each op itself (a CPU executing ATen eagerly): every op waits for its own
  dispatch, so op i starts at end[i-1] + overhead.
- "async": the host enqueues kernels and runs ahead (a GPU in eager PyTorch): the host issues
  kernel i at issue[i] = (i + 1) x overhead and the device starts it at max(end[i-1], issue[i]).
  Long kernels hide the launches behind them; runs of short kernels leave the device waiting on the
  host, which is the launch-bound regime of small-batch decode.
- "graph": the step is captured once (CUDA graphs, as inference engines such as TensorRT-LLM and
  vLLM run decode): one launch for the whole step, then kernels back to back.

The time the device waits for the host is reported as `waited_s` per op and rolled up as the
"overhead" bound; the rest is kernel time.

The async recurrence end[i] = max(end[i-1], issue[i]) + k[i] is solved in closed form so that it
runs in numpy: with C[i] = k[0] + ... + k[i], end[i] = C[i] + max over j <= i of (issue[j] - C[j-1]).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["LAUNCH_MODES", "Slot", "Timeline", "schedule", "schedule_stream"]

LAUNCH_MODES = ("sync", "async", "graph")


@dataclass(frozen=True, slots=True, kw_only=True)
class Slot:
    start_s: float
    end_s: float
    waited_s: float  # device idle before this op, waiting for the host to launch it


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeline:
    """Start, end and wait of every kernel, as arrays in launch order."""

    start_s: np.ndarray
    end_s: np.ndarray
    waited_s: np.ndarray

    @property
    def total_s(self) -> float:
        return float(self.end_s[-1]) if len(self.end_s) else 0.0

    def __getitem__(self, i: int) -> Slot:
        return Slot(
            start_s=float(self.start_s[i]), end_s=float(self.end_s[i]), waited_s=float(self.waited_s[i])
        )


def schedule(
    kernel_s: np.ndarray, launch_overhead_s: float, mode: str, *, host_s: np.ndarray | None = None
) -> Timeline:
    """Kernels in order on one stream behind a host that launches them in `mode`; `host_s` is more host
    time before each op's launch (the calibration's `host_cold`), none in "graph" mode."""
    if mode not in LAUNCH_MODES:
        raise ValueError(f"launch mode {mode!r} is not one of {LAUNCH_MODES}")
    k = np.asarray(kernel_s, dtype=float)
    n = len(k)
    cumulative = np.cumsum(k)
    before = cumulative - k  # C[i-1], the kernel time before op i
    launches = launch_overhead_s * np.arange(1, n + 1)
    if host_s is not None and mode != "graph":
        launches = launches + np.cumsum(host_s)
    if mode == "sync":
        end = cumulative + launches
    elif mode == "async":
        issue = launches
        end = cumulative + np.maximum.accumulate(issue - before) if n else cumulative
    else:
        end = cumulative + launch_overhead_s
    start = end - k
    previous_end = np.concatenate(([0.0], end[:-1])) if n else end
    # A wait is never negative; start - previous end can be by float residue (-5e-18 s).
    return Timeline(start_s=start, end_s=end, waited_s=np.maximum(start - previous_end, 0.0))


def schedule_stream(kernel_s: Sequence[float], launch_overhead_s: float, mode: str) -> tuple[Slot, ...]:
    """schedule() as a tuple of Slots, for callers that walk ops one by one."""
    timeline = schedule(np.asarray(kernel_s, dtype=float), launch_overhead_s, mode)
    return tuple(timeline[i] for i in range(len(timeline.end_s)))
