"""How fast hwsim traces the largest training steps, against torch's FlopCounterMode on the same step.

For GPT-3 175B and Llama 3 405B (workloads gpt3-175b-train, llama3-405b-train) it times, in one
process:
- hwsim: `trace_workload` (3 blocks built on meta, traced, replicated to all blocks, lifetimes);
- torch: building the full model on meta and running the same step (forward, loss, backward,
  AdamW) under `torch.utils.flop_counter.FlopCounterMode`, i.e. what it takes to get a FLOP count
  from torch alone (the step alone is also shown).
Each is run `--repeat` times after one warm-up; the minimum is reported (the machine is shared, see
tracing-facts.md). Peak Python memory of one trace is measured separately with tracemalloc (which
slows Python down, so it is not timed), and the process's peak RSS is printed at the end.
Goal: hwsim at most 0.5x the FlopCounterMode time.

    python benchmarks/bench_trace.py [--repeat 3] [--workloads gpt3-175b-train llama3-405b-train]
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc

import torch
from torch.utils.flop_counter import FlopCounterMode

from hwsim.models import build_model
from hwsim.trace import trace_workload
from hwsim.trace.step import make_state, run_step
from hwsim.workload import Workload, load_workload


def flop_counter_step(workload: Workload) -> tuple[float, float, float]:
    """(seconds with the build, seconds of the step alone, FLOPs) for FlopCounterMode on the full model."""
    start = time.perf_counter()
    with torch.device("meta"):
        model = build_model(workload.model, dtype=workload.task.dtype)
    state = make_state(model, workload, "meta")
    step_start = time.perf_counter()
    with FlopCounterMode(display=False) as counter:
        run_step(model, state, workload)
    end = time.perf_counter()
    return end - start, end - step_start, float(counter.get_total_flops())


def best(fn, repeat: int) -> tuple[float, object]:  # noqa: ANN001
    fn()  # warm-up: imports, op registration, caches
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workloads", nargs="+", default=["gpt3-175b-train", "llama3-405b-train"])
    args = parser.parse_args()

    rows = []
    for stem in args.workloads:
        workload = load_workload(stem)
        trace_s, graph = best(lambda w=workload: trace_workload(w), args.repeat)
        tracemalloc.start()
        trace_workload(workload)
        _, trace_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        runs = [flop_counter_step(workload) for _ in range(args.repeat)]
        torch_s = min(r[0] for r in runs)
        torch_step_s = min(r[1] for r in runs)
        torch_flop = runs[0][2]
        rows.append(
            (
                stem,
                trace_s,
                torch_s,
                torch_step_s,
                trace_s / torch_s,
                trace_peak / 2**20,
                len(graph.ops),
                graph.total("flop"),
                torch_flop,
            )
        )

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, best of {args.repeat}")
    head = (
        "workload",
        "hwsim trace s",
        "FlopCounterMode s",
        "(step only s)",
        "ratio",
        "trace peak MiB",
        "ops",
        "hwsim PFLOP",
        "torch PFLOP",
    )
    print(" | ".join(head))
    print(" | ".join("---" for _ in head))
    for stem, t, f, fs, ratio, peak, ops, flop, torch_flop in rows:
        print(
            f"{stem} | {t:.3f} | {f:.2f} | {fs:.2f} | {ratio:.3f} | {peak:.1f} | {ops} | {flop / 1e15:.3f} | "
            f"{torch_flop / 1e15:.3f}"
        )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process peak RSS: {rss:.0f} MiB (includes the FlopCounterMode runs on the full models)")
    print("torch PFLOP counts the full T^2 of causal attention; hwsim counts the unmasked half.")


if __name__ == "__main__":
    main()
