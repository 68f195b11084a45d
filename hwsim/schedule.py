"""Place kernels on one device's timeline behind the host that launches them (one stream).

Three launch modes, chosen per workload and device:

- "sync": the host runs each op itself (a CPU executing ATen eagerly): every op waits for its own
  dispatch, so op i starts at end[i-1] + overhead.
- "async": the host enqueues kernels and runs ahead (a GPU in eager PyTorch): the host issues
  kernel i at issue[i] = issue[i-1] + overhead and the device starts it at max(end[i-1], issue[i]).
  Long kernels hide the launches behind them; runs of short kernels leave the device waiting on the
  host, which is the launch-bound regime of small-batch decode.
- "graph": the step is captured once (CUDA graphs, as inference engines such as TensorRT-LLM and
  vLLM run decode): one launch for the whole step, then kernels back to back.

The time the device waits for the host is reported as `waited_s` per op and rolled up as the
"overhead" bound; the rest is kernel time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["LAUNCH_MODES", "Slot", "schedule_stream"]

LAUNCH_MODES = ("sync", "async", "graph")


@dataclass(frozen=True, slots=True, kw_only=True)
class Slot:
    start_s: float
    end_s: float
    waited_s: float  # device idle before this op, waiting for the host to launch it


def schedule_stream(kernel_s: Sequence[float], launch_overhead_s: float, mode: str) -> tuple[Slot, ...]:
    """Start and end of each kernel in order on one stream; the step ends at the last end."""
    if mode not in LAUNCH_MODES:
        raise ValueError(f"launch mode {mode!r} is not one of {LAUNCH_MODES}")
    slots = []
    end = 0.0
    issue = launch_overhead_s if mode == "graph" else 0.0
    for k in kernel_s:
        if mode == "sync":
            start = end + launch_overhead_s
        elif mode == "async":
            issue += launch_overhead_s
            start = max(end, issue)
        else:
            start = max(end, issue)
        slots.append(Slot(start_s=start, end_s=start + k, waited_s=start - end))
        end = start + k
    return tuple(slots)
