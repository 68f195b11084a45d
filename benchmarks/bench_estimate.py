"""Estimate speed: seconds to estimate each shipped workload once it is traced (goal: under 50 ms).

Run:  python benchmarks/bench_estimate.py [--repeat 5] [--system h100_sxm] [--calibration FILE]
(`--system intel_xeon_1t --calibration fitted-intel_xeon_1t` times the costing path with every
section a fitted CPU calibration has: residency, host_cold, op entries.)
Prints one row per workload: ops, trace seconds (once), estimate seconds (minimum of --repeat runs).
Threads are pinned to 1 so that the machine's other load disturbs the figures less.
"""

from __future__ import annotations

import argparse
import time

import torch

from hwsim.cost.calibration import load_calibration
from hwsim.errors import InputError
from hwsim.estimate import estimate
from hwsim.hardware.loader import load_system
from hwsim.resources import workloads_dir
from hwsim.trace import trace_workload
from hwsim.workload import load_workload


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--system", default="h100_sxm")
    parser.add_argument("--calibration", default=None, help="file or stem (default: the system's default)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    system = load_system(args.system)
    calibration = load_calibration(args.calibration) if args.calibration else None
    print(f"{'workload':28s} {'ops':>7s} {'trace s':>8s} {'estimate ms':>12s}")
    for path in sorted(workloads_dir().glob("*.yaml")):
        if "tiny" in path.stem:
            continue
        t0 = time.perf_counter()
        graph = trace_workload(load_workload(str(path)))
        traced = time.perf_counter() - t0
        best = float("inf")
        try:
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                estimate(graph, system, calibration)
                best = min(best, time.perf_counter() - t0)
        except InputError as exc:  # e.g. an fp16 workload on a CPU without fp16 units
            why = str(exc).splitlines()[0][-60:]
            print(f"{path.stem:28s} {len(graph.ops):7d} {traced:8.2f}   skipped: {why}")
            continue
        print(f"{path.stem:28s} {len(graph.ops):7d} {traced:8.2f} {best * 1e3:12.1f}")


if __name__ == "__main__":
    main()
