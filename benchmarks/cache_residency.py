"""How much the last-level cache this process gets helps streaming kernels, and how much a step touches.

    python benchmarks/cache_residency.py          (one pinned thread; about a minute)

Three measurements behind reports/validation/FINDINGS.md and the choice of `rotate_bytes` in
hwsim.calibrate.microbench:
1. a decode-shaped GEMM (6 x 384 x 1024, nn.Linear's transposed weight) and a 96 x 1024 add, each
   cycling through copies of its operands totalling 2 ... 512 MB: where the time jumps is the
   cache this process really gets (sysfs may list the whole host's L3);
2. a fused AdamW step (1024 x 384) and a 192 x 1024 add cycling 32 MiB (the old rotation) and
   1.5x the LLC (the new one), to compare with the same ops inside a training step;
3. the bytes every workload of benchmarks/cpu_validate.sh touches per step (sum over its graph's
   ops of bytes read and written, from the tracer): a step that touches less than that cache keeps
   its weights in it between steps.
Times are medians per call over 15 repetitions (min in brackets), seconds shown in us.
"""

from __future__ import annotations

import itertools
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from validation_table import script_workloads  # noqa: E402

from hwsim.calibrate.device import pinned_threads  # noqa: E402
from hwsim.calibrate.kernels import Bench  # noqa: E402
from hwsim.calibrate.microbench import bench_call, rotate_bytes  # noqa: E402


def _time(fn: Callable[[], Any], reps: int = 15, calls: int = 20) -> str:
    for _ in range(calls):
        fn()
    xs = []
    for _ in range(reps):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        xs.append((time.perf_counter() - start) / calls)
    return f"{statistics.median(xs) * 1e6:.0f} ({min(xs) * 1e6:.0f})"


def cycled(make: Callable[[], tuple], nbytes: int, megabytes: int, run: Callable[..., Any]) -> str:
    sets = [make() for _ in range(max(1, megabytes * 2**20 // nbytes))]
    turn = itertools.cycle(sets)
    return _time(lambda: run(*next(turn)))


def main() -> int:
    with pinned_threads(1), torch.no_grad():
        print("1. cycled through N MB of operand copies: median us per call (min)")
        sizes = (2, 8, 16, 32, 64, 128, 256, 512)
        gemm = [cycled(lambda: (torch.randn(6, 384), torch.randn(1024, 384)), 384 * 1024 * 4, mb,
                       torch.nn.functional.linear) for mb in sizes]  # fmt: skip
        add = [cycled(lambda: (torch.randn(96, 1024), torch.randn(96, 1024)), 3 * 96 * 1024 * 4, mb,
                      torch.add) for mb in sizes]  # fmt: skip
        print("   MB:                " + "".join(f"{mb:>12}" for mb in sizes))
        print("   gemm 6x384x1024:   " + "".join(f"{t:>12}" for t in gemm))
        print("   add 96x1024:       " + "".join(f"{t:>12}" for t in add))
        past = rotate_bytes("cpu") / 2**20
        print(f"2. the sweep's rows at 32 MiB and at rotate_bytes('cpu') = {past:.0f} MiB")
        import hwsim.calibrate.microbench as microbench

        for kind, shape in (("adamw", (1024, 384)), ("add", (192, 1024))):
            cells = []
            for rotation in (32 * 2**20, rotate_bytes("cpu")):
                saved = microbench.rotate_bytes
                microbench.rotate_bytes = lambda device, r=rotation: r  # type: ignore[assignment]
                try:
                    cells.append(_time(bench_call(Bench(kind=kind, dtype="fp32", shape=shape), "cpu")))
                finally:
                    microbench.rotate_bytes = saved
            print(f"   {kind} {shape}: 32 MiB {cells[0]} us, past the LLC {cells[1]} us")
    print("3. bytes each validated workload touches per step (traced)")
    from hwsim.calibrate.measure import workload_label
    from hwsim.trace import trace_workload
    from hwsim.workload import load_workload

    for which, name, overrides in script_workloads():
        graph = trace_workload(load_workload(name, overrides))
        traffic = sum(op.bytes_read + op.bytes_written for op in graph.ops)
        print(f"   {which:5s} {workload_label(name, overrides)}: {traffic / 2**20:.1f} MiB, "
              f"weights {graph.memory.weights / 2**20:.1f} MiB")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
