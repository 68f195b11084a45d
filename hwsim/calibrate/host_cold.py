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

Data is not all that evicts it: a step runs dozens of distinct ops between two calls of one, each
with host state of its own (on the same core, rotating 32 distinct few-element ops made the RMS norm
op 10 us slower than hot with no data streamed at all).

This benchmark measures both on a chain shaped like a decoder's MLP, not on a zoo model: `BLOCKS`
blocks of RMS norm (the zoo's op), up GEMM (width -> 2 width), SiLU, multiply, down GEMM, residual
add, then `extra` distinct few-element ops (extra_ops(): what a real layer adds, RoPE, cache updates,
reshapes), on `rows` rows (decode's few tokens), each block with weights of its own so that a pass
streams 16 x width^2 bytes per block, and every op called from an nn.Module's forward as a model
calls it (the modules' Python is host state too: called from modules, the RMS norm op's cost after
a 1.1 MB block read 16 us in two runs, called directly 6 us in one). Every small op is called twice
in a row: the first call runs in the state the previous ops left, the second right after it, hot;
the difference is the op's in-step host cost. Each repetition's figure is that difference, so a row's
min and median are of paired differences; one whose repetitions are not all positive is recorded as
`unresolved` (hwsim.calibrate.unresolved says why that rule), never as a negative time. Kinds:
- `host_cold`: the mean difference over the chain's single ATen ops (SiLU, multiply, add);
- `host_cold_norm`: the same over its RMS norm op calls (a Python implementation of several ATen
  ops on a CPU: it brings back more host state than one op).
The row's `bytes` is one block's data traffic (its ops' bytes as hwsim.trace counts them) and its
shape (width, rows, extra) says how many ops a block runs (6 + extra): between two calls of the same
op, that many bytes streamed and that many ops ran. hwsim.calibrate.fit turns the rows into the
calibration's `host_cold` curves over distance = bytes + ops x op_bytes, the host state one op
brings in fitted with them (hwsim.cost.calibration). The widths run from a hot chain (32: 27 kB a
block) to past the L2 (1536: 38 MB a block); `extra` from 0 to 48 on the hot width.
"""

from __future__ import annotations

import functools
import math
import statistics
import time
from typing import Any

__all__ = ["BLOCKS", "HOST_COLD_KINDS", "MAX_EXTRA", "build_host_cold", "extra_ops", "host_cold_counts"]

BLOCKS = 8
HOST_COLD_KINDS = ("host_cold", "host_cold_norm")
MAX_EXTRA = 48  # distinct extra ops a block can run (extra_ops)
EPS = 1e-5


def host_cold_counts(shape: tuple[int, ...], element_bytes: int) -> tuple[float, float]:
    """(0 FLOP, one block's bytes) for a (width, rows, extra) chain: each op's reads and writes as
    hwsim.trace.rules counts them, summed over a block (an extra op counted as two inputs and an output
    of rows x width: most of them; cat and stack write twice that, a few read one input)."""
    width, rows, extra = shape
    up, act = width * 2 * width, rows * 2 * width
    block = (
        2 * rows * width + width  # RMS norm: reads x and its weight, writes x
        + rows * width + up + act  # up GEMM
        + 2 * act  # SiLU
        + 3 * act  # multiply
        + act + up + rows * width  # down GEMM
        + 3 * rows * width  # residual add
        + extra * 3 * rows * width
    )  # fmt: skip
    return 0.0, float(block * element_bytes)


class HostCold:
    """One chain; `measure` is what hwsim.calibrate.microbench calls for a self-timed row."""

    def __init__(self, kind: str, shape: tuple[int, ...], dtype: Any, device: str) -> None:
        import torch

        import hwsim.models.ops  # noqa: F401 - registers torch.ops.hwsim

        if kind not in HOST_COLD_KINDS:
            raise ValueError(f"unknown host benchmark {kind!r}")
        width, rows, extra = shape
        if extra > MAX_EXTRA:
            raise ValueError(f"at most {MAX_EXTRA} extra ops, got {extra}")
        self.extra = extra_ops()[:extra]
        make = lambda *s: torch.randn(*s, dtype=dtype, device=device) / math.sqrt(s[0])  # noqa: E731
        self.times: dict[str, list[tuple[int, int]]] = {"norm": [], "other": []}
        self.parts = (math.nan, math.nan)  # medians of the in-step and hot seconds of the last measure()
        timed = functools.partial(_twice, self.times)
        self.model = torch.nn.Sequential(
            *[_block(make(width), make(width, 2 * width), make(2 * width, width), self.extra, timed)
              for _ in range(BLOCKS)]
        )  # fmt: skip
        self.x = torch.randn(rows, width, dtype=dtype, device=device)
        self.norm = kind == "host_cold_norm"
        self.torch = torch

    def _pass(self) -> tuple[float, float]:
        """One pass over the chain: the mean in-step and hot seconds of the kind's ops."""
        for calls in self.times.values():
            calls.clear()
        self.model(self.x)
        calls = self.times["norm" if self.norm else "other"]
        return statistics.fmean(c for c, _ in calls) * 1e-9, statistics.fmean(h for _, h in calls) * 1e-9

    def measure(self, reps: int, warmup: int, target_s: float) -> tuple[float, float, int]:
        """(min, median) over `reps` repetitions of the per-op cost (in-step less hot seconds), each
        the mean of enough passes to last `target_s`, and the passes per repetition; `parts` keeps
        the medians of the two times the differences are of (an unresolved row's note gives them)."""
        with self.torch.no_grad():
            for _ in range(max(1, warmup)):
                self._pass()
            start = time.perf_counter()
            self._pass()
            passes = max(1, math.ceil(target_s / max(time.perf_counter() - start, 1e-9)))
            runs = [[self._pass() for _ in range(passes)] for _ in range(reps)]
        pairs = [(statistics.fmean(c for c, _ in run), statistics.fmean(h for _, h in run)) for run in runs]
        times = [c - h for c, h in pairs]
        self.parts = (statistics.median(c for c, _ in pairs), statistics.median(h for _, h in pairs))
        return min(times), statistics.median(times), passes


def _twice(times: dict[str, list[tuple[int, int]]], group: str, fn: Any, *args: Any) -> Any:
    """Call `fn` twice in a row; record in times[group] the first call's ns and the second's."""
    t0 = time.perf_counter_ns()
    out = fn(*args)
    t1 = time.perf_counter_ns()
    fn(*args)
    times[group].append((t1 - t0, time.perf_counter_ns() - t1))
    return out


def _block(weight: Any, w_up: Any, w_down: Any, extra: tuple[Any, ...], timed: Any) -> Any:
    """One decoder-MLP block as a model writes it: every op called from a module's Python forward
    (the Python of module calls is part of the host state a real step runs between two ops)."""
    import torch
    from torch import nn

    class Op(nn.Module):  # a small op, timed twice
        def __init__(self, group: str, fn: Any) -> None:
            super().__init__()
            self.group, self.fn = group, fn

        def forward(self, *args: Any) -> Any:
            return timed(self.group, self.fn, *args)

    class Linear(nn.Module):  # a GEMM streaming its own weight, not timed
        def __init__(self, w: Any) -> None:
            super().__init__()
            self.weight = nn.Parameter(w, requires_grad=False)

        def forward(self, x: Any) -> Any:
            return torch.mm(x, self.weight)

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = nn.Parameter(weight, requires_grad=False)
            self.norm = Op("norm", torch.ops.hwsim.rms_norm.default)
            self.up, self.down = Linear(w_up), Linear(w_down)
            self.act, self.mul, self.add = (
                Op("other", nn.functional.silu),
                Op("other", torch.mul),
                Op("other", torch.add),
            )
            self.extra = nn.ModuleList(Op("other", fn) for fn in extra)

        def forward(self, x: Any) -> Any:
            h = self.norm(x, self.weight, EPS)[0]
            u = self.up(h)
            x = self.add(x, self.down(self.mul(self.act(u), u)))
            for op in self.extra:
                op(x, h)
            return x

    return Block()


def _first(fn: Any, x: Any, _y: Any) -> Any:
    return fn(x)


def extra_ops() -> tuple[Any, ...]:
    """MAX_EXTRA distinct few-element ATen ops of two (rows, width) tensors, each its own kernel and
    host path (binary ops, a few shape ops, then unary ops)."""
    import torch

    binary = [torch.sub, torch.div, torch.maximum, torch.minimum, torch.atan2, torch.hypot, torch.copysign,
              torch.fmod, torch.remainder, torch.xlogy, torch.eq, torch.lt,
              lambda x, y: torch.cat([x, y], -1), lambda x, y: torch.stack([x, y]),
              lambda x, y: torch.where(x > 0, x, y), lambda x, y: torch.addcmul(x, x, y),
              lambda x, y: torch.clamp(x, -1, 1), lambda x, y: x.to(torch.float64),
              lambda x, y: torch.flip(x, [-1]), lambda x, y: torch.roll(x, 1, -1)]  # fmt: skip
    unary = [torch.neg, torch.exp, torch.sin, torch.cos, torch.tanh, torch.sigmoid, torch.abs, torch.square,
             torch.erf, torch.log1p, torch.expm1, torch.sign, torch.floor, torch.ceil, torch.round,
             torch.trunc, torch.reciprocal, torch.rsqrt, torch.sqrt, torch.atan, torch.asinh,
             torch.sinh, torch.cosh, torch.exp2, torch.clone, torch.relu, torch.nn.functional.gelu,
             torch.sgn]  # fmt: skip
    ops = tuple(binary) + tuple(functools.partial(_first, f) for f in unary)
    assert len(ops) == MAX_EXTRA
    return ops


def build_host_cold(kind: str):  # noqa: ANN201
    """A microbench Build for `kind`: (shape = (width, rows, extra), torch dtype, device) -> HostCold."""
    return lambda shape, dtype, device: HostCold(kind, shape, dtype, device)
