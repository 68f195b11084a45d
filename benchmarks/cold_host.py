"""What a small op costs the host when the op before it streamed data through the caches.

    python benchmarks/cold_host.py          (one pinned thread; about ten seconds)

The calibration's per-op host costs are measured hot: the `launch` row calls a one-element add in a
tight loop, the `rms_norm_op` rows call the zoo's RMS norm op back to back, and the eager module
chain (hwsim.calibrate.eager) runs tiny modules whose data stays in the L1 and L2. Inside a decode
step the same ops run between GEMMs that stream their weights through the caches, and on one Xeon
core they took about 3x as long there (reports/validation: 3-5 us per few-element op, 45-70 us per
RMS norm call on a short row). This script times each op once per iteration (median of 400, us),
hot and right after an eviction: copying 1, 4 and 16 MiB, or one small GEMM (0.4 MB of weights,
the same each time: it stays in the L2 and evicts little; a GEMV over weights cycled past the
cache does evict, as the calibration's host_cold chain shows).
The gap between the hot and the evicted times is host work (Python objects, the dispatcher, the
allocator) that has to come back from memory, not kernel time. The calibration measures it on a
decoder-MLP chain (hwsim.calibrate.host_cold) and the estimate adds it as `host_cold`
(reports/validation/FINDINGS.md).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

import hwsim.models.ops  # noqa: F401 - registers torch.ops.hwsim
from hwsim.calibrate.device import pinned_threads

CALLS = 400


def timed(fn: Callable[[], Any], evict: Callable[[], Any] | None) -> float:
    """Median us of `fn` alone over CALLS calls, each right after `evict` (if any)."""
    times = []
    for _ in range(CALLS):
        if evict is not None:
            evict()
        start = time.perf_counter_ns()
        fn()
        times.append(time.perf_counter_ns() - start)
    return statistics.median(times) / 1e3


def main() -> int:
    with pinned_threads(1), torch.no_grad():
        one, two = torch.randn(1), torch.randn(1)
        heads, rope = torch.randn(2, 3, 1, 64), torch.randn(1, 64)
        x, weight = torch.randn(2, 1, 192), torch.randn(192)
        tokens, w1 = torch.randn(2, 192), torch.randn(512, 192)
        buffers = {mib: (torch.randn(mib * 2**18), torch.empty(mib * 2**18)) for mib in (1, 4, 16)}
        ops = [
            ("add, 1 element", lambda: torch.add(one, two)),
            ("mul, 2x3x1x64 by 1x64", lambda: torch.mul(heads, rope)),
            ("hwsim::rms_norm, 2x1x192", lambda: torch.ops.hwsim.rms_norm.default(x, weight, 1e-5)),
            ("mm, 2x192 by 192x512", lambda: torch.mm(tokens, w1.t())),
        ]
        print(f"{'op':26s} {'hot':>7s} {'1 MiB':>7s} {'4 MiB':>7s} {'16 MiB':>7s} {'a GEMM':>7s}   (us)")
        for name, fn in ops:
            row = [timed(fn, None)]
            row += [timed(fn, lambda s=s, d=d: d.copy_(s)) for s, d in buffers.values()]
            row.append(timed(fn, lambda: torch.mm(tokens, w1.t())))
            print(f"{name:26s} " + " ".join(f"{t:7.2f}" for t in row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
