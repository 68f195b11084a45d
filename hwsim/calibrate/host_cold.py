"""The host cost a small op pays inside a step whose GEMMs stream data through the core's caches.

The calibration's per-op host figures are measured hot: the `launch` row calls a one-element add
back to back, the RMS norm op rows call the op back to back, and the eager module chain
(hwsim.calibrate.eager) runs modules so small that everything stays in the L1 and L2. Inside a
decode step the same ops run between GEMMs that stream megabytes of weights, which evict the host's
own working set (the interpreter's and the dispatcher's code and objects, the allocator's lists), so
each op first brings that back from the L3 or DRAM. On one Xeon core (2 MiB L2) a one-element add
took 1.7 us hot, 4-8 us right after a GEMV streaming 2 MiB, 16-24 us after 8 MiB; the zoo's RMS norm
op 25 us hot, 47 us and 92 us (benchmarks/cold_host.py; reports/validation/FINDINGS.md: 3-5 us per
few-element op and 45-70 us per RMS norm call in the decode steps).

This benchmark measures that cost on a chain shaped like a decoder's MLP, not on a zoo model:
`BLOCKS` blocks of RMS norm (the zoo's op), up GEMM (width -> 2 width), SiLU, multiply, down GEMM,
residual add, on `rows` rows (decode's few tokens), each block with weights of its own so that a
pass streams 16 x width^2 bytes per block. Every small op is called twice in a row: the first call
runs in the state the previous ops left, the second right after it, hot; the difference is the
op's in-step host cost. Kinds:
- `host_cold`: the mean difference over the chain's single ATen ops (SiLU, multiply, add);
- `host_cold_norm`: the same over its RMS norm op calls (a Python implementation of several ATen
  ops on a CPU: it brings back more host state than one op).
The row's `bytes` is one block's traffic (its ops' bytes as hwsim.trace counts them): the bytes
that stream through the caches between two calls of the same op, the x of the calibration's
`host_cold` curves (hwsim.cost.calibration), which the roofline reads at each op's own distance
from the previous op of its target in the step. The rows' widths run from a hot chain (32: 27 kB a
block) to past the L2 (1536: 38 MB a block).
"""

from __future__ import annotations

import math
import statistics
import time
from typing import Any

__all__ = ["BLOCKS", "HOST_COLD_KINDS", "build_host_cold", "host_cold_counts"]

BLOCKS = 8
HOST_COLD_KINDS = ("host_cold", "host_cold_norm")
EPS = 1e-5


def host_cold_counts(shape: tuple[int, ...], element_bytes: int) -> tuple[float, float]:
    """(0 FLOP, one block's bytes) for a (width, rows) chain: each op's reads and writes as
    hwsim.trace.rules counts them, summed over a block."""
    width, rows = shape
    up, act = width * 2 * width, rows * 2 * width
    block = (
        2 * rows * width + width  # RMS norm: reads x and its weight, writes x
        + rows * width + up + act  # up GEMM
        + 2 * act  # SiLU
        + 3 * act  # multiply
        + act + up + rows * width  # down GEMM
        + 3 * rows * width  # residual add
    )  # fmt: skip
    return 0.0, float(block * element_bytes)


class HostCold:
    """One chain; `measure` is what hwsim.calibrate.microbench calls for a self-timed row."""

    def __init__(self, kind: str, shape: tuple[int, ...], dtype: Any, device: str) -> None:
        import torch

        import hwsim.models.ops  # noqa: F401 - registers torch.ops.hwsim

        if kind not in HOST_COLD_KINDS:
            raise ValueError(f"unknown host benchmark {kind!r}")
        width, rows = shape
        make = lambda *s: torch.randn(*s, dtype=dtype, device=device) / math.sqrt(s[0])  # noqa: E731
        self.blocks = [(make(width), make(width, 2 * width), make(2 * width, width)) for _ in range(BLOCKS)]
        self.x = torch.randn(rows, width, dtype=dtype, device=device)
        self.norm = kind == "host_cold_norm"
        self.torch = torch

    def _pass(self) -> float:
        """One pass over the chain: the mean in-step minus hot seconds of the kind's ops."""
        torch = self.torch
        rms = torch.ops.hwsim.rms_norm.default
        norm, other = [], []

        def twice(into: list[float], fn: Any, *args: Any) -> Any:
            t0 = time.perf_counter_ns()
            out = fn(*args)
            t1 = time.perf_counter_ns()
            fn(*args)
            into.append((t1 - t0) - (time.perf_counter_ns() - t1))
            return out

        x = self.x
        for weight, w_up, w_down in self.blocks:
            h = twice(norm, rms, x, weight, EPS)[0]
            u = torch.mm(h, w_up)
            s = twice(other, torch.nn.functional.silu, u)
            g = twice(other, torch.mul, s, u)
            x = twice(other, torch.add, x, torch.mm(g, w_down))
        return statistics.fmean(norm if self.norm else other) * 1e-9

    def measure(self, reps: int, warmup: int, target_s: float) -> tuple[float, float, int]:
        """(min, median) over `reps` repetitions of the per-op cost, each the mean of enough passes to
        last `target_s`, and the passes per repetition."""
        with self.torch.no_grad():
            for _ in range(max(1, warmup)):
                self._pass()
            start = time.perf_counter()
            self._pass()
            passes = max(1, math.ceil(target_s / max(time.perf_counter() - start, 1e-9)))
            times = [statistics.fmean(self._pass() for _ in range(passes)) for _ in range(reps)]
        return min(times), statistics.median(times), passes


def build_host_cold(kind: str):  # noqa: ANN201
    """A microbench Build for `kind`: (shape = (width, rows), torch dtype, device) -> HostCold."""
    return lambda shape, dtype, device: HostCold(kind, shape, dtype, device)
