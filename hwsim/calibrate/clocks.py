"""Clocks that time one call on the device it runs on: the same four methods for the CPU and CUDA.

hwsim.calibrate.measure times every op of a real step and the step itself with one of these:
`start()` before the call, `stop(token)` after it, `seconds(value)` once the device is done
(`sync()`), `reset()` when all values are read. On the CPU the call's own elapsed wall time is its
time (perf_counter_ns). On CUDA the call only enqueues kernels, so a pair of CUDA events on the
current stream brackets them and is read after a synchronisation: GPU time, not host time.
"""

from __future__ import annotations

import time
from typing import Any

__all__ = ["CpuClock", "CudaClock", "clock_for"]


class CpuClock:
    """perf_counter_ns around the call; the value is the elapsed ns."""

    start = staticmethod(time.perf_counter_ns)

    def stop(self, token: Any) -> Any:
        return time.perf_counter_ns() - token

    def seconds(self, value: Any) -> float:
        return value * 1e-9

    def sync(self) -> None:
        pass

    reset = sync


class CudaClock:
    """CUDA events on the current stream; elapsed times are read after `sync`. Events are pooled and
    reused after `reset` (every value read)."""

    def __init__(self) -> None:
        import torch

        self.torch, self.pool, self.used = torch, [], 0

    def start(self) -> Any:
        if self.used == len(self.pool):
            self.pool.append(self.torch.cuda.Event(enable_timing=True))
        self.used += 1
        self.pool[self.used - 1].record()
        return self.pool[self.used - 1]

    def stop(self, token: Any) -> Any:
        return (token, self.start())

    def seconds(self, value: Any) -> float:
        return value[0].elapsed_time(value[1]) * 1e-3  # elapsed_time is in milliseconds

    def sync(self) -> None:
        self.torch.cuda.synchronize()

    def reset(self) -> None:
        self.used = 0


def clock_for(device: str) -> CpuClock | CudaClock:
    """The clock for "cpu" or "cuda"."""
    return CudaClock() if device == "cuda" else CpuClock()
